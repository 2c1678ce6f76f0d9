"""Where each QEMU target's models live: one table, :data:`TARGETS`.

QEMU implements a target's CPU models, boards and migration state once per
target (``target/<arch>/``, ``hw/<arch>/``) behind common code; qmpserver does
the same.  The shared code (start-up pipeline, QMP bindings, ``/machine``,
migration engine, profile compiler) asks :func:`part` for the module that
owns a part of the build's target and calls the function the part's contract
names.  A target without a module for a part has no model of it, and the
caller says so (an error naming what is missing, or a log line); it never
answers with the default of a return type (a ``{"model": {"name": ""}}``
from a mock looks like an answer and is not one).

The parts and their contracts (every module is imported on first use, so
the launcher's path to its greeting does not pay for targets it does not serve):

* ``cpu_models``: ``HANDLERS``, command name -> ``handler(instance, args)`` for
  ``query-cpu-definitions`` / ``query-cpu-model-expansion`` (``target/<arch>/cpu.c``).
  aarch64 is bound inline by :mod:`qmpserver.commands.cpu` on top of
  :mod:`qmpserver.arch.arm64.cpu`; a target without one answers its recording for
  exactly these arguments, else the error of :func:`recorded_or_missing`.
* ``cpu_startup``: ``validate(instance, machine_state)``, the ``-cpu`` checks of
  machine init (the target's warnings, errors and resolved vCPU state); optionally
  ``add_cpu_objects(instance, tree, QomObject)``, the vCPU objects under ``/machine``.
* ``board``: the boards whose running state is modelled. ``is_board(machine_type)``;
  ``machine_default(instance, name)`` (the value of a ``/machine`` property nobody set,
  None when the board does not measure it); optionally ``default_ram_size(machine_type)``
  (``mc->default_ram_size`` where it is not 128 MiB, else None) and ``board_cpus(instance)``
  (a :class:`BoardCPUs` for ``query-cpus-fast`` / ``query-hotpluggable-cpus`` / ``query-pci``,
  None for the target's other boards).  Any other board starts with a warning that its
  running state is generic.
* ``machine_rules``: the board's property setters and machine-init checks beyond the Arm
  virt board: ``NOT_MINE``, ``parse_property(instance, machine_type, name, value)``
  (typed value, ValueError with QEMU's text, or NOT_MINE), ``validate(instance,
  machine_state)``, ``qom_value(instance, name)`` and ``qom_set(instance, name, value)``
  (NOT_MINE where the rules do not own the property), optionally ``overlay_properties``.
* ``migration``: ``Machine`` (what the target's machine sends and what a destination
  checks; :mod:`qmpserver.arch.migrate`) and optionally ``blockers(instance)``.
* ``abi``: ``describe(instance)``, the target's fields of the instance's guest-ABI
  description (:class:`qmpserver.vm.abi.GuestABI`; without it, the CPU model only).
* ``derive``: ``build_derived(build, deps)``, facts the profile compiler derives from a
  build and its data files (``Build.derived``; :mod:`qmpserver.arch.steps` runs it).
* ``zero_filled_machine``: a ``/machine`` property that neither ``-machine``, the board
  nor the guest ABI resolves reads as the zero of its type, as it did before other
  targets came (aarch64, arm, x86_64, i386).  Elsewhere (ppc64: what the pseries board
  does not measure) such a ``qom-get`` is an error naming the property, machine and build
  (:mod:`qmpserver.vm.virt`): a pseries ``cap-cfpc`` of ``""`` is not an answer.

Host-architecture steps of the profile compiler (checks and derivations of a host file)
are keyed by the host's architecture, not the build's target: :mod:`qmpserver.arch.steps`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ..errors import QMPError
from ..log import get as get_logger

__all__ = [
    "BoardCPUs",
    "TARGETS",
    "Target",
    "cpu_model_handler",
    "machine_rules",
    "part",
    "recorded_or_missing",
    "target",
]

log = get_logger("qmpserver.cpu")


class Target(NamedTuple):
    """A target's models: the module path of each part (None: not modelled)."""

    cpu_models: str | None = None
    cpu_startup: str | None = None
    board: str | None = None
    machine_rules: str | None = None
    migration: str | None = None
    abi: str | None = None
    derive: str | None = None
    zero_filled_machine: bool = False


TARGETS: Mapping[str, Target] = {
    "aarch64": Target(
        cpu_startup="qmpserver.arch.arm64.startup",
        board="qmpserver.vm.virt",
        migration="qmpserver.arch.arm64.migrate",
        abi="qmpserver.arch.arm64.abi",
        derive="qmpserver.arch.arm64.derive",
        zero_filled_machine=True,
    ),
    "arm": Target(zero_filled_machine=True),
    "x86_64": Target(
        cpu_models="qmpserver.arch.x86_64.qmp",
        cpu_startup="qmpserver.arch.x86_64.startup",
        board="qmpserver.arch.x86_64.startup",
        migration="qmpserver.arch.x86_64.migrate",
        zero_filled_machine=True,
    ),
    "i386": Target(zero_filled_machine=True),
    "ppc64": Target(
        cpu_models="qmpserver.arch.ppc64.qmp",
        cpu_startup="qmpserver.arch.ppc64.board",
        board="qmpserver.arch.ppc64.board",
        machine_rules="qmpserver.arch.ppc64.spapr",
        migration="qmpserver.arch.ppc64.migrate",
        abi="qmpserver.arch.ppc64.spapr",
        derive="qmpserver.arch.ppc64.derive",
    ),
}

_NONE = Target()
_loaded: dict[str, Any] = {}


def target(name: str) -> Target:
    """The table's row for target ``name`` (a target it does not list has no model)."""
    return TARGETS.get(name, _NONE)


def _module(path: str) -> Any:
    mod = _loaded.get(path)
    if mod is None:
        mod = _loaded[path] = importlib.import_module(path)
    return mod


def part(name: str, what: str, attr: str | None = None) -> Any:
    """The module owning part ``what`` of target ``name`` (imported on first use), or its
    attribute ``attr``; None when the target has no such module or the module no such
    attribute (an optional member of the part's contract)."""
    path = getattr(target(name), what)
    if path is None:
        return None
    mod = _module(path)
    return mod if attr is None else getattr(mod, attr, None)


def machine_rules(name: str) -> Any:
    """The target's machine-rules module (imported on first use), or None."""
    return part(name, "machine_rules")


class BoardCPUs:
    """A modelled board's vCPUs as QMP shows them: ``props(i)`` (``query-cpus-fast`` /
    ``query-hotpluggable-cpus`` ``props``), ``qom_path(i)``, ``hotpluggable()`` and, where
    the board models its PCI buses, ``query_pci()``."""

    __slots__ = ("props", "qom_path", "hotpluggable", "query_pci")

    def __init__(
        self,
        props: Callable[[int], dict[str, int]],
        qom_path: Callable[[int], str],
        hotpluggable: Callable[[], list[dict[str, Any]]],
        query_pci: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.props, self.qom_path, self.hotpluggable = props, qom_path, hotpluggable
        self.query_pci = query_pci


def cpu_model_handler(name: str, command: str) -> Callable[[Any, dict[str, Any]], Any] | None:
    """The target's handler of CPU-model ``command``, or None when the target has none."""
    handlers = part(name, "cpu_models", "HANDLERS")
    handler: Callable[[Any, dict[str, Any]], Any] | None = handlers.get(command) if handlers else None
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
