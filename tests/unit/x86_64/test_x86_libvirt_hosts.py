"""The real x86 hosts converted from libvirt's cputestdata (tools/libvirt_cpuid_to_x86_host.py,
docs/x86-cpu-models.md): for each, ``host`` expanded from the host's CPUID file equals the real
QEMU's expansion in libvirt's ``.json`` for that CPU (fetched by
scripts/fetch-libvirt-capsdata.sh; for the host taken from newer libvirt, the copy in the host
file), except the differences listed with their reason.  Compared: every feature QEMU 7.2 knows
that the recording names, and the CPU's identity."""

from __future__ import annotations

import json

import pytest

from qmpserver.arch.x86_64 import cpu, hostcpu
from qmpserver.profiles.loader import load_profile
from qmpserver.vm.state import CpuState
from tests.support.recordings import capsdata_path

OLD_QEMU_MIN_LEVEL = "the recording's QEMU (< 5.0) reports min-level 13 for host; 7.2 reports the KVM level"
OLD_QEMU_ARCH_CAP = (
    "the recording's QEMU (4.x) kept the IA32_ARCH_CAPABILITIES features although the"
    " arch-capabilities CPUID bit was off (its kernel did not report it); 7.2 clears them (depends)"
)
OLD_KERNEL_XLEVEL = (
    "the recording's kernel capped CPUID 0x80000000 lower than the chosen kernel (KVM's cap"
    " rose with newer leaves); min-xlevel follows the host's KVM leaf"
)
HOST_XLEVEL = (
    "the host file keeps the raw CPUID.80000000H:EAX (0x80000028); the recording's kernel capped it"
    " at 0x80000022, the leaves KVM knows (the cap per kernel release is not modelled)"
)
HOST_XLEVEL_MILAN = HOST_XLEVEL.replace("0x80000028", "0x80000023").replace("0x80000022", "0x8000001f")
# (profile, libvirt cputestdata stem or None for the copy in the host file, {prop: why it differs})
HOSTS = [
    ("x86-skylake-sp-5.15", "Xeon-Gold-6130", {"min-level": OLD_QEMU_MIN_LEVEL}),
    (
        "x86-cascadelake-6.1",
        "Xeon-Platinum-8268",
        {
            "min-level": OLD_QEMU_MIN_LEVEL,
            "ibrs-all": OLD_QEMU_ARCH_CAP,
            "rdctl-no": OLD_QEMU_ARCH_CAP,
            "skip-l1dfl-vmentry": OLD_QEMU_ARCH_CAP,
        },
    ),
    ("x86-icelake-sp-6.8", "Ice-Lake-Server", {"min-level": OLD_QEMU_MIN_LEVEL}),
    ("x86-cooperlake-6.14", "Cooperlake", {}),
    ("x86-epyc-rome-6.18", "EPYC-7502-32-Core", {"min-xlevel": OLD_KERNEL_XLEVEL}),
    (
        "x86-epyc-naples-5.10",
        "EPYC-7601-32-Core-ibpb",
        {
            "min-xlevel": OLD_KERNEL_XLEVEL,
            "npt": "the recording's QEMU (4.x) kept npt/nrip-save with svm off (its kernel did not"
            " offer nested SVM); 7.2 clears the SVM leaf's features when svm is off (depends)",
            "nrip-save": "as npt",
        },
    ),
    ("x86-sapphire-rapids-6.1", None, {}),
    ("x86-epyc-genoa-6.12", None, {"min-xlevel": HOST_XLEVEL}),
    ("x86-epyc-milan-6.17", None, {"min-xlevel": HOST_XLEVEL_MILAN}),
]
IDENTITY = ("vendor", "family", "model", "stepping", "model-id", "min-xlevel", "min-level", "lmce")


def recorded_props(stem: str) -> dict:
    text = capsdata_path("cputestdata/x86_64-cpuid-%s.json" % stem).read_text()
    return json.JSONDecoder().raw_decode(text.lstrip())[0]["return"]["model"]["props"]


@pytest.mark.parametrize("profile,stem,explained", HOSTS, ids=[h[0] for h in HOSTS])
def test_host_expansion_matches_libvirt_recording(profile, stem, explained):
    prof = load_profile(profile)
    data = hostcpu.for_host(prof.host)
    cat = cpu.catalog(prof.build, "kvm")
    got = cat.expand("static", "host", None, data)["model"]["props"]
    if stem is None:
        ref = {f: True for f in data["reference-expansion"]["enabled"]}
        ref.update({f: False for f in data["reference-expansion"]["disabled"]})
        ref.update(data["reference-expansion"]["identity"])
    else:
        ref = recorded_props(stem)
    features = set(cat.rules["cpuid"]) | set(data["msr-features"])
    compared = [k for k in got if k in ref and (k in features or k in IDENTITY)]
    assert len(compared) > 150
    diff = {k: (got[k], ref[k]) for k in compared if got[k] != ref[k]}
    assert set(diff) == set(explained), diff


def capture_host_with_recorded_msr_features(cat):
    """The Intel capture host's CPUID file (that machine is gone: no feature MSRs were read from
    its /dev/kvm) with the MSR features of the real binary's recorded KVM ``host`` expansion on
    it as ``msr-features``, the form libvirt's hosts carry them in."""
    data = dict(hostcpu.load_host("capture-host-6.18"))
    host = cat.expand("full", "host", None)["model"]["props"]
    data["msr-features"] = {f: host[f] for f in cat.msr}
    return data


@pytest.mark.parametrize("extra", [None, {"migratable": False}], ids=["migratable", "migratable-off"])
def test_host_expansion_from_the_capture_hosts_cpuid_equals_the_real_binarys(extra):
    """The same computation fed the capture machine's own KVM_GET_SUPPORTED_CPUID file gives
    the real QEMU 7.2's recorded expansion on that machine, member for member (its MSR
    features, which that file lacks, from the same recording)."""
    cat = cpu.catalog(load_profile("qemu-7.2-debian-x86_64").build, "kvm")
    recorded = cat.expand("full", "host", extra)["model"]["props"]
    data = capture_host_with_recorded_msr_features(cat)
    computed = cat.expand("full", "host", extra, data)["model"]["props"]
    assert len(recorded) > 400
    assert computed == recorded


def test_hosts_differ_in_tsc_deadline_reporting():
    """The chosen kernels straddle the release whose KVM reports tsc-deadline: with
    kernel-irqchip=off the feature survives only there."""
    seen = {}
    for profile, _stem, _ in HOSTS:
        data = hostcpu.for_host(load_profile(profile).host)
        cpuid = cpu.catalog(load_profile(profile).build, "kvm").rules["cpuid"]
        seen[profile] = hostcpu.TSC_DEADLINE in hostcpu.available(data, cpuid, "off")
        assert seen[profile] == hostcpu.kernel_reports_tsc_deadline(data["kernel"]["release"])
        assert hostcpu.TSC_DEADLINE in hostcpu.available(data, cpuid, "on")
    assert set(seen.values()) == {True, False}


def test_expansion_is_the_hosts_not_the_captures():
    """Through QMP on the profile: the identity and features are the converted host's."""
    from qmpserver.arch.x86_64 import qmp

    class Inst:  # an instance before start-up: no -cpu realized, no machine
        def __init__(self, prof):
            self.build, self.host, self.accel = prof.build, prof.host, "kvm"
            self.cpu, self.machine = CpuState(), None

    spr = qmp.compute_expansion(
        Inst(load_profile("x86-sapphire-rapids-6.1")), {"type": "full", "model": {"name": "host"}}
    )["model"]["props"]
    assert (spr["family"], spr["model"], spr["model-id"]) == (6, 143, "Intel(R) Xeon(R) w7-3465X")
    assert spr["amx-tile"] and spr["avx512-fp16"] and not spr["svm"]
    rome = json.loads(
        qmp.query_cpu_model_expansion(  # the fast path: the encoded reply
            Inst(load_profile("x86-epyc-rome-6.18")), {"type": "static", "model": {"name": "host"}}
        )
    )["model"]["props"]
    assert rome["vendor"] == "AuthenticAMD" and rome["svm"] and not rome["avx512f"]


# (profile, cputestdata stem, {model: why ours differs}) for the recordings with definitions
OLD_QEMU_SVM = (
    "npt",
    "nrip-save",
)  # the recordings' older QEMU lists the SVM-leaf features of models whose svm the KVM defaults turn off
DEFINITIONS = [
    ("x86-skylake-sp-5.15", "Xeon-Gold-6130", {}),
    ("x86-cascadelake-6.1", "Xeon-Platinum-8268", {}),
    (
        "x86-icelake-sp-6.8",
        "Ice-Lake-Server",
        dict.fromkeys(
            ("Snowridge", "Snowridge-v1"),
            "the recording's QEMU (102 models, about 4.2) does not list MPX's missing XSAVE components;"
            " 7.2 does (measured on the capture host); which release changed it is not checked",
        ),
    ),
    ("x86-cooperlake-6.14", "Cooperlake", {}),
    (
        "x86-epyc-rome-6.18",
        "EPYC-7502-32-Core",
        dict.fromkeys(
            ("Cooperlake", "Cooperlake-v1"),
            "the recording's QEMU's Cooperlake has no taa-no; 7.2's has (model changed between versions)",
        ),
    ),
]


@pytest.mark.parametrize("profile,stem,explained", DEFINITIONS, ids=[d[0] for d in DEFINITIONS])
def test_unavailable_features_match_libvirt_recording(profile, stem, explained):
    """query-cpu-definitions' unavailable-features computed from the host file vs the real
    QEMU's list in libvirt's .json (models both versions have; features 7.2 knows)."""
    text = capsdata_path("cputestdata/x86_64-cpuid-%s.json" % stem).read_text()
    dec = json.JSONDecoder()
    _first, end = dec.raw_decode(text.lstrip())
    recorded = {
        d["name"]: d["unavailable-features"]
        for d in dec.raw_decode(text.lstrip()[end:].lstrip())[0]["return"]
    }
    prof = load_profile(profile)
    data = hostcpu.for_host(prof.host)
    cat = cpu.catalog(prof.build, "kvm")
    known = set(cat.rules["cpuid"]) | set(data["msr-features"])
    same, differ = 0, set()
    for name in sorted(cat.models - {"host", "max", "base"}):
        if name not in recorded:
            continue
        ours = cat.unavailable_features(name, data)
        theirs = [f for f in recorded[name] if f in known]
        if ours == theirs or ours == [f for f in theirs if f not in OLD_QEMU_SVM]:
            same += 1
        else:
            differ.add(name)
    assert differ == set(explained)
    assert same > 40


def test_unavailable_features_on_the_capture_host_equal_its_recording():
    """The rule (feature words, XSAVE components, MSR words, prerequisites, topoext) against all
    129 named models the capture recorded.  The capture host's file has no feature MSRs (that
    machine is gone); its MSR features are the real binary's recorded KVM ``host`` expansion
    there (``msr-features``, as for libvirt's hosts), so every list comes from data."""
    build = load_profile("qemu-7.2-debian-x86_64").build
    cat = cpu.catalog(build, "kvm")
    data = capture_host_with_recorded_msr_features(cat)
    recorded = build.recorded_return("query-cpu-definitions", None, "kvm")
    named = [d for d in recorded if d["name"] not in ("host", "max", "base")]
    assert len(named) == 129
    for d in named:
        assert cat.unavailable_features(d["name"], data) == d["unavailable-features"], d["name"]
    with_msr = [d["name"] for d in named if set(d["unavailable-features"]) & set(cat.msr)]
    assert len(with_msr) == 16, with_msr  # MSR features in the list: before, given by hand


def test_definitions_through_qmp_are_the_hosts():
    from qmpserver.arch.x86_64 import qmp

    class Inst:  # an instance before start-up: no -cpu realized, no machine
        def __init__(self, prof):
            self.build, self.host, self.accel = prof.build, prof.host, "kvm"
            self.cpu, self.machine = CpuState(), None

    spr = load_profile("x86-sapphire-rapids-6.1")
    defs = {d["name"]: d for d in qmp.query_cpu_definitions(Inst(spr), {})}
    # QEMU 7.2 has no SapphireRapids model; the host's expansion has TSX (hle, rtm) off
    assert "SapphireRapids" not in defs
    assert defs["Icelake-Server"]["unavailable-features"] == ["hle", "rtm"]
    assert defs["Icelake-Server-noTSX"]["unavailable-features"] == []
    # an AMD model on this Intel host misses the AMD-only bits
    assert "sse4a" in defs["EPYC-Rome"]["unavailable-features"]
    capture = load_profile("qemu-7.2-debian-x86_64").build.recorded_return(
        "query-cpu-definitions", None, "kvm"
    )
    assert (
        defs["Icelake-Server"]["unavailable-features"]
        != {d["name"]: d for d in capture}["Icelake-Server"]["unavailable-features"]
    )


@pytest.mark.parametrize(
    "profile,stem", [(h[0], h[1]) for h in HOSTS if h[1]], ids=[h[0] for h in HOSTS if h[1]]
)
def test_committed_host_files_are_the_converters_output(tmp_path, profile, stem):
    """tools/libvirt_cpuid_to_x86_host.py run again on the fetched libvirt 9.0 files, with the
    arguments the committed files record, writes the committed three files byte for byte."""
    import subprocess
    import sys

    from qmpserver.models import MODELS_DIR, read_yaml

    xml = capsdata_path("cputestdata/x86_64-cpuid-%s.xml" % stem)
    data = hostcpu.load_host(profile)
    host = read_yaml(f"{MODELS_DIR}/hosts/{profile}.yaml")
    args = [
        sys.executable, "tools/libvirt_cpuid_to_x86_host.py", "--xml", str(xml),
        "--json", str(xml.with_suffix(".json")), "--kernel", data["kernel"]["release"],
        "--name", profile, "--source", data["sources"]["refs"]["libvirt"], "--summary", host["summary"],
        "--distro", host["kernel"].get("distro", ""), "-o", str(tmp_path),
    ]  # fmt: skip
    p = subprocess.run(args, capture_output=True, text=True, cwd=f"{MODELS_DIR}/..", timeout=120)
    assert p.returncode == 0, p.stderr
    for rel in (f"x86_64/hosts/{profile}.yaml", f"hosts/{profile}.yaml", f"profiles/{profile}.yaml"):
        assert (tmp_path / rel).read_text() == open(f"{MODELS_DIR}/{rel}").read(), rel


TSC_WARNING = "host doesn't support requested feature: CPUID.01H:ECX.tsc-deadline [bit 24]"
# the seed's matrix on two real hosts whose kernels differ in TSC-deadline reporting:
# (profile, kernel-irqchip, -cpu qemu64 +feats, enforce) -> (x2apic, tsc-deadline, kvm-pv-unhalt,
# kvm-msi-ext-dest-id) offered, warnings, start-up error
SEED = [
    ("x86-skylake-sp-5.15", "on", (True, True, True, False), {"tsc-deadline": True}, True, [], None),
    ("x86-skylake-sp-5.15", "split", (True, True, True, True), {"tsc-deadline": True}, True, [], None),
    ("x86-skylake-sp-5.15", "off", (False, False, False, False), {"tsc-deadline": True}, False, [TSC_WARNING], None),
    (
        "x86-skylake-sp-5.15", "off", (False, False, False, False), {"tsc-deadline": True}, True, [TSC_WARNING],
        "Host doesn't support requested features",
    ),
    ("x86-epyc-rome-6.18", "off", (False, True, False, False), {"tsc-deadline": True}, True, [], None),
    ("x86-epyc-rome-6.18", "on", (True, True, True, False), {"x2apic": True}, True, [], None),
    (
        "x86-epyc-rome-6.18", "off", (False, True, False, False), {"x2apic": True}, False,
        ["host doesn't support requested feature: CPUID.01H:ECX.x2apic [bit 21]"], None,
    ),
]  # fmt: skip
PROBE = ("x2apic", "tsc-deadline", "kvm-pv-unhalt", "kvm-msi-ext-dest-id")


@pytest.mark.parametrize("profile,irqchip,offered,user,enforce,warnings,error", SEED)
def test_seed_matrix_on_real_hosts(profile, irqchip, offered, user, enforce, warnings, error):
    prof = load_profile(profile)
    data = hostcpu.for_host(prof.host)
    cat = cpu.catalog(prof.build, "kvm")
    cpuid = cat.rules["cpuid"]
    avail = hostcpu.available(data, cpuid, irqchip)
    assert tuple(f in avail for f in PROBE) == offered
    props = cat.expand("full", "qemu64", None)["model"]["props"]
    req = hostcpu.requested(props, cpuid, irqchip, user)
    _got, warned, failed = hostcpu.realize(req, data, cpuid, irqchip, check=True, enforce=enforce)
    assert warned == warnings
    assert failed == error
