"""Built-in hosts: schema, sources, consistency, and the feature helpers."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from qmpserver.arch.arm64 import kvm
from qmpserver.arch.arm64 import sysreg as sr
from qmpserver.arch.arm64.sysreg import DataError
from qmpserver.arch.steps import HOST_CHECKS

HOSTS_DIR = sr.models_dir() / "hosts"
SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "schemas" / "host.schema.json").read_text())
BUILTIN = [
    "graviton2-n1-5.10",
    "altra-n1-6.8",
    "graviton3-v1-6.1",
    "graviton4-v2-6.12",
    "axion-v2-6.17",
    "grace-v2-6.8",
    "ampereone-a-mte-6.18",
    "cix-p1-a720-mte3-6.12",
    "tcg-only",
    "x86-64-kvm-host",
    "qemu-7.2-debian-x86-64",  # captured with the x86_64 7.2 build (issue 11)
    "qemu-7.2-debian-ppc64",  # captured with the ppc64 7.2 build, TCG only (issue 12)
    "qemu-10.0-debian-ppc64",  # captured with the ppc64 10.0 build (bookworm-backports), TCG only
    "qemu-10.0-debian-x86-64",  # captured with the x86_64 10.0 build (bookworm-backports), KVM + TCG
    # real x86 machines from libvirt's cputestdata, with their CPUID data (issue 11)
    "x86-skylake-sp-5.15",
    "x86-cascadelake-6.1",
    "x86-icelake-sp-6.8",
    "x86-cooperlake-6.14",
    "x86-sapphire-rapids-6.1",
    "x86-epyc-naples-5.10",
    "x86-epyc-rome-6.18",
    "x86-epyc-milan-6.17",
    "x86-epyc-genoa-6.12",
    # the AMD EPYC machine the MSR work ran on, its /dev/kvm CPUID and feature MSRs (issue 11)
    "x86-capture-amd-epyc-6.18",
    # POWER hosts with KVM caps (issue 12; values mostly synthetic, see docs/ppc64.md)
    "power8-bare-metal-5.15",
    "power9-bare-metal-5.14",
    "power9-nested-l1-gtse-off",
    "power10-powervm-6.10",
]


def _host(name):
    return sr.load_yaml(HOSTS_DIR / f"{name}.yaml")


def test_all_builtin_hosts_exist():
    assert sorted(p.stem for p in HOSTS_DIR.glob("*.yaml")) == sorted(BUILTIN)


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", BUILTIN)
def test_host_validates_against_schema(name):
    jsonschema.Draft202012Validator(SCHEMA).validate(_host(name))


@pytest.mark.parametrize("name", BUILTIN)
def test_host_semantic_checks(name):
    h, file = _host(name), str(HOSTS_DIR / f"{name}.yaml")
    if h["arch"] == "ppc64":  # the schema here, the target's own check (arch/steps.py HOST_CHECKS)
        jsonschema.Draft202012Validator(SCHEMA).validate(h)
        HOST_CHECKS["ppc64"](h, file)
        return
    kvm.validate_host(h, file=file)


def test_a_misspelt_ppc64_kvm_cap_is_an_error():
    h = _host("power9-bare-metal-5.14")
    h["kvm"]["caps"]["KVM_CAP_PPC_HTMM"] = 1
    with pytest.raises(DataError, match=r"kvm\.caps\.KVM_CAP_PPC_HTMM: unknown capability"):
        HOST_CHECKS["ppc64"](h, "power9-bare-metal-5.14.yaml")


@pytest.mark.parametrize("name", BUILTIN)
def test_every_figure_has_a_source(name):
    h = _host(name)
    refs = set(h["sources"]["refs"])
    paths = kvm.figure_paths(h)
    assert paths
    for p in paths:
        src = kvm.source_of(h, p)
        assert src, f"{name}: {p} has no source"
        for r in src:
            assert r == "synthetic" or r in refs, f"{name}: {p} -> unknown ref {r!r}"


@pytest.mark.parametrize("name", [n for n in BUILTIN if _host(n)["arch"] == "aarch64"])
def test_aarch64_host_consistency(name):
    h = _host(name)
    ids = h["idregs"]
    assert ids["MIDR_EL1"] == h["cpu"]["midr"]
    midr = sr.decode("MIDR_EL1", h["cpu"]["midr"])
    assert sr.value_name("MIDR_EL1", "Implementer", midr["Implementer"]) == h["cpu"]["implementer"]
    caps = h["kvm"]["caps"]
    assert bool(caps["KVM_CAP_ARM_SVE"]) == sr.sve_present(h) == bool(h["kvm"]["sve_vector_lengths"])
    p = sr.pauth(h)
    assert caps["KVM_CAP_ARM_PTRAUTH_ADDRESS"] == int(p["address"])
    assert caps["KVM_CAP_ARM_PTRAUTH_GENERIC"] == int(p["generic"])
    assert caps["KVM_CAP_ARM_MTE"] == int(sr.mte_level(h) >= 2)
    assert caps["KVM_CAP_ARM_PMU_V3"] == int(sr.pmu_present(h))
    assert caps["KVM_CAP_ARM_EL1_32BIT"] == int(sr.aarch32_el1(h))
    assert sr.gic_sysregs(h) == 1 and h["kvm"]["gic"]["v3"]
    rel = kvm.parse_release(h["kernel"]["release"])
    assert caps.get("KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES", 0) == int(rel >= (6, 7, 0))
    for reg, val in ids.items():
        sr.decode(reg, val)  # fits the register
    if sr.mte_level(h) >= 2:
        assert "GMID_EL1" in ids


EXPECT = {
    # name: (mte, sve, pauth address, pauth generic, pmu, aarch32 el0, sve2 level)
    "graviton2-n1-5.10": (0, False, False, False, True, True, None),
    "altra-n1-6.8": (0, False, False, False, True, True, None),
    "graviton3-v1-6.1": (0, True, True, True, True, True, 0),
    "graviton4-v2-6.12": (0, True, True, True, True, False, 1),
    "axion-v2-6.17": (0, True, True, True, True, False, 1),
    "grace-v2-6.8": (0, True, False, False, True, False, 1),
    "ampereone-a-mte-6.18": (2, False, True, True, True, False, None),
    "cix-p1-a720-mte3-6.12": (3, True, True, True, True, False, 1),
}


@pytest.mark.parametrize("name", list(EXPECT))
def test_feature_helpers(name):
    h = _host(name)
    mte, sve, pa, pg, pmu, a32, sve2 = EXPECT[name]
    assert sr.mte_level(h) == mte
    assert sr.sve_present(h) is sve
    assert sr.pauth(h)["address"] is pa and sr.pauth(h)["generic"] is pg
    assert sr.pauth_present(h) is (pa or pg)
    assert sr.pmu_present(h) is pmu
    assert sr.aarch32_el0(h) is a32
    assert sr.aarch32_el1(h) is False
    assert sr.sve2_level(h) == sve2


def test_helpers_accept_plain_idregs():
    assert sr.mte_level({"ID_AA64PFR1_EL1": 0x301}) == 3
    assert sr.mte_level({}) == 0
    assert sr.pauth({"ID_AA64ISAR2_EL1": 0x1100})["algorithm"] == "qarma3"
    assert sr.pmu_present({"ID_AA64DFR0_EL1": 0xF00}) is False  # IMP_DEF PMU = no PMUv3


def test_specific_host_facts():
    assert sr.pauth(_host("graviton4-v2-6.12"))["algorithm"] == "qarma5"
    assert sr.mte_frac(_host("ampereone-a-mte-6.18")) == 0
    grace = _host("grace-v2-6.8")
    assert grace["kvm"]["caps"]["KVM_CAP_ARM_PTRAUTH_ADDRESS"] == 0
    assert all(v == 0 for v in sr.pauth(grace)["fields"].values())
    assert _host("axion-v2-6.17")["kvm"]["caps"]["KVM_CAP_ARM_WRITABLE_IMP_ID_REGS"] == 1


def test_x86_hosts():
    tcg = _host("tcg-only")
    assert tcg["arch"] == "x86_64" and tcg["kvm"]["present"] is False
    assert tcg["targets"] == {"aarch64": {"accels": ["tcg"]}}
    assert kvm.host_cap(tcg, "KVM_CAP_ARM_MTE") == 0
    x86 = _host("x86-64-kvm-host")
    assert x86["kvm"]["present"] is True and "kvm" not in x86["targets"]["aarch64"]["accels"]
    assert kvm.host_cap(x86, "KVM_CAP_TSC_DEADLINE_TIMER") == 1


# ---------------------------------------------------------------- firmware


def _fw(name, **kw):
    h = _host(name)
    return {r["name"]: r for r in kvm.firmware_regs(None, h, **kw)}


def test_firmware_regs_per_release():
    g2 = _fw("graviton2-n1-5.10")
    assert g2["KVM_REG_ARM_PSCI_VERSION"]["default"] == 0x10000
    assert "KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_3" in g2  # 5.10.104+ backport
    assert "KVM_REG_ARM_STD_BMAP" not in g2  # bitmaps from 5.19
    assert g2["KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_1"]["default"] == 2  # CSV2 core
    g3 = _fw("graviton3-v1-6.1")
    assert g3["KVM_REG_ARM_PSCI_VERSION"]["default"] == 0x10001
    assert g3["KVM_REG_ARM_VENDOR_HYP_BMAP"]["default"] == 0x3
    assert "KVM_REG_ARM_VENDOR_HYP_BMAP_2" not in g3
    g4 = _fw("graviton4-v2-6.12")
    assert g4["KVM_REG_ARM_PSCI_VERSION"]["default"] == 0x10001
    ax = _fw("axion-v2-6.17")
    assert ax["KVM_REG_ARM_PSCI_VERSION"]["default"] == 0x10003
    assert ax["KVM_REG_ARM_VENDOR_HYP_BMAP_2"]["default"] == 0
    assert ax["KVM_REG_ARM_VENDOR_HYP_BMAP_2"]["settable"] == {"bits": 0x3}
    assert ax["KVM_REG_ARM_STD_BMAP"]["id"] == 0x6030000000160000
    assert kvm.firmware_regs("5.4.0") and "KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_3" not in {
        r["name"] for r in kvm.firmware_regs("5.4.0")
    }


def test_firmware_override():
    h = _host("graviton4-v2-6.12")
    h["firmware"] = {"KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_2": 3}
    regs = {r["name"]: r for r in kvm.firmware_regs(None, h)}
    assert regs["KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_2"]["default"] == 3
    assert regs["KVM_REG_ARM_SMCCC_ARCH_WORKAROUND_2"]["overridden"] is True


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    "mutate,path,text",
    [
        (lambda h: h["cpu"].pop("midr"), "cpu", "'midr' is a required property"),
        (
            lambda h: h["idregs"].__setitem__("ID_AA64PFR0_EL1", "0x12"),
            "idregs.ID_AA64PFR0_EL1",
            "not of type 'integer'",
        ),
        (lambda h: h["kvm"].__setitem__("extra", 1), "kvm", "Additional properties"),
        (lambda h: h["idregs"].__setitem__("FOO_EL1", 1), "idregs.FOO_EL1", "unknown register"),
        (
            lambda h: h["kvm"]["caps"].__setitem__("KVM_CAP_ARM_EL2", 1),
            "kvm.caps.KVM_CAP_ARM_EL2",
            "does not know",
        ),
        (lambda h: h["sources"]["fields"].pop("cpu.count"), "cpu.count", "no source"),
        (
            lambda h: h["sources"]["fields"].__setitem__("cpu.count", "nowhere"),
            "sources.fields.cpu.count",
            "neither a ref",
        ),
        (lambda h: h["idregs"].__setitem__("MIDR_EL1", 0x410FD4F0), "idregs.MIDR_EL1", "expected cpu.midr"),
        (lambda h: h.__setitem__("name", "other"), "name", "file name"),
    ],
)
def test_bad_host_errors_name_file_path_and_expectation(mutate, path, text):
    h = copy.deepcopy(_host("graviton4-v2-6.12"))
    mutate(h)
    f = str(HOSTS_DIR / "graviton4-v2-6.12.yaml")
    with pytest.raises(sr.DataError) as ei:
        kvm.validate_host(h, file=f)
    msg = str(ei.value)
    assert msg.startswith(f + ": " + path + ": "), msg
    assert text in msg


def test_load_host_round_trip(tmp_path):
    p = tmp_path / "graviton4-v2-6.12.yaml"
    p.write_text((HOSTS_DIR / "graviton4-v2-6.12.yaml").read_text().replace("count: 96", "count: -1"))
    with pytest.raises(sr.DataError, match=r"cpu.count: -1 is less than the minimum of 1"):
        kvm.load_host(p)
