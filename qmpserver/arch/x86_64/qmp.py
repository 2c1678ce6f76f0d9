"""The x86_64 target's CPU-model commands for :mod:`qmpserver.arch.targets`.

``query-cpu-model-expansion`` is computed by :mod:`.cpu` from the build's capture and the
measured rules; where they do not reach, the build's recording for exactly these arguments
answers, else a visible error (:func:`qmpserver.arch.targets.recorded_or_missing`).
On a running ``pc``/``q35`` machine under KVM the expansion follows the machine's
``kernel-irqchip`` (:func:`.startup.irqchip_features`), and the ``-cpu`` option's properties
reach it as they reach QEMU's (:func:`.startup.expansion_props`).
``query-cpu-definitions`` is the recording of the build under the instance's accelerator: its
``unavailable-features`` are those of the captured host (computing them for another host needs
that host's CPUID data, which no x86 host profile carries yet).
"""

from __future__ import annotations

from typing import Any

from ...errors import QMPError
from .. import targets
from . import cpu, startup


def query_cpu_definitions(inst: Any, args: dict[str, Any]) -> Any:
    return targets.recorded_or_missing(
        inst, "query-cpu-definitions", args, "x86 CPU definitions are only replayed from the capture"
    )


def query_cpu_model_expansion(inst: Any, args: dict[str, Any]) -> Any:
    model = args["model"]
    try:
        cat = cpu.catalog(inst.build, inst.accel)
        props = startup.expansion_props(inst, model["name"], model.get("props"))
        full = cat.expand("full", model["name"], props)
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
