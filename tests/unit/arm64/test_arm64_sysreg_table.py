"""The ID-register field table: shape, encodings, decode/encode, names."""

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qmpserver.arch.arm64 import sysreg as sr

TABLE = sr.sysreg_table()
REGS = TABLE["registers"]

# arm-host-facts section 1.2: every register with an encoding row
SECTION_1_2 = [
    "MIDR_EL1",
    "MPIDR_EL1",
    "REVIDR_EL1",
    "ID_PFR0_EL1",
    "ID_PFR1_EL1",
    "ID_DFR0_EL1",
    "ID_AFR0_EL1",
    "ID_MMFR0_EL1",
    "ID_MMFR1_EL1",
    "ID_MMFR2_EL1",
    "ID_MMFR3_EL1",
    "ID_ISAR0_EL1",
    "ID_ISAR1_EL1",
    "ID_ISAR2_EL1",
    "ID_ISAR3_EL1",
    "ID_ISAR4_EL1",
    "ID_ISAR5_EL1",
    "ID_MMFR4_EL1",
    "ID_ISAR6_EL1",
    "MVFR0_EL1",
    "MVFR1_EL1",
    "MVFR2_EL1",
    "ID_PFR2_EL1",
    "ID_DFR1_EL1",
    "ID_MMFR5_EL1",
    "ID_AA64PFR0_EL1",
    "ID_AA64PFR1_EL1",
    "ID_AA64PFR2_EL1",
    "ID_AA64ZFR0_EL1",
    "ID_AA64SMFR0_EL1",
    "ID_AA64FPFR0_EL1",
    "ID_AA64DFR0_EL1",
    "ID_AA64DFR1_EL1",
    "ID_AA64DFR2_EL1",
    "ID_AA64AFR0_EL1",
    "ID_AA64AFR1_EL1",
    "ID_AA64ISAR0_EL1",
    "ID_AA64ISAR1_EL1",
    "ID_AA64ISAR2_EL1",
    "ID_AA64ISAR3_EL1",
    "ID_AA64MMFR0_EL1",
    "ID_AA64MMFR1_EL1",
    "ID_AA64MMFR2_EL1",
    "ID_AA64MMFR3_EL1",
    "ID_AA64MMFR4_EL1",
    "CCSIDR_EL1",
    "CLIDR_EL1",
    "CCSIDR2_EL1",
    "GMID_EL1",
    "SMIDR_EL1",
    "AIDR_EL1",
    "CSSELR_EL1",
    "CTR_EL0",
    "DCZID_EL0",
]
# section 1.3: registers whose fields must all be described
SECTION_1_3 = [
    "ID_AA64PFR0_EL1",
    "ID_AA64PFR1_EL1",
    "ID_AA64PFR2_EL1",
    "ID_AA64ZFR0_EL1",
    "ID_AA64DFR0_EL1",
    "ID_AA64ISAR0_EL1",
    "ID_AA64ISAR1_EL1",
    "ID_AA64ISAR2_EL1",
    "ID_AA64ISAR3_EL1",
    "ID_AA64MMFR0_EL1",
    "ID_AA64MMFR1_EL1",
    "ID_AA64MMFR2_EL1",
    "ID_AA64MMFR3_EL1",
    "ID_AA64MMFR4_EL1",
    "ID_AA64DFR1_EL1",
    "ID_AA64DFR2_EL1",
    "ID_AA64SMFR0_EL1",
    "ID_AA64FPFR0_EL1",
    "CTR_EL0",
    "CLIDR_EL1",
    "DCZID_EL0",
    "GMID_EL1",
    "MIDR_EL1",
    "ID_PFR0_EL1",
    "ID_PFR1_EL1",
    "ID_PFR2_EL1",
    "ID_DFR0_EL1",
    "ID_DFR1_EL1",
    "ID_ISAR5_EL1",
    "ID_ISAR6_EL1",
    "ID_MMFR5_EL1",
]


def test_section_1_2_registers_present():
    missing = [r for r in SECTION_1_2 if r not in REGS]
    assert not missing


@pytest.mark.parametrize("reg", SECTION_1_3)
def test_section_1_3_registers_have_fields(reg):
    assert sr.fields(reg), reg


@pytest.mark.parametrize("reg", list(REGS))
def test_register_shape(reg):
    r = REGS[reg]
    assert len(r["encoding"]) == 5
    assert r["width"] in (32, 64, 128)
    assert r["class"] in ("aarch64-id", "aarch32-id", "impdef-id", "cache-id", "per-vcpu")
    if r["kvm_id"] is not None:
        assert r["kvm_id"] == sr.kvm_one_reg_id(r["encoding"])
    assert r["mask_index"] == sr.feature_range_index(r["encoding"])
    used, prev = 0, r["width"]
    for f in r["fields"]:
        assert set(f) <= {"name", "msb", "lsb", "kind", "values", "since", "since_confidence"}, f
        assert f["kind"] in ("unsigned", "signed", "enum", "field")
        assert 0 <= f["lsb"] <= f["msb"] < prev, (reg, f["name"], "MSB-first, no overlap")
        prev = f["lsb"]
        m = sr.field_mask(f)
        assert not used & m
        used |= m
        for k, v in (f.get("values") or {}).items():
            assert isinstance(k, int) and 0 <= k < (1 << sr.field_width(f)), (reg, f["name"], k)
            assert isinstance(v, str), (reg, f["name"], k, v)


def test_spot_values_from_the_research_note():
    assert REGS["ID_AA64PFR1_EL1"]["encoding"] == [3, 0, 0, 4, 1]
    assert REGS["ID_AA64PFR1_EL1"]["kvm_id"] == 0x603000000013C021
    assert REGS["CTR_EL0"]["mask_index"] == 129 and REGS["DCZID_EL0"]["mask_index"] == 135
    assert REGS["GMID_EL1"]["mask_index"] == 68 and REGS["CSSELR_EL1"]["mask_index"] is None
    mte = sr.field("ID_AA64PFR1_EL1", "MTE")
    assert (mte["msb"], mte["lsb"], mte["kind"]) == (11, 8, "unsigned")
    assert mte["values"] == {0: "NI", 1: "IMP", 2: "MTE2", 3: "MTE3"}
    assert sr.field("ID_AA64MMFR0_EL1", "TGRAN4")["kind"] == "signed"
    assert sr.field("ID_AA64PFR0_EL1", "FP")["kind"] == "signed"
    assert sr.field("ID_AA64PFR1_EL1", "MTE_frac")["kind"] == "enum"
    assert sr.field("ID_AA64DFR0_EL1", "WRPs")["kind"] == "field"


def test_decode_known_value():
    d = sr.decode("MIDR_EL1", 0x410FD4F1)
    assert d == {"Implementer": 0x41, "Variant": 0, "Architecture": 0xF, "PartNum": 0xD4F, "Revision": 1}
    assert sr.value_name("MIDR_EL1", "Implementer", 0x41) == "Arm"
    assert sr.decode("ID_AA64PFR1_EL1", 0x221)["MTE"] == 2
    assert sr.value_of("ID_AA64PFR1_EL1", "MTE", "MTE3") == 3
    assert sr.value_name("ID_AA64PFR1_EL1", "MTE", 7) is None


def test_encode_and_set_field():
    v = sr.encode("ID_AA64PFR1_EL1", {"MTE": 3, "BT": 1})
    assert v == 0x301
    assert sr.set_field("ID_AA64PFR1_EL1", v, "MTE", 2) == 0x201
    assert sr.get_field("ID_AA64PFR1_EL1", 0x301, "MTE") == 3
    with pytest.raises(sr.SysregError, match="does not fit"):
        sr.encode("ID_AA64PFR1_EL1", {"MTE": 16})
    with pytest.raises(sr.SysregError, match="no field 'NOPE'"):
        sr.encode("ID_AA64PFR1_EL1", {"NOPE": 1})
    with pytest.raises(sr.SysregError, match="unknown system register"):
        sr.decode("NOT_A_REG", 0)
    with pytest.raises(sr.SysregError, match="64-bit"):
        sr.decode("ID_AA64PFR0_EL1", 1 << 64)


@settings(max_examples=200, deadline=None)
@given(reg=st.sampled_from([r for r in REGS if REGS[r]["fields"]]), value=st.integers(0, 2**64 - 1))
def test_decode_encode_round_trip(reg, value):
    covered = sr.register_mask(reg)
    value &= (1 << REGS[reg]["width"]) - 1
    fields = sr.decode(reg, value)
    assert sr.encode(reg, fields) == value & covered
    assert sr.encode(reg, fields, base=value) == value


@pytest.mark.parametrize("reg", [r for r in REGS if REGS[r]["fields"]])
def test_property_names_round_trip(reg):
    for name in sr.field_names(reg):
        prop = sr.property_name(reg, name)
        assert prop == f"SYSREG_{reg}_{name}"
        assert sr.parse_property_name(prop) == (reg, name)


def test_property_name_errors():
    with pytest.raises(sr.SysregError):
        sr.parse_property_name("ID_AA64ISAR0_EL1_DP")
    with pytest.raises(sr.SysregError):
        sr.parse_property_name("SYSREG_ID_AA64ISAR0_EL1_NOPE")
    assert sr.parse_property_name("SYSREG_ID_AA64ISAR0_EL1_DP") == ("ID_AA64ISAR0_EL1", "DP")
    assert sr.parse_property_name("SYSREG_ID_AA64MMFR0_EL1_TGRAN4_2") == ("ID_AA64MMFR0_EL1", "TGRAN4_2")


def test_signed_reading():
    f = sr.field("ID_AA64MMFR0_EL1", "TGRAN4")
    assert sr.signed_value(f, 0xF) == -1
    assert sr.signed_value(f, 1) == 1


def test_register_by_encoding():
    assert sr.register_by_encoding([3, 0, 0, 6, 0]) == "ID_AA64ISAR0_EL1"
    assert sr.register_by_encoding([3, 0, 0, 3, 3]) is None


def test_no_yaml_import_at_module_import():
    code = (
        "import sys; import qmpserver.arch.arm64.sysreg, qmpserver.arch.arm64.kvm; "
        "print('yaml' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_load_yaml_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(sr.DataError, match=r"bad.yaml: not valid YAML \(line"):
        sr.load_yaml(bad)
    with pytest.raises(sr.DataError, match="file not found"):
        sr.load_yaml(tmp_path / "missing.yaml")


def test_data_provider_override():
    seen = []

    def provider(name):
        seen.append(name)
        return sr.load_yaml(sr.models_dir() / sr.DATA_FILES[name])

    sr.set_data_provider(provider)
    try:
        assert "ID_AA64PFR0_EL1" in sr.sysreg_table()["registers"]
        assert seen == ["sysreg-fields"]
    finally:
        sr.set_data_provider(None)


def test_data_sets_are_read_through_the_compile_cache(tmp_path, monkeypatch):
    """A second process gets the tables unpickled, not parsed (no PyYAML); a changed
    file is parsed again."""
    import shutil

    from qmpserver import models

    src = tmp_path / "models"
    shutil.copytree(sr.models_dir() / "arm64", src / "arm64")
    monkeypatch.setattr(models, "MODELS_DIR", str(src))
    monkeypatch.setenv("QMPSERVER_CACHE_DIR", str(tmp_path / "cache"))
    sr.clear_data_cache()
    try:
        first = sr.data("kvm-reg-list")
        sr.clear_data_cache()  # as in a new process

        def no_yaml(*a, **k):
            raise AssertionError("parsed YAML although the cache is fresh")

        monkeypatch.setattr(models, "read_yaml", no_yaml)
        assert sr.data("kvm-reg-list") == first
        monkeypatch.undo()
        monkeypatch.setattr(models, "MODELS_DIR", str(src))
        monkeypatch.setenv("QMPSERVER_CACHE_DIR", str(tmp_path / "cache"))
        path = src / "arm64" / "kvm-reg-list.yaml"
        path.write_text(path.read_text() + "\nbench_marker: 1\n")
        sr.clear_data_cache()
        assert sr.data("kvm-reg-list")["bench_marker"] == 1
    finally:
        sr.clear_data_cache()
