"""The Microsoft Entra ID (AAD) side: OpenID discovery, the v2.0 token
endpoint (client credentials), and the bearer tokens ARM checks.

What MSAL (inside azure-identity) needs, read from its sources:
- msal/authority.py `tenant_discovery`: GET {authority}/{tenant}/v2.0/.well-known/openid-configuration,
  200 + JSON with `authorization_endpoint` and `token_endpoint` (both read with [] so both
  are required), `issuer` optional; a 4xx makes MSAL raise ValueError ("nonexistent tenant").
- msal/oauth2cli/oauth2.py `_obtain_token`: POST form to token_endpoint with
  grant_type=client_credentials, client_id, scope, and the secret in the body
  (application.py puts client_secret in default_body); Basic auth is accepted too.
- azure/identity/_internal/client_credential_base.py: needs `access_token` and `expires_in`.
"""

import base64
import secrets
import threading
import time
import urllib.parse

from . import wire
from .reply import Reply
from .state import ArmError

ARM_RESOURCES = ("https://management.azure.com", "https://management.core.windows.net")
# Launch defaults (server.py), also used by witness.py so both agree without flags.
DEFAULT_TENANT = "c0ffee00-0000-4000-8000-00000000a2e1"
DEFAULT_CLIENT_ID = "c11e4700-0000-4000-8000-00000000a2e1"
DEFAULT_SECRET = "fake-azure-client-secret"


class Principal:
    def __init__(self, client_id, secret, can_write, object_id):
        self.client_id = client_id
        self.secret = secret
        self.can_write = can_write
        self.object_id = object_id


class Tokens:
    def __init__(self, ttl):
        self.lock = threading.Lock()
        self.ttl = ttl
        self.issued = {}  # token -> (principal, expires_at)

    def issue(self, principal, now=None):
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(48)
        with self.lock:
            self.issued[token] = (principal, now + self.ttl)
        return token

    def expire_all(self, now=None):
        now = time.time() if now is None else now
        with self.lock:
            for token, (p, exp) in list(self.issued.items()):
                self.issued[token] = (p, min(exp, now - 1))
            return len(self.issued)

    def summary(self, now=None):
        now = time.time() if now is None else now
        with self.lock:
            return {"issued": len(self.issued),
                    "valid": sum(1 for _, exp in self.issued.values() if exp > now)}

    def check(self, header, authority_uri, now=None):
        """The principal behind an `Authorization: Bearer …` header, or ArmError 401."""
        now = time.time() if now is None else now
        challenge = 'Bearer authorization_uri="%s", error="invalid_token", error_description="%s"'
        if not header:
            raise ArmError(401, "AuthenticationFailed",
                           "Authentication failed. The 'Authorization' header is missing.",
                           {"WWW-Authenticate": challenge % (authority_uri, "The authentication failed because "
                                                             "of missing 'Authorization' header.")})
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ArmError(401, "AuthenticationFailedInvalidHeader",
                           "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                           {"WWW-Authenticate": challenge % (authority_uri, "The access token is invalid.")})
        with self.lock:
            entry = self.issued.get(token.strip())
        if entry is None:
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.",
                           {"WWW-Authenticate": challenge % (authority_uri, "The access token is invalid.")})
        principal, expires = entry
        if expires <= now:
            raise expired_error(expires, now, authority_uri)
        return principal


def expired_error(expires, now, authority_uri):
    fmt = "%m/%d/%Y %H:%M:%S"
    return ArmError(
        401, "ExpiredAuthenticationToken",
        "The access token expiry UTC time '%s' is earlier than current UTC time '%s'."
        % (time.strftime(fmt, time.gmtime(expires)), time.strftime(fmt, time.gmtime(now))),
        {"WWW-Authenticate": 'Bearer authorization_uri="%s", error="invalid_token", '
                             'error_description="The access token has expired."' % authority_uri})


class Login:
    """Handlers for /{tenant}/v2.0/.well-known/openid-configuration and /{tenant}/oauth2/v2.0/token."""

    def __init__(self, tenant, principals, tokens, faults):
        self.tenant = tenant
        self.principals = {p.client_id.lower(): p for p in principals}
        self.tokens = tokens
        self.faults = faults

    def _tenant_error(self, tenant):
        return Reply(400, wire.aad_error(
            "invalid_tenant", [90002],
            "AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud." % tenant))

    def discovery(self, tenant, base):
        self.faults.count("discovery")
        if tenant.lower() != self.tenant.lower():
            return self._tenant_error(tenant)
        return Reply(200, wire.openid_configuration(base, self.tenant))

    def token(self, tenant, body, headers):
        self.faults.count("token")
        if tenant.lower() != self.tenant.lower():
            return self._tenant_error(tenant)
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                                            keep_blank_values=True).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("Authorization", "")
        if basic.lower().startswith("basic "):
            try:
                user, _, pw = base64.b64decode(basic[6:]).decode("utf-8").partition(":")
                client_id = client_id or urllib.parse.unquote_plus(user)
                secret = secret or urllib.parse.unquote_plus(pw)
            except ValueError:
                pass
        if self.faults.hostile == "echo-secret":
            # Hostile: an auth failure whose text carries the secret the client sent.
            shown = secret or (self.principals.get((client_id or "").lower()) or
                               next(iter(self.principals.values()))).secret
            return Reply(401, wire.aad_error(
                "invalid_client", [7000215],
                "AADSTS7000215: Invalid client secret provided: '%s' for app '%s'." % (shown, client_id)))
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return Reply(400, wire.aad_error(
                "unsupported_grant_type", [70003],
                "AADSTS70003: The app requested an unsupported grant type '%s'." % grant))
        principal = self.principals.get((client_id or "").lower())
        if principal is None:
            return Reply(400, wire.aad_error(
                "unauthorized_client", [700016],
                "AADSTS700016: Application with identifier '%s' was not found in the directory '%s'. This can "
                "happen if the application has not been installed by the administrator of the tenant or "
                "consented to by any user in the tenant. You may have sent your authentication request to "
                "the wrong tenant." % (client_id, self.tenant)))
        if not secret:
            return Reply(401, wire.aad_error(
                "invalid_client", [7000216],
                "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the "
                "'client_credentials' grant type."))
        if not secrets.compare_digest(secret.encode(), principal.secret.encode()):
            return Reply(401, wire.aad_error(
                "invalid_client", [7000215],
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app '%s'."
                % principal.client_id))
        scope = form.get("scope", "")
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return Reply(400, wire.aad_error(
                "invalid_scope", [1002012],
                "AADSTS1002012: The provided value for scope %s is not valid. Client credential flows must have "
                "a scope value with /.default suffixed to the resource identifier (application ID URI)." % scope))
        resource = scopes[0][: -len("/.default")].rstrip("/")
        if resource.lower() not in ARM_RESOURCES:
            return Reply(400, wire.aad_error(
                "invalid_resource", [500011],
                "AADSTS500011: The resource principal named %s was not found in the tenant named %s."
                % (resource, self.tenant)))
        token = self.tokens.issue(principal)
        return Reply(200, {"token_type": "Bearer", "expires_in": self.tokens.ttl,
                           "ext_expires_in": self.tokens.ttl, "access_token": token})
