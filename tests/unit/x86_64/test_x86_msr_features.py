"""Features held in MSRs (issue 11): ``vmx-*`` and the IA32_ARCH_CAPABILITIES /
CORE_CAPABILITY / PERF_CAPABILITIES bits, from the feature MSRs a host's ``/dev/kvm`` reports
(``tools/capture_x86_kvm_cpuid.py``) and the measured ``msr`` table of the rules.

Differential, against Debian's real ``qemu-system-x86_64`` 7.2 under KVM on the AMD EPYC
machine whose CPUID and feature MSRs ``models/x86_64/hosts/capture-amd-epyc-6.18.yaml`` holds
(profile ``x86-capture-amd-epyc-6.18``):

* ``query-cpu-definitions``' ``unavailable-features`` of all 129 named models and the ``host``
  expansions, recorded by ``record_x86_host_answers.py`` (``data/capture-amd-epyc-6.18-kvm.json``);
* the start-up warnings, errors and exit of ``x86_msr_cmdline_inputs.py`` (recorded in
  ``x86_msr_cmdline_cases.py``) through the launcher.

Both recordings are re-checked against the real binary when this is that machine.  Where the
real binary aborts (this machine's KVM refuses every write of IA32_ARCH_CAPABILITIES: ``failed
to set MSR 0x10a``, an assertion in ``kvm_buf_set_msrs``), the launcher starts and prints the
warnings before the abort: a crash of the binary on one kernel, not a rule.
"""

from __future__ import annotations

import functools
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "launcher"))

from launcher_record_cases import run_case, run_started  # noqa: E402
from x86_msr_cmdline_cases import CASES  # noqa: E402
from x86_msr_cmdline_inputs import INPUTS  # noqa: E402

from qmpserver.arch.x86_64 import cpu, hostcpu  # noqa: E402
from qmpserver.profiles.loader import load_profile  # noqa: E402
from tests.support.peers import need_binary  # noqa: E402

PROFILE = "x86-capture-amd-epyc-6.18"
HOST_FILE = "capture-amd-epyc-6.18"
ANSWERS = os.path.join(HERE, "data", "capture-amd-epyc-6.18-kvm.json")
MOCK = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", PROFILE]
ABORT = -6
ABORT_LINES = ("failed to set MSR", "kvm_buf_set_msrs: Assertion")
# what the model does not know, said here and on the launcher's log: bits a named model sets
# that have no feature name (IA32_VMX_EPT_VPID_CAP bit 14, EPT write-back memory type)
UNNAMED_BITS = {"skylake-vmx-kvm": ["host doesn't support requested feature: MSR(48CH) [bit 14]"]}
# what the host expansion may differ in from the real binary's here (none: level-func7 with
# migratable=off, once the capture's value, is Catalog.host_level_func7's rule)
HOST_EXPLAINED: dict[str, set[str]] = {}


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMPSERVER_PROFILE")}
    root = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _answers():
    with open(ANSWERS, encoding="utf-8") as f:
        return json.load(f)


def _catalog():
    prof = load_profile(PROFILE)
    return cpu.catalog(prof.build, "kvm"), hostcpu.for_host(prof.host)


def test_msr_table_has_every_msr_feature_once():
    """The measured table names every feature of the static expansion that has no CPUID bit,
    each bit once, except the name QEMU 7.2 gives two bits (its EPT/VPID capability table calls
    bit 41, INVVPID single-context, ``vmx-invept-single-context`` as well)."""
    cat, _ = _catalog()
    features = [k for k in cat.static_keys if k not in cpu.STATIC_PROPS and k not in cat.rules["cpuid"]]
    assert sorted(cat.msr) == sorted(features)
    assert len(cat.msr) == 99
    assert {f: b for f, b in cat.msr.items() if len(b) > 1} == {
        "vmx-invept-single-context": [[0x48C, 25], [0x48C, 41]]
    }
    walk = [(i, b) for _f, i, b in cat.msr_walk]
    assert len(walk) == len(set(walk)) == 100
    assert [i for i, _b in walk[:11]] == [0x10A] * 9 + [0xCF, 0x345]


def test_vmx_control_msrs_offer_what_may_be_one():
    """kvm_arch_get_supported_msr_feature on synthetic values: a TRUE_*_CTLS MSR offers the
    allowed-1 bits that are not must-be-1; 0x48b's workaround adds the CPUID-backed exiting
    controls only when KVM_GET_MSR_INDEX_LIST lacks 0x48b; an MSR missing from a complete
    feature list offers nothing; incomplete data is unknown."""
    cat, _ = _catalog()
    cpuid, msr = cat.rules["cpuid"], cat.msr
    host = {"supported": [[1, 0, 0, 0, 0, 1 << 30, 0]], "feature-msrs-complete": True, "msr-index-list": []}
    host["feature-msrs"] = {"0x48e": (0b1111 << 32) | 0b0101, "0x48b": 0}
    assert hostcpu.msr_word(host, 0x48E, cpuid, msr) == 0b1010
    assert hostcpu.msr_word(host, 0x48B, cpuid, msr) == 1 << 11  # rdrand → vmx-rdrand-exit
    host["msr-index-list"] = [0x48B]
    assert hostcpu.msr_word(host, 0x48B, cpuid, msr) == 0
    assert hostcpu.msr_word(host, 0x10A, cpuid, msr) == 0
    del host["feature-msrs-complete"]
    assert hostcpu.msr_word(host, 0x10A, cpuid, msr) is None


def test_this_machines_msrs_are_the_real_host_expansions():
    """The real binary's KVM ``host`` expansion here has exactly the MSR features the captured
    feature MSRs give (IA32_ARCH_CAPABILITIES 0x400000000c000069: rdctl-no, skip-l1dfl-vmentry,
    mds-no, pschange-mc-no; no VMX, no CORE_CAPABILITY, PERF_CAPABILITIES 0)."""
    cat, data = _catalog()
    host = _answers()["answers"][1][1]["model"]["props"]
    offered, unknown = hostcpu.msr_offered(data, cat.rules["cpuid"], cat.msr)
    assert unknown == []
    ours = sorted(f for f, bits in cat.msr.items() if all(offered[(i, b)] for i, b in bits))
    assert (
        ours
        == sorted(f for f in cat.msr if host[f])
        == ["mds-no", "pschange-mc-no", "rdctl-no", "skip-l1dfl-vmentry"]
    )


def test_unavailable_features_equal_the_real_binarys():
    """All 129 named models' unavailable-features, CPUID and MSR words, computed from this
    machine's host file = the real binary's answer here (16 of them list MSR features)."""
    cat, data = _catalog()
    defs = _answers()["answers"][0][1]
    named = [d for d in defs if d["name"] not in ("host", "max", "base")]
    assert len(named) == 129
    for d in named:
        assert cat.unavailable_features(d["name"], data) == d["unavailable-features"], d["name"]
    assert sum(1 for d in named if set(d["unavailable-features"]) & set(cat.msr)) == 16


@pytest.mark.parametrize(
    "n,variant", [(1, "migratable"), (2, "migratable-off")], ids=["migratable", "migratable-off"]
)
def test_host_expansion_equals_the_real_binarys(n, variant):
    cat, data = _catalog()
    args, ret = _answers()["answers"][n]
    got = cat.expand("full", "host", args["model"].get("props"), data)["model"]["props"]
    ref = ret["model"]["props"]
    assert sorted(got) == sorted(ref)  # members (the wire order is the encoder's)
    assert {k for k in ref if got[k] != ref[k]} == HOST_EXPLAINED.get(variant, set())


def test_definitions_through_qmp_on_this_machines_profile():
    from qmpserver.arch.x86_64 import qmp
    from qmpserver.vm.state import CpuState

    class Inst:
        def __init__(self, prof):
            self.build, self.host, self.accel = prof.build, prof.host, "kvm"
            self.cpu, self.machine = CpuState(), None

    defs = {d["name"]: d for d in qmp.query_cpu_definitions(Inst(load_profile(PROFILE)), {})}
    real = {d["name"]: d for d in _answers()["answers"][0][1]}
    assert defs == real


def test_unknown_msr_features_are_said(caplog):
    """A libvirt host without IA32_ARCH_CAPABILITIES data (Skylake-SP's file has no <msr>):
    the MSR features its QEMU did not name are unknown, and the host expansion says so."""
    prof = load_profile("x86-skylake-sp-5.15")
    cat = cpu.catalog(prof.build, "kvm")
    data = hostcpu.for_host(prof.host)
    _offered, unknown = hostcpu.msr_offered(data, cat.rules["cpuid"], cat.msr)
    assert "taa-no" in unknown and "vmx-ept" in unknown and "rdctl-no" not in unknown
    with caplog.at_level("WARNING", logger="qmpserver.cpu"):
        cat.expand("full", "host", None, data)
    assert "taa-no" in caplog.text and "not modelled" in caplog.text


def _expected(cid):
    exp = CASES[cid]
    err = "".join(ln + "\n" for ln in exp["stderr"].splitlines() if not any(a in ln for a in ABORT_LINES))
    for line in UNNAMED_BITS.get(cid, ()):
        err = err.replace("qemu-system-x86_64: warning: %s\n" % line, "")
    return ("started" if exp["rc"] == ABORT else exp["rc"]), err


@pytest.mark.parametrize("cid,argv", INPUTS, ids=[c for c, _ in INPUTS])
def test_launcher_prints_what_qemu_prints(cid, argv):
    rc_want, err_want = _expected(cid)
    if rc_want == "started":
        rc, err = run_started(MOCK, argv, env=_env())
    else:
        rc, err = run_case(MOCK, argv, timeout=15.0, env=_env())
    if cid in UNNAMED_BITS:
        err = "".join(ln + "\n" for ln in err.splitlines() if "are not modelled" not in ln)
    assert (rc, err) == (rc_want, err_want)


def test_every_input_is_recorded():
    assert sorted(CASES) == sorted(c for c, _ in INPUTS)


@functools.lru_cache(maxsize=1)
def _on_this_machine():
    from tests.unit.x86_64.test_x86_hostcpu import live_matches

    return live_matches(hostcpu.load_host(HOST_FILE))


@pytest.mark.realqemu
@pytest.mark.parametrize("cid,argv", INPUTS, ids=[c for c, _ in INPUTS])
def test_recording_matches_real_qemu(cid, argv):
    binary = need_binary("qemu-system-x86_64")
    if "kvm" in cid and not _on_this_machine():
        pytest.skip("KVM case: this machine is not the one %s was captured on" % HOST_FILE)
    exp = CASES[cid]
    if exp["rc"] == "started":
        rc, err = run_started([binary], argv)
    else:
        rc, err = run_case([binary], argv, timeout=15.0)
    assert (rc, err) == (exp["rc"], exp["stderr"])


@pytest.mark.realqemu
def test_recorded_answers_match_real_qemu():
    binary = need_binary("qemu-system-x86_64")
    if not _on_this_machine():
        pytest.skip("this machine is not the one %s was captured on" % HOST_FILE)
    from tests.unit.x86_64.record_x86_host_answers import QUESTIONS, ask

    assert ask(binary, QUESTIONS) == [a for _q, a in _answers()["answers"]]
