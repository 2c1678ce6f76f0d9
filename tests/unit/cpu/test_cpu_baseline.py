"""query-cpu-model-baseline / query-cpu-model-comparison on aarch64: upstream behaviour
without the proposal, the proposal's semantics (docs/proposals/cpu-idreg-props.md; on a
build with cpu-idreg-props but not arm-cpu-models, whose named form is tested in
tests/unit/arm64/test_named_baseline.py), and
hypothesis properties: the baseline is accepted by both hosts' host model,
baseline(a, a) = a, baseline is commutative, compare(host, baseline(host, other)) is
superset or identical."""

from __future__ import annotations

import time

import pytest  # noqa: F401  (marks, fixtures)
from cpu_testutil import Qmp, make_instance, profile_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SVE = ["sve%d" % (128 * vq) for vq in range(1, 17)]
NOT_BRIDGED = "No compatible CPU model could be created as these properties cannot be bridged: "


def H(props=None):
    return {"name": "host"} if props is None else {"name": "host", "props": props}


_clients = {}


IDREG = "qmpserver-idreg"  # cpu-idreg-props without arm-cpu-models (cpu_testutil.BUILDS)


def client(host, build=IDREG):
    key = (host, build)
    if key not in _clients:
        _clients[key] = Qmp(make_instance(profile_for(host, build)))
    return _clients[key]


def baseline(c, a, b):
    return c.cmd("query-cpu-model-baseline", {"modela": a, "modelb": b})


def compare(c, a, b):
    return c.ok("query-cpu-model-comparison", {"modela": a, "modelb": b})


# --- upstream behaviour -------------------------------------------------------------------


def test_upstream_11_1_stub_texts():
    c = client("graviton4-v2-6.12", "qemu-11.1")
    assert c.cmd("query-cpu-model-comparison", {"modela": H(), "modelb": H()})["error"] == {
        "class": "GenericError",
        "desc": "CPU model comparison is not supported on this target",
    }
    assert c.cmd("query-cpu-model-baseline", {"modela": H(), "modelb": H()})["error"] == {
        "class": "GenericError",
        "desc": "CPU model baseline is not supported on this target",
    }


def test_7_2_has_no_such_commands():
    c = Qmp(make_instance("debian-7.2-tcg"))
    for cmd in ("query-cpu-model-comparison", "query-cpu-model-baseline"):
        assert c.cmd(cmd, {"modela": H(), "modelb": H()})["error"] == {
            "class": "CommandNotFound",
            "desc": "The command %s has not been found" % cmd,
        }


# --- proposal: checks -------------------------------------------------------------------------


def test_model_checks():
    c = client("graviton4-v2-6.12")
    assert (
        baseline(c, {"name": "max"}, H())["error"]["desc"]
        == "CPU model baseline is only supported for the CPU type 'host'"
    )
    assert (
        c.cmd("query-cpu-model-comparison", {"modela": H(), "modelb": {"name": "cortex-a57"}})["error"][
            "desc"
        ]
        == "We cannot guarantee the CPU type 'cortex-a57' works with KVM on this host"
    )
    assert (
        baseline(c, {"name": "foo"}, H())["error"]["desc"]
        == "The CPU type 'foo' is not a recognized ARM CPU type"
    )
    assert baseline(c, H({"foo": 1}), H())["error"]["desc"] == "Parameter 'modela.props.foo' is unexpected"
    assert baseline(c, H(), H({"sve512": True}))["error"]["desc"] == "cannot enable sve512"
    assert (
        baseline(c, H(), H(3))["error"]["desc"]
        == "Invalid parameter type for 'modelb.props', expected: object"
    )
    t = Qmp(make_instance("qmpserver-tcg"))
    assert baseline(t, H(), H())["error"]["desc"] == "The CPU type 'host' requires KVM"


def test_identical_and_lowered():
    c = client("graviton4-v2-6.12")
    full = c.props("host")
    assert baseline(c, H(), H())["return"] == {"model": {"name": "host", "props": full}}
    assert compare(c, H(), H()) == {"result": "identical", "responsible-properties": []}
    assert compare(c, H(), H(full)) == {"result": "identical", "responsible-properties": []}
    low = {"SYSREG_ID_AA64ISAR0_EL1_AES": 1, "pauth": False}
    assert compare(c, H(), H(low)) == {
        "result": "superset",
        "responsible-properties": ["pauth", "SYSREG_ID_AA64ISAR0_EL1_AES"],
    }
    assert compare(c, H(low), H()) == {
        "result": "subset",
        "responsible-properties": ["pauth", "SYSREG_ID_AA64ISAR0_EL1_AES"],
    }
    mixed_a = {"SYSREG_ID_AA64ISAR0_EL1_AES": 1}
    mixed_b = {"SYSREG_ID_AA64ISAR0_EL1_SHA1": 0}
    r = compare(c, H(mixed_a), H(mixed_b))
    assert r["result"] == "incompatible"
    assert set(r["responsible-properties"]) == {"SYSREG_ID_AA64ISAR0_EL1_AES", "SYSREG_ID_AA64ISAR0_EL1_SHA1"}
    b = baseline(c, H(mixed_a), H(mixed_b))["return"]["model"]["props"]
    assert b["SYSREG_ID_AA64ISAR0_EL1_AES"] == 1 and b["SYSREG_ID_AA64ISAR0_EL1_SHA1"] == 0


def test_two_hosts_same_kernel():
    """Grace and Graviton4 on 6.8: the same writable fields; the baseline lowers what differs."""
    g4 = client("graviton4-v2-6.8")
    grace = client("grace-v2-6.8")
    other = g4.props("host")
    r = baseline(grace, H(), H(other))["return"]["model"]["props"]
    assert r["pauth"] is False
    assert r["SYSREG_ID_AA64ISAR0_EL1_SM3"] == 0 and r["SYSREG_ID_AA64ISAR0_EL1_RNDR"] == 0
    assert "error" not in grace.expand("host", r)
    assert "error" not in g4.expand("host", r)
    assert compare(grace, H(), H(r))["result"] in ("superset", "identical")


def test_not_bridgeable_one_side_writable():
    """PFR1.BT is writable on 6.12 only and differs (Grace: no BTI): no common model."""
    grace = client("grace-v2-6.8")
    other = client("graviton4-v2-6.12").props("host")
    r = baseline(grace, H(), H(other))
    assert r["error"]["desc"] == NOT_BRIDGED + "SYSREG_ID_AA64PFR1_EL1_BT"
    # the same from the other side: Grace's value of a field it cannot write is not in its expansion
    g4 = client("graviton4-v2-6.12")
    r = baseline(g4, H(), H(grace.props("host")))
    assert r["error"]["desc"].startswith(NOT_BRIDGED)
    assert "SYSREG_ID_AA64PFR1_EL1_BT" in r["error"]["desc"]


def test_exact_field_difference_not_bridgeable():
    c = client("graviton4-v2-6.12")
    other = client("cix-p1-a720-mte3-6.12").props("host")
    desc = baseline(c, H(), H(other))["error"]["desc"]
    assert desc.startswith(NOT_BRIDGED) and "SYSREG_CLIDR_EL1_LoC" in desc
    assert compare(c, H(), H(other))["result"] == "incompatible"


def test_pmu_on_one_side_only():
    from qmpserver.arch.arm64 import baseline as B

    c = client("graviton4-v2-6.12")
    from qmpserver.arch.arm64.cpu import catalog_for

    cat = catalog_for(c.instance)
    a = B.resolve(cat, H(), "modela", "baseline")
    b = B.Desc(dict((k, v) for k, v in a.bools.items() if k != "pmu"), dict(a.sysreg), None, None)
    props, resp = B.baseline(cat, a, b)
    assert resp == ["pmu"]


def test_baseline_fast():
    c = client("ampereone-a-mte-6.18")
    other = dict(c.props("host"), SYSREG_ID_AA64ISAR0_EL1_AES=1)
    args = {"modela": H(), "modelb": H(other)}
    from qmpserver.arch.arm64 import baseline as B
    from qmpserver.arch.arm64.cpu import catalog_for

    cat = catalog_for(c.instance)
    B.qmp_baseline(cat, args["modela"], args["modelb"])
    t = time.perf_counter()
    n = 50
    for _ in range(n):
        B.qmp_baseline(cat, args["modela"], args["modelb"])
    per = (time.perf_counter() - t) / n
    assert per < 0.005, "baseline took %.2f ms" % (per * 1e3)


# --- hypothesis -------------------------------------------------------------------------------

PAIRS = [
    ("grace-v2-6.8", "grace-v2-6.8"),
    ("grace-v2-6.8", "graviton4-v2-6.8"),
    ("graviton4-v2-6.12", "graviton4-v2-6.12"),
    ("cix-p1-a720-mte3-6.12", "cix-p1-a720-mte3-6.12"),
    ("ampereone-a-mte-6.18", "ampereone-a-mte-6.18"),
    ("axion-v2-6.17", "axion-v2-6.17"),
]


def qmp_for(name):
    return client(name)


@st.composite
def variant(draw, c):
    """A delta the host accepts: some SYSREG fields lowered, SVE cut, pauth/steal-time off."""
    from qmpserver.arch.arm64.cpu import catalog_for

    cat = catalog_for(c.instance)
    host = cat.cls("host")
    delta = {}
    entries = list(host.sysreg.values())
    for e in draw(st.lists(st.sampled_from(entries), max_size=8, unique_by=lambda e: e["prop"])):
        acc = e["accept"]
        if acc is None:
            continue
        vals = [v for v in range(1 << e["width"]) if (acc >> v) & 1]
        delta[e["prop"]] = draw(st.sampled_from(vals))
    if draw(st.booleans()):
        delta["pauth"] = False
    if draw(st.booleans()):
        delta["kvm-steal-time"] = False
    vls = [n for n in SVE if c.props("host")[n]]
    if vls and draw(st.booleans()):
        cut = draw(st.integers(0, len(vls)))
        if cut == 0:
            delta["sve"] = False
        else:
            for n in vls[cut:]:
                delta[n] = False
    return delta


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), pair=st.sampled_from(PAIRS))
def test_hypothesis_baseline_properties(data, pair):
    ca, cb = qmp_for(pair[0]), qmp_for(pair[1])
    da, db = data.draw(variant(ca)), data.draw(variant(cb))
    a = H(da)
    b = H(cb.props("host", db))  # B as a complete description (its expansion's props)
    r1 = baseline(ca, a, b)
    r2 = baseline(ca, b, a)
    # commutative (both succeed with the same model, or both fail naming the same properties)
    if "return" in r1:
        assert r2 == r1
    else:
        assert "error" in r2
        assert set(r1["error"]["desc"][len(NOT_BRIDGED) :].split(", ")) == set(
            r2["error"]["desc"][len(NOT_BRIDGED) :].split(", ")
        )
        return
    model = r1["return"]["model"]
    assert model["name"] == "host"
    # accepted by both hosts' host model
    assert "error" not in ca.expand("host", model["props"]), ca.expand("host", model["props"])
    assert "error" not in cb.expand("host", model["props"]), cb.expand("host", model["props"])
    # compare(host, baseline(host, other)) is superset or identical
    assert compare(ca, a, model)["result"] in ("superset", "identical")
    assert compare(cb, H(db), model)["result"] in ("superset", "identical")


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), host=st.sampled_from(sorted({p[0] for p in PAIRS})))
def test_hypothesis_baseline_idempotent(data, host):
    c = qmp_for(host)
    d = data.draw(variant(c))
    expanded = c.props("host", d)
    r = baseline(c, H(d), H(d))
    assert r == {"return": {"model": {"name": "host", "props": expanded}}}
    assert compare(c, H(d), H(d)) == {"result": "identical", "responsible-properties": []}
    assert compare(c, H(d), H(expanded)) == {"result": "identical", "responsible-properties": []}
