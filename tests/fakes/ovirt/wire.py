"""XML bodies in the shape the v4 API writes them.

Shapes follow the engine's mappers (restapi/types VmMapper, EventMapper,
JobMapper), BackendResource / AbstractBackendActionableResource for action
answers, and the api-model types the SDK reads (ovirtsdk4 readers.py).
Objects referenced from another object are written as links only
(`<host href=".." id=".."/>`), as v4 does unless `follow=` asks to inline them.
"""

import datetime
import uuid

from . import catalog
from .catalog import NOT_RUNNING

API = "/ovirt-engine/api"
VM_ACTIONS = ("start", "stop", "shutdown", "reboot", "reset", "suspend")


def esc(text):
    """XML text escape. Control characters (only hostile names have them) become
    character references, which strict XML 1.0 parsers refuse for C0 codes."""
    out = []
    for ch in str(text):
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == '"':
            out.append("&quot;")
        elif (ord(ch) < 0x20 and ch not in "\t\n\r") or 0x7F <= ord(ch) < 0xA0:
            out.append("&#%d;" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def date(ts):
    """Engine dates look like 2016-09-14T12:14:34.541+02:00."""
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).isoformat(timespec="milliseconds")


def el(tag, value):
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return "<%s>%s</%s>" % (tag, esc(value), tag)


def ref(tag, collection, oid):
    if not oid:
        return ""
    return '<%s href="%s/%s/%s" id="%s"/>' % (tag, API, collection, oid, oid)


def link(rel, href):
    return '<link href="%s" rel="%s"/>' % (href, rel)


def doc(body):
    return '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + body


# ------------------------------------------------------------------ VMs

def _version(text):
    """VersionMapper.fromVersionString: numeric parts plus the full string."""
    parts = []
    for piece in text.replace("-", ".").split("."):
        if piece.isdigit():
            parts.append(int(piece))
        else:
            break
    names = ("major", "minor", "build", "revision")
    inner = "".join(el(n, p) for n, p in zip(names, parts))
    return "<version>%s%s</version>" % (el("full_version", text), inner)


def guest_reported(vm):
    """The agent's facts are shown only while the guest runs and its agent talks:
    not while launching (agent not up yet) nor when not running (VmMapper fills
    dynamic data only when the status is not Down/Suspended/ImageLocked)."""
    return vm.agent and vm.status not in NOT_RUNNING + ("wait_for_launch", "powering_up", "unassigned")


def _guest_os(vm):
    g = vm.guest
    kernel = "<kernel>%s</kernel>" % _version(g["kernel"]) if g["kernel"] else ""
    return ("<guest_operating_system>%s%s%s%s%s%s</guest_operating_system>" % (
        el("architecture", "x86_64"), el("codename", g["codename"]), el("distribution", g["distribution"]),
        el("family", g["family"]), kernel, _version(g["version"])))


def _device_id(vm):
    return str(uuid.uuid5(uuid.NAMESPACE_OID, vm.id + vm.mac))


def reported_device(vm):
    href = "%s/vms/%s/reporteddevices/%s" % (API, vm.id, _device_id(vm))
    ifname = "Ethernet" if vm.guest["family"] == "Windows" else "eth0"
    return ('<reported_device href="%s" id="%s">%s%s<ips><ip>%s%s</ip><ip>%s%s</ip></ips>'
            '<mac>%s</mac>%s%s</reported_device>' % (
                href, _device_id(vm), el("name", ifname), el("description", "guest reported data"),
                el("address", vm.ipv4), el("version", "v4"), el("address", vm.ipv6), el("version", "v6"),
                el("address", vm.mac), el("type", "network"), ref("vm", "vms", vm.id)))


def reported_devices(vm):
    inner = reported_device(vm) if guest_reported(vm) else ""
    return "<reported_devices>%s</reported_devices>" % inner


def applications(vm):
    if not guest_reported(vm):
        return "<applications></applications>"
    if vm.guest["family"] == "Windows":
        names = ("QEMU guest agent", "virtio-win-1.9.36")
    else:
        names = ("qemu-guest-agent-8.1.2", "kernel-" + vm.guest["kernel"])
    items = []
    for name in names:
        aid = str(uuid.uuid5(uuid.NAMESPACE_OID, vm.id + name))
        items.append('<application href="%s/vms/%s/applications/%s" id="%s">%s%s</application>' % (
            API, vm.id, aid, aid, el("name", name), ref("vm", "vms", vm.id)))
    return "<applications>%s</applications>" % "".join(items)


def vm_xml(vm, engine, follow=(), name=None, oid=None, tag_owner=None):
    """tag_owner: the VM id the embedded tags' <vm> names (the foreign-tags hostile mode)."""
    oid = oid or vm.id
    base = "%s/vms/%s" % (API, oid)
    parts = ['<vm href="%s" id="%s">' % (base, oid)]
    parts.append("<actions>%s</actions>" % "".join(link(a, base + "/" + a) for a in VM_ACTIONS))
    parts.append(el("name", name if name is not None else vm.name))
    parts.append(el("description", ""))
    for rel in ("applications", "nics", "reporteddevices", "statistics", "tags"):
        parts.append(link(rel, base + "/" + rel))
    parts.append("<cpu><architecture>x86_64</architecture><topology><cores>1</cores><sockets>2</sockets>"
                 "<threads>1</threads></topology></cpu>")
    parts.append(el("creation_time", date(vm.creation_time)))
    parts.append(el("memory", vm.memory))
    parts.append("<os><boot><devices><device>hd</device></devices></boot>%s</os>" % el("type", vm.os_type))
    parts.append(el("stateless", False))
    parts.append(el("type", "server"))
    if guest_reported(vm):
        parts.append(el("fqdn", vm.fqdn))
        parts.append(_guest_os(vm))
        parts.append("<guest_time_zone>%s%s</guest_time_zone>" % (el("name", "Etc/GMT"), el("utc_offset", "+00:00")))
    if vm.status not in NOT_RUNNING and vm.start_time:
        parts.append(el("start_time", date(vm.start_time)))
    parts.append(el("status", vm.status))
    if vm.stop_reason:
        parts.append(el("stop_reason", vm.stop_reason))
    if vm.stop_time:
        parts.append(el("stop_time", date(vm.stop_time)))
    cluster = engine.cluster(vm.cluster_id)
    parts.append(cluster_xml(cluster, engine) if "cluster" in follow else ref("cluster", "clusters", vm.cluster_id))
    if vm.host_id and vm.status not in NOT_RUNNING:
        host = engine.host(vm.host_id)
        parts.append(host_xml(host, engine) if "host" in follow else ref("host", "hosts", vm.host_id))
    parts.append(ref("template", "templates", vm.template_id))
    if "reported_devices" in follow:
        parts.append(reported_devices(vm))
    if "applications" in follow:
        parts.append(applications(vm))
    if "tags" in follow:
        parts.append(tags_xml(engine.tags_of(vm.id), vm_id=oid, owner=tag_owner))
    parts.append("</vm>")
    return "".join(parts)


def vms_xml(items):
    """items: already rendered <vm> elements."""
    return "<vms>%s</vms>" % "".join(items)


# ------------------------------------------------------------------- tags

def tag_xml(tag, vm_id=None, owner=None):
    """TagMapper + LinkHelper. A tag read through a VM (GET /vms/V/tags, follow=tags)
    carries <vm> (addParents) and so its href is the assigned-tag path
    /vms/V/tags/T (LinkHelper.getPathConsideringParent); elsewhere /tags/T.
    <description> only when the tag has one; <parent> for every tag but the root."""
    if vm_id:
        href = "%s/vms/%s/tags/%s" % (API, vm_id, tag.id)
    else:
        href = "%s/tags/%s" % (API, tag.id)
    return '<tag href="%s" id="%s">%s%s%s%s</tag>' % (
        href, tag.id, el("name", tag.name), el("description", tag.description),
        ref("parent", "tags", tag.parent_id), ref("vm", "vms", (owner or vm_id) if vm_id else None))


def tags_xml(tags, vm_id=None, owner=None):
    if not tags:
        return "<tags/>"
    return "<tags>%s</tags>" % "".join(tag_xml(t, vm_id, owner) for t in tags)


# ------------------------------------------------------------ hosts, clusters

def host_xml(host, engine):
    running = sum(1 for v in engine.vms.values() if v.host_id == host.id and v.status not in NOT_RUNNING)
    return ('<host href="%s/hosts/%s" id="%s">%s%s%s%s%s<summary>%s%s%s</summary>%s</host>' % (
        API, host.id, host.id, el("name", host.name), el("address", host.name + ".lab.example"),
        el("status", "up"), el("type", "rhel"), el("port", 54321),
        el("active", running), el("migrating", 0), el("total", running),
        ref("cluster", "clusters", host.cluster_id)))


def cluster_xml(cluster, engine):
    return ('<cluster href="%s/clusters/%s" id="%s">%s<cpu>%s%s</cpu><version>%s%s</version>%s</cluster>' % (
        API, cluster.id, cluster.id, el("name", cluster.name), el("architecture", "x86_64"),
        el("type", "Intel Nehalem Family"), el("major", 4), el("minor", 7),
        ref("data_center", "datacenters", engine.dc_id)))


# --------------------------------------------------------- events and jobs

def event_xml(e):
    return ('<event href="%s/events/%d" id="%d">%s%s%s%s%s%s%s%s%s%s%s%s%s%s</event>' % (
        API, e["id"], e["id"], el("description", e["description"]), el("code", e["code"]),
        el("correlation_id", e["correlation_id"]), el("custom_id", -1), el("flood_rate", 30),
        el("index", e["id"]), el("origin", "oVirt"), el("severity", e["severity"]),
        el("time", date(e["time"])),
        ref("cluster", "clusters", e["cluster_id"]), ref("data_center", "datacenters", e["dc_id"]),
        ref("host", "hosts", e["host_id"]),
        ref("user", "users", catalog.ADMIN_USER_ID) if e["user"] else "",
        ref("vm", "vms", e["vm_id"])))


def events_xml(events):
    return "<events>%s</events>" % "".join(event_xml(e) for e in events)


def job_xml(j):
    href = "%s/jobs/%s" % (API, j["id"])
    return ('<job href="%s" id="%s">%s%s%s%s%s%s%s%s%s</job>' % (
        href, j["id"], el("description", j["description"]), el("auto_cleared", True),
        el("end_time", date(j["end_time"]) if j["end_time"] else None), el("external", False),
        el("last_updated", date(j["last_updated"])), el("start_time", date(j["start_time"])),
        el("status", j["status"]), ref("owner", "users", catalog.ADMIN_USER_ID), link("steps", href + "/steps")))


def jobs_xml(jobs):
    return "<jobs>%s</jobs>" % "".join(job_xml(j) for j in jobs)


# ------------------------------------------------------- actions and faults

def _echo(echo):
    """The REST layer answers with the <action> it was given, completed."""
    return "".join(el(k, v) for k, v in echo)


def action_answer(outcome, action, echo):
    """200 complete: job link, status, and the VM link (actionSuccess/setActionItem).
    202 (HibernateVm has VDSM tasks, async not false): AbstractBackendActionableResource.actionAsync."""
    job = ref("job", "jobs", outcome.job_id)
    if outcome.http == 202:
        path = "%s/vms/%s/%s" % (API, outcome.vm_id, action)
        echo = [(k, v) for k, v in echo if k != "async"]
        return ('<action href="%s/%s" id="%s">%s%s%s%s%s%s</action>' % (
            path, outcome.task_ids, outcome.task_ids, el("async", True), _echo(echo), job,
            el("status", outcome.status), link("parent", "%s/vms/%s" % (API, outcome.vm_id)), link("replay", path)))
    return "<action>%s%s%s%s</action>" % (_echo(echo), job, el("status", outcome.status),
                                        ref("vm", "vms", outcome.vm_id))


def fault_inner(detail, reason=catalog.FAULT_REASON):
    return "<fault>%s%s</fault>" % (el("reason", reason), el("detail", detail))


def action_failed(detail, echo):
    """AbstractBackendActionableResource.handleError -> actionFailure."""
    return "<action>%s%s%s</action>" % (_echo(echo), fault_inner(detail), el("status", "failed"))


def api_root(engine, now, vm_count, up_count):
    links = "".join(link(rel, "%s/%s" % (API, rel)) for rel in ("clusters", "events", "hosts", "jobs", "tags", "vms"))
    links += link("vms/search", API + "/vms?search={query}") + link("events/search", API + "/events;from={event_id}?search={query}")
    version = ("<version>%s%s%s%s%s</version>" % (el("build", 7), el("full_version", "4.5.6-1.el9"),
                                                    el("major", 4), el("minor", 5), el("revision", 0)))
    product = "<product_info>%s%s%s%s</product_info>" % (
        el("instance_id", engine.dc_id), el("name", "oVirt Engine"), el("vendor", "ovirt.org"), version)
    summary = "<summary><hosts>%s%s</hosts><vms>%s%s</vms></summary>" % (
        el("active", len(engine.hosts)), el("total", len(engine.hosts)), el("active", up_count), el("total", vm_count))
    return "<api>%s%s%s%s%s%s</api>" % (
        links, product, summary, el("time", date(now)),
        ref("authenticated_user", "users", catalog.ADMIN_USER_ID), ref("effective_user", "users", catalog.ADMIN_USER_ID))
