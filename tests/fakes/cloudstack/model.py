"""The fake management server's world: accounts, VMs, async jobs, events.

Every mutation happens under `Model.lock`. Timed steps (a VM spends
--transition-ms in Starting, ...) run on one scheduler thread, so a test
never depends on sleeps in request threads.

How jobs run, as the server does it (engine/orchestration
VirtualMachineManagerImpl, framework/jobs AsyncJobManagerImpl):
an API call creates an *API job* (jobstatus 0) and a "Scheduled" event and
answers the job id at once. The job then starts ("Started" event) and hands
the VM work to a *VM work job* (cmd com.cloud.vm.VmWork*), which waits in a
queue per VM: two operations on one VM never overlap, the second waits for
the first. When the work job ends, the API job ends with it (jobstatus 1 or
2) and a "Completed" event (INFO or ERROR) is recorded.
"""

import heapq
import itertools
import random
import sys
import threading
import time
import traceback
import uuid
from collections import Counter, deque
from datetime import datetime, timedelta, timezone

import views
from common.cuts import Cuts

STATES = ("Starting", "Running", "Stopping", "Stopped", "Migrating", "Error", "Unknown",
          "Shutdown", "Restoring", "Destroyed", "Expunging")
# States in which the VM has a host (host_id is cleared when it stops).
HOSTED = {"Starting", "Running", "Stopping", "Migrating", "Unknown"}
SEED_PATTERN = ("Running", "Stopped", "Running", "Running", "Stopped", "Error", "Running",
                "Destroyed", "Stopped", "Running", "Expunging", "Unknown")
SEED_WEIGHTS = (("Running", 55), ("Stopped", 32), ("Error", 3), ("Unknown", 2), ("Destroyed", 5),
                ("Expunging", 2), ("Shutdown", 1))
NAME_PREFIXES = ("web", "db", "cache", "api", "worker", "batch", "proxy", "mon")
PROJECT_NAMES = ("web-prod", "ci-runners", "data-lake", "staging", "analytics", "edge")

EVENT_TYPE = {"start": "VM.START", "stop": "VM.STOP", "reboot": "VM.REBOOT",
              "destroy": "VM.DESTROY", "expunge": "VM.EXPUNGE", "create": "VM.CREATE"}
# BaseAsyncCmd.getEventDescription() of each command: the "Scheduled" event.
SCHEDULED_TEXT = {"start": "Starting User Instance with ID: {id}",
                  "stop": "Stopping User Instance with ID: {id}",
                  "reboot": "Rebooting User Instance with ID: {id}",
                  "destroy": "Destroying Instance with ID: {id}",
                  "expunge": "Expunging Instance with ID: {id}"}
# @ActionEvent(eventDescription) of the service method, and the event details
# the command sets (StartVMCmd "VM ID: ", StopVMCmd/RebootVMCmd "Vm Id: ").
ACTION_TEXT = {"start": ("starting Vm", "VM ID: {id}"), "stop": ("stopping Vm", "Vm Id: {id}"),
               "reboot": ("rebooting Vm", "Vm Id: {id}"), "destroy": ("destroying Vm", "Vm Id: {id}"),
               "expunge": ("expunging Vm", "Vm Id: {id}")}
WORK_CMD = {"start": "com.cloud.vm.VmWorkStart", "stop": "com.cloud.vm.VmWorkStop",
            "reboot": "com.cloud.vm.VmWorkReboot"}
API_CMD = {"start": "StartVMCmd", "stop": "StopVMCmd", "reboot": "RebootVMCmd"}

# Resource tags (server/.../tags/TaggedResourceManagerImpl.java,
# api/.../command/user/tag/CreateTagsCmd.java and DeleteTagsCmd.java). The
# commands have no ...ByAdmin variant. The event type is EventTypes
# EVENT_TAGS_CREATE/DELETE ("CREATE_TAGS"/"DELETE_TAGS"); the Scheduled text
# is the command's getEventDescription(), the Completed text the service's
# @ActionEvent description (not async=true, so there is no Started event).
TAG_CMD = {"createTags": "org.apache.cloudstack.api.command.user.tag.CreateTagsCmd",
           "deleteTags": "org.apache.cloudstack.api.command.user.tag.DeleteTagsCmd"}
TAG_EVENT = {"createTags": ("CREATE_TAGS", "Creating resource tag(s)", "creating resource tags"),
             "deleteTags": ("DELETE_TAGS", "Deleting tags", "deleting resource tags")}
# The execute() failures that are not the service's own exceptions.
TAG_FAILED = {"createTags": "Failed to create resource tag(s)", "deleteTags": "Failed to delete tags"}
# ResourceTag.ResourceObjectType (name -> resourceTagsSupport), matched
# case-insensitively by getResourceObjectType.
RESOURCE_TYPES = {
    "VMInstance": True, "UserVm": True, "Template": True, "ISO": True, "Volume": True, "Snapshot": True,
    "Backup": True, "Network": True, "DomainRouter": False, "Nic": False, "LoadBalancer": True,
    "PortForwardingRule": True, "FirewallRule": True, "SecurityGroup": True, "SecurityGroupRule": True,
    "PublicIpAddress": True, "Project": True, "Account": True, "Vpc": True, "NetworkACL": True,
    "StaticRoute": True, "VMSnapshot": True, "RemoteAccessVpn": True, "Zone": False, "ServiceOffering": False,
    "Storage": False, "PrivateGateway": False, "NetworkACLList": False, "VpnGateway": False,
    "CustomerGateway": False, "VpnConnection": False, "User": True, "DiskOffering": False,
    "AutoScaleVmProfile": False, "AutoScaleVmGroup": False, "LBStickinessPolicy": False,
    "LBHealthCheckPolicy": False, "SnapshotPolicy": True, "GuestOs": False, "NetworkOffering": False,
    "VpcOffering": True, "Domain": False,
}


def resource_type_named(raw):
    """ResourceManagerUtilImpl.getResourceType: the enum name, any case, or None."""
    wanted = (raw or "").lower()
    return next((name for name in RESOURCE_TYPES if name.lower() == wanted), None)


def utcnow():
    # MySQL datetime columns keep whole seconds.
    return datetime.now(timezone.utc).replace(microsecond=0)


class Obj:
    """A plain record; attributes are set by the constructor's keywords."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class Scheduler:
    """One thread running timed callbacks under the model lock."""

    def __init__(self, lock):
        self.cv = threading.Condition(lock)
        self.heap = []
        self.seq = itertools.count()
        self.stopped = False
        threading.Thread(target=self._loop, name="cs-fake-scheduler", daemon=True).start()

    def call_later(self, delay, fn):
        with self.cv:
            heapq.heappush(self.heap, (time.monotonic() + max(0.0, delay), next(self.seq), fn))
            self.cv.notify()

    def clear(self):
        with self.cv:
            self.heap.clear()

    def stop(self):
        with self.cv:
            self.stopped = True
            self.cv.notify()

    def _loop(self):
        with self.cv:
            while not self.stopped:
                if not self.heap:
                    self.cv.wait()
                    continue
                due, _, fn = self.heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self.cv.wait(wait)
                    continue
                heapq.heappop(self.heap)
                try:
                    fn()
                except Exception:  # a broken step must not kill the engine
                    traceback.print_exc(file=sys.stderr)


def vm_label(vm):
    """VMInstanceVO.toString(): how the server names a VM in error texts."""
    return "VM[User|%s]" % vm.instancename


class Model:
    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.RLock()
        self.sched = Scheduler(self.lock)
        self.epoch = 0
        self.calls = Counter()
        self.launch_timing = (cfg.transition_s, cfg.stubborn_timeout_s)
        self.reset()

    # ------------------------------------------------------------------ seed
    def reset(self):
        with self.lock:
            self.epoch += 1
            self.sched.clear()
            cfg = self.cfg
            cfg.transition_s, cfg.stubborn_timeout_s = self.launch_timing
            self.rng = random.Random(cfg.seed)
            self.calls.clear()
            self.fail_rules = []
            self.throttle = {"remaining": 0, "ms": 0}
            self.outage = False
            self.cuts = Cuts()  # API command -> answers still to lose
            self.hostile = None
            self.jobs = []
            self.job_by_id = {}
            self.events = []
            self.iids = {"job": itertools.count(1), "event": itertools.count(1)}
            self._seed_world()

    def _uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _seed_world(self):
        cfg = self.cfg
        u = self._uuid
        self.domains = {
            "ROOT": Obj(iid=1, id=u(), name="ROOT", path="ROOT"),
            "Ops": Obj(iid=2, id=u(), name="Ops", path="ROOT/Ops"),
        }
        root, ops_dom = self.domains["ROOT"], self.domains["Ops"]
        acct = lambda iid, name, kind, dom, role: Obj(iid=iid, id=u(), name=name, type=kind, domain=dom, role=role)
        self.accounts = {
            "system": acct(1, "system", "ADMIN", root, "Admin"),
            "admin": acct(2, "admin", "ADMIN", root, "Admin"),
            "ops": acct(3, "ops", "NORMAL", ops_dom, "ReadOnlyUser"),
        }
        user = lambda iid, name, account, key, secret: Obj(iid=iid, id=u(), username=name, account=account,
                                                           apikey=key, secret=secret)
        self.users = [
            user(1, "system", self.accounts["system"], None, None),
            user(2, "admin", self.accounts["admin"], cfg.api_key, cfg.secret_key),
        ]
        if cfg.user2:
            self.users.append(user(3, "ops-reader", self.accounts["ops"], cfg.user2[0], cfg.user2[1]))
        else:
            self.users.append(user(3, "ops-reader", self.accounts["ops"], None, None))
        self.projects = []
        for i in range(cfg.projects):
            name = PROJECT_NAMES[i] if i < len(PROJECT_NAMES) else "project-%d" % (i + 1)
            pacct = acct(10 + i, "PrjAcct-%s-%d" % (name, i + 1), "PROJECT", root, None)
            self.accounts[pacct.name] = pacct
            self.projects.append(Obj(iid=i + 1, id=u(), name=name, displaytext=name.replace("-", " ").title(),
                                     account=pacct, domain=root))
        self.zones, self.hosts = [], []
        for z in range(cfg.zones):
            letter = chr(ord("a") + z)
            zone = Obj(iid=z + 1, id=u(), name="zone-%s" % letter, index=z)
            self.zones.append(zone)
            for h in range(cfg.hosts_per_zone):
                self.hosts.append(Obj(iid=len(self.hosts) + 1, id=u(), zone=zone,
                                      name="kvm-%s%02d.cloud.internal" % (letter, h + 1)))
        self.offerings = [
            Obj(id=u(), name="Small Instance", cpu=1, speed=1000, memory=1024),
            Obj(id=u(), name="Medium Instance", cpu=2, speed=2000, memory=4096),
            Obj(id=u(), name="Large Instance", cpu=4, speed=2000, memory=16384),
        ]
        self.templates = []
        for name, osname in (("Ubuntu 22.04 LTS", "Ubuntu 22.04 LTS"), ("Rocky Linux 9", "Rocky Linux 9"),
                             ("Debian 12", "Debian GNU/Linux 12 (64-bit)")):
            self.templates.append(Obj(id=u(), name=name, displaytext=name + " (cloud image)", osid=u(), osname=osname))
        self.networks = {}
        self.vms = []
        self.vm_by_id = {}
        self.next_vm_iid = itertools.count(1)
        base = datetime(2025, 1, 6, 8, 0, 0, tzinfo=timezone.utc)
        for i in range(cfg.vms):
            if i < len(SEED_PATTERN):
                state = SEED_PATTERN[i]
            else:
                state = self.rng.choices([s for s, _ in SEED_WEIGHTS], [w for _, w in SEED_WEIGHTS])[0]
            if cfg.projects and i % 5 == 4:
                owner, project = None, self.projects[(i // 5) % cfg.projects]
            elif i % 7 == 3:
                owner, project = self.accounts["ops"], None
            else:
                owner, project = self.accounts["admin"], None
            created = base - timedelta(days=400) + timedelta(minutes=97 * i + self.rng.randint(0, 60))
            self._new_vm(state, owner, project, self.zones[i % len(self.zones)], created)
        # Which guests ignore a graceful shutdown is part of the seed.
        candidates = [vm for vm in self.vms if vm.state not in ("Destroyed", "Expunging")]
        count = cfg.stubborn_vms if cfg.stubborn_vms is not None else len(self.vms) // 6
        for vm in self.rng.sample(candidates, min(count, len(candidates))):
            vm.stubborn = True
        # History: the server's events table already has the deployments.
        for vm in self.vms:
            self._record_console_action("create", vm, vm.created, states=("Completed",))
            if vm.state in ("Destroyed", "Expunging"):
                self._record_console_action("destroy", vm, vm.created + timedelta(days=30))

    def _network(self, zone, account):
        key = (zone.id, account.id)
        if key not in self.networks:
            n = len(self.networks)
            self.networks[key] = Obj(id=self._uuid(), name="%s-net" % account.name.lower(), third=10 + n % 240,
                                     vlan=1000 + n)
        return self.networks[key]

    def _new_vm(self, state, owner, project, zone, created, prefix=None):
        iid = next(self.next_vm_iid)
        account = project.account if project else owner
        prefix = prefix or NAME_PREFIXES[(iid - 1) % len(NAME_PREFIXES)]
        name = "%s-%03d" % (prefix, iid)
        net = self._network(zone, account)
        zone_hosts = [h for h in self.hosts if h.zone is zone]
        last_host = zone_hosts[iid % len(zone_hosts)] if zone_hosts else None
        vm = Obj(
            iid=iid, id=self._uuid(), name=name,
            displayname=name if iid % 4 else "%s %d" % (prefix.title(), iid),
            account=account, project=project,
            owner_user=self.users[1] if project or account.name == "admin" else self.users[2],
            zone=zone, host=None, last_host=last_host,
            offering=self.offerings[iid % len(self.offerings)], template=self.templates[iid % len(self.templates)],
            state=state, created=created, stubborn=False, stubborn_outcome="fail",
            instancename="i-%d-%d-VM" % (account.iid, iid), queue=deque(), pending=[], haenable=False, tags=[],
            nic=Obj(id=self._uuid(), network=net, ip="10.%d.%d.%d" % (net.third, (iid // 250) % 250, 2 + iid % 250),
                    mac="02:00:%02x:%02x:%02x:%02x" % (self.rng.randint(0, 255), (iid >> 16) & 255, (iid >> 8) & 255, iid & 255)),
        )
        if state in HOSTED:
            vm.host = last_host
        self.vms.append(vm)
        self.vm_by_id[vm.id] = vm
        return vm

    # --------------------------------------------------------------- lookups
    def user_by_key(self, key):
        for user in self.users:
            if user.apikey is not None and user.apikey == key:
                return user
        return None

    def find_vm(self, ref):
        """By uuid, by internal id (pre-3.x API ids accept both) or by name."""
        vm = self.vm_by_id.get(ref)
        if vm:
            return vm
        for vm in self.vms:
            if str(vm.iid) == ref or vm.name == ref:
                return vm
        return None

    def is_root_admin(self, user):
        return user.account.type == "ADMIN"

    # ---------------------------------------------------------------- events
    def add_event(self, kind, state, level, description, account, user, vm, created=None, parent=None):
        ev = Obj(iid=next(self.iids["event"]), id=self._uuid(), type=kind, state=state, level=level,
                 description=description, account=account, user=user,
                 project=vm.project if vm is not None and account.type == "PROJECT" else None,
                 domain=(vm.account.domain if vm else account.domain), vm=vm, created=created or utcnow(),
                 parent=parent, vm_name=vm.name if vm else None, vm_uuid=vm.id if vm else None)
        self.events.append(ev)
        return ev

    def _record_console_action(self, action, vm, when=None, states=("Scheduled", "Started", "Completed")):
        """What a user clicking in the CloudStack UI leaves behind: the async
        command's three events, owned by the VM's account."""
        kind = EVENT_TYPE[action]
        admin = self.users[1]
        parent = None
        for state in states:
            if state == "Scheduled":
                text = SCHEDULED_TEXT[action].format(id=vm.id)
            elif action == "create":
                text = "Successfully completed deploying Instance. Instance Id: %s" % vm.id
            else:
                what, details = ACTION_TEXT[action]
                prefix = "Starting job for " if state == "Started" else "Successfully completed "
                text = "%s%s. %s" % (prefix, what, details.format(id=vm.id))
            ev = self.add_event(kind, state, "INFO", text, vm.account, admin, vm, created=when, parent=parent)
            parent = parent or ev

    # --------------------------------------------------------- fault control
    def take_cut(self, command):
        with self.lock:
            return self.cuts.take(command, self.calls)

    def take_fail(self, action, sync):
        for rule in self.fail_rules:
            if rule["action"] == action and rule["sync"] == sync and rule["remaining"] > 0:
                rule["remaining"] -= 1
                return rule
        return None

    # ------------------------------------------------------------------ jobs
    def submit(self, action, vm, caller, forced, fail_rule):
        admin = self.is_root_admin(caller)
        package = "admin" if admin else "user"
        cls = API_CMD[action] + ("ByAdmin" if admin else "")
        job = Obj(iid=next(self.iids["job"]), id=str(uuid.uuid4()), kind="api", action=action,
                  cmd="org.apache.cloudstack.api.command.%s.vm.%s" % (package, cls),
                  account=caller.account, user=caller, vm=vm, status=0, resultcode=0, result_body=None,
                  created=utcnow(), completed=None, forced=forced, fail=fail_rule, full_view=admin)
        self.jobs.append(job)
        self.job_by_id[job.id] = job
        vm.pending.append(job)
        job.scheduled_event = self.add_event(EVENT_TYPE[action], "Scheduled", "INFO",
                                             SCHEDULED_TEXT[action].format(id=vm.id), vm.account, caller, vm)
        epoch = self.epoch
        # The job executor picks the job up a moment later.
        self.sched.call_later(0.02, lambda: epoch == self.epoch and self._begin(job))
        return job

    def pending_job(self, vm):
        # The oldest open API job on the VM (user_vm_view joins async_job).
        return vm.pending[0] if vm.pending else None

    def _action_text(self, job, prefix):
        what, details = ACTION_TEXT[job.action]
        return "%s%s. %s" % (prefix, what, details.format(id=job.vm.id))

    def _begin(self, job):
        self.add_event(EVENT_TYPE[job.action], "Started", "INFO", self._action_text(job, "Starting job for "),
                       job.vm.account, job.user, job.vm, parent=job.scheduled_event)
        work = Obj(iid=next(self.iids["job"]), id=str(uuid.uuid4()), kind="work", action=job.action,
                   cmd=WORK_CMD[job.action], account=job.account, user=job.user, vm=None, status=0,
                   resultcode=0, result_body=None, created=utcnow(), completed=None, parent=job)
        self.jobs.append(work)
        self.job_by_id[work.id] = work
        job.work = work
        job.vm.queue.append(job)
        if len(job.vm.queue) == 1:
            self._run_next(job.vm)

    def _run_next(self, vm):
        if not vm.queue:
            return
        job = vm.queue[0]
        body = getattr(self, "_body_" + job.action)(job, vm)
        self._step(job, vm, body)

    def _step(self, job, vm, body):
        epoch = self.epoch
        try:
            delay = next(body)
        except StopIteration as done:
            ok, code, text = done.value
            self._finish(job, vm, ok, code, text)
            vm.queue.popleft()
            self._run_next(vm)
            return
        self.sched.call_later(delay, lambda: epoch == self.epoch and self._step(job, vm, body))

    def _finish(self, job, vm, ok, code, text):
        now = utcnow()
        job.vm.pending.remove(job)
        for j in (job.work, job):
            j.status = 1 if ok else 2
            j.resultcode = 0 if ok else code
            j.completed = now
        if ok:
            # Serialised once, at completion, in the caller's view.
            job.result_body = {"virtualmachine": views.vm_row(self, vm, {"all"}, job.full_view, job=job)}
        else:
            job.result_body = {"errorcode": code, "errortext": text}
        level, prefix = ("INFO", "Successfully completed ") if ok else ("ERROR", "Error while ")
        self.add_event(EVENT_TYPE[job.action], "Completed", level, self._action_text(job, prefix),
                       vm.account, job.user, vm, parent=job.scheduled_event)

    def _injected(self, job, vm, default_text):
        rule = job.fail
        return False, rule["code"], rule.get("message") or default_failure_text(rule["code"], job.action, vm, default_text)

    def _place(self, vm):
        if vm.last_host is None or vm.last_host.zone is not vm.zone:
            vm.last_host = next(h for h in self.hosts if h.zone is vm.zone)
        vm.host = vm.last_host

    def _body_start(self, job, vm):
        t = self.cfg.transition_s
        if vm.state == "Running":
            # VirtualMachineManagerImpl.changeToStartState: "VM is already
            # started" -> nothing to do, the job succeeds.
            return True, 0, None
        if vm.state not in ("Stopped", "Shutdown"):
            return False, 530, "Unable to start %s as it is in state %s" % (vm_label(vm), vm.state)
        vm.state = "Starting"
        self._place(vm)
        yield t
        if job.fail:
            vm.state, vm.host = "Stopped", None
            return self._injected(job, vm, "Failed to start an Instance")
        vm.state = "Running"
        return True, 0, None

    def _stop_guest(self, job, vm, forced):
        """Shared by stop and forced reboot. Returns None on success or the
        (ok, code, text) failure."""
        t = self.cfg.transition_s
        vm.state = "Stopping"
        if forced:
            # forced=true: power off, no guest shutdown; quicker.
            yield t / 2
        elif vm.stubborn:
            yield self.cfg.stubborn_timeout_s
            if vm.stubborn_outcome != "poweroff":
                # Agent answered the StopCommand with failure: the server
                # moves the VM back (OperationFailed) and throws.
                vm.state = "Running"
                return False, 530, "Unable to stop %s" % vm_label(vm)
        else:
            yield t
        if job.fail and job.action == "stop":
            vm.state = "Running"
            return self._injected(job, vm, "Unable to stop %s" % vm_label(vm))
        vm.state, vm.host = "Stopped", None
        return None

    def _body_stop(self, job, vm):
        if vm.state in ("Stopped", "Destroyed", "Expunging", "Error"):
            # advanceStop returns without doing anything for these states.
            return True, 0, None
        if vm.state not in ("Running", "Stopping", "Shutdown", "Unknown"):
            return False, 530, "We cannot stop %s when it is in state %s" % (vm_label(vm), vm.state)
        failed = yield from self._stop_guest(job, vm, job.forced)
        if failed:
            return failed
        return True, 0, None

    def _body_reboot(self, job, vm):
        t = self.cfg.transition_s
        if vm.state != "Running":
            # UserVmManagerImpl.rebootVirtualMachine: InvalidParameterValueException -> 431.
            return False, 431, "The Instance %s (%s) is not running, unable to reboot it" % (vm.id, vm.displayname)
        if job.forced:
            # forceRebootVirtualMachine = stopVirtualMachine(id, false) (a
            # graceful stop!) then startVirtualMachine: the states show.
            failed = yield from self._stop_guest(job, vm, False)
            if failed:
                return failed
            vm.state = "Starting"
            self._place(vm)
            yield t
            if job.fail:
                vm.state, vm.host = "Stopped", None
                return self._injected(job, vm, "Failed to reboot vm instance")
            vm.state = "Running"
            return True, 0, None
        # A plain reboot is one RebootCommand: the VM stays Running the whole
        # time. A stubborn guest ignores it, yet the agent's answer counts as
        # success (orchestrateReboot only logs a failed answer).
        yield t
        if job.fail:
            return self._injected(job, vm, "Failed to reboot vm instance")
        return True, 0, None

    # ------------------------------------------------------ out-of-band edits
    def set_state(self, vm, new):
        """Someone changed the VM behind the API (console, hypervisor). The
        server learns it from the host's power report and records what
        VirtualMachinePowerStateSyncImpl / the UI's own calls record."""
        old = vm.state
        if new == old:
            return
        vm.state = new
        if new in HOSTED:
            if vm.host is None:
                self._place(vm)
        else:
            vm.host = None
        system = self.users[0]
        if new == "Stopped" and old in ("Starting", "Stopping", "Running"):
            self.add_event("VM.STOP", "Completed", "INFO", "Out of band VM power off",
                           self.accounts["system"], system, vm)
        elif new == "Running" and old in ("Stopping", "Stopped"):
            self.add_event("VM.START", "Completed", "INFO", "Out of band VM power on",
                           self.accounts["system"], system, vm)
        elif new == "Destroyed":
            self._record_console_action("destroy", vm)
        elif new == "Expunging":
            self._record_console_action("expunge", vm)

    def add_vms(self, count, state="Running", account=None, project=None, zone=None, prefix=None):
        created = []
        for _ in range(count):
            owner = None if project else (account or self.accounts["admin"])
            z = zone or self.zones[len(self.vms) % len(self.zones)]
            vm = self._new_vm(state, owner, project, z, utcnow(), prefix=prefix)
            self._record_console_action("create", vm, states=("Completed",))
            created.append(vm)
        return created

    # ------------------------------------------------------- resource tags
    def submit_tags(self, command, caller, resource_type, resource_ids, pairs, customer, fail_rule):
        """createTags / deleteTags: an API job with no instance (no
        jobinstancetype/id, no VM work job, not shown on the VM row). The
        Scheduled event belongs to the account getEntityOwnerId() names,
        which both commands hard-code to 1 (system)."""
        kind, scheduled_text, _ = TAG_EVENT[command]
        job = Obj(iid=next(self.iids["job"]), id=str(uuid.uuid4()), kind="api", action=command,
                  cmd=TAG_CMD[command], account=caller.account, user=caller, vm=None, status=0, resultcode=0,
                  result_body=None, created=utcnow(), completed=None, forced=False, fail=fail_rule,
                  full_view=self.is_root_admin(caller))
        self.jobs.append(job)
        self.job_by_id[job.id] = job
        job.scheduled_event = self.add_event(kind, "Scheduled", "INFO", scheduled_text, self.accounts["system"],
                                             caller, None)
        epoch = self.epoch
        self.sched.call_later(0.02, lambda: epoch == self.epoch and self._run_tags(
            job, resource_type, resource_ids, pairs, customer))
        return job

    def _run_tags(self, job, raw_type, resource_ids, pairs, customer):
        # execute() evaluates the service call's arguments first: a bad
        # resource type or a repeated key (Collectors.toMap) fails the job
        # before the @ActionEvent method runs, so no Completed event.
        rtype = resource_type_named(raw_type)
        if rtype is None:
            return self._end_tags(job, False, 431, "Invalid resource type %s" % raw_type)
        if job.action == "createTags":
            seen = {}
            for key, value in pairs:
                if value is None:
                    # Objects.requireNonNull in toMap: a NullPointerException,
                    # whose message (and so errortext) is null.
                    return self._end_tags(job, False, 530, None)
                if key in seen:
                    return self._end_tags(job, False, 530, "Duplicate key %s (attempted merging values %s and %s)"
                                          % (key, seen[key], value))
                seen[key] = value
        kind, _, what = TAG_EVENT[job.action]
        if job.fail:
            rule = job.fail
            outcome = (False, rule["code"], rule.get("message") or TAG_FAILED[job.action])
        elif job.action == "createTags":
            outcome = self._create_tags(rtype, resource_ids, pairs, customer)
        else:
            outcome = self._delete_tags(rtype, resource_ids, pairs)
        ok, code, text = outcome
        # ActionEventInterceptor: Completed, owned by the caller's account.
        # A service that returns nothing (deleteTags matching no tag,
        # createTags with no resource) is INFO, then execute() throws
        # "Failed to delete tags" / "Failed to create resource tag(s)".
        level, prefix = ("INFO", "Successfully completed ") if ok or code is None else ("ERROR", "Error while ")
        self.add_event(kind, "Completed", level, prefix + what, job.account, job.user, None,
                       parent=job.scheduled_event)
        if code is None:
            ok, code, text = False, 530, TAG_FAILED[job.action]
        self._end_tags(job, ok, code, text)

    def _end_tags(self, job, ok, code, text):
        job.status = 1 if ok else 2
        job.resultcode = 0 if ok else code
        job.completed = utcnow()
        # SuccessResponse: {"success": true} (displaytext is null, left out).
        if ok:
            job.result_body = {"success": True}
        else:
            job.result_body = {"errorcode": code}
            if text is not None:
                job.result_body["errortext"] = text

    def _tag_target(self, raw, rtype):
        """ResourceManagerUtilImpl.getResourceId: by uuid, then (numeric
        only) by internal id. Only VMs exist in the fake."""
        if rtype != "UserVm":
            vm = None
        else:
            vm = self.vm_by_id.get(raw)
            if vm is None and raw.isdigit():
                vm = next((v for v in self.vms if v.iid == int(raw)), None)
        if vm is not None:
            return vm, None
        if not raw.isdigit():
            return None, "Unable to find resource by uuid %s and type %s" % (raw, rtype)
        return None, "Unable to find resource by id %s and type %s" % (raw, rtype)

    def _create_tags(self, rtype, resource_ids, pairs, customer):
        """TaggedResourceManagerImpl.createTags: keys outer, resources inner,
        one transaction (any failure keeps nothing). The unique key
        (resource_id, resource_type, key) is compared by MySQL's utf8
        collation, which ignores case."""
        added = []
        for key, value in pairs:
            for raw in resource_ids:
                if not RESOURCE_TYPES[rtype]:
                    return False, 431, "The resource type %s doesn't support resource tags" % rtype
                vm, error = self._tag_target(raw, rtype)
                if vm is None:
                    return False, 431, error
                if not value:
                    return False, 431, "Value for the key %s is either null or empty" % key
                taken = [t.key for t in vm.tags] + [t.key for v, t in added if v is vm]
                if any(k.lower() == key.lower() for k in taken):
                    return False, 530, "tag %s already on %s with id %s" % (key, rtype, raw)
                added.append((vm, Obj(key=key, value=value, customer=customer)))
        if not added:
            # No resource ids: the service returns an empty list and
            # execute() throws "Failed to create resource tag(s)".
            return False, None, None
        for vm, tag in added:
            vm.tags.append(tag)
        return True, 0, None

    def _delete_tags(self, rtype, resource_ids, pairs):
        """TaggedResourceManagerImpl.deleteTags: the resources' tags of that
        type; with no tags map all of them, else those whose key equals a
        given key ignoring case and, when that key has a value, whose value
        equals it ignoring case. Nothing matched -> (False, None, None)."""
        wanted = dict(pairs)     # DeleteTagsCmd.getTags(): later entries win
        uuids = set()
        for raw in resource_ids:
            # getUuid: a numeric id is turned into the uuid when it exists.
            vm = next((v for v in self.vms if v.iid == int(raw)), None) if raw.isdigit() else None
            uuids.add(vm.id if vm is not None else raw)
        doomed = []
        for vm in self.vms:
            if rtype != "UserVm" or vm.id not in uuids:
                continue
            for tag in vm.tags:
                if not wanted:
                    doomed.append((vm, tag))
                    continue
                for key, value in wanted.items():
                    if key is not None and tag.key.lower() == key.lower() and \
                            (value is None or tag.value.lower() == value.lower()):
                        doomed.append((vm, tag))
                        break
        if not doomed:
            return False, None, None
        for vm, tag in doomed:
            vm.tags.remove(tag)
        return True, 0, None

    def set_tags(self, vm, tags):
        """Control API: the VM's tags become exactly `tags` (key -> value, in
        order), as if written to resource_tags directly: no job, no event."""
        vm.tags = [Obj(key=k, value=v, customer=None) for k, v in tags.items()]

    def remove_vm(self, vm):
        """Destroyed and expunged in the console: the row disappears."""
        if vm.state not in ("Destroyed", "Expunging"):
            self._record_console_action("destroy", vm)
        self._record_console_action("expunge", vm)
        self.vms.remove(vm)
        del self.vm_by_id[vm.id]


def default_failure_text(code, action, vm, fallback):
    if code == 533:
        return "Unable to create a deployment for %s" % vm_label(vm)
    if code == 534:
        return "Unable to %s %s due to resource unavailable: host %s is not Up" % (
            action, vm_label(vm), vm.last_host.name if vm.last_host else "-")
    return fallback
