"""The fake's world: subscriptions, resource groups, VMs, and the long-running
operations (LROs) that move VMs between power states.

Pure logic, no HTTP. Time is passed in (`now`, epoch seconds) and the state is
settled lazily whenever something reads it, so there are no timer threads and
a test can reason about "transition_s after the request, the VM is running".

Power states are Azure's own `PowerState/<x>` suffixes: starting, running,
stopping, stopped, deallocating, deallocated (shared/providers-wave2.md A2).
"""

import random
import threading
import time
import uuid

POWER_STATES = ("starting", "running", "stopping", "stopped", "deallocating", "deallocated")
TRANSITIONAL = ("starting", "stopping", "deallocating")
ACTIONS = ("start", "powerOff", "deallocate", "restart")

PREFIXES = ("web", "db", "app", "api", "cache", "worker", "batch", "build")
# Resource groups are spelled with mixed case on purpose: ARM ids are
# case-insensitive and clients must compare them that way.
RESOURCE_GROUPS = {
    "web": "RG-Web", "api": "RG-Web",
    "db": "rg-Data", "cache": "rg-Data",
    "app": "Rg-Apps", "worker": "Rg-Apps",
    "batch": "RG-Batch", "build": "RG-Batch",
}
# With --mixed-case-rg the VMs of this group come back as "rg-web" in some answers.
MIXED_CASE_RG = "RG-Web"
TEAMS = {"web": "frontend", "api": "frontend", "db": "data", "cache": "data",
         "app": "platform", "worker": "platform", "batch": "ci", "build": "ci"}
LOCATIONS = ("eastus", "westeurope", "northeurope", "westus2")
SIZES = ("Standard_B2s", "Standard_D2s_v5", "Standard_D4s_v5", "Standard_E4s_v5", "Standard_F2s_v2")


class ArmError(Exception):
    """An ARM error answer: HTTP status plus ARM's {"error": {code, message}}."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Vm:
    def __init__(self, **kw):
        self.subscription = kw["subscription"]
        self.resource_group = kw["resource_group"]
        self.name = kw["name"]
        self.vm_id = kw["vm_id"]
        self.location = kw["location"]
        self.size = kw["size"]
        self.os_type = kw["os_type"]
        self.tags = kw["tags"]
        self.hibernation_enabled = kw["hibernation_enabled"]
        self.power = kw["power"]
        self.provisioning = kw.get("provisioning", "succeeded")   # succeeded | updating | failed
        self.provisioning_code = kw.get("provisioning_code")       # e.g. OSProvisioningTimedOut
        self.provisioning_time = kw["provisioning_time"]
        self.time_created = kw["time_created"]
        self.hibernated = False
        self.stubborn = kw.get("stubborn", False)
        self.op = None  # the Operation in progress, if any

    def resource_id(self, resource_group=None):
        rg = resource_group or self.resource_group
        return ("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s"
                % (self.subscription, rg, self.name))

    @property
    def key(self):
        return self.resource_id().lower()


class Operation:
    """One ARM async operation (what Azure-AsyncOperation / Location point at)."""

    def __init__(self, vm, action, phases, final, now, from_power, skip_shutdown=None,
                 hibernate=False, stuck=False, fail=None):
        self.op_id = str(uuid.uuid4())
        self.vm = vm
        self.action = action
        self.phases = phases          # [(power state, seconds)]
        self.final = final            # power state on success
        self.started = now
        self.ended = None
        self.from_power = from_power  # restored if the operation fails
        self.skip_shutdown = skip_shutdown
        self.hibernate = hibernate
        self.stuck = stuck            # graceful powerOff on a stubborn guest: never ends by itself
        self.fail = fail              # {"code", "message", "status"} from /_fake/fail
        self.status = "InProgress"
        self.error = None             # (code, message) once Failed / Canceled
        self.http_status = None       # what the Location URL answers once Failed / Canceled

    def summary(self):
        return {"id": self.op_id, "vm": self.vm.resource_id(), "action": self.action,
                "status": self.status, "hibernate": self.hibernate,
                "skip_shutdown": self.skip_shutdown,
                "error": None if not self.error else {"code": self.error[0], "message": self.error[1]}}


class World:
    def __init__(self, *, seed=1, subscriptions=2, vms=5, tenant, transition_s=1.5,
                 with_failed_vm=False, stubborn_guests=0):
        self.lock = threading.RLock()
        self.tenant = tenant
        self.transition_s = transition_s
        self._seed_args = dict(seed=seed, subscriptions=subscriptions, vms=vms,
                               with_failed_vm=with_failed_vm, stubborn_guests=stubborn_guests)
        self.reseed()

    # ---------------------------------------------------------------- seeding
    def reseed(self):
        with self.lock:
            a = self._seed_args
            self.rng = random.Random(a["seed"])
            self.subscriptions = []   # [{"id", "display_name"}]
            self.resource_groups = {}  # sub -> {lower name: canonical name}
            self.vms = {}              # lower resource id -> Vm (insertion order = listing order)
            self.ops = {}
            self.counter = 0
            names = ("Contoso Production", "Contoso Dev/Test", "Fabrikam Lab", "Northwind Sandbox")
            for i in range(a["subscriptions"]):
                sub = _uuid(self.rng)
                name = names[i % len(names)] + ("" if i < len(names) else " %d" % (i + 1))
                self.subscriptions.append({"id": sub, "display_name": name})
                self.resource_groups[sub] = {}
                for rg in sorted(set(RESOURCE_GROUPS.values())):
                    self.resource_groups[sub][rg.lower()] = rg
                for _ in range(a["vms"]):
                    self._new_vm(sub)
            every = list(self.vms.values())
            if a["with_failed_vm"] and self.subscriptions:
                first_sub = [v for v in every if v.subscription == self.subscriptions[0]["id"]]
                if first_sub:
                    bad = first_sub[-1]
                    bad.provisioning = "failed"
                    bad.provisioning_code = "OSProvisioningTimedOut"
                    bad.power = "running"
            for vm in self.rng.sample(every, min(a["stubborn_guests"], len(every))):
                vm.stubborn = True

    def _new_vm(self, sub, *, power=None, resource_group=None, location=None,
                hibernation_enabled=None, prefix=None, name=None, tags=None):
        rng = self.rng
        self.counter += 1
        prefix = prefix or PREFIXES[(self.counter - 1) % len(PREFIXES)]
        name = name or "%s-%02d" % (prefix, self.counter)
        rg = resource_group or RESOURCE_GROUPS.get(prefix, "RG-Misc")
        self.resource_groups.setdefault(sub, {}).setdefault(rg.lower(), rg)
        rg = self.resource_groups[sub][rg.lower()]
        if tags is None:
            tags = {"env": rng.choice(("prod", "test")), "team": TEAMS.get(prefix, "ops")}
            if rng.random() < 0.4:
                tags["cost-center"] = "cc-%04d" % rng.randrange(10000)
        created = 1700000000 + rng.randrange(30_000_000)
        vm = Vm(
            subscription=sub, resource_group=rg, name=name, vm_id=_uuid(rng),
            location=location or rng.choice(LOCATIONS), size=rng.choice(SIZES),
            os_type="Windows" if rng.random() < 0.25 else "Linux", tags=tags,
            hibernation_enabled=(rng.random() < 0.35) if hibernation_enabled is None else hibernation_enabled,
            power=power or rng.choices(("running", "stopped", "deallocated"), (5, 2, 3))[0],
            provisioning_time=created + 60, time_created=created,
        )
        self.vms[vm.key] = vm
        return vm

    def add_vms(self, count, *, subscription=None, **kw):
        with self.lock:
            sub = subscription or self.subscriptions[0]["id"]
            if sub.lower() not in {s["id"].lower() for s in self.subscriptions}:
                raise KeyError("unknown subscription %s" % sub)
            return [self._new_vm(sub, **kw) for _ in range(count)]

    def remove_vm(self, vm):
        with self.lock:
            self.vms.pop(vm.key, None)

    # ---------------------------------------------------------------- lookups
    def subscription(self, sub):
        for s in self.subscriptions:
            if s["id"].lower() == sub.lower():
                return s
        return None

    def find_vm(self, sub, rg, name):
        """The VM at this path (any casing), or ArmError 404 the way ARM answers."""
        s = self.subscription(sub)
        if s is None:
            raise ArmError(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % sub)
        if rg.lower() not in self.resource_groups.get(s["id"], {}):
            raise ArmError(404, "ResourceGroupNotFound", "Resource group '%s' could not be found." % rg)
        vm = self.vms.get(("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s"
                           % (s["id"], rg, name)).lower())
        if vm is None:
            raise ArmError(404, "ResourceNotFound",
                           "The Resource 'Microsoft.Compute/virtualMachines/%s' under resource group '%s' "
                           "was not found. For more details please go to "
                           "https://aka.ms/ARMResourceNotFoundFix" % (name, rg))
        return vm

    def lookup(self, ident):
        """Control-API lookup by resource id (any casing), name, or vmId."""
        ident = ident.strip().lower()
        if ident in self.vms:
            return self.vms[ident]
        for vm in self.vms.values():
            if vm.name.lower() == ident or vm.vm_id.lower() == ident:
                return vm
        return None

    def vms_of(self, sub):
        return [vm for vm in self.vms.values() if vm.subscription.lower() == sub.lower()]

    # ---------------------------------------------------------- state machine
    def settle(self, vm, now=None):
        """Bring vm (and its operation) up to date with the clock."""
        now = time.time() if now is None else now
        op = vm.op
        if op is None or op.status != "InProgress":
            return
        if op.stuck:
            vm.power, vm.provisioning = "stopping", "updating"
            return
        elapsed = now - op.started
        t = 0.0
        for power, seconds in op.phases:
            if elapsed < t + seconds:
                vm.power, vm.provisioning = power, "updating"
                return
            t += seconds
        op.ended = op.started + t
        vm.op = None
        vm.provisioning_time = op.ended
        if op.fail:
            op.status = "Failed"
            op.error = (op.fail["code"], op.fail["message"])
            op.http_status = op.fail.get("status", 500)
            vm.power = op.from_power
            vm.provisioning, vm.provisioning_code = "failed", op.fail["code"]
        else:
            op.status = "Succeeded"
            vm.power = op.final
            vm.provisioning, vm.provisioning_code = "succeeded", None
            if op.action == "deallocate":
                vm.hibernated = op.hibernate or vm.hibernated
            elif op.action == "start":
                vm.hibernated = False

    def settle_all(self, now=None):
        with self.lock:
            for vm in self.vms.values():
                self.settle(vm, now)

    def _preempt(self, vm, now):
        op = vm.op
        if op is not None and op.status == "InProgress":
            op.status = "Canceled"
            op.ended = now
            op.error = ("OperationPreempted", "Operation execution has been preempted by a more recent operation.")
            op.http_status = 409
            vm.op = None

    def begin(self, vm, action, *, skip_shutdown=None, hibernate=False, fail=None, now=None):
        """Start an action; returns the Operation or raises ArmError (409)."""
        now = time.time() if now is None else now
        with self.lock:
            self.settle(vm, now)
            cur = vm.power
            busy = vm.op is not None
            T = self.transition_s
            stuck = False
            if action == "start":
                phases, final = ([] if cur == "running" and not busy else [("starting", T)]), "running"
            elif action == "powerOff":
                if cur in ("stopped", "deallocated") and not busy:
                    phases, final = [], cur
                else:
                    phases, final = [("stopping", T)], "stopped"
                    stuck = bool(vm.stubborn and not skip_shutdown and cur in ("running", "starting", "stopping"))
            elif action == "deallocate":
                if hibernate:
                    if not vm.hibernation_enabled:
                        raise ArmError(409, "OperationNotAllowed",
                                       "Hibernation cannot be performed on the VM '%s' because hibernation "
                                       "is not enabled on the VM." % vm.name)
                    if cur != "running":
                        raise ArmError(409, "OperationNotAllowed",
                                       "Operation 'hibernate' is not allowed on VM '%s' since the VM is %s."
                                       % (vm.name, cur))
                phases = [] if cur == "deallocated" and not busy else [("deallocating", T)]
                final = "deallocated"
            elif action == "restart":
                if cur in ("stopped", "deallocated", "deallocating"):
                    raise ArmError(409, "OperationNotAllowed",
                                   "Operation 'restart' is not allowed on VM '%s' since the VM is %s."
                                   % (vm.name, cur))
                phases, final = [("starting", T)], "running"
            else:
                raise ValueError(action)
            if fail and not phases:
                phases = [(cur, T)]
            # A failed operation leaves the VM where it was before any transition.
            from_power = vm.op.from_power if busy else cur
            self._preempt(vm, now)
            op = Operation(vm, action, phases, final, now, from_power=from_power,
                           skip_shutdown=skip_shutdown, hibernate=hibernate, stuck=stuck, fail=fail)
            self.ops[op.op_id] = op
            vm.op = op
            self.settle(vm, now)
            return op

    def out_of_band(self, vm, power=None, provisioning=None, now=None):
        """Someone used the portal: the in-flight operation (if any) is preempted."""
        now = time.time() if now is None else now
        with self.lock:
            self.settle(vm, now)
            self._preempt(vm, now)
            if power is not None:
                vm.power = power
                if power == "running":
                    vm.hibernated = False
            if provisioning is not None:
                # "ProvisioningState/failed/OSProvisioningTimedOut", "failed/X", "succeeded"…
                raw = provisioning.strip()
                if raw.lower().startswith("provisioningstate/"):
                    raw = raw.split("/", 1)[1]
                state, _, code = raw.partition("/")
                if state.lower() not in ("succeeded", "failed", "updating"):
                    raise ValueError("unknown provisioning state %r" % provisioning)
                vm.provisioning, vm.provisioning_code = state.lower(), code or None
            elif vm.provisioning == "updating":
                vm.provisioning = "succeeded"
            vm.provisioning_time = now

    def operation(self, op_id, now=None):
        with self.lock:
            op = self.ops.get(op_id.lower())
            if op is not None:
                self.settle(op.vm, now)
            return op
