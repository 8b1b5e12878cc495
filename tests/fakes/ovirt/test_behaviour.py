"""The fake's wire shapes and misbehaviours, checked over raw HTTP.

These are the exact answers the Rust client will parse: SSO JSON, 401s, action
answers (200 complete / 202 in_progress / faults), paging that is not a
snapshot, throttling, outages and the hostile modes.
"""

import http.client
import json
import re
import socket
import time
import unittest
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import ovirtsdk4 as sdk

from tests.fakes.ovirt.harness import PASSWORD, USERNAME, FakeEngine, wait_for

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class _WithFake(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeEngine("--vms", "10", "--seed", "3", transition_ms=400)
        cls.token = cls.fake.token()

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def setUp(self):
        self.fake.ctl("POST", "reset", {})

    def xml(self, method, path, body=None, expect=200, **kw):
        return self.fake.api_xml(method, path, self.token, body, expect=expect, **kw)

    def first(self, state):
        vm = self.fake.truth()[0]
        return self.fake.set_state(vm["id"], state)

    def page(self, n, size):
        root, _ = self.xml("GET", "/vms?search=page%%20%d&max=%d" % (n, size))
        return [vm.findtext("name") for vm in root.findall("vm")]


class SsoAndAuth(_WithFake):
    def test_token_answer(self):
        status, headers, body = self.fake.sso()
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        data = json.loads(body)
        self.assertEqual(set(data), {"access_token", "token_type", "scope", "exp"})
        self.assertEqual(data["token_type"], "bearer")
        self.assertIn("ovirt-app-api", data["scope"].split())
        # exp: epoch milliseconds, as a string (SsoSession.getValidTo().toString()).
        self.assertRegex(data["exp"], r"^\d{13}$")
        self.assertAlmostEqual(int(data["exp"]) / 1000.0, time.time() + 1800, delta=60)

    def test_wrong_password_rest_api_style_error(self):
        status, _, body = self.fake.sso(password="wrong-pw")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {
            "error_code": "access_denied",
            "error": "Cannot authenticate user 'admin@internal': The username or password is incorrect.."})
        self.assertNotIn(b"wrong-pw", body)

    def test_wrong_password_oauth_style_error_for_other_scopes(self):
        status, _, body = self.fake.sso(scope="ovirt-app-api ovirt-app-admin", password="wrong-pw")
        self.assertEqual(status, 400)
        data = json.loads(body)
        self.assertEqual(data["error"], "access_denied")
        self.assertIn("The username or password is incorrect", data["error_description"])

    def test_the_token_endpoint_wants_accept_application_json(self):
        status, _, body = self.fake.sso(accept="*/*")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"error_code": "invalid_request",
                                            "error": "Missing parameter: 'Accept Header'"})

    def test_a_token_without_the_api_scope_is_refused_by_the_api(self):
        token = self.fake.token(scope=None)
        status, headers, body = self.fake.api("GET", "/vms", token)
        self.assertEqual(status, 401)
        self.assertIn(b"The required scope ovirt-app-api is not granted.", body)

    def test_401_shape(self):
        status, headers, body = self.fake.raw("GET", "/ovirt-engine/api/vms", headers={"Version": "4"})
        self.assertEqual(status, 401)
        self.assertEqual(headers["www-authenticate"], 'Basic realm="RESTAPI"')
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertTrue(body.startswith(b"<html><head><title>Error</title></head><body>"))
        status, _, body = self.fake.api("GET", "/vms", "no-such-token")
        self.assertEqual(status, 401)
        self.assertIn(b"invalid_grant", body)

    def test_revoked_and_expired_tokens_get_401_and_a_new_login_works(self):
        token = self.fake.token()
        self.assertEqual(self.fake.api("GET", "/vms", token)[0], 200)
        status, _, body = self.fake.raw("POST", "/ovirt-engine/services/sso-logout",
                                        "scope=ovirt-app-api&token=" + token,
                                        {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((status, json.loads(body)), (200, {}))
        self.assertEqual(self.fake.api("GET", "/vms", token)[0], 401)
        other = self.fake.token()
        self.fake.ctl("POST", "tokens/expire", {})
        self.assertEqual(self.fake.api("GET", "/vms", other)[0], 401)
        self.assertEqual(self.fake.api("GET", "/vms", self.fake.token())[0], 200)
        type(self).token = self.fake.token()

    def test_the_first_api_call_of_a_token_logs_a_login_event(self):
        token = self.fake.token()
        self.fake.api("GET", "/", token)
        events = self.fake.ctl("GET", "events")
        self.assertEqual(events[-1]["code"], 30)
        self.assertIn("admin@internal-authz connecting from '127.0.0.1'", events[-1]["description"])

    def test_version_header(self):
        self.fake.ctl("POST", "calls/reset", {})
        self.assertEqual(self.fake.api("GET", "/vms", self.token, version=None)[0], 200)
        self.assertEqual(self.fake.calls().get("missing_version"), 1)
        self.assertEqual(self.fake.api("GET", "/vms", self.token, version="3")[0], 400)
        self.assertEqual(self.fake.api("GET", "/v4/vms", self.token, version=None)[0], 200)
        self.assertEqual(self.fake.calls().get("missing_version"), 1)

    def test_pki_resource_serves_the_ca_without_auth(self):
        status, headers, body = self.fake.raw(
            "GET", "/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/x-x509-ca-cert")
        with open(self.fake.ca, "rb") as f:
            self.assertEqual(body, f.read())


class Answers(_WithFake):
    def test_correlation_id_header_is_echoed_cleaned_or_generated(self):
        _, headers = self.xml("GET", "/vms", headers={"Correlation-Id": "abc"})
        self.assertEqual(headers["correlation-id"], "abc")
        _, headers = self.xml("GET", "/vms")
        self.assertRegex(headers["correlation-id"], UUID_RE)
        vm = self.first("down")
        self.xml("POST", "/vms/%s/start?correlation_id=a%%20b!c" % vm["id"], "<action/>")
        codes = [e["code"] for e in self.fake.ctl("GET", "events") if e["correlation_id"] == "abc"]
        self.assertEqual(codes, [153])

    def test_a_synchronous_action_answers_complete_before_the_vm_changes(self):
        vm = self.first("down")
        root, _ = self.xml("POST", "/vms/%s/start" % vm["id"], "<action><async>true</async></action>")
        # No VDSM tasks for RunVm: <async> does not matter, the answer is 200 complete.
        self.assertEqual(root.tag, "action")
        self.assertEqual(root.findtext("status"), "complete")
        self.assertEqual(root.findtext("async"), "true")
        job = root.find("job")
        self.assertEqual(job.get("href"), "/ovirt-engine/api/jobs/" + job.get("id"))
        self.assertEqual(root.find("vm").get("id"), vm["id"])
        self.assertEqual(self.fake.vm(vm["id"])["state"], "wait_for_launch")
        jroot, _ = self.xml("GET", "/jobs/" + job.get("id"))
        self.assertEqual(jroot.findtext("status"), "started")
        wait_for(lambda: self.fake.vm(vm["id"])["state"] == "up")
        jroot, _ = self.xml("GET", "/jobs/" + job.get("id"))
        self.assertEqual(jroot.findtext("status"), "finished")
        self.assertIsNotNone(jroot.findtext("end_time"))

    def test_suspend_answers_202_in_progress_with_the_task_href(self):
        vm = self.first("up")
        root, _ = self.xml("POST", "/vms/%s/suspend" % vm["id"], "<action/>", expect=202)
        self.assertEqual(root.findtext("status"), "in_progress")
        self.assertEqual(root.findtext("async"), "true")
        base = "/ovirt-engine/api/vms/%s/suspend" % vm["id"]
        self.assertEqual(root.get("href"), base + "/" + root.get("id"))
        self.assertEqual(len(root.get("id").split(",")), 2)  # memory + metadata volume tasks
        links = {l.get("rel"): l.get("href") for l in root.findall("link")}
        self.assertEqual(links, {"parent": "/ovirt-engine/api/vms/" + vm["id"], "replay": base})
        status, headers, _ = self.fake.api("GET", root.get("href")[len("/ovirt-engine/api"):], self.token)
        self.assertEqual((status, headers["location"]), (301, "/ovirt-engine/api/vms/" + vm["id"]))
        wait_for(lambda: self.fake.vm(vm["id"])["state"] == "suspended")

    def test_a_blocking_suspend_waits_for_its_tasks(self):
        vm = self.first("up")
        root, _ = self.xml("POST", "/vms/%s/suspend" % vm["id"], "<action><async>false</async></action>")
        self.assertEqual(root.findtext("status"), "complete")
        self.assertIn(self.fake.vm(vm["id"])["state"], ("saving_state", "suspended"))
        jroot, _ = self.xml("GET", "/jobs/" + root.find("job").get("id"))
        self.assertEqual(jroot.findtext("status"), "finished")

    def test_a_failed_blocking_suspend_is_200_failed_without_a_fault(self):
        vm = self.first("up")
        self.fake.ctl("POST", "fail", {"action": "suspend"})
        root, _ = self.xml("POST", "/vms/%s/suspend" % vm["id"], "<action><async>false</async></action>")
        self.assertEqual(root.findtext("status"), "failed")
        self.assertIsNone(root.find("fault"))
        self.assertEqual(self.fake.vm(vm["id"])["state"], "up")

    def test_an_invalid_action_is_a_409_action_with_a_fault(self):
        vm = self.first("up")
        root, _ = self.xml("POST", "/vms/%s/start" % vm["id"], "<action/>", expect=409)
        self.assertEqual(root.tag, "action")
        self.assertEqual(root.findtext("status"), "failed")
        self.assertEqual(root.findtext("fault/reason"), "Operation Failed")
        self.assertEqual(root.findtext("fault/detail"), "[Cannot run VM because the VM is in Up status.]")
        self.fake.set_state(vm["id"], "saving_state")
        root, _ = self.xml("POST", "/vms/%s/stop" % vm["id"], "<action/>", expect=409)
        self.assertTrue(root.findtext("fault/detail").startswith("[Cannot stop VM. VM is in saving/restoring state."))
        self.fake.set_state(vm["id"], "down")
        root, _ = self.xml("POST", "/vms/%s/reboot" % vm["id"], "<action/>", expect=409)
        self.assertEqual(root.findtext("fault/detail"), "[Cannot restart VM because the VM is in Down status.]")
        root, _ = self.xml("POST", "/vms/%s/suspend" % vm["id"], "<action/>", expect=409)
        self.assertEqual(root.findtext("fault/detail"), "[Cannot hibernate VM. VM is not up.]")

    def test_stopping_a_down_vm_is_skipped_not_refused(self):
        vm = self.first("down")
        root, _ = self.xml("POST", "/vms/%s/stop?correlation_id=skip1" % vm["id"], "<action/>")
        self.assertEqual(root.findtext("status"), "complete")
        event = [e for e in self.fake.ctl("GET", "events") if e["correlation_id"] == "skip1"]
        self.assertEqual([e["code"] for e in event], [254])
        self.assertEqual(event[0]["description"], "VM %s is already Down, Stop VM was skipped. "
                                                  "User: admin@internal-authz." % vm["name"])

    def test_shutdown_of_a_vm_that_is_not_up_powers_it_off(self):
        vm = self.first("paused")
        self.xml("POST", "/vms/%s/shutdown?correlation_id=sd2" % vm["id"], "<action/>")
        codes = [e["code"] for e in self.fake.ctl("GET", "events") if e["correlation_id"] == "sd2"]
        self.assertEqual(codes, [76])  # USER_STOPPED_VM_INSTEAD_OF_SHUTDOWN
        wait_for(lambda: self.fake.vm(vm["id"])["state"] == "down")

    def test_unknown_vms(self):
        self.assertEqual(self.fake.api("GET", "/vms/%s" % uuid.uuid4(), self.token)[0], 404)
        self.assertEqual(self.fake.api("GET", "/vms/not-an-id", self.token)[0], 404)
        root, _ = self.xml("POST", "/vms/%s/start" % uuid.uuid4(), "<action/>", expect=400)
        self.assertEqual(root.findtext("fault/detail"), "[Cannot run VM. VM is not found.]")

    def test_vm_xml_shape(self):
        vm = self.first("up")
        root, _ = self.xml("GET", "/vms/%s?follow=host,reported_devices" % vm["id"])
        self.assertEqual((root.tag, root.get("id")), ("vm", vm["id"]))
        self.assertEqual(root.get("href"), "/ovirt-engine/api/vms/" + vm["id"])
        self.assertEqual(root.findtext("status"), "up")
        self.assertEqual(root.find("cluster").get("id"), vm["cluster_id"])
        self.assertEqual(root.findtext("host/name"), vm["host"])  # inlined by follow=host
        self.assertEqual(root.findtext("os/type"), vm["os_type"])
        rels = {l.get("rel") for l in root.findall("actions/link")}
        self.assertEqual(rels, {"start", "stop", "shutdown", "reboot", "reset", "suspend"})
        self.assertIsNotNone(root.find("reported_devices"))
        status, _, _ = self.fake.api("GET", "/vms/%s?follow=nonsense" % vm["id"], self.token)
        self.assertEqual(status, 500)

    def test_events_from_max_and_search(self):
        vm = self.first("down")
        cursor = self.fake.ctl("GET", "events")[-1]["id"]
        self.xml("POST", "/vms/%s/start?correlation_id=ev1" % vm["id"], "<action/>")
        wait_for(lambda: self.fake.vm(vm["id"])["state"] == "up")
        root, _ = self.xml("GET", "/events?from=%d" % cursor)
        ids = [int(e.get("id")) for e in root.findall("event")]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertTrue(all(i > cursor for i in ids))
        root, _ = self.xml("GET", "/events?max=1")
        self.assertEqual(int(root.find("event").get("id")), ids[0])
        root, _ = self.xml("GET", "/events?search=correlation_id%3Dev1")
        got = [(e.findtext("code"), e.find("vm").get("id"), e.findtext("severity")) for e in root.findall("event")]
        self.assertEqual(got, [("32", vm["id"], "normal"), ("153", vm["id"], "normal")])
        self.assertIsNotNone(root.find("event/host"))
        self.assertRegex(root.findtext("event/time"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


class Paging(_WithFake):
    """Pages are computed per request from the current VMs ordered by name."""

    def test_a_vm_added_before_the_cursor_shows_an_item_twice_never_loses_one(self):
        original = sorted(v["name"] for v in self.fake.truth())
        page1 = self.page(1, 3)
        self.fake.ctl("POST", "vms", {"names": ["app-00"]})  # sorts before everything
        page2 = self.page(2, 3)
        self.assertEqual(page2[0], page1[-1])
        rest = page2 + self.page(3, 3) + self.page(4, 3)
        self.assertEqual(set(original) - set(page1 + rest), set())

    def test_a_vm_removed_before_the_cursor_makes_the_next_page_skip_one(self):
        original = sorted(v["name"] for v in self.fake.truth())
        page1 = self.page(1, 3)
        self.assertEqual(page1, original[:3])
        status, _, _ = self.fake.raw("DELETE", "/_fake/vms/" + page1[0])
        self.assertEqual(status, 200)
        page2 = self.page(2, 3)
        self.assertEqual(page2, original[4:7])  # original[3] was on neither page

    def test_without_max_page_1_is_everything(self):
        self.assertEqual(len(self.page(1, 1000)), 10)
        root, _ = self.xml("GET", "/vms?search=page%202")
        self.assertEqual(root.findall("vm"), [])
        root, _ = self.xml("GET", "/vms?search=page%201")
        self.assertEqual(len(root.findall("vm")), 10)

    def test_search_by_status_and_sort_desc(self):
        root, _ = self.xml("GET", "/vms?search=status%3Dup")
        truth = [v["name"] for v in self.fake.truth() if v["state"] == "up"]
        self.assertEqual([v.findtext("name") for v in root.findall("vm")], truth)
        root, _ = self.xml("GET", "/vms?search=sortby%20name%20desc%20page%201&max=2")
        self.assertEqual([v.findtext("name") for v in root.findall("vm")],
                         sorted((v["name"] for v in self.fake.truth()), reverse=True)[:2])


class Tags(_WithFake):
    ROOT = "00000000-0000-0000-0000-000000000000"
    API = "/ovirt-engine/api"

    def tag_paths(self, key, paths):
        return self.fake.ctl("POST", "vms/%s/tags" % key, {"tags": paths})

    def test_follow_tags_embeds_the_directly_assigned_tags(self):
        vm = self.fake.truth()[0]
        self.tag_paths(vm["id"], ["env/prod", "backup"])
        ids = {t["name"]: t["id"] for t in self.fake.ctl("GET", "tags")}
        root, _ = self.xml("GET", "/vms/%s?follow=reported_devices,tags" % vm["id"])
        links = [l.get("rel") for l in root.findall("link")]
        self.assertEqual(links, ["applications", "nics", "reporteddevices", "statistics", "tags"])
        self.assertEqual(root.find("link[@rel='tags']").get("href"), "%s/vms/%s/tags" % (self.API, vm["id"]))
        tags = root.findall("tags/tag")
        self.assertEqual([t.findtext("name") for t in tags], ["prod", "backup"])
        prod = tags[0]
        self.assertEqual(prod.get("id"), ids["prod"])
        self.assertEqual(prod.get("href"), "%s/vms/%s/tags/%s" % (self.API, vm["id"], ids["prod"]))
        self.assertEqual(prod.findtext("description"), "prod")
        self.assertEqual((prod.find("parent").get("id"), prod.find("parent").get("href")),
                         (ids["env"], "%s/tags/%s" % (self.API, ids["env"])))
        self.assertEqual((prod.find("vm").get("id"), prod.find("vm").get("href")),
                         (vm["id"], "%s/vms/%s" % (self.API, vm["id"])))
        self.assertEqual([c.tag for c in prod], ["name", "description", "parent", "vm"])
        self.assertEqual(tags[1].find("parent").get("id"), self.ROOT)
        # A VM without tags: an empty <tags/>; without follow: no <tags> at all.
        _, _, body = self.fake.api("GET", "/vms/%s?follow=tags" % self.fake.truth()[1]["id"], self.token)
        self.assertIn(b"<tags/></vm>", body)
        plain, _ = self.xml("GET", "/vms/" + vm["id"])
        self.assertIsNone(plain.find("tags"))
        listed, _ = self.xml("GET", "/vms?search=page%201&max=3&follow=reported_devices,tags")
        self.assertEqual([len(v.findall("tags/tag")) for v in listed.findall("vm")], [2, 0, 0])

    def test_tags_collection_lists_every_tag_and_the_root_last(self):
        self.tag_paths(self.fake.truth()[0]["id"], ["env/prod"])
        root, _ = self.xml("GET", "/tags")
        tags = root.findall("tag")
        self.assertEqual([t.findtext("name") for t in tags], ["env", "prod", "root"])
        last = tags[-1]
        self.assertEqual((last.get("id"), last.get("href")), (self.ROOT, "%s/tags/%s" % (self.API, self.ROOT)))
        self.assertEqual([(c.tag, c.text) for c in last], [("name", "root"), ("description", "root")])
        self.assertEqual(tags[0].find("parent").get("id"), self.ROOT)
        self.assertIsNone(tags[0].find("vm"))
        one, _ = self.xml("GET", "/tags/" + tags[1].get("id"))
        self.assertEqual((one.tag, one.findtext("name")), ("tag", "prod"))
        self.assertEqual(self.fake.api("GET", "/tags/%s" % uuid.uuid4(), self.token)[0], 404)
        capped, _ = self.xml("GET", "/tags?max=1")
        self.assertEqual(len(capped.findall("tag")), 1)

    def test_adding_assigning_and_removing_over_raw_http(self):
        vm = self.fake.truth()[0]
        root, headers = self.xml("POST", "/tags", "<tag><name>env</name></tag>", expect=201)
        env_id = root.get("id")
        self.assertEqual(headers["location"], "%s%s/tags/%s" % (self.fake.url, self.API, env_id))
        self.assertIsNone(root.find("description"))
        root, _ = self.xml("POST", "/tags", '<tag><name>prod</name><description>Production</description>'
                                             '<parent id="%s"/></tag>' % env_id, expect=201)
        prod_id = root.get("id")
        self.assertEqual((root.findtext("description"), root.find("parent").get("id")), ("Production", env_id))
        root, headers = self.xml("POST", "/vms/%s/tags" % vm["id"], '<tag id="%s"/>' % prod_id, expect=201)
        self.assertEqual(headers["location"], "%s%s/vms/%s/tags/%s" % (self.fake.url, self.API, vm["id"], prod_id))
        self.assertEqual((root.findtext("name"), root.find("vm").get("id")), ("prod", vm["id"]))
        # Assigning it again changes nothing (AttachVmsToTag logs "already" and succeeds).
        self.xml("POST", "/vms/%s/tags" % vm["id"], "<tag><name>prod</name></tag>", expect=201)
        listed, _ = self.xml("GET", "/vms/%s/tags" % vm["id"])
        self.assertEqual([t.get("id") for t in listed.findall("tag")], [prod_id])
        self.assertEqual(self.fake.vm(vm["id"])["tags"], ["prod"])
        status, _, body = self.fake.api("DELETE", "/vms/%s/tags/%s" % (vm["id"], prod_id), self.token)
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(self.fake.api("DELETE", "/vms/%s/tags/%s" % (vm["id"], prod_id), self.token)[0], 404)
        status, _, body = self.fake.api("DELETE", "/tags/%s" % env_id, self.token)
        self.assertEqual((status, body), (200, b""))
        names = [t.findtext("name") for t in self.xml("GET", "/tags")[0].findall("tag")]
        self.assertEqual(names, ["root"])  # prod went with its parent

    def test_tag_faults(self):
        vm = self.fake.truth()[0]
        cases = [
            ("/tags", "<tag><description>x</description></tag>", 400, "Incomplete parameters",
             "Tag [name] required for add"),
            ("/tags", "<tag><name>a b</name></tag>", 400, "Operation Failed",
             "[Invalid tag name. Only letters, numbers, '-', and '_' are valid characters., Attribute: _tag.name]"),
            ("/tags", "<tag><name>x</name><parent><name>nope</name></parent></tag>", 404, "Operation Failed",
             "Entity not found: nope"),
            ("/vms/%s/tags" % vm["id"], "<tag><name>nope</name></tag>", 404, "Operation Failed",
             "Entity not found: nope"),
            ("/vms/%s/tags" % vm["id"], "<tag/>", 400, "Incomplete parameters", "Tag [id|name] required for add"),
        ]
        for path, body, status, reason, detail in cases:
            root, _ = self.xml("POST", path, body, expect=status)
            self.assertEqual((root.tag, root.findtext("reason"), root.findtext("detail")),
                             ("fault", reason, detail), path + " " + body)
        self.xml("POST", "/tags", "<tag><name>dup</name></tag>", expect=201)
        root, _ = self.xml("POST", "/tags", "<tag><name>dup</name></tag>", expect=409)
        self.assertEqual(root.findtext("detail"), "[The specified Tag name already exists.]")
        root, _ = self.xml("POST", "/tags", "<tag><name>root</name></tag>", expect=409)
        root, _ = self.xml("DELETE", "/tags/" + self.ROOT, expect=400)
        self.assertEqual(root.findtext("detail"), "[Cannot remove tag. Tag does not exist.]")
        self.assertEqual(self.fake.api("DELETE", "/tags/%s" % uuid.uuid4(), self.token)[0], 404)
        self.assertEqual(self.fake.api("GET", "/vms/%s/tags" % uuid.uuid4(), self.token)[0], 404)

    def test_calls_are_counted_by_tag_operation(self):
        vm = self.fake.truth()[0]
        self.fake.ctl("POST", "calls/reset", {})
        tag_id = self.xml("POST", "/tags", "<tag><name>t1</name></tag>", expect=201)[0].get("id")
        self.xml("GET", "/tags")
        self.xml("GET", "/tags/" + tag_id)
        self.xml("POST", "/vms/%s/tags" % vm["id"], "<tag><name>t1</name></tag>", expect=201)
        self.xml("GET", "/vms/%s/tags" % vm["id"])
        self.xml("GET", "/vms/%s/tags/%s" % (vm["id"], tag_id))
        self.fake.api("DELETE", "/vms/%s/tags/%s" % (vm["id"], tag_id), self.token)
        self.fake.api("DELETE", "/tags/" + tag_id, self.token)
        self.xml("GET", "/vms?follow=tags")
        calls = self.fake.calls()
        self.assertEqual({k: calls.get(k) for k in ("add_tag", "list_tags", "get_tag", "assign_tag", "list_vm_tags",
                                                    "get_vm_tag", "unassign_tag", "remove_tag", "list_vms")},
                         dict.fromkeys(("add_tag", "list_tags", "get_tag", "assign_tag", "list_vm_tags",
                                        "get_vm_tag", "unassign_tag", "remove_tag", "list_vms"), 1))

    def test_control_tag_paths_validation_and_reset(self):
        vm = self.fake.truth()[0]
        bad = [{"tags": "env/prod"}, {"tags": [""]}, {"tags": [3]}, {"tags": ["env//prod"]}, {"tags": ["a b"]},
               {"tags": ["root/env"]}, {"tags": ["a/x", "b/x"]}, {}, ["env"]]
        for data in bad:
            status, _, body = self.fake.raw("POST", "/_fake/vms/%s/tags" % vm["id"], json.dumps(data))
            self.assertEqual(status, 400, data)
            self.assertTrue(json.loads(body)["error"], data)
        self.assertEqual([t["name"] for t in self.fake.ctl("GET", "tags")], ["root"])  # nothing half-done
        self.tag_paths(vm["id"], ["env/prod"])
        status, _, body = self.fake.raw("POST", "/_fake/vms/%s/tags" % vm["id"], json.dumps({"tags": ["prod"]}))
        self.assertEqual(status, 400)
        self.assertIn("already under 'env'", json.loads(body)["error"])
        self.assertEqual(self.tag_paths(vm["name"], [])["tags"], [])
        self.assertEqual(self.tag_paths(vm["name"], ["env", "env/prod", "env"])["tags"], ["env", "prod"])
        self.assertEqual(self.fake.raw("POST", "/_fake/vms/nope/tags", json.dumps({"tags": []}))[0], 404)
        self.fake.ctl("POST", "reset", {})
        self.assertEqual([t["name"] for t in self.fake.ctl("GET", "tags")], ["root"])
        self.assertTrue(all(v["tags"] == [] for v in self.fake.truth()))


class Misbehaviour(_WithFake):
    def sdk(self):
        return sdk.Connection(url=self.fake.api_url, username=USERNAME, password=PASSWORD, ca_file=self.fake.ca)

    def hostile(self, mode):
        self.fake.ctl("POST", "hostile", {"mode": mode})

    def test_throttle_is_a_proxy_503_with_retry_after(self):
        self.fake.ctl("POST", "throttle", {"count": 2, "retry_after": 7})
        for _ in range(2):
            status, headers, body = self.fake.api("GET", "/vms", self.token)
            self.assertEqual((status, headers["retry-after"]), (503, "7"))
            self.assertIn(b"503 Service Unavailable", body)
        self.assertEqual(self.fake.api("GET", "/vms", self.token)[0], 200)
        self.assertEqual(self.fake.calls()["throttled"], 2)

    def test_outage_closes_connections_without_an_answer(self):
        self.fake.ctl("POST", "outage", {"on": True})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.fake.api("GET", "/vms", self.token)
        self.fake.ctl("POST", "outage", {"on": False})
        self.assertEqual(self.fake.api("GET", "/vms", self.token)[0], 200)

    def test_cut_carries_the_action_out_and_loses_its_answer(self):
        vm = self.first("down")
        self.fake.ctl("POST", "cut", {"action": "start"})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.fake.api("POST", "/vms/%s/start" % vm["id"], self.token, body="<action/>")
        self.assertNotEqual(self.fake.vm(vm["id"])["state"], "down")
        self.assertEqual((self.fake.calls()["start"], self.fake.calls()["cut"]), (1, 1))

    def test_throttle_without_retry_after_is_apaches_plain_503(self):
        self.fake.ctl("POST", "throttle", {"count": 1, "retry_after": None})
        status, headers, body = self.fake.api("GET", "/vms", self.token)
        self.assertEqual(status, 503)
        self.assertNotIn("retry-after", headers)
        self.assertIn(b"503 Service Unavailable", body)

    def test_redirect_is_not_followed_by_the_sdk(self):
        conn = self.sdk()
        conn.system_service().vms_service().list(max=1)  # logged in before the redirects start
        self.hostile("redirect")
        status, headers, _ = self.fake.api("GET", "/vms", self.token)
        self.assertEqual(status, 307)
        self.assertEqual(headers["location"], "http://127.0.0.2:%d/ovirt-engine/api/vms" % self.fake.port)
        try:
            with self.assertRaises(sdk.Error):
                conn.system_service().vms_service().list()
            with self.assertRaises(sdk.Error):  # the SSO redirects too
                self.sdk().test(raise_exception=True)
        finally:
            conn.close(logout=False)
        self.assertNotIn("redirected_hit", self.fake.calls())
        # The other host does listen: a client that followed would be counted.
        urllib.request.urlopen(headers["location"], timeout=5).read()
        self.assertEqual(self.fake.calls()["redirected_hit"], 1)

    def test_html(self):
        self.hostile("html")
        status, headers, body = self.fake.api("GET", "/vms", self.token)
        self.assertEqual((status, headers["content-type"]), (200, "text/html"))
        self.assertIn(b"Welcome to nginx!", body)

    def test_wrong_root(self):
        self.hostile("wrong-root")
        root, _ = self.xml("GET", "/vms")
        self.assertEqual(root.tag, "hosts")
        conn = self.sdk()
        try:
            listed = conn.system_service().vms_service().list()
            self.assertTrue(listed and all(isinstance(x, sdk.types.Host) for x in listed))
        finally:
            conn.close()

    def test_wrong_ids(self):
        vm = self.fake.truth()[0]
        self.hostile("wrong-ids")
        root, _ = self.xml("GET", "/vms/" + vm["id"])
        self.assertNotEqual(root.get("id"), vm["id"])
        root, _ = self.xml("GET", "/vms")
        truth = {v["id"]: v["name"] for v in self.fake.truth()}
        self.assertTrue(all(truth[v.get("id")] != v.findtext("name") for v in root.findall("vm")))

    def test_duplicate_ids(self):
        self.hostile("duplicate-ids")
        root, _ = self.xml("GET", "/vms?search=page%201&max=3")
        ids = [v.get("id") for v in root.findall("vm")]
        self.assertEqual((len(ids), len(set(ids))), (4, 3))

    def test_endless_paging(self):
        self.hostile("endless-paging")
        root, _ = self.xml("GET", "/vms?search=page%2099&max=3")
        self.assertEqual(len(root.findall("vm")), 3)

    def test_slow_body(self):
        self.hostile("slow-body")
        conn = self.fake.connection()
        try:
            conn.request("GET", "/ovirt-engine/api/vms", headers={"Authorization": "Bearer " + self.token})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(int(resp.getheader("Content-Length")), 10 ** 9)
            self.assertEqual(len(resp.read(1)), 1)
            conn.sock.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                resp.read(100)
        finally:
            conn.close()

    def test_huge_body(self):
        self.hostile("huge-body")
        conn = self.fake.connection()
        try:
            conn.request("GET", "/ovirt-engine/api/vms", headers={"Authorization": "Bearer " + self.token})
            resp = conn.getresponse()
            self.assertEqual(int(resp.getheader("Content-Length")), 200 * 1024 * 1024)
            self.assertTrue(resp.read(65536).startswith(b"<?xml"))
        finally:
            conn.close()

    def test_absurd_retry_after(self):
        self.hostile("absurd-retry-after")
        status, headers, _ = self.fake.api("GET", "/vms", self.token)
        self.assertEqual((status, headers["retry-after"]), (503, str(10 ** 12)))

    def test_echo_secret(self):
        self.hostile("echo-secret")
        status, _, body = self.fake.sso()
        self.assertEqual(status, 400)
        self.assertIn(PASSWORD, json.loads(body)["error"])
        status, _, body = self.fake.api("GET", "/vms", self.token)
        self.assertEqual(status, 401)
        self.assertIn(PASSWORD.replace("&", "&amp;").encode(), body)
        conn = self.sdk()
        try:
            with self.assertRaises(sdk.AuthError) as caught:
                conn.test(raise_exception=True)
            self.assertIn(PASSWORD, str(caught.exception))
        finally:
            conn.close(logout=False)

    def test_escape_names(self):
        self.hostile("escape-names")
        _, _, body = self.fake.api("GET", "/vms", self.token)
        self.assertIn(b"&#27;[31m", body)
        with self.assertRaises(ET.ParseError):  # C0 references are not XML 1.0
            ET.fromstring(body)
        self.assertTrue(all("wire_name" in v for v in self.fake.truth()))

    def test_foreign_tags(self):
        vm, other = self.fake.truth()[:2]
        self.fake.ctl("POST", "vms/%s/tags" % vm["id"], {"tags": ["env/prod"]})
        self.hostile("foreign-tags")
        root, _ = self.xml("GET", "/vms/%s?follow=tags" % vm["id"])
        self.assertEqual(root.get("id"), vm["id"])
        self.assertEqual(root.find("tags/tag/vm").get("id"), other["id"])  # its neighbour by name
        listed, _ = self.xml("GET", "/vms?follow=tags")
        first = listed.find("vm[@id='%s']" % vm["id"])
        self.assertEqual(first.find("tags/tag/vm").get("id"), other["id"])
        sub, _ = self.xml("GET", "/vms/%s/tags" % vm["id"])
        self.assertEqual(sub.find("tag/vm").get("id"), other["id"])
        self.assertGreaterEqual(self.fake.calls()["hostile"], 3)

    def test_reset_clears_every_fault(self):
        self.fake.ctl("POST", "throttle", {"count": 5})
        self.fake.ctl("POST", "outage", {"on": True})
        self.hostile("html")
        self.fake.ctl("POST", "fail", {"action": "stop", "count": 3})
        self.fake.ctl("POST", "reset", {})
        vm = self.first("up")
        root, _ = self.xml("POST", "/vms/%s/stop" % vm["id"], "<action/>")
        self.assertEqual(root.findtext("status"), "complete")


if __name__ == "__main__":
    unittest.main()
