"""Live migration between instances of two ``qmpserver serve`` servers (each with
its own event loop and thread, as two processes would have), over their QMP
unix sockets: the source and destination only meet on the migration socket."""

from __future__ import annotations

import json
import socket
import time

import pytest

from qmpserver.testing.server import InProcessServer

EVENTS = [{"capability": "events", "state": True}, {"capability": "return-path", "state": True}]


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.f = self.sock.makefile("rwb")
        self.events = []
        json.loads(self.f.readline())
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg).encode() + b"\r\n")
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                return None
            m = json.loads(line)
            if "event" in m:
                self.events.append(m)
                continue
            return m

    def close(self):
        self.sock.close()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two(tmp_path):
    a, b = InProcessServer(), InProcessServer()
    a.start()
    b.start()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _migrate(a, b, src_profile, dst_profile, **opts):
    src = a.create(src_profile, **opts)
    dst = b.create(dst_profile, incoming="defer", **opts)
    sc, dc = Client(src.qmp_address), Client(dst.qmp_address)
    for c in (sc, dc):
        assert c.cmd("migrate-set-capabilities", capabilities=EVENTS) == {"return": {}}
    port = _free_port()
    assert dc.cmd("migrate-incoming", uri="tcp:127.0.0.1:%d" % port) == {"return": {}}
    assert sc.cmd("migrate", uri="tcp:127.0.0.1:%d" % port) == {"return": {}}
    end = time.monotonic() + 20
    status = None
    while time.monotonic() < end:
        status = sc.cmd("query-migrate")["return"].get("status")
        if status in ("completed", "failed"):
            break
        time.sleep(0.01)
    return src, dst, sc, dc, status


def test_same_host_completes_and_the_destination_carries_the_abi(two):
    a, b = two
    src, dst, sc, dc, status = _migrate(
        a, b, "graviton4-v2-6.12", "graviton4-v2-6.12", accel="kvm", cpu="host"
    )
    assert status == "completed"
    assert sc.cmd("query-status")["return"]["status"] == "postmigrate"
    names = [e["event"] for e in sc.events]
    assert names.count("STOP") == 1 and names[-1] == "MIGRATION"
    # the source completes on the destination's RP_SHUT, sent before the destination's
    # own loop finishes the load: wait for the destination as libvirt does (its event)
    end = time.monotonic() + 10
    while dc.cmd("query-status")["return"]["status"] != "running" and time.monotonic() < end:
        time.sleep(0.01)
    assert dc.cmd("query-status")["return"]["status"] == "running"
    assert dst.instance.abi == src.instance.abi


def test_invariant_midr_fails_on_the_destination_only(two):
    """Graviton4 (6.12) -> Graviton3 (6.1): KVM refuses the foreign MIDR_EL1; the
    destination exits 1, the source fails and keeps running."""
    a, b = two
    src, dst, sc, dc, status = _migrate(
        a, b, "graviton4-v2-6.12", "graviton3-v1-6.1", accel="kvm", cpu="host"
    )
    assert status == "failed"
    assert sc.cmd("query-status")["return"]["status"] == "running"
    # the destination's exit runs on its own server's loop: the source can see the
    # closed socket first, as with two real processes (the kernel closes the socket
    # while the destination process is still exiting)
    end = time.monotonic() + 10
    while dst.instance.terminated is None and time.monotonic() < end:
        time.sleep(0.01)
    assert dst.instance.terminated is not None and dst.instance.exit_code == 1
    # the profiles' QEMU 11.1: the refused register is written again after the load
    # (cpu_synchronize_all_post_init, since 10.0) and that exits the process
    assert list(dst.instance.stderr)[-1] == "Failed to put registers after init: Invalid argument"
    assert any("MIDR_EL1" in r for r in dst.instance.migration.refused)
