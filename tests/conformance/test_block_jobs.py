"""Differential: block jobs on real QEMU 7.2 (``qemu-system-aarch64 -M virt -accel tcg``)
and on the launcher (profile ``debian-7.2-tcg``, its block layer a qemu-storage-daemon).

Each scenario gets the same disks (qcow2 chains made by ``qemu-img``, one directory per
peer) on the same command line (``-blockdev`` nodes, a ``virtio-blk-pci`` on the top),
then the same requests; after a request that starts or moves a job the client waits for
the event that ends that step.  Compared: every reply and event in arrival order
(timestamps and the directory masked), then each image file (``qemu-img info`` and
``qemu-img check``).  Scenarios: block-stream; block-commit of an intermediate layer and
of the active layer (``job-complete`` pivot); blockdev-mirror with ``job-complete``;
``transaction`` of ``blockdev-snapshot-sync`` and ``blockdev-snapshot``; ``blockdev-create``
of a qcow2; job errors (unknown job, a second job on a busy node, verbs a pending job refuses,
a failing ``blockdev-create``); an NBD server and export; ``quit`` with jobs left (QEMU cancels and dismisses them).  Then the cleanup rule: the daemon dies with a SIGKILLed instance.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from qmpserver.commands.snapshot import HELD_BY_DAEMON
from tests.support.peers import need_binary, short_tmpdir

pytestmark = pytest.mark.realqemu

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MACHINE = ["-M", "virt", "-accel", "tcg", "-cpu", "max", "-nodefaults", "-S", "-display", "none"]


class Peer:
    """A QEMU (or the launcher) with the scenario's disks and a connected QMP client."""

    def __init__(self, real, disk_dir, top="top"):
        self.dir = disk_dir
        self.sock_dir = short_tmpdir("bj")
        path = os.path.join(self.sock_dir, "qmp.sock")
        argv = [*MACHINE, *chain_args(disk_dir, top), "-qmp", "unix:%s,server=on,wait=off" % path]
        if real:
            argv, env = [need_binary("qemu-system-aarch64"), *argv], None
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith("QMPSERVER_PROFILE")}
            env["QMPSERVER_PROFILE"] = "debian-7.2-tcg"
            env["PYTHONPATH"] = ROOT
            argv = [sys.executable, "-m", "qmpserver.launcher.main", *argv]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
        deadline = time.time() + 20
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                break
            except OSError:
                s.close()
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("no QMP socket: %s" % self.proc.stderr.read().decode()) from None
                time.sleep(0.01)
        s.settimeout(30)
        self.sock, self.file = s, s.makefile("rb")
        self.file.readline()
        self.log: list = []
        self.cmd("qmp_capabilities")
        self.log = []
        self.pos = 0  # of the first message :meth:`until` has not looked at

    def _read(self):
        line = self.file.readline()
        if not line:
            raise RuntimeError("connection closed")
        m = json.loads(line)
        self.log.append(m)
        return m

    def cmd(self, name, args=None):
        msg = {"execute": name} if args is None else {"execute": name, "arguments": args}
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            m = self._read()
            if "event" not in m:
                return m

    def until(self, event, **data):
        """Read until ``event`` with ``data`` (it may have come already)."""
        while True:
            while self.pos < len(self.log):
                m = self.log[self.pos]
                self.pos += 1
                if m.get("event") == event and all(m.get("data", {}).get(k) == v for k, v in data.items()):
                    return
            try:
                self._read()
            except TimeoutError:
                raise AssertionError("no %s %s; got %s" % (event, data, self.log)) from None

    def transcript(self):
        """(events, replies), each in arrival order.  How a job's asynchronous events
        interleave with the replies is timing: two runs of real QEMU differ (``ready``
        before or after the reply to ``block-commit``), so the two orders are compared apart."""
        text = json.dumps(self.log)
        text = text.replace(self.dir, "DIR")
        log = json.loads(re.sub(r'"timestamp": \{[^}]*\}', '"timestamp": 0', text))
        return [m for m in log if "event" in m], [m for m in log if "event" not in m]

    def close(self):
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(20)
        self.proc.stderr.close()
        shutil.rmtree(self.sock_dir, ignore_errors=True)


def qemu_img(*args):
    p = subprocess.run([need_binary("qemu-img"), *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 or args[0] == "check", p.stderr
    return p


def make_chain(d):
    """base <- mid <- top (64 MiB each), each layer with a cluster of its own written."""
    qemu_img("create", "-f", "qcow2", "%s/base.qcow2" % d, "64M")
    qemu_img("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "%s/mid.qcow2" % d)
    qemu_img("create", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", "%s/top.qcow2" % d)
    for i, layer in enumerate(("base", "mid", "top")):
        io = [
            need_binary("qemu-io"),
            "-f",
            "qcow2",
            "-c",
            "write -P %d %dM 64k" % (i + 1, i),
            "%s/%s.qcow2" % (d, layer),
        ]
        subprocess.run(io, check=True, capture_output=True, timeout=60)


def chain_args(d, top):
    out = []
    below = None
    for layer in ("base", "mid", "top"):
        out += [
            "-blockdev",
            json.dumps(
                {
                    "driver": "file",
                    "filename": "%s/%s.qcow2" % (d, layer),
                    "node-name": layer + "-s",
                    "auto-read-only": True,
                }
            ),
        ]
        fmt = {"driver": "qcow2", "file": layer + "-s", "node-name": layer + "-f", "read-only": layer != top}
        fmt["backing"] = below
        out += ["-blockdev", json.dumps(fmt)]
        below = layer + "-f"
        if layer == top:
            break
    return [*out, "-device", "virtio-blk-pci,drive=%s-f,id=vd0" % top]


def files(d):
    """qemu-img info and check of every image in ``d`` (paths masked)."""
    out = {}
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        info = qemu_img("info", "-U", "--output=json", path).stdout.replace(d, "DIR")
        info = json.loads(info)
        info.pop("actual-size", None)  # the host file system's allocation, not QEMU's doing
        check = qemu_img("check", "-U", path).stdout.replace(d, "DIR") if name.endswith(".qcow2") else ""
        # the order a mirror's parallel requests land in (fragmentation) is timing, in QEMU too
        check = re.sub(r"[0-9.]+% fragmented", "-% fragmented", check)
        out[name] = (info, check)
    return out


# -- scenarios: the same steps for both peers ------------------------------------------------


def stream(p):
    p.cmd("block-stream", {"job-id": "j", "device": "top-f", "auto-dismiss": False})
    p.until("JOB_STATUS_CHANGE", id="j", status="concluded")
    p.cmd("query-jobs")
    p.cmd("job-dismiss", {"id": "j"})
    p.cmd("job-dismiss", {"id": "j"})
    p.cmd("query-block")
    p.cmd("query-named-block-nodes")
    p.cmd("query-blockstats")
    p.cmd("query-blockstats", {"query-nodes": True})
    p.cmd("block_resize", {"node-name": "top-f", "size": 100 << 20})
    p.cmd("block_resize", {"node-name": "top-f", "size": 1000})
    p.cmd("query-block")


def commit_intermediate(p):
    p.cmd(
        "block-commit",
        {
            "job-id": "c",
            "device": "top-f",
            "top-node": "mid-f",
            "base-node": "base-f",
            "auto-finalize": False,
            "auto-dismiss": False,
        },
    )
    p.until("JOB_STATUS_CHANGE", id="c", status="pending")
    p.cmd("query-block-jobs")
    p.cmd("job-finalize", {"id": "c"})
    p.until("JOB_STATUS_CHANGE", id="c", status="concluded")
    p.cmd("job-dismiss", {"id": "c"})
    p.cmd("blockdev-del", {"node-name": "mid-f"})
    p.cmd("query-named-block-nodes")


def commit_active(p):
    p.cmd("block-commit", {"job-id": "a", "device": "top-f", "base-node": "mid-f"})
    p.until("BLOCK_JOB_READY", device="a")
    p.cmd("query-block-jobs")
    p.cmd("job-complete", {"id": "a"})
    p.until("JOB_STATUS_CHANGE", id="a", status="null")
    p.cmd("query-block")


def mirror(p):
    qemu_img("create", "-f", "qcow2", "%s/copy.qcow2" % p.dir, "64M")
    p.cmd("blockdev-add", {"driver": "file", "filename": "%s/copy.qcow2" % p.dir, "node-name": "copy-s"})
    p.cmd("blockdev-add", {"driver": "qcow2", "file": "copy-s", "node-name": "copy-f"})
    p.cmd("blockdev-mirror", {"job-id": "m", "device": "top-f", "target": "copy-f", "sync": "full"})
    p.until("BLOCK_JOB_READY", device="m")
    p.cmd("job-complete", {"id": "m"})
    p.until("JOB_STATUS_CHANGE", id="m", status="null")
    p.cmd("query-block")
    p.cmd("blockdev-del", {"node-name": "top-f"})
    p.cmd("query-named-block-nodes")


def snapshots(p):
    qemu_img("create", "-f", "qcow2", "%s/ov2.qcow2" % p.dir, "64M")
    p.cmd("blockdev-add", {"driver": "file", "filename": "%s/ov2.qcow2" % p.dir, "node-name": "ov2-s"})
    p.cmd("blockdev-add", {"driver": "qcow2", "file": "ov2-s", "node-name": "ov2-f", "backing": None})
    p.cmd(
        "transaction",
        {
            "actions": [
                {
                    "type": "blockdev-snapshot-sync",
                    "data": {
                        "node-name": "top-f",
                        "snapshot-file": "%s/ov1.qcow2" % p.dir,
                        "snapshot-node-name": "ov1-f",
                        "format": "qcow2",
                    },
                },
            ]
        },
    )
    p.cmd(
        "transaction",
        {"actions": [{"type": "blockdev-snapshot", "data": {"node": "ov1-f", "overlay": "ov2-f"}}]},
    )
    p.cmd("blockdev-snapshot", {"node": "ov1-f", "overlay": "ov2-f"})  # ov1-f has an overlay now
    p.cmd("query-block")


def create(p):
    open("%s/new.qcow2" % p.dir, "wb").close()
    p.cmd("blockdev-add", {"driver": "file", "filename": "%s/new.qcow2" % p.dir, "node-name": "new-s"})
    p.cmd(
        "blockdev-create", {"job-id": "k", "options": {"driver": "qcow2", "file": "new-s", "size": 67108864}}
    )
    p.until("JOB_STATUS_CHANGE", id="k", status="concluded")
    p.cmd("query-jobs")
    p.cmd("job-dismiss", {"id": "k"})
    p.cmd("blockdev-add", {"driver": "qcow2", "file": "new-s", "node-name": "new-f"})


def errors(p):
    p.cmd("job-dismiss", {"id": "nope"})
    p.cmd("block-job-cancel", {"device": "nope"})
    p.cmd("block-stream", {"job-id": "a", "device": "top-f", "auto-finalize": False})
    p.until("JOB_STATUS_CHANGE", id="a", status="pending")
    p.cmd("block-stream", {"job-id": "b", "device": "top-f"})
    p.cmd("job-complete", {"id": "a"})
    p.cmd("job-dismiss", {"id": "a"})
    p.cmd("job-finalize", {"id": "a"})
    p.until("JOB_STATUS_CHANGE", id="a", status="null")
    p.cmd("block-stream", {"job-id": "s", "device": "base-f"})
    p.cmd("blockdev-create", {"job-id": "k", "options": {"driver": "qcow2", "file": "nowhere", "size": 1}})
    p.until("JOB_STATUS_CHANGE", id="k", status="concluded")  # dismissed by quit (job_cancel_sync_all)


def nbd_export(p):
    """An NBD server and export (libvirt's storage migration); the device stays off the list."""
    sock = {"type": "unix", "path": "%s/nbd.sock" % p.dir}
    p.cmd("block-export-add", {"type": "nbd", "id": "e", "node-name": "top-f"})
    p.cmd("nbd-server-start", {"addr": {"type": "unix", "data": {"path": sock["path"]}}})
    # read-only: QEMU's virtio-blk does not share "write" (the device exports standing in for
    # it share everything: a writable export is refused by QEMU only, see docs/launcher.md)
    p.cmd("block-export-add", {"type": "nbd", "id": "e", "node-name": "top-f", "writable": False})
    p.cmd("query-block-exports")
    p.cmd("block-export-del", {"id": "e"})
    p.until("BLOCK_EXPORT_DELETED", id="e")
    p.cmd("query-block-exports")
    p.cmd("nbd-server-stop")


def quit_with_jobs(p):
    """``quit`` with a ready mirror and a concluded job: QEMU cancels and dismisses them."""
    qemu_img("create", "-f", "qcow2", "%s/copy.qcow2" % p.dir, "64M")
    p.cmd("blockdev-add", {"driver": "file", "filename": "%s/copy.qcow2" % p.dir, "node-name": "copy-s"})
    p.cmd("blockdev-add", {"driver": "qcow2", "file": "copy-s", "node-name": "copy-f"})
    p.cmd("blockdev-mirror", {"job-id": "m", "device": "top-f", "target": "copy-f", "sync": "full"})
    p.until("BLOCK_JOB_READY", device="m")
    p.cmd("block-stream", {"job-id": "s", "device": "mid-f", "auto-dismiss": False})
    p.until("JOB_STATUS_CHANGE", id="s", status="concluded")


SCENARIOS = {
    "nbd-export": (nbd_export, "top"),
    "quit-with-jobs": (quit_with_jobs, "top"),
    "stream": (stream, "top"),
    "commit-intermediate": (commit_intermediate, "top"),
    "commit-active": (commit_active, "top"),
    "mirror": (mirror, "top"),
    "snapshots": (snapshots, "top"),
    "create": (create, "top"),
    "errors": (errors, "top"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_block_job_scenario_equals_real_qemu(name):
    need_binary("qemu-storage-daemon")
    fn, top = SCENARIOS[name]
    result = {}
    for real in (True, False):
        d = short_tmpdir("bjd")
        try:
            make_chain(d)
            p = Peer(real, d, top)
            try:
                fn(p)
                p.cmd("quit")
                p.proc.wait(20)
                result[real] = (p.transcript(), files(d))
            finally:
                p.close()
        finally:
            shutil.rmtree(d, ignore_errors=True)
    (real_log, real_files), (mock_log, mock_files) = result[True], result[False]
    assert mock_log == real_log
    assert mock_files == real_files


@pytest.mark.timeout(60)
def test_daemon_dies_with_a_killed_instance():
    """SIGKILL of the instance: no qemu-storage-daemon is left behind (PR_SET_PDEATHSIG)."""
    need_binary("qemu-storage-daemon")
    d = short_tmpdir("bjd")
    try:
        make_chain(d)
        p = Peer(False, d)
        try:
            p.cmd("block-stream", {"job-id": "j", "device": "top-f"})
            p.until("JOB_STATUS_CHANGE", id="j", status="null")
            kids = _children(p.proc.pid)
            assert len(kids) == 1 and "qemu-storage-daemon" in _cmdline(kids[0])
            os.kill(p.proc.pid, signal.SIGKILL)
            p.proc.wait(10)
            assert _gone(kids[0]), "qemu-storage-daemon %d outlived its instance" % kids[0]
        finally:
            p.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.timeout(60)
def test_daemon_quits_with_the_instance_and_unlocks_the_images():
    need_binary("qemu-storage-daemon")
    d = short_tmpdir("bjd")
    try:
        make_chain(d)
        p = Peer(False, d)
        try:
            p.cmd("block-stream", {"job-id": "j", "device": "top-f"})
            p.until("JOB_STATUS_CHANGE", id="j", status="null")
            kid = _children(p.proc.pid)[0]
            # qmpserver's own internal snapshots (qemu-img) cannot share the images: refused by name
            r = p.cmd("human-monitor-command", {"command-line": "savevm s1"})
            assert r == {"return": "Error: %s\r\n" % HELD_BY_DAEMON}, r
            # the daemon holds the image as QEMU would: a writer is refused
            busy = subprocess.run(["qemu-img", "check", "%s/top.qcow2" % d], capture_output=True, text=True)
            assert 'Failed to get shared "write" lock' in busy.stderr
            p.cmd("quit")
            p.proc.wait(10)
            assert _gone(kid)
            assert qemu_img("check", "%s/top.qcow2" % d).returncode == 0
        finally:
            p.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(x) for x in f.read().split()]


def _cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().decode(errors="replace")


def _gone(pid, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ")[1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.timeout(60)
def test_no_daemon_until_a_job():
    """Starting with disks and reading their state costs no qemu-storage-daemon."""
    d = short_tmpdir("bjd")
    try:
        make_chain(d)
        p = Peer(False, d)
        try:
            assert p.cmd("query-jobs") == {"return": []}
            assert p.cmd("query-block-jobs") == {"return": []}
            assert p.cmd("query-block")["return"][0]["inserted"]["node-name"] == "top-f"
            assert _children(p.proc.pid) == []
        finally:
            p.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)
