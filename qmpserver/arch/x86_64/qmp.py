"""The x86_64 target's CPU-model commands for :mod:`qmpserver.arch.targets`.

``query-cpu-model-expansion`` is computed by :mod:`.cpu` from the build's capture and the
measured rules; where they do not reach, the build's recording for exactly these arguments
answers, else a visible error (:func:`qmpserver.arch.targets.recorded_or_missing`).
On a running ``pc``/``q35`` machine under KVM, ``host``'s ``full`` expansion follows the machine's
``kernel-irqchip`` (:func:`.startup.irqchip_features`: with ``split`` it has
``kvm-msi-ext-dest-id``, as the real binary answers).
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
        out = cat.expand(args["type"], model["name"], model.get("props"))
        if model["name"] == "host" and args["type"] == "full":
            startup.irqchip_features(inst, cat, out["model"]["props"])
        return out
    except cpu.X86Error as e:
        raise QMPError(e.message) from None
    except cpu.Missing as e:
        return targets.recorded_or_missing(inst, "query-cpu-model-expansion", args, str(e))


HANDLERS = {
    "query-cpu-definitions": query_cpu_definitions,
    "query-cpu-model-expansion": query_cpu_model_expansion,
}
