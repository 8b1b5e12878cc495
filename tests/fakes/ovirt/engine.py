"""The engine's world and its rules: VMs moving between statuses, the commands
the REST API runs (RunVm, StopVm, ShutdownVm, RebootVm, ResetVm, HibernateVm),
their jobs, and the audit log (events).

Pure logic, no HTTP. Transitions are kept in a timer heap and *settled lazily*:
every public method first applies all transitions whose time has come, in
time order, stamping events with the transition's own time. So there are no
timer threads, event ids follow time, and a test can rely on "transition_s
after the request, the VM is in the next status".

What each command does, as read in ovirt-engine (bll/*Command.java, VmAnalyzer,
ActionUtils status matrix, DestroyVmVDSCommand), is described in README.md.
"""

import dataclasses
import heapq
import itertools
import secrets
import threading
import time
import uuid

from . import catalog
from .catalog import EVENTS, NOT_RUNNING, RUNNING
from .inventory import Seeder

ACTIONS = ("start", "stop", "shutdown", "reboot", "reset", "suspend")


class Fault(Exception):
    """A REST failure: HTTP status and the engine's detail text (already bracketed
    the way the REST layer prints a list of messages)."""

    def __init__(self, http, detail, job_id=None, reason=None):
        super().__init__(detail)
        self.http = http
        self.detail = detail
        self.job_id = job_id
        self.reason = reason or catalog.FAULT_REASON


@dataclasses.dataclass
class Outcome:
    """What an accepted action answers (see wire.action_answer)."""
    http: int
    status: str            # complete | in_progress | failed
    vm_id: str
    job_id: str = None
    task_ids: str = None   # HibernateVm's VDSM tasks (202 answers)
    wait_until: float = None  # <async>false</async> suspend: block until then


@dataclasses.dataclass
class Tag:
    """A tag (common/businessentities/Tags.java). Only the root has no parent;
    `description` is None when the tag was created without one."""
    id: str
    name: str
    description: str = None
    parent_id: str = None


def _message(template, verb, status=None):
    text, http = template
    return Fault(http, "[%s]" % text.format(verb=verb, status=catalog.LOCALIZED.get(status, status)))


class Engine:
    def __init__(self, seed=1, vm_count=10, transition_s=1.5, shutdown_timeout_s=None,
                 user="admin@internal-authz", clock=time.time):
        self.lock = threading.RLock()
        self.seed = seed
        self.vm_count = vm_count
        self.t = transition_s
        self.shutdown_timeout = shutdown_timeout_s if shutdown_timeout_s is not None else 4 * transition_s
        self.user = user
        self.clock = clock
        # Event ids come from a database sequence in the engine: they only grow,
        # also across /_fake/reset.
        self._event_ids = itertools.count(1001)
        self._timer_seq = itertools.count()
        self.reset()

    # ------------------------------------------------------------------ world

    def reset(self):
        with self.lock:
            now = self.clock()
            self.seeder = Seeder(self.seed)
            self.dc_id, self.clusters, self.hosts, vms = self.seeder.world(self.vm_count, now)
            self.vms = {vm.id: vm for vm in vms}
            self.jobs = {}
            self.events = []
            self.timers = []
            self.failures = {}
            self._next_index = len(vms) + 1
            self._seed_history(vms)
            # Tags: the root pseudo-tag only; VM id -> assigned tag ids, in assignment order.
            self.tags = {catalog.ROOT_TAG_ID: Tag(catalog.ROOT_TAG_ID, catalog.ROOT_TAG_NAME,
                                                  catalog.ROOT_TAG_NAME)}
            self.vm_tags = {}

    def _seed_history(self, vms):
        """A past for the audit log, so `max=1` has something to answer."""
        past = []
        for vm in vms:
            if vm.status == "up":
                past.append((vm.start_time, 32, vm, vm.home_host_id))
            elif vm.status == "suspended":
                past.append((vm.stop_time, 503, vm, vm.home_host_id))
            else:
                past.append((vm.stop_time, 61, vm, vm.home_host_id))
        for at, code, vm, host_id in sorted(past, key=lambda p: p[0]):
            corr = self._foreign_correlation() if code == 32 else None
            self._log(code, at, vm, corr=corr, user=code == 32, host_id=host_id,
                      exit=catalog.EXIT_GUEST_SHUTDOWN)

    def cluster(self, cluster_id):
        return next((c for c in self.clusters if c.id == cluster_id), None)

    def host(self, host_id):
        return next((h for h in self.hosts if h.id == host_id), None)

    def find_vm(self, key):
        """A VM by id or by name (control API)."""
        vm = self.vms.get(key)
        if vm is None:
            vm = next((v for v in self.vms.values() if v.name == key), None)
        return vm

    def sorted_vms(self):
        # The engine's default VM order: "vm_name ASC" (SearchObjectAutoCompleter).
        return sorted(self.vms.values(), key=lambda v: (v.name, v.id))

    # ------------------------------------------------------------- settling

    def settle(self):
        """Applies every transition that is due. Callers hold no lock or the lock."""
        with self.lock:
            now = self.clock()
            while self.timers and self.timers[0][0] <= now:
                at, _, vm_id, gen, fn = heapq.heappop(self.timers)
                vm = self.vms.get(vm_id)
                if vm is None or (gen is not None and gen != vm.gen):
                    continue
                fn(vm, at)
            return now

    def _after(self, delay, vm, fn, guarded=True, base=None):
        at = (base if base is not None else self.clock()) + delay
        heapq.heappush(self.timers, (at, next(self._timer_seq), vm.id, vm.gen if guarded else None, fn))
        return at

    def _supersede(self, vm, at):
        """A new command or an out-of-band change: pending transitions are dropped,
        and a launch still waiting for its VM to come up ends failed."""
        vm.gen += 1
        for job in self.jobs.values():
            if job["vm_id"] == vm.id and job["status"] == "started" and job["kind"] == "start":
                self._end_job(job, "failed", at)

    # ---------------------------------------------------------------- events

    def _foreign_correlation(self):
        # What the engine generates when a command comes without one
        # (ExecutionHandler.evaluateCorrelationId -> LoggedUtils.getObjectId).
        return secrets.token_hex(4)

    def _log(self, code, at, vm=None, corr=None, user=False, host_id=None, **fmt):
        name, severity, template = EVENTS[code]
        host = self.host(host_id) if host_id else None
        values = {"vm": vm.name if vm else "", "host": host.name if host else "", "user": self.user,
                  "reason": "", "exit": "", "status": "", "action": "", "dest": "",
                  "ip": "127.0.0.1", "session": ""}
        values.update({k: v for k, v in fmt.items() if v is not None})
        if code == 157 and not user:
            values["user"] = "Guest OS"
        event = {
            "id": next(self._event_ids), "code": code, "name": name, "severity": severity,
            "description": template.format(**values), "time": at, "correlation_id": corr,
            "vm_id": vm.id if vm else None, "host_id": host.id if host else None,
            "cluster_id": vm.cluster_id if vm else None, "user": bool(user),
            "dc_id": self.dc_id if vm else None,
        }
        self.events.append(event)
        return event

    def log_session(self, code, session, ip):
        """USER_VDC_LOGIN / USER_VDC_LOGOUT for a REST session (SsoRestApiAuthFilter)."""
        with self.lock:
            self.settle()
            self._log(code, self.clock(), corr=self._foreign_correlation(), user=True,
                      session=session, ip=ip)

    def list_events(self, from_id=None, correlation_id=None, severity=None):
        """Events newest first: the engine's default sort is "audit_log_id DESC",
        also with from= (SyntaxChecker appends "and audit_log_id > from")."""
        with self.lock:
            self.settle()
            rows = [e for e in self.events
                    if (from_id is None or e["id"] > from_id)
                    and (correlation_id is None or e["correlation_id"] == correlation_id)
                    and (severity is None or e["severity"] == severity)]
            return sorted(rows, key=lambda e: -e["id"])

    def purge_events(self, keep_after):
        with self.lock:
            self.settle()
            before = len(self.events)
            self.events = [e for e in self.events if e["id"] > keep_after]
            return before - len(self.events)

    # ------------------------------------------------------------------ jobs

    def _new_job(self, kind, vm, corr, at, status="started"):
        job = {"id": str(uuid.uuid4()), "kind": kind, "vm_id": vm.id, "correlation_id": corr,
               "description": catalog.JOB_DESCRIPTION[kind].format(vm=vm.name),
               "status": status, "start_time": at, "end_time": None, "last_updated": at}
        if status != "started":
            job["end_time"] = at
        self.jobs[job["id"]] = job
        return job

    def _end_job(self, job, status, at):
        job["status"], job["end_time"], job["last_updated"] = status, at, at

    def get_job(self, job_id):
        with self.lock:
            self.settle()
            job = self.jobs.get(job_id)
            return dict(job) if job else None

    def list_jobs(self, correlation_id=None):
        with self.lock:
            self.settle()
            rows = [dict(j) for j in self.jobs.values()
                    if correlation_id is None or j["correlation_id"] == correlation_id]
            return sorted(rows, key=lambda j: -j["start_time"])

    # --------------------------------------------------------------- actions

    def act(self, action, vm_id, correlation_id=None, async_=None, reason=None):
        """Runs a VM action the way the REST API runs its command. Returns an
        Outcome, or raises Fault (validation or synchronous execution failure)."""
        with self.lock:
            now = self.settle()
            verb = catalog.VERB[action]
            # The REST layer always has one (CurrentFilter generates a UUID when the
            # request brings none); see server.effective_correlation_id.
            corr = correlation_id or str(uuid.uuid4())
            vm = self.vms.get(vm_id)
            if vm is None:
                raise _message(catalog.MSG_NOT_FOUND, verb)
            handler = getattr(self, "_do_" + action)
            return handler(vm, corr, now, async_=async_, reason=reason)

    def _take_failure(self, action):
        f = self.failures.get(action)
        if not f or f["count"] <= 0:
            return None
        f["count"] -= 1
        code = f.get("code") or catalog.DEFAULT_FAILURE[action]
        return f.get("message") or catalog.VDSM_ERRORS.get(code, code)

    def _fail_sync(self, vm, corr, now, kind, code, text):
        """A command that failed while executing: the job fails, the command logs
        its failure event, and the REST call answers 400 (ErrorMessageHelper's
        default for non-validation messages)."""
        job = self._new_job(kind, vm, corr, now, status="failed")
        self._log(code, now, vm, corr=corr, user=True, host_id=vm.host_id)
        raise Fault(400, "[%s]" % text, job_id=job["id"])

    @staticmethod
    def _reason(reason):
        return " (Reason: %s)" % reason if reason else None

    def _skipped(self, vm, corr, now, kind, label):
        # StopVmCommandBase.shouldSkipCommandExecution: a Down VM is left alone,
        # the call succeeds and VM_ALREADY_IN_REQUESTED_STATUS is logged.
        job = self._new_job(kind, vm, corr, now, status="finished")
        self._log(254, now, vm, corr=corr, user=True, status=catalog.ENGINE_NAME[vm.status], action=label)
        return Outcome(200, "complete", vm.id, job["id"])

    def _validate_stop(self, vm, verb):
        # StopVmCommandBase.validate (shared by StopVm and ShutdownVm).
        st = vm.status
        if st in RUNNING or st in ("paused", "not_responding", "suspended"):
            return
        if st in ("saving_state", "restoring_state"):
            raise _message(catalog.MSG_SAVING_RESTORING, verb)
        raise _message(catalog.MSG_NOT_RUNNING, verb)

    def _do_start(self, vm, corr, now, **_):
        st = vm.status
        if st == "paused":
            # RunVmCommand RESUME_PAUSE flow.
            self._supersede(vm, now)
            job = self._new_job("start", vm, corr, now, status="finished")
            self._log(40, now, vm, corr=corr, user=True, host_id=vm.host_id)
            self._after(self.t, vm, self._reach_up_quietly)
            return Outcome(200, "complete", vm.id, job["id"])
        if st == "image_locked":
            raise _message(catalog.MSG_LOCKED, "run")
        if st not in ("down", "suspended"):
            raise _message(catalog.MSG_STATUS_ILLEGAL, "run", st)
        failure = self._take_failure("start")
        self._supersede(vm, now)
        job = self._new_job("start", vm, corr, now)
        vm.host_id = vm.home_host_id
        vm.stop_reason = None
        self._log(153, now, vm, corr=corr, user=True, host_id=vm.host_id)
        came_from = st

        def launched(v, at):
            v.status = "powering_up"
            self._after(self.t, v, reached_up, base=at)

        def reached_up(v, at):
            # RunVmCommandBase.runningSucceded: logs USER_RUN_VM and ends the job.
            v.status, v.start_time = "up", at
            self._log(32, at, v, corr=corr, user=True, host_id=v.host_id)
            self._end_job(job, "finished", at)

        def failed(v, at):
            host_id = v.host_id
            v.status, v.host_id = came_from, None
            if came_from == "down":
                self._log(119, at, v, host_id=host_id, exit="Exit message: " + failure)
            self._log(54, at, v, corr=corr, user=True)
            self._end_job(job, "failed", at)

        if st == "down":
            vm.status = "wait_for_launch"
            self._after(self.t, vm, failed if failure else launched)
        else:
            vm.status = "restoring_state"
            self._after(self.t, vm, failed if failure else reached_up)
        return Outcome(200, "complete", vm.id, job["id"])

    def _reach_up_quietly(self, vm, at):
        vm.status = "up"

    def _power_off_done(self, vm, at):
        host_id = vm.host_id
        vm.status, vm.host_id, vm.stop_time = "down", None, at
        self._log(61, at, vm, host_id=host_id, exit=catalog.EXIT_POWER_OFF)

    def _do_stop(self, vm, corr, now, reason=None, **_):
        if vm.status == "down":
            return self._skipped(vm, corr, now, "stop", "Stop VM")
        self._validate_stop(vm, "stop")
        failure = self._take_failure("stop")
        if failure:
            self._fail_sync(vm, corr, now, "stop", 56, failure)
        self._supersede(vm, now)
        job = self._new_job("stop", vm, corr, now, status="finished")
        vm.stop_reason = reason
        if vm.status == "suspended":
            self._log(111, now, vm, corr=corr, user=True, reason=self._reason(reason))
            self._after(self.t, vm, self._clear_saved_state)
        else:
            self._log(33, now, vm, corr=corr, user=True, host_id=vm.host_id, reason=self._reason(reason))
            # DestroyVmVDSCommand.changeStatus: PoweringDown at once; monitoring sees Down.
            vm.status = "powering_down"
            self._after(self.t, vm, self._power_off_done)
        return Outcome(200, "complete", vm.id, job["id"])

    def _clear_saved_state(self, vm, at):
        vm.status, vm.stop_time = "down", at

    def _do_shutdown(self, vm, corr, now, reason=None, **_):
        if vm.status == "down":
            return self._skipped(vm, corr, now, "shutdown", "Shutdown VM")
        self._validate_stop(vm, "shutdown")
        failure = self._take_failure("shutdown")
        if failure:
            self._fail_sync(vm, corr, now, "shutdown", 74, failure)
        self._supersede(vm, now)
        job = self._new_job("shutdown", vm, corr, now, status="finished")
        vm.stop_reason = reason
        if vm.status == "suspended":
            self._log(111, now, vm, corr=corr, user=True, reason=self._reason(reason))
            self._after(self.t, vm, self._clear_saved_state)
        elif vm.status == "up":
            # ShutdownVmCommand.canShutdownVm (Up, ACPI on): the guest is asked.
            self._log(73, now, vm, corr=corr, user=True, host_id=vm.host_id, reason=self._reason(reason))
            vm.status = "powering_down"
            if vm.stubborn:
                self._after(self.shutdown_timeout, vm, self._guest_ignored_shutdown)
            else:
                self._after(self.t, vm, self._guest_shut_down)
        else:
            # Not Up: ShutdownVmCommand runs StopVm instead (StopVmTypeEnum.CANNOT_SHUTDOWN).
            self._log(76, now, vm, corr=corr, user=True, host_id=vm.host_id, reason=self._reason(reason))
            vm.status = "powering_down"
            self._after(self.t, vm, self._power_off_done)
        return Outcome(200, "complete", vm.id, job["id"])

    def _guest_shut_down(self, vm, at):
        host_id = vm.host_id
        vm.status, vm.host_id, vm.stop_time = "down", None, at
        self._log(61, at, vm, host_id=host_id, exit=catalog.EXIT_ADMIN_SHUTDOWN)

    def _guest_ignored_shutdown(self, vm, at):
        # vdsm gives up waiting and reports Up again; VmAnalyzer logs the failure.
        vm.status = "up"
        self._log(147, at, vm, host_id=vm.host_id)

    def _do_reboot(self, vm, corr, now, **_):
        if vm.status not in ("up", "powering_up"):
            raise _message(catalog.MSG_STATUS_ILLEGAL, "restart", vm.status)
        failure = self._take_failure("reboot")
        if failure:
            self._fail_sync(vm, corr, now, "reboot", 158, failure)
        self._supersede(vm, now)
        job = self._new_job("reboot", vm, corr, now, status="finished")
        self._log(157, now, vm, corr=corr, user=True, host_id=vm.host_id)
        if not vm.stubborn:
            vm.status = "reboot_in_progress"
            self._after(self.t, vm, self._reach_up_quietly)
        return Outcome(200, "complete", vm.id, job["id"])

    def _do_reset(self, vm, corr, now, **_):
        if vm.status not in RUNNING or vm.status == "wait_for_launch":
            raise _message(catalog.MSG_STATUS_ILLEGAL, "reset", vm.status)
        failure = self._take_failure("reset")
        if failure:
            self._fail_sync(vm, corr, now, "reset", 222, failure)
        self._supersede(vm, now)
        job = self._new_job("reset", vm, corr, now, status="finished")
        self._log(221, now, vm, corr=corr, user=True, host_id=vm.host_id)
        vm.status = "reboot_in_progress"
        self._after(self.t, vm, self._reach_up_quietly)
        return Outcome(200, "complete", vm.id, job["id"])

    def _do_suspend(self, vm, corr, now, async_=None, **_):
        # HibernateVmCommand.validate.
        if vm.status in ("wait_for_launch", "not_responding"):
            raise _message(catalog.MSG_STATUS_ILLEGAL, "hibernate", vm.status)
        if vm.status != "up":
            raise _message(catalog.MSG_NOT_UP, "hibernate")
        failure = self._take_failure("suspend")
        self._supersede(vm, now)
        job = self._new_job("suspend", vm, corr, now)
        self._log(501, now, vm, corr=corr, user=True, host_id=vm.host_id)
        task_ids = "%s,%s" % (uuid.uuid4(), uuid.uuid4())

        def volumes_ready(v, at):
            # endSuccessfully: the memory volumes exist; vdsm is told to hibernate
            # only if the VM is still Up, otherwise endWithFailure.
            if failure or v.status != "up":
                self._end_job(job, "failed", at)
                self._log(521, at, v, corr=corr, user=True)
                return
            self._end_job(job, "finished", at)
            v.status = "saving_state"
            self._after(self.t, v, saved, base=at)

        def saved(v, at):
            host_id = v.host_id
            v.status, v.host_id, v.stop_time = "suspended", None, at
            self._log(503, at, v, host_id=host_id)

        # The task phase is not superseded by later commands: the tasks run anyway.
        ready_at = self._after(self.t, vm, volumes_ready, guarded=False)
        if async_ is False:
            # expectBlocking: the REST call waits for the tasks, then answers 200.
            return Outcome(200, "complete", vm.id, job["id"], wait_until=ready_at)
        return Outcome(202, "in_progress", vm.id, job["id"], task_ids=task_ids)

    def finish_blocking(self, outcome):
        """After waiting for a blocking suspend: complete, or failed (awaitCompletion
        maps a failed task to CreationStatus.FAILED, still HTTP 200, no fault)."""
        job = self.get_job(outcome.job_id)
        outcome.status = "complete" if job and job["status"] == "finished" else "failed"
        return outcome

    # --------------------------------------------------------- control API

    def set_state(self, vm, state):
        """An out-of-band change (someone used the console, the guest, a host),
        with what the engine's monitoring records for it."""
        if state not in catalog.STATUSES:
            raise ValueError("unknown status %r; one of %s" % (state, ", ".join(catalog.STATUSES)))
        with self.lock:
            now = self.settle()
            prev = vm.status
            self._supersede(vm, now)
            if state == prev:
                return
            host_id = vm.host_id or vm.home_host_id
            vm.status = state
            if state in NOT_RUNNING or state == "unassigned":
                vm.host_id = None
                vm.stop_time = now
            else:
                vm.host_id = host_id
            if state == "up" and prev not in RUNNING:
                vm.start_time = now
            if state == "down" and prev not in NOT_RUNNING:
                self._log(61, now, vm, host_id=host_id, exit=catalog.EXIT_GUEST_SHUTDOWN)
            elif state == "up":
                if prev == "unknown":
                    self._log(163, now, vm, host_id=host_id, status=catalog.ENGINE_NAME["up"])
                elif prev == "powering_down":
                    self._log(147, now, vm, host_id=host_id)
                elif prev == "paused":
                    self._log(40, now, vm, corr=self._foreign_correlation(), user=True, host_id=host_id)
                elif prev in ("down", "suspended", "wait_for_launch", "powering_up", "restoring_state"):
                    self._log(32, now, vm, corr=self._foreign_correlation(), user=True, host_id=host_id)
            elif state == "paused":
                self._log(1025, now, vm, host_id=host_id)
            elif state == "not_responding":
                self._log(126, now, vm, host_id=host_id)
            elif state == "unknown":
                self._log(142, now, vm, host_id=host_id)
            elif state == "suspended" and prev not in NOT_RUNNING:
                self._log(503, now, vm, host_id=host_id)
            elif state == "reboot_in_progress":
                self._log(157, now, vm, host_id=host_id)
            elif state == "migrating":
                others = [h for h in self.hosts if h.cluster_id == vm.cluster_id and h.id != host_id]
                dest = others[0].name if others else ""
                self._log(62, now, vm, corr=self._foreign_correlation(), user=True, host_id=host_id, dest=dest)

    def set_stubborn(self, vm, on):
        with self.lock:
            vm.stubborn = bool(on)

    def set_agent(self, vm, on):
        with self.lock:
            vm.agent = bool(on)

    def add_vms(self, count=1, names=None, state="down"):
        with self.lock:
            now = self.settle()
            added = []
            names = list(names or [])
            for i in range(count if not names else len(names)):
                index = self._next_index
                self._next_index += 1
                name = names[i] if names else "app-%02d" % index
                vm = self.seeder.vm(index, self.clusters, self.hosts, now, name=name, status="down")
                self.vms[vm.id] = vm
                self._log(34, now, vm, corr=self._foreign_correlation(), user=True)
                if state != "down":
                    self.set_state(vm, state)
                added.append(vm)
            return added

    def remove_vm(self, vm):
        with self.lock:
            now = self.settle()
            vm.gen += 1
            del self.vms[vm.id]
            self.vm_tags.pop(vm.id, None)
            self._log(113, now, vm, corr=self._foreign_correlation(), user=True)

    def fail(self, action, count=1, code=None, message=None):
        if action not in ACTIONS:
            raise ValueError("action must be one of %s" % ", ".join(ACTIONS))
        with self.lock:
            self.failures[action] = {"count": int(count), "code": code, "message": message}

    # ------------------------------------------------------------------ tags

    def list_tags(self):
        """GET /tags (BackendTagsResource.list): GetAllTags, then the root appended."""
        with self.lock:
            rows = [t for t in self.tags.values() if t.id != catalog.ROOT_TAG_ID]
            return rows + [self.tags[catalog.ROOT_TAG_ID]]

    def get_tag(self, tag_id):
        with self.lock:
            return self.tags.get(tag_id)

    def tag_by_name(self, name):
        with self.lock:
            return next((t for t in self.tags.values() if t.name == name), None)

    @staticmethod
    def tag_name_errors(name):
        """The JSR-303 checks on Tags.name: @Size(1..50) and NO_SPECIAL_CHARACTERS_I18N,
        ^[\\p{L}0-9._-]*$ (str.isalpha is exactly \\p{L})."""
        errors = []
        if not 1 <= len(name) <= catalog.TAG_NAME_SIZE:
            errors.append(catalog.MSG_TAG_NAME_SIZE[0])
        if not all(ch.isalpha() or ch in "0123456789._-" for ch in name):
            errors.append(catalog.MSG_TAG_BAD_NAME[0])
        return errors

    def add_tag(self, name, description=None, parent_id=None):
        """AddTagCommand: input validation (400), then a name already used (409).
        parent_id None means the root (TagMapper.parent: Guid.Empty)."""
        with self.lock:
            errors = self.tag_name_errors(name)
            if errors:
                raise Fault(400, "[%s]" % ", ".join(errors + [catalog.TAG_NAME_ATTRIBUTE]))
            if self.tag_by_name(name) is not None:
                raise Fault(catalog.MSG_TAG_IN_USE[1], "[%s]" % catalog.MSG_TAG_IN_USE[0])
            parent_id = parent_id or catalog.ROOT_TAG_ID
            if parent_id not in self.tags:
                # The engine does not check the parent; the fake refuses a dangling one.
                raise Fault(404, catalog.ENTITY_NOT_FOUND.format(parent_id))
            tag = Tag(str(uuid.uuid4()), name, description, parent_id)
            self.tags[tag.id] = tag
            return tag

    def remove_tag(self, tag_id):
        """RemoveTagCommand: the tag and all its descendants go, with their assignments.
        The root is not in the database, so removing it fails validation (400)."""
        with self.lock:
            if tag_id == catalog.ROOT_TAG_ID:
                raise Fault(catalog.MSG_TAG_REMOVE_MISSING[1], "[%s]" % catalog.MSG_TAG_REMOVE_MISSING[0])
            doomed = {tag_id}
            grew = True
            while grew:
                more = {t.id for t in self.tags.values() if t.parent_id in doomed} - doomed
                grew = bool(more)
                doomed |= more
            for tid in doomed:
                self.tags.pop(tid, None)
            for vm_id, assigned in self.vm_tags.items():
                self.vm_tags[vm_id] = [t for t in assigned if t not in doomed]

    def tags_of(self, vm_id):
        """GetTagsByVmId: the tags assigned directly to the VM (not their parents)."""
        with self.lock:
            return [self.tags[t] for t in self.vm_tags.get(vm_id, ()) if t in self.tags]

    def assign_tag(self, vm_id, tag_id):
        """AttachVmsToTagCommand: assigning a tag the VM already has succeeds and changes nothing."""
        with self.lock:
            assigned = self.vm_tags.setdefault(vm_id, [])
            if tag_id not in assigned:
                assigned.append(tag_id)

    def unassign_tag(self, vm_id, tag_id):
        with self.lock:
            assigned = self.vm_tags.get(vm_id, [])
            if tag_id in assigned:
                assigned.remove(tag_id)

    def set_vm_tags(self, vm, paths):
        """Control API: each path is tag names from the root ("env/prod"); missing tags
        are created under their parent (description = name), and the VM's directly
        assigned tags become exactly the last tag of each path. Raises ValueError."""
        if not isinstance(paths, list):
            raise ValueError('"tags" must be a list of tag paths such as ["env/prod", "backup"]')
        parsed = []
        for path in paths:
            if not isinstance(path, str) or not path:
                raise ValueError('each entry of "tags" must be a non-empty string, got %r' % (path,))
            names = path.split("/")
            for name in names:
                errors = self.tag_name_errors(name)
                if errors:
                    raise ValueError("tag path %r: name %r is not a valid tag name (%s)"
                                     % (path, name, "; ".join(errors)))
            parsed.append((path, names))
        with self.lock:
            # Check every path before changing anything; tag names are unique engine-wide,
            # so a name can only ever sit under one parent.
            planned = {}
            for path, names in parsed:
                parent = catalog.ROOT_TAG_ID
                for name in names:
                    if name == catalog.ROOT_TAG_NAME:
                        raise ValueError("tag path %r: paths start below the root tag; leave out %r"
                                         % (path, name))
                    tag = self.tag_by_name(name)
                    if tag is not None:
                        under = tag.parent_id
                    else:
                        under = planned.setdefault(name, parent)
                    if under != parent:
                        where = self.tags[under].name if under in self.tags else under.partition(":")[2]
                        raise ValueError("tag path %r: tag %r is already under %r (tag names are unique "
                                         "engine-wide)" % (path, name, where))
                    parent = tag.id if tag is not None else "new:" + name
            leaves = []
            for path, names in parsed:
                parent = catalog.ROOT_TAG_ID
                for name in names:
                    tag = self.tag_by_name(name) or self.add_tag(name, description=name, parent_id=parent)
                    parent = tag.id
                if parent not in leaves:
                    leaves.append(parent)
            self.vm_tags[vm.id] = leaves
            return self.tags_of(vm.id)
