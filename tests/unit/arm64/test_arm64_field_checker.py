"""kvm.FieldChecker (compiled once per kernel and host) answers exactly what the
reference kvm.check_field_write answers: same None, same reason text, same error
for a value that does not fit.  Properties over every register and field of the
sysreg table, every host file of models/hosts (and no host), the kernels of those
hosts and of every release row of kvm-writable.yaml, both settings of
KVM_CAP_ARM_WRITABLE_IMP_ID_REGS and of nested virtualisation."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.arch.arm64 import kvm
from qmpserver.arch.arm64 import sysreg as sr

TABLE = sr.sysreg_table()
RULES = kvm.writable_rules()
FIELDS = [
    (reg, f["name"], sr.field_width(f))
    for reg, rd in TABLE["registers"].items()
    for f in rd.get("fields") or ()
]
SPECIAL = sorted({r["field"] for r in RULES.get("special_rules") or ()})
SPECIAL_FIELDS = [x for x in FIELDS if f"{x[0]}.{x[1]}" in SPECIAL]


def _hosts() -> dict[str, dict]:
    out = {p.stem: sr.load_yaml(p) for p in sorted((sr.models_dir() / "hosts").glob("*.yaml"))}
    # a host for the accept_zero_when rule of MTE_frac (MTE 2 with MTE_frac 0xF)
    mte2 = dict(out["ampereone-a-mte-6.18"])
    idregs = dict(mte2["idregs"])
    idregs["ID_AA64PFR1_EL1"] = sr.set_field(
        "ID_AA64PFR1_EL1",
        sr.set_field("ID_AA64PFR1_EL1", idregs["ID_AA64PFR1_EL1"], "MTE", 2),
        "MTE_frac",
        0xF,
    )
    mte2["idregs"] = idregs
    out["synthetic-mte2-no-async"] = mte2
    return out


HOSTS = _hosts()
HOST_NAMES = [None, *HOSTS]
KERNELS = sorted(
    {str(h["kernel"]["release"]) for h in HOSTS.values()}
    | {str(r["release"]) for r in RULES.get("releases") or ()}
    | {str(r["release"]) for r in RULES.get("legacy") or ()}
    | {"5.4", "6.6", "0.0"},
    key=kvm.parse_release,
)


def _reference(reg, field, hv, req, kernel, host, imp, nv):
    try:
        return ("ok", kvm.check_field_write(reg, field, hv, req, kernel, host=host, imp_id_regs=imp, nv=nv))
    except Exception as e:  # noqa: BLE001 - the error is part of the answer
        return (type(e), str(e))


def _fast(checker, reg, field, hv, req):
    try:
        return ("ok", checker.check(reg, field, hv, req))
    except Exception as e:  # noqa: BLE001
        return (type(e), str(e))


@st.composite
def case(draw):
    host_name = draw(st.sampled_from(HOST_NAMES))
    host = HOSTS[host_name] if host_name else None
    kernel = draw(
        st.one_of(st.sampled_from(KERNELS), st.just(str(host["kernel"]["release"])) if host else st.nothing())
    )
    imp = draw(st.sampled_from([None, True, False]))
    nv = draw(st.booleans())
    reg, field, width = draw(st.one_of(st.sampled_from(FIELDS), st.sampled_from(SPECIAL_FIELDS)))
    top = (1 << width) - 1
    value = st.one_of(
        st.integers(0, top),
        st.sampled_from(sorted({0, 1, 2, 3, top - 1, top} & set(range(top + 1)))),
    )
    hv = draw(value)
    req = draw(st.one_of(value, st.just(hv)))
    if draw(st.integers(0, 19)) == 0:  # a value that does not fit: the same error
        bad = draw(st.sampled_from([-1, top + 1, 1 << 64, True, "1", None, 1.0]))
        if draw(st.booleans()):
            hv = bad
        else:
            req = bad
    return host, kernel, imp, nv, reg, field, hv, req


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(c=case())
def test_checker_equals_reference(c):
    host, kernel, imp, nv, reg, field, hv, req = c
    want = _reference(reg, field, hv, req, kernel, host, imp, nv)
    assert _fast(kvm.field_checker(kernel, host, imp_id_regs=imp, nv=nv), reg, field, hv, req) == want
    fresh = kvm.FieldChecker(kernel, host, imp_id_regs=imp, nv=nv)
    assert _fast(fresh, reg, field, hv, req) == want


@pytest.mark.parametrize("host_name", HOST_NAMES)
def test_every_field_of_every_host(host_name):
    """Each field of the table once per host (its own kernel; 6.18 without a host),
    with seeded random values that differ (the interesting path)."""
    host = HOSTS[host_name] if host_name else None
    kernel = str(host["kernel"]["release"]) if host else "6.18"
    checker = kvm.FieldChecker(kernel, host)
    rnd = random.Random(host_name or "none")
    for reg, field, width in FIELDS:
        hv = rnd.randrange(1 << width)
        req = (hv + 1 + rnd.randrange((1 << width) - 1)) % (1 << width) if width > 0 else hv
        assert _fast(checker, reg, field, hv, req) == _reference(
            reg, field, hv, req, kernel, host, None, False
        )


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    host_name=st.sampled_from([n for n in HOST_NAMES if n]),
    reg=st.sampled_from([r for r in TABLE["registers"] if TABLE["registers"][r].get("fields")]),
    data=st.data(),
)
def test_register_check_equals_reference(host_name, reg, data):
    host = HOSTS[host_name]
    width = TABLE["registers"][reg].get("width", 64)
    hv = int(host.get("idregs", {}).get(reg, 0))
    req = data.draw(st.one_of(st.integers(0, (1 << width) - 1), st.just(hv)))
    if data.draw(st.booleans()):  # change a few fields only, the usual case
        req = hv
        for f in data.draw(st.lists(st.sampled_from(sr.fields(reg, TABLE)), max_size=3)):
            req = sr.set_field(
                reg, req, f["name"], data.draw(st.integers(0, sr.field_mask(f) >> f["lsb"])), TABLE
            )
    kernel = str(host["kernel"]["release"])
    want = kvm.check_register_write(reg, hv, req, kernel, host=host)
    assert kvm.field_checker(kernel, host).check_register(reg, hv, req) == want


def test_shared_checker_per_host_object():
    h = HOSTS["graviton4-v2-6.12"]
    a = kvm.field_checker(None, h)
    assert a is kvm.field_checker("6.12.0", h)  # same release, same host object
    assert a is not kvm.field_checker(None, dict(h))  # another object: its own checker
    assert a is not kvm.field_checker(None, h, nv=True)
    assert a.release == (6, 12, 0)


def test_unknown_field_is_the_reference_error():
    c = kvm.FieldChecker("6.18")
    with pytest.raises(sr.SysregError, match="has no field 'NOPE'"):
        c.check("ID_AA64ISAR0_EL1", "NOPE", 0, 0)
    with pytest.raises(sr.SysregError, match="unknown system register"):
        c.check("NOPE_EL1", "X", 0, 0)


@pytest.mark.parametrize("host_name", [None, "synthetic-mte2-no-async", "graviton4-v2-6.12"])
def test_special_rule_fields_exhaustively(host_name):
    """Every value pair of every field with a special rule, on a kernel where all the
    rules apply (with EL2 for the rules that depend on it)."""
    host = HOSTS[host_name] if host_name else None
    nv_rules = {r["field"] for r in RULES["special_rules"] if r["rule"] == "refused_with_nv"}
    for reg, field, width in SPECIAL_FIELDS:
        nv = f"{reg}.{field}" in nv_rules
        checker = kvm.field_checker("7.2", host, nv=nv)
        for hv in range(1 << width):
            for req in range(1 << width):
                want = _reference(reg, field, hv, req, "7.2", host, None, nv)
                assert _fast(checker, reg, field, hv, req) == want, (reg, field, hv, req)
