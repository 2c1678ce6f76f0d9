"""``-sandbox on,spawn=deny`` (libvirt's default): forking a helper kills QEMU with SIGSYS, no
reply and nothing on stderr.  Each case runs the launcher and, when installed, Debian's
``qemu-system-aarch64`` 7.2 (measured: the same signal for all three)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import launcher_testutil as lu  # noqa: E402

from tests.support.peers import need_binary  # noqa: E402

SANDBOX = ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
ARGS = ["-M", "virt", "-accel", "tcg", "-display", "none", "-nodefaults", "-S"] + SANDBOX


def _real(args):
    return [need_binary("qemu-system-aarch64")] + args


def _launcher(args):
    return lu.LAUNCHER + ["--profile", lu.PROFILE] + args


@pytest.fixture
def tmpd():
    d = lu.short_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("which", [_launcher, _real], ids=["launcher", "real"])
@pytest.mark.parametrize(
    "extra",
    [["-daemonize", "-pidfile", "{d}/pid"], ["-incoming", "exec:cat /dev/null"]],
    ids=["daemonize", "incoming-exec"],
)
def test_spawning_at_start_up_dies_by_sigsys(which, extra, tmpd):
    argv = which(ARGS + [a.format(d=tmpd) for a in extra])
    p = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env=lu.env(), stdin=subprocess.DEVNULL
    )
    assert (p.returncode, p.stderr) == (-signal.SIGSYS, "")


@pytest.mark.parametrize("which", [_launcher, _real], ids=["launcher", "real"])
def test_migrate_to_exec_dies_by_sigsys_without_a_reply(which, tmpd):
    sock = os.path.join(tmpd, "m.sock")
    p = subprocess.Popen(
        which(ARGS + ["-qmp", "unix:%s,server=on,wait=off" % sock]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=lu.env(),
    )
    try:
        assert lu.wait_for(lambda: os.path.exists(sock))
        q = lu.QMP(sock)
        assert q.cmd("qmp_capabilities") == {"return": {}}
        q.send({"execute": "migrate", "arguments": {"uri": "exec:cat > /dev/null"}})
        try:
            reply = q.recv()
        except ConnectionResetError:
            reply = None
        assert reply is None
        assert p.wait(timeout=30) == -signal.SIGSYS
        assert p.stderr.read() == b""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_without_spawn_deny_the_launcher_daemonizes(tmpd):
    p = lu.run(
        ["-M", "virt", "-display", "none", "-S", "-sandbox", "on", "-daemonize", "-pidfile", tmpd + "/pid"]
    )
    assert p.returncode == 0
    pid = int(open(tmpd + "/pid").read())
    os.kill(pid, signal.SIGKILL)
