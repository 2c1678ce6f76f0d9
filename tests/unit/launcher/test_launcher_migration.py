"""Live migration between two launcher processes, in libvirt 9.0's conversation
(shared/reference/migration-facts.md §1): the destination starts with ``-incoming
defer``, both sides turn ``events`` on, the destination gets ``migrate-incoming``,
the source ``migrate`` with ``pause-before-switchover`` and ``return-path`` and
``migrate-continue`` at ``pre-switchover``.  A refused load makes the destination
print QEMU's lines (``-msg timestamp=on``) and exit 1."""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time

import pytest
from launcher_testutil import QMP, spawn, wait_for

SRC_CAPS = ("events", "pause-before-switchover", "return-path")
DST_CAPS = ("events", "late-block-activate", "return-path")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _caps(names):
    return {"capabilities": [{"capability": n, "state": True} for n in names]}


def _launch(tmp, name, profile, machine, cpu, accel, extra=()):
    sock = os.path.join(tmp, name + ".sock")
    args = ["-nodefaults", "-display", "none", "-msg", "timestamp=on", "-machine", machine]
    args += ["-accel", accel, "-cpu", cpu, "-qmp", "unix:%s,server=on,wait=off" % sock] + list(extra)
    p = spawn(args, profile=profile)
    assert wait_for(lambda: os.path.exists(sock) or p.poll() is not None), p
    if p.poll() is not None:
        raise AssertionError(p.stderr.read().decode())
    q = QMP(sock)
    q.cmd("qmp_capabilities")
    return p, q


def _wait_status(q, wanted, timeout=10.0):
    """Read MIGRATION events until one of ``wanted`` arrives; every status seen, in order."""
    seen = q.__dict__.setdefault("seen", [])
    end = time.monotonic() + timeout
    while not any(x in wanted for x in seen) and time.monotonic() < end:
        e = q.event("MIGRATION", max(0.01, end - time.monotonic()))
        if e is None:
            break
        seen.append(e["data"]["status"])
    return seen


def migrate(tmp, src_profile, dst_profile, machine="virt", cpu="host", accel="kvm", dst_machine=None):
    """Run libvirt's conversation; (source query-migrate, source runstate, src, dst, dst process)."""
    src_p, src = _launch(tmp, "src", src_profile, machine, cpu, accel)
    dst_p, dst = _launch(tmp, "dst", dst_profile, dst_machine or machine, cpu, accel, ["-incoming", "defer"])
    procs.extend([src_p, dst_p])
    for q in (src, dst):
        q.cmd("migrate-set-capabilities", _caps(["events"]))
    assert dst.cmd("query-status")["return"]["status"] == "inmigrate"
    dst.cmd("migrate-set-capabilities", _caps(DST_CAPS))
    src.cmd("migrate-set-capabilities", _caps(SRC_CAPS))
    port = _free_port()
    assert dst.cmd("migrate-incoming", {"uri": "tcp:127.0.0.1:%d" % port}) == {"return": {}}
    r = src.cmd("migrate", {"uri": "tcp:127.0.0.1:%d" % port})  # 11.1's schema has no "detach"
    assert r == {"return": {}}, r
    if _wait_status(src, ("completed", "failed", "pre-switchover"))[-1] == "pre-switchover":
        assert src.event("STOP") is not None
        assert src.cmd("migrate-continue", {"state": "pre-switchover"}) == {"return": {}}
        _wait_status(src, ("completed", "failed"))
    info = src.cmd("query-migrate")["return"]
    status = src.cmd("query-status")["return"]["status"]
    return info, status, src, dst, dst_p


procs: list = []


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="qm", dir="/tmp")
    yield d
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()
    procs.clear()
    shutil.rmtree(d, ignore_errors=True)


def _stderr_lines(p):
    p.wait(timeout=10)
    text = p.stderr.read().decode()
    return [re.sub(r"^\S+Z ", "", line) for line in text.splitlines()]


def test_same_host_completes(tmp):
    info, status, src, dst, dst_p = migrate(tmp, "graviton4-v2-6.12", "graviton4-v2-6.12")
    assert info["status"] == "completed" and status == "postmigrate"
    assert src.seen == ["setup", "active", "pre-switchover", "device", "completed"]
    assert _wait_status(dst, ("completed",)) == ["setup", "active", "completed"]
    # libvirt's Finish: cont on the destination
    assert dst.cmd("cont") == {"return": {}}
    assert dst.event("RESUME") is not None
    assert dst.cmd("query-status")["return"]["status"] == "running"


def _matrix_rows():
    import yaml

    path = os.path.join(os.path.dirname(__file__), "..", "..", "data", "migration-matrix.yaml")
    with open(path) as f:
        m = yaml.safe_load(f)
    return [{**m["defaults"], **r} for r in m["rows"] if r.get("launcher")]


@pytest.mark.parametrize("row", _matrix_rows(), ids=lambda r: "%s->%s" % (r["src"], r["dst"]))
def test_matrix_rows_through_launchers(tmp, row):
    info, status, src, dst, dst_p = migrate(
        tmp, row["src"], row["dst"], row["machine"], row["cpu"], row["accel"], row.get("dst_machine")
    )
    if row["expect"] == "completed":
        assert info["status"] == "completed" and status == "postmigrate"
        return
    assert info["status"] == "failed" and status == "running"  # the source resumed
    assert dst_p.wait(timeout=10) == 1
    lines = _stderr_lines(dst_p)
    assert len(lines) == len(row["stderr"]), lines
    for got, pattern in zip(lines, row["stderr"]):
        assert re.fullmatch("qemu-system-aarch64: " + pattern, got), (got, pattern)


def test_source_error_desc_on_device_refusal(tmp):
    # 11.x destination exits on the put-after-load path without a SHUT: the source's
    # return path sees the channel close
    info, status, src, dst, dst_p = migrate(tmp, "graviton4-v2-6.12", "graviton3-v1-6.1")
    assert info == {"status": "failed", "error-desc": "Channel error: Input/output error"}
    assert src.seen[-1] == "failed" and src.event("RESUME") is not None
