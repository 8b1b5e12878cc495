"""The official oVirt SDK (ovirtsdk4) as a command-line cross-check.

    python tests/fakes/ovirt/witness.py --url URL --ca CA [--username U] [--password P] list
    python tests/fakes/ovirt/witness.py --url URL --ca CA start|stop|shutdown|reboot|reset|suspend VM_ID
        [--correlation-id ID] [--timeout S]
    python tests/fakes/ovirt/witness.py --url URL --ca CA events --from N

URL is the engine's base URL (https://host:port) or its API URL (.../ovirt-engine/api).
Prints JSON on stdout. Works against the fake and, in principle, a real engine.
"""

import argparse
import json
import sys
import time

import ovirtsdk4 as sdk
import ovirtsdk4.types as types

# The status each action is tracked to; reboot/reset are seen leaving `up` first.
TARGET = {"start": "up", "stop": "down", "shutdown": "down", "reboot": "up", "reset": "up",
          "suspend": "suspended"}


def connect(args):
    url = args.url.rstrip("/")
    if not url.endswith("/ovirt-engine/api"):
        url += "/ovirt-engine/api"
    return sdk.Connection(url=url, username=args.username, password=args.password, ca_file=args.ca)


def tag_paths(conn):
    """Every tag's path from the root ("env/prod"), by id."""
    tags = {t.id: t for t in conn.system_service().tags_service().list()}

    def path(t):
        names = []
        while t is not None and t.parent is not None:
            names.append(t.name)
            t = tags.get(t.parent.id)
        return "/".join(reversed(names))
    return {i: path(t) for i, t in tags.items()}


def list_vms(conn, page_size=100):
    """Every VM, page by page until an empty page (the engine's paging),
    with its tags as paths from the root."""
    vms_service = conn.system_service().vms_service()
    paths = tag_paths(conn)
    out, page = [], 1
    while True:
        batch = vms_service.list(search="page %d" % page, max=page_size, follow="tags")
        if not batch:
            return out
        out.extend({"id": v.id, "name": v.name, "state": v.status.value if v.status else None,
                    "tags": sorted(paths.get(t.id, t.name) for t in v.tags or [])} for v in batch)
        page += 1


def tag_vm(conn, vm_id, paths):
    """Create each path's tags under their parents (if missing) and assign
    each path's last tag to the VM, as an admin does in the portal."""
    tags_service = conn.system_service().tags_service()
    for path in paths:
        parent = None
        for name in path.split("/"):
            known = [t for t in tags_service.list() if t.name == name]
            if not known:
                tags_service.add(types.Tag(name=name, parent=types.Tag(name=parent) if parent else None))
            parent = name
        conn.system_service().vms_service().vm_service(vm_id).tags_service().add(types.Tag(name=parent))
    return {"id": vm_id, "tags": sorted(paths)}


def event_json(e):
    return {"id": int(e.id), "code": e.code, "description": e.description,
            "severity": e.severity.value if e.severity else None,
            "time": e.time.isoformat() if e.time else None, "correlation_id": e.correlation_id,
            "vm_id": e.vm.id if e.vm else None, "host_id": e.host.id if e.host else None}


def run_action(conn, action, vm_id, correlation_id, timeout):
    vm_service = conn.system_service().vms_service().vm_service(vm_id)
    events_service = conn.system_service().events_service()
    newest = events_service.list(max=1)
    cursor = int(newest[0].id) if newest else 0
    query = {"correlation_id": correlation_id} if correlation_id else None
    getattr(vm_service, action)(query=query)
    seen, deadline = [], time.time() + timeout
    left_up = action not in ("reboot", "reset")
    leave_deadline = time.time() + min(timeout, 3.0)
    status = None
    while time.time() < deadline:
        status = vm_service.get().status.value
        if not seen or seen[-1] != status:
            seen.append(status)
        if status != "up":
            left_up = True
        if status == TARGET[action] and (left_up or time.time() > leave_deadline):
            break
        time.sleep(0.05)
    events = sorted(events_service.list(from_=cursor), key=lambda e: int(e.id))
    jobs = []
    if correlation_id:
        jobs = [{"id": j.id, "description": j.description, "status": j.status.value}
                for j in conn.system_service().jobs_service().list(search="correlation_id=%s" % correlation_id)]
    return {"id": vm_id, "action": action, "state": status, "reached": status == TARGET[action],
            "statuses_seen": seen, "correlation_id": correlation_id, "jobs": jobs,
            "events": [event_json(e) for e in events if e.vm is not None and e.vm.id == vm_id]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--username", default="admin@internal")
    p.add_argument("--password", default="s3cret+p@ss&=")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    tg = sub.add_parser("tag")
    tg.add_argument("vm_id")
    tg.add_argument("paths", nargs="+", help="tag paths from the root, e.g. env/prod")
    ev = sub.add_parser("events")
    ev.add_argument("--from", dest="from_", type=int, default=0)
    for action in TARGET:
        a = sub.add_parser(action)
        a.add_argument("vm_id")
        a.add_argument("--correlation-id")
        a.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args(argv)
    conn = connect(args)
    try:
        if args.command == "list":
            result = list_vms(conn)
        elif args.command == "tag":
            result = tag_vm(conn, args.vm_id, args.paths)
        elif args.command == "events":
            events = conn.system_service().events_service().list(from_=args.from_)
            result = [event_json(e) for e in sorted(events, key=lambda e: int(e.id))]
        else:
            result = run_action(conn, args.command, args.vm_id, args.correlation_id, args.timeout)
    except sdk.Error as e:
        json.dump({"error": type(e).__name__, "message": str(e), "code": e.code,
                   "fault": {"reason": e.fault.reason, "detail": e.fault.detail} if e.fault else None},
                  sys.stdout)
        sys.stdout.write("\n")
        return 1
    finally:
        conn.close()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
