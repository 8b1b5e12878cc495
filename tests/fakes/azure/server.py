"""A faithful fake of Azure Resource Manager (compute VMs) plus the Microsoft
Entra ID token endpoint, for tests only. One HTTPS server serves both.

    python tests/fakes/azure/server.py --port 0 --state-dir DIR [options]

Prints one JSON line {"url", "ca", "control"} when ready (tests/fakes contract:
/work/helpers/FAKES.md). See README.md next to this file for what it models.
"""

import argparse
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

if __package__ in (None, ""):
    # Run as a script: make `tests.fakes…` importable from the repository root.
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))

from tests.fakes.azure.arm import Arm, classify  # noqa: E402
from tests.fakes.azure.auth import (DEFAULT_CLIENT_ID, DEFAULT_SECRET, DEFAULT_TENANT,  # noqa: E402
                                    Login, Principal, Tokens)
from tests.fakes.azure.control import Control  # noqa: E402
from tests.fakes.azure.faults import TRANSPORT_MODES, Faults  # noqa: E402
from tests.fakes.azure.reply import Reply  # noqa: E402
from tests.fakes.azure.state import World  # noqa: E402
from tests.fakes.common.conn import lose  # noqa: E402
from tests.fakes.common.tlsca import server_context  # noqa: E402

HUGE_BODY_BYTES = 200 * 1024 * 1024
NGINX_PAGE = (b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n"
              b"<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully "
              b"installed and working. Further configuration is required.</p>\n</body>\n</html>\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections go away
    disable_nagle_algorithm = True  # headers and body leave as separate writes; don't wait for delayed ACKs

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("fake-azure: %s\n" % (fmt % args))

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def _handle(self):
        app = self.server.app
        split = urllib.parse.urlsplit(self.path)
        path, raw_query = split.path, split.query
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path == "/_fake" or path.startswith("/_fake/"):
            return self._send(app.control.handle(self.command, path, body))
        f = app.faults
        if f.outage:
            # Connection closed without an answer.
            f.count("outage_dropped")
            self.close_connection = True
            return
        mode = f.hostile
        if mode in TRANSPORT_MODES:
            f.count(classify(self.command, path)[0] or "login_or_unknown")
            return getattr(self, "_hostile_" + mode.replace("-", "_"))(path, raw_query)
        query = {}
        for k, v in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
            query[k.lower()] = v
        headers = {k: v for k, v in self.headers.items()}
        headers = _CaseInsensitive(headers)
        login = app.login_route(self.command, path)
        if login is not None:
            kind, tenant = login
            reply = (app.login.discovery(tenant, app.base) if kind == "discovery"
                     else app.login.token(tenant, body, headers))
            reply.headers.setdefault("x-ms-request-id", _uuid())
            reply.headers.setdefault("Cache-Control", "no-store, no-cache")
            return self._send(reply)
        reply = app.arm.handle(self.command, path, raw_query, query, headers, app.base)
        lost = f.take_cut(classify(self.command, path)[0]) if 200 <= reply.status < 300 else None
        if lost:
            # /_fake/cut: carried out, and the answer is lost.
            return lose(self, lost)
        return self._send(reply)

    def _send(self, reply):
        payload = reply.payload()
        self.send_response(reply.status)
        if payload or reply.status not in (202, 204):
            self.send_header("Content-Type", reply.content_type)
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and payload:
            self.wfile.write(payload)

    # ------------------------------------------------ transport-level hostility
    def _hostile_redirect(self, path, raw_query):
        target = "http://127.0.0.2:%d%s%s" % (self.server.app.redirect_port, path, "?" + raw_query if raw_query else "")
        self._send(Reply(307, None, {"Location": target}))

    def _hostile_html(self, path, raw_query):
        self._send(Reply(200, NGINX_PAGE, {}, content_type="text/html"))

    def _hostile_slow_body(self, path, raw_query):
        """Headers, then one byte a second, forever (until the client gives up)."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        try:
            self.wfile.write(b"{")
            self.wfile.flush()
            while not self.server.app.stopping.is_set():
                time.sleep(1)
                self.wfile.write(b" ")
                self.wfile.flush()
        except OSError:
            pass

    def _hostile_huge_body(self, path, raw_query):
        """A 200 MB JSON body, streamed (never built in memory)."""
        self.close_connection = True
        head, tail = b'{"value":[],"padding":"', b'"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(HUGE_BODY_BYTES))
        self.end_headers()
        chunk = b"x" * 65536
        left = HUGE_BODY_BYTES - len(head) - len(tail)
        try:
            self.wfile.write(head)
            while left > 0 and not self.server.app.stopping.is_set():
                n = min(left, len(chunk))
                self.wfile.write(chunk[:n])
                left -= n
            self.wfile.write(tail)
        except OSError:
            pass


def _uuid():
    return str(uuid.uuid4())


class _CaseInsensitive(dict):
    def __init__(self, d):
        super().__init__({k.lower(): v for k, v in d.items()})

    def get(self, k, default=None):
        return super().get(k.lower(), default)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, app, ssl_ctx):
        self.app = app
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the connection's own thread, so a
        # slow or broken client cannot stall the accept loop.
        if self.ssl_ctx is None:
            return super().finish_request(request, client_address)
        try:
            request.settimeout(10)
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.app.verbose:
            super().handle_error(request, client_address)


class RedirectSink(BaseHTTPRequestHandler):
    """Plain HTTP on 127.0.0.2: any request arriving here followed a hostile redirect."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _any(self):
        self.server.app.faults.count("redirected_hit")
        payload = b'{"value": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any


class App:
    def __init__(self, args, base_url_placeholder=None):
        self.verbose = args.verbose
        self.stopping = threading.Event()
        self.faults = Faults(args.reads_per_hour, args.writes_per_hour)
        self.tokens = Tokens(args.token_ttl)
        principals = [Principal(args.client_id, args.client_secret, True, _object_id(args.client_id))]
        if args.read_only_client:
            cid, _, secret = args.read_only_client.partition(":")
            if not secret:
                raise SystemExit("--read-only-client wants ID:SECRET")
            principals.append(Principal(cid, secret, False, _object_id(cid)))
        self.world = World(seed=args.seed, subscriptions=args.subscriptions, vms=args.vms, tenant=args.tenant,
                           transition_s=args.transition_ms / 1000.0, with_failed_vm=args.with_failed_vm,
                           stubborn_guests=args.stubborn_guests)
        self.login = Login(args.tenant, principals, self.tokens, self.faults)
        self.args = args
        self.base = None
        self.redirect_port = None

    def finish_setup(self, base):
        a = self.args
        self.base = base
        options = {
            "page_size": a.page_size, "retry_after": a.retry_after, "mixed_case_rg": a.mixed_case_rg,
            "authority_uri": "%s/%s" % (base, a.tenant), "tenant": a.tenant, "client_id": a.client_id,
            "read_only_client_id": a.read_only_client.partition(":")[0] if a.read_only_client else None,
            "transition_ms": a.transition_ms, "token_ttl": a.token_ttl, "reads_per_hour": a.reads_per_hour,
            "writes_per_hour": a.writes_per_hour, "url": base,
        }
        self.arm = Arm(self.world, self.faults, self.tokens, options)
        self.control = Control(self.world, self.faults, self.tokens, options)

    def login_route(self, method, path):
        parts = [p for p in path.split("/") if p]
        if (method == "GET" and len(parts) == 4 and parts[1].lower() == "v2.0"
                and parts[2].lower() == ".well-known" and parts[3].lower() == "openid-configuration"):
            return "discovery", parts[0]
        if method == "POST" and len(parts) == 4 and parts[1].lower() == "oauth2" and parts[2].lower() == "v2.0" \
                and parts[3].lower() == "token":
            return "token", parts[0]
        return None


def _object_id(client_id):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fake-azure-principal:" + client_id.lower()))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Fake Azure Resource Manager (compute VMs) for tests.")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--tls", dest="tls", action="store_true", default=True)
    p.add_argument("--no-tls", dest="tls", action="store_false",
                   help="plain HTTP (azure-identity and azure-core refuse it; for raw clients only)")
    p.add_argument("--exit-on-stdin-eof", action="store_true")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--transition-ms", type=int, default=1500)
    p.add_argument("--tenant", default=DEFAULT_TENANT)
    p.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    p.add_argument("--client-secret", default=DEFAULT_SECRET)
    p.add_argument("--read-only-client", default=None, metavar="ID:SECRET",
                   help="a second principal that may read but gets 403 AuthorizationFailed on actions")
    p.add_argument("--token-ttl", type=int, default=3600)
    p.add_argument("--subscriptions", type=int, default=2)
    p.add_argument("--vms", type=int, default=5, help="VMs per subscription")
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--retry-after", type=int, default=1)
    p.add_argument("--reads-per-hour", type=int, default=12000)
    p.add_argument("--writes-per-hour", type=int, default=1200)
    p.add_argument("--mixed-case-rg", action="store_true",
                   help="VMs of RG-Web come back as rg-web in statusOnly lists and GETs")
    p.add_argument("--with-failed-vm", action="store_true")
    p.add_argument("--stubborn-guests", type=int, default=0, help="how many guests ignore graceful shutdown")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    app = App(args)
    ssl_ctx, ca_path = (server_context(args.state_dir) if args.tls else (None, None))
    os.makedirs(args.state_dir, exist_ok=True)
    server = Server(("127.0.0.1", args.port), app, ssl_ctx)
    port = server.server_address[1]
    base = "%s://127.0.0.1:%d" % ("https" if args.tls else "http", port)
    app.finish_setup(base)

    # The hostile redirect points at another host; listen there to catch followers.
    sink = None
    for p in (port, 0):
        try:
            sink = ThreadingHTTPServer(("127.0.0.2", p), RedirectSink)
            break
        except OSError:
            continue
    if sink is not None:
        sink.daemon_threads = True
        sink.app = app
        app.redirect_port = sink.server_address[1]
        threading.Thread(target=sink.serve_forever, daemon=True).start()
    else:
        app.redirect_port = port

    def stop(*_):
        app.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_on_stdin_eof:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except (OSError, ValueError):
                pass
            stop()
        threading.Thread(target=watch_stdin, daemon=True).start()

    sys.stdout.write(json.dumps({"url": base, "ca": ca_path, "control": base + "/_fake"}) + "\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        app.stopping.set()
        server.server_close()
        if sink is not None:
            sink.shutdown()
            sink.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
