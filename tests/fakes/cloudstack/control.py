"""`/_fake/...`: the test-only control API (no auth, JSON in and out).

The contract is tests/fakes/../FAKES.md plus CloudStack extras (jobs,
events, purge). Every endpoint is listed in README.md.
"""

import json
from datetime import datetime, timezone

import views
from model import STATES

HOSTILE_MODES = ("redirect", "html", "wrong-root", "wrong-ids", "duplicate-ids", "endless-paging", "slow-body",
                 "huge-body", "absurd-retry-after", "echo-secret", "escape-names")
ACTION_ALIASES = {"startVirtualMachine": "start", "stopVirtualMachine": "stop", "rebootVirtualMachine": "reboot",
                  "listVirtualMachines": "list", "queryAsyncJobResult": "query", "listAsyncJobs": "list-jobs",
                  "listEvents": "events", "forceStop": "force-stop", "force_stop": "force-stop"}
ASYNC_ACTIONS = ("start", "stop", "force-stop", "reboot", "createTags", "deleteTags")


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def truth(model, vm):
    pending = [j.id for j in vm.pending]
    return {"id": vm.id, "name": vm.name, "displayname": vm.displayname, "state": vm.state,
            "account": None if vm.project else vm.account.name,
            "project": vm.project.name if vm.project else None,
            "projectid": vm.project.id if vm.project else None,
            "zone": vm.zone.name, "host": vm.host.name if vm.host else None, "instancename": vm.instancename,
            "stubborn": vm.stubborn, "stubborn_outcome": vm.stubborn_outcome, "pending_jobs": pending,
            "tags": {tag.key: tag.value for tag in vm.tags}}


def _parse_when(text):
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            dt = datetime.strptime(text.replace("Z", "+0000"), fmt)
            return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise ControlError(400, "unparseable time %r" % text)


def _valid_tags(data):
    """`{"tags": {"KEY": "VALUE", ...}}`: non-empty strings, keys distinct
    ignoring case (resource_tags' unique key compares them that way)."""
    tags = data.get("tags")
    if not isinstance(tags, dict):
        raise ControlError(400, 'tags must be an object {"KEY": "VALUE", ...} (use {} to remove every tag)')
    seen = {}
    for key, value in tags.items():
        if not key:
            raise ControlError(400, "tag keys must be non-empty strings")
        if not isinstance(value, str) or not value:
            raise ControlError(400, "the value of tag %r must be a non-empty string (CloudStack refuses empty values)" % key)
        if key.lower() in seen:
            raise ControlError(400, "tag keys %r and %r differ only in case; CloudStack keeps one per VM"
                               % (seen[key.lower()], key))
        seen[key.lower()] = key
    return tags


class Control:
    def __init__(self, model):
        self.m = model

    def handle(self, method, path, body):
        """Returns (status, json-able object)."""
        parts = [p for p in path.split("/") if p][1:]   # drop "_fake"
        try:
            data = json.loads(body.decode("utf-8")) if body else {}
            if not isinstance(data, dict):
                raise ControlError(400, "a JSON object was expected")
        except ValueError:
            return 400, {"error": "invalid JSON"}
        try:
            with self.m.lock:
                return 200, self._route(method, parts, data)
        except ControlError as err:
            return err.status, {"error": str(err)}

    def _vm(self, ref):
        vm = self.m.find_vm(ref)
        if vm is None:
            raise ControlError(404, "no VM %r" % ref)
        return vm

    def _route(self, method, parts, data):
        m = self.m
        if parts == ["vms"] and method == "GET":
            return [truth(m, vm) for vm in m.vms]
        if parts == ["vms"] and method == "POST":
            return self._add(data)
        if len(parts) == 2 and parts[0] == "vms" and method == "GET":
            return truth(m, self._vm(parts[1]))
        if len(parts) == 2 and parts[0] == "vms" and method == "DELETE":
            vm = self._vm(parts[1])
            m.remove_vm(vm)
            return {"removed": vm.id}
        if len(parts) == 3 and parts[0] == "vms" and parts[2] == "state" and method == "POST":
            vm = self._vm(parts[1])
            state = data.get("state")
            if state not in STATES:
                raise ControlError(400, "state must be one of %s" % ", ".join(STATES))
            m.set_state(vm, state)
            return truth(m, vm)
        if len(parts) == 3 and parts[0] == "vms" and parts[2] == "stubborn" and method == "POST":
            vm = self._vm(parts[1])
            vm.stubborn = bool(data.get("on", True))
            outcome = data.get("outcome", vm.stubborn_outcome)
            if outcome not in ("fail", "poweroff"):
                raise ControlError(400, 'outcome must be "fail" or "poweroff"')
            vm.stubborn_outcome = outcome
            return truth(m, vm)
        if len(parts) == 3 and parts[0] == "vms" and parts[2] == "tags" and method == "POST":
            vm = self._vm(parts[1])
            m.set_tags(vm, _valid_tags(data))
            return truth(m, vm)
        if parts == ["calls"] and method == "GET":
            return dict(m.calls)
        if parts == ["calls", "reset"] and method == "POST":
            m.calls.clear()
            return {}
        if parts == ["fail"] and method == "POST":
            return self._fail(data)
        if parts == ["throttle"] and method == "POST":
            if "retry_after_ms" in data:
                ms = int(data["retry_after_ms"])
            else:
                ms = int(float(data.get("retry_after", 1)) * 1000)
            m.throttle = {"remaining": int(data.get("count", 1)), "ms": ms}
            return dict(m.throttle)
        if parts == ["outage"] and method == "POST":
            m.outage = bool(data.get("on", True))
            return {"on": m.outage}
        if parts == ["cut"] and method == "POST":
            if not data.get("action"):
                raise ControlError(400, "action (an API command, as /_fake/calls names it) is required")
            with m.lock:
                return {"action": data["action"], "count": m.cuts.arm(data["action"], data.get("count", 1), data.get("answer"))}
        if parts == ["hostile"] and method == "POST":
            mode = data.get("mode")
            if mode is not None and mode not in HOSTILE_MODES:
                raise ControlError(400, "mode must be null or one of %s" % ", ".join(HOSTILE_MODES))
            m.hostile = mode
            return {"mode": mode}
        if parts == ["timing"] and method == "POST":
            # Applies to steps scheduled from now on; /_fake/reset restores
            # the launch values.
            if "transition_ms" in data:
                m.cfg.transition_s = int(data["transition_ms"]) / 1000.0
            if "stubborn_timeout_ms" in data:
                m.cfg.stubborn_timeout_s = int(data["stubborn_timeout_ms"]) / 1000.0
            return {"transition_ms": int(m.cfg.transition_s * 1000),
                    "stubborn_timeout_ms": int(m.cfg.stubborn_timeout_s * 1000)}
        if parts == ["reset"] and method == "POST":
            m.reset()
            return {"vms": len(m.vms)}
        if parts == ["jobs"] and method == "GET":
            return [dict(views.job_row(j, for_query=True), kind=j.kind) for j in m.jobs]
        if parts == ["events"] and method == "GET":
            return [views.event_row(e) for e in sorted(m.events, key=lambda e: (e.created, e.iid), reverse=True)]
        if parts == ["events", "purge"] and method == "POST":
            return self._purge(data)
        if parts == ["info"] and method == "GET":
            cfg = m.cfg
            return {"api_key": cfg.api_key, "secret_key": cfg.secret_key,
                    "user2": list(cfg.user2) if cfg.user2 else None, "page_size": cfg.page_size,
                    "transition_ms": int(cfg.transition_s * 1000),
                    "stubborn_timeout_ms": int(cfg.stubborn_timeout_s * 1000), "seed": cfg.seed,
                    "zones": [z.name for z in m.zones], "projects": [p.name for p in m.projects]}
        raise ControlError(404, "no control endpoint %s /_fake/%s" % (method, "/".join(parts)))

    def _add(self, data):
        m = self.m
        state = data.get("state", "Running")
        if state not in STATES:
            raise ControlError(400, "state must be one of %s" % ", ".join(STATES))
        project = None
        if data.get("project"):
            project = next((p for p in m.projects if data["project"] in (p.name, p.id)), None)
            if project is None:
                raise ControlError(404, "no project %r" % data["project"])
        account = None
        if data.get("account"):
            account = m.accounts.get(data["account"])
            if account is None or account.type == "PROJECT":
                raise ControlError(404, "no account %r" % data["account"])
        zone = None
        if data.get("zone"):
            zone = next((z for z in m.zones if data["zone"] in (z.name, z.id)), None)
            if zone is None:
                raise ControlError(404, "no zone %r" % data["zone"])
        vms = m.add_vms(int(data.get("count", 1)), state, account, project, zone, data.get("name"))
        return [truth(m, vm) for vm in vms]

    def _fail(self, data):
        action = data.get("action")
        action = ACTION_ALIASES.get(action, action)
        if not action:
            raise ControlError(400, "action is required")
        rule = {"action": action, "remaining": int(data.get("count", 1)), "code": int(data.get("code", 530)),
                "message": data.get("message"),
                "sync": bool(data.get("sync", action not in ASYNC_ACTIONS))}
        self.m.fail_rules.append(rule)
        return rule

    def _purge(self, data):
        m = self.m
        before = len(m.events)
        if "before" in data:
            cut = _parse_when(data["before"])
            m.events = [e for e in m.events if e.created >= cut]
        elif "keep_last" in data:
            keep = int(data["keep_last"])
            m.events = sorted(m.events, key=lambda e: (e.created, e.iid))[-keep:] if keep else []
        else:
            m.events = []
        return {"purged": before - len(m.events), "remaining": len(m.events)}
