"""The test-only control API under /_fake (tests/fakes contract in FAKES.md):
no auth, JSON in and out."""

import json
import urllib.parse

from . import wire
from .faults import HOSTILE_MODES
from .reply import Reply
from .state import ACTIONS, MIXED_CASE_RG, POWER_STATES


def _vm_json(world, vm, mixed_case):
    world.settle(vm)
    return {
        "id": vm.resource_id(), "name": vm.name, "state": wire.power_code(vm),
        "power_state": vm.power, "provisioning_state": wire.provisioning_status(vm)["code"],
        "subscription": vm.subscription, "resource_group": vm.resource_group, "location": vm.location,
        "vm_size": vm.size, "os_type": vm.os_type, "tags": dict(vm.tags), "vm_id": vm.vm_id,
        "hibernation_enabled": vm.hibernation_enabled, "hibernated": vm.hibernated, "stubborn": vm.stubborn,
        "mixed_case_rg": bool(mixed_case and vm.resource_group == MIXED_CASE_RG),
        "operation": vm.op.op_id if vm.op else None,
    }


def _power(raw):
    """'PowerState/deallocated' or 'deallocated' -> 'deallocated'."""
    s = str(raw).strip()
    if s.lower().startswith("powerstate/"):
        s = s.split("/", 1)[1]
    s = s.lower()
    if s not in POWER_STATES:
        raise ValueError("unknown power state %r (one of %s)" % (raw, ", ".join(POWER_STATES)))
    return s


class Control:
    def __init__(self, world, faults, tokens, options):
        self.world = world
        self.faults = faults
        self.tokens = tokens
        self.o = options

    def handle(self, method, path, body):
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() else {}
        except ValueError:
            return Reply(400, {"error": "body is not JSON"})
        try:
            return self._route(method, urllib.parse.unquote(path[len("/_fake"):]).rstrip("/") or "/", data)
        except (KeyError, ValueError, TypeError) as e:
            return Reply(400, {"error": str(e)})

    def _vm(self, ident):
        vm = self.world.lookup(ident)
        if vm is None:
            raise LookupError(ident)
        return vm

    def _route(self, method, path, d):
        w, f = self.world, self.faults
        mixed = self.o["mixed_case_rg"]
        with w.lock:
            if path == "/vms" and method == "GET":
                return Reply(200, [_vm_json(w, vm, mixed) for vm in w.vms.values()])
            if path == "/vms" and method == "POST":
                kw = {}
                if d.get("state"):
                    kw["power"] = _power(d["state"])
                for k in ("resource_group", "location", "hibernation_enabled", "prefix", "name", "tags"):
                    if k in d:
                        kw[k] = d[k]
                created = w.add_vms(int(d.get("count", 1)), subscription=d.get("subscription"), **kw)
                return Reply(201, [_vm_json(w, vm, mixed) for vm in created])
            if path == "/subscriptions" and method == "GET":
                return Reply(200, [{"id": s["id"], "display_name": s["display_name"], "tenant": w.tenant,
                                    "resource_groups": sorted(w.resource_groups[s["id"]].values())}
                                   for s in w.subscriptions])
            if path == "/operations" and method == "GET":
                w.settle_all()
                return Reply(200, [op.summary() for op in w.ops.values()])
            if path.startswith("/vms/"):
                rest = path[len("/vms/"):]
                for suffix in ("/state", "/stubborn"):
                    if rest.endswith(suffix) and method == "POST":
                        try:
                            vm = self._vm(rest[: -len(suffix)])
                        except LookupError:
                            return Reply(404, {"error": "no VM %r" % rest[: -len(suffix)]})
                        if suffix == "/stubborn":
                            vm.stubborn = bool(d.get("on", True))
                        else:
                            power = _power(d["state"]) if d.get("state") else None
                            w.out_of_band(vm, power, d.get("provisioning"))
                        return Reply(200, _vm_json(w, vm, mixed))
                try:
                    vm = self._vm(rest)
                except LookupError:
                    return Reply(404, {"error": "no VM %r" % rest})
                if method == "GET":
                    return Reply(200, _vm_json(w, vm, mixed))
                if method == "DELETE":
                    w.remove_vm(vm)
                    return Reply(200, {"deleted": vm.resource_id()})
        if path == "/calls" and method == "GET":
            return Reply(200, f.calls_snapshot())
        if path == "/calls/reset" and method == "POST":
            f.reset_calls()
            return Reply(200, {})
        if path == "/fail" and method == "POST":
            action = d["action"]
            known = {a.lower() for a in ACTIONS} | {"hibernate"}
            immediate = bool(d.get("immediate", False))
            if not immediate and action.lower() not in known:
                raise ValueError("LRO failures exist for %s; use \"immediate\": true for other operations"
                                 % ", ".join(sorted(known)))
            spec = {"count": int(d.get("count", 1)), "immediate": immediate,
                    "code": d.get("code", "InternalExecutionError"),
                    "message": d.get("message", "An internal execution error occurred. Please retry later."),
                    "status": int(d.get("status", 409 if immediate else 500))}
            f.add_fail(action, spec)
            return Reply(200, spec)
        if path == "/throttle" and method == "POST":
            f.set_throttle(int(d.get("count", 1)), int(d.get("retry_after", 1)))
            return Reply(200, {"count": int(d.get("count", 1)), "retry_after": int(d.get("retry_after", 1))})
        if path == "/outage" and method == "POST":
            f.outage = bool(d.get("on", True))
            return Reply(200, {"on": f.outage})
        if path == "/cut" and method == "POST":
            f.set_cut(d["action"], d.get("count", 1), d.get("answer"))
            return Reply(200, {"action": d["action"], "count": int(d.get("count", 1))})
        if path == "/hostile" and method == "POST":
            mode = d.get("mode")
            if mode is not None and mode not in HOSTILE_MODES:
                raise ValueError("unknown mode %r (one of %s)" % (mode, ", ".join(HOSTILE_MODES)))
            f.hostile = mode
            return Reply(200, {"mode": mode})
        if path == "/tokens/expire" and method == "POST":
            return Reply(200, {"expired": self.tokens.expire_all()})
        if path == "/tokens" and method == "GET":
            return Reply(200, self.tokens.summary())
        if path == "/config" and method == "GET":
            return Reply(200, {k: v for k, v in self.o.items() if not k.startswith("_")})
        if path == "/reset" and method == "POST":
            w.reseed()
            f.reset()
            return Reply(200, {"reset": True})
        return Reply(404, {"error": "no control endpoint %s %s" % (method, path)})
