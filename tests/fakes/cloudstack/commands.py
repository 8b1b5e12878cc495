"""`/client/api`: the request pipeline and the commands the fake serves.

Order of checks (ApiServlet.processRequestInContext -> ApiServer.verifyRequest
-> handleRequest), which decides what a client sees when several things are
wrong at once:
  1. command unknown -> 401 (verifyRequest returns false before any key or
     signature is looked at; the body is named "errorresponse")
  2. signature or apiKey missing -> 401
  3. signatureVersion=3: expires missing, unparseable or past -> 401
  4. apiKey unknown -> 401
  5. commandAvailable: the api-limit plugin (429) and the role checker
     (432, "errorresponse") - both BEFORE the signature is compared
  6. signature mismatch -> 401
  7. control characters in a value -> 431 (checkCharacterInkParams)
  8. the command: parameter translation (431), then execution.
"""

import copy
import re
import uuid
from datetime import datetime, timedelta, timezone

import sigcheck
import views
import wire
from model import vm_label
from wire import CS_INVALID_PARAMETER, CS_PERMISSION_DENIED, ApiError

UUID_RX = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
INT_RX = re.compile(r"^[+-]?\d+$")
# ApiServer.CONTROL_CHARACTERS: 0-9 (tab included), 11-12, 14-31, 127.
CONTROL_CHARS = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")
EVENT_DATETIME = re.compile(r"^\d+-\d+-\d+ \d+:\d+:\d+$")
DATE_PREFIX = re.compile(r"^(\d{1,4})-(\d{1,2})-(\d{1,2})")
UNAUTHORIZED = "unable to verify user credentials and/or request signature"
LIMIT_TEXT = "The given user has reached his/her account api limit, please retry after [%d] ms."
ENDLESS_NS = uuid.UUID("6c0d6f0e-4c1e-4b8e-9a55-2f0c6b1d7e01")


class Reply:
    def __init__(self, status, body, headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {}


class Unauthorized(Exception):
    pass


class Api:
    def __init__(self, model):
        self.m = model
        self.commands = {
            "listVirtualMachines": self.list_virtual_machines,
            "startVirtualMachine": lambda u, p: self.vm_action(u, p, "startVirtualMachine", "start"),
            "stopVirtualMachine": lambda u, p: self.vm_action(u, p, "stopVirtualMachine", "stop"),
            "rebootVirtualMachine": lambda u, p: self.vm_action(u, p, "rebootVirtualMachine", "reboot"),
            "queryAsyncJobResult": self.query_async_job_result,
            "listAsyncJobs": self.list_async_jobs,
            "listEvents": self.list_events,
            "listCapabilities": self.list_capabilities,
            "listZones": self.list_zones,
            "listProjects": self.list_projects,
            "createTags": lambda u, p: self.tags_command(u, p, "createTags"),
            "deleteTags": lambda u, p: self.tags_command(u, p, "deleteTags"),
        }

    # ------------------------------------------------------------ pipeline
    def handle(self, params):
        m = self.m
        command = params.get("command")
        known = command in self.commands
        with m.lock:
            m.calls[command if command is not None else "(no command)"] += 1
            try:
                if m.hostile == "echo-secret":
                    return self._echo_secret(params, command if known else None)
                user = self._verify(params, command, known)
                for name, value in params.items():
                    if CONTROL_CHARS.search(value):
                        raise ApiError(431, "Received value containing illegal ASCII non-printable characters for parameter " + name)
                rule = m.take_fail(_action_key(command, params), sync=True)
                if rule is not None:
                    raise ApiError(rule["code"], rule.get("message") or "Internal error executing command, please contact your system administrator")
                body = self.commands[command](user, params)
                return Reply(200, self._hostile_body(body))
            except Unauthorized:
                m.calls["unauthorized"] += 1
                return Reply(401, wire.error_body(command if known else None, 401, UNAUTHORIZED))
            except ApiError as err:
                if err.code == 429:
                    m.calls["throttled"] += 1
                body = wire.error_body(command if known else None, err.code, err.text, err.cserrorcode, err.errorresponse)
                # ApiServlet sets X-Description on every ServerApiException answer.
                return Reply(err.code, body, {"X-Description": err.text})

    def _verify(self, params, command, known):
        m = self.m
        if not known:
            raise Unauthorized()
        signature = sigcheck.find_param(params, "signature")
        apikey = sigcheck.find_param(params, "apiKey")
        if signature is None or apikey is None:
            raise Unauthorized()
        if sigcheck.find_param(params, "signatureVersion") == "3":
            expires = sigcheck.find_param(params, "expires")
            when = sigcheck.parse_tz_date(expires) if expires is not None else None
            if when is None or when < datetime.now(timezone.utc):
                raise Unauthorized()
        user = m.user_by_key(apikey)
        if user is None:
            raise Unauthorized()
        # commandAvailable(): the api-limit plugin (the real one exempts root
        # admins; an injected throttle does not) ...
        if m.hostile == "absurd-retry-after":
            raise ApiError(429, LIMIT_TEXT % (10 ** 15))
        if m.throttle["remaining"] > 0:
            m.throttle["remaining"] -= 1
            raise ApiError(429, LIMIT_TEXT % m.throttle["ms"])
        # ... and the role checker (DynamicRoleBasedAPIAccessChecker).
        if user.account.role == "ReadOnlyUser" and not (command.startswith("list") or command == "queryAsyncJobResult"):
            raise ApiError(432, "The API [%s] does not exist or is not available for the account %s." % (command, user.account.name))
        if not sigcheck.signature_matches(params, user.secret, signature):
            raise Unauthorized()
        return user

    def _echo_secret(self, params, command):
        user = self.m.user_by_key(sigcheck.find_param(params, "apiKey") or "")
        secret = user.secret if user else self.m.cfg.secret_key
        text = "%s (computed with secret key %s)" % (UNAUTHORIZED, secret)
        return Reply(401, wire.error_body(command, 401, text))

    # ----------------------------------------------------- hostile bodies
    def _hostile_body(self, body):
        mode = self.m.hostile
        if mode == "wrong-root":
            host = self.m.hosts[0]
            return {"listhostsresponse": {"count": 1, "host": [{
                "id": host.id, "name": host.name, "state": "Up", "type": "Routing", "zoneid": host.zone.id,
                "zonename": host.zone.name, "hypervisor": "KVM", "resourcestate": "Enabled"}]}}
        if mode == "escape-names":
            body = copy.deepcopy(body)   # job results are stored; never poison them
            _poison_names(body)
        return body

    # ------------------------------------------------------- parameters
    def _invalid_uuid(self, command, name, raw):
        return ApiError(431, "Unable to execute API command %s due to invalid value. Invalid parameter %s value=%s due to "
                        "incorrect long value format, or entity does not exist or due to incorrect parameter annotation "
                        "for the field in api cmd class." % (command.lower(), name, raw))

    def _entity(self, command, params, name, finder):
        """A UUID parameter of a pre-3.x command: a uuid or an internal id,
        unknown -> 431. "-1" passes through (ParamProcessWorker special case)."""
        raw = params.get(name)
        if raw is None:
            return None
        if raw == "-1":
            return -1
        found = finder(raw)
        if found is None:
            raise self._invalid_uuid(command, name, raw)
        return found

    def _required(self, command, params, name):
        if params.get(name) is None:
            raise ApiError(431, "Unable to execute API command %s due to missing parameter %s" % (command.lower(), name))

    def _int(self, command, params, name):
        raw = params.get(name)
        if raw is None:
            return None
        if not INT_RX.match(raw):
            raise ApiError(431, "Unable to execute API command %s due to invalid value %s for parameter %s" % (command.lower(), raw, name))
        return int(raw)

    @staticmethod
    def _bool(params, name):
        # Boolean.valueOf: anything but "true" (any case) is false.
        return (params.get(name) or "").lower() == "true"

    def _paging(self, command, params):
        """BaseListCmd: validateSpecificParameters, then getPageSize /
        getStartIndex. Returns (offset, limit or None, page number)."""
        size_raw, page_raw = params.get("pagesize"), params.get("page")
        if size_raw is not None and page_raw is None and size_raw != "-1":
            raise ApiError(431, '"page" parameter is required when "pagesize" is specified')
        if size_raw is None and page_raw is not None:
            raise ApiError(431, '"pagesize" parameter is required when "page" is specified')
        page = self._int(command, params, "page")
        size = self._int(command, params, "pagesize")
        return page, size

    def _window(self, page, size):
        maximum = self.m.cfg.page_size
        if size is not None and maximum != -1 and size > maximum:
            raise ApiError(431, "Page size can't exceed max allowed page size value: %d" % maximum, CS_INVALID_PARAMETER)
        if size == -1 and page is not None:
            raise ApiError(431, "Can't specify page parameter when pagesize is -1 (Unlimited)", CS_INVALID_PARAMETER)
        limit = size if size is not None else maximum
        if limit == -1:
            return 0, None, 1
        offset = limit * (page - 1) if page and page > 0 else 0
        return offset, limit, page if page and page > 0 else 1

    def _find_project(self, raw):
        for project in self.m.projects:
            if project.id == raw or str(project.iid) == raw:
                return project
        return None

    def _find_zone(self, raw):
        for zone in self.m.zones:
            if zone.id == raw or str(zone.iid) == raw:
                return zone
        return None

    def _find_vm(self, raw):
        vm = self.m.vm_by_id.get(raw)
        if vm is None and raw.isdigit():
            vm = next((v for v in self.m.vms if v.iid == int(raw)), None)
        return vm

    def _acl(self, command, user, params, has_id):
        """AccountManagerImpl/AclSearchBuilderServiceImpl.buildACLSearchParameters:
        which accounts' resources a list may show. Returns a predicate."""
        m = self.m
        admin = m.is_root_admin(user)
        listall = self._bool(params, "listall")
        project = self._entity(command, params, "projectid", self._find_project)
        account_name = params.get("account")
        permitted = None
        if account_name is not None:
            if project is not None:
                raise ApiError(431, "Account and projectId can't be specified together", CS_INVALID_PARAMETER)
            acct = m.accounts.get(account_name)
            if acct is None or acct.type == "PROJECT" or (not admin and acct is not user.account):
                raise ApiError(431, "could not find account %s in domain %s" % (account_name, user.account.domain.name),
                               CS_INVALID_PARAMETER)
            permitted = {acct}
        if project is not None and project != -1:
            if not admin:
                raise ApiError(531, "Account %s can't access project id=%d" % (user.account.name, project.iid), CS_PERMISSION_DENIED)
            return lambda acct: acct is project.account
        if project == -1:
            # projectid=-1: project resources only, or (listall=true, 4.15+)
            # everything including projects.
            criteria = "all" if listall else "projects_only"
            if not admin:
                permitted = set(permitted or ()) | {user.account}
        else:
            criteria = None if has_id else "skip_projects"
            if permitted is None and (not admin or not (listall or has_id)):
                permitted = {user.account}

        def allowed(acct):
            if criteria == "projects_only" and acct.type != "PROJECT":
                return False
            if criteria == "skip_projects" and acct.type == "PROJECT":
                return False
            return permitted is None or acct in permitted
        return allowed

    # ------------------------------------------------------------ lists
    def _endless(self, command, object_name, template, page, limit):
        """hostile endless-paging: a full page of fresh rows every time and a
        count always larger than what was returned so far."""
        n = limit or 500
        rows = []
        for k in range(n):
            row = dict(template)
            row["id"] = str(uuid.uuid5(ENDLESS_NS, "%s-%d-%d" % (command, page, k)))
            if "name" in row:
                row["name"] = "endless-%d-%d" % (page, k)
            rows.append(row)
        return wire.list_body(command, object_name, rows, page * n + 1)

    def list_virtual_machines(self, user, p):
        cmd = "listVirtualMachines"
        m = self.m
        page, size = self._paging(cmd, p)
        vm_id = self._entity(cmd, p, "id", self._find_vm)
        ids = None
        if p.get("ids") is not None:
            ids = []
            for token in [t for t in p["ids"].split(",") if t]:
                # `ids` is a 4.4 parameter: a token that is not a uuid is
                # silently null; an unknown uuid is an error.
                if not UUID_RX.match(token):
                    ids.append(None)
                    continue
                vm = m.vm_by_id.get(token)
                if vm is None:
                    raise self._invalid_uuid(cmd, "ids", token)
                ids.append(vm)
        zone = self._entity(cmd, p, "zoneid", self._find_zone)
        allowed = self._acl(cmd, user, p, has_id=vm_id is not None)
        offset, limit, page = self._window(page, size)
        if vm_id is not None and ids:
            raise ApiError(431, "Specify either id or ids but not both parameters", CS_INVALID_PARAMETER)
        wanted = [vm_id] if vm_id is not None else (ids or None)
        admin = m.is_root_admin(user)
        state = (p.get("state") or "").lower()
        name = (p.get("name") or "").lower()
        keyword = (p.get("keyword") or "").lower()
        found = []
        for vm in m.vms:
            if not allowed(vm.account):
                continue
            if wanted is not None and vm not in wanted:
                continue
            if zone not in (None, -1) and vm.zone is not zone:
                continue
            if state == "present" and vm.state in ("Destroyed", "Expunging"):
                continue
            if state and state != "present" and vm.state.lower() != state:
                continue
            # allow.user.view.destroyed.vm is false by default.
            if not admin and vm.state in ("Destroyed", "Expunging"):
                continue
            if name and name not in vm.name.lower():
                continue
            if keyword and not (keyword in vm.displayname.lower() or keyword in vm.name.lower()
                                or keyword in vm.instancename.lower() or keyword == vm.state.lower()):
                continue
            found.append(vm)
        details = self._details(p)
        total = len(found)
        page_vms = found[offset:offset + limit] if limit is not None else found[offset:]
        mode = m.hostile
        if mode == "wrong-ids" and wanted is not None:
            others = [vm for vm in m.vms if vm not in wanted and allowed(vm.account)]
            page_vms = others[:max(1, len(page_vms))]
        if mode == "duplicate-ids" and page_vms:
            page_vms = page_vms + [page_vms[0]]
            total += 1
        rows = [views.vm_row(m, vm, details, admin) for vm in page_vms]
        if mode == "endless-paging":
            template = views.vm_row(m, (found or m.vms)[0], details, admin)
            return self._endless(cmd, "virtualmachine", template, page, limit)
        return wire.list_body(cmd, "virtualmachine", rows, total)

    def _details(self, p):
        raw = p.get("details")
        tokens = [t for t in (raw or "").split(",") if t]
        if not tokens:
            return {"all"}   # list.vm.default.details.stats is true by default
        for token in tokens:
            if token not in views.VM_DETAILS:
                raise ApiError(431, "The details parameter contains a non permitted value. The allowed values are [%s]"
                               % ", ".join(views.VM_DETAILS), CS_INVALID_PARAMETER)
        return set(tokens)

    # --------------------------------------------------------- VM actions
    def vm_action(self, user, p, command, action):
        m = self.m
        self._required(command, p, "id")
        vm = self._entity(command, p, "id", self._find_vm)
        if vm == -1:
            raise self._invalid_uuid(command, "id", "-1")
        if not m.is_root_admin(user) and vm.account is not user.account:
            raise ApiError(531, "Caller %s cannot operate on %s" % (user.account.name, vm_label(vm)), CS_PERMISSION_DENIED)
        forced = action in ("stop", "reboot") and self._bool(p, "forced")
        rule = None
        if action == "stop" and forced:
            rule = m.take_fail("force-stop", sync=False)
        rule = rule or m.take_fail(action, sync=False)
        job = m.submit(action, vm, user, forced, rule)
        return {wire.response_name(command): {"jobid": job.id}}

    # ------------------------------------------------------ resource tags
    def tags_command(self, user, p, command):
        """createTags / deleteTags (async, since 4.0). Parameters are checked
        here (ParamProcessWorker); everything else happens in the job, as
        the server's execute() does it (model.submit_tags)."""
        m = self.m
        pairs = _map_param(p, "tags")
        # BaseCmd.unpackParams lower-cases plain parameter names.
        lower = {}
        for name, value in p.items():
            if "[" not in name:
                lower.setdefault(name.lower(), value)
        if command == "createTags":
            if not pairs:
                raise ApiError(431, "Unable to execute API command %s due to missing parameter tags" % command.lower())
            # An entry with no key field is not modelled; it is dropped.
            pairs = [(k, v) for k, v in pairs if k is not None]
        self._required(command, lower, "resourcetype")
        self._required(command, lower, "resourceids")
        # CommandType.LIST: a StringTokenizer on ",", empty tokens skipped.
        ids = [t for t in lower["resourceids"].split(",") if t]
        rule = m.take_fail(command, sync=False)
        job = m.submit_tags(command, user, lower["resourcetype"], ids, pairs, lower.get("customer"), rule)
        return {wire.response_name(command): {"jobid": job.id}}

    def query_async_job_result(self, user, p):
        cmd = "queryAsyncJobResult"
        m = self.m
        self._required(cmd, p, "jobid")
        job = self._entity(cmd, p, "jobid", self._find_job)
        if job == -1:
            raise self._invalid_uuid(cmd, "jobid", "-1")
        if not m.is_root_admin(user) and job.account is not user.account:
            raise ApiError(531, "Permission denied, invalid job ownership for job %s" % job.id, CS_PERMISSION_DENIED)
        row = views.job_row(job, for_query=True)
        if m.hostile == "wrong-ids":
            other = next((j for j in m.jobs if j is not job), None)
            row["jobid"] = other.id if other else str(uuid.uuid4())
            if "jobinstanceid" in row:
                row["jobinstanceid"] = next(vm.id for vm in m.vms if vm is not job.vm)
        return {"queryasyncjobresultresponse": row}

    def _find_job(self, raw):
        job = self.m.job_by_id.get(raw)
        if job is None and raw.isdigit():
            job = next((j for j in self.m.jobs if j.iid == int(raw)), None)
        return job

    def list_async_jobs(self, user, p):
        cmd = "listAsyncJobs"
        m = self.m
        page, size = self._paging(cmd, p)
        start = None
        if p.get("startdate") is not None:
            # CommandType.DATE outside the events commands: SimpleDateFormat
            # "yyyy-MM-dd", which reads the date and ignores what follows.
            start = _date_prefix(p["startdate"])
            if start is None:
                raise _date_error(cmd, p["startdate"])
        offset, limit, page = self._window(page, size)
        everyone = m.is_root_admin(user) and self._bool(p, "listall")
        keyword = (p.get("keyword") or "").lower()
        found = [j for j in m.jobs
                 if (everyone or j.account is user.account)
                 and (start is None or j.created >= start)
                 and (not keyword or keyword in j.cmd.lower())]
        total = len(found)
        chosen = found[offset:offset + limit] if limit is not None else found[offset:]
        rows = [views.job_row(j, for_query=False) for j in chosen]
        if m.hostile == "endless-paging" and found:
            return self._endless(cmd, "asyncjobs", views.job_row(found[0], False), page, limit)
        return wire.list_body(cmd, "asyncjobs", rows, total)

    def list_events(self, user, p):
        cmd = "listEvents"
        m = self.m
        page, size = self._paging(cmd, p)
        event = self._entity(cmd, p, "id", lambda raw: next((e for e in m.events if e.id == raw), None))
        start = _event_date(cmd, p.get("startdate"), end=False)
        end = _event_date(cmd, p.get("enddate"), end=True)
        allowed = self._acl(cmd, user, p, has_id=event is not None)
        offset, limit, page = self._window(page, size)
        kind = (p.get("type") or "").lower()
        level = (p.get("level") or "").lower()
        keyword = (p.get("keyword") or "").lower()
        resource = p.get("resourceid")
        found = []
        for ev in m.events:
            if not allowed(ev.account):
                continue
            if event not in (None, -1) and ev is not event:
                continue
            if kind and ev.type.lower() != kind:
                continue
            if level and ev.level.lower() != level:
                continue
            if start is not None and ev.created < start:
                continue
            if end is not None and ev.created > end:
                continue
            if keyword and not (keyword in ev.type.lower() or keyword in ev.description.lower() or keyword in ev.level.lower()):
                continue
            if resource and ev.vm_uuid != resource:
                continue
            found.append(ev)
        # Filter(EventJoinVO.class, "createDate", false, ...): newest first.
        found.sort(key=lambda e: (e.created, e.iid), reverse=True)
        total = len(found)
        chosen = found[offset:offset + limit] if limit is not None else found[offset:]
        if m.hostile == "endless-paging" and found:
            return self._endless(cmd, "event", views.event_row(found[0]), page, limit)
        return wire.list_body(cmd, "event", [views.event_row(e) for e in chosen], total)

    # ------------------------------------------------------- small extras
    def list_capabilities(self, user, p):
        return {"listcapabilitiesresponse": {"capability": {
            "securitygroupsenabled": False, "dynamicrolesenabled": True, "cloudstackversion": wire.SERVER_VERSION,
            "userpublictemplateenabled": True, "supportELB": "false", "projectinviterequired": False,
            "allowusercreateprojects": True, "customdiskofferingminsize": 1, "customdiskofferingmaxsize": 1024,
            "regionsecondaryenabled": False, "kvmsnapshotenabled": True, "allowuserviewdestroyedvm": False,
            "allowuserexpungerecovervm": False, "defaultuipagesize": self.m.cfg.page_size}}}

    def list_zones(self, user, p):
        cmd = "listZones"
        page, size = self._paging(cmd, p)
        offset, limit, _ = self._window(page, size)
        zones = self.m.zones
        chosen = zones[offset:offset + limit] if limit is not None else zones[offset:]
        rows = [{"id": z.id, "name": z.name, "networktype": "Advanced", "securitygroupsenabled": False,
                 "allocationstate": "Enabled", "dhcpprovider": "VirtualRouter", "localstorageenabled": False,
                 "tags": []} for z in chosen]
        return wire.list_body(cmd, "zone", rows, len(zones))

    def list_projects(self, user, p):
        cmd = "listProjects"
        page, size = self._paging(cmd, p)
        offset, limit, _ = self._window(page, size)
        projects = self.m.projects if self.m.is_root_admin(user) else []
        chosen = projects[offset:offset + limit] if limit is not None else projects[offset:]
        rows = [{"id": pr.id, "name": pr.name, "displaytext": pr.displaytext, "account": "admin",
                 "domainid": pr.domain.id, "domain": pr.domain.name, "state": "Active", "tags": []} for pr in chosen]
        return wire.list_body(cmd, "project", rows, len(projects))


def _action_key(command, params):
    return {"startVirtualMachine": "start", "stopVirtualMachine": "stop", "rebootVirtualMachine": "reboot",
            "listVirtualMachines": "list", "queryAsyncJobResult": "query", "listAsyncJobs": "list-jobs",
            "listEvents": "events"}.get(command, command)


def _map_param(params, wanted):
    """BaseCmd.unpackParams for one MAP parameter: `name[index].field=value`
    (name any case, field as sent) -> [(key, value)] by index. A bracketed
    name that does not follow that form is refused (431), whatever it is."""
    groups = {}
    for name, value in params.items():
        start = name.find("[")
        malformed = ApiError(431, "Unable to decode parameter %s; if specifying an object array, please use "
                             "parameter[index].field=XXX, e.g. userGroupList[0].group=httpGroup" % name)
        if name.rfind("[") != start:
            raise malformed
        if start <= 0:
            continue
        end = name.find("]")
        dot = name.find(".")
        index = name[start + 1:end] if end > start else ""
        if end < start or end != name.rfind("]") or dot < end or not INT_RX.match(index):
            raise malformed
        if name[:start].lower() != wanted:
            continue
        groups.setdefault(int(index), {})[name[dot + 1:]] = value
    return [(g.get("key"), g.get("value")) for _, g in sorted(groups.items())]


def _date_error(command, raw):
    return ApiError(431, "Unable to parse date %s for command %s, please pass dates in the format mentioned in the api "
                    "documentation" % (raw, command.lower()))


def _date_prefix(raw):
    m = DATE_PREFIX.match(raw)
    if not m:
        return None
    try:
        return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=timezone.utc)
    except ValueError:
        return None


def _event_date(command, raw, end):
    """ParamProcessWorker for listEvents: "yyyy-MM-dd HH:mm:ss", or
    "yyyy-MM-dd" meaning 00:00:00 (startdate) / 23:59:59 (enddate), in the
    server's time zone (UTC here)."""
    if raw is None:
        return None
    if EVENT_DATETIME.match(raw):
        try:
            return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        except ValueError:
            raise _date_error(command, raw)
    day = _date_prefix(raw)
    if day is None:
        raise _date_error(command, raw)
    return day + timedelta(hours=23, minutes=59, seconds=59) if end else day


def _poison_names(node):
    """hostile escape-names: terminal escapes and control characters in every
    name a client might print."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("name", "displayname", "resourcename", "hostname") and isinstance(value, str):
                node[key] = "\x1b[31m" + value + "\x1b]0;owned\x07\r\x08\x1b[0m"
            else:
                _poison_names(value)
    elif isinstance(node, list):
        for item in node:
            _poison_names(item)
