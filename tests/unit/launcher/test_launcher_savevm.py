"""HMP savevm/loadvm/delvm store real internal snapshots in the qcow2 image (checked with
``qemu-img snapshot -l``), with QEMU 7.2's texts and run-state changes (read from Debian's
QEMU 7.2 with the same command lines; see ``qmpserver/commands/snapshot.py``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import launcher_testutil as lu  # noqa: E402

from tests.support.peers import need_binary  # noqa: E402

ARGS = ["-M", "virt", "-display", "none", "-nodefaults"]


@pytest.fixture
def tmpd():
    d = lu.short_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _disk_args(path, driver="qcow2", n=1):
    return [
        "-blockdev",
        json.dumps({"driver": "file", "filename": path, "node-name": "libvirt-%d-storage" % n}),
        "-blockdev",
        json.dumps(
            {
                "node-name": "libvirt-%d-format" % n,
                "read-only": False,
                "driver": driver,
                "file": "libvirt-%d-storage" % n,
            }
        ),
        "-device",
        "virtio-blk-pci,drive=libvirt-%d-format,id=virtio-disk%d" % (n, n),
    ]


def _hmp(q, line):
    return q.cmd("human-monitor-command", {"command-line": line})["return"]


def _snapshots(path):
    out = subprocess.run(
        ["qemu-img", "snapshot", "-U", "-l", path], capture_output=True, text=True, check=True
    )
    return [line.split()[1] for line in out.stdout.splitlines()[2:]]


def _start(tmpd, extra):
    sock = os.path.join(tmpd, "m.sock")
    p = lu.spawn(ARGS + extra + ["-qmp", "unix:%s,server=on,wait=off" % sock])
    assert lu.wait_for(lambda: os.path.exists(sock))
    q = lu.QMP(sock)
    q.cmd("qmp_capabilities")
    return p, q


def test_savevm_loadvm_delvm_on_a_qcow2_disk(tmpd):
    qemu_img = need_binary("qemu-img")
    img = os.path.join(tmpd, "d.qcow2")
    subprocess.run([qemu_img, "create", "-f", "qcow2", img, "64M"], check=True, capture_output=True)
    p, q = _start(tmpd, _disk_args(img))
    try:
        assert _hmp(q, 'savevm "s1"') == ""
        assert q.event("STOP") is not None and q.event("RESUME") is not None
        assert _snapshots(img) == ["s1"]
        info = _hmp(q, "info snapshots").split("\r\n")
        assert info[0] == "List of snapshots present on all disks:"
        assert info[1] == "ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT"
        assert info[2].startswith("--        s1               ") and info[2].endswith(" " * 11)
        assert _hmp(q, "savevm s1") == ""  # replaces the snapshot of that name
        assert _snapshots(img) == ["s1"]
        # loadvm stops first and stays stopped when it fails (QEMU 7.2 hmp_loadvm)
        assert (
            _hmp(q, "loadvm nosuch") == "Error: Snapshot 'nosuch' does not exist in one or more devices\r\n"
        )
        assert q.cmd("query-status")["return"]["status"] == "restore-vm"
        assert _hmp(q, "loadvm s1") == ""
        assert q.cmd("query-status")["return"]["status"] == "restore-vm"
        assert q.cmd("cont") == {"return": {}}
        subprocess.run([qemu_img, "snapshot", "-c", "disk1", img], check=True, capture_output=True)
        assert _hmp(q, "loadvm disk1") == (
            "Error: This is a disk-only snapshot. Revert to it  offline using qemu-img\r\n"
        )
        assert _hmp(q, "delvm nosuch") == ""
        assert _hmp(q, "delvm s1") == ""
        assert _snapshots(img) == ["disk1"]
        assert _hmp(q, "loadvm") == 'loadvm: string expected\r\nTry "help loadvm" for more information\r\n'
        assert _hmp(q, "savevm a b") == (
            'savevm: extraneous characters at the end of line\r\nTry "help savevm" for more information\r\n'
        )
        check = subprocess.run([qemu_img, "check", "-U", img], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        p.kill()
        p.wait()


def test_savevm_refusals(tmpd):
    qemu_img = need_binary("qemu-img")
    p, q = _start(tmpd, [])
    try:
        assert _hmp(q, "savevm") == "Error: no block device can store vmstate for snapshot\r\n"
    finally:
        p.kill()
        p.wait()
    img, raw = os.path.join(tmpd, "d.qcow2"), os.path.join(tmpd, "r.img")
    subprocess.run([qemu_img, "create", "-f", "qcow2", img, "64M"], check=True, capture_output=True)
    subprocess.run([qemu_img, "create", "-f", "raw", raw, "16M"], check=True, capture_output=True)
    p, q = _start(tmpd, _disk_args(img) + _disk_args(raw, "raw", 2))
    try:
        assert (
            _hmp(q, "savevm x")
            == "Error: Device 'libvirt-2-format' is writable but does not support snapshots\r\n"
        )
        assert _snapshots(img) == []
    finally:
        p.kill()
        p.wait()


def test_loadvm_option_checks_the_snapshot(tmpd):
    """``-loadvm NAME`` (libvirt's revert of a stopped domain): QEMU 7.2's checks, exit 1."""
    qemu_img = need_binary("qemu-img")
    p = lu.run(ARGS + ["-loadvm", "nosuch"])
    assert (p.returncode, p.stderr) == (
        1,
        "qemu-system-aarch64: no block device can store vmstate for snapshot\n",
    )
    img = os.path.join(tmpd, "d.qcow2")
    subprocess.run([qemu_img, "create", "-f", "qcow2", img, "64M"], check=True, capture_output=True)
    p = lu.run(ARGS + _disk_args(img) + ["-loadvm", "nosuch"])
    assert (p.returncode, p.stderr) == (
        1,
        "qemu-system-aarch64: Snapshot 'nosuch' does not exist in one or more devices\n",
    )
    subprocess.run([qemu_img, "snapshot", "-c", "disk1", img], check=True, capture_output=True)
    p = lu.run(ARGS + _disk_args(img) + ["-loadvm", "disk1"])
    assert p.returncode == 1
    assert (
        p.stderr
        == "qemu-system-aarch64: This is a disk-only snapshot. Revert to it  offline using qemu-img\n"
    )
