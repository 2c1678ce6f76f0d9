"""What a libvirt user does to a running domain, with the launcher as ``<emulator>``
(issue 17): each step either works end to end, checked on the files it leaves
(``qemu-img snapshot -l``, the ELF core), or fails with an error that names what is not
modelled, and the domain keeps answering afterwards (nothing wedges).

One domain (Debian 7.2 profile, ``<cpu mode='custom'>max``, a qcow2 disk, a pty serial
console, a virtio balloon with statistics), stepped through in order; every virsh call has a timeout.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time

import libvirt_testutil as lt
import pytest

pytestmark = [pytest.mark.libvirt, pytest.mark.timeout(300)]

DEBIAN = "debian-7.2-tcg"
STEP = 60  # seconds any one virsh call may take

_DOMAIN = """<domain type='qemu'>
  <name>%(name)s</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='aarch64' machine='virt'>hvm</type></os>
  <cpu mode='custom' match='exact'><model fallback='forbid'>max</model></cpu>
  <devices>
    <emulator>%(exe)s</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='virtio'><stats period='5'/></memballoon>
  </devices>
</domain>
"""


def _ok(*args):
    p = lt.virsh(*args, timeout=STEP)
    assert p.returncode == 0, "virsh %s: %s%s" % (" ".join(args), p.stdout, p.stderr)
    return p.stdout


def _fails(*args):
    p = lt.virsh(*args, timeout=STEP)
    assert p.returncode != 0, "virsh %s succeeded: %s" % (" ".join(args), p.stdout)
    return p.stderr


def _answers(name, state="running"):
    """The domain is not wedged: a monitor command goes through and the state is as expected."""
    r = lt.monitor_command(name, {"execute": "query-status"})
    assert "return" in r, r
    assert lt.wait_state(name, state) == state


def _qemu_img_snapshots(path):
    p = subprocess.run(["qemu-img", "snapshot", "-U", "-l", path], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return [line.split()[1] for line in p.stdout.splitlines()[2:]]


@pytest.fixture
def world():
    d = lt.world_dir("qmps-scn")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_lifecycle_scenarios_on_the_launcher(launchers, world):
    if shutil.which("qemu-img") is None:
        if lt.require_peers():
            pytest.fail("qemu-img (qemu-utils) is required")
        pytest.skip("qemu-img is not installed")
    exe = launchers(DEBIAN)
    name = "qmps-scn-%d" % os.getpid()
    disk = os.path.join(world, "vda.qcow2")
    subprocess.run(["qemu-img", "create", "-f", "qcow2", disk, "64M"], check=True, capture_output=True)
    rng = os.path.join(world, "rng.xml")
    with open(rng, "w") as f:
        f.write("<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n")
    xml = _DOMAIN % {"name": name, "exe": exe, "disk": disk}
    with lt.defined_domain(name, xml):
        # start with a pty serial console (virt-install --graphics none's default)
        _ok("start", name)
        _answers(name)
        tty = _ok("ttyconsole", name).strip()
        assert tty.startswith("/dev/pts/")
        log = open("/var/log/libvirt/qemu/%s.log" % name, encoding="utf-8", errors="replace").read()
        assert "char device redirected to %s (label charserial0)" % tty in log
        fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
        try:
            assert os.isatty(fd)
        finally:
            os.close(fd)

        # suspend / resume
        _ok("suspend", name)
        _answers(name, "paused")
        _ok("resume", name)
        _answers(name)

        # memory statistics: the balloon's guest-stats (QOM, polling interval set by libvirt);
        # a guest without a balloon driver reports nothing: as real 7.2, actual,
        # last_update 0, rss
        stats = _ok("dommemstat", name).split("\n")
        assert stats[:2] == ["actual 131072", "last_update 0"] and stats[2].startswith("rss ")

        # internal snapshots: stored in the qcow2 (HMP savevm/loadvm/delvm)
        _ok("snapshot-create-as", name, "s1")
        assert _qemu_img_snapshots(disk) == ["s1"]
        assert "s1" in _ok("snapshot-list", name, "--name")
        _ok("snapshot-create-as", name, "s2")
        _ok("snapshot-revert", name, "s1")
        _answers(name)
        _ok("snapshot-delete", name, "s2")
        assert _qemu_img_snapshots(disk) == ["s1"]
        # revert of a stopped domain: libvirt starts the emulator with -loadvm s1
        _ok("destroy", name)
        _ok("snapshot-revert", name, "s1")
        _answers(name)
        _ok("snapshot-delete", name, "s1")
        assert _qemu_img_snapshots(disk) == []

        # dump --memory-only: an ELF64 aarch64 core with the 128 MiB of RAM
        core = os.path.join(world, "core")
        _ok("dump", name, core, "--memory-only")
        with open(core, "rb") as f:
            head = f.read(64)
        assert head[:5] == b"\x7fELF\x02"
        assert struct.unpack_from("<HH", head, 16) == (4, 183)
        assert os.path.getsize(core) > 128 << 20
        _answers(name)

        # block statistics and resize: the image really grows
        assert "Capacity:       67108864" in _ok("domblkinfo", name, "vda")
        assert "vda rd_req 0" in _ok("domblkstat", name, "vda")
        _ok("blockresize", name, "vda", "100M")
        assert "Capacity:       104857600" in _ok("domblkinfo", name, "vda")
        info = subprocess.run(
            ["qemu-img", "info", "-U", disk], capture_output=True, text=True, timeout=30
        ).stdout
        assert "virtual size: 100 MiB (104857600 bytes)" in info

        # hotplug
        _ok("attach-device", name, rng, "--live")
        assert "<rng model='virtio'>" in _ok("dumpxml", name)
        _ok("detach-device", name, rng, "--live")
        end = time.monotonic() + 10
        while "<rng" in _ok("dumpxml", name) and time.monotonic() < end:
            time.sleep(0.1)
        assert "<rng" not in _ok("dumpxml", name)

        # not modelled: an error naming the command, never a false success; no wedge
        _ok("send-key", name, "KEY_A")  # real 7.2: {} (input queued for a guest that does not read it)
        err = _fails("blockpull", name, "vda", "--wait", "--timeout", "20")
        assert "qmpserver: command 'block-stream' is not modelled" in err
        _answers(name)
        assert "vda" in _ok("domblklist", name)

        # save / restore (migration to libvirt's file)
        saved = os.path.join(world, "saved.img")
        _ok("save", name, saved)
        assert lt.wait_state(name, "shut off") == "shut off"
        _ok("restore", saved)
        _answers(name)

        # the guest's shutdown, then a start and destroy
        _ok("shutdown", name)
        assert lt.wait_state(name, "shut off") == "shut off"
        _ok("start", name)
        _answers(name)
        _ok("destroy", name)
        assert lt.wait_state(name, "shut off") == "shut off"
