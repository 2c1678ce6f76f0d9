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
