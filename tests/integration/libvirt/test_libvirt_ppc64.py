"""Real libvirtd probing the launcher on the captured qemu-system-ppc64 7.2 profile (issue 12).

``virsh domcapabilities --arch ppc64 --machine pseries --virttype qemu`` through the launcher
gives the XML libvirt gives for Debian's own binary (``<path>`` aside), and libvirt's probe
conversation (its ``qemu.qemu_monitor`` debug log) is the same one, question for question and
answer for answer.  Skipped without libvirt or qemu-system-ppc64, unless
QMPSERVER_REQUIRE_REAL_PEERS=1.
"""

from __future__ import annotations

import os
import shutil

import libvirt_testutil as lt
import pytest

from tests.support.oracle_env import require_recorded_packages

pytestmark = [pytest.mark.libvirt, pytest.mark.timeout(600)]

REAL = "/usr/bin/qemu-system-ppc64"
BUILD = os.path.join(lt.ROOT, "models", "builds", "qemu-7.2-debian-ppc64")
PROFILE = os.path.join(lt.ROOT, "models", "profiles", "qemu-7.2-debian-ppc64.yaml")


@pytest.fixture(scope="module")
def ppc64(libvirt):
    """(launcher, real binary), both installed."""
    if not os.access(REAL, os.X_OK):
        if lt.require_peers():
            pytest.fail("%s is required" % REAL)
        pytest.skip("Debian's qemu-system-ppc64 is not installed")
    from pathlib import Path

    require_recorded_packages(Path(BUILD), what="models/builds/qemu-7.2-debian-ppc64")
    d = lt.world_dir("qmps-ppc64-")
    try:
        yield lt.install_launcher(PROFILE, d, name="qemu-system-ppc64"), REAL
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _domcaps(exe):
    p = lt.domcaps(exe, arch="ppc64", machine="pseries")
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_domcapabilities_equal_to_the_real_binary(ppc64):
    exe, real = ppc64
    want = _domcaps(real)
    got = _domcaps(exe)
    assert "<arch>ppc64</arch>" in want and "POWER9" in want
    assert got.replace("<path>%s</path>" % exe, "<path>%s</path>" % real) == want


def _probe(exe):
    lt.invalidate_caps(exe)  # a new ctime: libvirt re-probes
    with lt.exclusive(), lt.monitor_log(exe) as pairs:
        _domcaps(exe)
        got = pairs()
    return [(c, r) for _mon, c, r in got]


def test_probe_conversation_equals_real_qemu(ppc64):
    exe, real = ppc64
    mock = _probe(exe)
    want = _probe(real)
    assert any(c.get("execute") == "query-qmp-schema" for c, _ in want), "no conversation logged"
    assert [c for c, _ in mock] == [c for c, _ in want]
    assert [r for _, r in mock] == [r for _, r in want]


# ---- QEMU 10.0 (bookworm-backports): the launcher on its capture against the real binary -------

PROFILE_10 = os.path.join(lt.ROOT, "models", "profiles", "qemu-10.0-debian-ppc64.yaml")


def test_domcapabilities_10_equal_to_the_real_binary(libvirt):
    """The same for Debian's real QEMU 10.0 (.cache/qemu-10.0) and the launcher on
    ``qemu-10.0-debian-ppc64``: identical XML but for ``<path>``."""
    from tests.support.peers import need_qemu10

    real = need_qemu10("ppc64")
    d = lt.world_dir("qmps-ppc10-")
    try:
        exe = lt.install_launcher(PROFILE_10, d, name="qemu-system-ppc64")
        want = _domcaps(real)
        got = _domcaps(exe)
        assert "<machine>pseries-10.0</machine>" in want
        assert got.replace("<path>%s</path>" % exe, "<path>%s</path>" % real) == want
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- every built-in ppc64 profile -------------------------------------------------------------


def _ppc64_profiles():
    from qmpserver.profiles.loader import load_profile

    out = []
    folder = os.path.join(lt.ROOT, "models", "profiles")
    for name in sorted(os.listdir(folder)):
        p = load_profile(os.path.join(folder, name))
        if p.build.target == "ppc64":
            out.append((name[: -len(".yaml")], p.host.kvm_present))
    return out


PPC64_PROFILES = _ppc64_profiles()


@pytest.mark.parametrize("name,kvm", PPC64_PROFILES, ids=[n for n, _ in PPC64_PROFILES])
def test_domcapabilities_on_every_ppc64_profile(libvirt, name, kvm):
    """libvirt 9.0 probes the launcher of every ppc64 profile and answers ``domcapabilities``
    for ``--virttype qemu`` and, on the POWER hosts with KVM, ``--virttype kvm``.  libvirt runs
    on this x86_64 machine: what it reads from the machine itself (its CPU for host-passthrough
    and host-model, /dev/kvm's vCPU limit) is this machine's, not the POWER host's."""
    d = lt.world_dir("qmps-ppcp-")
    try:
        exe = lt.install_launcher(
            os.path.join(lt.ROOT, "models", "profiles", name + ".yaml"), d, name="qemu-system-ppc64"
        )
        for virttype in ("qemu", "kvm") if kvm else ("qemu",):
            p = lt.domcaps(exe, virttype=virttype, arch="ppc64", machine="pseries")
            assert p.returncode == 0, (virttype, p.stderr)
            assert "<domain>%s</domain>" % virttype in p.stdout
            assert "<arch>ppc64</arch>" in p.stdout and "<machine>pseries-" in p.stdout
            assert "<mode name='custom' supported='yes'>" in p.stdout
        if not kvm:
            p = lt.domcaps(exe, virttype="kvm", arch="ppc64", machine="pseries")
            assert p.returncode != 0 and "the accel 'kvm' is not supported" in p.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)
