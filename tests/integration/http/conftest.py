"""A live control plane (in-process server thread + aiohttp) and a tiny sync HTTP client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from qmpserver.testing.server import InProcessServer

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


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    with InProcessServer(profile_dirs=[str(store)]) as s:
        s.http()
        yield s


@pytest.fixture
def api(srv):
    return Api(srv.url)


@pytest.fixture
def make(api, srv):
    """POST /api/v1/instances, removing what was made after the test."""
    made = []

    def create(body=None, expect=201):
        body = {"profile": PROFILE, **(body or {})}
        status, headers, d = api("POST", "/api/v1/instances", body)
        assert status == expect, d
        if status == 201:
            made.append(d["id"])
        return d
    yield create
    for iid in made:
        api("DELETE", "/api/v1/instances/%d?force=true" % iid)
