"""libvirt 9.0 probing a launcher on an x86 QEMU newer than itself (issue 11, "Builds").

The build is libvirt's recording ``caps_9.2.0_x86_64.replies`` (QEMU 9.2, probed by a newer
libvirt) imported with ``qmpserver.profiles.replies.import_replies``: the newest x86 recording
this repository holds (an 11.x one is not here yet, docs/x86-cpu-models.md "Not done").
libvirt 9.0 has a minimum QEMU version (4.2) and no maximum, so it probes the newer build; what
it asks is its own 9.0 conversation, not the recording's, and every answer must be either the
recording's or an error real QEMU also gives while probed, or qmpserver's visible
not-modelled error — never an invented reply.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import libvirt_testutil as lt
import pytest

pytestmark = [pytest.mark.libvirt, pytest.mark.timeout(600)]

RECORDING = "caps_9.2.0_x86_64.replies"
# errors real QEMU returns while probed (as test_libvirt_launcher._ALLOWED)
ALLOWED = {
    ("device-list-properties", "DeviceNotFound"),
    ("qom-list-properties", "DeviceNotFound"),
    ("query-cpu-model-expansion", "GenericError"),
}
# answers computed from the profile's host, not replayed (docs/profiles.md)
HOST_COMPUTED = ("query-kvm", "qom-get", "query-accelerators")


@pytest.fixture(scope="module")
def imported(libvirt):
    from qmpserver.profiles import replies as R
    from tests.unit.profiles.test_replay_recordings import recordings

    text = dict(recordings()).get(RECORDING)
    if text is None:
        pytest.fail("%s is missing from shared/ and tests/unit/profiles/data" % RECORDING)
    d = lt.world_dir("qmps-x86new-")
    src = Path(d) / RECORDING
    src.write_text(text, encoding="utf-8")
    paths = R.import_replies(src, Path(d))
    old = os.environ.get("QMPSERVER_PROFILE_PATH")
    os.environ["QMPSERVER_PROFILE_PATH"] = d  # the launcher keeps the roots it was installed with
    try:
        exe = lt.install_launcher(str(paths["profile"]), d, name="qemu-system-x86_64")
    except RuntimeError as e:
        if lt.require_peers():
            pytest.fail(str(e))
        pytest.skip(str(e))
    finally:
        if old is None:
            os.environ.pop("QMPSERVER_PROFILE_PATH", None)
        else:
            os.environ["QMPSERVER_PROFILE_PATH"] = old
    yield exe, text
    shutil.rmtree(d, ignore_errors=True)


def _recorded(text):
    """(command, arguments) -> outcome of the recording's first (KVM) pass."""
    from qmpserver.profiles import replies as R

    first = R.parse_replies(text)[0]
    assert first.accel == "kvm"
    return {_key({"execute": r.execute, "arguments": r.arguments}): r.outcome for r in first.records}


def _first_pass(conv):
    """The exchanges up to libvirt's second qmp_capabilities (its KVM pass)."""
    out = []
    for c, r in conv:
        if c.get("execute") == "qmp_capabilities" and out:
            break
        out.append((c, r))
    return out


def test_domcapabilities_kvm_lists_the_recorded_models(imported):
    exe, text = imported
    lt.invalidate_caps(exe)
    with lt.exclusive(), lt.monitor_log(exe) as pairs:
        p = lt.domcaps(exe, virttype="kvm", arch="x86_64", machine="pc")
        assert p.returncode == 0, p.stderr
        conv = [(c, r) for _mon, c, r in pairs()]
    got = lt.domcaps_summary(p.stdout)
    assert got["machine"].startswith("pc-i440fx-9.2")
    defs = [r["return"] for c, r in conv if c.get("execute") == "query-cpu-definitions" and "return" in r]
    assert defs, "libvirt asked no query-cpu-definitions"
    usable = sorted(d["name"] for d in defs[-1] if not d.get("unavailable-features") and d["name"] != "host")
    assert set(got["custom_models"]) <= {d["name"] for d in defs[-1]}
    assert got["maximum"] is True
    # an error is the recording's own, one real QEMU also gives while probed, or qmpserver's
    # named refusal
    rec = _recorded(text)
    bad = [
        (c, r)
        for c, r in conv
        if "error" in r
        and rec.get(_key(c)) != {"error": r["error"]}
        and (c.get("execute"), r["error"]["class"]) not in ALLOWED
        and not r["error"]["desc"].startswith("qmpserver: ")
    ]
    assert bad == []
    assert usable, "no usable CPU model"


def test_probe_answers_are_the_recordings_where_libvirt_9_asks_the_same(imported):
    exe, text = imported
    lt.invalidate_caps(exe)
    with lt.exclusive(), lt.monitor_log(exe) as pairs:
        p = lt.domcaps(exe, virttype="kvm", arch="x86_64", machine="pc")
        assert p.returncode == 0, p.stderr
        conv = [(c, r) for _mon, c, r in pairs()]
    assert any(c.get("execute") == "query-qmp-schema" for c, _ in conv), "no conversation logged"
    rec = _recorded(text)
    same, differ = 0, []
    for c, r in _first_pass(conv):
        key = _key(c)
        if key not in rec or c.get("execute") in HOST_COMPUTED:
            continue  # asked only by libvirt 9.0, or computed from the (placeholder) host
        if {k: v for k, v in r.items() if k != "id"} == rec[key]:
            same += 1
        else:
            differ.append(c)
    assert same > 20
    # libvirt 9.0 still asks query-commands, which the newer libvirt of the recording no longer
    # does: answered from the recorded schema's commands
    unrecorded = {c.get("execute") for c, _ in _first_pass(conv) if _key(c) not in rec}
    assert unrecorded <= {"qmp_capabilities", "query-commands"}
    assert differ == []


def _key(cmd):
    from qmpserver.wire.encode import dumps

    return (cmd.get("execute"), dumps(cmd.get("arguments") or {}))
