"""Real libvirt 9.0 on the QEMU 10.0 x86_64 build (issue 11): Debian's qemu-system-x86_64 10.0
from bookworm-backports (``tests.support.peers.need_qemu10``) against the launcher on the profile
captured from it (``qemu-10.0-debian-x86_64``), and host-model on the 10.0 host variants.

* ``virsh domcapabilities --emulatorbin X --virttype kvm|qemu`` (libvirt's own probe,
  ``-machine none,accel=kvm:tcg`` and the TCG pass) gives the same XML for the launcher as for
  the real binary, ``<path>`` aside, and libvirt's probe conversation (its ``qemu.qemu_monitor``
  debug log) is the same, question for question and answer for answer.
* ``x86-sapphire-rapids-6.1-qemu-10.0`` / ``x86-epyc-genoa-6.12-qemu-10.0``: the launcher offers
  10.0's ``SapphireRapids`` / ``EPYC-Genoa`` in ``query-cpu-definitions``, but libvirt 9.0's
  cpu_map (``/usr/share/libvirt/cpu_map/x86_*.xml``) has neither model, so its host-model stays
  what it is on 7.2: ``Icelake-Server`` (TSX and MPX disabled) and ``EPYC-Milan``.

Skipped without libvirt or the 10.0 binary, unless QMPSERVER_REQUIRE_REAL_PEERS=1.
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET

import libvirt_testutil as lt
import pytest

from tests.support.peers import need_qemu10

pytestmark = [pytest.mark.libvirt, pytest.mark.timeout(600)]

PROFILE = os.path.join(lt.ROOT, "models", "profiles", "qemu-10.0-debian-x86_64.yaml")


@pytest.fixture(scope="module")
def qemu10(libvirt):
    """(launcher, real binary), both installed."""
    real = need_qemu10("x86_64")
    d = lt.world_dir("qmps-x86q10-")
    try:
        yield lt.install_launcher(PROFILE, d, name="qemu-system-x86_64"), real
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _domcaps(exe, virttype):
    """The brief's command: no --arch/--machine, libvirt's defaults."""
    p = lt.virsh("domcapabilities", "--emulatorbin", exe, "--virttype", virttype)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize("virttype", ["kvm", "qemu"])
def test_domcapabilities_equal_to_the_real_binary(qemu10, virttype):
    exe, real = qemu10
    want = _domcaps(real, virttype)
    got = _domcaps(exe, virttype)
    assert "<machine>pc-i440fx-10.0</machine>" in want
    assert got.replace("<path>%s</path>" % exe, "<path>%s</path>" % real) == want


def _probe(exe):
    lt.invalidate_caps(exe)  # a new ctime: libvirt re-probes
    with lt.exclusive(), lt.monitor_log(exe) as pairs:
        _domcaps(exe, "kvm")
        got = pairs()
    return [(c, r) for _mon, c, r in got]


def test_probe_conversation_equals_real_qemu(qemu10):
    exe, real = qemu10
    mock = _probe(exe)
    want = _probe(real)
    assert any(c.get("execute") == "query-qmp-schema" for c, _ in want), "no conversation logged"
    assert [c for c, _ in mock] == [c for c, _ in want]
    diff = [(c, r, m) for (c, r), (_, m) in zip(want, mock) if r != m]
    assert diff == []


# (profile, vendor, libvirt 9.0's host-model, the newer model the launcher offers)
HOSTS = [
    ("x86-sapphire-rapids-6.1-qemu-10.0", "Intel", "Icelake-Server", "SapphireRapids"),
    ("x86-epyc-genoa-6.12-qemu-10.0", "AMD", "EPYC-Milan", "EPYC-Genoa"),
]


@pytest.mark.parametrize("profile,vendor,expected,newer", HOSTS, ids=[h[0] for h in HOSTS])
def test_host_model_on_the_10_0_variants(libvirt, profile, vendor, expected, newer):
    d = lt.world_dir("qmps-x86h10-")
    try:
        exe = lt.install_launcher(
            os.path.join(lt.ROOT, "models", "profiles", profile + ".yaml"), d, name="qemu-system-x86_64"
        )
        lt.invalidate_caps(exe)
        with lt.exclusive(), lt.monitor_log(exe) as pairs:
            p = lt.domcaps(exe, virttype="kvm", arch="x86_64", machine="pc")
            conversation = pairs()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert p.returncode == 0, p.stderr
    root = ET.fromstring(p.stdout)
    assert root.findtext("machine") == "pc-i440fx-10.0"
    defs = [
        reply["return"]
        for _mon, cmd, reply in conversation
        if cmd.get("execute") == "query-cpu-definitions" and "return" in reply
    ]
    assert defs and all(any(d["name"] == newer for d in ds) for ds in defs)
    mode = root.find("cpu/mode[@name='host-model']")
    assert mode is not None and mode.get("supported") == "yes"
    assert mode.findtext("vendor") == vendor
    assert mode.findtext("model") == expected
    custom = [m.text for m in root.findall("cpu/mode[@name='custom']/model")]
    # libvirt 9.0 lists only the models its cpu_map knows
    assert newer not in custom and expected in custom
    assert not os.path.exists("/usr/share/libvirt/cpu_map/x86_%s.xml" % newer)
