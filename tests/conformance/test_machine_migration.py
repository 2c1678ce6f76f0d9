"""Differential tests of the migration commands against Debian's
qemu-system-aarch64 7.2 (TCG), through qmpserver's QEMU-style launcher on the
captured profile: error texts and their order, capabilities and parameters,
and a complete outgoing migration (events, final status, run state)."""

from __future__ import annotations

import json

import pytest

from tests.conformance.test_machine_virt import mock, real
from tests.support.client import strip_timestamps

RUNNING = ["-nodefaults", "-display", "none", "-accel", "tcg"]

IDLE = [
    ("query-migrate", None),
    ("migrate_cancel", None),
    ("migrate-incoming", {"uri": "tcp:127.0.0.1:0"}),
    ("migrate", {"uri": "foo:bar"}),
    ("query-migrate", None),
    ("migrate-set-parameters", {"compress-level": 12}),
    ("migrate-set-parameters", {"downtime-limit": 3000000}),
    ("migrate-set-parameters", {"cpu-throttle-initial": 0}),
    ("migrate-set-parameters", {"cpu-throttle-increment": 100}),
    ("migrate-set-parameters", {"multifd-channels": 0}),
    ("migrate-set-parameters", {"xbzrle-cache-size": 1000}),
    ("migrate-set-parameters", {"max-cpu-throttle": 10}),
    ("migrate-set-parameters", {"announce-step": 0}),
    ("migrate-set-parameters", {"max-bandwidth": 1000, "downtime-limit": 500, "tls-creds": None}),
    ("query-migrate-parameters", None),
    (
        "migrate-set-capabilities",
        {"capabilities": [{"capability": "events", "state": True}, {"capability": "xbzrle", "state": True}]},
    ),
    ("query-migrate-capabilities", None),
    ("migrate-set-capabilities", {"capabilities": [{"capability": "zero-copy-send", "state": True}]}),
    ("migrate-set-capabilities", {"capabilities": [{"capability": "postcopy-preempt", "state": True}]}),
    ("migrate-pause", None),
    ("migrate-recover", {"uri": "tcp:127.0.0.1:0"}),
    ("migrate-start-postcopy", None),
    ("migrate-continue", {"state": "pre-switchover"}),
]


@pytest.mark.realqemu
@pytest.mark.parametrize("paused", [True, False], ids=["prelaunch", "running"])
def test_idle_commands(paused):
    base = (["-S"] if paused else []) + RUNNING
    args = ["-machine", "virt", "-cpu", "max"]
    r, m = real(args, base=base), mock(args, base=base)
    try:
        for name, a in IDLE:
            assert m.client.cmd(name, a) == r.client.cmd(name, a), (name, a)
    finally:
        r.close()
        m.close()


def fold_passes(msgs):
    """The transcript with its RAM passes folded to the first and the last one.

    How many iterative RAM passes QEMU makes before it stops the VM is not protocol but timing:
    it iterates while the pending dirty memory exceeds bandwidth x downtime-limit, and the
    bandwidth is measured (QEMU migration/ram.c ram_save_pending, migration/migration.c
    migration_iteration_run).  Real QEMU under TCG made 2 passes on an idle machine and 3 in a
    loaded CI container.  The numbering must still be 1, 2, ... N in order; the first and the
    last pass (N becomes "N") keep their place relative to every other message (STOP, MIGRATION).
    """
    passes = [i for i, m in enumerate(msgs) if m.get("event") == "MIGRATION_PASS"]
    assert [msgs[i]["data"]["pass"] for i in passes] == list(range(1, len(passes) + 1)), msgs
    middle = set(passes[1:-1])
    out = [m for i, m in enumerate(msgs) if i not in middle]
    if len(passes) > 1:
        last = out.index(msgs[passes[-1]])
        out[last] = {**msgs[passes[-1]], "data": {"pass": "N"}}
    return out


def test_fold_passes_keeps_order_and_first_last():
    ev = lambda n: {"event": "MIGRATION_PASS", "data": {"pass": n}}  # noqa: E731
    stop = {"event": "STOP"}
    assert fold_passes([ev(1), ev(2), stop, ev(3)]) == [ev(1), stop, {**ev(3), "data": {"pass": "N"}}]
    assert fold_passes([ev(1), stop, ev(2)]) == fold_passes([ev(1), ev(2), stop, ev(3)])
    assert fold_passes([ev(1), ev(2), stop, ev(3)]) != fold_passes([ev(1), ev(2), ev(3), stop])
    with pytest.raises(AssertionError):
        fold_passes([ev(1), ev(3)])


def _migrate(c, uri):
    """Every message from the migrate command on (events before and after its reply)."""
    c.client.cmd("migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})
    c.client.send(json.dumps({"execute": "migrate", "arguments": {"uri": uri}}))
    return fold_passes(strip_timestamps(c.client.read_quiet(0.5, 10)))


@pytest.mark.realqemu
@pytest.mark.parametrize("paused", [True, False], ids=["prelaunch", "running"])
def test_outgoing_migration(paused):
    base = (["-S"] if paused else []) + RUNNING
    args = ["-machine", "virt", "-cpu", "max"]
    r, m = real(args, base=base), mock(args, base=base)
    try:
        got, want = _migrate(m, "exec:cat > /dev/null"), _migrate(r, "exec:cat > /dev/null")
        assert got == want
        qr, qm = r.client.cmd("query-migrate")["return"], m.client.cmd("query-migrate")["return"]
        assert qm["status"] == qr["status"] == "completed"
        assert sorted(qm) == sorted(qr)
        assert sorted(qm["ram"]) == sorted(qr["ram"])
        assert qm["ram"]["total"] == qr["ram"]["total"]
        for name, a in [
            ("query-status", None),
            ("migrate", {"uri": "exec:cat > /dev/null"}),
            ("cont", None),
            ("query-status", None),
        ]:
            assert m.client.cmd(name, a) == r.client.cmd(name, a), name
    finally:
        r.close()
        m.close()


@pytest.mark.realqemu
def test_connection_refused():
    args = ["-machine", "virt", "-cpu", "max"]
    base = ["-S"] + RUNNING
    r, m = real(args, base=base), mock(args, base=base)
    try:
        got, want = _migrate(m, "tcp:127.0.0.1:1"), _migrate(r, "tcp:127.0.0.1:1")
        assert got == want
        assert m.client.cmd("query-migrate") == r.client.cmd("query-migrate")
        assert m.client.cmd("query-status") == r.client.cmd("query-status")
    finally:
        r.close()
        m.close()


@pytest.mark.realqemu
def test_incoming_defer():
    args = ["-machine", "virt", "-cpu", "max", "-incoming", "defer"]
    r, m = real(args, base=RUNNING), mock(args, base=RUNNING)
    try:
        for c in (r, m):
            c.client.cmd(
                "migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]}
            )
        seq = [
            ("query-status", None),
            ("query-migrate", None),
            ("migrate", {"uri": "exec:cat"}),
            ("migrate-incoming", {"uri": "bogus:1"}),
        ]
        for name, a in seq:
            assert m.client.cmd(name, a) == r.client.cmd(name, a), name
    finally:
        r.close()
        m.close()
