"""Block-layer commands in-process (the sans-IO core with the plain Scheduler): no daemon
before a job, the error naming the missing qemu-storage-daemon, a job through the daemon
with its events delivered by the scheduler, and the daemon's end with the instance.
The differential against real QEMU is tests/conformance/test_block_jobs.py."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from qmpserver.vm import storage_daemon
from tests.support.peers import need_binary, short_tmpdir
from tests.unit.launcher.test_launcher_devices import Harness


@pytest.fixture
def disk():
    d = short_tmpdir("bju")
    path = os.path.join(d, "d.qcow2")
    subprocess.run(
        [need_binary("qemu-img"), "create", "-f", "qcow2", path, "8M"], check=True, capture_output=True
    )
    yield path
    subprocess.run(["rm", "-rf", d], check=False)


def _harness(path):
    h = Harness()
    assert h.cmd("blockdev-add", {"driver": "file", "filename": path, "node-name": "s"}) == {"return": {}}
    assert h.cmd("blockdev-add", {"driver": "qcow2", "file": "s", "node-name": "f"}) == {"return": {}}
    return h


def test_no_daemon_and_no_job_before_a_block_job(disk):
    h = _harness(disk)
    assert h.cmd("query-jobs") == {"return": []}
    assert h.cmd("query-block-jobs") == {"return": []}
    assert h.cmd("query-block-exports") == {"return": []}
    assert h.inst.backends.daemon is None


def test_missing_daemon_is_an_error_naming_it(disk, monkeypatch):
    monkeypatch.setattr(storage_daemon, "BINARY", "qemu-storage-daemon-not-installed")
    monkeypatch.setattr(storage_daemon.shutil, "which", lambda name: None)
    h = _harness(disk)
    r = h.cmd("block-stream", {"job-id": "j", "device": "f"})
    assert r == {
        "error": {
            "class": "GenericError",
            "desc": "qmpserver: the block layer needs qemu-storage-daemon (Debian package qemu-system-common)",
        }
    }
    assert h.inst.backends.daemon is None


def test_job_events_come_through_the_scheduler_and_the_daemon_ends_with_the_instance(disk):
    need_binary("qemu-storage-daemon")
    h = _harness(disk)
    assert h.cmd("block-stream", {"job-id": "j", "device": "f"}) == {"return": {}}
    d = h.inst.backends.daemon
    assert d is not None and d.proc.poll() is None
    end = time.monotonic() + 10
    while not any(e["data"].get("status") == "null" for e in h.events if e["event"] == "JOB_STATUS_CHANGE"):
        assert time.monotonic() < end, h.events
        time.sleep(0.01)
        h.run_timers(0)
    statuses = [e["data"]["status"] for e in h.events if e["event"] == "JOB_STATUS_CHANGE"]
    assert statuses == ["created", "running", "waiting", "pending", "concluded", "null"]
    assert "BLOCK_JOB_COMPLETED" in h.event_names()
    h.inst.terminate("host-qmp-quit")
    assert d.proc.wait(5) == 0
    assert not os.path.exists(d.dir)


def test_a_reply_is_only_ever_its_own_commands():
    """A reply with another id at the head of the daemon's inbox (an outer call's, popped by a
    call nested in an event's emission, or one that arrived after its caller gave up) is kept
    for its id, never returned as this command's answer."""
    import socket
    import threading
    from collections import deque

    from qmpserver.vm.storage_daemon import StorageDaemon

    ours, theirs = socket.socketpair()
    d = object.__new__(StorageDaemon)
    d.sock, d.lock, d.inbox, d.replies = ours, threading.Condition(), deque(), {}
    d.closed, d.ids, d.moved = False, 6, False
    d.inbox.extend([{"return": [], "id": 5}, {"return": {"ok": 1}, "id": 7}])
    assert d.call("query-block-exports", {}) == {"ok": 1}
    assert d.replies == {5: {"return": [], "id": 5}}
    d.ids = 4  # the owner of id 5 asks now: it gets its reply from where it was kept
    assert d.call("query-block-exports", {}) == []
    ours.close()
    theirs.close()
