"""Writable masks computed from the per-release field lists, checked against
the hex masks printed in arm-host-facts section 2.2."""

import pytest

from qmpserver.arch.arm64 import kvm
from qmpserver.arch.arm64 import sysreg as sr

# (release, register) -> mask printed in section 2.2
EXPECTED = {
    "6.7": {
        "ID_AA64PFR0_EL1": 0xFFFF00F00000FFFF,
        "ID_AA64DFR0_EL1": 0x0000000000000F0F,
        "ID_DFR0_EL1": 0x0F00000F,
        "ID_AA64ZFR0_EL1": 0x0FF0FF0F0FFF00FF,
        "ID_AA64ISAR0_EL1": 0xFFFFFFFFFFFFFFF0,
        "ID_AA64ISAR1_EL1": 0xFFFFFFFF00FFF00F,
        "ID_AA64ISAR2_EL1": 0x00FF0000FFFF00FF,
        "ID_AA64MMFR0_EL1": 0xFF00F000FFFFFFFF,
        "ID_AA64MMFR1_EL1": 0xFFFFF0F00FFFF00F,
        "ID_AA64MMFR2_EL1": 0xF0FF000FF00FFFFF,
        "ID_AA64PFR1_EL1": 0,  # "PFR1: not writable"
        "CLIDR_EL1": 0xFFFFFFFFFFFFFFFF,  # "CLIDR reported all-ones"
    },
    "6.11": {
        "CTR_EL0": 0x300F000F,
        "ID_AA64MMFR3_EL1": 0x0F0F,
        "CLIDR_EL1": 0x00007FFFFFFFFFFF,  # "~RES0"
    },
    "6.12": {
        "ID_AA64PFR0_EL1": 0xFFFF00F00F00FFFF,
        "ID_AA64PFR1_EL1": 0x0000000F000000FF,
        "ID_AA64DFR0_EL1": 0x000000F000F00F0F,
        "ID_AA64MMFR3_EL1": 0x000F0F0F,
        "ID_AA64PFR2_EL1": 0x0000000F00000000,
    },
    "6.13": {
        "CTR_EL0": 0x300FC00F,
        "ID_AA64MMFR0_EL1": 0xFF00F000FFFFFF0F,
    },
    "6.15": {
        "MIDR_EL1": 0x00000000FFFFFFFF,
        "ID_AA64MMFR0_EL1": 0xFF00FFFFFFFFFF0F,
        "ID_AA64MMFR4_EL1": 0x0000000000F00000,
        "REVIDR_EL1": 0xFFFFFFFFFFFFFFFF,
        "AIDR_EL1": 0xFFFFFFFFFFFFFFFF,
    },
    "6.18": {
        "ID_AA64MMFR1_EL1": 0xFFFFFFFF0FFFF00F,
        "ID_AA64ISAR3_EL1": 0x00000000F00F00F0,
        "ID_AA64PFR2_EL1": 0x0000000F00000FF0,
        **{
            r: 0xFFFFFFFF
            for r in (
                "ID_PFR0_EL1",
                "ID_PFR1_EL1",
                "ID_PFR2_EL1",
                "ID_DFR0_EL1",
                "ID_MMFR0_EL1",
                "ID_MMFR1_EL1",
                "ID_MMFR2_EL1",
                "ID_MMFR3_EL1",
                "ID_MMFR4_EL1",
                "ID_MMFR5_EL1",
                "ID_ISAR0_EL1",
                "ID_ISAR1_EL1",
                "ID_ISAR2_EL1",
                "ID_ISAR3_EL1",
                "ID_ISAR4_EL1",
                "ID_ISAR5_EL1",
                "ID_ISAR6_EL1",
                "MVFR0_EL1",
                "MVFR1_EL1",
                "MVFR2_EL1",
            )
        },
    },
}
# Discrepancy notes (none needed so far): the printed masks were themselves
# derived (tag [D]) from the same field lists for the layout of the time;
# the ZFR0 and ISAR2 rows of 6.7 only match because fields added later
# (F16MM, EltPerm, ATS1A, LUT, ...) carry a `since` in the field table.

CASES = [(rel, reg, mask) for rel, regs in EXPECTED.items() for reg, mask in regs.items()]


@pytest.mark.parametrize("rel,reg,mask", CASES, ids=[f"{r}-{g}" for r, g, _ in CASES])
def test_mask_matches_section_2_2(rel, reg, mask):
    got = kvm.writable_masks(rel, imp_id_regs=True)[reg]
    assert got == mask, f"{reg} on {rel}: computed {got:#018x}, section 2.2 says {mask:#018x}"


def test_unchanged_rows_carry_over():
    # 6.8-6.10 have no new writable fields: same as 6.7
    # except "all fields" masks of registers whose description grew (ISAR2
    # gained SYSREG_128 & co., release unverified): those follow the layout.
    grown = {"ID_AA64ISAR2_EL1", "ID_AA64ZFR0_EL1"}
    m67 = kvm.writable_masks("6.7")
    for rel in ("6.8", "6.9", "6.10"):
        m = kvm.writable_masks(rel)
        for reg, v in m67.items():
            if reg not in grown:
                assert m[reg] == v, (rel, reg)
        assert m["ID_AA64ISAR2_EL1"] & m67["ID_AA64ISAR2_EL1"] == m67["ID_AA64ISAR2_EL1"]
    # 6.14 = 6.13, 6.19 / 7.x = 6.18 (no mask changes found)
    assert kvm.writable_masks("6.14") == kvm.writable_masks("6.13")
    assert kvm.writable_masks("7.2") == kvm.writable_masks("6.18")


def test_no_ioctl_before_6_7():
    assert kvm.writable_masks("6.6") == {}
    assert kvm.writable_masks("5.10.230") == {}
    assert kvm.writable_mask_array("6.1") is None
    assert kvm.writable_properties("6.1") == []


def test_mask_array_layout():
    arr = kvm.writable_mask_array("6.12")
    assert len(arr) == 192
    assert arr[32] == 0xFFFF00F00F00FFFF and arr[129] == 0x300F000F and arr[27] == 0


def test_mte_never_writable():
    mte = sr.field_mask(sr.field("ID_AA64PFR1_EL1", "MTE"))
    frac = sr.field_mask(sr.field("ID_AA64PFR1_EL1", "MTE_frac"))
    for minor in range(7, 20):
        m = kvm.writable_masks(f"6.{minor}", imp_id_regs=True)
        assert m["ID_AA64PFR1_EL1"] & (mte | frac) == 0
    for rel in ("7.0", "7.1", "7.2"):
        assert kvm.writable_masks(rel)["ID_AA64PFR1_EL1"] & (mte | frac) == 0


def _host(name):
    return sr.load_yaml(sr.models_dir() / "hosts" / f"{name}.yaml")


def test_aarch32_zero_without_32bit_el0():
    g4 = _host("graviton4-v2-6.12")  # AArch64-only
    m = kvm.writable_masks("6.18", g4)
    assert m["ID_PFR0_EL1"] == 0 and m["ID_DFR0_EL1"] == 0 and m["MVFR0_EL1"] == 0
    alt = _host("altra-n1-6.8")  # N1: AArch32 at EL0
    m = kvm.writable_masks("6.18", alt)
    assert m["ID_PFR0_EL1"] == 0xFFFFFFFF
    assert kvm.writable_masks(None, alt)["ID_DFR0_EL1"] == 0x0F00000F


def test_imp_id_regs_need_the_cap():
    axion = _host("axion-v2-6.17")  # offers KVM_CAP_ARM_WRITABLE_IMP_ID_REGS
    assert kvm.writable_masks(None, axion)["MIDR_EL1"] == 0xFFFFFFFF
    assert kvm.writable_masks(None, axion, imp_id_regs=False)["MIDR_EL1"] == 0
    g4 = _host("graviton4-v2-6.12")  # 6.12: no such cap
    assert kvm.writable_masks(None, g4)["MIDR_EL1"] == 0
    assert kvm.writable_masks("6.14", imp_id_regs=True)["MIDR_EL1"] == 0


def test_writable_properties_names():
    props = kvm.writable_properties("6.12")
    assert "SYSREG_ID_AA64ISAR0_EL1_DP" in props
    assert "SYSREG_ID_AA64PFR1_EL1_BT" in props
    assert "SYSREG_ID_AA64PFR1_EL1_MTE" not in props
    assert "SYSREG_ID_AA64DFR0_EL1_BRPs" not in props


def test_bad_rules_give_path():
    rules = {
        "ioctl": {"since": "6.7"},
        "releases": [{"release": "6.7", "changes": [{"reg": "ID_AA64PFR1_EL1", "add": ["NOPE"]}]}],
    }
    with pytest.raises(
        sr.DataError, match=r"releases\[0\]\.changes\[0\]\.add\[0\]: ID_AA64PFR1_EL1 has no field 'NOPE'"
    ):
        kvm.writable_masks("6.7", rules=rules)


def test_release_parsing():
    assert kvm.parse_release("6.12.0-55.el10.aarch64") == (6, 12, 0)
    assert kvm.parse_release("7.0") == (7, 0, 0)
    with pytest.raises(sr.SysregError, match="expected MAJOR.MINOR"):
        kvm.parse_release("linux")
