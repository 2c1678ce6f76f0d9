"""The x86 expansion fast path (qmpserver/arch/x86_64/qmp.py: encoded replies kept on the
catalogue) answers exactly the slow path's bytes, for any question, on a host profile whose
expansions are computed and on the capture's own, and is not used where the instance changes
the answer (``-cpu`` properties, the machine's irqchip)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.arch.x86_64 import cpu, qmp
from qmpserver.errors import QMPError
from qmpserver.profiles.loader import load_profile
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig
from qmpserver.wire.encode import RawJSON, dumps

PROFILES = ("x86-capture-amd-epyc-6.18", "qemu-7.2-debian-x86_64", "x86-skylake-sp-5.15")
MODELS = (
    "host",
    "max",
    "base",
    "qemu64",
    "Skylake-Client-IBRS",
    "Cascadelake-Server-v2",
    "EPYC-Rome",
    "Snowridge",
    "nope",
)
PROPS = ("vmx", "svm", "npt", "avx512f", "pcid", "arch-capabilities", "ibrs-all", "sse4.2", "sse4_2",
         "level", "xlevel", "family", "vendor", "model-id", "migratable", "full-cpuid-auto-level", "foo")  # fmt: skip
VALUES = st.one_of(st.booleans(), st.integers(-1, 1 << 33), st.sampled_from(["GenuineIntel", "abc", ""]))


def _instance(profile, **config):
    return start(load_profile(profile), InstanceConfig(start_paused=True, accel=["kvm"], **config))


_INSTANCES: dict = {}


def _inst(profile):
    if profile not in _INSTANCES:
        _INSTANCES[profile] = _instance(profile, machine={"type": "none"})
    return _INSTANCES[profile]


def _answer(fn, inst, args):
    try:
        out = fn(inst, args)
    except QMPError as e:
        return ("error", e.desc)
    return ("return", str(out) if type(out) is RawJSON else dumps(out))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(PROFILES),
    kind=st.sampled_from(["full", "static"]),
    name=st.sampled_from(MODELS),
    props=st.one_of(st.none(), st.dictionaries(st.sampled_from(PROPS), VALUES, max_size=4)),
)
def test_fast_path_equals_slow_path(profile, kind, name, props):
    inst = _inst(profile)
    model = {"name": name}
    if props is not None:
        model["props"] = props
    args = {"type": kind, "model": model}
    slow = _answer(qmp.compute_expansion, inst, args)
    first = _answer(qmp.query_cpu_model_expansion, inst, args)
    again = _answer(qmp.query_cpu_model_expansion, inst, args)  # from the memo when it kept it
    assert first == slow
    assert again == slow


def test_the_memo_answers_the_second_time():
    inst = _inst("x86-capture-amd-epyc-6.18")
    args = {"type": "static", "model": {"name": "Icelake-Server", "props": {"pcid": False}}}
    first = qmp.query_cpu_model_expansion(inst, args)
    assert type(first) is RawJSON
    assert qmp.query_cpu_model_expansion(inst, args) is first


@pytest.mark.parametrize(
    "config,name",
    [
        ({"machine": {"type": "pc"}, "cpu": "qemu64", "cpu_props": {}}, "host"),
        ({"machine": {"type": "q35", "kernel-irqchip": "split"}}, "host"),
    ],
    ids=["cpu-option", "irqchip-split"],
)
def test_instance_dependent_expansions_bypass_the_memo(config, name, monkeypatch):
    """A ``-cpu`` option's +feat reaches every later expansion; a split irqchip changes
    ``host``: the fast path steps aside (its key would not say so)."""
    from qmpserver.arch.x86_64 import startup

    inst = _instance("x86-capture-amd-epyc-6.18", **config)
    called = []
    monkeypatch.setattr(startup, "expansion_depends_on_instance", lambda i, n: called.append(n) or True)
    cat = cpu.catalog(inst.build, inst.accel)
    before = dict(cat.__dict__.get("_reply_memo", {}))
    qmp.query_cpu_model_expansion(inst, {"type": "full", "model": {"name": name}})
    assert called == [name]
    assert cat.__dict__.get("_reply_memo", {}) == before
