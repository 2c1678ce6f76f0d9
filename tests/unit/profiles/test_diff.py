"""``qmpserver profiles diff``: the migration view between two built-in profiles."""

from __future__ import annotations

import json

import pytest

from qmpserver.cli import main as cli_main
from qmpserver.profiles.diff import diff_profiles, format_diff
from qmpserver.profiles.loader import load_profile


@pytest.fixture(autouse=True)
def _builtins_only(monkeypatch):
    monkeypatch.delenv("QMPSERVER_PROFILE_PATH", raising=False)


def d(a, b):
    return diff_profiles(load_profile(a), load_profile(b))


def field(res, reg, name):
    rows = [r for r in res["idregs"] if r["register"] == reg and r["field"] == name]
    assert len(rows) == 1, (reg, name, [(r["register"], r["field"]) for r in res["idregs"]])
    return rows[0]


def test_same_profile_is_identical():
    res = d("default", "default")
    assert res["verdict"]["summary"] == "identical"
    assert res["idregs"] == [] and res["firmware"] == [] and res["kvm_caps"] == []
    assert not res["mte"]["differs"] and not res["sve"]["differs"] and not res["gic"]["differs"]
    json.dumps(res)  # JSON-serialisable


def test_same_host_other_build_is_identical_with_a_build_note():
    res = d("graviton4-v2-6.12", "graviton4-v2-6.12-qemu-11.1")
    assert res["verdict"]["summary"] == "identical"
    assert res["build"]["differs"]
    assert res["build"]["proposals_only_a"] == [
        "arm-cpu-models",
        "cpu-idreg-props",
        "mte-version",
        "query-arm-cpu-writable-id-regs",
        "query-mte-capabilities",
    ]


def test_older_kernel_same_cpu():
    """Graviton4 on 6.8 vs 6.12: same registers; only the kernel (and what it may lower) differs."""
    res = d("graviton4-v2-6.12", "graviton4-v2-6.8")
    assert res["idregs"] == []
    assert res["kernel"] == {"a": "6.12.0", "b": "6.8.0", "differs": True}
    assert res["verdict"]["summary"] == "identical"


def test_mte3_vs_mte2_cannot_move_either_way():
    res = d("cix-p1-a720-mte3-6.12", "ampereone-a-mte-6.18")
    assert res["mte"]["a"] == {"level": 3, "kvm_cap": 1}
    assert res["mte"]["b"] == {"level": 2, "kvm_cap": 1}
    assert not res["mte"]["a_to_b"] and not res["mte"]["b_to_a"]
    assert "not writable" in res["mte"]["a_to_b_reason"]
    mte = field(res, "ID_AA64PFR1_EL1", "MTE")
    assert (mte["a"], mte["b"]) == (3, 2)
    assert not mte["a_to_b"] and not mte["b_to_a"]
    assert mte["bridge"].startswith("cannot lower on A")
    assert res["verdict"]["summary"] == "neither"
    assert any(b.startswith("MTE:") for b in res["verdict"]["a_to_b_blockers"])
    assert any(b.startswith("ID_AA64PFR1_EL1.MTE") for b in res["verdict"]["b_to_a_blockers"])


def test_mte_host_vs_host_without_mte():
    """KVM hides MTE when the host offers no KVM_CAP_ARM_MTE: the guest sees level 0 there."""
    res = d("ampereone-a-mte-6.18", "graviton4-v2-6.12")
    assert res["mte"]["a"]["level"] == 2 and res["mte"]["b"]["level"] == 0
    assert not res["mte"]["a_to_b"] and res["mte"]["b_to_a"]
    assert res["mte"]["note"]
    mte = field(res, "ID_AA64PFR1_EL1", "MTE")
    # turning MTE off on the MTE side bridges it (mte=off / mte-version=none)
    assert mte["b_to_a"] and "mte=off" in mte["bridge"]


def test_writable_field_is_bridged_by_lowering_the_higher_side():
    """Axion has SM3/SM4, Graviton4 not: Axion's 6.17 KVM can lower them, so A->B works for them."""
    res = d("graviton4-v2-6.12", "axion-v2-6.17")
    sm3 = field(res, "ID_AA64ISAR0_EL1", "SM3")
    assert (sm3["a"], sm3["b"], sm3["higher"]) == (0, 1, "b")
    assert sm3["a_to_b"] is True and sm3["b_to_a"] is False
    assert sm3["bridge"] == "lower on B (axion-v2-6.17): SYSREG_ID_AA64ISAR0_EL1_SM3=0"
    assert "higher than the host value" in sm3["b_to_a_reason"]
    # firmware: PSCI 1.3 on 6.17 is not implemented by 6.12; VENDOR_HYP_BMAP_2 only from 6.15
    fw = {r["register"]: r for r in res["firmware"]}
    assert fw["KVM_REG_ARM_PSCI_VERSION"]["a_to_b"] and not fw["KVM_REG_ARM_PSCI_VERSION"]["b_to_a"]
    assert fw["KVM_REG_ARM_VENDOR_HYP_BMAP_2"]["a"] is None
    assert not fw["KVM_REG_ARM_VENDOR_HYP_BMAP_2"]["b_to_a"]
    caps = {r["cap"] for r in res["kvm_caps"]}
    assert "KVM_CAP_ARM_WRITABLE_IMP_ID_REGS" in caps


def test_pre_6_7_kernel_cannot_lower_anything():
    res = d("altra-n1-6.8", "graviton2-n1-5.10")
    assert res["idregs"], "CLIDR differs (KVM rebuilds it from 6.3)"
    for r in res["idregs"]:
        assert not r["a_to_b"], r
        assert "6.7" in (r["a_to_b_reason"] or ""), r
    fw = {r["register"]: r for r in res["firmware"]}
    assert not fw["KVM_REG_ARM_STD_BMAP"]["a_to_b"]  # 5.10 has no hypercall bitmaps
    assert fw["KVM_REG_ARM_STD_BMAP"]["b_to_a"]
    assert res["verdict"]["summary"] == "neither"


def test_sve_lengths():
    res = d("graviton3-v1-6.1", "graviton4-v2-6.12")
    assert res["sve"]["a"] == [128, 256] and res["sve"]["b"] == [128]
    assert not res["sve"]["a_to_b"] and res["sve"]["b_to_a"]
    assert "256" in res["sve"]["a_to_b_reason"]
    assert res["sve"]["common"] == [128]


def test_kvm_vs_tcg_never():
    res = d("default", "qemu-11.1-tcg")
    assert res["a"]["view"] == "kvm" and res["b"]["view"] == "tcg"
    assert res["verdict"]["summary"] == "neither"
    assert res["idregs"] == []
    assert "accelerator" in res["verdict"]["a_to_b_blockers"][0]


def test_tcg_profiles_compare_qemu_versions():
    res = d("debian-7.2-tcg", "qemu-11.1-tcg")
    assert res["verdict"]["summary"] == "A->B possible"
    assert "older QEMU" in res["verdict"]["b_to_a_blockers"][0]


def test_format_and_cli(capsys):
    text = format_diff(d("cix-p1-a720-mte3-6.12", "ampereone-a-mte-6.18"))
    assert "verdict: neither" in text and "ID_AA64PFR1_EL1.MTE" in text and "MTE: A level 3" in text
    # verdict neither: exit 2, a negative answer (as migration plan, cpu baseline; 1 is bad input)
    assert cli_main(["profiles", "diff", "graviton4-v2-6.12", "axion-v2-6.17"]) == 2
    out = capsys.readouterr().out
    assert "verdict:" in out and "SYSREG_ID_AA64ISAR0_EL1_SM3=0" in out
    assert cli_main(["profiles", "diff", "default", "default", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["verdict"]["identical"] is True


def test_imported_host_without_registers_is_a_caveat(tmp_path, monkeypatch):
    """An imported host has no ID registers and a placeholder kernel: the diff says so."""
    store = tmp_path / "store"
    (store / "hosts").mkdir(parents=True)
    (store / "profiles").mkdir()
    (store / "hosts" / "imported.yaml").write_text(
        "kind: host\nname: imported\nsummary: imported from a recording\narch: aarch64\n"
        "cpu: {midr: 0, implementer: unknown, part: unknown, count: 1}\nkernel: {release: '0.0'}\n"
        "kvm: {present: true, caps: {}, sve_vector_lengths: [], gic: {v2: false, v3: true}}\n"
        "idregs: {}\nsources: {refs: {r: replies}, fields: {cpu: synthetic, kernel: synthetic,"
        " kvm: r, idregs: synthetic}}\n"
    )
    (store / "profiles" / "imp.yaml").write_text(
        "kind: profile\nname: imp\nsummary: an imported host\nhost: imported\nbuild: qemu-11.1\n"
        "defaults: {accel: kvm, machine: virt, cpu: host}\n"
    )
    a = load_profile("imp", [str(store)])
    res = diff_profiles(a, a)
    assert res["verdict"]["summary"] == "no known difference"
    assert any("ID registers unknown" in c for c in res["verdict"]["caveats"])
