"""Proposal arm-cpu-models / query-arm-cpu-writable-id-regs: named Arm CPU models under KVM."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.arch.arm64 import named
from qmpserver.arch.arm64 import sysreg as sr
from qmpserver.arch.arm64.cpu import Catalog, CpuError
from qmpserver.errors import QMPError, StartupError
from qmpserver.planner import _Client
from qmpserver.profiles.loader import load_profile
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig

HOSTS = [
    "altra-n1-6.8",
    "ampereone-a-mte-6.18",
    "axion-v2-6.17",
    "cix-p1-a720-mte3-6.12",
    "grace-v2-6.8",
    "graviton2-n1-5.10",
    "graviton3-v1-6.1",
    "graviton4-v2-6.12",
]
_P: dict = {}


def P(name):
    if name not in _P:
        _P[name] = load_profile(name)
    return _P[name]


_C: dict = {}


def cat(name):
    if name not in _C:
        p = P(name)
        _C[name] = Catalog(p.build, p.host, "kvm", sysreg_props=True)
    return _C[name]


def unavailable(host, model):
    try:
        cat(host).expand_default(model)
    except CpuError as e:
        return e.unavailable
    return []


# model x host (x kernel: each host file is one kernel) -> the exact unavailable-features,
# each row reasoned from the host files and models/arm64/kvm-writable.yaml
ROWS = [
    ("neoverse-v2", "graviton4-v2-6.12", [], "its own host: nothing to write"),
    ("neoverse-v1", "graviton3-v1-6.1", [], "its own host"),
    ("neoverse-n1", "altra-n1-6.8", [], "its own host"),
    (
        "armv9.0-a",
        "graviton4-v2-6.12",
        [],
        "V2 is Armv9.0; optional features lowered through writable fields (6.12)",
    ),
    ("armv8.6-a", "graviton4-v2-6.12", ["ecv", "fgt"], "V2 (Armv9.0 = v8.5) lacks FEAT_ECV and FEAT_FGT"),
    ("armv9.0-a", "ampereone-a-mte-6.18", ["sve", "tlbios", "specres", "lsmaoc"][:3], "AmpereOne has no SVE"),
    ("neoverse-v2-v1", "graviton4-v2-6.12", None, "r0p0 vs r0p1: MIDR is not writable before 6.15"),
    ("armv8.2-a", "graviton3-v1-6.1", None, "6.1 has no writable-mask ioctl: AES/SHA cannot be hidden"),
]


@pytest.mark.parametrize("model,host,expect,why", ROWS, ids=[f"{r[0]}@{r[1]}" for r in ROWS])
def test_usable_or_exact_unavailable_features(model, host, expect, why):
    got = unavailable(host, model)
    if model == "neoverse-v2-v1":
        assert got[0] == "SYSREG_MIDR_EL1_Revision", why
    elif model == "armv8.2-a" and host == "graviton3-v1-6.1":
        assert got[:3] == [
            "SYSREG_ID_AA64ISAR0_EL1_AES",
            "SYSREG_ID_AA64ISAR0_EL1_SHA1",
            "SYSREG_ID_AA64ISAR0_EL1_SHA2",
        ]
    else:
        assert got[: len(expect)] == expect and (bool(got) == bool(expect)), (got, why)


_PAIRS: list = []


def _usable_pairs():
    if _PAIRS:
        return _PAIRS
    t = named.tables()
    out = []
    for h in HOSTS:
        c = cat(h)
        for m in t.models:
            try:
                c.expand_default(m)
            except CpuError:
                continue
            out.append((h, m))
    _PAIRS.extend(out)
    return out


def test_every_usable_expansion_equals_its_definition():
    pairs = _usable_pairs()
    assert len(pairs) >= 15
    for h, m in pairs:
        c = cat(h)
        d = named.tables().models[m]
        obj = c.new(m)  # a fresh object of the cached class
        obj.finalize()
        gv = named.guest_values(obj)
        sve, pauth = obj.get("sve"), obj.get("pauth")
        assert (sve, pauth) == (d.vcpu["sve"] and c.cls(m).kvm_sve, d.vcpu["pauth"]), (h, m)
        pins, mins = named.requested_values(d, {}, obj.get, c.hd["field_values"])
        from qmpserver.arch.arm64.migrate import feature_off

        for (reg, field), v in pins.items():
            sw = feature_off(reg, field)
            if sw and not obj.get(sw.partition("=")[0]):
                continue
            assert gv["SYSREG_%s_%s" % (reg, field)] == v, (h, m, reg, field)
        for (reg, field), v in mins.items():
            fd = sr.field(reg, field)
            assert named._order_key(fd, gv["SYSREG_%s_%s" % (reg, field)]) >= named._order_key(fd, v)
        # the named feature properties say what the definition has on
        out = c.expand_default(m)
        for f in d.on:
            if named.tables().by_name[f].kind == "field" and not any(
                feature_off(r, fl) for r, fl, _ in named.tables().by_name[f].fields
            ):
                assert out[f] is True, (h, m, f)


@pytest.mark.parametrize("host", HOSTS)
def test_static_expansion_round_trips(host):
    c = cat(host)
    usable = [m for h, m in _usable_pairs() if h == host]
    if not usable:  # e.g. 5.10: nothing writable, no model matches the host exactly
        with pytest.raises(QMPError) as e:
            named.static_expansion(c, "host", None)
        assert e.value.desc.endswith("has no static expansion on this host: no named model is usable here")
        return
    for m in ["host"] + usable:
        s = named.static_expansion(c, m, None)["model"]
        again = c.expand(s["name"], s.get("props") or {})
        assert named._compared(again) == named._compared(c.expand_default(m)), (host, m, s)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["graviton4-v2-6.12", "axion-v2-6.17", "cix-p1-a720-mte3-6.12", "ampereone-a-mte-6.18"]),
    st.sampled_from(["armv8.0-a", "armv8.1-a", "armv9.0-a", "neoverse-v2", "cortex-a720", "ampereone-a"]),
    st.dictionaries(
        st.sampled_from(["sha3", "sve2", "bf16", "lse", "rng", "bti", "dotprod", "i8mm", "aes"]),
        st.booleans(),
        max_size=4,
    ),
)
def test_features_are_sugar_over_fields(host, model, choices):
    """A feature choice either fails with the model text, or its expansion's static
    form (named model + SYSREG_* deltas) expands back to the same registers, and each
    chosen feature reads back as chosen unless the host cannot hide/offer it."""
    c = cat(host)
    try:
        full = c.expand(model, dict(choices))
    except QMPError as e:
        assert e.desc.startswith(
            "CPU model '%s' is not usable with KVM on this host: unavailable features: " % model
        )
        return
    s = named.static_expansion(c, model, dict(choices))["model"]
    assert named._compared(c.expand(s["name"], s.get("props") or {})) == named._compared(full)
    for f, v in choices.items():
        if v is False:
            assert full[f] is False, (f, full[f])


def _start(profile, cpu, **kw):
    return start(
        P(profile),
        InstanceConfig(machine={"type": "virt"}, accel=["kvm"], cpu=cpu, cpu_props=kw, start_paused=True),
    )


def test_start_with_a_named_model_and_its_guest_abi():
    inst = _start("graviton4-v2-6.12", "armv9.0-a", sha3="on")
    try:
        abi = inst.abi.to_dict()["cpu"]
        assert abi["model"] == "armv9.0-a"
        assert abi["idregs"]["ID_AA64ISAR0_EL1.SHA3"] == 1
        assert abi["idregs"]["ID_AA64ISAR0_EL1.SM3"] == 0  # optional, off in the model
        assert abi["midr"] == 0x410FD4F1  # not pinned by an architecture model
    finally:
        inst.terminate("test")


def test_vendor_model_writes_midr_on_615():
    # Axion (6.17, KVM_CAP_ARM_WRITABLE_IMP_ID_REGS) presents Neoverse V2 r0p0 (Grace)
    # only if the rest of the registers fit: they do not (MPAM, SSBS), so refused
    assert unavailable("axion-v2-6.17", "neoverse-v2-v1")[0] == "SYSREG_ID_AA64PFR0_EL1_MPAM"
    c = cat("axion-v2-6.17")
    obj = c.new("neoverse-v2-v2")
    obj.set("ssbs", True)  # the feature property raises SSBS: still not offered by the host
    with pytest.raises(CpuError):
        obj.finalize()


def test_unusable_model_at_start_up():
    with pytest.raises(StartupError) as e:
        _start("graviton4-v2-6.12", "armv8.6-a")
    assert e.value.message.splitlines()[0] == (
        "CPU model 'armv8.6-a' is not usable with KVM on this host: unavailable features: ecv, fgt"
    )


def test_definitions_versions_and_writable_regs():
    inst = _start("axion-v2-6.17", None)
    try:
        c = _Client(inst)
        listed = c.cmd("query-cpu-definitions")
        defs = {d["name"]: d for d in listed}
        # the upstream entries are the build's recording, member order included
        rec = P("axion-v2-6.17").build.recorded_return("query-cpu-definitions", None, "kvm", default=None)
        names = named.tables().names
        up = [d for d in listed if "unavailable-features" not in d]
        assert [json.dumps(d) for d in up] == [json.dumps(d) for d in rec if d["name"] not in names]
        assert defs["neoverse-v2"]["alias-of"] == "neoverse-v2-v2"
        assert defs["neoverse-v2-v2"]["unavailable-features"] == ["SYSREG_ID_AA64PFR0_EL1_MPAM", "ssbs"]
        assert defs["armv8.1-a-v1"]["unavailable-features"] == []
        assert defs["armv8.1-a-v1"]["migration-safe"] is True and defs["armv8.1-a-v1"]["static"] is False
        w = c.cmd("query-arm-cpu-writable-id-regs")
        assert w["implementation-id-regs-writable"] is True
        midr = next(r for r in w["registers"] if r["name"] == "MIDR_EL1")
        assert midr["mask"] == 0xFFFFFFFF and midr["fields"][0] == "Implementer"
    finally:
        inst.terminate("test")


@pytest.mark.parametrize("profile", ["graviton4-v2-6.12-qemu-11.1", "cix-p1-a720-mte3-6.12-qemu-11.1"])
def test_proposal_off_is_upstream(profile):
    """Without the proposals: no named model under KVM, no command, no static expansion."""
    with pytest.raises(StartupError) as e:
        _start(profile, "armv9.0-a")
    assert e.value.message == "unable to find CPU model 'armv9.0-a'"
    inst = _start(profile, None)
    try:
        c = _Client(inst)
        names = [d["name"] for d in c.cmd("query-cpu-definitions")]
        assert "armv9.0-a" not in names and "neoverse-v2-v2" not in names
        with pytest.raises(QMPError) as q:
            c.cmd("query-arm-cpu-writable-id-regs")
        assert q.value.desc == "The command query-arm-cpu-writable-id-regs has not been found"
        with pytest.raises(QMPError) as q:
            c.cmd("query-cpu-model-expansion", type="static", model={"name": "host"})
        assert q.value.desc == "The requested expansion type is not supported"
        with pytest.raises(QMPError) as q:
            c.cmd("query-cpu-model-expansion", type="full", model={"name": "neoverse-n1"})
        assert "We cannot guarantee the CPU type 'neoverse-n1' works with KVM" in q.value.desc
    finally:
        inst.terminate("test")


def test_data_errors_name_file_and_field(tmp_path, monkeypatch):
    from qmpserver import models

    bad = {"features": [{"name": "x", "kind": "field", "fields": {"ID_AA64ISAR0_EL1.NOPE": 1}}]}
    with pytest.raises(sr.DataError) as e:
        named._load_features("f.yaml", bad)
    assert "features[0].fields.ID_AA64ISAR0_EL1.NOPE" in str(e.value)
    assert json.dumps(models.MODELS_DIR)


@pytest.mark.parametrize(
    "cpu", ["armv8.2-a", "neoverse-v2-v2", "neoverse-v1,sve2=off", "neoverse-n1,sha3=on", "help"]
)
def test_captured_72_build_is_byte_identical_to_real_qemu(cpu):
    """Differential: the proposal's names on the captured Debian 7.2 build (no proposals)
    give exactly real qemu-system-aarch64 7.2's stdout, stderr and exit status."""
    import subprocess
    import sys

    from tests.support.peers import need_binary

    real = need_binary("qemu-system-aarch64")
    args = ["-machine", "virt", "-accel", "tcg", "-cpu", cpu, "-display", "none", "-S", "-nodefaults"]
    if cpu != "help":
        args += ["-kernel", "/nonexistent-armmodels"]  # a real start would stop here: never runs a guest
    mock = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", "debian-7.2-tcg"]
    got = [subprocess.run(cmd + args, capture_output=True, text=True, timeout=30) for cmd in ([real], mock)]
    assert (got[1].returncode, got[1].stdout, got[1].stderr) == (
        got[0].returncode,
        got[0].stdout,
        got[0].stderr,
    )
