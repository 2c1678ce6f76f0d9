"""Real peers (QEMU, libvirt) for differential tests.

A test that needs a real peer skips when it is absent, unless the
environment variable QMPSERVER_REQUIRE_REAL_PEERS=1 is set (CI), in which
case the absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

REQUIRE = os.environ.get("QMPSERVER_REQUIRE_REAL_PEERS") == "1"


def need_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        msg = "%s is not installed" % name
        if REQUIRE:
            pytest.fail(msg + " (QMPSERVER_REQUIRE_REAL_PEERS=1)")
        pytest.skip(msg)
    return path


def need_kvm() -> None:
    """This machine's /dev/kvm, usable for x86_64 guests (x86_64, readable and writable)."""
    from qmpserver.arch.x86_64 import kvmprobe

    why = kvmprobe.unavailable()
    if why:
        if REQUIRE:
            pytest.fail("KVM is required: %s (QMPSERVER_REQUIRE_REAL_PEERS=1)" % why)
        pytest.skip("no usable KVM: %s" % why)


QEMU10_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".cache", "qemu-10.0"
)


def need_qemu10(target: str) -> str:
    """Debian's QEMU 10.0 (bookworm-backports) ``qemu-system-TARGET``, unpacked beside the
    system's 7.2 by scripts/fetch-qemu-backports.sh (scripts/test.sh runs it)."""
    path = os.path.join(QEMU10_DIR, "bin", "qemu-system-%s" % target)
    if not os.access(path, os.X_OK):
        msg = "QEMU 10.0 is not fetched (bash scripts/fetch-qemu-backports.sh)"
        if REQUIRE:
            pytest.fail(msg + " (QMPSERVER_REQUIRE_REAL_PEERS=1)")
        pytest.skip(msg)
    return path


def short_tmpdir(prefix="qs") -> str:
    """A directory with a short path (unix socket paths are limited to 108 bytes)."""
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


class RealQemu:
    """qemu-system-aarch64 with a QMP unix socket (TCG, -S by default)."""

    def __init__(
        self,
        args=("-S", "-nodefaults", "-machine", "virt", "-cpu", "max", "-accel", "tcg"),
        binary="qemu-system-aarch64",
        command=None,
    ):
        # command: another program with QEMU's command line (the launcher), run the same way
        self.command = list(command) if command else [need_binary(binary)]
        self.binary = self.command[0]
        self.dir = short_tmpdir("rq")
        self.path = os.path.join(self.dir, "qmp.sock")
        self.args = list(args)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [*self.command, *self.args, "-display", "none", "-qmp", "unix:%s,server=on,wait=off" % self.path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.exists(self.path):
                try:
                    probe = socket.socket(socket.AF_UNIX)
                    probe.connect(self.path)
                    probe.close()
                    return self
                except OSError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError("QEMU exited: %s" % self.proc.stderr.read().decode())
            time.sleep(0.005)
        raise RuntimeError("QEMU socket never appeared")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_socket(path, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("no socket at %s" % path)
