"""Start the Azure fake as a child process (the FAKES.md launch contract) and
talk to it: the control API, and raw HTTPS requests for wire-level checks."""

import contextlib
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.parse

from .auth import DEFAULT_SECRET

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server.py")
REPO = os.path.abspath(os.path.join(os.path.dirname(SERVER), "..", "..", ".."))


class FakeAzure:
    def __init__(self, *args):
        self.state_dir = tempfile.mkdtemp(prefix="fake-azure-")
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--state-dir", self.state_dir, "--exit-on-stdin-eof", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fake exited before announcing itself (rc=%s)" % self.proc.wait())
        info = json.loads(line)
        self.url, self.ca, self.control = info["url"], info["ca"], info["control"]
        self.port = urllib.parse.urlsplit(self.url).port
        self.ssl = ssl.create_default_context(cafile=self.ca)
        self.config = self.ctl("/config")

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

    # -------------------------------------------------------------- requests
    def raw(self, method, path, body=None, headers=None, timeout=10):
        """(status, headers with lower-case names, body bytes) of one HTTPS request."""
        with self.stream(method, path, body, headers, timeout) as (status, hdrs, resp):
            return status, hdrs, resp.read()

    @contextlib.contextmanager
    def stream(self, method, path, body=None, headers=None, timeout=10):
        """Like raw(), but yields the unread response (for bodies that never end)."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            yield resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp
        finally:
            conn.close()

    def ctl(self, path, data=None, method=None):
        method = method or ("GET" if data is None else "POST")
        status, _, body = self.raw(method, "/_fake" + path, body=data if data is not None else None,
                                   headers={"Content-Type": "application/json"})
        if status >= 400:
            raise AssertionError("control %s %s -> %d %s" % (method, path, status, body[:300]))
        return json.loads(body)

    def token(self, client_id=None, secret=None):
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": client_id or self.config["client_id"],
            "client_secret": secret or DEFAULT_SECRET,
            "scope": "https://management.azure.com/.default"})
        status, _, body = self.raw("POST", "/%s/oauth2/v2.0/token" % self.config["tenant"], body=form.encode(),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, body
        return json.loads(body)["access_token"]

    def arm(self, method, path, token, headers=None, stream=False, **kw):
        h = {"Authorization": "Bearer " + token}
        h.update(headers or {})
        return (self.stream if stream else self.raw)(method, path, headers=h, **kw)
