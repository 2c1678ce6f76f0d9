"""Real libvirt 9.0 starting and stopping an x86 KVM domain through the launcher on an x86 host
profile (issue 11), and its check of the guest CPU after start.

After starting an x86 domain libvirt 9.0 reads the vCPU (measured against the real binary with
its monitor log): ``qom-list /machine/unattached/device[0]``, then ``qom-get`` of every ``bool``
property and of ``unavailable-features`` (tests/conformance/test_x86_running_vcpu.py compares
those answers with the real binary's).  It then rewrites the live ``<cpu>`` (``check='partial'``,
the default: the features the vCPU turned out not to have become ``disable``) or, with
``check='full'``, refuses a vCPU that lacks a required feature: ``guest CPU doesn't match
specification: ... missing features: ...``.  Asserted here on ``x86-epyc-rome-6.18``: a
``host-model`` domain starts, libvirt's post-start questions are all answered, its live CPU
disables exactly the features the launcher's vCPU has off, and it stops; a custom ``EPYC-Rome``
that requires ``ibrs-all`` (an IA32_ARCH_CAPABILITIES bit that machine's MSR lacks) is refused by
libvirt's post-start check.  Skipped without libvirt, unless QMPSERVER_REQUIRE_REAL_PEERS=1.
"""

from __future__ import annotations

import os
import shutil
import uuid
import xml.etree.ElementTree as ET

import libvirt_testutil as lt
import pytest

pytestmark = [pytest.mark.libvirt, pytest.mark.timeout(600)]

PROFILE = "x86-epyc-rome-6.18"
NAME = "qmps-x86-domain"


@pytest.fixture(scope="module")
def rome(libvirt):
    d = lt.world_dir("qmps-x86d-")
    try:
        exe = lt.install_launcher(
            os.path.join(lt.ROOT, "models", "profiles", PROFILE + ".yaml"), d, name="qemu-system-x86_64"
        )
        lt.invalidate_caps(exe)
        yield exe
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _xml(exe, cpu, machine="q35"):
    return """<domain type='kvm'>
  <name>%s</name><uuid>%s</uuid>
  <memory unit='MiB'>128</memory><vcpu>2</vcpu>
  <os><type arch='x86_64' machine='%s'>hvm</type></os>
  %s
  <devices><emulator>%s</emulator></devices>
</domain>""" % (NAME, uuid.uuid4(), machine, cpu, exe)


def test_host_model_domain_starts_is_checked_and_stops(rome):
    with lt.exclusive(), lt.monitor_log() as pairs:
        with lt.defined_domain(NAME, _xml(rome, "<cpu mode='host-model'/>")):
            p = lt.virsh("start", NAME)
            assert p.returncode == 0, p.stderr
            assert lt.wait_state(NAME, "running") == "running"
            live = ET.fromstring(lt.virsh("dumpxml", NAME, check=True).stdout).find("cpu")
            off = lt.monitor_command(
                NAME,
                {
                    "execute": "qom-get",
                    "arguments": {"path": "/machine/unattached/device[0]", "property": "svm"},
                },
            )
            assert lt.virsh("destroy", NAME).returncode == 0
            assert lt.wait_state(NAME, "shut off") == "shut off"
        conversation = pairs()
    # libvirt's post-start reading of the vCPU, all answered
    cpu = "/machine/unattached/device[0]"
    gets = [
        (c, r) for _m, c, r in conversation if c.get("execute") == "qom-get" and c["arguments"]["path"] == cpu
    ]
    lists = [
        r for _m, c, r in conversation if c.get("execute") == "qom-list" and c["arguments"]["path"] == cpu
    ]
    assert lists and "return" in lists[-1]
    assert len(gets) > 390 and all("return" in r for _c, r in gets)
    values = {c["arguments"]["property"]: r["return"] for c, r in gets}
    # host-model asks for avic, v-vmsave-vmload and vgif (the host has SVM), but QEMU 7.2's KVM
    # defaults turn EPYC-Rome's svm off, so they go as its dependents ("This feature depends on
    # other features that were not requested", on the domain's log) and count as filtered
    assert values["unavailable-features"] == ["avic", "v-vmsave-vmload", "vgif"]
    # the live CPU: host-model became the named model; the features the vCPU has off that the
    # model has are disabled (EPYC-Rome's svm, which QEMU's KVM defaults turn off, and what
    # needs it), the MSR features the host's IA32_ARCH_CAPABILITIES gives are required
    assert live.get("mode") == "custom" and live.findtext("model") == "EPYC-Rome"
    disabled = {f.get("name") for f in live.findall("feature[@policy='disable']")}
    required = {f.get("name") for f in live.findall("feature[@policy='require']")}
    assert off.get("return") is False and {"svm", "npt", "nrip-save", "avic", "vgif"} <= disabled
    assert {"arch-capabilities", "rdctl-no", "mds-no", "skip-l1dfl-vmentry", "pschange-mc-no"} <= required
    assert "ibrs-all" not in required
    for name in disabled:
        assert values.get(name.replace("_", "-"), values.get(name)) is False, name


def test_post_start_check_refuses_a_missing_msr_feature(rome):
    cpu = (
        "<cpu mode='custom' match='exact' check='full'><model fallback='forbid'>EPYC-Rome</model>"
        "<feature policy='require' name='arch-capabilities'/><feature policy='require' name='ibrs-all'/></cpu>"
    )
    with lt.exclusive(), lt.defined_domain(NAME, _xml(rome, cpu, machine="pc")):
        p = lt.virsh("start", NAME)
        state = lt.virsh("domstate", NAME).stdout.strip()
    assert p.returncode != 0
    assert "guest CPU doesn't match specification" in p.stderr
    missing = p.stderr.split("missing features:")[1].strip().split(",")
    assert "ibrs-all" in missing
    assert state == "shut off"
