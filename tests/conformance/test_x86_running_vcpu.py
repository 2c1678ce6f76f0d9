"""A running x86 vCPU as libvirt 9.0 reads it after start, and as ``qom-list`` shows it: the same
questions to Debian's real ``qemu-system-x86_64`` 7.2 and to the launcher on the same command
line, byte for byte (issue 11).

libvirt 9.0 asks, after starting an x86 domain (measured with its monitor log against the real
binary, docs/x86-cpu-models.md): ``qom-list /machine/unattached/device[0]``, then ``qom-get``
of every ``bool`` property and of ``unavailable-features``.  Here: that listing and ``qom-get``
of every property it names (``feature-words``, ``filtered-features``, the links and children
included), for vCPU 0 and, with ``-smp 2``, vCPU 1 (``device[2]``), then the same of their child
objects (local APIC, memory regions) and grandchildren.  Under KVM ``tsc-frequency`` is KVM's
TSC rate, the host file's ``tsc-khz`` (``KVM_GET_TSC_KHZ``).  TCG lines run on the capture's profile anywhere; KVM lines on profile
``x86-capture-amd-epyc-6.18``, only on that machine (their features are its CPUID and MSRs).
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.conformance.test_x86_cpu_expansion import transcript
from tests.support.peers import RealQemu, need_binary

B = ["-S", "-nodefaults"]
LINES = [
    ("q35-tcg", "qemu-7.2-debian-x86_64", B + ["-machine", "q35", "-accel", "tcg", "-cpu", "qemu64"]),
    (
        "pc-tcg-skylake-smp",
        "qemu-7.2-debian-x86_64",
        B + ["-machine", "pc", "-accel", "tcg", "-smp", "2", "-cpu", "Skylake-Client,+avx512f"],
    ),
    (
        "q35-kvm-epyc-smp",
        "x86-capture-amd-epyc-6.18",
        B + ["-machine", "q35", "-accel", "kvm", "-smp", "2", "-cpu", "EPYC-Rome"],
    ),
    (
        "q35-kvm-snowridge",
        "x86-capture-amd-epyc-6.18",
        B + ["-machine", "q35", "-accel", "kvm", "-cpu", "Snowridge"],
    ),
    (
        "pc-kvm-off-cascadelake",
        "x86-capture-amd-epyc-6.18",
        B + ["-machine", "pc,kernel-irqchip=off", "-accel", "kvm", "-cpu", "Cascadelake-Server"],
    ),
    (
        "q35-kvm-split-vmx",
        "x86-capture-amd-epyc-6.18",
        B + ["-machine", "q35,kernel-irqchip=split", "-accel", "kvm", "-cpu", "qemu64,+vmx,+vmx-ept,+pdcm"],
    ),
]
NOT_MODELLED_UNDER_KVM: tuple[str, ...] = ()


def _ask(q, reqs):
    return [json.loads(x) for x in transcript(q.path, [dict(r, id=i) for i, r in enumerate(reqs)])]


def _questions(q, path, kvm, depth=2):
    """qom-list of ``path`` and qom-get of each property it lists, then its children's."""
    listing = _ask(q, [{"execute": "qom-list", "arguments": {"path": path}}])[0]
    out = [{"execute": "qom-list", "arguments": {"path": path}}]
    if "return" not in listing:
        return out
    for e in listing["return"]:
        if kvm and e["name"] in NOT_MODELLED_UNDER_KVM:
            continue
        out.append({"execute": "qom-get", "arguments": {"path": path, "property": e["name"]}})
        if e["type"].startswith("child<") and depth > 0:
            out += _questions(q, path + "/" + e["name"], kvm, depth - 1)
    return out


def _on_this_machine():
    from tests.unit.x86_64.test_x86_msr_features import _on_this_machine as same

    return same()


@pytest.mark.realqemu
@pytest.mark.parametrize("lid,profile,args", LINES, ids=[i for i, _p, _a in LINES])
def test_running_vcpu_answers_as_qemu(lid, profile, args):
    real = need_binary("qemu-system-x86_64")
    kvm = "kvm" in lid
    if kvm and not _on_this_machine():
        pytest.skip("KVM line: this machine is not the one x86-capture-amd-epyc-6.18 was captured on")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("PYTHONPATH", root)
    with RealQemu(args, command=[real]) as q:
        reqs = []
        for dev in ("device[0]", "device[2]") if "smp" in lid else ("device[0]",):
            reqs += _questions(q, "/machine/unattached/" + dev, kvm)
        theirs = _ask(q, reqs)
    launcher = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", profile]
    with RealQemu(args, command=launcher) as q:
        ours = _ask(q, reqs)
    assert len(reqs) > 400
    diff = [(json.dumps(r), a, b) for r, a, b in zip(reqs, theirs, ours) if a != b]
    assert diff == []
