"""Rows as the server renders them.

VM rows follow server/.../api/query/dao/UserVmJoinDaoImpl.newUserVmResponse:
which optional blocks appear depends on `details` (VMDetails: all, group,
nics, stats, secgrp, tmpl, servoff, diskoff, backoff, iso, volume, min,
affgrp); hostid/hostname/instancename only in the admin (Full) view; the
securitygroup/nic/tags/affinitygroup arrays always exist (UserVmResponse
initialises them), empty when their block was not asked for; tags are filled
for every `details`. Field order follows the simulator-recorded rows in
apache/cloudstack-go test/testdata/VirtualMachineService.json.
Event rows: api/.../response/EventResponse.java. Job rows:
AsyncJobJoinDaoImpl.newAsyncJobResponse (listAsyncJobs) and the
queryAsyncJobResult fixtures.
"""

from wire import cs_date

VM_DETAILS = ("all", "group", "nics", "stats", "secgrp", "tmpl", "servoff", "diskoff", "backoff", "iso",
              "volume", "min", "affgrp")


def _has(details, block):
    return "all" in details or block in details


def vm_row(model, vm, details, full_view, job=None):
    d = details
    row = {"id": vm.id, "name": vm.name, "displayname": vm.displayname}
    if vm.project is not None:
        # Project VMs carry the project, not the (project) account name.
        row["projectid"] = vm.project.id
        row["project"] = vm.project.name
    else:
        row["account"] = vm.account.name
    row["userid"] = vm.owner_user.id
    row["username"] = vm.owner_user.username
    row["domainid"] = vm.account.domain.id
    row["domain"] = vm.account.domain.name
    row["created"] = cs_date(vm.created)
    row["state"] = vm.state
    row["haenable"] = vm.haenable
    row["zoneid"] = vm.zone.id
    row["zonename"] = vm.zone.name
    if full_view and vm.host is not None:
        row["hostid"] = vm.host.id
        row["hostname"] = vm.host.name
    if _has(d, "tmpl"):
        row["templateid"] = vm.template.id
        row["templatename"] = vm.template.name
        row["templatedisplaytext"] = vm.template.displaytext
        row["passwordenabled"] = False
    if _has(d, "servoff"):
        row["serviceofferingid"] = vm.offering.id
        row["serviceofferingname"] = vm.offering.name
    if _has(d, "servoff") or _has(d, "stats"):
        row["cpunumber"] = vm.offering.cpu
        row["cpuspeed"] = vm.offering.speed
        row["memory"] = vm.offering.memory
    if _has(d, "stats") and vm.state == "Running":
        # Stats exist only for VMs the stats collector saw running.
        row["cpuused"] = "%.2f%%" % ((vm.iid * 7.3) % 97)
        row["networkkbsread"] = vm.iid * 1024
        row["networkkbswrite"] = vm.iid * 512
        row["diskkbsread"] = vm.iid * 2048
        row["diskkbswrite"] = vm.iid * 256
        row["memorykbs"] = vm.offering.memory * 1024
        row["memoryintfreekbs"] = vm.offering.memory * 256
        row["memorytargetkbs"] = vm.offering.memory * 1024
        row["diskioread"] = vm.iid * 10
        row["diskiowrite"] = vm.iid * 3
    row["guestosid"] = vm.template.osid
    if _has(d, "volume"):
        row["rootdeviceid"] = 0
        row["rootdevicetype"] = "ROOT"
    row["securitygroup"] = []
    nics = []
    if _has(d, "nics"):
        net = vm.nic.network
        nics.append({
            "id": vm.nic.id, "networkid": net.id, "networkname": net.name, "netmask": "255.255.0.0",
            "gateway": vm.nic.ip.rsplit(".", 2)[0] + ".0.1", "ipaddress": vm.nic.ip,
            "isolationuri": "vlan://%d" % net.vlan, "broadcasturi": "vlan://%d" % net.vlan,
            "traffictype": "Guest", "type": "Isolated", "isdefault": True, "macaddress": vm.nic.mac,
            "secondaryip": [], "extradhcpoption": [],
        })
    row["nic"] = nics
    row["hypervisor"] = "KVM"
    if full_view:
        row["instancename"] = vm.instancename
    row["details"] = {}
    row["affinitygroup"] = []
    row["displayvm"] = True
    row["isdynamicallyscalable"] = False
    row["ostypeid"] = vm.template.osid
    row["osdisplayname"] = vm.template.osname
    # Tags come whatever `details` says (addTagInformation runs for every row).
    row["tags"] = [tag_row(vm, tag) for tag in vm.tags]
    pending = job or model.pending_job(vm)
    if pending is not None:
        # A job's own result is serialised while the job is still open, so
        # it shows itself as pending (apache/cloudstack#12538).
        row["jobid"] = pending.id
        row["jobstatus"] = 0
    return row


def tag_row(vm, tag):
    """ResourceTagJoinDaoImpl.newResourceTagResponse (keyValueOnly false),
    fields in ResourceTagResponse's declaration order; the owner is the
    VM's (ApiResponseHelper.populateOwner: a project account names the
    project instead), domainpath since 4.19.2, customer only when set."""
    row = {"key": tag.key, "value": tag.value, "resourcetype": "UserVm", "resourceid": vm.id}
    if vm.project is not None:
        row["projectid"] = vm.project.id
        row["project"] = vm.project.name
    else:
        row["account"] = vm.account.name
    domain = vm.account.domain
    row["domainid"] = domain.id
    row["domain"] = domain.name
    row["domainpath"] = domain.path
    if tag.customer is not None:
        row["customer"] = tag.customer
    return row


def event_row(ev):
    row = {"id": ev.id, "username": ev.user.username, "type": ev.type, "level": ev.level,
           "description": ev.description}
    if ev.account.type == "PROJECT":
        project = ev.project
        row["projectid"] = project.id
        row["project"] = project.name
    else:
        row["account"] = ev.account.name
    row["domainid"] = ev.domain.id
    row["domain"] = ev.domain.name
    row["domainpath"] = ev.domain.path
    if ev.vm_uuid:
        row["resourceid"] = ev.vm_uuid
        row["resourcetype"] = "VirtualMachine"
        row["resourcename"] = ev.vm_name
    row["created"] = cs_date(ev.created)
    row["state"] = ev.state
    if ev.parent is not None:
        row["parentid"] = ev.parent.id
    row["archived"] = False
    return row


def job_row(job, for_query):
    row = {"accountid": job.account.id, "account": job.account.name, "domainid": job.account.domain.id,
           "domainpath": job.account.domain.path, "userid": job.user.id, "cmd": job.cmd,
           "jobstatus": job.status, "jobprocstatus": 0, "jobresultcode": job.resultcode}
    if job.kind == "api" and job.status != 0:
        row["jobresulttype"] = "object"
        row["jobresult"] = job.result_body
    if job.kind == "api" and job.vm is not None:
        # Jobs with no instance (createTags, deleteTags) leave both out.
        row["jobinstancetype"] = "VirtualMachine"
        row["jobinstanceid"] = job.vm.id
    row["created"] = cs_date(job.created)
    if for_query and job.completed is not None:
        # newAsyncJobResponse (listAsyncJobs) never sets "completed".
        row["completed"] = cs_date(job.completed)
    row["jobid"] = job.id
    return row
