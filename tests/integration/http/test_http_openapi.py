"""The served OpenAPI document against the running app, with schemathesis.

Every operation gets generated requests (valid and invalid); each answer must
be documented (status code, content type, body schema) and no request may
cause a server error.  Listener addresses are left out of the generated
bodies: a fuzzer must not create sockets at arbitrary paths or ports.
"""

from __future__ import annotations

import copy
import json
import urllib.request

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks as st_checks  # noqa: E402

from qmpserver.testing.server import InProcessServer  # noqa: E402

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
    st_checks.response_headers_conformance,
    st_checks.negative_data_rejection,
]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with InProcessServer(profile_dirs=[str(tmp_path_factory.mktemp("store"))]) as srv:
        srv.http()
        yield srv


@pytest.fixture
def api_schema(live):
    with urllib.request.urlopen(live.url + "/api/v1/openapi.json") as r:
        doc = json.load(r)
    doc = copy.deepcopy(doc)
    props = doc["components"]["schemas"]["InstanceCreate"]["properties"]
    del props["qmp"]
    return schemathesis.openapi.from_dict(doc)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_openapi_document(case, live):
    case.call_and_validate(base_url=live.url, checks=CHECKS)


def test_document_is_valid_openapi(live):
    from qmpserver.http.openapi import document

    for auth in (False, True):
        doc = document(auth)
        schemathesis.openapi.from_dict(doc)  # loads and validates the document
        assert ("security" in doc) == auth
