"""Misbehaviour on demand (/_fake/hostile, /_fake/throttle): bodies and names.

The engine itself documents no API rate limit. What a client meets in practice
is the Apache httpd that fronts every engine (mod_proxy to WildFly) answering
503 when the backend is saturated or restarting; the fake models throttling as
that 503, with a Retry-After header as a proxy or load balancer may add.
"""

MODES = ("redirect", "html", "wrong-root", "wrong-ids", "duplicate-ids", "endless-paging",
         "slow-body", "huge-body", "absurd-retry-after", "echo-secret", "escape-names", "foreign-tags")

ABSURD_RETRY_AFTER = str(10 ** 12)

# Apache httpd's own 503 page (server/util.c / http_protocol.c error text).
PROXY_503 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n'
    "<html><head>\n<title>503 Service Unavailable</title>\n</head><body>\n"
    "<h1>Service Unavailable</h1>\n"
    "<p>The server is temporarily unable to service your\n"
    "request due to maintenance downtime or capacity\n"
    "problems. Please try again later.</p>\n"
    "</body></html>\n"
)
APACHE_HTML = "text/html; charset=iso-8859-1"

NGINX_WELCOME = (
    "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n"
    "<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully "
    "installed and working. Further configuration is required.</p>\n"
    "<p><em>Thank you for using nginx.</em></p>\n</body>\n</html>\n"
)

# Apache httpd's redirect page (what mod_proxy's front end would send).
def redirect_page(target):
    return ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
            "<title>307 Temporary Redirect</title>\n</head><body>\n<h1>Temporary Redirect</h1>\n"
            '<p>The document has moved <a href="%s">here</a>.</p>\n</body></html>\n' % target)


# Undertow's error page, as the engine's EnforceAuthFilter.sendError(401, msg) renders it.
def undertow_error(message):
    return "<html><head><title>Error</title></head><body>%s</body></html>" % (
        message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def hostile_name(vm):
    """escape-names: deterministic names with terminal escapes and control characters."""
    variant = vm.index % 3
    if variant == 0:
        return "\u001b[31m%s\u001b[0m" % vm.name
    if variant == 1:
        return "%s\u001b]0;title\u0007" % vm.name
    return "%s\u202e\u0008\r\n\u009b2J" % vm.name


HUGE_SIZE = 200 * 1024 * 1024


def huge_body_parts():
    """A 200 MB well-formed <vms> document, produced piece by piece."""
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n<vms>'
    tail = b"</vms>\n"
    chunk = (b'<vm href="/ovirt-engine/api/vms/00000000-0000-0000-0000-000000000000" '
             b'id="00000000-0000-0000-0000-000000000000"><name>huge</name><status>up</status></vm>') * 64
    count = (HUGE_SIZE - len(head) - len(tail)) // len(chunk)
    # Whitespace between elements pads the document to exactly HUGE_SIZE.
    tail = b" " * (HUGE_SIZE - len(head) - len(tail) - count * len(chunk)) + tail
    return HUGE_SIZE, head, chunk, count, tail
