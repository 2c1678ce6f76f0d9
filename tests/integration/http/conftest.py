"""A live control plane (in-process server thread + aiohttp) for the HTTP tests."""

from __future__ import annotations

import os
import sys

import pytest

if os.path.dirname(__file__) not in sys.path:
    sys.path.insert(0, os.path.dirname(__file__))

from http_testutil import PROFILE, Api  # noqa: E402

from qmpserver.testing.server import InProcessServer  # noqa: E402


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
