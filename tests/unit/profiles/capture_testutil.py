"""Helpers shared by the capture/import tests (a plain module: conftest is not importable safely)."""

import json
import os
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
# the libvirt recordings bundled in data/ (*.replies.gz)
REPLIES = (
    "caps_7.0.0.aarch64.replies",
    "caps_8.2.0_aarch64.replies",
    "caps_9.2.0_aarch64+hvf.replies",
    "caps_9.2.0_x86_64.replies",
)


def need(what: str) -> None:
    """Skip for a missing real peer, or fail when QMPSERVER_REQUIRE_REAL_PEERS=1."""
    if os.environ.get("QMPSERVER_REQUIRE_REAL_PEERS") == "1":
        pytest.fail(f"{what} is required (QMPSERVER_REQUIRE_REAL_PEERS=1) but not available")
    pytest.skip(f"{what} not available")


def real_binary(path: str) -> str:
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        need(path)
    return path


def schema_validator():
    """validate(kind, path): check a YAML file against schemas/<kind>.schema.json (skip if absent)."""
    jsonschema = pytest.importorskip("jsonschema")
    schemas = REPO / "schemas"
    if not (schemas / "host.schema.json").exists():
        pytest.skip("schemas/*.schema.json not there")

    def validate(kind, path):
        schema = json.loads((schemas / f"{kind}.schema.json").read_text())
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)

    return validate


def start_profile(path, *commands):
    """Start an instance of the profile file `path` (as `serve --profile FILE` does) and return
    the answers to `commands` (names or (name, arguments)) over its QMP socket."""
    from qmpserver.testing.server import InProcessServer
    from tests.support.client import RawClient

    with InProcessServer() as srv:
        inst = srv.create(str(path))
        client = RawClient(inst.qmp_address)
        try:
            client.negotiate()
            out = []
            for c in commands:
                name, args = (c, None) if isinstance(c, str) else c
                out.append(client.cmd(name, args))
            return out
        finally:
            client.close()
