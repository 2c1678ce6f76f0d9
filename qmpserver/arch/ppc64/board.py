"""The running ``pseries`` machine beyond its spapr capabilities: RAM size, the spapr CPU cores
(``query-cpus-fast``, ``query-hotpluggable-cpus``), ``query-current-machine``.

QEMU 7.2's rules (``hw/ppc/spapr.c``, ``hw/ppc/spapr_cpu_core.c``), each checked against
Debian's ``qemu-system-ppc64`` 7.2 under TCG by ``tests/conformance/test_ppc64_running_state.py``
(recorded in ``tests/conformance/ppc64_running_state_cases.py``):

* the machine class's default RAM size is 512 MiB (what ``-m`` without a size, or no ``-m``,
  gives every ``pseries-*`` version);
* the machine registers wakeup support: ``query-current-machine`` answers
  ``wakeup-suspend-support: true``;
* vCPUs are grouped in ``<model>-spapr-cpu-core`` devices of ``threads`` vCPUs each; the
  possible cores are ``maxcpus / threads``, core *n* has ``core-id`` *n × threads* and
  ``node-id`` 0 (no NUMA). ``query-hotpluggable-cpus`` lists every possible core, last first,
  with a ``qom-path`` only for the plugged ones; ``query-cpus-fast`` gives each vCPU its core's
  properties (no ``thread-id``, ``socket-id``) and the path ``<core>/thread[t]``;
* the cores are the first ``/machine/unattached`` devices, after the XIVE interrupt
  controller's one device when the machine uses XIVE (``ic-mode`` ``dual`` or ``xive``, as
  machine init settled it: a pre-POWER9 CPU lowers ``dual`` to ``xics``, then the cores start
  at ``device[0]``).

* ``qom-get /machine`` of a property nothing set (``host-serial``, ``host-model``,
  ``vfio-no-msix-emulation``, ``kernel-addr`` ...): the value measured on the machine version
  (``models/ppc64/pseries-machine-7.2.yaml``, ``tools/capture_pseries_machine.py``: versions
  7.2, 6.2, 4.2 and 3.0; any other version stays "not modelled"), unless the option that sets it was
  given (``-kernel``, ``-append``, ``-initrd``, ``-dtb``, ``-bios``): then it stays "not
  modelled".

* ``query-pci``: the default PHB (``spapr-pci-host-bridge``, bus 0); with ``-nodefaults`` and
  no ``-device`` it holds no device. The default devices pseries adds otherwise (VGA, USB
  controller, ``spapr-vty`` serial ...) and ``-device`` on the PHB are not modelled: the
  answer is an error saying so.

SMT under TCG (``-smp threads=2``) is refused by :mod:`.spapr` before the cores exist.  Under
another accelerator the interrupt controller is not settled here (:mod:`.spapr` checks no cap):
the QOM paths assume ``dual`` and a log line says so.
"""

from __future__ import annotations

from typing import Any

from ...errors import QMPError
from ...log import get as get_logger
from . import spapr

log = get_logger("qmpserver.machine")

MiB = 1 << 20
# hw/ppc/spapr.c spapr_machine_class_init: mc->default_ram_size
DEFAULT_RAM_SIZE = 512 * MiB
# interrupt controller modes whose XIVE device is created before the CPU cores
XIVE_MODES = ("dual", "xive")

is_board = spapr.is_pseries


def default_ram_size(machine_type: str | None) -> int | None:
    """The board's default RAM size, None for a board this module does not own."""
    return DEFAULT_RAM_SIZE if is_board(machine_type) else None


def validate(instance: Any, ms: Any) -> None:
    """Machine init of a ppc64 instance: the caps and CPU lookup (:mod:`.spapr`), then the
    pseries board's own state."""
    spapr.validate(instance, ms)
    if is_board(ms.type):
        ms.wakeup_suspend = True
        if not _option_given(instance, "nodefaults"):
            log.warning(
                "machine %s without -nodefaults: its default devices (VGA, USB controller, serial "
                "chardev ...) are not modelled: query-pci and qom-get /machine usb answer errors, "
                "query-chardev lacks them",
                ms.type,
            )


# /machine properties an option other than -machine sets (vl.c's machine options)
# /machine properties the default devices change (measured with -nodefaults only)
DEFAULTS_DEPENDENT = ("usb",)
SET_BY_OPTION = {"kernel": "kernel", "append": "append", "initrd": "initrd", "dtb": "dtb", "firmware": "bios"}


def machine_default(instance: Any, name: str) -> Any:
    """The value real QEMU reports for ``/machine`` property ``name`` nothing set, or None."""
    ms = instance.machine
    data = (getattr(instance.build, "derived", None) or {}).get("pseries")
    if data is None or not is_board(ms.type):
        return None
    opt = SET_BY_OPTION.get(name)
    if opt is not None and _option_given(instance, opt):
        return None
    if name in DEFAULTS_DEPENDENT and not _option_given(instance, "nodefaults"):
        return None
    return (data["machines"].get(ms.type) or {}).get(name)


def _option_given(instance: Any, name: str) -> bool:
    return any(
        isinstance(o, (tuple, list)) and o and str(o[0]).lstrip("-") == name
        for o in instance.config.options or ()
    )


def query_pci(instance: Any) -> list[dict[str, Any]]:
    """``query-pci`` of a pseries machine: the PHB's bus 0, empty under ``-nodefaults``."""
    if not _option_given(instance, "nodefaults") or instance.backends.devices:
        raise QMPError(
            "qmpserver: query-pci: the PCI devices of machine %s without -nodefaults or with -device "
            "are not modelled (build %s)" % (instance.machine.type, instance.build.name)
        )
    return [{"bus": 0, "devices": []}]


def _first_core_device(instance: Any) -> int:
    board = instance.board
    mode = board.values.get("ic-mode") if isinstance(board, spapr.SpaprState) else None
    if mode is None:
        log.warning(
            "pseries interrupt controller not settled (accelerator %s): CPU core QOM paths assume dual",
            instance.accel,
        )
        mode = "dual"
    return 1 if mode in XIVE_MODES else 0


def _threads(smp: dict[str, Any]) -> int:
    return max(1, int(smp.get("threads") or 1))


def core_props(smp: dict[str, Any], core: int) -> dict[str, int]:
    """CpuInstanceProperties of spapr core ``core`` (QAPI order)."""
    return {"node-id": 0, "core-id": core * _threads(smp)}


def core_type(instance: Any) -> str:
    return "%s-spapr-cpu-core" % instance.machine.cpu_model


def cpu_props(instance: Any, index: int) -> dict[str, int]:
    """vCPU ``index``'s properties: its core's (spapr_cpu_index_to_props)."""
    smp = instance.machine.smp
    return core_props(smp, index // _threads(smp))


def cpu_qom_path(instance: Any, index: int) -> str:
    threads = _threads(instance.machine.smp)
    core = _first_core_device(instance) + index // threads
    return "/machine/unattached/device[%d]/thread[%d]" % (core, index % threads)


def board_cpus(instance: Any) -> Any:
    """pseries' vCPUs (spapr cores) and PCI bus for query-cpus-fast, query-hotpluggable-cpus
    and query-pci (arch/targets.py, part ``board``), None on ppc64's other boards."""
    if not is_board(instance.machine.type):
        return None
    from ..targets import BoardCPUs

    return BoardCPUs(
        lambda i: cpu_props(instance, i),
        lambda i: cpu_qom_path(instance, i),
        lambda: hotpluggable_cpus(instance),
        lambda: query_pci(instance),
    )


def hotpluggable_cpus(instance: Any) -> list[dict[str, Any]]:
    """``query-hotpluggable-cpus``: every possible core, last first."""
    smp = instance.machine.smp
    threads = _threads(smp)
    first = _first_core_device(instance)
    plugged = int(smp["cpus"]) // threads
    out = []
    for core in reversed(range(int(smp["maxcpus"]) // threads)):
        e: dict[str, Any] = {"props": core_props(smp, core), "vcpus-count": threads}
        if core < plugged:
            e["qom-path"] = "/machine/unattached/device[%d]" % (first + core)
        e["type"] = core_type(instance)
        out.append(e)
    return out
