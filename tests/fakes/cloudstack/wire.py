"""Bodies as the management server writes them.

Sources (apache/cloudstack): server/.../api/response/ApiResponseSerializer.java
(list, error and async-job envelopes), api/.../response/ExceptionResponse.java
(uuidList, errorcode, cserrorcode, errortext), ApiServer.getSerializedApiError,
ApiServlet (content types, X-Description header).
"""

import json
from datetime import timezone
from xml.sax.saxutils import escape

JSON_TYPE = "application/json; charset=UTF-8"   # ApiServer json.content.type default
XML_TYPE = "text/xml; charset=UTF-8"
SERVER_VERSION = "4.20.1.0"

# cserrorcode values (utils/.../CSExceptionErrorCode.java): a ServerApiException
# thrown on its own gets 9999; one that wraps an InvalidParameterValueException
# keeps that exception's 4350; PermissionDeniedException is 4365.
CS_SERVER_API = 9999
CS_INVALID_PARAMETER = 4350
CS_PERMISSION_DENIED = 4365


def cs_date(dt):
    """Gson's date format in the API: yyyy-MM-dd'T'HH:mm:ssZ (server time
    zone; the fake's is UTC)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def response_name(command):
    """BaseCmd.getCommandName(): the API name lower-cased plus 'response'."""
    return command.lower() + "response"


class ApiError(Exception):
    """A ServerApiException: HTTP status == errorcode, body is the envelope."""

    def __init__(self, code, text, cserrorcode=CS_SERVER_API, errorresponse=False):
        super().__init__(text)
        self.code = code
        self.text = text
        self.cserrorcode = cserrorcode
        # UNSUPPORTED_ACTION_ERROR (432) always answers as "errorresponse".
        self.errorresponse = errorresponse or code == 432


def error_body(command, code, text, cserrorcode=None, errorresponse=False):
    name = "errorresponse" if (errorresponse or not command) else response_name(command)
    inner = {"uuidList": [], "errorcode": code}
    if cserrorcode is not None:
        inner["cserrorcode"] = cserrorcode
    inner["errortext"] = text
    return {name: inner}


def list_body(command, object_name, rows, count):
    """ListResponse serialisation: no count and no array when the total is 0
    ({}); the count alone when the page is past the end ({"count": T})."""
    inner = {}
    if count:
        inner["count"] = count
        if rows:
            inner[object_name] = rows
    return {response_name(command): inner}


def dumps(body):
    # The server does not escape non-ASCII (ApiResponseSerializer.unescape).
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _xml_value(name, value, out):
    if isinstance(value, dict):
        out.append("<%s>" % name)
        for key, sub in value.items():
            _xml_value(key, sub, out)
        out.append("</%s>" % name)
    elif isinstance(value, list):
        for item in value:
            _xml_value(name, item, out)
    else:
        if isinstance(value, bool):
            value = "true" if value else "false"
        out.append("<%s>%s</%s>" % (name, escape(str(value)), name))


def to_xml(body):
    """The XML form a client gets when it forgets response=json."""
    [(root, inner)] = body.items()
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<%s cloud-stack-version="%s">' % (root, SERVER_VERSION)]
    for key, value in inner.items():
        _xml_value(key, value, out)
    out.append("</%s>" % root)
    return "".join(out).encode("utf-8")
