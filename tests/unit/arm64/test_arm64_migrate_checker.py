"""migrate.check_incoming through the destination's compiled kvm.FieldChecker answers
exactly what it answered with kvm.check_register_write per register: the same
refusal case, errno, printed lines and reasons (order included), for the cpreg
list of any built-in KVM host migrating to any other, with ID-register values
changed field by field, KVM_CAP_ARM_WRITABLE_IMP_ID_REGS on and off."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.arch.arm64 import kvm
from qmpserver.arch.arm64 import migrate as M
from qmpserver.arch.arm64 import sysreg as sr

HOSTS = {p.stem: sr.load_yaml(p) for p in sorted((sr.models_dir() / "hosts").glob("*.yaml"))}
HOSTS = {k: v for k, v in HOSTS.items() if v.get("arch", "aarch64") == "aarch64" and v.get("idregs")}
ABI = {"cpu": {"pmu": True, "sve-vector-lengths": [128]}, "mte": None}


class _Reference:
    """The per-register reference in the checker's place."""

    def __init__(self, kernel, host, imp_id_regs=None, nv=False):
        self.kernel, self.host, self.imp = kernel, host, imp_id_regs

    def check_register(self, reg, hv, req):
        return kvm.check_register_write(reg, hv, req, self.kernel, host=self.host, imp_id_regs=self.imp)


def _answer(r):
    return None if r is None else (r.case, r.errno, r.lines, r.why)


def _src(name, rnd, rate):
    host = HOSTS[name]
    entries = M.kvm_reg_list(host, ABI)
    idx = [e.index for e in entries]
    val = []
    for e in entries:
        v = e.value
        fields = sr.fields(e.name) if e.name in sr.sysreg_table()["registers"] else []
        if e.kind in ("id", "invariant") and fields and rnd.random() < rate:
            f = rnd.choice(fields)
            v = sr.set_field(e.name, v, f["name"], rnd.randint(0, sr.field_mask(f) >> f["lsb"]))
        val.append(v)
    return idx, val


@pytest.mark.parametrize("imp", [False, True])
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    src=st.sampled_from(sorted(HOSTS)),
    dst=st.sampled_from(sorted(HOSTS)),
    seed=st.integers(0, 1 << 30),
    rate=st.sampled_from([0.0, 0.02, 0.1, 0.3]),
    same=st.booleans(),
)
def test_check_incoming_equals_per_register_reference(imp, src, dst, seed, rate, same, monkeypatch):
    if same:
        dst = src  # the usual case: accepted, or refused for one changed field
    idx, val = _src(src, random.Random(seed), rate)
    host = HOSTS[dst]
    limits = M.limit_list(host, ABI)
    fast = _answer(M.check_incoming(host, limits, idx, val, len(idx), imp))
    with monkeypatch.context() as m:
        m.setattr(kvm, "field_checker", _Reference)
        assert fast == _answer(M.check_incoming(host, limits, idx, val, len(idx), imp))
