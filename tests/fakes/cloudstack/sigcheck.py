"""The management server's request-signature check, step by step.

Mirrors apache/cloudstack server/src/main/java/com/cloud/api/ApiServer.java
`verifyRequest` (read at 02182a15) and utils/.../DateUtil.java
`parseTZDateString`. Only the parts that decide *whether a signature is
valid* live here; the order of the surrounding checks (unknown command,
unknown key, throttling, role) is in commands.py, because the server
interleaves them.
"""

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta, timezone

# java.net.URLEncoder leaves exactly these bytes alone. Everything else is
# %XX (upper-case hex of the UTF-8 bytes); a space becomes '+', which the
# server then rewrites to %20. So '*' stays and '~' becomes %7E, unlike
# Python's quote().
_UNRESERVED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")


def java_urlencode(value):
    out = []
    # String.getBytes(UTF-8) replaces unpaired surrogates with '?'.
    for byte in value.encode("utf-8", "replace"):
        if byte in _UNRESERVED:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append("%%%02X" % byte)
    return "".join(out).replace("+", "%20")


def java_sort_key(name):
    # Collections.sort on Strings compares UTF-16 code units; big-endian
    # UTF-16 bytes compare in the same order.
    return name.encode("utf-16-be", "surrogatepass")


def canonical_string(params):
    """The string the server HMACs: every parameter but `signature` (any
    case), names as received in Java order, values URLEncoder-encoded,
    then the whole thing lower-cased."""
    parts = []
    for name in sorted(params, key=java_sort_key):
        if name.lower() == "signature":
            continue
        parts.append(name + "=" + java_urlencode(params[name]))
    return "&".join(parts).lower()


def expected_signature(params, secret):
    digest = hmac.new(secret.encode("utf-8"), canonical_string(params).encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(params, secret, signature):
    # ConstantTimeComparator.compareStrings in the server.
    return hmac.compare_digest(expected_signature(params, secret).encode(), signature.encode("utf-8", "replace"))


def find_param(params, wanted):
    """The server looks up signature, apiKey, signatureVersion and expires
    with equalsIgnoreCase over the sorted names; the last match wins."""
    found = None
    for name in sorted(params, key=java_sort_key):
        if name.lower() == wanted.lower():
            found = params[name]
    return found


# DateUtil.parseTZDateString tries these java.time formats in order.
_DATE = r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})"
_ISO_OFFSET = re.compile(_DATE + r"(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}(?::\d{2})?)$")
_ZONED = re.compile(_DATE + r":(\d{2})([+-]\d{4})$")                        # yyyy-MM-dd'T'HH:mm:ssZ
_MICRO_X = re.compile(_DATE + r":(\d{2})\.(\d{6})(Z|[+-]\d{2}(?:\d{2})?)$")  # .SSSSSSX
_MICRO_Z = re.compile(_DATE + r":(\d{2})\.(\d{6})([+-]\d{4})$")             # .SSSSSSZ
_LEGACY = re.compile(_DATE + r":(\d{2})Z([+-]\d{4})$")                       # ss'Z'Z


def _offset(text):
    if text == "Z":
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[0:2])
    minutes = int(digits[2:4]) if len(digits) >= 4 else 0
    seconds = int(digits[4:6]) if len(digits) >= 6 else 0
    return sign * timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _build(y, mo, d, h, mi, s, frac, off):
    micro = int((frac or "0").ljust(9, "0")[:9]) // 1000
    local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), micro)
    return (local - _offset(off)).replace(tzinfo=timezone.utc)


def parse_tz_date(text):
    """Returns an aware UTC datetime, or None when the server would throw
    ParseException (which makes verifyRequest refuse the request)."""
    try:
        m = _ISO_OFFSET.match(text)
        if m:
            return _build(*m.groups())
        m = _ZONED.match(text)
        if m:
            y, mo, d, h, mi, s, off = m.groups()
            return _build(y, mo, d, h, mi, s, None, off)
        for rx in (_MICRO_X, _MICRO_Z):
            m = rx.match(text)
            if m:
                return _build(*m.groups())
        m = _LEGACY.match(text)
        if m:
            y, mo, d, h, mi, s, off = m.groups()
            return _build(y, mo, d, h, mi, s, None, off)
    except ValueError:  # e.g. month 13: java.time refuses it too
        return None
    return None
