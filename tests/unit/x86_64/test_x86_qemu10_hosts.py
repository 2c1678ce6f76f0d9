"""``-cpu host`` of the 9 x86 host profiles under QEMU 10.0 (issue 11): "what KVM reports ∩ what
this QEMU version knows".

The same host file (``models/x86_64/hosts/x86-*.yaml``: KVM's CPUID leaves) expanded by the 7.2
build and by the 10.0 build (each with its own measured ``cpuid`` table, ``models/x86_64/
cpu-rules-<version>.yaml``): a CPUID feature both versions know has the same value on both; one
only 10.0 knows is absent from 7.2's expansion and, on 10.0, on exactly when KVM reports it
(the 10.0 names on these hosts: Sapphire Rapids' ``fsrc``/``fzrm``/``fsrs``, Genoa's
``auto-ibrs``, ``no-nested-data-bp``, ``null-sel-clr-base`` ...).  Offline: no binary needed (the
differential side is tests/conformance/test_x86_cpu_expansion.py on the capture host).
"""

from __future__ import annotations

import pytest

from qmpserver.arch.x86_64 import cpu, hostcpu
from qmpserver.profiles.loader import load_profile

HOSTS = [
    "x86-skylake-sp-5.15",
    "x86-cascadelake-6.1",
    "x86-icelake-sp-6.8",
    "x86-cooperlake-6.14",
    "x86-sapphire-rapids-6.1",
    "x86-epyc-naples-5.10",
    "x86-epyc-rome-6.18",
    "x86-epyc-milan-6.17",
    "x86-epyc-genoa-6.12",
]
# features only 10.0 knows that these hosts' KVM leaves report (asserted on, on 10.0)
NEW_ON = {
    "x86-sapphire-rapids-6.1": {"fsrc", "fzrm", "fsrs"},
    "x86-epyc-genoa-6.12": {
        "auto-ibrs",
        "no-nested-data-bp",
        "null-sel-clr-base",
        "lfence-always-serializing",
    },
}


def _expand(build_name, host):
    cat = cpu.catalog(load_profile(build_name).build, "kvm")
    props = cat.expand("full", "host", {"migratable": True}, host)["model"]["props"]
    return cat, props


@pytest.mark.parametrize("name", HOSTS)
def test_host_is_kvm_reported_and_known_by_the_version(name):
    host = hostcpu.for_host(load_profile(name).host)
    assert host is not None
    cat7, e7 = _expand("qemu-7.2-debian-x86_64", host)
    cat10, e10 = _expand("qemu-10.0-debian-x86_64", host)
    t7, t10 = cat7.rules["cpuid"], cat10.rules["cpuid"]
    assert set(t7) <= set(t10)
    both = sorted(f for f in t7 if f in e7 and f in e10)
    assert [f for f in both if e7[f] != e10[f]] == []
    new = sorted(set(t10) - set(t7))
    assert [f for f in new if f in e7] == []
    on = hostcpu.host_model(host, t10, "on", True)
    assert {f for f in new if e10.get(f) is True} == {f for f in new if f in on}
    # KVM reports them (the host file's leaves), so 10.0 shows them and 7.2 has no name for them
    assert (
        NEW_ON.get(name, set())
        <= {f for f in new if e10.get(f) is True}
        <= hostcpu.reported(host, t10) | set(cpu.ALWAYS_SUPPORTED_KVM)
    )


@pytest.mark.parametrize("name", ["x86-sapphire-rapids-6.1", "x86-epyc-genoa-6.12"])
def test_msr_features_the_host_file_does_not_name_are_off(name, caplog):
    """The host files name the MSR features 7.2 knows; 10.0's newer ones (``gds-no``,
    ``rfds-no``, ``bhi-no`` ...) are shown off with a log line, not the capture host's values."""
    host = hostcpu.for_host(load_profile(name).host)
    cat, e10 = _expand("qemu-10.0-debian-x86_64", host)
    unnamed = [k for k in cat.msr_keys() if k not in host["msr-features"]]
    assert {"gds-no", "rfds-no", "bhi-no"} <= set(unnamed)
    assert all(e10[k] is False for k in unnamed)
