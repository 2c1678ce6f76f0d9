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
"""

from __future__ import annotations

from typing import Any

from ...errors import QMPError
from .. import targets
from . import cpu, hostcpu, startup


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
