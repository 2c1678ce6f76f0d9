"""What a libvirt user does to a running domain, with the launcher as ``<emulator>``
(issue 17): each step either works end to end, checked on the files it leaves
(``qemu-img snapshot -l``, the ELF core), or fails with an error that names what is not
modelled, and the domain keeps answering afterwards (nothing wedges).

One domain (Debian 7.2 profile, ``<cpu mode='custom'>max``, a qcow2 disk, a pty serial
console, a virtio balloon with statistics), stepped through in order; every virsh call has a timeout.
"""

from __future__ import annotations

import json
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


def _block_jobs(name, world, disk):
    """External snapshots (blockdev-create jobs, a transaction), blockpull, blockcommit of
    an intermediate and of the active layer, blockcopy, each checked on the chain qemu-img reads; returns what
    virsh printed and the images' ``qemu-img info`` (paths relative to ``world``)."""
    out = [_ok("snapshot-create-as", name, "ext1", "--disk-only", "--atomic")]
    ext1 = _source(name)
    assert ext1 != disk and _chain(ext1) == [ext1, disk]
    _answers(name)
    out.append(_ok("blockpull", name, "vda", "--wait", "--timeout", "30"))
    assert _chain(ext1) == [ext1]
    assert _source(name) == ext1
    out.append(_ok("snapshot-create-as", name, "ext2", "--disk-only", "--atomic"))
    ext2 = _source(name)
    assert _chain(ext2) == [ext2, ext1]
    out.append(_ok("snapshot-create-as", name, "ext3", "--disk-only", "--atomic"))
    ext3 = _source(name)
    # commit of an intermediate layer (block-commit with top-node), then of the active one
    out.append(_ok("blockcommit", name, "vda", "--top", ext2, "--wait", "--timeout", "30"))
    assert _chain(ext3) == [ext3, ext1]
    out.append(_ok("blockcommit", name, "vda", "--active", "--pivot", "--wait", "--timeout", "30"))
    assert _source(name) == ext1
    _answers(name)
    copy = os.path.join(world, "copy.qcow2")
    # libvirt 9.0 refuses a copy of a persistent domain's disk unless the job is transient
    out.append(_fails("blockcopy", name, "vda", copy, "--pivot", "--wait", "--timeout", "30"))
    args = ("blockcopy", name, "vda", copy, "--pivot", "--wait", "--timeout", "30", "--transient-job")
    out.append(_ok(*args))
    assert _source(name) == copy and _chain(copy) == [copy]
    images = {}
    for path in (disk, ext1, ext2, ext3, copy):
        _check(path)
        images[os.path.relpath(path, world)] = _info(path, world)
    return [o.replace(world, "WORLD").replace(name, "DOM") for o in out], images


def _info(path, world):
    p = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", path], capture_output=True, text=True, timeout=30
    )
    info = json.loads(p.stdout.replace(world, "WORLD"))
    info.pop("actual-size", None)  # the host file system's allocation
    return info


def _storage_daemons(name):
    """Children of the domain's emulator process that are qemu-storage-daemons."""
    with open("/run/libvirt/qemu/%s.pid" % name) as f:
        pid = int(f.read())
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(c) for c in f.read().split() if _is_daemon(int(c))]


def _is_daemon(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"qemu-storage-daemon" in f.read()
    except OSError:
        return False


def _source(name):
    """The image libvirt has for vda now."""
    for line in _ok("domblklist", name).splitlines():
        if line.split()[:1] == ["vda"]:
            return line.split()[1]
    raise AssertionError("no vda")


def _chain(path):
    """The backing chain qemu-img reads from ``path`` (the images' own headers)."""
    p = subprocess.run(
        ["qemu-img", "info", "-U", "--backing-chain", "--output=json", path],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    return [i["filename"] for i in json.loads(p.stdout)]


def _check(path):
    p = subprocess.run(["qemu-img", "check", "-U", path], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.fixture
def world():
    d = lt.world_dir("qmps-scn")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("profile", [DEBIAN, "qemu-11.1-tcg"])
def test_lifecycle_scenarios_on_the_launcher(launchers, world, profile):
    if shutil.which("qemu-img") is None:
        if lt.require_peers():
            pytest.fail("qemu-img (qemu-utils) is required")
        pytest.skip("qemu-img is not installed")
    exe = launchers(profile)
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

        _ok("send-key", name, "KEY_A")  # real 7.2: {} (input queued for a guest that does not read it)

        # block jobs, in the instance's qemu-storage-daemon
        _block_jobs(name, world, disk)
        _answers(name)
        assert "vda" in _ok("domblklist", name)
        daemons = _storage_daemons(name)
        assert len(daemons) == 1, daemons  # one per instance

        # save / restore (migration to libvirt's file)
        saved = os.path.join(world, "saved.img")
        if profile == DEBIAN:
            _ok("save", name, saved)
            assert lt.wait_state(name, "shut off") == "shut off"
            _ok("restore", saved)
        else:
            # libvirt 9.0 still sends migrate's 'detach', which QEMU 9.1 removed from the
            # schema: with a real 11.1 libvirt 9.0 cannot save either
            assert "'migrate': Parameter 'detach' is unexpected" in _fails("save", name, saved)
        _answers(name)
        if profile == DEBIAN:
            assert not any(_is_daemon(pid) for pid in daemons), "the storage daemon outlived its instance"

        # the guest's shutdown, then a start and destroy
        _ok("shutdown", name)
        assert lt.wait_state(name, "shut off") == "shut off"
        _ok("start", name)
        _answers(name)
        _ok("destroy", name)
        assert lt.wait_state(name, "shut off") == "shut off"
        assert not any(_is_daemon(pid) for pid in daemons), "the storage daemon outlived its instance"


def test_block_jobs_equal_real_qemu(launchers):
    """The block-job steps on a fresh domain, once with Debian's QEMU 7.2 (TCG) as the
    emulator and once with the launcher: virsh prints the same, the images are the same."""
    if shutil.which("qemu-img") is None or shutil.which("qemu-system-aarch64") is None:
        if lt.require_peers():
            pytest.fail("qemu-img and qemu-system-aarch64 are required")
        pytest.skip("qemu-img or qemu-system-aarch64 is not installed")
    results = []
    for exe in (shutil.which("qemu-system-aarch64"), launchers(DEBIAN)):
        world = lt.world_dir("qmps-bj")
        try:
            name = "qmps-bj-%d" % os.getpid()
            disk = os.path.join(world, "vda.qcow2")
            subprocess.run(
                ["qemu-img", "create", "-f", "qcow2", disk, "64M"], check=True, capture_output=True
            )
            subprocess.run(
                ["qemu-io", "-f", "qcow2", "-c", "write -P 7 1M 64k", disk],
                check=True,
                capture_output=True,
            )
            with lt.defined_domain(name, _DOMAIN % {"name": name, "exe": exe, "disk": disk}):
                _ok("start", name)
                _answers(name)
                results.append(_block_jobs(name, world, disk))
                _ok("destroy", name)
        finally:
            shutil.rmtree(world, ignore_errors=True)
    assert results[1] == results[0]
