"""Azure Resource Manager: routing, authentication, api-version, throttling,
request budgets, and the compute operations.

Wire facts (shared/providers-wave2.md section A, and the SDK sources named
there): list-all with statusOnly and nextLink/$skiptoken, instanceView, the four
actions answering 202 + Azure-AsyncOperation + Location + Retry-After, the
async-operation status resource, ARM's error body and rate-limit headers.
ARM ids and paths are case-insensitive: every match here ignores case.
"""

import base64
import re
import time
import urllib.parse
import uuid

from . import wire
from .auth import expired_error
from .reply import Reply
from .state import ACTIONS, MIXED_CASE_RG, ArmError

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_VM = _SUB + r"/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.compute/virtualmachines/(?P<vm>[^/]+)"
ROUTES = [
    ("GET", "subscriptions", r"^/subscriptions/?$"),
    ("GET", "get_subscription", r"^" + _SUB + r"/?$"),
    ("GET", "list", r"^" + _SUB + r"/providers/microsoft\.compute/virtualmachines/?$"),
    ("GET", "list_by_rg", r"^" + _SUB + r"/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.compute/virtualmachines/?$"),
    ("GET", "get_vm", r"^" + _VM + r"/?$"),
    ("GET", "instance_view", r"^" + _VM + r"/instanceview/?$"),
    ("POST", "action", r"^" + _VM + r"/(?P<action>start|poweroff|deallocate|restart)/?$"),
    ("GET", "operation_status", r"^" + _SUB + r"/providers/microsoft\.compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)/?$"),
    ("GET", "operation_result", r"^" + _SUB + r"/providers/microsoft\.compute/locations/(?P<loc>[^/]+)/operationresults/(?P<op>[^/]+)/?$"),
]
ROUTES = [(m, n, re.compile(p, re.IGNORECASE)) for m, n, p in ROUTES]
CANONICAL_ACTION = {a.lower(): a for a in ACTIONS}
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta)?$")


def escaped(name):
    """Hostile escape-names: terminal escape sequences and control characters around a name."""
    return "\x1b[31m" + name + "\x1b]0;pwned\x07\r\x08\x00"


def classify(method, path):
    """(operation name, path params) for an ARM request, or (None, None)."""
    path = urllib.parse.unquote(path)
    for m, name, rx in ROUTES:
        match = rx.match(path)
        if match:
            params = match.groupdict()
            if name == "action":
                params["action"] = CANONICAL_ACTION[params["action"].lower()]
                name = params["action"]
            if m != method:
                return "method_not_allowed", params
            return name, params
    return None, None


def _b64(s):
    return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")


def _unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).decode()


class Arm:
    def __init__(self, world, faults, tokens, options):
        self.world = world
        self.faults = faults
        self.tokens = tokens
        self.o = options  # page_size, retry_after, mixed_case_rg, authority_uri

    # ------------------------------------------------------------ entry point
    def handle(self, method, path, raw_query, query, headers, base):
        """query: parameter names lower-cased (ARM matches them case-insensitively)."""
        name, params = classify(method, path)
        if params is not None:
            params["_self"] = base + path + ("?" + raw_query if raw_query else "")
        self.faults.count(name or "unknown_path")
        scope = (params or {}).get("sub", "tenant").lower() if name != "subscriptions" else "tenant"
        kind = "reads" if method == "GET" else "writes"
        principal = None
        try:
            principal = self.tokens.check(headers.get("Authorization"), self.o["authority_uri"])
            mode = self.faults.hostile
            if mode == "echo-secret":
                # Make the client go back to the token endpoint, where the secret gets echoed.
                raise expired_error(time.time() - 60, time.time(), self.o["authority_uri"])
            if mode == "absurd-retry-after":
                raise self._throttled(scope, kind, principal, 10 ** 12)
            if not query.get("api-version"):
                raise ArmError(400, "MissingApiVersionParameter",
                               "The api-version query parameter (?api-version=) is required for all requests.")
            if not API_VERSION.match(query["api-version"]):
                raise ArmError(400, "InvalidApiVersionParameter",
                               "The api-version '%s' is invalid. The supported versions are '2026-04-01,"
                               "2025-04-01,2024-11-01,2024-07-01,2024-03-01,2023-09-01'." % query["api-version"])
            retry_after = self.faults.take_throttle()
            if retry_after is not None:
                raise self._throttled(scope, kind, principal, retry_after)
            remaining, wait = self.faults.spend(principal.object_id, scope, kind)
            if wait is not None:
                raise self._throttled(scope, kind, principal, wait)
            if name is None:
                raise ArmError(404, "InvalidResourceType",
                               "The resource type could not be found in the namespace for api version '%s'."
                               % query["api-version"])
            if name == "method_not_allowed":
                raise ArmError(405, "MethodNotAllowed", "The requested resource does not support http method '%s'."
                               % method)
            spec = self.faults.take_fail(name, immediate=True)
            if spec:
                raise ArmError(spec.get("status", 500), spec["code"], spec["message"])
            reply = self._dispatch(name, params, query, principal, base)
        except ArmError as e:
            if e.status == 401:
                self.faults.count("unauthorized")
            if e.status == 429:
                self.faults.count("throttled")
            reply = Reply(e.status, wire.arm_error(e.code, e.message), e.headers)
        self._stamp(reply, headers, scope, kind, principal)
        return reply

    def _throttled(self, scope, kind, principal, retry_after):
        what = "read" if kind == "reads" else "write"
        where = "tenant '%s'" % self.world.tenant if scope == "tenant" else "subscription '%s'" % scope
        return ArmError(429, "SubscriptionRequestsThrottled" if scope != "tenant" else "TenantRequestsThrottled",
                        "Number of '%s' requests for %s actor '%s' exceeded. Please try again after '%d' seconds "
                        "after the additional tokens are available. Refer to https://aka.ms/arm-throttling for "
                        "additional information." % (what, where, principal.object_id, retry_after),
                        {"Retry-After": str(retry_after),
                         self._limit_header(scope, kind): "0"})

    def _limit_header(self, scope, kind):
        return "x-ms-ratelimit-remaining-%s-%s" % ("tenant" if scope == "tenant" else "subscription", kind)

    def _stamp(self, reply, headers, scope, kind, principal):
        """Headers every ARM answer carries."""
        h = reply.headers
        h.setdefault("x-ms-request-id", str(uuid.uuid4()))
        h.setdefault("x-ms-correlation-request-id", headers.get("x-ms-correlation-request-id") or str(uuid.uuid4()))
        h.setdefault("x-ms-routing-request-id", "EASTUS:%s:%s" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
                                                                 uuid.uuid4()))
        who = principal.object_id if principal else "anonymous"
        h.setdefault(self._limit_header(scope, kind), str(self.faults.remaining(who, scope, kind)))
        h.setdefault("Cache-Control", "no-cache")
        h.setdefault("Pragma", "no-cache")
        h.setdefault("Expires", "-1")
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        h.setdefault("X-Content-Type-Options", "nosniff")

    # --------------------------------------------------------------- routing
    def _dispatch(self, name, p, query, principal, base):
        w = self.world
        with w.lock:
            if name == "subscriptions":
                return self._subscriptions(query, base)
            if name == "get_subscription":
                s = w.subscription(p["sub"])
                if s is None:
                    raise ArmError(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % p["sub"])
                return Reply(200, wire.subscription_body(s, w.tenant))
            if name in ("list", "list_by_rg"):
                return self._list(name, p, query, base)
            if name in ("get_vm", "instance_view"):
                vm = w.find_vm(p["sub"], p["rg"], p["vm"])
                w.settle(vm)
                return self._read_vm(name, vm, query)
            if name in ACTIONS:
                return self._action(name, p, query, principal, base)
            return self._operation(name, p, query, base)

    # --------------------------------------------------------- subscriptions
    def _page(self, items, key, query, base, path, extra):
        """One page of items (sorted by key) after the $skiptoken, plus its nextLink."""
        token = query.get("$skiptoken")
        after = ""
        endless = self.faults.hostile == "endless-paging"
        if token:
            try:
                after = _unb64(token)
            except ValueError:
                raise ArmError(400, "InvalidSkipToken", "The skip token '%s' is not valid." % token)
            if after.startswith("endless:"):
                items, after = [], ""
        items = sorted(items, key=key)
        rest = [i for i in items if key(i) > after] if after else items
        page = rest[: self.o["page_size"]]
        link = None
        more = len(rest) > len(page)
        if more or endless:
            nxt = _b64(key(page[-1])) if more else _b64("endless:%s" % uuid.uuid4())
            q = "api-version=%s%s&$skiptoken=%s" % (urllib.parse.quote(query["api-version"]), extra, nxt)
            link = base + path + "?" + q
        return page, link

    def _subscriptions(self, query, base):
        subs, link = self._page(self.world.subscriptions, lambda s: s["id"].lower(), query, base,
                                "/subscriptions", "")
        body = [wire.subscription_body(s, self.world.tenant) for s in subs]
        if self.faults.hostile == "wrong-root":
            return Reply(200, {"subscriptions": body})
        out = {"value": body, "count": {"type": "Total", "value": len(self.world.subscriptions)}}
        if link:
            out["nextLink"] = link
        return Reply(200, out)

    # ------------------------------------------------------------------ list
    def _rg_casing(self, vm, answer):
        """With --mixed-case-rg, RG-Web is spelled rg-web everywhere but in the full listing."""
        if self.o["mixed_case_rg"] and vm.resource_group == MIXED_CASE_RG and answer != "list":
            return vm.resource_group.lower()
        return None

    def _list(self, name, p, query, base):
        w = self.world
        s = w.subscription(p["sub"])
        if s is None:
            raise ArmError(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % p["sub"])
        vms = w.vms_of(s["id"])
        path = "/subscriptions/%s" % s["id"]
        if name == "list_by_rg":
            rg = p["rg"]
            if rg.lower() not in w.resource_groups.get(s["id"], {}):
                raise ArmError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % rg)
            vms = [v for v in vms if v.resource_group.lower() == rg.lower()]
            path += "/resourceGroups/%s" % w.resource_groups[s["id"]][rg.lower()]
        path += "/providers/Microsoft.Compute/virtualMachines"
        mode = self.faults.hostile
        if mode == "wrong-ids":
            # Answers about VMs other than the ones asked for: another subscription's.
            others = [v for v in w.vms.values() if v.subscription.lower() != s["id"].lower()]
            vms = others or vms
        status_only = str(query.get("statusonly", "")).lower() == "true"
        if status_only:
            self.faults.count("list_status_only")
        for vm in vms:
            w.settle(vm)
        extra = "&statusOnly=true" if status_only else ""
        page, link = self._page(vms, lambda v: v.key, query, base, path, extra)
        answer = "status_only" if status_only else "list"
        render = wire.vm_status_only if status_only else wire.vm_body
        body = []
        for vm in page:
            nm = escaped(vm.name) if mode == "escape-names" else None
            entry = render(vm, resource_group=self._rg_casing(vm, answer), name=nm)
            if mode == "wrong-ids" and vm.subscription.lower() == s["id"].lower():
                # Only one subscription to steal from: make the ids point elsewhere.
                entry["id"] = entry["id"].replace(vm.subscription, str(uuid.uuid4()))
            body.append(entry)
        if mode == "duplicate-ids" and body:
            body.append(dict(body[0]))
        if mode == "wrong-root":
            return Reply(200, {"items": body})
        out = {"value": body}
        if link:
            out["nextLink"] = link
        return Reply(200, out)

    # ------------------------------------------------------------ single VM
    def _read_vm(self, name, vm, query):
        mode = self.faults.hostile
        if mode == "wrong-ids":
            others = [v for v in self.world.vms.values() if v is not vm]
            if others:
                vm = others[0]
                self.world.settle(vm)
        nm = escaped(vm.name) if mode == "escape-names" else None
        if name == "instance_view":
            body = wire.instance_view(vm, nm)
            return Reply(200, {"instanceView": body} if mode == "wrong-root" else body)
        expand = str(query.get("$expand", "")).lower() == "instanceview"
        body = wire.vm_body(vm, resource_group=self._rg_casing(vm, "get"), name=nm, with_instance_view=expand)
        return Reply(200, {"resource": body} if mode == "wrong-root" else body)

    # --------------------------------------------------------------- actions
    def _action(self, action, p, query, principal, base):
        w = self.world
        vm = w.find_vm(p["sub"], p["rg"], p["vm"])
        if not principal.can_write:
            raise ArmError(403, "AuthorizationFailed",
                           "The client '%s' with object id '%s' does not have authorization to perform action "
                           "'Microsoft.Compute/virtualMachines/%s/action' over scope '%s' or the scope is invalid. "
                           "If access was recently granted, please refresh your credentials."
                           % (principal.object_id, principal.object_id, action, vm.resource_id()))

        def flag(name):
            raw = query.get(name)
            if raw is None:
                return None
            if raw.lower() not in ("true", "false"):
                raise ArmError(400, "InvalidParameter",
                               "The value '%s' of parameter '%s' is not valid." % (raw, name))
            return raw.lower() == "true"

        skip = flag("skipshutdown") if action == "powerOff" else None
        hibernate = bool(flag("hibernate")) if action == "deallocate" else False
        fail = self.faults.take_fail("hibernate", immediate=False) if hibernate else None
        fail = fail or self.faults.take_fail(action, immediate=False)
        try:
            op = w.begin(vm, action, skip_shutdown=skip, hibernate=hibernate, fail=fail)
        except ArmError:
            if fail:  # a request refused up front does not use up an armed failure
                fail["count"] += 1
            raise
        loc = "/subscriptions/%s/providers/Microsoft.Compute/locations/%s" % (vm.subscription, vm.location)
        q = "p=%s&api-version=%s" % (uuid.uuid4(), urllib.parse.quote(query["api-version"]))
        return Reply(202, None, {
            "Azure-AsyncOperation": "%s%s/operations/%s?%s" % (base, loc, op.op_id, q),
            "Location": "%s%s/operationResults/%s?%s" % (base, loc, op.op_id, q),
            "Retry-After": str(self.o["retry_after"]),
            "Azure-AsyncNotification": "Enabled",
        })

    # ------------------------------------------------------------ operations
    def _operation(self, name, p, query, base):
        op = self.world.operation(p["op"])
        if op is None or op.vm.subscription.lower() != p["sub"].lower():
            raise ArmError(404, "NotFound", "The entity was not found in this Azure location.")
        running = op.status == "InProgress"
        if name == "operation_status":
            body = wire.operation_status(op)
            if self.faults.hostile == "wrong-root":
                body = {"operation": body}
            return Reply(200, body, {"Retry-After": str(self.o["retry_after"])} if running else {})
        # operation_result: the Location URL of ARM's async pattern.
        if running:
            return Reply(202, None, {"Location": p["_self"], "Retry-After": str(self.o["retry_after"])})
        if op.status == "Succeeded":
            return Reply(200, None)
        return Reply(op.http_status or 500, wire.arm_error(*op.error))
