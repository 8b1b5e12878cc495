"""The Azure fake, proven with Microsoft's own SDK (azure-identity +
azure-mgmt-compute), plus the fake's own behaviours at the wire level.

Run from the repository root:
    /work/main/.venv/bin/python -m unittest discover -s tests/fakes -t . -p 'test_*.py'
"""

import json
import logging
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.parse

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient

from .auth import DEFAULT_SECRET
from .harness import REPO, FakeAzure

SCOPE = "https://management.azure.com/.default"
API = "2026-04-01"
WITNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "witness.py")
# azure-identity logs every refused sign-in as a warning; the tests expect some.
logging.getLogger("azure.identity").setLevel(logging.ERROR)


def wait_until(predicate, timeout=10.0, interval=0.02):
    """Poll predicate until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached within %.1fs" % timeout)
        time.sleep(interval)


def power(statuses):
    return next(s.code for s in statuses if s.code.startswith("PowerState/"))


class SdkCase(unittest.TestCase):
    """One fake per class; every test starts from the seeded state."""
    ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.fake = FakeAzure(*cls.ARGS)
        cls.subs = [s["id"] for s in cls.fake.ctl("/subscriptions")]

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def setUp(self):
        self.fake.ctl("/reset", {})

    def credential(self, client_id=None, secret=DEFAULT_SECRET):
        return ClientSecretCredential(self.fake.config["tenant"], client_id or self.fake.config["client_id"], secret,
                                      authority=self.fake.url, disable_instance_discovery=True,
                                      connection_verify=self.fake.ca)

    def client(self, sub=None, cred=None):
        return ComputeManagementClient(cred or self.credential(), sub or self.subs[0], base_url=self.fake.url,
                                       credential_scopes=[SCOPE], connection_verify=self.fake.ca)

    def truth(self, sub=None):
        return [v for v in self.fake.ctl("/vms") if sub is None or v["subscription"] == sub]

    def new_vm(self, **kw):
        kw.setdefault("subscription", self.subs[0])
        return self.fake.ctl("/vms", dict(count=1, **kw))[0]

    def state_of(self, vm):
        return self.fake.ctl("/vms/" + vm["name"])["state"]


class SdkWitnessTest(SdkCase):
    TRANSITION_S = 0.5  # long enough to see a transitional state, short enough for one 1 s poll
    ARGS = ("--subscriptions", "3", "--vms", "5", "--page-size", "2", "--transition-ms", "500",
            "--retry-after", "1", "--seed", "7", "--with-failed-vm", "--mixed-case-rg",
            "--read-only-client", "0bad0000-0000-4000-8000-000000000001:read-only-secret")

    # ---------------------------------------------------------- sign-in
    def test_msal_discovers_the_tenant_and_gets_a_token(self):
        token = self.credential().get_token(SCOPE)
        self.assertTrue(token.token)
        self.assertAlmostEqual(token.expires_on, time.time() + 3600, delta=30)
        calls = self.fake.ctl("/calls")
        self.assertEqual((calls.get("discovery"), calls.get("token")), (1, 1))

    def test_wrong_secret_is_refused_by_azure_identity_without_echoing_it(self):
        with self.assertRaises(ClientAuthenticationError) as cm:
            self.credential(secret="not-the-secret-42").get_token(SCOPE)
        self.assertIn("AADSTS7000215", str(cm.exception))
        self.assertNotIn("not-the-secret-42", str(cm.exception))

    def test_unknown_tenant_fails_discovery(self):
        cred = ClientSecretCredential("no-such-tenant", self.fake.config["client_id"], DEFAULT_SECRET,
                                      authority=self.fake.url, disable_instance_discovery=True,
                                      connection_verify=self.fake.ca)
        with self.assertRaises(ClientAuthenticationError):
            cred.get_token(SCOPE)

    # ---------------------------------------------------------- inventory
    def test_subscriptions_are_paged_through_the_sdk_pipeline(self):
        pipe = self.client()
        url, seen, pages = self.fake.url + "/subscriptions?api-version=2022-12-01", [], 0
        while url:
            resp = pipe.send_request(HttpRequest("GET", url))
            resp.raise_for_status()
            page = resp.json()
            pages += 1
            for s in page["value"]:
                self.assertEqual(s["id"], "/subscriptions/" + s["subscriptionId"])
                self.assertEqual((s["state"], s["tenantId"]), ("Enabled", self.fake.config["tenant"]))
                seen.append(s["subscriptionId"])
            url = page.get("nextLink")
        self.assertEqual(sorted(seen), sorted(self.subs))
        self.assertEqual(pages, 2)  # 3 subscriptions, pages of 2

    def test_list_all_shows_the_same_vms_and_power_states_as_the_truth(self):
        for sub in self.subs:
            truth = {v["id"].lower(): v for v in self.truth(sub)}
            client = self.client(sub)
            self.fake.ctl("/calls/reset", {})
            full = list(client.virtual_machines.list_all())
            self.assertEqual(self.fake.ctl("/calls")["list"], 3)  # 5 VMs, pages of 2
            self.assertEqual({vm.id.lower() for vm in full}, set(truth))
            for vm in full:
                t = truth[vm.id.lower()]
                self.assertEqual((vm.name, vm.location, vm.tags), (t["name"], t["location"], t["tags"]))
                self.assertEqual(vm.hardware_profile.vm_size, t["vm_size"])
                self.assertEqual(vm.storage_profile.os_disk.os_type, t["os_type"])
                self.assertEqual(vm.additional_capabilities.hibernation_enabled, t["hibernation_enabled"])
                self.assertIsNone(vm.instance_view)
            status = list(client.virtual_machines.list_all(status_only="true"))
            self.assertEqual({vm.id.lower() for vm in status}, set(truth))
            for vm in status:
                t = truth[vm.id.lower()]
                self.assertEqual(power(vm.instance_view.statuses), t["state"])
                self.assertEqual(vm.instance_view.statuses[0].code, t["provisioning_state"])
                self.assertIsNone(vm.tags)  # statusOnly answers carry status, not facts

    def test_instance_view_per_vm_matches_the_truth(self):
        client = self.client()
        truth = self.truth(self.subs[0])
        self.assertIn("ProvisioningState/failed/OSProvisioningTimedOut", [v["provisioning_state"] for v in truth])
        for t in truth:
            iv = client.virtual_machines.instance_view(t["resource_group"], t["name"])
            self.assertEqual(power(iv.statuses), t["state"])
            self.assertEqual(iv.statuses[0].code, t["provisioning_state"])
            self.assertIsNotNone(iv.statuses[0].time)
            self.assertIsNone(iv.statuses[1].time)  # PowerState carries no time
            got = client.virtual_machines.get(t["resource_group"], t["name"], expand="instanceView")
            self.assertEqual(power(got.instance_view.statuses), t["state"])
            self.assertEqual(got.id.lower(), t["id"].lower())

    def test_resource_group_casing_differs_between_answers_but_ids_match_case_insensitively(self):
        client = self.client()
        mixed = [v for v in self.truth(self.subs[0]) if v["mixed_case_rg"]]
        self.assertTrue(mixed)
        full = {vm.name: vm.id for vm in client.virtual_machines.list_all()}
        status = {vm.name: vm.id for vm in client.virtual_machines.list_all(status_only="true")}
        for t in mixed:
            self.assertIn("/resourceGroups/RG-Web/", full[t["name"]])
            self.assertIn("/resourceGroups/rg-web/", status[t["name"]])
            self.assertNotEqual(full[t["name"]], status[t["name"]])
            self.assertEqual(full[t["name"]].lower(), status[t["name"]].lower())
            got = client.virtual_machines.get("RG-WEB", t["name"].upper())
            self.assertIn("/resourceGroups/rg-web/", got.id)
        self.assertEqual(len({i.lower() for i in full.values()} | {i.lower() for i in status.values()}), len(full))

    # ---------------------------------------------------------- operations
    def test_power_off_runs_to_completion_and_leaves_the_vm_stopped(self):
        vm = self.new_vm(state="running")
        client = self.client()
        poller = client.virtual_machines.begin_power_off(vm["resource_group"], vm["name"])
        poller.result()
        self.assertEqual(poller.status(), "Succeeded")
        iv = client.virtual_machines.instance_view(vm["resource_group"], vm["name"])
        self.assertEqual(power(iv.statuses), "PowerState/stopped")
        self.assertEqual(self.state_of(vm), "PowerState/stopped")
        calls = self.fake.ctl("/calls")
        self.assertGreaterEqual(calls["operation_status"], 1)
        self.assertEqual(calls["operation_result"], 1)  # the SDK's final GET on Location

    def test_stubborn_guest_holds_a_graceful_power_off_until_skip_shutdown_preempts_it(self):
        vm = self.new_vm(state="running")
        self.fake.ctl("/vms/%s/stubborn" % vm["name"], {"on": True})
        client = self.client()
        graceful = client.virtual_machines.begin_power_off(vm["resource_group"], vm["name"])
        held_until = time.monotonic() + 2 * self.TRANSITION_S
        while time.monotonic() < held_until:  # twice the transition time: still not stopped
            self.assertEqual(self.state_of(vm), "PowerState/stopping")
            self.assertEqual([o["status"] for o in self.fake.ctl("/operations")], ["InProgress"])
            time.sleep(0.05)
        forced = client.virtual_machines.begin_power_off(vm["resource_group"], vm["name"], skip_shutdown=True)
        forced.result()
        self.assertEqual(forced.status(), "Succeeded")
        self.assertEqual(self.state_of(vm), "PowerState/stopped")
        with self.assertRaises(HttpResponseError) as cm:
            graceful.result()
        self.assertEqual(cm.exception.error.code, "OperationPreempted")
        self.assertEqual(graceful.status(), "Canceled")

    def test_deallocate_then_start(self):
        vm = self.new_vm(state="running")
        client = self.client()
        client.virtual_machines.begin_deallocate(vm["resource_group"], vm["name"]).result()
        iv = client.virtual_machines.instance_view(vm["resource_group"], vm["name"])
        self.assertEqual(power(iv.statuses), "PowerState/deallocated")
        client.virtual_machines.begin_start(vm["resource_group"], vm["name"]).result()
        iv = client.virtual_machines.instance_view(vm["resource_group"], vm["name"])
        self.assertEqual(power(iv.statuses), "PowerState/running")
        self.assertEqual(self.state_of(vm), "PowerState/running")

    def test_restart_shows_a_transition_then_running(self):
        vm = self.new_vm(state="running")
        client = self.client()
        poller = client.virtual_machines.begin_restart(vm["resource_group"], vm["name"])
        seen = set()
        while not poller.done():
            seen.add(self.state_of(vm))
            time.sleep(0.02)
        poller.result()
        self.assertIn("PowerState/starting", seen)
        self.assertEqual(self.state_of(vm), "PowerState/running")

    def test_hibernate_needs_hibernation_enabled(self):
        client = self.client()
        yes = self.new_vm(state="running", hibernation_enabled=True)
        client.virtual_machines.begin_deallocate(yes["resource_group"], yes["name"], hibernate=True).result()
        codes = [s.code for s in client.virtual_machines.instance_view(yes["resource_group"], yes["name"]).statuses]
        self.assertEqual(codes[1:], ["PowerState/deallocated", "HibernationState/Hibernated"])
        no = self.new_vm(state="running", hibernation_enabled=False)
        with self.assertRaises(HttpResponseError) as cm:
            client.virtual_machines.begin_deallocate(no["resource_group"], no["name"], hibernate=True)
        self.assertEqual((cm.exception.status_code, cm.exception.error.code), (409, "OperationNotAllowed"))
        self.assertEqual(self.state_of(no), "PowerState/running")

    def test_a_failed_operation_raises_the_fakes_code_and_message(self):
        vm = self.new_vm(state="deallocated")
        self.fake.ctl("/fail", {"action": "start", "count": 1, "code": "AllocationFailed",
                                "message": "Allocation failed. We do not have sufficient capacity."})
        client = self.client()
        poller = client.virtual_machines.begin_start(vm["resource_group"], vm["name"])
        with self.assertRaises(HttpResponseError) as cm:
            poller.result()
        self.assertEqual(cm.exception.error.code, "AllocationFailed")
        self.assertIn("We do not have sufficient capacity", str(cm.exception))
        self.assertEqual(poller.status(), "Failed")
        truth = self.fake.ctl("/vms/" + vm["name"])
        self.assertEqual(truth["state"], "PowerState/deallocated")
        self.assertEqual(truth["provisioning_state"], "ProvisioningState/failed/AllocationFailed")

    def test_unknown_vm_and_resource_group_are_arm_404s(self):
        client = self.client()
        vm = self.truth(self.subs[0])[0]
        with self.assertRaises(ResourceNotFoundError) as cm:
            client.virtual_machines.instance_view(vm["resource_group"], "no-such-vm")
        self.assertEqual(cm.exception.error.code, "ResourceNotFound")
        with self.assertRaises(ResourceNotFoundError) as cm:
            client.virtual_machines.begin_start("no-such-group", vm["name"])
        self.assertEqual(cm.exception.error.code, "ResourceGroupNotFound")

    def test_read_only_principal_may_list_but_not_act(self):
        cred = self.credential("0bad0000-0000-4000-8000-000000000001", "read-only-secret")
        client = self.client(cred=cred)
        self.assertEqual(len(list(client.virtual_machines.list_all())), 5)
        vm = self.truth(self.subs[0])[0]
        with self.assertRaises(HttpResponseError) as cm:
            client.virtual_machines.begin_start(vm["resource_group"], vm["name"])
        self.assertEqual((cm.exception.status_code, cm.exception.error.code), (403, "AuthorizationFailed"))

    # ---------------------------------------------------------- throttling and tokens
    def test_a_429_is_retried_through_by_the_sdk_retry_policy(self):
        self.fake.ctl("/throttle", {"count": 2, "retry_after": 1})
        started = time.monotonic()
        vms = list(self.client().virtual_machines.list_all())
        self.assertEqual(len(vms), 5)
        self.assertGreaterEqual(time.monotonic() - started, 2.0)  # Retry-After honoured twice
        calls = self.fake.ctl("/calls")
        self.assertEqual(calls["throttled"], 2)
        self.assertEqual(calls["list"], 3 + 2)

    def test_token_expiry_is_not_renewed_by_the_sdk_it_fails_clearly(self):
        """What azure-core + azure-identity actually do when ARM says ExpiredAuthenticationToken
        for a token MSAL still believes valid: the 401 challenge (error="invalid_token", no
        claims) is not one the ARM policy can answer, so the call fails with
        ClientAuthenticationError, and the next call fails the same way because MSAL serves the
        same cached token. A fresh credential recovers."""
        cred = self.credential()
        client = self.client(cred=cred)
        self.assertEqual(len(list(client.virtual_machines.list_all())), 5)
        self.fake.ctl("/tokens/expire", {})
        for _ in range(2):
            with self.assertRaises(ClientAuthenticationError) as cm:
                list(client.virtual_machines.list_all())
            self.assertEqual(cm.exception.error.code, "ExpiredAuthenticationToken")
        self.assertEqual(self.fake.ctl("/calls")["token"], 1)
        self.assertEqual(len(list(self.client().virtual_machines.list_all())), 5)
        self.assertEqual(self.fake.ctl("/calls")["token"], 2)

    # ---------------------------------------------------------- witness CLI
    def test_witness_cli_lists_the_truth_and_runs_an_action(self):
        args = [sys.executable, WITNESS, "--url", self.fake.url, "--ca", self.fake.ca]
        out = subprocess.run(args + ["list"], capture_output=True, text=True, cwd=REPO, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        listed = {r["id"].lower(): r["state"] for r in json.loads(out.stdout)}
        self.assertEqual(listed, {v["id"].lower(): v["state"] for v in self.truth()})
        out = subprocess.run(args + ["bench"], capture_output=True, text=True, cwd=REPO, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        timed = json.loads(out.stdout)
        self.assertEqual((timed["vms_status_only"], timed["vms_full"]), (len(listed), len(listed)))
        vm = self.new_vm(state="running")
        out = subprocess.run(args + ["deallocate", vm["id"]], capture_output=True, text=True, cwd=REPO, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["state"], "PowerState/deallocated")
        self.assertEqual(self.state_of(vm), "PowerState/deallocated")


class ShortTokensAndBudgetTest(SdkCase):
    ARGS = ("--subscriptions", "1", "--vms", "2", "--token-ttl", "2", "--reads-per-hour", "8",
            "--writes-per-hour", "2", "--transition-ms", "100")

    def test_sdk_renews_short_lived_tokens_by_itself(self):
        # Tokens living less than 5 minutes are never served from MSAL's cache and
        # azure-core asks for one whenever its token is within 300 s of expiry.
        client = self.client()
        for _ in range(3):
            self.assertEqual(len(list(client.virtual_machines.list_all())), 2)
        calls = self.fake.ctl("/calls")
        self.assertEqual(calls["token"], calls["list"])
        self.assertNotIn("unauthorized", calls)

    def test_a_token_past_its_lifetime_is_refused(self):
        token = self.fake.token()
        path = "/subscriptions/%s/providers/Microsoft.Compute/virtualMachines?api-version=%s" % (self.subs[0], API)
        self.assertEqual(self.fake.arm("GET", path, token)[0], 200)
        status, headers, body = wait_until(lambda: (lambda r: r if r[0] == 401 else None)(
            self.fake.arm("GET", path, token)), timeout=6, interval=0.2)
        self.assertEqual(json.loads(body)["error"]["code"], "ExpiredAuthenticationToken")
        self.assertIn('error="invalid_token"', headers["www-authenticate"])
        self.assertIn('error_description="The access token has expired."', headers["www-authenticate"])

    def test_request_budgets_count_down_then_429(self):
        token = self.fake.token()
        path = "/subscriptions/%s/providers/Microsoft.Compute/virtualMachines?api-version=%s" % (self.subs[0], API)
        left = [int(self.fake.arm("GET", path, token)[1]["x-ms-ratelimit-remaining-subscription-reads"])
                for _ in range(8)]
        self.assertEqual(left, [7, 6, 5, 4, 3, 2, 1, 0])
        status, headers, body = self.fake.arm("GET", path, token)
        self.assertEqual(status, 429)
        self.assertEqual(json.loads(body)["error"]["code"], "SubscriptionRequestsThrottled")
        self.assertGreater(int(headers["retry-after"]), 3000)
        self.assertEqual(headers["x-ms-ratelimit-remaining-subscription-reads"], "0")
        vm = self.truth()[0]
        act = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s/start?api-version=%s" \
              % (vm["subscription"], vm["resource_group"], vm["name"], API)
        writes = [self.fake.arm("POST", act, token) for _ in range(3)]
        self.assertEqual([w[0] for w in writes], [202, 202, 429])
        self.assertEqual([w[1]["x-ms-ratelimit-remaining-subscription-writes"] for w in writes], ["1", "0", "0"])


class WireAndControlTest(SdkCase):
    """The fake's own behaviours, checked at the HTTP level."""
    ARGS = ("--subscriptions", "2", "--vms", "3", "--page-size", "2", "--transition-ms", "200", "--seed", "3")

    def setUp(self):
        super().setUp()
        self.token = self.fake.token()

    def list_path(self, sub=None, extra=""):
        return "/subscriptions/%s/providers/Microsoft.Compute/virtualMachines?api-version=%s%s" % (
            sub or self.subs[0], API, extra)

    def vm_path(self, vm, suffix=""):
        return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s%s?api-version=%s" \
               % (vm["subscription"], vm["resource_group"], vm["name"], suffix, API)

    def get_json(self, path):
        status, headers, body = self.fake.arm("GET", path, self.token)
        self.assertEqual(status, 200, body[:300])
        return json.loads(body)

    def follow(self, path, limit=20):
        """All pages of a list (path or absolute nextLink)."""
        pages = []
        while path and len(pages) < limit:
            page = self.get_json(urllib.parse.urlsplit(path)._replace(scheme="", netloc="").geturl())
            pages.append(page)
            path = page.get("nextLink")
        return pages

    # ---------------------------------------------------------- ARM basics
    def test_next_links_carry_api_version_skiptoken_and_status_only(self):
        pages = self.follow(self.list_path(extra="&statusOnly=true"))
        self.assertEqual(len(pages), 2)
        link = urllib.parse.urlsplit(pages[0]["nextLink"])
        q = urllib.parse.parse_qs(link.query)
        self.assertEqual((q["api-version"], q["statusOnly"]), ([API], ["true"]))
        self.assertIn("$skiptoken", q)
        self.assertEqual(link.netloc, "127.0.0.1:%d" % self.fake.port)
        ids = [vm["id"] for p in pages for vm in p["value"]]
        self.assertEqual(sorted(ids), sorted(v["id"] for v in self.truth(self.subs[0])))
        self.assertTrue(all("instanceView" in vm["properties"] for p in pages for vm in p["value"]))

    def test_paths_match_case_insensitively(self):
        vm = self.truth(self.subs[0])[0]
        path = self.vm_path(vm, "/instanceView")
        upper = path.split("?")[0].upper() + "?api-version=" + API
        lower = path.split("?")[0].lower() + "?api-version=" + API
        self.assertEqual(self.get_json(upper)["statuses"], self.get_json(lower)["statuses"])

    def test_missing_api_version_and_bad_tokens_get_arm_errors(self):
        status, headers, body = self.fake.arm("GET", self.list_path().split("?")[0], self.token)
        self.assertEqual((status, json.loads(body)["error"]["code"]), (400, "MissingApiVersionParameter"))
        self.assertIn("x-ms-request-id", headers)
        self.assertIn("x-ms-correlation-request-id", headers)
        self.assertIn("x-ms-ratelimit-remaining-subscription-reads", headers)
        status, headers, body = self.fake.arm("GET", self.list_path(), "not-a-token-we-issued")
        self.assertEqual((status, json.loads(body)["error"]["code"]), (401, "InvalidAuthenticationToken"))
        self.assertIn('error="invalid_token"', headers["www-authenticate"])
        status, _, body = self.fake.raw("GET", self.list_path())
        self.assertEqual((status, json.loads(body)["error"]["code"]), (401, "AuthenticationFailed"))

    def test_async_operation_headers_status_and_location(self):
        vm = self.new_vm(state="running")
        status, headers, body = self.fake.arm("POST", self.vm_path(vm, "/powerOff") + "&skipShutdown=false",
                                              self.token)
        self.assertEqual((status, body), (202, b""))
        self.assertEqual(headers["retry-after"], "1")
        self.assertIn("x-ms-ratelimit-remaining-subscription-writes", headers)
        op_url = urllib.parse.urlsplit(headers["azure-asyncoperation"])
        loc_url = urllib.parse.urlsplit(headers["location"])
        self.assertRegex(op_url.path, r"/providers/Microsoft\.Compute/locations/%s/operations/[0-9a-f-]+$"
                         % vm["location"])
        self.assertRegex(loc_url.path, r"/operationResults/[0-9a-f-]+$")
        self.assertIn("api-version=" + API, op_url.query)
        op = self.get_json(op_url.path + "?" + op_url.query)
        self.assertEqual(op["status"], "InProgress")
        self.assertNotIn("endTime", op)
        self.assertEqual(self.fake.arm("GET", loc_url.path + "?" + loc_url.query, self.token)[0], 202)
        done = wait_until(lambda: (lambda o: o if o["status"] != "InProgress" else None)(
            self.get_json(op_url.path + "?" + op_url.query)), timeout=5)
        self.assertEqual(done["status"], "Succeeded")
        self.assertLessEqual(done["startTime"], done["endTime"])
        self.assertEqual(self.fake.arm("GET", loc_url.path + "?" + loc_url.query, self.token)[:1], (200,))

    def test_restart_of_a_deallocated_vm_is_not_allowed(self):
        vm = self.new_vm(state="deallocated")
        status, _, body = self.fake.arm("POST", self.vm_path(vm, "/restart"), self.token)
        self.assertEqual((status, json.loads(body)["error"]["code"]), (409, "OperationNotAllowed"))

    # ---------------------------------------------------------- control API
    def test_out_of_band_change_preempts_the_running_operation(self):
        vm = self.new_vm(state="running", hibernation_enabled=False)
        self.fake.ctl("/vms/%s/stubborn" % vm["name"], {"on": True})
        self.assertEqual(self.fake.arm("POST", self.vm_path(vm, "/powerOff"), self.token)[0], 202)
        self.fake.ctl("/vms/%s/state" % urllib.parse.quote(vm["id"], safe=""),
                      {"state": "PowerState/deallocated", "provisioning": "ProvisioningState/failed/InternalError"})
        view = self.get_json(self.vm_path(vm, "/instanceView"))
        self.assertEqual(power_code(view), "PowerState/deallocated")
        self.assertEqual(view["statuses"][0]["code"], "ProvisioningState/failed/InternalError")
        ops = self.fake.ctl("/operations")
        self.assertEqual([(o["status"], o["error"]["code"]) for o in ops], [("Canceled", "OperationPreempted")])

    def test_vms_can_be_added_and_removed(self):
        added = self.fake.ctl("/vms", {"count": 2, "subscription": self.subs[1], "state": "stopped"})
        ids = {vm["id"] for p in self.follow(self.list_path(self.subs[1])) for vm in p["value"]}
        self.assertTrue({a["id"] for a in added} <= ids)
        self.assertEqual(len(ids), 5)
        self.fake.ctl("/vms/" + added[0]["name"], method="DELETE")
        status, _, body = self.fake.arm("GET", self.vm_path(added[0], "/instanceView"), self.token)
        self.assertEqual((status, json.loads(body)["error"]["code"]), (404, "ResourceNotFound"))

    def test_immediate_failure_and_call_counts(self):
        self.fake.ctl("/fail", {"action": "list", "immediate": True, "code": "Conflict", "status": 409,
                                "message": "The request conflicts with the current state."})
        status, _, body = self.fake.arm("GET", self.list_path(), self.token)
        self.assertEqual((status, json.loads(body)), (409, {"error": {
            "code": "Conflict", "message": "The request conflicts with the current state."}}))
        self.assertEqual(self.fake.arm("GET", self.list_path(), self.token)[0], 200)
        self.assertEqual(self.fake.ctl("/calls")["list"], 2)
        self.fake.ctl("/calls/reset", {})
        self.assertEqual(self.fake.ctl("/calls"), {})

    def test_throttle_answers_like_arm(self):
        self.fake.ctl("/throttle", {"count": 1, "retry_after": 7})
        status, headers, body = self.fake.arm("GET", self.list_path(), self.token)
        self.assertEqual((status, headers["retry-after"]), (429, "7"))
        self.assertEqual(headers["x-ms-ratelimit-remaining-subscription-reads"], "0")
        self.assertEqual(json.loads(body)["error"]["code"], "SubscriptionRequestsThrottled")
        self.assertEqual(self.fake.arm("GET", self.list_path(), self.token)[0], 200)

    def test_outage_closes_connections_without_an_answer(self):
        self.fake.ctl("/outage", {"on": True})
        with self.assertRaises((ConnectionError, OSError)):
            self.fake.arm("GET", self.list_path(), self.token)
        self.fake.ctl("/outage", {"on": False})
        self.assertEqual(self.fake.arm("GET", self.list_path(), self.token)[0], 200)

    def test_cut_carries_the_action_out_and_loses_its_answer(self):
        vm = self.new_vm(state="running")
        self.fake.ctl("/cut", {"action": "powerOff"})
        with self.assertRaises((ConnectionError, OSError)):
            self.fake.arm("POST", self.vm_path(vm, "/powerOff"), self.token)
        self.assertEqual([o["action"] for o in self.fake.ctl("/operations")], ["powerOff"])
        calls = self.fake.ctl("/calls")
        self.assertEqual((calls["powerOff"], calls["cut"]), (1, 1))
        self.assertEqual(self.fake.arm("POST", self.vm_path(vm, "/powerOff"), self.token)[0], 202)

    # ---------------------------------------------------------- hostile modes
    def hostile(self, mode):
        self.fake.ctl("/hostile", {"mode": mode})

    def test_hostile_redirect_points_at_another_host_over_http(self):
        self.hostile("redirect")
        status, headers, _ = self.fake.arm("GET", self.list_path(), self.token)
        self.assertEqual(status, 307)
        target = urllib.parse.urlsplit(headers["location"])
        self.assertEqual((target.scheme, target.hostname), ("http", "127.0.0.2"))
        self.assertEqual(self.fake.ctl("/calls").get("redirected_hit"), None)
        sock = socket.create_connection((target.hostname, target.port), timeout=5)
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.path.encode())
        while sock.recv(4096):
            pass
        sock.close()
        self.assertEqual(self.fake.ctl("/calls")["redirected_hit"], 1)

    def test_hostile_html_and_wrong_root(self):
        self.hostile("html")
        status, headers, body = self.fake.arm("GET", self.list_path(), self.token)
        self.assertEqual((status, headers["content-type"]), (200, "text/html"))
        self.assertIn(b"Welcome to nginx", body)
        self.hostile("wrong-root")
        self.assertNotIn("value", self.get_json(self.list_path()))
        vm = self.truth(self.subs[0])[0]
        self.assertNotIn("statuses", self.get_json(self.vm_path(vm, "/instanceView")))

    def test_hostile_wrong_and_duplicate_ids(self):
        vm = self.truth(self.subs[0])[0]
        self.hostile("wrong-ids")
        ids = [v["id"] for p in self.follow(self.list_path()) for v in p["value"]]
        self.assertTrue(ids)
        self.assertFalse([i for i in ids if self.subs[0] in i])
        self.assertNotEqual(self.get_json(self.vm_path(vm, "/instanceView"))["computerName"], vm["name"])
        self.hostile("duplicate-ids")
        page = self.get_json(self.list_path())["value"]
        self.assertLess(len({v["id"] for v in page}), len(page))

    def test_hostile_endless_paging(self):
        self.hostile("endless-paging")
        pages = self.follow(self.list_path(), limit=8)
        self.assertEqual(len(pages), 8)
        links = [p["nextLink"] for p in pages]
        self.assertEqual(len(set(links)), 8)

    def test_hostile_slow_body_drips_one_byte_a_second(self):
        self.hostile("slow-body")
        with self.fake.arm("GET", self.list_path(), self.token, stream=True) as (status, headers, resp):
            self.assertEqual((status, headers["content-length"]), (200, "1000000"))
            self.assertEqual(resp.read(1), b"{")
            started = time.monotonic()
            self.assertEqual(resp.read(1), b" ")
            self.assertGreater(time.monotonic() - started, 0.5)

    def test_hostile_huge_body_is_200_megabytes(self):
        self.hostile("huge-body")
        with self.fake.arm("GET", self.list_path(), self.token, stream=True) as (status, headers, resp):
            self.assertEqual((status, int(headers["content-length"])), (200, 200 * 1024 * 1024))
            self.assertEqual(len(resp.read(1 << 20)), 1 << 20)

    def test_hostile_absurd_retry_after(self):
        self.hostile("absurd-retry-after")
        status, headers, _ = self.fake.arm("GET", self.list_path(), self.token)
        self.assertEqual((status, headers["retry-after"]), (429, str(10 ** 12)))

    def test_hostile_echo_secret(self):
        self.hostile("echo-secret")
        status, _, body = self.fake.arm("GET", self.list_path(), self.token)
        self.assertEqual((status, json.loads(body)["error"]["code"]), (401, "ExpiredAuthenticationToken"))
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": self.fake.config["client_id"],
                                       "client_secret": "s3cr3t-echo-me", "scope": SCOPE})
        status, _, body = self.fake.raw("POST", "/%s/oauth2/v2.0/token" % self.fake.config["tenant"],
                                        body=form.encode(),
                                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 401)
        self.assertIn("s3cr3t-echo-me", json.loads(body)["error_description"])

    def test_hostile_escape_names_and_reset(self):
        self.hostile("escape-names")
        names = [v["name"] for v in self.get_json(self.list_path())["value"]]
        self.assertTrue(all("\x1b[" in n and "\x07" in n for n in names))
        self.fake.ctl("/reset", {})
        names = [v["name"] for v in self.get_json(self.list_path())["value"]]
        self.assertFalse([n for n in names if "\x1b" in n])


def power_code(instance_view):
    return next(s["code"] for s in instance_view["statuses"] if s["code"].startswith("PowerState/"))


if __name__ == "__main__":
    unittest.main()
