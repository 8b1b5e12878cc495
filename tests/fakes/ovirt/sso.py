"""The engine's SSO as the REST API sees it: password-grant tokens, revocation,
and the check the API's auth filter makes on every request.

Sources (oVirt/ovirt-engine): enginesso OAuthTokenServlet.issueTokenForPasswd,
SsoService (getScopeRequestParameter, validateClientAcceptHeader,
sendJsonDataWithMessage, buildResponse), services SsoLogoutServlet, aaa
SsoRestApiAuthFilter / EnforceAuthFilter. Wire shapes are in README.md.
"""

import base64
import secrets
import threading
import time

from . import catalog

TOKEN_LIFETIME_S = 30 * 60  # engine default user session timeout (UserSessionTimeOutInterval)


class SsoError(Exception):
    """An SSO JSON error answer (HTTP 400)."""

    def __init__(self, code, message, rest_api_scope):
        super().__init__(message)
        self.code = code
        self.message = message
        self.rest_api_scope = rest_api_scope

    def body(self):
        # SsoService.sendJsonDataWithMessage: REST-API-only scope -> {error_code, error},
        # anything else -> OAuth's {error, error_description}.
        if self.rest_api_scope:
            return {"error_code": self.code, "error": self.message}
        return {"error": self.code, "error_description": self.message}


def _scope_list(scope):
    return [s for s in (scope or "").split() if s]


def is_rest_api_scope(scope):
    scopes = _scope_list(scope)
    return "ovirt-app-api" in scopes and "ovirt-app-admin" not in scopes and "ovirt-app-portal" not in scopes


def split_user(username):
    """'admin@internal' -> ('admin', 'internal') the way SsoService.translateUser does."""
    if username and "@" in username:
        user, profile = username.rsplit("@", 1)
        return user, profile
    return username or "N/A", "N/A"


class Sso:
    def __init__(self, username, password, clock=time.time):
        self.username = username
        self.password = password
        self.user, self.profile = split_user(username)
        self.clock = clock
        self.lock = threading.Lock()
        self.tokens = {}  # token -> {"scope", "session", "seen"}

    @property
    def authz_user(self):
        # The name the engine shows in events: user@<authz of the profile>.
        return "%s@%s-authz" % (self.user, self.profile)

    def issue(self, form, accept):
        """POST /ovirt-engine/sso/oauth/token. Returns the JSON payload or raises SsoError."""
        scope_raw = form.get("scope", "")
        rest = is_rest_api_scope(scope_raw)
        grant = form.get("grant_type", "")
        if grant != "password":
            raise SsoError("unsupported_grant_type", catalog.SSO_BAD_GRANT, rest)
        user, profile = split_user(form.get("username"))
        if profile != self.profile:
            raise SsoError("access_denied", catalog.SSO_BAD_PROFILE.format(user=user, profile=profile), rest)
        if user != self.user or form.get("password") != self.password:
            raise SsoError("access_denied", catalog.SSO_BAD_CREDENTIALS.format(user=user, profile=profile), rest)
        if accept != "application/json":
            raise SsoError("invalid_request", catalog.SSO_BAD_ACCEPT, rest)
        # The granted scope is the requested one plus its dependencies; with no
        # scope the token is issued but the REST API will refuse it.
        granted = catalog.API_SCOPE_GRANTED if "ovirt-app-api" in _scope_list(scope_raw) else " ".join(
            sorted(set(_scope_list(scope_raw))))
        token = secrets.token_urlsafe(64)
        with self.lock:
            self.tokens[token] = {"scope": granted, "session": secrets.token_urlsafe(12), "seen": False}
        return {
            "access_token": token,
            "scope": granted,
            # SsoSession.getValidTo() is a Long of epoch milliseconds, sent as a string.
            "exp": str(int((self.clock() + TOKEN_LIFETIME_S) * 1000)),
            "token_type": "bearer",
        }

    def revoke(self, token):
        """POST /ovirt-engine/services/sso-logout: always answers {} (even for an
        unknown token). Returns the session id of a revoked live token, or None."""
        with self.lock:
            info = self.tokens.pop(token, None)
        return info["session"] if info else None

    def expire_all(self):
        with self.lock:
            n = len(self.tokens)
            self.tokens.clear()
            return n

    def check(self, authorization):
        """The API's auth filter. Returns (ok, error_message, new_session_or_None)."""
        if not authorization:
            return False, None, None
        if authorization.startswith("Bearer"):
            token = authorization[len("Bearer"):].strip()
            with self.lock:
                info = self.tokens.get(token)
                if info is None:
                    return False, catalog.API_TOKEN_INVALID, None
                if "ovirt-app-api" not in _scope_list(info["scope"]):
                    return False, catalog.API_SCOPE_MISSING, None
                first = not info["seen"]
                info["seen"] = True
                return True, None, info["session"] if first else None
        if authorization.startswith("Basic"):
            try:
                user_pass = base64.b64decode(authorization[len("Basic"):].strip()).decode("utf-8")
                username, password = user_pass.split(":", 1)
            except Exception:  # noqa: BLE001 - any malformed header is a failed login
                return False, "Unable to extract user credentials from request.", None
            user, profile = split_user(username)
            if (user, profile) == (self.user, self.profile) and password == self.password:
                return True, None, secrets.token_urlsafe(12)
            return False, "access_denied: " + catalog.SSO_BAD_CREDENTIALS.format(user=user, profile=profile), None
        return False, "Unsupported authentication header: %s" % authorization.split()[0], None
