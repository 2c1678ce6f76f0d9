"""Proposal arm-cpu-models with cpu-idreg-props: query-cpu-model-baseline as "the richest
named model below the baseline plus deltas", query-cpu-model-comparison's
responsible-properties over named features, and named features on ``host`` itself
(docs/proposals/arm-named-models.md).  Exact shapes first, then hypothesis properties:
baseline is commutative, each input compares superset/identical to the baseline,
baseline(X, X) is X, and a usable model's expansion is its definition."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.arch.arm64 import baseline as B
from qmpserver.arch.arm64 import named
from qmpserver.arch.arm64 import sysreg as sr
from qmpserver.arch.arm64.cpu import CpuError, catalog_for
from qmpserver.arch.arm64.migrate import feature_off
from qmpserver.errors import QMPError, StartupError
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cpu"))
from cpu_testutil import Qmp, make_instance, profile_for  # noqa: E402

NOT_BRIDGED = "No compatible CPU model could be created as these properties cannot be bridged: "
HOSTS = ["graviton4-v2-6.12", "axion-v2-6.17", "cix-p1-a720-mte3-6.12", "ampereone-a-mte-6.18"]
H = {"name": "host"}
_Q: dict = {}


def q(host, build="qmpserver"):
    if (host, build) not in _Q:
        _Q[host, build] = Qmp(make_instance(profile_for(host, build)))
    return _Q[host, build]


def cat(host):
    return catalog_for(q(host).instance)


def baseline(c, a, b):
    return c.cmd("query-cpu-model-baseline", {"modela": a, "modelb": b})


def compare(c, a, b):
    return c.ok("query-cpu-model-comparison", {"modela": a, "modelb": b})


def expanded(c, model):
    """The properties a model's full expansion states (named features follow them)."""
    return named._compared(c.props(model["name"], model.get("props")))


# --- exact shapes -----------------------------------------------------------------------------


def test_baseline_shapes():
    c = q("graviton4-v2-6.12")
    # a host's baseline with itself: the named model it is exactly (Neoverse V2 r0p1)
    assert baseline(c, H, H) == {"return": {"model": {"name": "neoverse-v2-v2"}}}
    # a named model with a named feature: the model and the feature as the delta
    x = {"name": "armv9.0-a", "props": {"sha3": True}}
    assert baseline(c, x, x) == {"return": {"model": {"name": "armv9.0-a-v1", "props": {"sha3": True}}}}
    assert baseline(c, {"name": "armv8.0-a"}, {"name": "host", "props": {"sha3": False}}) == {
        "return": {"model": {"name": "armv8.0-a-v1"}}
    }
    assert baseline(c, {"name": "neoverse-v2"}, {"name": "armv9.0-a"}) == {
        "return": {"model": {"name": "armv9.0-a-v1"}}
    }
    # Axion: no named model is its host; the baseline names the features above Armv9.0
    a = q("axion-v2-6.17")
    got = baseline(a, H, H)["return"]["model"]
    assert got["name"] == "armv9.0-a-v1"
    feats = [k for k in got["props"] if not k.startswith("SYSREG_")]
    assert {"sha3", "sm3", "sm4", "rng", "bf16", "i8mm"} <= set(feats)
    assert expanded(a, got) == expanded(a, H)


def test_two_hosts_without_a_named_model_below_get_the_host_form():
    """Grace and Graviton4 on 6.8: bridgeable, but no architecture level is usable on
    Grace 6.8 (fields it cannot lower), so the answer is cpu-idreg-props' host form."""
    grace, g4 = q("grace-v2-6.8"), q("graviton4-v2-6.8")
    got = baseline(grace, H, {"name": "host", "props": g4.props("host")})["return"]["model"]
    assert got["name"] == "host" and got["props"]["pauth"] is False
    assert "error" not in g4.expand("host", got["props"])


def test_not_bridgeable_text_is_unchanged():
    c = q("graviton4-v2-6.12")
    other = q("cix-p1-a720-mte3-6.12").props("host")
    desc = baseline(c, H, {"name": "host", "props": other})["error"]["desc"]
    assert desc.startswith(NOT_BRIDGED) and "SYSREG_CLIDR_EL1_LoC" in desc


def test_model_checks_with_named_models():
    c = q("graviton4-v2-6.12")
    assert (
        baseline(c, {"name": "max"}, H)["error"]["desc"]
        == "CPU model baseline is only supported for the CPU type 'host' and the named CPU models"
    )
    assert baseline(c, {"name": "armv8.6-a"}, H)["error"]["desc"] == (
        "CPU model 'armv8.6-a' is not usable with KVM on this host: unavailable features: ecv, fgt"
    )
    assert (
        baseline(c, {"name": "armv9.0-a", "props": {"sha3": 1}}, H)["error"]["desc"]
        == "Invalid parameter type for 'modela.props.sha3', expected: boolean"
    )
    assert baseline(c, H, {"name": "armv9.0-a", "props": {"nope": True}})["error"]["desc"] == (
        "Parameter 'modelb.props.nope' is unexpected"
    )


def test_comparison_names_features():
    c = q("graviton4-v2-6.12")
    low = {"pauth": False, "SYSREG_ID_AA64ISAR0_EL1_AES": 1}  # AES 2 -> 1: PMULL goes, AES stays
    assert compare(c, H, {"name": "host", "props": low}) == {
        "result": "superset",
        "responsible-properties": ["pauth", "pmull"],
    }
    assert compare(c, {"name": "host", "props": {"sha3": False}}, H) == {
        "result": "subset",
        "responsible-properties": ["sha3"],
    }
    # a differing field no named feature covers stays a SYSREG_* property
    r = compare(c, {"name": "armv9.0-a"}, {"name": "host", "props": {"sha3": False}})
    assert r["result"] == "subset"
    assert r["responsible-properties"][:3] == ["aes", "pmull", "sha1"]
    assert r["responsible-properties"][-1] == "SYSREG_ID_AA64PFR0_EL1_CSV2"
    assert compare(c, {"name": "neoverse-v2"}, H) == {"result": "identical", "responsible-properties": []}


def test_proposal_off_keeps_host_form_and_raw_fields():
    """cpu-idreg-props without arm-cpu-models: the host form and SYSREG_* names only."""
    c = q("graviton4-v2-6.12", "qmpserver-idreg")
    assert baseline(c, H, H)["return"]["model"]["name"] == "host"
    low = {"pauth": False, "SYSREG_ID_AA64ISAR0_EL1_AES": 1}
    assert compare(c, H, {"name": "host", "props": low})["responsible-properties"] == [
        "pauth",
        "SYSREG_ID_AA64ISAR0_EL1_AES",
    ]
    assert "sha3" not in c.props("host")
    assert c.cmd(
        "query-cpu-model-expansion", {"type": "full", "model": {"name": "host", "props": {"sha3": False}}}
    )["error"]["desc"] == ("Parameter 'model.props.sha3' is unexpected")


# --- named features on host -------------------------------------------------------------------


def test_host_features_in_expansion():
    c = q("graviton4-v2-6.12")
    full = c.props("host")
    assert full["sha3"] is True and full["SYSREG_ID_AA64ISAR0_EL1_SHA3"] == 1
    off = c.props("host", {"sha3": False})
    assert off["sha3"] is False and off["SYSREG_ID_AA64ISAR0_EL1_SHA3"] == 0
    # the feature and its field are one rule: lowering the field reads the feature off
    assert c.props("host", {"SYSREG_ID_AA64ISAR0_EL1_SHA3": 0})["sha3"] is False
    assert c.props("host", {"SYSREG_ID_AA64ISAR0_EL1_AES": 1})["pmull"] is False
    # an explicit SYSREG_* value wins over a feature (visited after the features)
    both = c.props("host", {"sha3": False, "SYSREG_ID_AA64ISAR0_EL1_SHA3": 1})
    assert both["sha3"] is True
    e = c.expand("host", {"ecv": True})["error"]["desc"]
    assert e == "'ecv' feature cannot be enabled with KVM on this host"
    # Linux 6.1: no writable-mask ioctl, nothing can be lowered
    g3 = q("graviton3-v1-6.1")
    assert g3.expand("host", {"sha3": False})["error"]["desc"] == (
        "'sha3' feature cannot be disabled with KVM on this host"
    )
    assert g3.props("host", {"sha3": True})["sha3"] is True  # what it has: nothing to write


def _start(profile, cpu, **kw):
    return start(
        profile_for(profile),
        InstanceConfig(machine={"type": "virt"}, accel=["kvm"], cpu=cpu, cpu_props=kw, start_paused=True),
    )


def test_cpu_host_feature_on_the_command_line():
    inst = _start("graviton4-v2-6.12", "host", sha3="off")
    try:
        abi = inst.abi.to_dict()["cpu"]
        assert abi["idregs"]["ID_AA64ISAR0_EL1.SHA3"] == 0
        assert abi["idregs"]["ID_AA64ISAR0_EL1.SHA2"] == 2
        # -cpu globals apply to later expansions of host too, as SYSREG_* globals do
        assert Qmp(inst).props("host")["sha3"] is False
    finally:
        inst.terminate("test")
    with pytest.raises(StartupError) as e:
        _start("graviton3-v1-6.1", "host", sha3="off")
    lines = e.value.message.splitlines()
    assert lines[0] == "'sha3' feature cannot be disabled with KVM on this host"
    assert lines[1].startswith("ID_AA64ISAR0_EL1.SHA3: the model needs 0 below the host's 1")
    with pytest.raises(StartupError) as e:
        _start("graviton4-v2-6.12", "host", sha3="maybe")
    assert e.value.message == (
        "can't apply global host-arm-cpu.sha3=maybe: Parameter 'sha3' expects 'on' or 'off'"
    )


# --- hypothesis -------------------------------------------------------------------------------

FEATURES = ["sha3", "sve2", "bf16", "lse", "rng", "bti", "dotprod", "i8mm", "aes", "pmull", "sm4", "fhm"]
MODELS = ["armv8.0-a", "armv8.2-a", "armv8.5-a", "armv9.0-a", "neoverse-v2", "cortex-a720", "ampereone-a"]


@st.composite
def model_input(draw, host):
    """A model argument the host accepts: host (with a feature or SYSREG_* lowering),
    a usable named model (with feature choices), or a static expansion of one."""
    c = cat(host)
    kind = draw(st.sampled_from(["host", "named", "static"]))
    choices = draw(st.dictionaries(st.sampled_from(FEATURES), st.booleans(), max_size=3))
    name = "host" if kind == "host" else draw(st.sampled_from(MODELS))
    if kind == "host":
        entries = [e for e in c.cls("host").sysreg.values() if e.get("accept") is not None]
        for e in draw(st.lists(st.sampled_from(entries), max_size=3, unique_by=lambda e: e["prop"])):
            vals = [v for v in range(1 << e["width"]) if (e["accept"] >> v) & 1]
            choices[e["prop"]] = draw(st.sampled_from(vals))
    try:
        c.expand(name, dict(choices))
    except QMPError:
        choices = {}
        try:
            c.expand_default(name)
        except CpuError:
            name = "host"
    model = {"name": name, "props": choices} if choices else {"name": name}
    if kind == "static":
        model = named.static_expansion(c, name, choices or None)["model"]
    return model


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), host=st.sampled_from(HOSTS))
def test_baseline_properties(data, host):
    c = q(host)
    a, b = data.draw(model_input(host)), data.draw(model_input(host))
    r1, r2 = baseline(c, a, b), baseline(c, b, a)
    assert r1 == r2  # commutative: the same model and deltas (or the same error)
    if "error" in r1:
        assert r1["error"]["desc"].startswith(NOT_BRIDGED)
        return
    m = r1["return"]["model"]
    assert "error" not in c.expand(m["name"], m.get("props")), m  # usable here as given
    for x in (a, b):
        assert compare(c, x, m)["result"] in ("superset", "identical"), (x, m)
        assert compare(c, m, x)["result"] in ("subset", "identical"), (x, m)
    if m["name"] != "host":  # the named model is below the baseline, as the guest sees both
        k = cat(host)

        def seen(x):
            return B._local_desc(k, B._guest_view(expanded(c, x)))

        assert B.compare(k, seen(m), seen({"name": m["name"]}))[0] in ("superset", "identical")


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), host=st.sampled_from(HOSTS))
def test_baseline_of_x_with_x_is_x(data, host):
    c = q(host)
    x = data.draw(model_input(host))
    m = baseline(c, x, x)["return"]["model"]
    assert expanded(c, m) == expanded(c, x)
    assert compare(c, m, x) == {"result": "identical", "responsible-properties": []}
    if x["name"] != "host" and not x.get("props"):
        assert m == {"name": named.tables().names[x["name"]]}


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), host=st.sampled_from(HOSTS))
def test_usable_expansion_equals_its_definition(data, host):
    """A usable named model with feature choices: every pinned field the guest reads is
    the value the definition (with the choices) asks, each minimum is met, and each
    chosen feature reads back as chosen where the model could present it."""
    c = cat(host)
    m = data.draw(st.sampled_from(MODELS))
    choices = data.draw(st.dictionaries(st.sampled_from(FEATURES), st.booleans(), max_size=3))
    obj = c.new(m)
    for k, v in choices.items():
        obj.set(k, v)
    try:
        obj.finalize()
    except CpuError:
        return  # not usable here: the exact blockers are test_named_models' table
    d = named.tables().models[named.tables().names[m]]
    gv = named.guest_values(obj)
    pins, mins = named.requested_values(d, choices, obj.get, c.hd["field_values"])
    for (reg, field), v in pins.items():
        sw = feature_off(reg, field)
        if sw and not obj.get(sw.partition("=")[0]):
            continue
        assert gv["SYSREG_%s_%s" % (reg, field)] == v, (m, choices, reg, field)
    for (reg, field), v in mins.items():
        fd = sr.field(reg, field)
        assert named._order_key(fd, gv["SYSREG_%s_%s" % (reg, field)]) >= named._order_key(fd, v)
    out = obj.output()
    t = named.tables()
    for k, v in choices.items():
        if v is False and any(_implies(t.by_name[o], t.by_name[k]) for o, w in choices.items() if w):
            continue  # pmull=on with aes=off: a feature on needs the field the other lowers
        f = named.tables().by_name[k]
        if not any(
            feature_off(r, fl) and not obj.get(feature_off(r, fl).partition("=")[0]) for r, fl, _ in f.fields
        ):
            assert out[k] is v, (m, choices, k)


def _implies(f, g) -> bool:
    """Feature ``f`` on means ``g`` on: they share a field where g needs no more than f."""
    return any((r, fl) == (r2, fl2) and v2 <= v for r, fl, v in f.fields for r2, fl2, v2 in g.fields)


def test_baseline_desc_of_a_named_model_has_its_features():
    c = cat("graviton4-v2-6.12")
    d = B.resolve(c, {"name": "armv9.0-a", "props": {"sha3": True}}, "modela", "baseline")
    assert d.model == "armv9.0-a-v1" and d.features["sha3"] is True and "sha3" not in d.bools


def test_cli_baseline_names_the_named_form(capsys):
    from qmpserver.cli import main

    assert main(["cpu", "baseline", "--profile", "graviton4-v2-6.12", "--profile", "graviton4-v2-6.8"]) == 0
    assert capsys.readouterr().out.endswith("as a named model on A: -cpu neoverse-v2-v2\n")
    # no named model below the baseline on Grace 6.8: the host form only
    assert main(["cpu", "baseline", "--profile", "grace-v2-6.8", "--profile", "graviton4-v2-6.8"]) == 0
    assert "as a named model" not in capsys.readouterr().out
