"""The balloon's QOM properties that libvirt's ``dommemstat`` and ``<memballoon><stats
period=…/>`` use (``guest-stats``, ``guest-stats-polling-interval``), on the PCI proxy and its
virtio backend: the same requests to Debian's QEMU 7.2 and to the launcher, replies compared
byte for byte (member order included)."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import launcher_testutil as lu  # noqa: E402

from tests.support.peers import RealQemu  # noqa: E402

ARGS = ["-S", "-nodefaults", "-machine", "virt", "-cpu", "max", "-accel", "tcg"]
ARGS += ["-device", "virtio-balloon-pci,id=balloon0"]
PROXY = "/machine/peripheral/balloon0"
BACKEND = PROXY + "/virtio-backend"
INTERVAL = "guest-stats-polling-interval"


def _requests():
    out = []
    for path in (PROXY, BACKEND):
        out.append(("qom-get", {"path": path, "property": INTERVAL}))
        for v in (-1, 2**32, 2**32 - 1, "x", 1.5, True, 0, 7):
            out.append(("qom-set", {"path": path, "property": INTERVAL, "value": v}))
            out.append(("qom-get", {"path": path, "property": INTERVAL}))
        out.append(("qom-set", {"path": path, "property": "guest-stats", "value": 1}))
        out.append(("qom-get", {"path": path, "property": "guest-stats"}))
    out.append(("query-balloon", None))
    out.append(("cont", None))
    out.append(("qom-get", {"path": PROXY, "property": "guest-stats"}))
    return out


def _conversation(q):
    q.cmd("qmp_capabilities")
    return [json.dumps(q.cmd(name, args)) for name, args in _requests()]


@pytest.fixture(scope="module")
def real():
    with RealQemu(ARGS) as rq:
        q = lu.QMP(rq.path)
        try:
            return _conversation(q)
        finally:
            q.close()


def test_balloon_stats_properties_equal_real_qemu(real):
    d = lu.short_dir()
    sock = os.path.join(d, "m.sock")
    p = lu.spawn(ARGS + ["-display", "none", "-qmp", "unix:%s,server=on,wait=off" % sock])
    try:
        assert lu.wait_for(lambda: os.path.exists(sock))
        q = lu.QMP(sock)
        got = _conversation(q)
        q.close()
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)
    for (name, args), want, have in zip(_requests(), real, got):
        assert have == want, (name, args)
    assert len(got) == len(real)
