"""The seed's matrix (issue 11): host CPUID data x kernel-irqchip x -cpu options x check/enforce
-> features the vCPU gets, warnings, errors; model rows always, and the same rows against
Debian's real qemu-system-x86_64 7.2: when this machine is the host the data was captured on
(its KVM_GET_SUPPORTED_CPUID equals the committed file) the table's, elsewhere (any machine with
/dev/kvm) the model's given this machine's data (tests/support/livehost.py).  About 3 s with the live half."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest

from qmpserver.arch.x86_64 import cpu, hostcpu
from qmpserver.profiles.loader import load_profile
from tests.support.livehost import live_profiles
from tests.support.peers import need_binary

HOST = "capture-host-6.18"
PROBE = ("x2apic", "tsc-deadline", "kvm-pv-unhalt", "kvm-msi-ext-dest-id")
W = "host doesn't support requested feature: "

# (irqchip, -cpu, expected values of PROBE, warnings, error) measured with the real binary
# on the capture host (kernel 6.18: KVM reports tsc-deadline itself); pni: this nested host's
# KVM does not offer SSE3, so qemu64 always warns about it unless -pni
MATRIX = [
    ("on", "qemu64,-pni", (True, False, False, False), [], None),
    ("on", "qemu64,-pni,+tsc-deadline,enforce", (True, True, False, False), [], None),
    ("on", "qemu64,+x2apic,check", (True, False, False, False), [W + "CPUID.01H:ECX.pni [bit 0]"], None),
    ("on", "qemu64,-pni,kvm-pv-unhalt=on", (True, False, True, False), [], None),
    (
        "on",
        "qemu64,-pni,kvm-msi-ext-dest-id=on,check",
        (True, False, False, False),
        [W + "CPUID.40000001H:EAX.kvm-msi-ext-dest-id [bit 15]"],
        None,
    ),
    (
        "on",
        "qemu64,-pni,+monitor,check",
        (True, False, False, False),
        [W + "CPUID.01H:ECX.monitor [bit 3]"],
        None,
    ),
    ("off", "qemu64,-pni", (False, False, False, False), [], None),
    ("off", "qemu64,-pni,+tsc-deadline,enforce", (False, True, False, False), [], None),
    (
        "off",
        "qemu64,+x2apic,check",
        (False, False, False, False),
        [W + "CPUID.01H:ECX.pni [bit 0]", W + "CPUID.01H:ECX.x2apic [bit 21]"],
        None,
    ),
    (
        "off",
        "qemu64,-pni,+x2apic,enforce",
        None,
        [W + "CPUID.01H:ECX.x2apic [bit 21]"],
        "Host doesn't support requested features",
    ),
    (
        "off",
        "qemu64,-pni,kvm-pv-unhalt=on,check",
        (False, False, False, False),
        [W + "CPUID.40000001H:EAX.kvm-pv-unhalt [bit 7]"],
        None,
    ),
    ("split", "qemu64,-pni", (True, False, False, True), [], None),
    ("split", "qemu64,-pni,-x2apic,enforce", (False, False, False, True), [], None),
    ("split", "qemu64,-pni,kvm-pv-unhalt=on,+tsc-deadline,enforce", (True, True, True, True), [], None),
]


@pytest.fixture(scope="module")
def data():
    build = load_profile("qemu-7.2-debian-x86_64").build
    cat = cpu.catalog(build, "kvm")
    return cat, cat.rules["cpuid"], hostcpu.load_host(HOST)


def parse(option):
    name, *opts = option.split(",")
    user, check, enforce = {}, True, False
    for o in opts:
        if o == "enforce":
            enforce = True
        elif o == "check":
            check = True
        elif o[0] in "+-":
            user[o[1:]] = o[0] == "+"
        else:
            k, _, v = o.partition("=")
            user[k] = v == "on"
    return name, user, check, enforce


def model_row(data, irqchip, option, host=None):
    cat, cpuid, h = data
    name, user, check, enforce = parse(option)
    props = cat.expand("full", name, None)["model"]["props"]
    req = hostcpu.requested(props, cpuid, irqchip, user)
    got, warnings, error = hostcpu.realize(req, host or h, cpuid, irqchip, check, enforce)
    values = None if error else tuple(f in got for f in PROBE)
    return values, warnings, error


@pytest.mark.parametrize("irqchip,option,values,warnings,error", MATRIX)
def test_matrix_model(data, irqchip, option, values, warnings, error):
    assert model_row(data, irqchip, option) == (values, warnings, error)


def test_host_model_is_the_captured_host_expansion(data):
    """-cpu host from the CPUID file = the capture's host expansion (KVM, -machine none: an
    in-kernel irqchip), for every feature held in CPUID, with and without migratable."""
    cat, cpuid, h = data
    for migratable in (True, False):
        props = {} if migratable else {"migratable": False}
        rec = cat.build.recorded(
            "query-cpu-model-expansion",
            {"type": "full", "model": {"name": "host", **({"props": props} if props else {})}},
            "kvm",
        )["return"]["model"]["props"]
        ours = hostcpu.host_model(h, cpuid, "on", migratable)
        assert {f for f in cpuid if rec[f]} == ours


def test_unknown_bit_stays_off_and_old_kernel_tsc_deadline(data):
    """Synthetic hosts derived from the capture: a CPUID bit this QEMU has no name for (leaf 7.1
    EAX bit 21, AMX-FP16, unknown to 7.2) changes nothing; a kernel that does not report
    tsc-deadline (before the CPUID rework) loses it with kernel-irqchip=off."""
    cat, cpuid, h = data
    newer = copy.deepcopy(h)
    for e in newer["supported"]:
        if e[0] == 7 and e[1] == 1:
            e[3] |= 1 << 21
    assert hostcpu.host_model(newer, cpuid) == hostcpu.host_model(h, cpuid)
    old = copy.deepcopy(h)
    for e in old["supported"]:
        if e[0] == 1:
            e[5] &= ~(1 << 24)
    assert "tsc-deadline" in hostcpu.available(old, cpuid, "on")
    assert "tsc-deadline" not in hostcpu.available(old, cpuid, "off")
    assert model_row(data, "off", "qemu64,-pni,+tsc-deadline,enforce", host=old) == (
        None,
        [W + "CPUID.01H:ECX.tsc-deadline [bit 24]"],
        "Host doesn't support requested features",
    )


def live_matches(ours) -> bool:
    """This machine's /dev/kvm reports the CPUID data ``ours`` (a models/x86_64/hosts file)."""
    if ours is None or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    import tempfile

    import yaml

    tool = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "capture_x86_kvm_cpuid.py")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "h.yaml")
        subprocess.run([sys.executable, tool, "-o", out, "--name", "x"], check=True, capture_output=True)
        with open(out) as f:
            live = yaml.safe_load(f)
    # the APIC-ID fields (leaf 1 EBX, leaf 0xB EDX) depend on the CPU the ioctl ran on:
    # compare the feature bits this QEMU knows and the KVM caps
    cpuid = cpu.load_rules(cpu.RULES_FILES[(7, 2)])["cpuid"]
    # the feature MSRs too, when the file has them (not the microcode revision, 0x8b)
    msrs = [{k: v for k, v in (h.get("feature-msrs") or {}).items() if k != "0x8b"} for h in (live, ours)]
    return (hostcpu.reported(live, cpuid), live["kvm-caps"], _max_leaves(live)) == (
        hostcpu.reported(ours, cpuid),
        ours["kvm-caps"],
        _max_leaves(ours),
    ) and ("feature-msrs" not in ours or msrs[0] == msrs[1])


def _max_leaves(h):
    """The highest basic and extended leaves KVM reports (CPUID 0 and 0x80000000 EAX): ``-cpu
    host``'s ``level`` / ``xlevel``. A kernel update moved them on a machine whose feature bits
    stayed the capture host's (6.18.44 build v1272: 0x1c; v1300: 0x24)."""
    return sorted((e[0], e[3]) for e in h["supported"] if e[0] in (0, 0x80000000) and e[1] == 0)


def _same_host(tmp_path):
    return live_matches(hostcpu.load_host(HOST))


@pytest.mark.realqemu
def test_matrix_against_real_qemu(tmp_path):
    binary = need_binary("qemu-system-x86_64")
    if not _same_host(tmp_path):
        # this machine is not the host HOST was captured on: the rows on this machine instead
        matrix_live_kvm(binary)
        return
    bad = []
    for irqchip, option, values, warnings, error in MATRIX:
        got = real_row(binary, irqchip, option)
        if got != (values, warnings, error):
            bad.append("%s %s: real %s, table %s" % (irqchip, option, got, (values, warnings, error)))
    assert not bad, "\n".join(bad)


def real_row(binary, irqchip, option):
    """(values of PROBE or None, warnings, error) of the real binary under KVM."""
    script = "".join(
        json.dumps(m) + "\n"
        for m in [{"execute": "qmp_capabilities"}]
        + [
            {"execute": "qom-get", "arguments": {"path": "/machine/unattached/device[0]", "property": p}}
            for p in PROBE
        ]
        + [{"execute": "quit"}]
    )
    r = subprocess.run(
        [
            binary,
            "-S",
            "-nodefaults",
            "-display",
            "none",
            "-machine",
            "pc,accel=kvm,kernel-irqchip=" + irqchip,
            "-cpu",
            option,
            "-qmp",
            "stdio",
        ],
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
    )
    lines = [l.removeprefix("qemu-system-x86_64: ") for l in r.stderr.splitlines()]
    got_w = [l.removeprefix("warning: ") for l in lines if l.startswith("warning: host doesn't")]
    got_e = next((l for l in lines if not l.startswith("warning: ")), None)
    got_v = tuple(
        json.loads(l)["return"]
        for l in r.stdout.splitlines()
        if l.startswith('{"return": ') and l not in ('{"return": {}}',)
    )
    return (got_v or None, got_w, got_e)


def matrix_live_kvm(binary):
    """The matrix's rows on THIS machine: the real binary and the model with this machine's
    /dev/kvm data (recorded for the session by tests/support/livehost.py) agree."""
    build = load_profile("qemu-7.2-debian-x86_64").build
    cat = cpu.catalog(build, "kvm")
    data = cat, cat.rules["cpuid"], hostcpu.load_host(HOST)
    root, _ = live_profiles()
    live = hostcpu.read_yaml(os.path.join(root, "x86_64", "hosts", "live-kvm.yaml"))
    bad = []
    for irqchip, option, _values, _warnings, _error in MATRIX:
        got = real_row(binary, irqchip, option)
        ours = model_row(data, irqchip, option, host=live)
        if got != ours:
            bad.append("%s %s: real %s, model %s" % (irqchip, option, got, ours))
    assert not bad, "\n".join(bad)


def test_filter_walks_feature_words_in_qemus_order(data):
    """x86_cpu_filter_features warns word by word in FeatureWord order, bit by bit (measured:
    01H:EDX before 01H:ECX before 07H:EBX before 80000001H:EDX before 0DH:EAX), whatever the
    order of the CPUID table; TCG's texts differ from the host's only in the subject."""
    cat, cpuid, _h = data
    words = cat.rules["feature-words"]
    asked = {"xsavec", "abm", "rdtscp", "hle", "vme", "x2apic", "pni"}
    got, warnings, error = hostcpu.filter_features(asked, set(), cpuid, "TCG", True, True, words)
    assert got == set()
    assert [w.split(": ", 1)[1] for w in warnings] == [
        "CPUID.01H:EDX.vme [bit 1]",
        "CPUID.01H:ECX.pni [bit 0]",
        "CPUID.01H:ECX.x2apic [bit 21]",
        "CPUID.07H:EBX.hle [bit 4]",
        "CPUID.80000001H:EDX.rdtscp [bit 27]",
        "CPUID.80000001H:ECX.abm [bit 5]",
        "CPUID.0DH:EAX.xsavec [bit 1]",
    ]
    assert warnings[0].startswith("TCG doesn't support requested feature: ")
    assert error == "TCG doesn't support requested features"
    assert hostcpu.filter_features(asked, set(), cpuid, "host", False, False, words)[1:] == ([], None)
