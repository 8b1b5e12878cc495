"""A test-only fake of the oVirt / OLVM engine: SSO, REST API v4 (VMs, hosts,
clusters, actions, jobs, events, tags) and a control API at /_fake.

    python tests/fakes/ovirt/server.py --port 0 --state-dir DIR [--vms N] [--seed N]
        [--transition-ms MS] [--shutdown-timeout-ms MS] [--username U] [--password P]
        [--no-tls] [--exit-on-stdin-eof] [--verbose]

Prints one JSON line {"url", "ca", "control"} when ready. See README.md.
"""

import argparse
import collections
import http.server
import itertools
import json
import os
import re
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.fakes.common import tlsca  # noqa: E402
from tests.fakes.common.conn import drop, lose  # noqa: E402
from tests.fakes.common.cuts import Cuts  # noqa: E402
from tests.fakes.ovirt import catalog, hostile, search, wire  # noqa: E402
from tests.fakes.ovirt.engine import ACTIONS, Engine, Fault  # noqa: E402
from tests.fakes.ovirt.sso import Sso, SsoError  # noqa: E402

API_PREFIX = "/ovirt-engine/api"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
FOLLOWABLE = {"reported_devices", "applications", "host", "cluster", "tags"}
XML = "application/xml"


def effective_correlation_id(header, query_value):
    """CurrentFilter.getCorrelationId: the Correlation-Id header, else the
    correlation_id parameter; characters outside [0-9a-zA-Z_-] are dropped and
    the rest cut to 36; with nothing left a random UUID is used."""
    for raw in (header, query_value):
        if raw:
            cleaned = re.sub(r"[^0-9a-zA-Z_-]+", "", raw)[:36]
            if cleaned:
                return cleaned
    return str(uuid.uuid4())


class Fake:
    """Everything the handlers share: engine, SSO, counters and fault switches."""

    def __init__(self, args, ca_path):
        self.args = args
        self.ca_path = ca_path
        self.engine = Engine(seed=args.seed, vm_count=args.vms, transition_s=args.transition_ms / 1000.0,
                             shutdown_timeout_s=(args.shutdown_timeout_ms / 1000.0
                                                 if args.shutdown_timeout_ms is not None else None),
                             user="%s@%s-authz" % tuple(args.username.rsplit("@", 1))
                             if "@" in args.username else args.username)
        self.sso = Sso(args.username, args.password)
        self.lock = threading.Lock()
        self.calls = collections.Counter()
        self.stopping = threading.Event()
        self.port = None
        self.reset_switches()

    def reset_switches(self):
        with self.lock:
            self.throttle_left = 0
            self.retry_after = 1
            self.outage = False
            self.cuts = Cuts()  # operation (as /_fake/calls names it) -> answers still to lose
            self.hostile = None

    def count(self, op, n=1):
        with self.lock:
            self.calls[op] += n

    def take_cut(self, op):
        with self.lock:
            return self.cuts.take(op, self.calls)

    def take_throttle(self):
        with self.lock:
            if self.throttle_left > 0:
                self.throttle_left -= 1
                return True
            return False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    correlation_id = None
    op = None  # the API operation being answered (None for control requests)
    timeout = 120

    def version_string(self):
        return "Apache"  # the httpd in front of every engine

    # ------------------------------------------------------------ plumbing

    @property
    def fake(self):
        return self.server.fake

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
        super().setup()

    def log_message(self, fmt, *args):
        if self.fake.args.verbose:
            sys.stderr.write("ovirt-fake: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, status, body=b"", ctype=None, headers=()):
        if isinstance(body, str):
            body = body.encode("utf-8")
        lost = self.fake.take_cut(self.op) if 200 <= status < 300 and self.op else None
        if lost:
            # /_fake/cut: carried out, and the answer is lost.
            lose(self, lost)
            return
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for name, value in headers:
            self.send_header(name, value)
        if self.correlation_id:
            # CurrentFilter sets it on every API answer that got past authentication.
            self.send_header("Correlation-Id", self.correlation_id)
        self.send_header("Content-Length", str(len(body)))
        # Headers and body leave in one write (see README, "SDK and TLS records").
        self._headers_buffer.append(b"\r\n")
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        data = head + (body if self.command != "HEAD" else b"")
        for i in range(0, len(data), 8192):
            self.wfile.write(data[i:i + 8192])

    def reply_json(self, status, payload):
        self.reply(status, json.dumps(payload), "application/json")

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

    # ------------------------------------------------------------ dispatch

    def dispatch(self):
        self.correlation_id = None  # one handler serves many keep-alive requests
        self.op = None
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}
        body = self.read_body()
        if self.server.redirect_target:
            self.fake.count("redirected_hit")
            self.reply(200, "followed a redirect\n", "text/plain")
            return
        if path == "/_fake" or path.startswith("/_fake/"):
            self.control(path[len("/_fake"):].strip("/"), body)
            return
        fake = self.fake
        op = self.operation(path)
        fake.count(op)
        if fake.outage:
            fake.count("outage_dropped")
            drop(self)
            return
        self.op = op
        if fake.take_throttle():
            fake.count("throttled")
            # "retry_after": null: Apache's plain 503 while the engine behind it restarts.
            wait = [] if fake.retry_after is None else [("Retry-After", str(fake.retry_after))]
            self.reply(503, hostile.PROXY_503, hostile.APACHE_HTML, wait)
            return
        if fake.hostile and self.misbehave(fake.hostile, path, parts.query, op, query, body):
            return
        if path == "/ovirt-engine/sso/oauth/token":
            self.sso_token(query, body)
        elif path == "/ovirt-engine/services/sso-logout":
            self.sso_logout(query, body)
        elif path == "/ovirt-engine/services/pki-resource":
            self.pki(query)
        elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            self.api(path[len(API_PREFIX):], query, body)
        else:
            self.reply(404, hostile.undertow_error("Not Found"), "text/html;charset=UTF-8")


    def operation(self, path):
        """The name an API call is counted under in /_fake/calls."""
        if path == "/ovirt-engine/sso/oauth/token":
            return "token"
        if path == "/ovirt-engine/services/sso-logout":
            return "revoke"
        if path == "/ovirt-engine/services/pki-resource":
            return "pki"
        if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            return "other"
        seg = [s for s in path[len(API_PREFIX):].split("/") if s]
        if seg and re.match(r"^v\d+$", seg[0]):
            seg = seg[1:]
        if not seg:
            return "api"
        kind = seg[0]
        method = self.command
        if kind == "tags":
            if len(seg) == 1:
                return "add_tag" if method == "POST" else "list_tags"
            return "remove_tag" if method == "DELETE" else "get_tag"
        if kind == "vms" and len(seg) >= 3 and seg[2] == "tags":
            if len(seg) == 3:
                return "assign_tag" if method == "POST" else "list_vm_tags"
            return "unassign_tag" if method == "DELETE" else "get_vm_tag"
        names = {"vms": ("list_vms", "get_vm"), "hosts": ("list_hosts", "get_host"),
                 "clusters": ("list_clusters", "get_cluster"), "events": ("list_events", "get_event"),
                 "jobs": ("list_jobs", "get_job")}
        if kind not in names:
            return "other"
        if len(seg) == 1:
            return names[kind][0]
        if len(seg) == 2:
            return names[kind][1]
        if kind == "vms" and seg[2] in ACTIONS:
            return seg[2]
        if kind == "vms" and seg[2] == "reporteddevices":
            return "reported_devices"
        return seg[2] if kind == "vms" else "other"

    # ------------------------------------------------------------ hostile

    def misbehave(self, mode, path, raw_query, op, query, body):
        """Modes that replace the whole answer. Returns True when it answered.
        (wrong-root, wrong-ids, duplicate-ids, endless-paging, escape-names and
        foreign-tags change the API's XML further down; echo-secret changes SSO and 401s.)"""
        if mode == "redirect":
            self.fake.count("hostile")
            target = "http://127.0.0.2:%d%s" % (self.fake.port, path + ("?" + raw_query if raw_query else ""))
            self.reply(307, hostile.redirect_page(target), hostile.APACHE_HTML, [("Location", target)])
            return True
        if mode == "html":
            self.fake.count("hostile")
            self.reply(200, hostile.NGINX_WELCOME, "text/html")
            return True
        if mode == "absurd-retry-after":
            self.fake.count("hostile")
            self.reply(503, hostile.PROXY_503, hostile.APACHE_HTML, [("Retry-After", hostile.ABSURD_RETRY_AFTER)])
            return True
        if mode == "slow-body" and path.startswith(API_PREFIX):
            self.fake.count("hostile")
            self.slow_body()
            return True
        if mode == "huge-body" and path.startswith(API_PREFIX):
            self.fake.count("hostile")
            self.huge_body()
            return True
        return False

    def slow_body(self):
        payload = wire.doc(wire.vms_xml([])).encode() + b" " * 1024
        self.send_response(200)
        self.send_header("Content-Type", XML)
        self.send_header("Content-Length", str(10 ** 9))
        self.end_headers()
        self.close_connection = True
        try:
            for byte in itertools.cycle(payload):
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if self.fake.stopping.wait(1.0):
                    return
        except OSError:
            return

    def huge_body(self):
        length, head, chunk, count, tail = hostile.huge_body_parts()
        self.send_response(200)
        self.send_header("Content-Type", XML)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            self.wfile.write(head)
            for _ in range(count):
                self.wfile.write(chunk)
                if self.fake.stopping.is_set():
                    return
            self.wfile.write(tail)
        except OSError:
            self.close_connection = True

    # ------------------------------------------------------------ SSO

    def sso_token(self, query, body):
        form = dict(query)
        form.update({k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                                              keep_blank_values=True).items()})
        if self.fake.hostile == "echo-secret":
            self.fake.count("hostile")
            user = form.get("username") or self.fake.sso.username
            password = form.get("password") or self.fake.sso.password
            self.reply_json(400, {"error_code": "access_denied",
                                  "error": "Cannot authenticate user '%s' with password '%s': "
                                           "The username or password is incorrect.." % (user, password)})
            return
        try:
            payload = self.fake.sso.issue(form, self.headers.get("Accept"))
        except SsoError as e:
            self.fake.count("token_refused")
            self.reply_json(400, e.body())
            return
        self.reply_json(200, payload)

    def sso_logout(self, query, body):
        form = dict(query)
        form.update({k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()})
        session = self.fake.sso.revoke(form.get("token", ""))
        if session:
            self.fake.engine.log_session(31, session, self.client_address[0])
        self.reply_json(200, {})

    def pki(self, query):
        # PKIResourceServlet: ca-certificate in X509-PEM-CA -> application/x-x509-ca-cert.
        resource, fmt = query.get("resource"), query.get("format")
        if resource != "ca-certificate" or fmt not in (None, "X509-PEM-CA", "X509-PEM") or not self.fake.ca_path:
            msg = "Missing resource name" if not resource else "Resource '%s' is invalid" % resource
            self.reply(400, hostile.undertow_error(msg), "text/html;charset=UTF-8")
            return
        with open(self.fake.ca_path, "rb") as f:
            pem = f.read()
        ctype = "application/x-x509-ca-cert" if fmt != "X509-PEM" else "application/x-x509-cert"
        self.reply(200, pem, ctype)

    # ------------------------------------------------------------ API

    def api(self, rest, query, body):
        fake = self.fake
        seg = [s for s in rest.split("/") if s]
        version = None
        if seg and re.match(r"^v\d+$", seg[0]):
            version, seg = seg[0][1:], seg[1:]
        version = version or self.headers.get("Version")
        if not version:
            # VersionFilter falls back to ENGINE_API_DEFAULT_VERSION, which is 4.
            fake.count("missing_version")
        elif version.strip() != "4":
            self.reply(400, hostile.undertow_error("Bad Request"), "text/html;charset=UTF-8")
            return
        ok, error, session = fake.sso.check(self.headers.get("Authorization"))
        if fake.hostile == "echo-secret":
            ok, error = False, "Cannot authenticate user '%s' with password '%s'" % (
                fake.sso.username, fake.sso.password)
        if not ok:
            fake.count("unauthorized")
            # EnforceAuthFilter: 401, the RESTAPI Basic challenge, Undertow's error page.
            self.reply(401, hostile.undertow_error(error or "Unauthorized"), "text/html;charset=UTF-8",
                       [("WWW-Authenticate", 'Basic realm="RESTAPI"')])
            return
        if session:
            fake.engine.log_session(30, session, self.client_address[0])
        corr = effective_correlation_id(self.headers.get("Correlation-Id"), query.get("correlation_id"))
        self.correlation_id = corr
        try:
            self.route(seg, query, body, corr)
        except search.SearchError as e:
            self.xml(400, wire.fault_inner(str(e)))
        except Fault as e:
            self.xml(e.http, wire.fault_inner(e.detail, e.reason))

    def xml(self, status, body, single=None, headers=()):
        """Sends an API XML answer, applying wrong-root when it is on."""
        if self.fake.hostile == "wrong-root" and status < 300 and body:
            self.fake.count("hostile")
            engine = self.fake.engine
            with engine.lock:
                if body.startswith("<api") or single:
                    body = wire.host_xml(engine.hosts[0], engine)
                else:
                    body = "<hosts>%s</hosts>" % "".join(wire.host_xml(h, engine) for h in engine.hosts)
        self.reply(status, wire.doc(body) if body else b"", XML if body else None, headers)

    def not_found(self):
        self.reply(404, b"", None)

    def route(self, seg, query, body, corr):
        engine = self.fake.engine
        method = self.command
        if not seg and method == "GET":
            with engine.lock:
                now = engine.settle()
                up = sum(1 for v in engine.vms.values() if v.status == "up")
                self.xml(200, wire.api_root(engine, now, len(engine.vms), up))
            return
        if not seg:
            self.not_found()
            return
        kind, rest = seg[0], seg[1:]
        if kind == "vms":
            self.route_vms(rest, query, body, corr)
        elif kind in ("hosts", "clusters") and method == "GET":
            with engine.lock:
                engine.settle()
                items = engine.hosts if kind == "hosts" else engine.clusters
                render = wire.host_xml if kind == "hosts" else wire.cluster_xml
                if not rest:
                    self.xml(200, "<%s>%s</%s>" % (kind, "".join(render(i, engine) for i in items), kind))
                    return
                item = next((i for i in items if i.id == rest[0]), None)
            if item is None or len(rest) > 1:
                self.not_found()
            else:
                with engine.lock:
                    self.xml(200, render(item, engine), single=True)
        elif kind == "tags":
            self.route_tags(rest, query, body)
        elif kind == "events" and method == "GET":
            self.route_events(rest, query)
        elif kind == "jobs" and method == "GET":
            if not rest:
                conds, _, _ = search.parse(query.get("search"))
                corr_filter = next((v for f, op, v in conds if f == "correlation_id" and op == "="), None)
                self.xml(200, wire.jobs_xml(engine.list_jobs(corr_filter)))
                return
            job = engine.get_job(rest[0])
            if job is None or len(rest) > 1:
                self.not_found()
            else:
                self.xml(200, wire.job_xml(job), single=True)
        else:
            self.not_found()

    def follow_of(self, query):
        follow = {f.strip() for f in query.get("follow", "").split(",") if f.strip()}
        unknown = follow - FOLLOWABLE
        if unknown:
            # LinkFollower throws IllegalStateException for a link it cannot follow.
            raise Fault(500, "Problem following '%s' link in Vm entity." % sorted(unknown)[0])
        return follow

    def int_param(self, query, name):
        if name not in query:
            return None
        try:
            return int(query[name])
        except ValueError:
            raise Fault(400, "Value \"%s\" isn't a valid integer for parameter '%s'" % (query[name], name))

    def route_vms(self, rest, query, body, corr):
        engine = self.fake.engine
        mode = self.fake.hostile
        method = self.command
        if not rest and method == "GET":
            conds, sort, page = search.parse(query.get("search"))
            if sort and sort[0] != "name":
                raise search.SearchError("the fake sorts VMs by name only")
            max_count = self.int_param(query, "max")
            follow = self.follow_of(query)
            case_sensitive = query.get("case_sensitive", "true").lower() not in ("false", "f", "no", "n", "0")
            with engine.lock:
                engine.settle()
                rows = [v for v in engine.sorted_vms()
                        if search.matches(conds, {"name": v.name, "status": v.status}, case_sensitive)]
                if sort and not sort[1]:
                    rows.reverse()
                cut = search.cut(rows, page, max_count)
                if mode == "endless-paging" and not cut and rows:
                    cut = rows[:max_count] if max_count else rows
                items = []
                for vm in cut:
                    oid = None
                    if mode == "wrong-ids":
                        everyone = engine.sorted_vms()
                        oid = everyone[(everyone.index(vm) + 1) % len(everyone)].id
                    name = hostile.hostile_name(vm) if mode == "escape-names" else None
                    owner = self.foreign_owner(vm) if mode == "foreign-tags" else None
                    items.append(wire.vm_xml(vm, engine, follow, name=name, oid=oid, tag_owner=owner))
                if mode == "duplicate-ids" and items:
                    items.append(items[0])
                if mode in ("endless-paging", "wrong-ids", "duplicate-ids", "escape-names") or (
                        mode == "foreign-tags" and "tags" in follow):
                    self.fake.count("hostile")
                self.xml(200, wire.vms_xml(items))
            return
        if not rest or not UUID_RE.match(rest[0]):
            self.not_found()
            return
        vm_id = rest[0]
        if len(rest) >= 2 and rest[1] in ACTIONS:
            if method == "POST" and len(rest) == 2:
                self.vm_action(vm_id, rest[1], query, body, corr)
            elif method == "GET" and len(rest) == 3:
                # An async action's href: the engine no longer caches it and sends
                # the client back to the VM (AbstractBackendActionableResource.getActionResource).
                self.reply(301, b"", None, [("Location", "%s/vms/%s" % (API_PREFIX, vm_id))])
            else:
                self.not_found()
            return
        if len(rest) >= 2 and rest[1] == "tags":
            self.route_vm_tags(vm_id, rest[2:], query, body)
            return
        if method != "GET":
            self.not_found()
            return
        follow = self.follow_of(query)
        with engine.lock:
            engine.settle()
            vm = engine.vms.get(vm_id)
            if vm is None:
                self.not_found()
                return
            if len(rest) == 1:
                if mode == "wrong-ids":
                    everyone = engine.sorted_vms()
                    vm = everyone[(everyone.index(vm) + 1) % len(everyone)]
                    self.fake.count("hostile")
                name = hostile.hostile_name(vm) if mode == "escape-names" else None
                owner = None
                if mode == "foreign-tags" and "tags" in follow:
                    owner = self.foreign_owner(vm)
                    self.fake.count("hostile")
                self.xml(200, wire.vm_xml(vm, engine, follow, name=name, tag_owner=owner), single=True)
            elif rest[1:] == ["reporteddevices"]:
                self.xml(200, wire.reported_devices(vm))
            elif rest[1:] == ["applications"]:
                self.xml(200, wire.applications(vm))
            else:
                self.not_found()

    def foreign_owner(self, vm):
        """foreign-tags: the VM a tag of `vm` claims to belong to (its neighbour by name)."""
        everyone = self.fake.engine.sorted_vms()
        return everyone[(everyone.index(vm) + 1) % len(everyone)].id

    # ------------------------------------------------------------ tags

    def tag_body(self, body):
        """The <tag> of a POST (the SDK's TagWriter): name, description, parent by id or name, id."""
        try:
            root = ET.fromstring(body) if body.strip() else None
        except ET.ParseError as e:
            raise Fault(400, "Request syntactically incorrect: %s" % e)
        if root is None or root.tag != "tag":
            raise Fault(400, "Request syntactically incorrect: expected a <tag> element")
        parent = root.find("parent")
        return {"id": root.get("id") or root.findtext("id"), "name": root.findtext("name"),
                "description": root.findtext("description"),
                "parent_id": (parent.get("id") or parent.findtext("id")) if parent is not None else None,
                "parent_name": parent.findtext("name") if parent is not None else None}

    def created(self, path, body):
        """201 Created with Location (AbstractBackendCollectionResource.fetchCreatedEntity:
        Response.created(href), resolved against the request's base URI)."""
        scheme = "https" if self.server.ssl_ctx else "http"
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.fake.port
        self.xml(201, body, single=True, headers=[("Location", "%s://%s%s" % (scheme, host, path))])

    @staticmethod
    def incomplete(fields, method):
        return Fault(400, catalog.INCOMPLETE_PARAMS_DETAIL.format(model="Tag", fields=fields, method=method),
                     reason=catalog.INCOMPLETE_PARAMS_REASON)

    def cut_max(self, rows, query):
        max_count = self.int_param(query, "max")
        return rows[:max_count] if max_count is not None and max_count >= 0 else rows

    def route_tags(self, rest, query, body):
        """/tags (BackendTagsResource, BackendTagResource)."""
        engine = self.fake.engine
        method = self.command
        if not rest and method == "GET":
            self.xml(200, wire.tags_xml(self.cut_max(engine.list_tags(), query)))
        elif not rest and method == "POST":
            tag = self.tag_body(body)
            if not tag["name"]:
                raise self.incomplete("name", "add")
            parent_id = tag["parent_id"]
            if tag["parent_name"]:
                parent = engine.tag_by_name(tag["parent_name"])
                if parent is None:
                    raise Fault(404, catalog.ENTITY_NOT_FOUND.format(tag["parent_name"]))
                parent_id = parent.id
            with engine.lock:
                added = engine.add_tag(tag["name"], tag["description"], parent_id)
                self.created("%s/tags/%s" % (API_PREFIX, added.id), wire.tag_xml(added))
        elif len(rest) == 1 and method in ("GET", "DELETE"):
            tag = engine.get_tag(rest[0])
            if tag is None:
                self.not_found()
            elif method == "GET":
                self.xml(200, wire.tag_xml(tag), single=True)
            else:
                engine.remove_tag(tag.id)
                self.reply(200, b"", None)
        else:
            self.not_found()

    def route_vm_tags(self, vm_id, rest, query, body):
        """/vms/V/tags (BackendVmTagsResource, AbstractBackendAssignedTagsResource, BackendVmTagResource)."""
        engine = self.fake.engine
        method = self.command
        with engine.lock:
            engine.settle()
            vm = engine.vms.get(vm_id)
            if vm is None:
                self.not_found()
                return
            owner = None
            if self.fake.hostile == "foreign-tags":
                owner = self.foreign_owner(vm)
                self.fake.count("hostile")
            if not rest and method == "GET":
                self.xml(200, wire.tags_xml(self.cut_max(engine.tags_of(vm_id), query), vm_id, owner))
            elif not rest and method == "POST":
                tag = self.tag_body(body)
                if tag["id"]:
                    found = engine.get_tag(tag["id"])
                    if found is None:
                        # AttachVmsToTag with an unknown tag id (TagIdResolver finds nothing). *(unverified)*
                        raise Fault(404, catalog.ENTITY_NOT_FOUND.format(tag["id"]))
                elif tag["name"]:
                    found = engine.tag_by_name(tag["name"])
                    if found is None:
                        # lookupTagByName -> handleError(EntityNotFoundException(name), false).
                        raise Fault(404, catalog.ENTITY_NOT_FOUND.format(tag["name"]))
                else:
                    raise self.incomplete("id|name", "add")
                engine.assign_tag(vm_id, found.id)
                self.created("%s/vms/%s/tags/%s" % (API_PREFIX, vm_id, found.id),
                             wire.tag_xml(found, vm_id, owner))
            elif len(rest) == 1 and method in ("GET", "DELETE"):
                found = next((t for t in engine.tags_of(vm_id) if t.id == rest[0]), None)
                if found is None:
                    self.not_found()  # BackendVmTagResource.get: notFound()
                elif method == "GET":
                    self.xml(200, wire.tag_xml(found, vm_id, owner), single=True)
                else:
                    engine.unassign_tag(vm_id, found.id)
                    self.reply(200, b"", None)
            else:
                self.not_found()

    def vm_action(self, vm_id, action, query, body, corr):
        echo, async_, reason = [], None, None
        if body.strip():
            try:
                root = ET.fromstring(body)
            except ET.ParseError as e:
                raise Fault(400, "Request syntactically incorrect: %s" % e)
            for child in root:
                if len(child) == 0 and child.text is not None:
                    echo.append((child.tag, child.text.strip()))
            text = root.findtext("async")
            if text is not None:
                async_ = text.strip().lower() in ("true", "t", "yes", "y", "1")
            reason = root.findtext("reason")
        engine = self.fake.engine
        try:
            outcome = engine.act(action, vm_id, corr, async_=async_, reason=reason)
        except Fault as f:
            self.xml(f.http, wire.action_failed(f.detail, echo))
            return
        if outcome.wait_until:
            while time.time() < outcome.wait_until + 0.01:
                time.sleep(min(0.05, max(0.0, outcome.wait_until + 0.01 - time.time())))
            engine.finish_blocking(outcome)
        self.xml(outcome.http, wire.action_answer(outcome, action, echo))

    def route_events(self, rest, query):
        engine = self.fake.engine
        if rest:
            found = [e for e in engine.list_events() if str(e["id"]) == rest[0]]
            if not found or len(rest) > 1:
                self.not_found()
            else:
                self.xml(200, wire.event_xml(found[0]), single=True)
            return
        conds, sort, page = search.parse(query.get("search"))
        corr = next((v for f, op, v in conds if f == "correlation_id" and op == "="), None)
        severity = next((v for f, op, v in conds if f == "severity" and op == "="), None)
        from_id = self.int_param(query, "from")
        max_count = self.int_param(query, "max")
        rows = engine.list_events(from_id, corr, severity)
        if sort and sort[0] in ("time", "id", "index") and sort[1]:
            rows = list(reversed(rows))
        rows = search.cut(rows, page, max_count)
        self.xml(200, wire.events_xml(rows))

    # ------------------------------------------------------------ control

    def control(self, path, body):
        fake = self.fake
        engine = fake.engine
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            self.reply_json(400, {"error": "body is not JSON"})
            return
        method = self.command
        seg = path.split("/") if path else []
        try:
            if seg == ["vms"] and method == "GET":
                self.reply_json(200, self.truth())
            elif seg == ["vms"] and method == "POST":
                added = engine.add_vms(int(data.get("count", 1)), data.get("names"), data.get("state", "down"))
                self.reply_json(200, [self.vm_json(v) for v in added])
            elif len(seg) == 2 and seg[0] == "vms" and method == "DELETE":
                vm = self.control_vm(seg[1])
                if vm:
                    engine.remove_vm(vm)
                    self.reply_json(200, {"removed": vm.id})
            elif len(seg) == 3 and seg[0] == "vms" and method == "POST":
                vm = self.control_vm(seg[1])
                if not vm:
                    return
                if seg[2] == "state":
                    engine.set_state(vm, data.get("state"))
                elif seg[2] == "stubborn":
                    engine.set_stubborn(vm, data.get("on", True))
                elif seg[2] == "agent":
                    engine.set_agent(vm, data.get("on", True))
                elif seg[2] == "tags":
                    if not isinstance(data, dict) or "tags" not in data:
                        raise ValueError('body must be {"tags": ["env/prod", "backup"]}: tag paths from the root')
                    engine.set_vm_tags(vm, data["tags"])
                else:
                    self.reply_json(404, {"error": "unknown control %s" % seg[2]})
                    return
                with engine.lock:
                    self.reply_json(200, self.vm_json(vm))
            elif seg == ["tags"] and method == "GET":
                self.reply_json(200, [{"id": t.id, "name": t.name, "description": t.description,
                                       "parent_id": t.parent_id} for t in engine.list_tags()])
            elif seg == ["calls"] and method == "GET":
                with fake.lock:
                    self.reply_json(200, dict(fake.calls))
            elif seg == ["calls", "reset"] and method == "POST":
                with fake.lock:
                    fake.calls.clear()
                self.reply_json(200, {})
            elif seg == ["fail"] and method == "POST":
                engine.fail(data.get("action"), data.get("count", 1), data.get("code"), data.get("message"))
                self.reply_json(200, {})
            elif seg == ["throttle"] and method == "POST":
                with fake.lock:
                    fake.throttle_left = int(data.get("count", 1))
                    fake.retry_after = data.get("retry_after", 1)
                self.reply_json(200, {})
            elif seg == ["outage"] and method == "POST":
                with fake.lock:
                    fake.outage = bool(data.get("on", True))
                self.reply_json(200, {})
            elif seg == ["cut"] and method == "POST":
                if not data.get("action"):
                    raise ValueError("action (an operation as /_fake/calls names it) is required")
                with fake.lock:
                    fake.cuts.arm(data["action"], data.get("count", 1), data.get("answer"))
                self.reply_json(200, {"action": data["action"], "count": int(data.get("count", 1))})
            elif seg == ["hostile"] and method == "POST":
                mode = data.get("mode")
                if mode is not None and mode not in hostile.MODES:
                    self.reply_json(400, {"error": "mode must be one of %s or null" % ", ".join(hostile.MODES)})
                    return
                with fake.lock:
                    fake.hostile = mode
                self.reply_json(200, {"mode": mode})
            elif seg == ["tokens", "expire"] and method == "POST":
                self.reply_json(200, {"expired": fake.sso.expire_all()})
            elif seg == ["events"] and method == "GET":
                self.reply_json(200, list(reversed(engine.list_events())))
            elif seg == ["events", "purge"] and method == "POST":
                removed = engine.purge_events(int(data["keep_after"]))
                self.reply_json(200, {"removed": removed})
            elif seg == ["reset"] and method == "POST":
                engine.reset()
                fake.reset_switches()
                with fake.lock:
                    fake.calls.clear()
                self.reply_json(200, {})
            else:
                self.reply_json(404, {"error": "unknown control endpoint %s %s" % (method, path)})
        except (ValueError, KeyError, TypeError) as e:
            self.reply_json(400, {"error": str(e)})

    def control_vm(self, key):
        vm = self.fake.engine.find_vm(urllib.parse.unquote(key))
        if vm is None:
            self.reply_json(404, {"error": "no VM %s" % key})
        return vm

    def vm_json(self, vm):
        engine = self.fake.engine
        host = engine.host(vm.host_id) if vm.host_id and vm.status not in catalog.NOT_RUNNING else None
        out = {"id": vm.id, "name": vm.name, "state": vm.status,
               "host": host.name if host else None, "host_id": host.id if host else None,
               "cluster": engine.cluster(vm.cluster_id).name, "cluster_id": vm.cluster_id,
               "stubborn": vm.stubborn, "agent": vm.agent, "os_type": vm.os_type,
               "fqdn": vm.fqdn if wire.guest_reported(vm) else None,
               "ips": [vm.ipv4, vm.ipv6] if wire.guest_reported(vm) else [],
               "tags": [t.name for t in engine.tags_of(vm.id)]}
        if self.fake.hostile == "escape-names":
            out["wire_name"] = hostile.hostile_name(vm)
        return out

    def truth(self):
        engine = self.fake.engine
        with engine.lock:
            engine.settle()
            return [self.vm_json(v) for v in engine.sorted_vms()]


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, fake, ssl_ctx=None, redirect_target=False):
        self.fake = fake
        self.ssl_ctx = ssl_ctx
        self.redirect_target = redirect_target
        super().__init__(address, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ssl_ctx is not None:
            # The handshake happens in the handler thread (Handler.setup), so a
            # client that never completes it cannot stall the accept loop.
            sock = self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        if self.fake.args.verbose:
            super().handle_error(request, client_address)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--tls", dest="tls", action="store_true", default=True)
    p.add_argument("--no-tls", dest="tls", action="store_false")
    p.add_argument("--vms", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--transition-ms", type=int, default=1500)
    p.add_argument("--shutdown-timeout-ms", type=int, default=None,
                   help="how long a stubborn guest stays powering_down (default 4 x transition)")
    p.add_argument("--username", default="admin@internal")
    p.add_argument("--password", default="s3cret+p@ss&=")
    p.add_argument("--exit-on-stdin-eof", action="store_true")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.state_dir, exist_ok=True)
    ssl_ctx, ca_path = tlsca.server_context(args.state_dir) if args.tls else (None, None)
    fake = Fake(args, ca_path)
    server = Server((args.host, args.port), fake, ssl_ctx)
    fake.port = server.server_address[1]
    servers = [server]
    try:
        # Another host on plain HTTP, so `redirect` can prove nobody followed it.
        servers.append(Server(("127.0.0.2", fake.port), fake, None, redirect_target=True))
    except OSError as e:
        sys.stderr.write("ovirt-fake: no redirect listener on 127.0.0.2:%d (%s)\n" % (fake.port, e))
    done = threading.Event()
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()

    def stop(*_):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_on_stdin_eof:
        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            done.set()
        threading.Thread(target=watch_stdin, daemon=True).start()

    scheme = "https" if ssl_ctx else "http"
    url = "%s://%s:%d" % (scheme, args.host, fake.port)
    sys.stdout.write(json.dumps({"url": url, "ca": ca_path, "control": url + "/_fake"}) + "\n")
    sys.stdout.flush()
    while not done.wait(0.5):
        pass
    fake.stopping.set()
    for s in servers:
        s.shutdown()
        s.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
