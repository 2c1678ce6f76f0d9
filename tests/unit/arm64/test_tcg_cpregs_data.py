"""models/arm64/tcg-cpregs-7.2.yaml: QEMU 7.2's TCG cpreg lists, measured by tools/capture_tcg_cpregs.py.

No QEMU is started: the data file is checked for shape, against the facts recorded in
tests/data/migration/qemu-7.2-tcg (README and the cortex-a57 stream), and against its own
`matrix:` (real loads) through the comparison rule its header describes.
"""

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "models" / "arm64" / "tcg-cpregs-7.2.yaml"
STREAM = ROOT / "tests" / "data" / "migration" / "qemu-7.2-tcg" / "stream-virt-7.2.bin.gz"

_spec = importlib.util.spec_from_file_location("capture_tcg_cpregs", ROOT / "tools" / "capture_tcg_cpregs.py")
tool = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = tool
_spec.loader.exec_module(tool)


@pytest.fixture(scope="module")
def data():
    return yaml.safe_load(DATA.read_text())


def expand(items):
    out = []
    for it in items:
        if isinstance(it, list):
            assert len(it) == 2 and it[0] < it[1]
            out.extend(range(it[0], it[1] + 1))
        else:
            out.append(it)
    return out


def config(data, key):
    """(index list, {index: value} of the `registers:` indexes) of a model or a variant."""
    if key in data["variants"]:
        v = data["variants"][key]
        base = data["models"][v["model"]]
        idx = sorted((set(expand(base["indexes"])) | set(v["added"])) - set(v["removed"]))
        vals = {i: x for i, x in base["values"].items() if i in idx}
        vals.update(v["values"])
        assert len(idx) == v["count"]
        return idx, vals
    model = key.split("/")[0]
    m = data["models"][model]
    return expand(m["indexes"]), dict(m["values"])


def test_loads_with_the_expected_keys(data):
    assert data["format"] == 1
    for key in (
        "source",
        "not_on_virt",
        "run_dependent",
        "registers",
        "models",
        "variants",
        "smp_dependent",
        "matrix",
    ):
        assert key in data, key
    assert "7.2" in data["source"]["qemu"]
    assert {"max", "cortex-a57", "cortex-a72", "cortex-a53"} <= set(data["models"])


def test_index_lists_sorted_unique_and_counted(data):
    for name, m in data["models"].items():
        idx = expand(m["indexes"])
        assert idx == sorted(set(idx)), name
        assert m["count"] == len(idx), name
        assert set(m["values"]) <= set(idx), name
        assert set(m["values"]) == set(idx) & set(data["registers"]), name


def test_recorded_counts(data):
    # README of tests/data/migration/qemu-7.2-tcg: "Invalid value 304 expecting positive value <= 258"
    assert data["models"]["max"]["count"] == 304
    assert data["models"]["cortex-a57"]["count"] == 258


def test_matches_the_recorded_cortex_a57_stream(data):
    regs = tool.cpu_cpregs(tool.cm.load_stream(str(STREAM)))
    assert list(regs) == [0]
    got = regs[0]
    a57 = data["models"]["cortex-a57"]
    assert got["count"] == a57["count"] == 258
    assert got["indexes"] == expand(a57["indexes"])
    stream_vals = dict(zip(got["indexes"], got["values"]))
    for i, v in a57["values"].items():
        assert stream_vals[i] == v, hex(i)


def test_run_dependent_registers_are_not_stored(data):
    dep = set().union(*(set(v) for v in data["run_dependent"].values()))
    assert not dep & set(data["registers"])


def test_smp_dependence_is_l2ctlr(data):
    l2 = 0x603000000013CD82  # L2CTLR_EL1, op0=3 op1=1 CRn=11 CRm=0 op2=2
    assert data["registers"][l2]["name"] == "L2CTLR_EL1"
    assert data["smp_dependent"][l2]["values"]["cortex-a57"] == [0, 1 << 24]
    assert data["registers"][l2]["check"] == "refused"
    for name, s in data["smp_dependent"].items():
        for model, (one, two) in s["values"].items():
            assert (two - one) == 1 << 24, (name, model)


def test_recorded_cpu_failures_are_in_the_matrix(data):
    real = {(r["src"], r["dst"]): r["real"] for r in data["matrix"]}
    # the outcomes of tests/data/migration/qemu-7.2-tcg (cpu-*, smp-*, mte-dst-only)
    assert real[("cortex-a57/smp1", "cortex-a72/smp1")] == "EPERM"
    assert real[("cortex-a57/smp1", "max/smp1")] == "EPERM"
    assert real[("max/smp1", "cortex-a57/smp1")] == "EINVAL"
    assert real[("cortex-a57/smp1", "cortex-a57/smp2")] == "EPERM"
    assert real[("cortex-a57/smp2", "cortex-a57/smp1")] == "EPERM"
    assert real[("max/smp1", "max/smp1/mte=on")] == "EPERM"
    assert real[("cortex-a57/smp1", "cortex-a57/smp1")] == "completed"


def meta(data, key):
    """(smp, mte) of a configuration key."""
    if key in data["variants"]:
        v = data["variants"][key]
        return v["smp"], "mte=on" in v["machine"]
    return 1, False


def predict(data, src, dst):
    """The rule of the file's header (stream order: ram, cpu 0's cpregs, further vCPUs), from the
    file's own data."""
    (s_smp, s_mte), (d_smp, d_mte) = meta(data, src), meta(data, dst)
    if s_mte and not d_mte:
        return "EINVAL"  # the tag RAM block, before any cpu section
    s_idx, s_val = config(data, src)
    d_idx, d_val = config(data, dst)
    if len(s_idx) > len(d_idx):
        return "EINVAL"
    if set(s_idx) - set(d_idx):
        return "EPERM"
    for i, reg in data["registers"].items():
        if reg["check"] == "refused" and i in s_val and i in d_val and s_val[i] != d_val[i]:
            return "EPERM"
    if s_smp > d_smp:
        return "EINVAL"  # Unknown savevm section or instance 'cpu_common' 1
    return "completed"


def test_rule_predicts_every_real_load(data):
    assert len(data["matrix"]) >= 100
    for row in data["matrix"]:
        assert row["predicted"] == row["real"], row
        assert predict(data, row["src"], row["dst"]) == row["real"], row


def test_no_two_different_models_migrate(data):
    for row in data["matrix"]:
        if row["src"].split("/")[0].split(",")[0] != row["dst"].split("/")[0].split(",")[0]:
            assert row["real"] != "completed", row
