"""Microsoft's own SDK as a second opinion on the fake (and for the Rust tests
to cross-check what Powerdeck sees).

    python tests/fakes/azure/witness.py --url URL --ca CA [--tenant T] [--client-id C]
        [--subscription SUB ...] list
    python tests/fakes/azure/witness.py --url URL --ca CA ... \
        start|power-off|power-off-skip|deallocate|hibernate|restart <vm resource id>

The client secret comes from $AZURE_CLIENT_SECRET (default: the fake's default
secret), so it never has to appear on a command line.

    python tests/fakes/azure/witness.py --url URL --ca CA ... bench

`list` prints [{"id", "name", "state", "provisioning_state", "subscription"}]
from list_all(status_only="true") over every subscription (GET /subscriptions
through the same SDK pipeline when none is given). An action runs the SDK's
own LRO poller to completion and prints {"id", "action", "lro_status",
"state"} (state read back through instance_view), or {"…", "error": {code,
message}} with exit status 1. `bench` times what the SDK takes to list every
VM of every subscription, statusOnly and in full (after signing in), for
BENCHMARKS.md's side-by-side.
"""

import argparse
import json
import os
import re
import sys
import time

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient

if __package__ in (None, ""):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
from tests.fakes.azure.auth import DEFAULT_CLIENT_ID, DEFAULT_SECRET, DEFAULT_TENANT  # noqa: E402

SCOPE = "https://management.azure.com/.default"
VM_ID = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Compute/"
                   r"virtualMachines/([^/]+)$", re.IGNORECASE)


def credential(args):
    return ClientSecretCredential(args.tenant, args.client_id, os.environ.get("AZURE_CLIENT_SECRET", DEFAULT_SECRET),
                                  authority=args.url, disable_instance_discovery=True, connection_verify=args.ca)


def client(args, cred, sub):
    return ComputeManagementClient(cred, sub, base_url=args.url, credential_scopes=[SCOPE],
                                   connection_verify=args.ca)


def subscriptions(args, cred):
    """GET /subscriptions with nextLink, through the SDK's ARM pipeline (auth, retries)."""
    pipe = client(args, cred, "00000000-0000-0000-0000-000000000000")
    url, out = args.url + "/subscriptions?api-version=2022-12-01", []
    while url:
        resp = pipe.send_request(HttpRequest("GET", url))
        resp.raise_for_status()
        page = resp.json()
        out += [s["subscriptionId"] for s in page["value"]]
        url = page.get("nextLink")
    return out


def power_code(statuses):
    return next((s.code for s in statuses or [] if s.code and s.code.startswith("PowerState/")), None)


def list_vms(args, cred):
    rows = []
    for sub in args.subscription or subscriptions(args, cred):
        for vm in client(args, cred, sub).virtual_machines.list_all(status_only="true"):
            statuses = vm.instance_view.statuses if vm.instance_view else []
            rows.append({"id": vm.id, "name": vm.name, "state": power_code(statuses),
                         "provisioning_state": next((s.code for s in statuses
                                                     if s.code.startswith("ProvisioningState/")), None),
                         "subscription": sub})
    return rows


def bench(args, cred):
    """Seconds the SDK spends listing: sign-in, subscriptions, statusOnly lists, full lists."""
    t0 = time.monotonic()
    cred.get_token(SCOPE)
    t1 = time.monotonic()
    subs = args.subscription or subscriptions(args, cred)
    t2 = time.monotonic()
    status_only = sum(1 for sub in subs for _ in client(args, cred, sub).virtual_machines.list_all(status_only="true"))
    t3 = time.monotonic()
    full = sum(1 for sub in subs for _ in client(args, cred, sub).virtual_machines.list_all())
    t4 = time.monotonic()
    return {"subscriptions": len(subs), "vms_status_only": status_only, "vms_full": full, "sign_in_s": t1 - t0,
            "subscriptions_s": t2 - t1, "status_only_s": t3 - t2, "full_s": t4 - t3}


def run_action(args, cred):
    m = VM_ID.match(args.vm)
    if not m:
        raise SystemExit("not a VM resource id: %r" % args.vm)
    sub, rg, name = m.groups()
    vms = client(args, cred, sub).virtual_machines
    begin = {
        "start": lambda: vms.begin_start(rg, name),
        "power-off": lambda: vms.begin_power_off(rg, name),
        "power-off-skip": lambda: vms.begin_power_off(rg, name, skip_shutdown=True),
        "deallocate": lambda: vms.begin_deallocate(rg, name),
        "hibernate": lambda: vms.begin_deallocate(rg, name, hibernate=True),
        "restart": lambda: vms.begin_restart(rg, name),
    }[args.action]
    out = {"id": args.vm, "action": args.action}
    poller = None
    try:
        poller = begin()
        poller.result()
        out["lro_status"] = poller.status()
        out["state"] = power_code(vms.instance_view(rg, name).statuses)
        return out, 0
    except HttpResponseError as e:
        out["lro_status"] = poller.status() if poller else None
        out["http_status"] = e.status_code
        out["error"] = {"code": e.error.code if e.error else None,
                        "message": e.error.message if e.error else str(e)}
        return out, 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--tenant", default=DEFAULT_TENANT)
    p.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    p.add_argument("--subscription", action="append")
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("list")
    sub.add_parser("bench")
    for action in ("start", "power-off", "power-off-skip", "deallocate", "hibernate", "restart"):
        sub.add_parser(action).add_argument("vm")
    args = p.parse_args(argv)
    cred = credential(args)
    if args.action == "list":
        print(json.dumps(list_vms(args, cred)))
        return 0
    if args.action == "bench":
        print(json.dumps(bench(args, cred)))
        return 0
    out, rc = run_action(args, cred)
    print(json.dumps(out))
    return rc


if __name__ == "__main__":
    sys.exit(main())
