"""tools/gen_sysreg_table.py on a small hand-written fixture."""

import importlib.util
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = Path(__file__).parent / "fixtures" / "sysreg-mini.txt"

_spec = importlib.util.spec_from_file_location("gen_sysreg_table", ROOT / "tools" / "gen_sysreg_table.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


def _table(**kw):
    return gen.to_table(gen.parse(FIXTURE.read_text(), str(FIXTURE)), **kw)


def test_parse_fixture():
    regs = _table()["registers"]
    assert list(regs) == [
        "ID_AA64PFR1_EL1",
        "ID_AA64MMFR0_EL1",
        "CTR_EL0",
        "DEMO_EL1",
        "DEMO_EL12",
        "GMID_EL1",
    ]
    pfr1 = regs["ID_AA64PFR1_EL1"]
    assert pfr1["encoding"] == [3, 0, 0, 4, 1] and pfr1["kvm_id"] == 0x603000000013C021
    assert pfr1["mask_index"] == 33 and pfr1["class"] == "aarch64-id"
    mte = next(f for f in pfr1["fields"] if f["name"] == "MTE")
    assert mte == {
        "name": "MTE",
        "msb": 11,
        "lsb": 8,
        "kind": "unsigned",
        "values": {0: "NI", 1: "IMP", 2: "MTE2", 3: "MTE3"},
    }
    frac = next(f for f in pfr1["fields"] if f["name"] == "MTE_frac")
    assert frac["kind"] == "enum" and frac["values"] == {0: "ASYNC", 0xF: "NI"}
    tg = regs["ID_AA64MMFR0_EL1"]["fields"][0]
    assert tg["name"] == "TGRAN4" and tg["kind"] == "signed" and tg["values"][0xF] == "NI"


def test_res1_fields_and_comments():
    ctr = _table()["registers"]["CTR_EL0"]
    assert ctr["res1"] == 0x80000000 and ctr["mask_index"] == 129
    names = [(f["name"], f["msb"], f["lsb"], f["kind"]) for f in ctr["fields"]]
    assert names == [
        ("DIC", 29, 29, "field"),
        ("IDC", 28, 28, "field"),
        ("L1Ip", 15, 14, "enum"),
        ("IminLine", 3, 0, "field"),
    ]
    assert ctr["fields"][2]["values"] == {2: "VIPT", 3: "PIPT"}  # trailing comment stripped


def test_sysregfields_and_mapping():
    regs = _table()["registers"]
    assert [f["name"] for f in regs["DEMO_EL1"]["fields"]] == ["HIGH", "LOW"]
    assert regs["DEMO_EL1"]["mask_index"] is None and regs["DEMO_EL1"]["class"] == "other"
    assert regs["DEMO_EL12"]["mapping"] == "DEMO_EL1"
    assert regs["DEMO_EL12"]["fields"] == regs["DEMO_EL1"]["fields"]


def test_restrict_and_id_only():
    assert list(_table(only=["GMID_EL1"])["registers"]) == ["GMID_EL1"]
    assert "DEMO_EL1" not in _table(id_only=True)["registers"]
    with pytest.raises(SystemExit, match="not found: NOPE"):
        _table(only=["NOPE"])


def test_cli_output_is_loadable_yaml_in_the_table_shape(tmp_path):
    out = tmp_path / "t.yaml"
    assert gen.main([str(FIXTURE), "-o", str(out)]) == 0
    data = yaml.safe_load(out.read_text())
    assert data["registers"]["ID_AA64MMFR0_EL1"]["fields"][1]["values"] == {0: "32", 5: "48"}
    assert (
        data["registers"]["ID_AA64PFR1_EL1"]["fields"] == _table()["registers"]["ID_AA64PFR1_EL1"]["fields"]
    )
    assert data["registers"]["CTR_EL0"]["kvm_id"] == 0x603000000013D801


def test_cli_accepts_a_kernel_tree(tmp_path):
    tree = tmp_path / "linux"
    (tree / "arch" / "arm64" / "tools").mkdir(parents=True)
    (tree / "arch" / "arm64" / "tools" / "sysreg").write_text(FIXTURE.read_text())
    out = tmp_path / "t.yaml"
    assert gen.main([str(tree), "-o", str(out), "--registers", "GMID_EL1"]) == 0
    assert list(yaml.safe_load(out.read_text())["registers"]) == ["GMID_EL1"]


def test_compare_with_committed_table(capsys):
    rc = gen.main(
        [str(FIXTURE), "--registers", "GMID_EL1", "--compare", str(ROOT / "models/arm64/sysreg-fields.yaml")]
    )
    assert rc == 0 and "no differences" in capsys.readouterr().out
    rc = gen.main(
        [str(FIXTURE), "--registers", "CTR_EL0", "--compare", str(ROOT / "models/arm64/sysreg-fields.yaml")]
    )
    out = capsys.readouterr().out
    assert rc == 1 and "CTR_EL0.DminLine: only in the committed table" in out


@pytest.mark.parametrize(
    "text,msg",
    [
        ("Sysreg A 3 0 0 4 1\nField 3:0 X\n", "block A not closed"),
        ("Sysreg A 3 0 0 4 1\nEnum 3:0 X\n\t0b0000 NI\nEndSysreg\n", "expected '<0bVALUE> <NAME>'"),
        ("Field 3:0 X\n", "outside a Sysreg"),
        ("Sysreg A 3 0 0 4\n", "expected 'Sysreg NAME op0 op1 CRn CRm op2'"),
        ("Sysreg A 3 0 0 4 1\nField 3-0 X\nEndSysreg\n", "bad bit range"),
        ("Sysreg A 3 0 0 4 1\nFields NOPE\nEndSysreg\n", "unknown SysregFields 'NOPE'"),
        ("Sysreg A 3 0 0 4 1\nBogus 3:0\nEndSysreg\n", "unknown keyword 'Bogus'"),
        ("Sysreg A 3 0 0 4 1\nEnum 1:0 X\n\t0b111 BIG\nEndEnum\nEndSysreg\n", "does not fit"),
    ],
)
def test_syntax_errors_name_file_and_line(text, msg):
    with pytest.raises(gen.SysregSyntaxError) as ei:
        gen.parse(text, "x.sysreg")
    assert str(ei.value).startswith("x.sysreg:") and msg in str(ei.value)


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.write_text("Field 3:0 X\n")
    assert gen.main([str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad:1:" in err and "Traceback" not in err
    assert gen.main([str(tmp_path / "missing")]) == 2
