"""Starts the oVirt fake as a child process and talks to it (tests only)."""

import http.client
import json
import os
import select
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py")
USERNAME = "admin@internal"
PASSWORD = "s3cret+p@ss&="


class FakeEngine:
    def __init__(self, *extra, transition_ms=200):
        self.state_dir = tempfile.mkdtemp(prefix="ovirt-fake-")
        cmd = [sys.executable, SERVER, "--port", "0", "--state-dir", self.state_dir,
               "--transition-ms", str(transition_ms), "--exit-on-stdin-eof"] + list(extra)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        if not ready:
            self.stop()
            raise RuntimeError("the oVirt fake did not start")
        info = json.loads(self.proc.stdout.readline())
        self.url, self.ca = info["url"], info["ca"]
        self.api_url = self.url + "/ovirt-engine/api"
        parsed = urllib.parse.urlsplit(self.url)
        self.host, self.port = parsed.hostname, parsed.port
        self.ssl = ssl.create_default_context(cafile=self.ca)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # -------------------------------------------------------------- HTTP

    def connection(self, timeout=10):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ssl, timeout=timeout)

    def raw(self, method, path, body=None, headers=None, timeout=10):
        """Returns (status, headers dict with lower-case names, body bytes)."""
        conn = self.connection(timeout)
        try:
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def ctl(self, method, path, data=None):
        status, _, body = self.raw(method, "/_fake/" + path, json.dumps(data) if data is not None else None,
                                   {"Content-Type": "application/json"})
        if status != 200:
            raise AssertionError("control %s %s -> %s %s" % (method, path, status, body))
        return json.loads(body)

    def truth(self):
        return self.ctl("GET", "vms")

    def vm(self, key):
        return next(v for v in self.truth() if key in (v["id"], v["name"]))

    def set_state(self, key, state):
        return self.ctl("POST", "vms/%s/state" % key, {"state": state})

    def calls(self):
        return self.ctl("GET", "calls")

    def token(self, scope="ovirt-app-api", password=PASSWORD, accept="application/json"):
        status, _, body = self.sso(scope=scope, password=password, accept=accept)
        assert status == 200, body
        return json.loads(body)["access_token"]

    def sso(self, scope="ovirt-app-api", password=PASSWORD, accept="application/json", username=USERNAME):
        form = {"grant_type": "password", "username": username, "password": password}
        if scope is not None:
            form["scope"] = scope
        return self.raw("POST", "/ovirt-engine/sso/oauth/token", urllib.parse.urlencode(form),
                        {"Content-Type": "application/x-www-form-urlencoded", "Accept": accept})

    def api(self, method, path, token, body=None, headers=None, version="4"):
        h = {"Authorization": "Bearer " + token, "Accept": "application/xml"}
        if version:
            h["Version"] = version
        if body is not None:
            h["Content-Type"] = "application/xml"
        h.update(headers or {})
        return self.raw(method, "/ovirt-engine/api" + path, body, h)

    def api_xml(self, method, path, token, body=None, expect=200, **kw):
        status, headers, data = self.api(method, path, token, body, **kw)
        assert status == expect, (status, data[:500])
        return ET.fromstring(data), headers


def wait_for(predicate, timeout=5.0, interval=0.02, what="condition"):
    """Polls until predicate() is truthy; returns its value or fails."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(interval)
