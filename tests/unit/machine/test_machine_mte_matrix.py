"""The MTE matrix (tests/data/mte-matrix.yaml): every profile x accelerator x
CPU model x MTE option, started in-process; outcome, warnings, qom-get
answers and query-mte-capabilities compared with the table."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from machine_testutil import Qmp, cases, matrix, parse_cell, profile, start

from qmpserver.errors import StartupError
from qmpserver.profiles.loader import MODELS_DIR, list_names, search_roots

CASES = list(cases())


def _expected_failure(key, warned):
    m = matrix()
    err = m["errors"][key]
    warnings = ([m["warning"]] if warned else []) + list(err.get("warnings") or ())
    return err["text"], warnings


def test_every_builtin_profile_is_in_the_table():
    paths = {name: path for name, path, is_builtin in list_names("profile", search_roots()) if is_builtin}
    builtin = set(paths)
    other = dict(matrix().get("other_targets") or {})
    for name, target in other.items():
        build = yaml.safe_load(Path(paths[name]).read_text())["build"]
        doc = yaml.safe_load((Path(MODELS_DIR) / "builds" / build / "build.yaml").read_text())
        assert doc["target"] == target != "aarch64", name
    missing = sorted(builtin - set(matrix()["profiles"]) - set(other))
    assert not missing, "profiles without rows in tests/data/mte-matrix.yaml: %s" % missing
    extra = set(matrix().get("extra_profiles") or ())
    unknown = sorted(set(matrix()["profiles"]) - builtin - extra)
    assert not unknown, "rows for profiles that do not exist: %s" % unknown
    assert MODELS_DIR


def test_every_error_key_is_defined_and_used():
    m = matrix()
    used = set()
    for *_, cell in CASES:
        kind, value, _ = parse_cell(cell)
        if kind == "fail":
            assert value in m["errors"], value
            used.add(value)
    assert used == set(m["errors"]), set(m["errors"]) - used


@pytest.mark.parametrize("name,accel,cpu,column,cell", CASES, ids=["%s-%s-%s-%s" % c[:4] for c in CASES])
def test_cell(name, accel, cpu, column, cell):
    spec = matrix()["profiles"][name]
    kind, value, warned = parse_cell(cell)
    got = start(name, "virt," + column, accel, cpu)
    if kind == "fail":
        text, warnings = _expected_failure(value, warned)
        assert isinstance(got, StartupError), "expected %r, the instance started" % text
        assert (got.message, got.warnings) == (text, warnings)
        return
    assert not isinstance(got, StartupError), "expected MTE %s, got %r" % (value, got.message)
    assert got.config.warnings == ([matrix()["warning"]] if warned else [])
    assert got.accel == accel
    q = Qmp(got)
    assert q.cmd("qom-get", path="/machine", property="mte") is (value > 0)
    assert q.cmd("qom-get", path="/machine", property="gic-version") == spec["gic"][accel]
    r = q.send("qom-get", path="/machine", property="mte-version")
    if spec["proposal"]:
        assert r == {"return": "none" if value == 0 else str(value)}
    else:
        assert r["error"] == {
            "class": "GenericError",
            "desc": "Property '%s.mte-version' not found" % got.machine.qom_type,
        }
    # upstream KVM guests with MTE cannot migrate (the proposal pins the version and
    # migrates); nothing else is blocked
    blocked = q.cmd("query-migrate").get("blocked-reasons")
    if accel == "kvm" and value and not spec["proposal"]:
        assert blocked == ["Live migration disabled due to MTE enabled"]
    else:
        assert blocked is None


@pytest.mark.parametrize("name", sorted(matrix()["profiles"]))
def test_capabilities(name):
    spec = matrix()["profiles"][name]
    inst = start(name)
    assert not isinstance(inst, StartupError), inst
    q = Qmp(inst)
    r = q.send("query-mte-capabilities")
    if spec["capabilities"] == "CommandNotFound":
        assert r["error"] == {
            "class": "CommandNotFound",
            "desc": "The command query-mte-capabilities has not been found",
        }
        names = [c["name"] for c in q.cmd("query-commands")]
        assert "query-mte-capabilities" not in names
        return
    want = [{"version": v, "emulated": e, "kernel": k} for v, e, k in spec["capabilities"]]
    assert r["return"] == want
    assert "query-mte-capabilities" in [c["name"] for c in q.cmd("query-commands")]
    # the answer depends on host and build only: the same under another accelerator/options
    for accel in ("tcg", "kvm"):
        other = start(name, "virt,mte-version=none", accel, "max")
        if not isinstance(other, StartupError):
            assert Qmp(other).cmd("query-mte-capabilities") == want


@pytest.mark.parametrize("name", sorted(matrix()["profiles"]))
def test_profile_kvm_level_matches_capabilities(name):
    """Consistency of the table itself: a version the KVM row gives for
    mte-version=N is exactly a version query-mte-capabilities says KVM
    provides."""
    spec = matrix()["profiles"][name]
    if spec["capabilities"] == "CommandNotFound":
        return
    cols = matrix()["columns"]
    kernel = {v for v, _e, k in spec["capabilities"] if k}
    row = spec["kvm"]["host"]
    for n in (2, 3):
        kind, value, _ = parse_cell(row[cols.index("mte-version=%d" % n)])
        assert (kind == "run" and value == n) == (n in kernel), (name, n)
    emulated = {v for v, e, _k in spec["capabilities"] if e}
    row = spec["tcg"]["max"]
    for n in (2, 3):
        kind, value, _ = parse_cell(row[cols.index("mte-version=%d" % n)])
        assert (kind == "run" and value == n) == (n in emulated), (name, n)


def test_the_table_loads_its_extra_profiles():
    p = profile("future-kernel-mte-writable")
    assert p.host.data["kernel"]["release"] == "7.4.0"
    assert p.host.data["kvm"]["writable"] == [{"reg": "ID_AA64PFR1_EL1", "add": ["MTE"]}]
