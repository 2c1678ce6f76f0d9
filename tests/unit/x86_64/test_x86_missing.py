"""A CPU-model question that neither the target's model nor the build's recording answers
is an error naming what is missing, with a warning on ``qmpserver.cpu`` (issue 11: the
launcher used to answer ``{"model": {"name": ""}}``, the default of the return type).

The libvirt recording ``caps_9.2.0_x86_64`` imported as a build has no per-model data: only
the arguments libvirt asked are answered, verbatim."""

from __future__ import annotations

import logging
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cpu"))
from cpu_testutil import Qmp, make_instance  # noqa: E402

from qmpserver.profiles import replies as R  # noqa: E402
from qmpserver.profiles.loader import load_profile  # noqa: E402
from tests.unit.profiles.test_replay_recordings import recordings  # noqa: E402


@pytest.fixture(scope="module")
def libvirt_x86(tmp_path_factory):
    root = tmp_path_factory.mktemp("x86-import")
    text = dict(recordings())["caps_9.2.0_x86_64.replies"]
    src = root / "caps_9.2.0_x86_64.replies"
    src.write_text(text, encoding="utf-8")
    paths = R.import_replies(src, root)
    return load_profile(str(paths["profile"]))


def test_unrecorded_expansion_is_an_error_with_a_log_line(libvirt_x86, caplog):
    q = Qmp(make_instance(libvirt_x86, machine={"type": "none"}))
    with caplog.at_level(logging.WARNING, logger="qmpserver.cpu"):
        r = q.expand("Skylake-Client", type_="static")
    desc = r["error"]["desc"]
    assert r["error"]["class"] == "GenericError"
    assert desc.startswith("qmpserver: query-cpu-model-expansion ")
    assert '"Skylake-Client"' in desc and "libvirt-caps-9.2.0-x86-64" in desc and "recorded no answer" in desc
    assert any(desc in rec.getMessage() for rec in caplog.records)


def test_recorded_arguments_still_replayed(libvirt_x86):
    q = Qmp(make_instance(libvirt_x86, machine={"type": "none"}))
    r = q.expand("host", {"migratable": False}, type_="static")
    assert r["return"]["model"]["name"] == "base"
    assert r["return"]["model"]["props"]["vendor"]
