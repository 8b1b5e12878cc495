"""A test-only fake of the Apache CloudStack management server API.

    python tests/fakes/cloudstack/server.py --port 0 --state-dir DIR [options]

Serves the signed query API at <url>/client/api (GET query or POST form)
and the control API at <url>/_fake. Prints one JSON line when ready:
{"url": ..., "ca": ..., "control": ...}. See README.md.
"""

import argparse
import json
import os
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))   # tests/fakes, for common.tlsca

import wire                      # noqa: E402
from commands import Api         # noqa: E402
from control import Control      # noqa: E402
from model import Model, Obj     # noqa: E402
from common.conn import drop, lose  # noqa: E402

DEFAULT_API_KEY = "pdk-fake-admin-apikey-Qk3mZ8v1Xw2y7N4rT6uH9jL0sD5fG8hJ2kL4zX6cV8bN1mQ3wE5rT7yU9iO"
DEFAULT_SECRET = "pdk-fake-admin-secret-Hn2bV4cX6zL8kJ0hG3fD5sA7pO9iU1yT3rE5wQ7mN9bV2cX4zL6kJ8hG0fD"
NGINX_PAGE = (b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n"
              b"<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\n"
              b"working. Further configuration is required.</p>\n</body>\n</html>\n")
HUGE_BYTES = 200 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Jetty(9.4.53)"

    def version_string(self):
        return self.server_version

    def setup(self):
        super().setup()
        # Headers and a small body go out in two writes; without NODELAY the
        # client's delayed ACK adds ~40 ms to every small answer.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.request, ssl.SSLSocket):
            # The handshake runs here, in the request thread, so a client that
            # never finishes it cannot stall the accept loop.
            self.request.settimeout(30)
            self.request.do_handshake()
            self.request.settimeout(None)

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("cs-fake %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status, body, ctype, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            # Header values must stay one latin-1 line whatever the text holds.
            clean = value.replace("\r", " ").replace("\n", " ").encode("latin-1", "replace").decode("latin-1")
            self.send_header(name, clean)
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self, method):
        app = self.server.app
        path, _, query = self.path.partition("?")
        if self.server.redirect_target:
            self._body()
            with app.model.lock:
                app.model.calls["redirected_hit"] += 1
            return self._send(404, b"this host only exists to catch followed redirects\n", "text/plain")
        if path == "/_fake" or path.startswith("/_fake/"):
            status, obj = app.control.handle(method, path, self._body())
            return self._send(status, json.dumps(obj).encode("utf-8"), "application/json")
        if path.rstrip("/") != "/client/api":
            return self._send(404, b"Not Found\n", "text/plain")
        if app.model.outage:
            return drop(self)
        mode = app.model.hostile
        if mode in ("redirect", "html", "slow-body", "huge-body"):
            self._body()
            with app.model.lock:
                app.model.calls["hostile:" + mode] += 1
            return getattr(self, "_hostile_" + mode.replace("-", "_"))()
        params = self._params(query, method)
        reply = app.api.handle(params)
        lost = app.model.take_cut(params.get("command")) if 200 <= reply.status < 300 else None
        if lost:
            # /_fake/cut: carried out, and the answer is lost.
            return lose(self, lost)
        if (params.get("response") or "").lower() == "json":
            body, ctype = wire.dumps(reply.body), wire.JSON_TYPE
        else:
            body, ctype = wire.to_xml(reply.body), wire.XML_TYPE
        self._send(reply.status, body, ctype, reply.headers)

    def _params(self, query, method):
        """The servlet's parameter map: form fields (first value wins), then
        the query string, decoded as UTF-8 with '+' as space, where the last
        occurrence wins (ApiServlet.utf8Fixup)."""
        params = {}
        body = self._body() if method == "POST" else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if body and ctype == "application/x-www-form-urlencoded":
            for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                params.setdefault(name, value)
        for name, value in parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace"):
            params[name] = value
        return params

    def _hostile_redirect(self):
        port = self.server.server_address[1]
        self.send_response(307)
        self.send_header("Location", "http://127.0.0.2:%d%s" % (port, self.path))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _hostile_html(self):
        self._send(200, NGINX_PAGE, "text/html")

    def _hostile_slow_body(self):
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", wire.JSON_TYPE)
        self.send_header("Content-Length", str(10 ** 9))
        self.end_headers()
        payload = b'{"listvirtualmachinesresponse":{"count":1,"virtualmachine":['
        i = 0
        try:
            while not self.server.app.stopping.is_set():
                self.wfile.write(payload[i:i + 1] if i < len(payload) else b" ")
                self.wfile.flush()
                i += 1
                time.sleep(1)
        except OSError:
            pass

    def _hostile_huge_body(self):
        self.close_connection = True
        head = b'{"listvirtualmachinesresponse":{"count":1,"virtualmachine":[{"id":"00000000-0000-4000-8000-000000000000","name":"'
        tail = b'"}]}}'
        self.send_response(200)
        self.send_header("Content-Type", wire.JSON_TYPE)
        self.send_header("Content-Length", str(len(head) + HUGE_BYTES + len(tail)))
        self.end_headers()
        chunk = b"A" * (1024 * 1024)
        try:
            self.wfile.write(head)
            for _ in range(HUGE_BYTES // len(chunk)):
                self.wfile.write(chunk)
            self.wfile.write(tail)
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, app, redirect_target=False):
        super().__init__(address, Handler)
        self.app = app
        self.redirect_target = redirect_target

    def handle_error(self, request, client_address):
        if self.app.verbose:
            super().handle_error(request, client_address)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--state-dir", default=None, help="where ca.pem goes with --tls (created if missing)")
    tls = ap.add_mutually_exclusive_group()
    tls.add_argument("--tls", dest="tls", action="store_true", help="serve HTTPS with a throwaway CA")
    tls.add_argument("--no-tls", dest="tls", action="store_false", help="plain HTTP (the default)")
    ap.set_defaults(tls=False)
    ap.add_argument("--exit-on-stdin-eof", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vms", type=int, default=12)
    ap.add_argument("--projects", type=int, default=2)
    ap.add_argument("--zones", type=int, default=2)
    ap.add_argument("--hosts-per-zone", type=int, default=2)
    ap.add_argument("--stubborn-vms", type=int, default=None, help="guests that ignore a graceful stop (default vms/6)")
    ap.add_argument("--transition-ms", type=int, default=1500)
    ap.add_argument("--stubborn-timeout-ms", type=int, default=10000)
    ap.add_argument("--page-size", type=int, default=500, help="default.page.size (also the maximum pagesize)")
    ap.add_argument("--api-key", default=DEFAULT_API_KEY)
    ap.add_argument("--secret-key", default=DEFAULT_SECRET)
    ap.add_argument("--user2", default=None, metavar="KEY:SECRET", help="a read-only user in account 'ops'")
    args = ap.parse_args(argv)
    if args.user2 and ":" not in args.user2:
        ap.error("--user2 takes KEY:SECRET")
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = Obj(seed=args.seed, vms=args.vms, projects=args.projects, zones=max(1, args.zones),
              hosts_per_zone=max(1, args.hosts_per_zone), stubborn_vms=args.stubborn_vms,
              transition_s=args.transition_ms / 1000.0, stubborn_timeout_s=args.stubborn_timeout_ms / 1000.0,
              page_size=args.page_size, api_key=args.api_key, secret_key=args.secret_key,
              user2=tuple(args.user2.split(":", 1)) if args.user2 else None)
    model = Model(cfg)
    app = Obj(model=model, api=Api(model), control=Control(model), verbose=args.verbose, stopping=threading.Event())

    server = Server(("127.0.0.1", args.port), app)
    port = server.server_address[1]
    ca = None
    scheme = "http"
    if args.tls:
        from common.tlsca import server_context
        ctx, ca = server_context(args.state_dir or tempfile.mkdtemp(prefix="cs-fake-"))
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    elif args.state_dir:
        os.makedirs(args.state_dir, exist_ok=True)
    servers = [server]
    try:
        # Catches clients that follow the hostile redirect (always plain HTTP).
        servers.append(Server(("127.0.0.2", port), app, redirect_target=True))
    except OSError as err:
        sys.stderr.write("cs-fake: no redirect catcher on 127.0.0.2:%d (%s)\n" % (port, err))
    for srv in servers:
        threading.Thread(target=srv.serve_forever, name="cs-fake-http", daemon=True).start()

    stop = app.stopping
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            finally:
                stop.set()
        threading.Thread(target=watch_stdin, name="cs-fake-stdin", daemon=True).start()

    url = "%s://127.0.0.1:%d" % (scheme, port)
    sys.stdout.write(json.dumps({"url": url, "ca": ca, "control": url + "/_fake"}) + "\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    for srv in servers:
        srv.shutdown()
        srv.server_close()
    model.sched.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
