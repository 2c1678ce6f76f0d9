"""The whole-request fast path of query-cpu-model-expansion with SYSREG_* input
(``Catalog.sysreg_accepted`` and the encoded template of ``commands/cpu.py``)
answers exactly what the per-field path answers: the same bytes on the wire for
any ``props`` value, errors included (a value KVM refuses, one too wide, a bool,
a float, a string, an unknown property, advertised properties mixed in), on every
built-in KVM host with the proposal, with and without ``-cpu host,SYSREG_*=``
globals, and through ``Catalog.expand`` (the baseline's entry) alike."""

from __future__ import annotations

import json

import pytest
from cpu_testutil import KVM_HOSTS, Qmp, make_instance, profile_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.arch.arm64 import cpu as C
from qmpserver.arch.arm64.cpu import catalog_for
from qmpserver.errors import QMPError

HOSTS = [h for h in KVM_HOSTS if h not in ("graviton2-n1-5.10", "graviton3-v1-6.1")]  # no SYSREG_* before 6.7


def _client(host, globals_=None):
    prof = profile_for(host)
    if globals_:
        return Qmp(make_instance(prof, cpu="host", cpu_props=globals_))
    return Qmp(make_instance(prof))


_CLIENTS: dict = {}


def client(host, with_globals=False):
    key = (host, with_globals)
    c = _CLIENTS.get(key)
    if c is None:
        g = None
        if with_globals:
            plain = client(host)
            sysreg = _sysreg(plain)
            p = sorted(sysreg)[len(sysreg) // 2]
            g = {p: str(sysreg[p])}  # the host value, set as a -cpu global
        c = _CLIENTS[key] = _client(host, g)
    return c


def _sysreg(c):
    return {k: v for k, v in c.props("host").items() if k.startswith("SYSREG_")}


def _slow(monkeypatch_ctx, c, req):
    with monkeypatch_ctx.context() as m:
        m.setattr(C.Catalog, "sysreg_accepted", lambda self, name, props: False)
        return c.raw_bytes(req)


WEIRD = st.one_of(
    st.integers(-(1 << 63), (1 << 64) - 1),
    st.integers(1 << 64, 1 << 70),
    st.integers(-(1 << 70), -1),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, 2.0]),
    st.text(max_size=3),
    st.none(),
    st.just([]),
    st.just({}),
)


@st.composite
def props_case(draw, sysreg):
    """Mostly values KVM accepts (the fast path's domain), then zero to three
    perturbations at random places: a value it may refuse, a wrong type, an
    unknown or advertised property."""
    names = sorted(sysreg)
    mode = draw(st.sampled_from(["all", "subset", "one"]))
    if mode == "all":
        chosen = names
    else:
        chosen = draw(
            st.lists(st.sampled_from(names), min_size=1, max_size=1 if mode == "one" else 40, unique=True)
        )
    out = {}
    for n in chosen:
        host = sysreg[n]
        out[n] = draw(st.sampled_from([host, host, 0, 1, max(host - 1, 0)]))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["value", "small", "extra"]))
        if kind == "extra":
            key = draw(
                st.sampled_from(["sve", "pmu", "kvm-steal-time", "aarch64", "not-a-prop", "pauth", "sve128"])
            )
            out[key] = draw(st.one_of(st.booleans(), st.integers(0, 2)))
        else:
            key = draw(st.sampled_from(chosen))
            out[key] = draw(WEIRD if kind == "value" else st.integers(0, 300))
    order = draw(st.permutations(list(out)))
    return {k: out[k] for k in order}


@pytest.mark.parametrize("with_globals", [False, True])
@pytest.mark.parametrize("host", HOSTS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fast_path_answers_like_the_per_field_path(host, with_globals, data, monkeypatch):
    c = client(host, with_globals)
    props = data.draw(props_case(_sysreg(c)))
    req = json.dumps(
        {
            "execute": "query-cpu-model-expansion",
            "arguments": {"type": "full", "model": {"name": "host", "props": props}},
            "id": 7,
        }
    ).encode()
    assert c.raw_bytes(req) == _slow(monkeypatch, c, req)


@pytest.mark.parametrize("host", HOSTS)
def test_every_sysreg_at_host_value_takes_the_fast_path(host, monkeypatch):
    c = client(host)
    sysreg = _sysreg(c)
    cat = catalog_for(c.instance)
    assert cat.sysreg_accepted("host", sysreg)
    req = json.dumps(
        {
            "execute": "query-cpu-model-expansion",
            "arguments": {"type": "full", "model": {"name": "host", "props": sysreg}},
        }
    ).encode()
    fast = c.raw_bytes(req)
    assert fast == _slow(monkeypatch, c, req)
    assert json.loads(fast)["return"]["model"]["props"] == c.props("host")


@pytest.mark.parametrize("host", HOSTS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_expand_fast_path_equals_per_field_path(host, data, monkeypatch):
    c = client(host)
    cat = catalog_for(c.instance)
    props = data.draw(props_case(_sysreg(c)))

    def run():
        try:
            return ("ok", list(cat.expand("host", props).items()))
        except QMPError as e:
            return ("err", e.cls, e.desc)

    fast = run()
    with monkeypatch.context() as m:
        m.setattr(C.Catalog, "sysreg_accepted", lambda self, name, props: False)
        assert fast == run()


def test_bool_is_not_an_accepted_integer():
    c = client("ampereone-a-mte-6.18")
    cat = catalog_for(c.instance)
    p = "SYSREG_ID_AA64ISAR0_EL1_AES"
    assert cat.sysreg_accepted("host", {p: 1})
    assert not cat.sysreg_accepted("host", {p: True})
    assert not cat.sysreg_accepted("host", {p: 1.0})
    assert c.err("host", {p: True}) == "Invalid parameter type for 'model.props.%s', expected: uint64" % p
