"""Hostile requests against every route of the route table (hypothesis; bounded: 3,000 requests, ~20 s).

For each route of :data:`qmpserver.http.routes.ROUTES`: path parameters from hostile
text (Unicode digits, NUL, huge numbers, '..'), query parameters from the route's own
names with arbitrary values, and bodies that are arbitrary JSON, the route's fields with
arbitrary values, deep nesting, or arbitrary bytes.  No answer may be a 5xx or carry a
traceback, and the server must keep answering /healthz.  (Migration plans and matrices run
migrations for seconds: they are left to test_http_api and the schemathesis run.)  The number of requests sent is
printed (``-s``) and asserted to be at least REQUESTS_MIN.
"""

from __future__ import annotations

import json
import urllib.parse

import pytest
from http_testutil import Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.testing.server import InProcessServer

REQUESTS_MIN = 3000
SENT = {"n": 0, "5xx": 0}

HOSTILE_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["²", "٣", "1_0", "-1", "0", "1", "9" * 40, "%00", "..", "../etc", "a\n", "\x00", " 1"]),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with InProcessServer(profile_dirs=[str(tmp_path_factory.mktemp("store"))]) as srv:
        srv.http()
        api = Api(srv.url)
        status, _, d = api("POST", "/api/v1/instances", {"profile": "debian-7.2-tcg"})
        assert status == 201
        srv.fuzz_id = d["id"]
        yield srv
        for inst in api("GET", "/api/v1/instances")[2]["instances"]:
            api("DELETE", "/api/v1/instances/%d?force=true" % inst["id"])


def _fields(route):
    from qmpserver.http.openapi import SCHEMAS

    schema = route.body or {}
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {}))


def _routes():
    from qmpserver.http.routes import ROUTES

    # the WebSocket has its own tests; a migration plan or matrix runs migrations for seconds
    # (covered by test_http_api and the schemathesis run)
    return [r for r in ROUTES if r.handler not in ("websocket", "migration_plan", "migration_matrix")]


@st.composite
def requests(draw, live_id):
    route = draw(st.sampled_from(_routes()))
    path = route.path
    for p in route.params:
        if p.where == "path":
            value = draw(st.one_of(st.just(str(live_id)), HOSTILE_TEXT))
            if p.name == "name":
                value = draw(st.one_of(st.just("debian-7.2-tcg"), HOSTILE_TEXT))
            path = path.replace("{%s}" % p.name, urllib.parse.quote(value, safe="") or "x")
    query = {}
    for p in route.params:
        if p.where == "query" and draw(st.booleans()):
            query[p.name] = draw(HOSTILE_TEXT)
    if query:
        path += "?" + urllib.parse.urlencode(query)
    raw = None
    if route.method in ("POST", "PUT"):
        fields = _fields(route) or ["kind", "name"]
        body = draw(
            st.one_of(
                JSON.map(lambda v: json.dumps(v).encode()),
                st.dictionaries(st.sampled_from(fields), JSON, max_size=4).map(
                    lambda v: json.dumps(v).encode()
                ),
                st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
                st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
                st.binary(max_size=64),
            )
        )
        raw = body
    return route.method, path, raw


def test_hostile_requests_get_no_5xx(live):
    api = Api(live.url)

    @settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(requests(live.fuzz_id))
    def one(req):
        method, path, raw = req
        headers = {"Content-Type": "application/json"} if raw is not None else None
        status, _, body = api(method, path, raw=raw, headers=headers)
        SENT["n"] += 1
        text = body if isinstance(body, str) else json.dumps(body)
        assert "Traceback" not in text, (method, path, text[:300])
        if status >= 500:
            SENT["5xx"] += 1
            raise AssertionError((method, path, raw and raw[:100], status, text[:300]))

    one()
    print("\nHTTP fuzz: %d requests, %d answers 5xx" % (SENT["n"], SENT["5xx"]))
    assert SENT["n"] >= REQUESTS_MIN and SENT["5xx"] == 0
    assert api("GET", "/healthz")[0] == 200
