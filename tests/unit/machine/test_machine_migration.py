"""Migration in-process: the KVM MTE blocker, mock-to-mock migration, cancel,
the 8.2+ URI texts, parameters shaped by the build's schema."""

from __future__ import annotations

import socket
import time

import pytest
from machine_testutil import Qmp, start

from qmpserver.errors import StartupError

BLOCKER = "Live migration disabled due to MTE enabled"
EVENTS = {"capabilities": [{"capability": "events", "state": True}]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pump(*clients, until=None, timeout=20.0):
    """Run every instance's loop until ``until()`` holds (or ``timeout``)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for c in clients:
            c.instance.scheduler.run_due()
        if until is not None and until():
            break
        time.sleep(0.002)
    for c in clients:
        c.run(0)  # collect the events
    return until is None or until()


def q(profile="qmpserver-tcg", machine="virt", accel=None, cpu="max", **cfg):
    inst = start(profile, machine, accel, cpu, **cfg)
    assert not isinstance(inst, StartupError), inst
    return Qmp(inst)


@pytest.mark.parametrize(
    "profile,machine,blocked",
    [
        ("ampereone-a-mte-6.18-qemu-11.1", "virt,mte=on", True),  # upstream: QEMU's blocker
        ("ampereone-a-mte-6.18-qemu-11.1", "virt", False),
        ("default", "virt,mte-version=3", False),  # the proposal: the version is pinned, it migrates
        ("default", "virt,mte=on", False),
        ("default", "virt,mte-version=none", False),
    ],
)
def test_kvm_mte_blocks_migration_upstream_only(profile, machine, blocked):
    c = q(profile, machine, "kvm", "host")
    info = c.cmd("query-migrate")
    if not blocked:
        assert info == {}
        return
    assert info == {"blocked-reasons": [BLOCKER]}
    r = c.send("migrate", uri="exec:cat > /dev/null")
    assert r["error"] == {"class": "GenericError", "desc": BLOCKER}
    assert c.cmd("query-migrate") == {"blocked-reasons": [BLOCKER]}
    assert c.cmd("query-status")["status"] == "running"


def test_tcg_mte_does_not_block():
    c = q("qmpserver-tcg", "virt,mte-version=3", "tcg")
    assert c.cmd("query-migrate") == {}


def test_upstream_kvm_mte_blocks_too():
    c = q("cix-p1-a720-mte3-6.12-qemu-11.1", "virt,mte=on", "kvm", "host")
    assert c.cmd("query-migrate") == {"blocked-reasons": [BLOCKER]}


def _events(c):
    return [(e["event"], e.get("data")) for e in c.events]


@pytest.mark.parametrize("dest_paused", [False, True])
def test_mock_to_mock(dest_paused):
    dst = q("qmpserver-tcg", "virt,mte-version=2", incoming="defer", start_paused=dest_paused)
    src = q("qmpserver-tcg", "virt,mte-version=2")
    for c in (src, dst):
        c.cmd("migrate-set-capabilities", **EVENTS)
    assert dst.cmd("query-status")["status"] == "inmigrate"
    port = free_port()
    dst.cmd("migrate-incoming", uri="tcp:0.0.0.0:%d" % port)
    assert dst.cmd("query-migrate") == {
        "status": "setup",
        "socket-address": [{"type": "inet", "host": "0.0.0.0", "port": str(port), "ipv4": True}],
    }
    src.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
    pump(src, dst, until=lambda: dst.instance.migration.incoming_status == "completed")
    assert _events(src) == [
        ("MIGRATION", {"status": "setup"}),
        ("MIGRATION_PASS", {"pass": 1}),
        ("MIGRATION", {"status": "active"}),
        ("STOP", None),
        ("MIGRATION_PASS", {"pass": 2}),
        ("MIGRATION", {"status": "completed"}),
    ]
    want_dst = [("MIGRATION", {"status": "setup"}), ("MIGRATION", {"status": "active"})]
    want_dst += [] if dest_paused else [("RESUME", None)]
    want_dst += [("MIGRATION", {"status": "completed"})]
    assert _events(dst) == want_dst
    assert src.cmd("query-status")["status"] == "postmigrate"
    assert dst.cmd("query-status")["status"] == ("paused" if dest_paused else "running")
    assert dst.cmd("query-migrate") == {"status": "completed"}
    info = src.cmd("query-migrate")
    assert info["status"] == "completed" and info["ram"]["total"] == (128 << 20) * 2 + 139264
    assert (
        src.send("migrate", uri="tcp:127.0.0.1:%d" % port)["error"]["desc"]
        == "Can't migrate the vm that was paused due to previous migration"
    )
    assert (
        dst.send("migrate-incoming", uri="tcp:0:%d" % port)["error"]["desc"]
        == "The incoming migration has already been started"
    )


def test_incoming_on_the_command_line():
    port = free_port()
    dst = q("qmpserver-tcg", incoming="tcp:127.0.0.1:%d" % port)
    assert dst.cmd("query-status")["status"] == "inmigrate"
    src = q("qmpserver-tcg")
    src.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
    pump(src, dst, until=lambda: dst.instance.migration.incoming_status == "completed")
    assert src.cmd("query-migrate")["status"] == "completed"
    assert dst.cmd("query-status")["status"] == "running"
    e = start("qmpserver-tcg", "virt", "tcg", "max", incoming="nope:1")
    assert e.message == "-incoming nope:1: unknown migration protocol: nope:1"


def test_refused_connection_fails_the_migration():
    c = q()
    c.cmd("migrate-set-capabilities", **EVENTS)
    c.cmd("migrate", uri="tcp:127.0.0.1:1")
    pump(c, until=lambda: c.instance.migration.status == "failed")
    assert c.cmd("query-migrate") == {
        "status": "failed",
        "error-desc": "Failed to connect to '127.0.0.1:1': Connection refused",
    }
    assert _events(c)[-1] == ("MIGRATION", {"status": "failed"})


def test_cancel():
    c = q()
    c.cmd("migrate-set-capabilities", **EVENTS)
    c.cmd("migrate", uri="exec:cat > /dev/null")
    assert (
        c.send("migrate-set-capabilities", **EVENTS)["error"]["desc"]
        == "There's a migration process in progress"
    )
    assert c.send("migrate", uri="exec:cat")["error"]["desc"] == "There's a migration process in progress"
    c.cmd("migrate_cancel")
    pump(c, until=lambda: c.instance.migration.status == "cancelled")
    assert c.cmd("query-migrate") == {"status": "cancelled"}
    assert [d["status"] for n, d in _events(c) if n == "MIGRATION"] == ["setup", "cancelling", "cancelled"]
    assert c.cmd("query-status")["status"] == "running"
    c.cmd("migrate_cancel")  # idle: nothing happens


def test_no_events_without_the_capability():
    c = q()
    c.cmd("migrate", uri="exec:cat > /dev/null")
    pump(c, until=lambda: c.instance.migration.status == "completed")
    assert c.cmd("query-migrate")["status"] == "completed"
    assert _events(c) == [("STOP", None)]


def test_uri_and_channels_on_11():
    c = q()
    assert c.send("migrate", uri="foo:bar")["error"]["desc"] == "unknown migration protocol: foo:bar"
    assert c.cmd("query-migrate") == {}  # 8.2+: parsed before anything starts
    assert c.send("migrate")["error"]["desc"] == "need either 'uri' or 'channels' argument"
    c.cmd("migrate", channels=[{"channel-type": "main", "addr": {"transport": "exec", "args": ["cat"]}}])
    pump(c, until=lambda: c.instance.migration.status == "completed")
    assert c.cmd("query-migrate")["status"] == "completed"


def test_uri_on_72_fails_after_setup():
    c = q("debian-7.2-tcg")
    assert (
        c.send("migrate", uri="foo:bar")["error"]["desc"]
        == "Parameter 'uri' expects a valid migration protocol"
    )
    assert c.cmd("query-migrate") == {"status": "failed"}


def test_parameters_follow_the_schema():
    new = q().cmd("query-migrate-parameters")
    assert "compress-level" not in new and new["downtime-limit"] == 300 and new["mode"] == "normal"
    old = q("debian-7.2-tcg").cmd("query-migrate-parameters")
    assert old["compress-level"] == 1 and "mode" not in old
    c = q()
    c.cmd("migrate-set-parameters", **{"downtime-limit": 500, "tls-creds": None})
    got = c.cmd("query-migrate-parameters")
    assert got["downtime-limit"] == 500 and got["tls-creds"] == ""
    assert (
        c.send("migrate-set-parameters", **{"max-cpu-throttle": 10})["error"]["desc"]
        == "Parameter 'max_cpu_throttle' expects an integer in the range of cpu_throttle_initial to 99"
    )


def test_capabilities_follow_the_build():
    caps = q().cmd("query-migrate-capabilities")
    names = [x["capability"] for x in caps]
    assert "mapped-ram" in names and "zero-blocks" not in names
    c = q("debian-7.2-tcg")
    c.cmd("migrate-set-capabilities", **EVENTS)
    assert {x["capability"]: x["state"] for x in c.cmd("query-migrate-capabilities")}["events"] is True
    assert (
        c.send("migrate-set-capabilities", capabilities=[{"capability": "zero-copy-send", "state": True}])[
            "error"
        ]["desc"]
        == "Zero copy only available for non-compressed non-TLS multifd migration"
    )


def test_destination_vcpu_reads_the_source_abi():
    """KVM on 6.12 lets userspace lower a writable ID field: the source runs
    ``-cpu host`` with AES hidden, the destination is configured with plain
    ``-cpu host``; the migration succeeds and the destination's vCPU then reads
    the source's value (qom-get), because the cpreg list wrote it."""
    prof = "graviton4-v2-6.12"
    prop = "SYSREG_ID_AA64ISAR0_EL1_AES"
    src = q(prof, "virt,gic-version=3", "kvm", "host", cpu_props={prop: "0"})
    dst = q(prof, "virt,gic-version=3", "kvm", "host", incoming="defer")
    path = "/machine/unattached/device[0]"
    own = dst.cmd("qom-get", path=path, property=prop)
    assert own != 0 and src.cmd("qom-get", path=path, property=prop) == 0
    port = free_port()
    dst.cmd("migrate-incoming", uri="tcp:127.0.0.1:%d" % port)
    src.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
    assert pump(src, dst, until=lambda: dst.instance.migration.incoming_status == "completed")
    assert dst.cmd("qom-get", path=path, property=prop) == 0
    assert dst.instance.abi == src.instance.abi
