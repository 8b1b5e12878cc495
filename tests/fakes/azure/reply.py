"""What a handler returns: status, body and headers, written by server.py."""

import json


class Reply:
    def __init__(self, status=200, body=None, headers=None, content_type="application/json; charset=utf-8"):
        self.status = status
        self.body = body          # dict/list -> JSON, bytes/str -> as is, None -> empty
        self.headers = dict(headers or {})
        self.content_type = content_type

    def payload(self):
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")
