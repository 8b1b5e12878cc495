"""Cross-check a CloudStack endpoint with the independent `cs` client.

    python tests/fakes/cloudstack/witness.py --url URL [--ca CA] [--key K --secret S] list [--name NAME]
    python tests/fakes/cloudstack/witness.py --url URL ... start|stop|force-stop|reboot|force-reboot VM_ID
    python tests/fakes/cloudstack/witness.py --url URL ... events

URL is the fake's base URL (its launch line) or a full .../client/api
endpoint. Without --key/--secret the fake's defaults are read from
<URL>/_fake/info. Prints JSON on stdout; exits 1 (with a JSON error) when
CloudStack refuses the call or the job fails.
"""

import argparse
import json
import sys

import cs
import requests


def endpoint_of(url):
    url = url.rstrip("/")
    return url if url.endswith("/client/api") else url + "/client/api"


def base_of(url):
    url = url.rstrip("/")
    return url[: -len("/client/api")] if url.endswith("/client/api") else url


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--ca", default=None)
    ap.add_argument("--key", default=None)
    ap.add_argument("--secret", default=None)
    ap.add_argument("--poll-interval", type=float, default=0.2)
    ap.add_argument("--job-timeout", type=int, default=300)
    ap.add_argument("--name", default=None, help="list: only VMs whose name contains this (a signed request value)")
    ap.add_argument("action", choices=["list", "start", "stop", "force-stop", "reboot", "force-reboot", "events", "tag"])
    ap.add_argument("vm_id", nargs="?")
    ap.add_argument("tags", nargs="*", help="tag: KEY=VALUE pairs to create on the VM")
    args = ap.parse_args(argv)
    if args.action not in ("list", "events") and not args.vm_id:
        ap.error("%s needs a VM id" % args.action)
    verify = args.ca if args.ca and args.ca != "null" else True
    key, secret = args.key, args.secret
    if key is None or secret is None:
        info = requests.get(base_of(args.url) + "/_fake/info", verify=verify, timeout=10).json()
        key, secret = key or info["api_key"], secret or info["secret_key"]
    client = cs.CloudStack(endpoint=endpoint_of(args.url), key=key, secret=secret, verify=verify,
                           poll_interval=args.poll_interval, job_timeout=args.job_timeout)
    try:
        if args.action == "list":
            # listall=true with projectid=-1 also lists project VMs (4.15+).
            extra = {"name": args.name} if args.name is not None else {}
            vms = client.listVirtualMachines(listall=True, projectid=-1, fetch_list=True, **extra)
            out = [{"id": v["id"], "name": v["name"], "state": v["state"],
                    "tags": {t["key"]: t["value"] for t in v.get("tags") or []}} for v in vms]
        elif args.action == "tag":
            pairs = [t.split("=", 1) for t in args.tags]
            client.createTags(resourceids=args.vm_id, resourcetype="UserVm", fetch_result=True,
                              tags=[{"key": k, "value": v} for k, v in pairs])
            out = {"id": args.vm_id, "tags": dict(pairs)}
        elif args.action == "events":
            out = client.listEvents(listall=True, projectid=-1, fetch_list=True)
        else:
            command = {"start": "startVirtualMachine", "stop": "stopVirtualMachine",
                       "force-stop": "stopVirtualMachine", "reboot": "rebootVirtualMachine",
                       "force-reboot": "rebootVirtualMachine"}[args.action]
            extra = {"forced": True} if args.action.startswith("force-") else {}
            result = getattr(client, command)(id=args.vm_id, fetch_result=True, **extra)
            vm = result["virtualmachine"]
            out = {"id": vm["id"], "name": vm["name"], "state": vm["state"]}
    except cs.CloudStackApiException as err:
        status = err.response.status_code if err.response is not None else None
        json.dump({"error": str(err.args[0]) if err.args else "error", "status": status, "detail": err.error},
                  sys.stdout)
        sys.stdout.write("\n")
        return 1
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
