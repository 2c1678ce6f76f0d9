"""KVM_SET_ONE_REG acceptance vectors (arm-host-facts section 2.3/2.4)."""

import pytest

from qmpserver.arch.arm64 import kvm
from qmpserver.arch.arm64 import sysreg as sr


def _host(name):
    return sr.load_yaml(sr.models_dir() / "hosts" / f"{name}.yaml")


@pytest.mark.parametrize(
    "reg,field,host,req,rel,ok",
    [
        # unsigned, inside the mask: lower or equal accepted, higher refused
        ("ID_AA64ISAR0_EL1", "DP", 1, 0, "6.7", True),
        ("ID_AA64ISAR0_EL1", "SHA2", 2, 1, "6.7", True),
        ("ID_AA64ISAR0_EL1", "SHA2", 1, 2, "6.7", False),
        ("ID_AA64ISAR0_EL1", "DP", 1, 1, "6.7", True),
        # same value always accepted, even outside the mask
        ("ID_AA64PFR1_EL1", "MTE", 3, 3, "6.12", True),
        ("ID_AA64ISAR1_EL1", "APA", 5, 5, "6.7", True),
        # not writable: PAuth fields stay host-exact
        ("ID_AA64ISAR1_EL1", "APA", 5, 0, "6.7", False),
        # before 6.7 nothing but the legacy paths
        ("ID_AA64ISAR0_EL1", "DP", 1, 0, "6.6", False),
        ("ID_AA64PFR0_EL1", "CSV2", 1, 0, "6.1", True),
        ("ID_AA64PFR0_EL1", "CSV2", 1, 0, "5.10.230", False),
        # signed TGRAN4: 0xF (NI) is lower than 0 (IMP); 52_BIT (1) is higher
        ("ID_AA64MMFR0_EL1", "TGRAN4", 0x0, 0xF, "6.7", True),
        ("ID_AA64MMFR0_EL1", "TGRAN4", 0x0, 0x1, "6.7", False),
        ("ID_AA64MMFR0_EL1", "TGRAN4", 0xF, 0x0, "6.7", False),
        ("ID_AA64MMFR0_EL1", "TGRAN64", 0x0, 0xF, "6.7", True),
        # exact (enum) fields inside a writable register
        ("ID_AA64MMFR0_EL1", "ASIDBITS", 2, 0, "6.13", False),
        ("ID_AA64MMFR2_EL1", "CCIDX", 1, 0, "6.7", False),
        # PFR1: BT/SSBS lowerable from 6.12, not in 6.11
        ("ID_AA64PFR1_EL1", "BT", 1, 0, "6.12", True),
        ("ID_AA64PFR1_EL1", "BT", 1, 0, "6.11", False),
        ("ID_AA64PFR1_EL1", "SSBS", 2, 1, "6.12", True),
        # DFR0 specials
        ("ID_AA64DFR0_EL1", "DebugVer", 9, 6, "6.7", True),
        ("ID_AA64DFR0_EL1", "DebugVer", 9, 5, "6.7", False),
        ("ID_AA64DFR0_EL1", "PMUVer", 6, 4, "6.7", True),
        ("ID_AA64DFR0_EL1", "PMUVer", 6, 0xF, "6.7", True),  # IMP_DEF becomes NI
        ("ID_AA64DFR0_EL1", "PMUVer", 4, 6, "6.7", False),
        ("ID_AA64DFR0_EL1", "BRPs", 5, 3, "6.12", False),  # deliberately excluded
        ("ID_AA64DFR0_EL1", "WRPs", 3, 1, "6.12", True),
        ("ID_AA64DFR0_EL1", "DoubleLock", 0, 0xF, "6.12", True),  # signed: NI lower than IMP
        ("ID_DFR0_EL1", "PerfMon", 4, 3, "6.7", True),
        ("ID_DFR0_EL1", "PerfMon", 4, 2, "6.7", False),
        ("ID_DFR0_EL1", "PerfMon", 4, 0, "6.7", True),
        # CTR_EL0: lower line sizes from 6.11; L1Ip PIPT->VIPT only from 6.13
        ("CTR_EL0", "DminLine", 4, 3, "6.11", True),
        ("CTR_EL0", "DminLine", 4, 3, "6.10", False),
        ("CTR_EL0", "L1Ip", 3, 2, "6.13", True),
        ("CTR_EL0", "L1Ip", 2, 3, "6.13", False),
        ("CTR_EL0", "L1Ip", 3, 2, "6.12", False),
        # MPAM: ignored from 6.13, refused before
        ("ID_AA64PFR0_EL1", "MPAM", 1, 0, "6.13", True),
        ("ID_AA64PFR0_EL1", "MPAM", 1, 0, "6.12", False),
        # MIDR: needs 6.15 + the cap (no host given: cap assumed enabled)
        ("MIDR_EL1", "PartNum", 0xD4F, 0xD49, "6.15", True),
        ("MIDR_EL1", "PartNum", 0xD4F, 0xD49, "6.14", False),
    ],
)
def test_vectors(reg, field, host, req, rel, ok):
    why = kvm.check_field_write(reg, field, host, req, rel)
    assert (why is None) == ok, why
    if not ok:
        assert reg in why and field in why


@pytest.mark.parametrize("minor", range(7, 20))
@pytest.mark.parametrize("host_level,req", [(3, 2), (2, 3), (2, 0), (3, 0), (2, 1)])
def test_mte_never_writable(minor, host_level, req):
    why = kvm.check_field_write("ID_AA64PFR1_EL1", "MTE", host_level, req, f"6.{minor}", imp_id_regs=True)
    assert why is not None and "not writable" in why


def test_cix_mte3_cannot_become_mte2():
    cix = _host("cix-p1-a720-mte3-6.12")
    host_level = sr.mte_level(cix)
    assert host_level == 3
    why = kvm.check_field_write("ID_AA64PFR1_EL1", "MTE", host_level, 2, kvm.host_release(cix), host=cix)
    assert "not writable on Linux 6.12" in why


def test_mte_frac_zero_accepted_from_6_16_when_host_says_no_async():
    host = {
        "kind": "host",
        "idregs": {"ID_AA64PFR1_EL1": sr.encode("ID_AA64PFR1_EL1", {"MTE": 2, "MTE_frac": 0xF})},
    }
    assert kvm.check_field_write("ID_AA64PFR1_EL1", "MTE_frac", 0xF, 0, "6.16", host=host) is None
    assert kvm.check_field_write("ID_AA64PFR1_EL1", "MTE_frac", 0xF, 0, "6.15", host=host) is not None


def test_imp_id_regs_follow_the_host_cap():
    axion, g4 = _host("axion-v2-6.17"), _host("graviton4-v2-6.12")
    assert kvm.check_field_write("MIDR_EL1", "Revision", 1, 0, "6.17", host=axion) is None
    why = kvm.check_field_write("MIDR_EL1", "Revision", 1, 0, "6.17", host=axion, imp_id_regs=False)
    assert "KVM_CAP_ARM_WRITABLE_IMP_ID_REGS" in why
    assert kvm.check_field_write("MIDR_EL1", "Revision", 1, 0, "6.12", host=g4) is not None


def test_aarch32_fields_on_aarch64_only_host():
    g4 = _host("graviton4-v2-6.12")
    why = kvm.check_field_write("ID_ISAR5_EL1", "AES", 0, 1, "6.18", host=g4)
    assert "32-bit EL0" in why
    alt = _host("altra-n1-6.8")
    assert kvm.check_field_write("ID_ISAR5_EL1", "AES", 2, 1, "6.18", host=alt) is None


def test_tgran2_refused_with_nv():
    assert kvm.check_field_write("ID_AA64MMFR0_EL1", "TGRAN4_2", 2, 1, "6.15") is None
    assert "EL2" in kvm.check_field_write("ID_AA64MMFR0_EL1", "TGRAN4_2", 2, 1, "6.15", nv=True)


def test_register_write():
    g4 = _host("graviton4-v2-6.12")
    isar0 = g4["idregs"]["ID_AA64ISAR0_EL1"]
    lowered = sr.set_field("ID_AA64ISAR0_EL1", isar0, "RNDR", 0)
    assert kvm.check_register_write("ID_AA64ISAR0_EL1", isar0, lowered, "6.12") is None
    assert kvm.check_register_write("ID_AA64ISAR0_EL1", isar0, isar0 | 0x1, "6.12") is not None  # RES0 bits
    raised = sr.set_field("ID_AA64ISAR0_EL1", isar0, "SM4", 1)
    assert "SM4" in kvm.check_register_write("ID_AA64ISAR0_EL1", isar0, raised, "6.12")


def test_bad_arguments_are_clear():
    with pytest.raises(sr.SysregError, match="does not fit"):
        kvm.check_field_write("ID_AA64PFR1_EL1", "MTE", 2, 16, "6.12")
    with pytest.raises(sr.SysregError, match="no field"):
        kvm.check_field_write("ID_AA64PFR1_EL1", "NOPE", 0, 0, "6.12")
    with pytest.raises(sr.SysregError, match="kernel release"):
        kvm.check_field_write("ID_AA64PFR1_EL1", "BT", 1, 0, "new")
