"""CPU-model commands of a ppc64 build (the ``cpu_models`` part of :data:`qmpserver.arch.targets.TARGETS`).

Under TCG the build's recording answers.  Under KVM on a POWER host (a ppc64 host file), no
answer was recorded (the builds were captured under TCG on x86), so ``query-cpu-definitions``
is derived from the TCG recording by QEMU's rule (``target/ppc/kvm.c``
``kvm_ppc_register_host_cpu_type``, 7.2 and 10.0): KVM registers a ``host`` CPU type and a
type named after the host CPU's family (``POWER9``), and points the family's alias
(``power9``) at that type; ``query-cpu-definitions`` (``target/ppc``) lists every CPU type
and every alias whose model exists.  Where QEMU places the two new types in its list (a
hash table's order) is not measured: they come last, and a log line says so.
"""

from __future__ import annotations

from ...log import get as get_logger
from ..targets import recorded_or_missing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["HANDLERS", "kvm_definitions"]

SUFFIX = "-powerpc64-cpu"
log = get_logger("qmpserver.cpu")


def _family(model: str) -> str:
    """The family name (``dc->desc`` of the family class) of a QEMU model: ``power9_v2.0`` ->
    ``POWER9``, ``power8nvl_v1.0`` -> ``POWER8NVL``, ``power10_v2.0`` -> ``POWER10``."""
    return model.split("_", 1)[0].upper()


def kvm_definitions(tcg: list[dict[str, Any]], host_model: str) -> list[dict[str, Any]]:
    """The TCG list as QEMU answers it under KVM on a host whose CPU is ``host_model``."""
    family = _family(host_model)
    out = []
    for d in tcg:
        d = dict(d)
        if d.get("typename") and d["name"].lower() == family.lower() and d["name"] + SUFFIX != d["typename"]:
            d["typename"] = family + SUFFIX  # the family alias now names the host family type
        out.append(d)
    for name in (family, "host"):
        out.append({"name": name, "typename": "", "static": False, "deprecated": False})
    return out


def query_cpu_definitions(inst: Any, args: dict[str, Any]) -> Any:
    host_model = ((getattr(inst.host, "data", None) or {}).get("cpu") or {}).get("model")
    if inst.accel != "kvm" or getattr(inst.host, "arch", None) != "ppc64" or not host_model:
        return recorded_or_missing(inst, "query-cpu-definitions", args)
    tcg = inst.build.recorded_return("query-cpu-definitions", None, "tcg", default=None)
    if not isinstance(tcg, list):
        return recorded_or_missing(
            inst, "query-cpu-definitions", args, "no TCG list to derive the KVM list from"
        )
    log.warning(
        "query-cpu-definitions under KVM (build %s, host CPU %s): derived from the TCG recording; "
        "where QEMU lists the 'host' and '%s' types is not measured (listed last)",
        inst.build.name,
        host_model,
        _family(host_model),
    )
    return kvm_definitions(tcg, host_model)


HOST_TYPE = "host" + SUFFIX


def kvm_machines(inst: Any) -> list[dict[str, Any]] | None:
    """``query-machines`` under KVM on a POWER host: the TCG recording, with the pseries
    versions' ``default-cpu-type`` the ``host`` type (``kvm_ppc_register_host_cpu_type`` sets
    every pseries machine class's default CPU type to it, ``pseries_machine_class_fixup``);
    None when the build recorded no TCG list or the host is not a POWER host."""
    if getattr(inst.host, "arch", None) != "ppc64":
        return None
    tcg = inst.build.recorded_return("query-machines", None, "tcg", default=None)
    if not isinstance(tcg, list):
        return None
    log.warning(
        "query-machines under KVM (build %s): derived from the TCG recording (pseries default CPU 'host')",
        inst.build.name,
    )
    out = []
    for m in tcg:
        m = dict(m)
        if str(m.get("name", "")).startswith("pseries") and "default-cpu-type" in m:
            m["default-cpu-type"] = HOST_TYPE
        out.append(m)
    return out


HANDLERS = {"query-cpu-definitions": query_cpu_definitions}
