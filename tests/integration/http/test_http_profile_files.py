"""Issue 16 D18 over HTTP: a profile file that is not UTF-8, or a replies.json entry without
"execute", is a 422 naming the file and the field (500 before), and one such file in the
store no longer breaks `GET /api/v1/profiles`."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from http_testutil import Api

from qmpserver.models import MODELS_DIR
from qmpserver.testing.server import InProcessServer

TOKEN = "profile-files-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from qmpserver.http.app import start_http

    store = tmp_path_factory.mktemp("store")
    for sub in ("profiles", "builds"):
        os.makedirs(store / sub)
    (store / "profiles" / "lat.yaml").write_bytes(
        b"kind: profile\nname: lat\nsummary: caf\xe9\nhost: tcg-only\nbuild: qmpserver\n"
    )
    build = store / "builds" / "qemu-7.2-debian"  # searched before the built-in of that name
    shutil.copytree(os.path.join(MODELS_DIR, "builds", "qemu-7.2-debian"), build)
    doc = json.loads((build / "replies.json").read_text())
    doc["entries"].append({"return": {}})
    (build / "replies.json").write_text(json.dumps(doc))
    (store / "profiles" / "norep.yaml").write_text(
        "kind: profile\nname: norep\nsummary: s\nhost: tcg-only\nbuild: qemu-7.2-debian\n"
    )
    with InProcessServer(profile_dirs=[str(store)]) as s:
        s._http = s.call(start_http(s.server, "127.0.0.1:0", token=TOKEN, control=s.control))
        s.store = str(store)
        yield s


def test_list_survives_a_latin1_file(served):
    status, _, d = Api(served.url, token=TOKEN)("GET", "/api/v1/profiles")
    assert status == 200, d
    row = [p for p in d["profiles"] if p["name"] == "lat"][0]
    assert not row["valid"] and "lat.yaml: not UTF-8 text" in row["summary"]


def test_show_latin1_is_422(served):
    status, _, d = Api(served.url, token=TOKEN)("GET", "/api/v1/profiles/lat")
    assert status == 422, d
    assert d["error"]["file"].endswith("lat.yaml") and "not UTF-8" in d["error"]["message"]


@pytest.mark.parametrize(
    "how", [("GET", "/api/v1/profiles/norep"), ("POST", "/api/v1/profiles/norep/validate")]
)
def test_replies_entry_without_execute_is_422(served, how):
    status, _, d = Api(served.url, token=TOKEN)(*how)
    assert status == 422, d
    err = d["error"]
    assert err["file"].endswith("replies.json") and err["path"].startswith("entries[")
    assert "'execute' is a required property" in err["message"]
