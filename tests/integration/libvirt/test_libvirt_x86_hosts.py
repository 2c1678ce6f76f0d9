"""Real libvirt 9.0 computing ``host-model`` against the launcher on the x86 host profiles
converted from libvirt's cputestdata (docs/x86-cpu-models.md, issue 11).

libvirt probes ``query-cpu-model-expansion`` of ``host`` (static, static with
``migratable=false``, full with ``hv-passthrough``): the launcher answers from the profile's
CPUID data, and libvirt turns that into a named model + features; the model's blockers come
from ``query-cpu-definitions``' ``unavailable-features``, computed for the same host (libvirt
marks them ``disable``).  Asserted: the vendor, the launcher's host identity and the named
model, the real CPU's generation.  Skipped without libvirt,
unless QMPSERVER_REQUIRE_REAL_PEERS=1."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET

import libvirt_testutil as lt
import pytest

pytestmark = [pytest.mark.libvirt, pytest.mark.timeout(600)]

# (profile, libvirt vendor, model-id the launcher reports, the model libvirt names: the host's
# generation as QEMU 7.2 knows it; 7.2 has no SapphireRapids nor EPYC-Genoa model, so
# Icelake-Server with TSX disabled and EPYC-Milan with the Zen 4 additions as features)
HOSTS = [
    ("x86-skylake-sp-5.15", "Intel", "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz", "Skylake-Server-IBRS"),
    ("x86-cascadelake-6.1", "Intel", "Intel(R) Xeon(R) Platinum 8268 CPU @ 2.90GHz", "Cascadelake-Server"),
    ("x86-icelake-sp-6.8", "Intel", None, "Icelake-Server"),
    ("x86-cooperlake-6.14", "Intel", None, "Cooperlake"),
    ("x86-sapphire-rapids-6.1", "Intel", "Intel(R) Xeon(R) w7-3465X", "Icelake-Server"),
    ("x86-epyc-naples-5.10", "AMD", "AMD EPYC 7601 32-Core Processor", "EPYC-IBPB"),
    ("x86-epyc-rome-6.18", "AMD", "AMD EPYC 7502 32-Core Processor", "EPYC-Rome"),
    ("x86-epyc-milan-6.17", "AMD", "AMD EPYC 7713 64-Core Processor", "EPYC-Milan"),
    ("x86-epyc-genoa-6.12", "AMD", "AMD EPYC 9334 32-Core Processor", "EPYC-Milan"),
]


@pytest.mark.parametrize("profile,vendor,model_id,expected", HOSTS, ids=[h[0] for h in HOSTS])
def test_host_model_is_computed_from_the_profile(libvirt, profile, vendor, model_id, expected):
    d = lt.world_dir("qmps-x86h-")
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
    host = [
        reply["return"]["model"]["props"]
        for _mon, cmd, reply in conversation
        if cmd.get("execute") == "query-cpu-model-expansion" and cmd["arguments"]["model"]["name"] == "host"
    ]
    assert host
    if model_id:
        assert all(props["model-id"].strip() == model_id for props in host)
    mode = ET.fromstring(p.stdout).find("cpu/mode[@name='host-model']")
    assert mode is not None and mode.get("supported") == "yes"
    assert mode.findtext("vendor") == vendor
    model = mode.findtext("model")
    custom = [m.text for m in ET.fromstring(p.stdout).findall("cpu/mode[@name='custom']/model")]
    assert model in custom
    assert model == expected
    assert mode.findall("feature[@policy='require']")


def _cpu_xml(directory, *models):
    path = os.path.join(directory, "cpu-%s.xml" % "-".join(models))
    with open(path, "w", encoding="utf-8") as f:
        for m in models:
            f.write("<cpu mode='custom' match='exact'><model fallback='forbid'>%s</model></cpu>\n" % m)
    os.chmod(path, 0o644)
    return path


@pytest.fixture(scope="module")
def x86_launchers(libvirt):
    """profile -> launcher (each in its own directory: libvirt caches per binary path)."""
    dirs, out = [], {}

    def get(profile):
        if profile not in out:
            d = lt.world_dir("qmps-x86h-")
            dirs.append(d)
            exe = lt.install_launcher(
                os.path.join(lt.ROOT, "models", "profiles", profile + ".yaml"), d, name="qemu-system-x86_64"
            )
            lt.invalidate_caps(exe)
            out[profile] = (exe, d)
        return out[profile]

    yield get
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


SUPERSET = "The CPU provided by hypervisor on the host is a superset of CPU described in"
INCOMPATIBLE = "is incompatible with the CPU provided by hypervisor on the host"
# (profile, guest model, verdict): libvirt compares against the host-model it computed from
# the launcher (query-cpu-model-expansion and query-cpu-definitions of the profile's host)
COMPARE = [
    ("x86-epyc-rome-6.18", "EPYC-Rome", SUPERSET),
    ("x86-epyc-rome-6.18", "EPYC-Milan", INCOMPATIBLE),
    ("x86-epyc-milan-6.17", "EPYC-Milan", SUPERSET),
    ("x86-sapphire-rapids-6.1", "Icelake-Server", INCOMPATIBLE),  # TSX (hle, rtm) is off
    # libvirt 9.0's own Icelake-Server-noTSX (src/cpu_map) still has mpx, which SPR lacks
    ("x86-sapphire-rapids-6.1", "Icelake-Server-noTSX", INCOMPATIBLE),
    ("x86-sapphire-rapids-6.1", "Broadwell-noTSX", SUPERSET),
    ("x86-skylake-sp-5.15", "Icelake-Server-noTSX", INCOMPATIBLE),
]


@pytest.mark.parametrize("profile,model,verdict", COMPARE, ids=["%s-%s" % c[:2] for c in COMPARE])
def test_hypervisor_cpu_compare_through_the_launcher(x86_launchers, profile, model, verdict):
    exe, d = x86_launchers(profile)
    args = ("--emulator", exe, "--arch", "x86_64", "--machine", "pc", "--virttype", "kvm")
    p = lt.virsh("hypervisor-cpu-compare", _cpu_xml(d, model), *args)
    assert verdict in p.stdout + p.stderr, (p.stdout, p.stderr)
    assert p.returncode == (0 if verdict == SUPERSET else 1)


def test_hypervisor_cpu_baseline_through_the_launcher(x86_launchers):
    """Rome + Milan on a Milan host: the older generation, as libvirt computes it."""
    exe, d = x86_launchers("x86-epyc-milan-6.17")
    args = ("--emulator", exe, "--arch", "x86_64", "--machine", "pc", "--virttype", "kvm")
    p = lt.virsh("hypervisor-cpu-baseline", _cpu_xml(d, "EPYC-Rome", "EPYC-Milan"), *args)
    assert p.returncode == 0, p.stderr
    assert ET.fromstring(p.stdout).findtext("model") == "EPYC-Rome"
