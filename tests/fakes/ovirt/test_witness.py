"""The witness: the official oVirt SDK (ovirtsdk4) against the fake.

If the SDK cannot list, act, read jobs and events, or log in again the way it
does against a real engine, the fake is wrong. Behaviours the SDK does not
exercise (wire shapes, paging drift, faults, hostile modes) are in
test_behaviour.py.
"""

import json
import os
import subprocess
import sys
import unittest
import uuid

import ovirtsdk4 as sdk

from tests.fakes.ovirt import catalog
from tests.fakes.ovirt.harness import PASSWORD, USERNAME, FakeEngine, wait_for


class SdkWitness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # 400 ms transitions: short, yet long enough that the status read right after
        # an action still sees the transitional status on a busy 2-core machine.
        cls.fake = FakeEngine("--vms", "12", "--seed", "7", "--shutdown-timeout-ms", "1200", transition_ms=400)
        cls.conn = cls.connect()

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()
        cls.fake.stop()

    @classmethod
    def connect(cls, password=PASSWORD):
        return sdk.Connection(url=cls.fake.api_url, username=USERNAME, password=password, ca_file=cls.fake.ca)

    def setUp(self):
        self.fake.ctl("POST", "reset", {})
        self.system = self.conn.system_service()
        self.vms = self.system.vms_service()

    # ------------------------------------------------------------ helpers

    def all_vms(self, size=5):
        out, page = [], 1
        while True:
            batch = self.vms.list(search="page %d" % page, max=size)
            if not batch:
                return out
            out.extend(batch)
            page += 1

    def status(self, vm_id):
        return self.vms.vm_service(vm_id).get().status.value

    def wait_status(self, vm_id, target, timeout=5.0):
        return wait_for(lambda: self.status(vm_id) == target, timeout, what="%s to be %s" % (vm_id, target))

    def pick(self, state, stubborn=False, agent=None):
        """A VM put in `state` out of band, with a chosen guest behaviour."""
        vm = next(v for v in self.fake.truth()
                  if agent is None or v["agent"] == agent)
        self.fake.ctl("POST", "vms/%s/stubborn" % vm["id"], {"on": stubborn})
        self.fake.set_state(vm["id"], state)
        return vm["id"]

    def cursor(self):
        newest = self.system.events_service().list(max=1)
        return int(newest[0].id)

    def events_since(self, cursor, vm_id):
        events = self.system.events_service().list(from_=cursor)
        return sorted((e for e in events if e.vm is not None and e.vm.id == vm_id), key=lambda e: int(e.id))

    # ------------------------------------------------------------ inventory

    def test_connection_test_reads_the_api_root(self):
        self.assertTrue(self.conn.test(raise_exception=True))
        api = self.system.get()
        self.assertEqual(api.product_info.name, "oVirt Engine")

    def test_lists_the_same_vms_and_statuses_as_the_truth(self):
        truth = {v["id"]: (v["name"], v["state"]) for v in self.fake.truth()}
        listed = {v.id: (v.name, v.status.value) for v in self.vms.list()}
        self.assertEqual(listed, truth)
        self.assertEqual(sum(1 for _, s in truth.values() if s == "suspended"), 1)

    def test_pages_with_search_page_and_max_until_an_empty_page(self):
        names = [v.name for v in self.all_vms(size=5)]
        self.assertEqual(names, sorted(v["name"] for v in self.fake.truth()))
        self.assertEqual(len(self.vms.list(search="page 2", max=5)), 5)
        self.assertEqual(self.vms.list(search="page 4", max=5), [])

    def test_every_status_value_is_read_back(self):
        vm_id = self.fake.truth()[0]["id"]
        for state in catalog.STATUSES:
            self.fake.set_state(vm_id, state)
            vm = self.vms.vm_service(vm_id).get()
            self.assertEqual(vm.status, sdk.types.VmStatus(state))
            # A VM that is surely not running has no host in the engine's answer.
            self.assertEqual(vm.host is None, state in ("down", "suspended", "image_locked", "unassigned"), state)

    def test_guest_agent_facts_fqdn_ips_and_os(self):
        with_agent = self.pick("up", agent=True)
        without = next(v["id"] for v in self.fake.truth() if not v["agent"])
        self.fake.set_state(without, "up")
        vm = self.vms.vm_service(with_agent).get(follow="reported_devices")
        truth = self.fake.vm(with_agent)
        self.assertEqual(vm.fqdn, truth["fqdn"])
        self.assertIn(vm.guest_operating_system.family, ("Linux", "Windows"))
        self.assertEqual(vm.os.type, truth["os_type"])
        ips = {ip.address for d in vm.reported_devices for ip in d.ips}
        self.assertEqual(ips, set(truth["ips"]))
        devices = self.vms.vm_service(with_agent).reported_devices_service().list()
        self.assertEqual({ip.address for d in devices for ip in d.ips}, set(truth["ips"]))
        bare = self.vms.vm_service(without).get()
        self.assertIsNone(bare.fqdn)
        self.assertIsNone(bare.guest_operating_system)
        self.assertEqual(list(self.vms.vm_service(without).reported_devices_service().list()), [])

    def test_hosts_and_clusters_name_what_the_vms_point_at(self):
        hosts = {h.id: h.name for h in self.system.hosts_service().list()}
        clusters = {c.id: c.name for c in self.system.clusters_service().list()}
        self.assertEqual((len(hosts), len(clusters)), (3, 2))
        for truth in self.fake.truth():
            vm = self.vms.vm_service(truth["id"]).get()
            self.assertEqual(clusters[vm.cluster.id], truth["cluster"])
            self.assertEqual(hosts[vm.host.id] if vm.host else None, truth["host"])
        some_host = next(iter(hosts))
        self.assertEqual(self.system.hosts_service().host_service(some_host).get().name, hosts[some_host])
        some_cluster = next(iter(clusters))
        self.assertEqual(self.system.clusters_service().cluster_service(some_cluster).get().name,
                         clusters[some_cluster])

    # ------------------------------------------------------------ tags

    def add_tag_tree(self):
        """env, env/prod and a top-level backup, added the way an admin script would."""
        tags = self.system.tags_service()
        env = tags.add(sdk.types.Tag(name="env", description="environments"))
        prod = tags.add(sdk.types.Tag(name="prod", parent=sdk.types.Tag(name="env")))
        backup = tags.add(sdk.types.Tag(name="backup"))
        return env, prod, backup

    def test_tags_are_added_with_parents_and_listed_with_the_root(self):
        env, prod, backup = self.add_tag_tree()
        self.assertEqual((env.name, env.description, env.parent.id), ("env", "environments", catalog.ROOT_TAG_ID))
        self.assertEqual((prod.name, prod.parent.id), ("prod", env.id))
        self.assertIsNone(prod.description)  # none given, none stored
        self.assertEqual(backup.parent.id, catalog.ROOT_TAG_ID)
        listed = {t.name: t for t in self.system.tags_service().list()}
        self.assertEqual(set(listed), {"root", "env", "prod", "backup"})
        self.assertEqual(listed["root"].id, catalog.ROOT_TAG_ID)
        self.assertEqual(listed["root"].description, "root")
        self.assertIsNone(listed["root"].parent)
        self.assertEqual({n: t.parent.id for n, t in listed.items() if n != "root"},
                         {"env": catalog.ROOT_TAG_ID, "prod": env.id, "backup": catalog.ROOT_TAG_ID})
        one = self.system.tags_service().tag_service(prod.id).get()
        self.assertEqual((one.name, one.parent.id), ("prod", env.id))
        # A parent given by id works as well as by name.
        child = self.system.tags_service().add(sdk.types.Tag(name="prod-eu", parent=sdk.types.Tag(id=prod.id)))
        self.assertEqual(child.parent.id, prod.id)

    def test_a_duplicate_or_invalid_tag_name_is_an_sdk_error(self):
        self.add_tag_tree()
        tags = self.system.tags_service()
        with self.assertRaises(sdk.Error) as caught:
            tags.add(sdk.types.Tag(name="prod"))
        self.assertEqual(caught.exception.code, 409)
        self.assertEqual(caught.exception.fault.detail, "[The specified Tag name already exists.]")
        with self.assertRaises(sdk.Error) as caught:
            tags.add(sdk.types.Tag(name="no spaces"))
        self.assertEqual(caught.exception.code, 400)
        self.assertIn("Invalid tag name", caught.exception.fault.detail)
        with self.assertRaises(sdk.Error) as caught:
            tags.add(sdk.types.Tag(name="x" * 51))
        self.assertEqual(caught.exception.code, 400)
        self.assertEqual(len(tags.list()), 4)  # nothing was added

    def test_tags_assigned_to_a_vm_are_embedded_by_follow_and_behind_the_link(self):
        env, prod, backup = self.add_tag_tree()
        vm_id = self.fake.truth()[0]["id"]
        assigned = self.vms.vm_service(vm_id).tags_service()
        got = assigned.add(sdk.types.Tag(name="prod"))
        self.assertEqual((got.id, got.name, got.vm.id), (prod.id, "prod", vm_id))
        assigned.add(sdk.types.Tag(id=backup.id))
        listed = {v.id: v for v in self.vms.list(follow="tags")}
        tags = listed[vm_id].tags
        self.assertEqual({t.name: t.parent.id for t in tags}, {"prod": env.id, "backup": catalog.ROOT_TAG_ID})
        self.assertEqual({t.vm.id for t in tags}, {vm_id})
        # Only tags assigned directly: env (prod's parent) is not one of them.
        self.assertNotIn("env", {t.name for t in tags})
        self.assertTrue(all(len(v.tags) == 0 for i, v in listed.items() if i != vm_id))
        # Without follow, vm.tags is the link, and following it lists the same tags.
        plain = self.vms.vm_service(vm_id).get()
        self.assertTrue(plain.tags.href.endswith("/vms/%s/tags" % vm_id))
        self.assertEqual({t.name for t in self.conn.follow_link(plain.tags)}, {"prod", "backup"})
        # reported_devices and tags together, on the list and on one VM.
        both = self.vms.vm_service(vm_id).get(follow="reported_devices,tags")
        self.assertEqual({t.name for t in both.tags}, {"prod", "backup"})
        self.assertIsNotNone(both.reported_devices)
        paged = self.vms.list(search="page 1", max=3, follow="reported_devices,tags")
        self.assertEqual(len(paged), 3)
        self.assertEqual(self.fake.vm(vm_id)["tags"], ["prod", "backup"])

    def test_unassigning_and_removing_tags(self):
        env, prod, backup = self.add_tag_tree()
        vm_id = self.fake.truth()[0]["id"]
        assigned = self.vms.vm_service(vm_id).tags_service()
        assigned.add(sdk.types.Tag(name="prod"))
        assigned.add(sdk.types.Tag(name="backup"))
        self.assertEqual(assigned.tag_service(prod.id).get().vm.id, vm_id)
        assigned.tag_service(prod.id).remove()
        self.assertEqual([t.name for t in assigned.list()], ["backup"])
        with self.assertRaises(sdk.NotFoundError):
            assigned.tag_service(prod.id).get()
        # Removing a tag removes its children and their assignments.
        assigned.add(sdk.types.Tag(name="prod"))
        self.system.tags_service().tag_service(env.id).remove()
        self.assertEqual({t.name for t in self.system.tags_service().list()}, {"root", "backup"})
        self.assertEqual([t.name for t in assigned.list()], ["backup"])
        with self.assertRaises(sdk.Error) as caught:
            assigned.add(sdk.types.Tag(name="prod"))
        self.assertEqual(caught.exception.code, 404)

    def test_the_control_endpoint_creates_tag_paths_and_assigns_their_last_tags(self):
        vm = self.fake.truth()[1]
        truth = self.fake.ctl("POST", "vms/%s/tags" % vm["name"], {"tags": ["env/prod", "backup"]})
        self.assertEqual((truth["id"], truth["tags"]), (vm["id"], ["prod", "backup"]))
        listed = {t.name: t for t in self.system.tags_service().list()}
        self.assertEqual(listed["prod"].parent.id, listed["env"].id)
        self.assertEqual(listed["env"].parent.id, catalog.ROOT_TAG_ID)
        self.assertEqual(listed["prod"].description, "prod")
        got = self.vms.vm_service(vm["id"]).get(follow="tags")
        self.assertEqual({t.name: t.parent.id for t in got.tags},
                         {"prod": listed["env"].id, "backup": catalog.ROOT_TAG_ID})
        # Again with other paths: existing tags are reused, the assignment is replaced.
        truth = self.fake.ctl("POST", "vms/%s/tags" % vm["id"], {"tags": ["env/prod/eu"]})
        self.assertEqual(truth["tags"], ["eu"])
        self.assertEqual([t.name for t in self.vms.vm_service(vm["id"]).tags_service().list()], ["eu"])
        self.assertEqual(len(self.system.tags_service().list()), 5)  # root, env, prod, backup, eu

    # ------------------------------------------------------------ actions

    def test_start_reaches_up_and_its_events_carry_the_correlation_id(self):
        vm_id = self.pick("down")
        cursor = self.cursor()
        corr = "pdk-" + uuid.uuid4().hex[:12]
        self.vms.vm_service(vm_id).start(query={"correlation_id": corr})
        # "complete" only means accepted: the VM is still launching.
        self.assertIn(self.status(vm_id), ("wait_for_launch", "powering_up"))
        self.wait_status(vm_id, "up")
        events = self.events_since(cursor, vm_id)
        ours = [e.code for e in events if e.correlation_id == corr]
        self.assertEqual(ours, [153, 32])  # USER_STARTED_VM, then USER_RUN_VM when up
        jobs = self.system.jobs_service().list(search="correlation_id=%s" % corr)
        self.assertEqual(len(jobs), 1)
        job = self.system.jobs_service().job_service(jobs[0].id).get()
        self.assertEqual(job.status, sdk.types.JobStatus.FINISHED)
        self.assertEqual(job.description, "Launching VM %s" % self.fake.vm(vm_id)["name"])

    def test_stop_always_powers_off(self):
        vm_id = self.pick("up", stubborn=True)
        cursor = self.cursor()
        self.vms.vm_service(vm_id).stop(query={"correlation_id": "stop-1"})
        self.assertEqual(self.status(vm_id), "powering_down")
        self.wait_status(vm_id, "down")
        codes = [(e.code, e.correlation_id) for e in self.events_since(cursor, vm_id)]
        self.assertEqual(codes, [(33, "stop-1"), (61, None)])  # USER_STOP_VM, then VM_DOWN from monitoring

    def test_graceful_shutdown_of_a_cooperating_guest(self):
        vm_id = self.pick("up", stubborn=False)
        cursor = self.cursor()
        self.vms.vm_service(vm_id).shutdown(query={"correlation_id": "sd-1"})
        self.assertEqual(self.status(vm_id), "powering_down")
        self.wait_status(vm_id, "down")
        codes = [(e.code, e.correlation_id) for e in self.events_since(cursor, vm_id)]
        self.assertEqual(codes, [(73, "sd-1"), (61, None)])

    def test_shutdown_of_a_stubborn_guest_is_complete_but_the_vm_comes_back_up(self):
        vm_id = self.pick("up", stubborn=True)
        cursor = self.cursor()
        self.vms.vm_service(vm_id).shutdown()  # no error: the engine accepted it
        self.assertEqual(self.status(vm_id), "powering_down")
        self.wait_status(vm_id, "up")
        codes = [e.code for e in self.events_since(cursor, vm_id)]
        self.assertEqual(codes, [73, 147])  # ..., VM_POWER_DOWN_FAILED

    def test_reboot_goes_through_reboot_in_progress(self):
        vm_id = self.pick("up", stubborn=False)
        self.vms.vm_service(vm_id).reboot()
        self.assertEqual(self.status(vm_id), "reboot_in_progress")
        self.wait_status(vm_id, "up")

    def test_suspend_then_resume_with_start(self):
        vm_id = self.pick("up")
        self.vms.vm_service(vm_id).suspend()  # a 202 in_progress answer for the SDK
        self.wait_status(vm_id, "saving_state")
        self.wait_status(vm_id, "suspended")
        self.vms.vm_service(vm_id).start()
        self.assertEqual(self.status(vm_id), "restoring_state")
        self.wait_status(vm_id, "up")

    def test_reset_is_the_forced_reboot(self):
        vm_id = self.pick("up", stubborn=True)
        self.vms.vm_service(vm_id).reset()
        self.assertEqual(self.status(vm_id), "reboot_in_progress")
        self.wait_status(vm_id, "up")

    # ------------------------------------------------------------ faults

    def test_an_invalid_action_surfaces_the_engine_fault(self):
        vm_id = self.pick("image_locked")
        with self.assertRaises(sdk.Error) as caught:
            self.vms.vm_service(vm_id).stop()
        err = caught.exception
        self.assertEqual(err.code, 409)
        self.assertEqual(err.fault.reason, "Operation Failed")
        self.assertEqual(err.fault.detail, "[Cannot stop VM. VM is not running.]")
        self.assertIn('Fault detail is "[Cannot stop VM. VM is not running.]"', str(err))

    def test_a_failed_stop_is_an_sdk_error_with_the_engine_text(self):
        vm_id = self.pick("up")
        self.fake.ctl("POST", "fail", {"action": "stop", "count": 1})
        cursor = self.cursor()
        with self.assertRaises(sdk.Error) as caught:
            self.vms.vm_service(vm_id).stop()
        self.assertEqual(caught.exception.code, 400)
        self.assertEqual(caught.exception.fault.detail, "[Virtual machine destroy error]")
        self.assertEqual(self.status(vm_id), "up")
        self.assertEqual([e.code for e in self.events_since(cursor, vm_id)], [56])  # USER_FAILED_STOP_VM
        self.vms.vm_service(vm_id).stop()  # the next one works
        self.wait_status(vm_id, "down")

    def test_a_failed_start_is_accepted_then_the_job_fails(self):
        vm_id = self.pick("down")
        self.fake.ctl("POST", "fail", {"action": "start", "count": 1})
        self.vms.vm_service(vm_id).start(query={"correlation_id": "bad-start"})
        jobs = self.system.jobs_service()
        job_id = jobs.list(search="correlation_id=bad-start")[0].id
        wait_for(lambda: jobs.job_service(job_id).get().status == sdk.types.JobStatus.FAILED, what="failed job")
        self.assertEqual(self.status(vm_id), "down")
        codes = [e.code for e in self.system.events_service().list(search="correlation_id=bad-start")]
        self.assertIn(54, codes)  # USER_FAILED_RUN_VM

    # ------------------------------------------------------------ auth

    def test_a_wrong_password_is_an_auth_error_that_does_not_echo_it(self):
        conn = self.connect(password="not-the-password")
        try:
            with self.assertRaises(sdk.AuthError) as caught:
                conn.test(raise_exception=True)
            self.assertIn("The username or password is incorrect", str(caught.exception))
            self.assertNotIn("not-the-password", str(caught.exception))
        finally:
            conn.close(logout=False)

    def test_the_sdk_logs_in_again_once_after_a_401(self):
        conn = self.connect()
        try:
            conn.system_service().vms_service().list(max=1)
            before = self.fake.calls()
            self.fake.ctl("POST", "tokens/expire", {})
            self.assertEqual(len(conn.system_service().vms_service().list(max=2)), 2)
            after = self.fake.calls()
            self.assertEqual(after.get("unauthorized", 0) - before.get("unauthorized", 0), 1)
            self.assertEqual(after["token"] - before["token"], 1)
            self.assertEqual(after["list_vms"] - before["list_vms"], 2)  # the 401, then the retry
        finally:
            conn.close()
        self.assertGreaterEqual(self.fake.calls()["revoke"], 1)

    # ------------------------------------------------------------ events

    def test_out_of_band_power_off_appears_in_the_feed_without_our_correlation_id(self):
        vm_id = self.pick("up")
        cursor = self.cursor()
        self.fake.set_state(vm_id, "down")
        events = self.events_since(cursor, vm_id)
        self.assertEqual([(e.code, e.correlation_id) for e in events], [(61, None)])
        self.assertEqual(events[0].description, "VM %s is down. %s" % (
            self.fake.vm(vm_id)["name"], catalog.EXIT_GUEST_SHUTDOWN))

    def test_events_newest_first_and_a_purge_makes_the_cursor_jump(self):
        events = self.system.events_service()
        newest = events.list(max=1)[0]
        everything = events.list()
        self.assertEqual(int(newest.id), max(int(e.id) for e in everything))
        ids = [int(e.id) for e in everything]
        self.assertEqual(ids, sorted(ids, reverse=True))  # audit_log_id DESC, also with from=
        old_cursor = min(ids)
        for state in ("down", "up"):
            self.fake.set_state(self.fake.truth()[0]["id"], state)
        self.fake.ctl("POST", "events/purge", {"keep_after": int(newest.id)})
        after = sorted(int(e.id) for e in events.list(from_=old_cursor))
        self.assertGreater(after[0], old_cursor + 1)  # the first id the client sees jumped

    # ------------------------------------------------------------ the CLI

    def witness_cli(self, *args):
        cli = os.path.join(os.path.dirname(os.path.abspath(__file__)), "witness.py")
        out = subprocess.run([sys.executable, cli, "--url", self.fake.url, "--ca", self.fake.ca] + list(args),
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        return json.loads(out.stdout)

    def test_witness_cli_lists_acts_and_reads_events(self):
        truth = [{"id": v["id"], "name": v["name"], "state": v["state"], "tags": sorted(v["tags"])} for v in self.fake.truth()]
        self.assertEqual(self.witness_cli("list"), truth)
        vm_id = self.pick("up", stubborn=False)
        cursor = self.cursor()
        result = self.witness_cli("shutdown", vm_id, "--correlation-id", "cli-1")
        self.assertEqual((result["state"], result["reached"]), ("down", True))
        self.assertEqual(result["jobs"][0]["status"], "finished")
        self.assertEqual([(e["code"], e["correlation_id"]) for e in result["events"]], [(73, "cli-1"), (61, None)])
        events = self.witness_cli("events", "--from", str(cursor))
        self.assertEqual([e["id"] for e in events], sorted(e["id"] for e in events))
        self.assertIn(73, [e["code"] for e in events])


if __name__ == "__main__":
    unittest.main()
