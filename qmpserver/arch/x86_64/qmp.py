"""The x86_64 target's CPU-model commands for :mod:`qmpserver.arch.targets`.

``query-cpu-model-expansion`` is computed by :mod:`.cpu` from the build's capture and the
measured rules; where they do not reach, the build's recording for exactly these arguments
answers, else a visible error (:func:`qmpserver.arch.targets.recorded_or_missing`).
On a running ``pc``/``q35`` machine under KVM the expansion follows the machine's
``kernel-irqchip`` (:func:`.startup.irqchip_features`), and the ``-cpu`` option's properties
reach it as they reach QEMU's (:func:`.startup.expansion_props`).
``query-cpu-definitions`` is the recording of the build under the instance's accelerator; on a
host profile with CPUID data (``x86_cpuid``) under KVM, ``unavailable-features`` and the
``host``/``max`` expansions are computed for that host (:mod:`.hostcpu`).

Fast path: an expansion that does not depend on the instance (no ``-cpu`` property reaches it,
the machine's irqchip is the capture's) is a function of the build, the accelerator, the host
data and the arguments; its encoded reply is kept on the catalogue (:data:`MEMO_ENTRIES`
replies, oldest dropped first) and given back as :class:`~qmpserver.wire.encode.RawJSON`, so a
question asked again on any instance of that build and host costs a lookup.  Errors are not
kept.  ``tests/unit/x86_64/test_x86_expansion_memo.py`` proves the fast path answers the slow
one's bytes (``bench/bench_x86_cpu.py`` measures both).
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import QMPError
from ...wire.encode import RawJSON, dumps
from .. import targets
from . import cpu, hostcpu, startup

# encoded expansions kept per catalogue (build x accelerator): about 15 KB each
MEMO_ENTRIES = 512


def query_cpu_definitions(inst: Any, args: dict[str, Any]) -> Any:
    """The build's recorded list; on a host profile with its own CPUID data under KVM, each
    named model's ``unavailable-features`` computed for that host
    (:meth:`.cpu.Catalog.unavailable_features`)."""
    host = hostcpu.for_host(inst.host)
    if host is None or inst.accel != "kvm":
        return targets.recorded_or_missing(
            inst, "query-cpu-definitions", args, "x86 CPU definitions are only replayed from the capture"
        )
    try:
        cat = cpu.catalog(inst.build, inst.accel)
        out = []
        for d in inst.build.recorded_return("query-cpu-definitions", None, inst.accel):
            d = dict(d)
            if d["name"] not in ("host", "max", "base"):
                d["unavailable-features"] = cat.unavailable_features(d["name"], host)
            out.append(d)
        return out
    except cpu.Missing as e:
        return targets.recorded_or_missing(inst, "query-cpu-definitions", args, str(e))


def query_cpu_model_expansion(inst: Any, args: dict[str, Any]) -> Any:
    """The fast path (see the module docstring), else :func:`compute_expansion`."""
    model = args["model"]
    name = model.get("name")
    key = None
    if type(name) is str and not startup.expansion_depends_on_instance(inst, name):
        try:
            cat = cpu.catalog(inst.build, inst.accel)
        except cpu.Missing:
            cat = None
        if cat is not None:
            host = hostcpu.for_host(inst.host)
            props = model.get("props")
            key = (
                host.get("name") if host is not None else None,
                args["type"],
                name,
                json.dumps(props, sort_keys=True) if "props" in model else None,
            )
            memo: dict[Any, RawJSON] = cat.__dict__.setdefault("_reply_memo", {})
            raw = memo.get(key)
            if raw is not None:
                return raw
    out = compute_expansion(inst, args)
    if key is not None and type(out) is dict:
        raw = RawJSON(dumps(out))
        if len(memo) >= MEMO_ENTRIES:
            del memo[next(iter(memo))]
        memo[key] = raw
        return raw
    return out


def compute_expansion(inst: Any, args: dict[str, Any]) -> Any:
    """The slow path: the expansion computed (:meth:`.cpu.Catalog.expand`)."""
    model = args["model"]
    try:
        cat = cpu.catalog(inst.build, inst.accel)
        props = startup.expansion_props(inst, model["name"], model.get("props"))
        full = cat.expand("full", model["name"], props, hostcpu.for_host(inst.host))
        startup.irqchip_features(inst, cat, model["name"], full["model"]["props"], props)
        if args["type"] == "static":
            return cat.static_of(full["model"]["props"])
        return full
    except cpu.X86Error as e:
        raise QMPError(e.message) from None
    except cpu.Missing as e:
        return targets.recorded_or_missing(inst, "query-cpu-model-expansion", args, str(e))


HANDLERS = {
    "query-cpu-definitions": query_cpu_definitions,
    "query-cpu-model-expansion": query_cpu_model_expansion,
}
