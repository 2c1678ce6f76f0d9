"""Helpers for the HTTP tests: a tiny sync HTTP client (importable by name: this directory is on sys.path)."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

if os.path.dirname(__file__) not in sys.path:
    sys.path.insert(0, os.path.dirname(__file__))

PROFILE = "debian-7.2-tcg"


class Api:
    def __init__(self, url, token=None):
        self.url = url
        self.token = token

    def __call__(self, method, path, body=None, raw=None, headers=None, token=None):
        h = dict(headers or {})
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = "Bearer " + tok
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), _decode(r.read(), r.headers)
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), _decode(e.read(), e.headers)


def _decode(payload, headers):
    if headers.get("Content-Type", "").startswith("application/json"):
        return json.loads(payload)
    return payload.decode()
