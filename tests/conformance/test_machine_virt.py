"""Differential tests of the virt machine against Debian's qemu-system-aarch64 7.2
(TCG): the same command line to the real binary and to qmpserver's QEMU-style
launcher on the profile captured from it (debian-7.2-tcg).

* start-up: exit status and stderr for MTE (``mte=on`` with ``-cpu max`` and
  ``-cpu cortex-a57``), ``mte-version`` (unknown on 7.2), ``gic-version``
  values, bad property values and unknown properties;
* running machines: ``qom-get`` of every ``/machine`` property, and the machine
  commands (query-gic-capabilities, query-cpus-fast minus the thread id,
  query-hotpluggable-cpus, query-current-machine, query-memory-size-summary,
  query-migrate, query-command-line-options, qom-list-properties).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from tests.support.client import RawClient
from tests.support.peers import need_binary, short_tmpdir

PROFILE = "debian-7.2-tcg"
BASE = ["-S", "-nodefaults", "-display", "none", "-accel", "tcg"]


class Started:
    """A launched process: either it exited (rc, stderr) or its QMP socket is up."""

    def __init__(self, argv, env=None):
        self.dir = short_tmpdir("mv")
        self.path = os.path.join(self.dir, "qmp.sock")
        self.proc = subprocess.Popen(
            argv + ["-qmp", "unix:%s,server=on,wait=off" % self.path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.client = None
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.path):
                try:
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(self.path)
                except OSError:
                    time.sleep(0.005)
                    continue
                client = RawClient(s, timeout=10)
                # QEMU listens before machine init: a refused machine exits right after, and
                # may do so between its greeting and our first command (EPIPE, ECONNRESET)
                try:
                    ok = (
                        client.read() is not None
                        and client.cmd("qmp_capabilities") == {"return": {}}
                        and client.cmd("query-status") is not None
                    )
                except OSError:
                    ok = False
                if ok:
                    self.client = client
                else:
                    client.close()
                    self.proc.wait(20)
                break
            time.sleep(0.005)
        else:
            self.close()
            raise RuntimeError("neither exited nor listening: %r" % argv)

    @property
    def running(self):
        return self.client is not None

    def result(self):
        """(exit status, stderr) of a process that refused to start."""
        rc = self.proc.wait(20)
        return rc, self.proc.stderr.read().decode()

    def close(self):
        if self.client is not None:
            try:
                self.client.send(b'{"execute":"quit"}')
                self.client.read_quiet(0.2, 2)
            except OSError:
                pass
            self.client.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(20)
        shutil.rmtree(self.dir, ignore_errors=True)


def real(args, base=BASE):
    return Started([need_binary("qemu-system-aarch64"), *base, *args])


def mock(args, profile=PROFILE, base=BASE):
    env = dict(os.environ, QMPSERVER_PROFILE=profile)
    return Started([sys.executable, "-m", "qmpserver.launcher.main", *base, *args], env=env)


STARTUP = [
    ["-machine", "virt,mte=on", "-cpu", "max"],
    ["-machine", "virt,mte=on", "-cpu", "cortex-a57"],
    ["-machine", "virt,mte=off", "-cpu", "cortex-a57"],
    ["-machine", "virt,mte=yes", "-cpu", "cortex-a57"],
    ["-machine", "virt,mte=maybe", "-cpu", "max"],
    ["-machine", "virt,mte=on,mte=off", "-cpu", "cortex-a57"],
    ["-machine", "virt,mte-version=3", "-cpu", "max"],
    ["-machine", "virt,mte-version=none", "-cpu", "max"],
    ["-machine", "virt,mte=on,mte-version=max", "-cpu", "max"],
    ["-machine", "virt-7.1,mte=on", "-cpu", "max"],
    ["-machine", "virt,secure=on,mte=on", "-cpu", "cortex-a57"],
    ["-machine", "virt,foo=bar"],
    ["-machine", "virt,bar=1,foo=2"],
    ["-machine", "virt,gic-version=2"],
    ["-machine", "virt,gic-version=3"],
    ["-machine", "virt,gic-version=4"],
    ["-machine", "virt,gic-version=4,virtualization=on"],
    ["-machine", "virt,gic-version=host"],
    ["-machine", "virt,gic-version=max"],
    ["-machine", "virt,gic-version=max,virtualization=on"],
    ["-machine", "virt,gic-version=bogus"],
    ["-machine", "virt,gic-version=5"],
    ["-machine", "virt,gic-version=x-5"],
    ["-machine", "virt,highmem=x,gic-version=y"],
    ["-machine", "virt,gic-version=host,mte=on", "-cpu", "cortex-a57"],
    ["-machine", "virt,gic-version=3,mte=on", "-cpu", "cortex-a57"],
    ["-machine", "virt", "-smp", "9"],
    ["-machine", "virt,gic-version=2", "-smp", "9"],
    ["-machine", "virt,gic-version=3", "-smp", "9"],
    ["-machine", "virt,acpi=maybe"],
    ["-machine", "virt,acpi=off"],
    ["-machine", "virt,phandle-start=abc"],
    ["-machine", "virt,iommu=foo"],
    ["-machine", "virt,iommu=smmuv3"],
    ["-machine", "virt,highmem=2"],
    ["-machine", "virt,nvdimm-persistence=xx"],
    ["-machine", "virt,dtb-kaslr-seed=on"],
    ["-machine", "virt,dump_guest_core=off"],
    ["-machine", "virt,kernel-irqchip=on"],
    ["-machine", "none,mte=on"],
    ["-machine", "virt", "-nographic"],
    ["-machine", "virt,mte=on", "-cpu", "cortex-m4"],
    ["-machine", "virt,gic-version=host", "-cpu", "cortex-m4"],
    ["-machine", "virt,mte=on", "-cpu", "host"],
    ["-machine", "virt,mte=on", "-cpu", "a64fx"],
    ["-machine", "virt,mte=on", "-cpu", "cortex-a15"],
]


def _ids(cases):
    return [" ".join(c).replace("-machine ", "") for c in cases]


@pytest.mark.realqemu
@pytest.mark.parametrize("args", STARTUP, ids=_ids(STARTUP))
def test_startup(args):
    r, m = real(args), mock(args)
    try:
        assert m.running == r.running, r.result() if not r.running else m.result()
        if not r.running:
            assert m.result() == r.result()
            return
        # a running machine answers qom-get like the real one, for every property
        props = r.client.cmd("qom-list", {"path": "/machine"})["return"]
        for p in props:
            a = {"path": "/machine", "property": p["name"]}
            want = r.client.cmd("qom-get", a)
            if p["type"].startswith("child<"):
                continue  # the objects behind them belong to other topics
            assert m.client.cmd("qom-get", a) == want, p
        assert sorted(x["name"] for x in m.client.cmd("qom-list", {"path": "/machine"})["return"]) == sorted(
            x["name"] for x in props
        )
    finally:
        r.close()
        m.close()


MACHINE_COMMANDS = [
    ("query-gic-capabilities", None),
    ("query-hotpluggable-cpus", None),
    ("query-current-machine", None),
    ("query-memory-size-summary", None),
    ("query-migrate", None),
    ("query-migrate-capabilities", None),
    ("query-migrate-parameters", None),
    ("query-command-line-options", {"option": "machine"}),
    ("query-command-line-options", {"option": "nope"}),
    ("qom-list-properties", {"typename": "virt-7.2-machine"}),
    ("query-mte-capabilities", None),
    ("qom-get", {"path": "/machine", "property": "mte-version"}),
]


@pytest.mark.realqemu
@pytest.mark.parametrize("machine", ["virt", "virt,gic-version=3,mte=on", "virt-6.2,gic-version=max"])
def test_machine_commands(machine):
    args = ["-machine", machine, "-cpu", "max", "-smp", "2"]
    r, m = real(args), mock(args)
    try:
        for name, a in MACHINE_COMMANDS:
            assert m.client.cmd(name, a) == r.client.cmd(name, a), name
        # query-cpus-fast: everything but the host thread ids
        want, got = (c.client.cmd("query-cpus-fast")["return"] for c in (r, m))
        strip = lambda lst: [{k: v for k, v in e.items() if k != "thread-id"} for e in lst]  # noqa: E731
        assert strip(got) == strip(want)
    finally:
        r.close()
        m.close()


@pytest.mark.realqemu
def test_qom_set_machine_properties():
    args = ["-machine", "virt", "-cpu", "max"]
    r, m = real(args), mock(args)
    sets = [
        ("mte", "yes"),
        ("mte", True),
        ("gic-version", "host"),
        ("gic-version", "7"),
        ("gic-version", 3),
        ("phandle-start", "x"),
        ("acpi", "maybe"),
        ("acpi", "on"),
        ("iommu", "bad"),
        ("nosuch", 1),
    ]
    try:
        for prop, value in sets:
            a = {"path": "/machine", "property": prop, "value": value}
            assert m.client.cmd("qom-set", a) == r.client.cmd("qom-set", a), (prop, value)
            g = {"path": "/machine", "property": prop}
            assert m.client.cmd("qom-get", g) == r.client.cmd("qom-get", g), (prop, value)
    finally:
        r.close()
        m.close()
