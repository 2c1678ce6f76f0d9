"""Which target module answers the CPU-model commands of a build.

QEMU implements ``query-cpu-definitions`` and ``query-cpu-model-expansion``
once per target (``target/<arch>/*``); the QMP binding
(:mod:`qmpserver.commands.cpu`) is shared and asks this table which module
owns the semantics of the build's target.  A target module provides
``HANDLERS``: a mapping from command name to ``handler(instance, args)``
returning the command's return value or raising
:class:`qmpserver.errors.QMPError`.

* ``aarch64``: still bound inline by :mod:`qmpserver.commands.cpu` on top of
  :mod:`qmpserver.arch.arm64.cpu` (not listed here, so that the Arm model's
  code stays where its owners work on it).
* ``x86_64``: :mod:`qmpserver.arch.x86_64.qmp` (``target/i386/cpu.c``).
* ``ppc64``: :mod:`qmpserver.arch.ppc64.qmp` (the recording answers under TCG; under KVM
  ``query-cpu-definitions`` is derived from it); its machine rules are in ``MACHINE_RULES``.
* any other target: the build's recording for exactly these arguments, else
  an error naming what is missing (:func:`recorded_or_missing`).  Never the
  default of the return type: a ``{"model": {"name": ""}}`` from a mock looks
  like an answer and is not one.

Modules are imported on first use (the launcher's start-up path does not pay
for targets it does not serve).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import QMPError
from ..log import get as get_logger

__all__ = [
    "CPU_MODEL_MODULES",
    "MACHINE_RULES",
    "machine_rules",
    "ZERO_FILLED_MACHINE_TARGETS",
    "cpu_model_handler",
    "recorded_or_missing",
]

log = get_logger("qmpserver.cpu")

CPU_MODEL_MODULES: Mapping[str, str] = {
    "x86_64": "qmpserver.arch.x86_64.qmp",
    "ppc64": "qmpserver.arch.ppc64.qmp",
}

# Per-target machine rules beyond the Arm virt board (QEMU's per-board property setters,
# machine init checks and /machine values).  A module provides ``NOT_MINE`` and
# ``parse_property(instance, machine_type, name, value)`` (typed value, ValueError with
# QEMU's text, or NOT_MINE), ``validate(instance, machine_state)`` (machine init: raises
# StartupError), ``qom_value(instance, name)`` (``qom-get /machine`` value or NOT_MINE) and
# ``qom_set(instance, name, value)`` (``qom-set /machine``: the value stored, QMPError with
# QEMU's text, or NOT_MINE).
MACHINE_RULES: Mapping[str, str] = {
    "ppc64": "qmpserver.arch.ppc64.spapr",
}

_loaded: dict[str, Any] = {}


def machine_rules(target: str) -> Any:
    """The target's machine-rules module (imported on first use), or None."""
    path = MACHINE_RULES.get(target)
    if path is None:
        return None
    mod = _loaded.get(path)
    if mod is None:
        mod = _loaded[path] = importlib.import_module(path)
    return mod


# Targets whose /machine properties that neither -machine, the board model (virt) nor the ABI
# resolve read as the zero of their type (``qom-get``), as they did before other targets came.
# Any other target (ppc64: what the pseries board does not measure) answers such a ``qom-get`` with an error
# naming the property, the machine and the build (:mod:`qmpserver.vm.virt`, ``build_qom``):
# a pseries ``cap-cfpc`` of ``""`` or a ``vsmt`` of ``{}`` looks like an answer and is not one.
ZERO_FILLED_MACHINE_TARGETS = frozenset({"aarch64", "arm", "x86_64", "i386"})


def cpu_model_handler(target: str, command: str) -> Callable[[Any, dict[str, Any]], Any] | None:
    """The target module's handler of ``command``, or None when the target has none."""
    path = CPU_MODEL_MODULES.get(target)
    if path is None:
        return None
    mod = _loaded.get(path)
    if mod is None:
        mod = _loaded[path] = importlib.import_module(path)
    handler: Callable[[Any, dict[str, Any]], Any] | None = mod.HANDLERS.get(command)
    return handler


def recorded_or_missing(inst: Any, command: str, args: dict[str, Any], reason: str = "") -> Any:
    """The build's recorded answer to ``command`` with exactly ``args`` under the
    instance's accelerator; without one, a GenericError that names the target, the
    command, the arguments and the build, and a warning on ``qmpserver.cpu``.

    ``reason`` says why the model could not answer (e.g. the model is not in the
    build's data); empty when the target has no model at all."""
    build = inst.build
    rec = build.recorded(command, args, inst.accel)
    if rec is not None:
        if "error" in rec:
            err = rec["error"]
            raise QMPError(err.get("desc", ""), err.get("class", "GenericError"))
        return rec.get("return")
    from ..wire.encode import dumps

    why = reason or "CPU models of target %s are not modelled" % build.target
    text = "qmpserver: %s %s: %s, and build %s recorded no answer to these arguments (accelerator %s)" % (
        command,
        dumps(args),
        why,
        build.name,
        inst.accel,
    )
    log.warning("%s", text)
    raise QMPError(text)
