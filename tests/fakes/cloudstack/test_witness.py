"""The CloudStack fake, proven with the independent `cs` client.

Run from the repository root:
    /work/main/.venv/bin/python -m unittest discover -s tests/fakes -t . -p 'test_*.py'

`cs` (5.2.0) signs like the server except for '~' (Python's quote keeps it,
Java's URLEncoder writes %7E), so the signature tests also use a reference
signer written here from the server's algorithm (ApiServer.verifyRequest),
independently of the fake's own code, pinned by known answers.
"""

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import unittest
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlparse

import cs
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
WITNESS = os.path.join(HERE, "witness.py")
KEY, SECRET = "witness-admin-key", "witness-admin-secret"
KEY2, SECRET2 = "witness-ops-key", "witness-ops-secret"
TRANSITION_MS = 150
STUBBORN_MS = 600
UNAUTHORIZED = "unable to verify user credentials and/or request signature"


# --------------------------------------------------------------------------
# Reference signer, from the algorithm: all parameters but `signature`,
# names sorted as Java String.compareTo does (UTF-16 code units, case
# sensitive), values encoded by java.net.URLEncoder rules (A-Za-z0-9 . - * _
# kept, space as %20, everything else %XX of the UTF-8 bytes, so '~' is
# %7E), joined with '&', lower-cased, HMAC-SHA1, Base64.
# --------------------------------------------------------------------------
def java_encode(value):
    # quote() keeps letters, digits, "_.-~" and whatever is in `safe`;
    # URLEncoder keeps the same set plus '*' but not '~'.
    return quote(value, safe="*").replace("~", "%7E")


def reference_canonical(params):
    names = sorted((n for n in params if n.lower() != "signature"), key=lambda n: n.encode("utf-16-be"))
    return "&".join("%s=%s" % (n, java_encode(params[n])) for n in names).lower()


def reference_sign(params, secret):
    mac = hmac.new(secret.encode("utf-8"), reference_canonical(params).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def expires_in(seconds, fmt="%Y-%m-%dT%H:%M:%S%z"):
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime(fmt)


class Fake:
    """One fake server process."""

    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--exit-on-stdin-eof", "--seed", "7", "--vms", "12",
             "--projects", "2", "--transition-ms", str(TRANSITION_MS), "--stubborn-timeout-ms", str(STUBBORN_MS),
             "--api-key", KEY, "--secret-key", SECRET, "--user2", "%s:%s" % (KEY2, SECRET2)] + list(extra),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("fake did not start: %s" % self.proc.stderr.read().decode())
        self.info = json.loads(line)
        self.url = self.info["url"]
        self.endpoint = self.url + "/client/api"
        self.control = self.info["control"]
        self.verify = self.info["ca"] or True

    def stop(self):
        self.proc.stdin.close()   # --exit-on-stdin-eof
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()

    def get(self, path):
        return requests.get(self.control + path, verify=self.verify, timeout=10).json()

    def post(self, path, body=None):
        r = requests.post(self.control + path, json=body or {}, verify=self.verify, timeout=10)
        r.raise_for_status()
        return r.json()

    def client(self, key=KEY, secret=SECRET, **kw):
        return cs.CloudStack(endpoint=self.endpoint, key=key, secret=secret, verify=self.verify,
                             poll_interval=0.05, job_timeout=20, **kw)

    def signed(self, params, secret=SECRET, key=KEY, method="GET", sign=reference_sign, **kw):
        """Send a request signed by `sign` (the reference signer by default)."""
        params = dict(params)
        params.setdefault("apiKey", key)
        params.setdefault("response", "json")
        params["signature"] = sign(params, secret)
        if method == "GET":
            return requests.get(self.endpoint, params=params, verify=self.verify, timeout=10, **kw)
        return requests.post(self.endpoint, data=params, verify=self.verify, timeout=10, **kw)


FAKE = None


def setUpModule():
    global FAKE
    FAKE = Fake()


def tearDownModule():
    FAKE.stop()


def wait_for(predicate, timeout=10.0, step=0.03):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met within %.1fs" % timeout)


class Base(unittest.TestCase):
    def setUp(self):
        FAKE.post("/reset")
        self.cs = FAKE.client()

    def truth(self):
        return FAKE.get("/vms")

    def pick(self, state, stubborn=False, project=False):
        for vm in self.truth():
            if vm["state"] == state and vm["stubborn"] == stubborn and (vm["project"] is not None) == project \
                    and (project or vm["account"] == "admin"):
                return vm
        self.fail("no %s VM (stubborn=%s, project=%s) in the seed" % (state, stubborn, project))

    def api_error(self, fn, **kw):
        with self.assertRaises(cs.CloudStackApiException) as ctx:
            fn(**kw)
        return ctx.exception


class SigningKnownAnswers(unittest.TestCase):
    """The reference signer itself, pinned by hand-derived canonical strings."""

    def test_tilde_star_space_known_answer(self):
        params = {"command": "listVirtualMachines", "apiKey": "k", "response": "json", "name": "a b~*",
                  "signature": "ignored"}
        canonical = "apikey=k&command=listvirtualmachines&name=a%20b%7e*&response=json"
        self.assertEqual(reference_canonical(params), canonical)
        by_hand = base64.b64encode(hmac.new(b"s", canonical.encode(), hashlib.sha1).digest()).decode()
        self.assertEqual(reference_sign(params, "s"), by_hand)
        self.assertEqual(by_hand, "oyw71lSC3X6f4gx7neCxTEh2Wk8=")

    def test_mixed_case_and_unicode_known_answer(self):
        params = {"command": "listEvents", "apiKey": "K", "account": "\u00e9 \u00fc", "Zoneid": "x/y+z"}
        # 'Z' (0x5A) sorts before every lower-case letter.
        canonical = "zoneid=x%2fy%2bz&account=%c3%a9%20%c3%bc&apikey=k&command=listevents"
        self.assertEqual(reference_canonical(params), canonical)
        self.assertEqual(reference_sign(params, "s3cr3t"),
                         base64.b64encode(hmac.new(b"s3cr3t", canonical.encode(), hashlib.sha1).digest()).decode())

    def test_cs_differs_from_java_only_on_tilde(self):
        probe = cs.CloudStack(endpoint="http://unused", key="k", secret="s")
        for value, same in (("plain", True), ("a b", True), ("x*y", True), ("a/b:c+d", True), ("\u00e9", True),
                            ("a~b", False)):
            params = {"command": "listVirtualMachines", "apiKey": "k", "name": value}
            theirs = dict(params)
            probe._sign(theirs)
            self.assertEqual(theirs["signature"] == reference_sign(params, "s"), same, value)


class Listing(Base):
    def test_cs_lists_the_truth_across_pages(self):
        FAKE.post("/calls/reset")
        vms = self.cs.listVirtualMachines(listall=True, projectid=-1, fetch_list=True, pagesize=5)
        truth = self.truth()
        self.assertEqual(len(truth), 12)
        self.assertEqual(sorted((v["id"], v["name"], v["state"]) for v in vms),
                         sorted((v["id"], v["name"], v["state"]) for v in truth))
        self.assertEqual(FAKE.get("/calls")["listVirtualMachines"], 3)   # 5 + 5 + 2
        project_rows = [v for v in vms if "projectid" in v]
        self.assertTrue(project_rows)
        for row in project_rows:
            self.assertNotIn("account", row)        # project VMs name the project instead
        states = {v["state"] for v in vms}
        self.assertTrue({"Destroyed", "Expunging", "Running", "Stopped"} <= states)

    def test_project_vms_need_projectid_minus_one(self):
        def names(**kw):
            return {v["name"] for v in self.cs.listVirtualMachines(fetch_list=True, **kw)}
        truth = self.truth()
        in_projects = {v["name"] for v in truth if v["project"]}
        everything = {v["name"] for v in truth}
        own = {v["name"] for v in truth if v["account"] == "admin"}
        self.assertEqual(names(listall=True), everything - in_projects)
        self.assertEqual(names(projectid=-1), in_projects)
        self.assertEqual(names(listall=True, projectid=-1), everything)
        self.assertEqual(names(), own)                                      # no listall: the caller's own
        project = next(v for v in truth if v["project"])
        self.assertEqual(names(projectid=project["projectid"]),
                         {v["name"] for v in truth if v["projectid"] == project["projectid"]})

    def test_empty_and_past_the_end_pages(self):
        r = FAKE.signed({"command": "listVirtualMachines", "listall": "true", "name": "no-such-vm"})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {"listvirtualmachinesresponse": {}})
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        r = FAKE.signed({"command": "listVirtualMachines", "listall": "true", "projectid": "-1", "page": "9",
                         "pagesize": "5"})
        self.assertEqual(r.json(), {"listvirtualmachinesresponse": {"count": 12}})

    def test_details_min_and_selected_blocks(self):
        running = self.pick("Running")
        [row] = self.cs.listVirtualMachines(id=running["id"], details="min")["virtualmachine"]
        for absent in ("templatename", "serviceofferingname", "cpunumber", "cpuused", "rootdeviceid"):
            self.assertNotIn(absent, row)
        self.assertEqual(row["nic"], [])
        self.assertEqual((row["state"], row["zonename"], row["hostname"]),
                         (running["state"], running["zone"], running["host"]))
        [row] = self.cs.listVirtualMachines(id=running["id"], details="tmpl,servoff,nics")["virtualmachine"]
        self.assertIn("templatename", row)
        self.assertIn("serviceofferingname", row)
        self.assertRegex(row["nic"][0]["ipaddress"], r"^10\.\d+\.\d+\.\d+$")
        self.assertNotIn("cpuused", row)
        [row] = self.cs.listVirtualMachines(id=running["id"])["virtualmachine"]   # default: all
        self.assertIn("cpuused", row)
        err = self.api_error(self.cs.listVirtualMachines, details="tiny")
        self.assertEqual(err.response.status_code, 431)
        self.assertEqual(err.error["cserrorcode"], 4350)
        self.assertIn("The details parameter contains a non permitted value", err.error["errortext"])

    def test_id_and_ids(self):
        truth = self.truth()
        a, b = truth[0]["id"], truth[1]["id"]
        rows = self.cs.listVirtualMachines(ids="%s,%s" % (a, b), listall=True)["virtualmachine"]
        self.assertEqual({r["id"] for r in rows}, {a, b})
        err = self.api_error(self.cs.listVirtualMachines, id=a, ids=b)
        self.assertEqual((err.response.status_code, err.error["errortext"]),
                         (431, "Specify either id or ids but not both parameters"))

    def test_paging_parameters_are_checked(self):
        cases = ({"pagesize": "501", "page": "1"}, {"page": "1"}, {"pagesize": "5"})
        texts = ("Page size can't exceed max allowed page size value: 500",
                 '"pagesize" parameter is required when "page" is specified',
                 '"page" parameter is required when "pagesize" is specified')
        for extra, text in zip(cases, texts):
            r = FAKE.signed(dict({"command": "listVirtualMachines"}, **extra))
            self.assertEqual(r.status_code, 431, extra)
            self.assertEqual(r.json()["listvirtualmachinesresponse"]["errortext"], text)

    def test_unknown_vm_id_is_431_with_the_server_text(self):
        missing = "00000000-1111-4222-8333-444444444444"
        err = self.api_error(self.cs.startVirtualMachine, id=missing)
        self.assertEqual(err.response.status_code, 431)
        self.assertEqual(err.error, {
            "uuidList": [], "errorcode": 431, "cserrorcode": 9999,
            "errortext": "Unable to execute API command startvirtualmachine due to invalid value. Invalid parameter "
                         "id value=%s due to incorrect long value format, or entity does not exist or due to incorrect "
                         "parameter annotation for the field in api cmd class." % missing})
        self.assertEqual(err.response.headers["X-Description"], err.error["errortext"])

    def test_xml_without_response_json(self):
        r = FAKE.signed({"command": "listZones", "response": "xml"})
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/xml"))
        self.assertTrue(r.text.startswith('<?xml version="1.0" encoding="UTF-8"?><listzonesresponse'))


class Jobs(Base):
    def test_start_stop_reboot_through_cs_job_polling(self):
        vm = self.pick("Stopped")
        result = self.cs.startVirtualMachine(id=vm["id"], fetch_result=True)
        self.assertEqual(result["virtualmachine"]["state"], "Running")
        self.assertEqual(FAKE.get("/vms/" + vm["id"])["state"], "Running")
        result = self.cs.rebootVirtualMachine(id=vm["id"], fetch_result=True)
        self.assertEqual(result["virtualmachine"]["state"], "Running")
        result = self.cs.stopVirtualMachine(id=vm["id"], fetch_result=True)
        self.assertEqual(result["virtualmachine"]["state"], "Stopped")
        truth = FAKE.get("/vms/" + vm["id"])
        self.assertEqual((truth["state"], truth["host"]), ("Stopped", None))

    def test_job_answer_and_pending_row(self):
        vm = self.pick("Stopped")
        FAKE.post("/timing", {"transition_ms": 1000})   # room to look at the open job
        answer = FAKE.signed({"command": "startVirtualMachine", "id": vm["id"]}).json()
        self.assertEqual(list(answer), ["startvirtualmachineresponse"])
        jobid = answer["startvirtualmachineresponse"]["jobid"]
        self.assertEqual(list(answer["startvirtualmachineresponse"]), ["jobid"])
        [row] = self.cs.listVirtualMachines(id=vm["id"])["virtualmachine"]
        self.assertEqual((row["jobid"], row["jobstatus"]), (jobid, 0))
        pending = self.cs.queryAsyncJobResult(jobid=jobid)
        self.assertEqual((pending["jobstatus"], pending["jobinstanceid"]), (0, vm["id"]))
        self.assertNotIn("jobresult", pending)
        done = wait_for(lambda: (lambda j: j if j["jobstatus"] == 1 else None)(self.cs.queryAsyncJobResult(jobid=jobid)))
        self.assertEqual(done["jobresultcode"], 0)
        self.assertEqual(done["jobinstancetype"], "VirtualMachine")
        self.assertEqual(done["cmd"], "org.apache.cloudstack.api.command.admin.vm.StartVMCmdByAdmin")
        self.assertIn("completed", done)
        self.assertEqual(done["jobresult"]["virtualmachine"]["state"], "Running")
        [row] = self.cs.listVirtualMachines(id=vm["id"])["virtualmachine"]
        self.assertNotIn("jobid", row)

    def test_failed_job_surfaces_the_errortext(self):
        vm = self.pick("Stopped")
        FAKE.post("/fail", {"action": "start", "code": 533, "message": "Not enough capacity in zone-a"})
        err = self.api_error(self.cs.startVirtualMachine, id=vm["id"], fetch_result=True)
        self.assertEqual(err.error, {"errorcode": 533, "errortext": "Not enough capacity in zone-a"})
        self.assertEqual(FAKE.get("/vms/" + vm["id"])["state"], "Stopped")
        events = self.cs.listEvents(type="VM.START", listall=True, level="ERROR")["event"]
        self.assertEqual(events[0]["description"], "Error while starting Vm. VM ID: %s" % vm["id"])

    def test_reboot_of_a_stopped_vm_fails_431_and_start_of_a_running_one_is_a_noop(self):
        stopped, running = self.pick("Stopped"), self.pick("Running")
        err = self.api_error(self.cs.rebootVirtualMachine, id=stopped["id"], fetch_result=True)
        self.assertEqual(err.error["errorcode"], 431)
        self.assertIn("is not running, unable to reboot it", err.error["errortext"])
        result = self.cs.startVirtualMachine(id=running["id"], fetch_result=True)
        self.assertEqual(result["virtualmachine"]["state"], "Running")

    def test_stubborn_graceful_stop_fails_and_a_queued_forced_stop_then_runs(self):
        vm = self.pick("Running", stubborn=True)
        graceful = self.cs.stopVirtualMachine(id=vm["id"])["jobid"]
        forced = self.cs.stopVirtualMachine(id=vm["id"], forced=True)["jobid"]

        def jobs():
            return {j["jobid"]: j for j in self.cs.listAsyncJobs(listall=True, fetch_list=True)}
        wait_for(lambda: FAKE.get("/vms/" + vm["id"])["state"] == "Stopping")
        # The graceful stop now waits for the guest (STUBBORN_MS); one VM,
        # one work queue: the forced stop waits behind it.
        rows = jobs()
        self.assertEqual((rows[graceful]["jobstatus"], rows[forced]["jobstatus"]), (0, 0))
        rows = wait_for(lambda: (lambda r: r if r[forced]["jobstatus"] != 0 else None)(jobs()), step=0.05)
        self.assertEqual((rows[graceful]["jobstatus"], rows[graceful]["jobresultcode"]), (2, 530))
        self.assertEqual(rows[graceful]["jobresult"]["errortext"], "Unable to stop VM[User|%s]" % vm["instancename"])
        self.assertEqual(rows[forced]["jobstatus"], 1)
        self.assertEqual(FAKE.get("/vms/" + vm["id"])["state"], "Stopped")
        completed = [e["level"] for e in FAKE.get("/events")
                     if e["type"] == "VM.STOP" and e["state"] == "Completed" and e["resourceid"] == vm["id"]]
        self.assertEqual(completed, ["INFO", "ERROR"])   # newest first: the forced stop ended last

    def test_list_async_jobs_shows_work_jobs_and_pages(self):
        vm = self.pick("Stopped")
        self.cs.startVirtualMachine(id=vm["id"], fetch_result=True)
        jobs = self.cs.listAsyncJobs(listall=True, startdate=expires_in(0, "%Y-%m-%d"), fetch_list=True, pagesize=1)
        self.assertEqual(sorted(j["cmd"] for j in jobs),
                         ["com.cloud.vm.VmWorkStart", "org.apache.cloudstack.api.command.admin.vm.StartVMCmdByAdmin"])
        self.assertTrue(all(j["jobstatus"] == 1 for j in jobs))
        tomorrow = expires_in(86400, "%Y-%m-%d")
        r = FAKE.signed({"command": "listAsyncJobs", "listall": "true", "startdate": tomorrow})
        self.assertEqual(r.json(), {"listasyncjobsresponse": {}})


class Tags(Base):
    TAG_FIELDS = ["key", "value", "resourcetype", "resourceid", "account", "domainid", "domain", "domainpath"]

    def create(self, vm_id, fetch_result=True, **tags):
        return self.cs.createTags(resourceids=vm_id, resourcetype="UserVm", fetch_result=fetch_result,
                                  tags=[{"key": k, "value": v} for k, v in tags.items()])

    def tags_of(self, vm_id, details=None):
        extra = {"details": details} if details else {}
        [row] = self.cs.listVirtualMachines(id=vm_id, **extra)["virtualmachine"]
        return row["tags"]

    def wait_job(self, jobid):
        return wait_for(lambda: (lambda j: j if j["jobstatus"] != 0 else None)(self.cs.queryAsyncJobResult(jobid=jobid)))

    def test_create_two_tags_then_every_details_level_lists_them(self):
        vm = self.pick("Running")
        self.assertEqual(self.tags_of(vm["id"]), [])
        self.assertEqual(self.create(vm["id"], env="prod", team="web"), {"success": True})
        for details in ("nics,servoff,tmpl", "min"):
            tags = self.tags_of(vm["id"], details)
            self.assertEqual([(t["key"], t["value"], t["resourcetype"], t["resourceid"]) for t in tags],
                             [("env", "prod", "UserVm", vm["id"]), ("team", "web", "UserVm", vm["id"])], details)
        [row] = self.cs.listVirtualMachines(id=vm["id"], details="min")["virtualmachine"]
        self.assertEqual(list(row["tags"][0]), self.TAG_FIELDS)
        self.assertEqual((row["tags"][0]["account"], row["tags"][0]["domainid"], row["tags"][0]["domain"]),
                         (row["account"], row["domainid"], row["domain"]))
        self.assertEqual(row["tags"][0]["domainpath"], "ROOT")
        self.assertEqual(FAKE.get("/vms/" + vm["id"])["tags"], {"env": "prod", "team": "web"})

    def test_job_answer_result_and_events(self):
        vm = self.pick("Stopped")
        answer = FAKE.signed({"command": "createTags", "resourceids": vm["id"], "resourcetype": "UserVm",
                              "tags[0].key": "env", "tags[0].value": "prod", "customer": "acme"}).json()
        self.assertEqual(list(answer), ["createtagsresponse"])
        self.assertEqual(list(answer["createtagsresponse"]), ["jobid"])
        done = self.wait_job(answer["createtagsresponse"]["jobid"])
        self.assertEqual((done["jobstatus"], done["jobresultcode"], done["jobresulttype"], done["jobresult"], done["cmd"]),
                         (1, 0, "object", {"success": True}, "org.apache.cloudstack.api.command.user.tag.CreateTagsCmd"))
        self.assertNotIn("jobinstancetype", done)
        self.assertNotIn("jobinstanceid", done)
        [row] = self.cs.listVirtualMachines(id=vm["id"])["virtualmachine"]
        self.assertNotIn("jobid", row)                  # a tag job is not the VM's job
        self.assertEqual(list(row["tags"][0]), self.TAG_FIELDS + ["customer"])
        self.assertEqual(row["tags"][0]["customer"], "acme")
        events = self.cs.listEvents(type="CREATE_TAGS", listall=True, fetch_list=True)
        self.assertEqual([(e["state"], e["level"], e["account"], e["description"]) for e in events],
                         [("Completed", "INFO", "admin", "Successfully completed creating resource tags"),
                          ("Scheduled", "INFO", "system", "Creating resource tag(s)")])
        self.assertEqual(events[0]["parentid"], events[1]["id"])
        self.assertTrue(all("resourceid" not in e for e in events))
        answer = self.cs.deleteTags(resourceids=vm["id"], resourcetype="UserVm")
        self.assertEqual(list(answer), ["jobid"])
        done = self.wait_job(answer["jobid"])
        self.assertEqual((done["jobstatus"], done["cmd"]), (1, "org.apache.cloudstack.api.command.user.tag.DeleteTagsCmd"))
        self.assertEqual(self.tags_of(vm["id"]), [])
        self.assertEqual([e["state"] for e in self.cs.listEvents(type="DELETE_TAGS", listall=True)["event"]],
                         ["Completed", "Scheduled"])

    def test_project_vm_tags_name_the_project(self):
        vm = self.pick("Stopped", project=True)
        self.create(vm["id"], env="ci")
        [row] = self.cs.listVirtualMachines(id=vm["id"], projectid=vm["projectid"])["virtualmachine"]
        [tag] = row["tags"]
        self.assertEqual(list(tag), ["key", "value", "resourcetype", "resourceid", "projectid", "project",
                                     "domainid", "domain", "domainpath"])
        self.assertEqual((tag["projectid"], tag["project"]), (vm["projectid"], vm["project"]))

    def test_empty_value_fails_the_job_431_and_keeps_nothing(self):
        vm = self.pick("Running")
        err = self.api_error(self.create, vm_id=vm["id"], env="prod", owner="")
        self.assertEqual(err.error, {"errorcode": 431, "errortext": "Value for the key owner is either null or empty"})
        self.assertEqual(self.tags_of(vm["id"]), [])    # one transaction: env is not kept either
        [completed] = [e for e in self.cs.listEvents(type="CREATE_TAGS", listall=True)["event"] if e["state"] == "Completed"]
        self.assertEqual((completed["level"], completed["description"]), ("ERROR", "Error while creating resource tags"))

    def test_duplicate_key_fails_the_job(self):
        vm = self.pick("Running")
        self.create(vm["id"], env="prod")
        for key in ("env", "ENV"):      # the unique key compares keys ignoring case (MySQL collation)
            err = self.api_error(self.create, vm_id=vm["id"], **{key: "dev"})
            self.assertEqual(err.error, {"errorcode": 530,
                                         "errortext": "tag %s already on UserVm with id %s" % (key, vm["id"])})
        self.assertEqual([(t["key"], t["value"]) for t in self.tags_of(vm["id"])], [("env", "prod")])
        err = self.api_error(self.cs.createTags, resourceids=vm["id"], resourcetype="UserVm", fetch_result=True,
                             tags=[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}])
        self.assertEqual(err.error, {"errorcode": 530, "errortext": "Duplicate key a (attempted merging values 1 and 2)"})
        # No value at all: a NullPointerException in the server, so no errortext.
        err = self.api_error(self.cs.createTags, resourceids=vm["id"], resourcetype="UserVm", fetch_result=True,
                             tags=[{"key": "a"}])
        self.assertEqual(err.error, {"errorcode": 530})

    def test_resource_type_any_case_other_types_refused(self):
        vm = self.pick("Running")
        self.cs.createTags(resourceids=vm["id"], resourcetype="uservm", tags=[{"key": "a", "value": "1"}],
                           fetch_result=True)
        err = self.api_error(self.cs.createTags, resourceids=vm["id"], resourcetype="Teapot",
                             tags=[{"key": "b", "value": "2"}], fetch_result=True)
        self.assertEqual(err.error, {"errorcode": 431, "errortext": "Invalid resource type Teapot"})
        err = self.api_error(self.cs.createTags, resourceids=vm["id"], resourcetype="Volume",
                             tags=[{"key": "b", "value": "2"}], fetch_result=True)
        self.assertEqual(err.error["errortext"], "Unable to find resource by uuid %s and type Volume" % vm["id"])
        err = self.api_error(self.cs.createTags, resourceids=vm["id"], resourcetype="UserVm")
        self.assertEqual((err.response.status_code, err.error["errortext"]),
                         (431, "Unable to execute API command createtags due to missing parameter tags"))
        self.assertEqual([t["key"] for t in self.tags_of(vm["id"])], ["a"])

    def test_delete_one_key_leaves_the_other(self):
        vm = self.pick("Running")
        self.create(vm["id"], env="prod", team="web")
        result = self.cs.deleteTags(resourceids=vm["id"], resourcetype="UserVm", tags=[{"key": "ENV"}], fetch_result=True)
        self.assertEqual(result, {"success": True})
        self.assertEqual([(t["key"], t["value"]) for t in self.tags_of(vm["id"])], [("team", "web")])
        # A value that does not match deletes nothing: the job fails.
        err = self.api_error(self.cs.deleteTags, resourceids=vm["id"], resourcetype="UserVm",
                             tags=[{"key": "team", "value": "db"}], fetch_result=True)
        self.assertEqual(err.error, {"errorcode": 530, "errortext": "Failed to delete tags"})
        self.assertEqual(FAKE.get("/vms/" + vm["id"])["tags"], {"team": "web"})

    def test_tilde_and_space_in_a_value_sign_and_round_trip(self):
        vm = self.pick("Running")
        value = "a b~c*d/e"
        # cs signs '~' unencoded, so the server refuses it, bracketed names and all ...
        err = self.api_error(self.create, vm_id=vm["id"], note=value)
        self.assertEqual(err.response.status_code, 401)
        # ... and a request signed as the server computes it goes through, GET or POST.
        for method, key in (("GET", "note"), ("POST", "memo")):
            r = FAKE.signed({"command": "createTags", "resourceids": vm["id"], "resourcetype": "UserVm",
                             "tags[0].key": key, "tags[0].value": value, "signatureVersion": "3",
                             "expires": expires_in(600)}, method=method)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(self.wait_job(r.json()["createtagsresponse"]["jobid"])["jobstatus"], 1)
        self.assertEqual([(t["key"], t["value"]) for t in self.tags_of(vm["id"])], [("note", value), ("memo", value)])
        bad = FAKE.signed({"command": "deleteTags", "resourceids": vm["id"], "resourcetype": "UserVm",
                           "tags[0].key": "note"}, secret="not-the-secret")
        self.assertEqual(bad.status_code, 401)
        malformed = FAKE.signed({"command": "deleteTags", "resourceids": vm["id"], "resourcetype": "UserVm",
                                 "tags[x].key": "note"})
        self.assertEqual(malformed.status_code, 431)
        self.assertTrue(malformed.json()["deletetagsresponse"]["errortext"].startswith(
            "Unable to decode parameter tags[x].key; if specifying an object array"))

    def test_control_replaces_tags(self):
        vm = self.pick("Running")
        self.create(vm["id"], env="prod")
        truth = FAKE.post("/vms/%s/tags" % vm["id"], {"tags": {"Owner": "ops team", "tier": "gold"}})
        self.assertEqual(truth["tags"], {"Owner": "ops team", "tier": "gold"})
        self.assertEqual(list(truth["tags"]), ["Owner", "tier"])
        self.assertEqual([(t["key"], t["value"], t["resourceid"]) for t in self.tags_of(vm["id"], "min")],
                         [("Owner", "ops team", vm["id"]), ("tier", "gold", vm["id"])])
        by_name = FAKE.post("/vms/%s/tags" % vm["name"], {"tags": {}})
        self.assertEqual(by_name["tags"], {})
        self.assertEqual(self.tags_of(vm["id"]), [])
        for body in ({}, {"tags": ["a"]}, {"tags": {"a": ""}}, {"tags": {"a": 1}}, {"tags": {"": "x"}},
                     {"tags": {"env": "a", "ENV": "b"}}):
            r = requests.post(FAKE.control + "/vms/%s/tags" % vm["id"], json=body, timeout=10)
            self.assertEqual(r.status_code, 400, body)
            self.assertIn("error", r.json())
        self.assertEqual(requests.post(FAKE.control + "/vms/no-such-vm/tags", json={"tags": {}}, timeout=10).status_code, 404)
        FAKE.post("/vms/%s/tags" % vm["id"], {"tags": {"x": "y"}})
        FAKE.post("/reset")
        self.assertEqual(FAKE.get("/vms/" + vm["id"])["tags"], {})

    def test_injected_failure(self):
        vm = self.pick("Running")
        FAKE.post("/fail", {"action": "createTags", "code": 530, "message": "Tag store is read-only"})
        err = self.api_error(self.create, vm_id=vm["id"], env="prod")
        self.assertEqual(err.error, {"errorcode": 530, "errortext": "Tag store is read-only"})
        self.assertEqual(self.tags_of(vm["id"]), [])

    def test_read_only_user_cannot_tag(self):
        ops = FAKE.client(key=KEY2, secret=SECRET2)
        vm = next(v for v in self.truth() if v["account"] == "ops")
        err = self.api_error(ops.createTags, resourceids=vm["id"], resourcetype="UserVm",
                             tags=[{"key": "a", "value": "b"}])
        self.assertEqual(err.response.status_code, 432)


class Events(Base):
    def test_async_command_records_scheduled_started_completed(self):
        vm = self.pick("Stopped")
        self.cs.startVirtualMachine(id=vm["id"], fetch_result=True)
        events = [e for e in self.cs.listEvents(type="VM.START", listall=True, fetch_list=True)
                  if e["resourceid"] == vm["id"]]
        self.assertEqual([e["state"] for e in events], ["Completed", "Started", "Scheduled"])
        scheduled = events[2]
        self.assertEqual(scheduled["description"], "Starting User Instance with ID: %s" % vm["id"])
        self.assertEqual([e.get("parentid") for e in events[:2]], [scheduled["id"], scheduled["id"]])
        self.assertTrue(all(e["username"] == "admin" and e["resourcetype"] == "VirtualMachine" for e in events))

    def test_out_of_band_stop_is_a_system_event_seen_only_with_listall(self):
        vm = self.pick("Running")
        before = datetime.now(timezone.utc) - timedelta(seconds=2)
        FAKE.post("/vms/%s/state" % vm["id"], {"state": "Stopped"})
        since = before.strftime("%Y-%m-%d %H:%M:%S")
        events = self.cs.listEvents(listall=True, startdate=since)["event"]
        [oob] = [e for e in events if e["resourceid"] == vm["id"]]
        self.assertEqual((oob["type"], oob["description"], oob["username"], oob["account"], oob["state"]),
                         ("VM.STOP", "Out of band VM power off", "system", "system", "Completed"))
        self.assertEqual(self.cs.listEvents(startdate=since), {})          # the admin's own account only
        future = (datetime.now(timezone.utc) + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
        self.assertEqual(self.cs.listEvents(listall=True, startdate=future), {})
        err = self.api_error(self.cs.listEvents, startdate="yesterday")
        self.assertEqual(err.response.status_code, 431)

    def test_purge_drops_old_events(self):
        self.assertGreater(self.cs.listEvents(listall=True, projectid=-1)["count"], 12)
        FAKE.post("/events/purge", {"before": expires_in(-60)})
        self.assertEqual(self.cs.listEvents(listall=True, projectid=-1), {})


class Signatures(Base):
    def test_wrong_secret_is_refused_without_echo(self):
        bad = FAKE.client(secret="not-the-secret")
        err = self.api_error(bad.listVirtualMachines)
        self.assertEqual(err.response.status_code, 401)
        self.assertEqual(err.error, {"uuidList": [], "errorcode": 401, "errortext": UNAUTHORIZED})
        self.assertNotIn(SECRET, err.response.text)

    def test_cs_tilde_signature_refused_java_signature_accepted(self):
        err = self.api_error(self.cs.listVirtualMachines, name="web~001")
        self.assertEqual(err.response.status_code, 401)
        r = FAKE.signed({"command": "listVirtualMachines", "name": "web~001", "signatureVersion": "3",
                         "expires": expires_in(600)})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {"listvirtualmachinesresponse": {}})
        r = FAKE.signed({"command": "listVirtualMachines", "name": "a b*"}, method="POST")
        self.assertEqual(r.status_code, 200)

    def test_mixed_case_names_sort_case_sensitively(self):
        params = {"command": "listVirtualMachines", "Zzz": "1", "aaa": "2"}

        def lowercase_first(p, secret):
            # libcloud's order: names lower-cased before sorting.
            canonical = "&".join("%s=%s" % (n.lower(), java_encode(p[n]))
                                 for n in sorted((n for n in p if n != "signature"), key=str.lower)).lower()
            return base64.b64encode(hmac.new(secret.encode(), canonical.encode(), hashlib.sha1).digest()).decode()
        self.assertEqual(FAKE.signed(params, sign=lowercase_first).status_code, 401)
        self.assertEqual(FAKE.signed(params).status_code, 200)

    def test_expires(self):
        base = {"command": "listZones", "signatureVersion": "3"}
        now = datetime.now(timezone.utc)
        accepted = (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S+00:00"), \
            (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"), \
            (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), \
            (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S+0000"), \
            (now + timedelta(hours=1, minutes=5)).strftime("%Y-%m-%dT%H:%M:%S") + "+01:00"
        for expires in accepted:
            self.assertEqual(FAKE.signed(dict(base, expires=expires)).status_code, 200, expires)
        for expires in (expires_in(-5), "tomorrow", (now + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")):
            r = FAKE.signed(dict(base, expires=expires))
            self.assertEqual(r.status_code, 401, expires)
            self.assertEqual(r.json()["listzonesresponse"]["errortext"], UNAUTHORIZED)
        self.assertEqual(FAKE.signed({"command": "listZones", "signatureVersion": "3"}).status_code, 401)
        # Only signatureVersion=3 makes expires count.
        self.assertEqual(FAKE.signed({"command": "listZones", "expires": expires_in(-5)}).status_code, 200)

    def test_unknown_command_is_401_errorresponse(self):
        r = FAKE.signed({"command": "listTeleporters"})
        self.assertEqual(r.status_code, 401)
        self.assertEqual(list(r.json()), ["errorresponse"])

    def test_read_only_second_user(self):
        ops = FAKE.client(key=KEY2, secret=SECRET2)
        rows = ops.listVirtualMachines(listall=True, projectid=-1, fetch_list=True)
        truth = [v for v in self.truth() if v["account"] == "ops" and v["state"] not in ("Destroyed", "Expunging")]
        self.assertEqual({r["id"] for r in rows}, {v["id"] for v in truth})
        self.assertTrue(all("hostid" not in r and "instancename" not in r for r in rows))   # Restricted view
        err = self.api_error(ops.startVirtualMachine, id=truth[0]["id"])
        self.assertEqual(err.response.status_code, 432)
        self.assertEqual(list(err.response.json()), ["errorresponse"])
        self.assertEqual(err.error["errortext"],
                         "The API [startVirtualMachine] does not exist or is not available for the account ops.")


class Faults(Base):
    def test_throttle_is_429_with_retry_in_the_text_and_no_retry_after(self):
        text = "The given user has reached his/her account api limit, please retry after [%d] ms."
        FAKE.post("/throttle", {"count": 2, "retry_after_ms": 1234})
        for _ in range(2):
            err = self.api_error(self.cs.listVirtualMachines)
            self.assertEqual(err.response.status_code, 429)
            self.assertEqual(err.error, {"uuidList": [], "errorcode": 429, "cserrorcode": 9999, "errortext": text % 1234})
            self.assertNotIn("Retry-After", err.response.headers)
        self.cs.listVirtualMachines()
        FAKE.post("/throttle", {"count": 1, "retry_after": 2})
        self.assertEqual(self.api_error(self.cs.listZones).error["errortext"], text % 2000)

    def test_sync_failure_envelope(self):
        FAKE.post("/fail", {"action": "stop", "code": 534, "message": "Host kvm-a01 is unreachable", "sync": True})
        err = self.api_error(self.cs.stopVirtualMachine, id=self.pick("Running")["id"])
        self.assertEqual((err.response.status_code, err.error["errorcode"], err.error["errortext"]),
                         (534, 534, "Host kvm-a01 is unreachable"))

    def test_outage_closes_connections(self):
        FAKE.post("/outage", {"on": True})
        with self.assertRaises(requests.ConnectionError):
            self.cs.listVirtualMachines()
        FAKE.post("/outage", {"on": False})
        self.assertIn("virtualmachine", self.cs.listVirtualMachines(listall=True))

    def test_cut_carries_the_command_out_and_loses_its_answer(self):
        vm = self.pick("Running")
        FAKE.post("/cut", {"action": "stopVirtualMachine"})
        with self.assertRaises(requests.ConnectionError):
            self.cs.stopVirtualMachine(id=vm["id"])
        self.assertEqual(len(FAKE.get("/vms/" + vm["id"])["pending_jobs"]), 1, "the job was queued")
        calls = FAKE.get("/calls")
        self.assertEqual((calls["stopVirtualMachine"], calls["cut"]), (1, 1))

    def test_control_add_and_remove(self):
        added = FAKE.post("/vms", {"count": 2, "state": "Stopped", "zone": "zone-b"})
        self.assertEqual(self.cs.listVirtualMachines(listall=True, projectid=-1)["count"], 14)
        resp = requests.delete(FAKE.control + "/vms/" + added[0]["id"], timeout=10)
        self.assertEqual(resp.status_code, 200)
        self.assertEqual(self.cs.listVirtualMachines(listall=True, projectid=-1)["count"], 13)
        types = [e["type"] for e in self.cs.listEvents(listall=True, resourceid=added[0]["id"], fetch_list=True)]
        self.assertIn("VM.EXPUNGE", types)


class Hostile(Base):
    def tearDown(self):
        FAKE.post("/hostile", {"mode": None})

    def hostile(self, mode):
        FAKE.post("/hostile", {"mode": mode})

    def test_redirect_is_not_followed_by_a_careful_client(self):
        self.hostile("redirect")
        r = FAKE.signed({"command": "listZones"}, allow_redirects=False)
        self.assertEqual(r.status_code, 307)
        target = urlparse(r.headers["Location"])
        self.assertEqual((target.hostname, target.port, target.path), ("127.0.0.2", urlparse(FAKE.url).port, "/client/api"))
        self.assertNotIn("redirected_hit", FAKE.get("/calls"))
        requests.get(r.headers["Location"], timeout=5)      # a client that follows is recorded
        self.assertEqual(FAKE.get("/calls")["redirected_hit"], 1)

    def test_html(self):
        self.hostile("html")
        with self.assertRaises(cs.CloudStackException) as ctx:
            self.cs.listVirtualMachines()
        self.assertIn("JSON (application/json) was expected", str(ctx.exception.args[0]))

    def test_wrong_root(self):
        self.hostile("wrong-root")
        r = FAKE.signed({"command": "listVirtualMachines", "listall": "true"})
        self.assertEqual((r.status_code, list(r.json())), (200, ["listhostsresponse"]))

    def test_wrong_ids(self):
        wanted = self.truth()[0]["id"]
        self.hostile("wrong-ids")
        rows = self.cs.listVirtualMachines(id=wanted)["virtualmachine"]
        self.assertTrue(rows and all(r["id"] != wanted for r in rows))

    def test_duplicate_ids(self):
        self.hostile("duplicate-ids")
        rows = self.cs.listVirtualMachines(listall=True)["virtualmachine"]
        ids = [r["id"] for r in rows]
        self.assertEqual(len(ids), len(set(ids)) + 1)

    def test_endless_paging(self):
        self.hostile("endless-paging")
        seen = set()
        for page in (1, 2, 3):
            body = self.cs.listVirtualMachines(listall=True, page=page, pagesize=4)
            self.assertEqual(len(body["virtualmachine"]), 4)
            seen.update(r["id"] for r in body["virtualmachine"])
            self.assertGreater(body["count"], len(seen))
        self.assertEqual(len(seen), 12)

    def test_slow_body(self):
        self.hostile("slow-body")
        port = urlparse(FAKE.url).port
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /client/api?command=listZones HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(4096)
            head, body = data.split(b"\r\n\r\n", 1)
            self.assertIn(b"200", head.split(b"\r\n")[0])
            sock.settimeout(0.2)
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:
                try:
                    body += sock.recv(4096)
                except socket.timeout:
                    pass
            self.assertLessEqual(len(body), 4)       # about one byte a second

    def test_huge_body(self):
        self.hostile("huge-body")
        r = requests.get(FAKE.endpoint, params={"command": "listZones"}, stream=True, timeout=10)
        self.assertGreaterEqual(int(r.headers["Content-Length"]), 200 * 1024 * 1024)
        self.assertEqual(len(r.raw.read(1024 * 1024)), 1024 * 1024)
        r.close()

    def test_absurd_retry_after(self):
        self.hostile("absurd-retry-after")
        err = self.api_error(self.cs.listVirtualMachines)
        self.assertEqual(err.response.status_code, 429)
        self.assertIn("[1000000000000000] ms", err.error["errortext"])

    def test_echo_secret(self):
        self.hostile("echo-secret")
        err = self.api_error(self.cs.listVirtualMachines)
        self.assertEqual(err.response.status_code, 401)
        self.assertIn(SECRET, err.error["errortext"])

    def test_escape_names(self):
        self.hostile("escape-names")
        rows = self.cs.listVirtualMachines(listall=True)["virtualmachine"]
        self.assertTrue(all("\x1b[" in r["name"] and "\x07" in r["displayname"] for r in rows))
        FAKE.post("/hostile", {"mode": None})
        self.assertTrue(all("\x1b" not in r["name"] for r in self.cs.listVirtualMachines(listall=True)["virtualmachine"]))


class WitnessCli(Base):
    def run_witness(self, *args):
        out = subprocess.run([sys.executable, WITNESS, "--url", FAKE.url, "--key", KEY, "--secret", SECRET,
                              "--poll-interval", "0.05"] + list(args), capture_output=True, timeout=60, text=True)
        return out.returncode, json.loads(out.stdout)

    def test_list_and_force_stop(self):
        code, listed = self.run_witness("list")
        self.assertEqual(code, 0)
        self.assertEqual(sorted((v["id"], v["state"]) for v in listed),
                         sorted((v["id"], v["state"]) for v in self.truth()))
        vm = self.pick("Running", stubborn=True)
        code, result = self.run_witness("force-stop", vm["id"])
        self.assertEqual((code, result["state"]), (0, "Stopped"))
        code, events = self.run_witness("events")
        self.assertIn("VM.STOP", {e["type"] for e in events})


class Tls(unittest.TestCase):
    def test_cs_over_https_with_the_test_ca(self):
        import tempfile
        with tempfile.TemporaryDirectory() as state:
            fake = Fake("--tls", "--state-dir", state)
            try:
                self.assertTrue(fake.url.startswith("https://"))
                self.assertEqual(fake.info["ca"], os.path.join(state, "ca.pem"))
                vms = fake.client().listVirtualMachines(listall=True, projectid=-1, fetch_list=True)
                self.assertEqual(len(vms), 12)
            finally:
                fake.stop()


if __name__ == "__main__":
    unittest.main()
