"""The pseries machine's spapr capabilities (``cap-*`` machine properties) and the other
``/machine`` properties a management layer reads (``vsmt``, ``ic-mode``, ``kvm-type``,
``resize-hpt``, ``max-cpu-compat``).

The one owner of these rules: :mod:`qmpserver.vm.virt` hands ``-machine cap-*=V`` to
:func:`parse_property`, the start-up pipeline calls :func:`validate` at machine init, and
``qom-get /machine`` reads :func:`qom_value`.  Every value and text comes from
``models/ppc64/spapr-caps-7.2.yaml`` (precompiled with the profile, :mod:`.derive`), measured from Debian's ``qemu-system-ppc64`` 7.2 under
TCG by ``tools/capture_ppc64_spapr.py``; the rules below are QEMU's (``hw/ppc/spapr_caps.c``,
``hw/ppc/spapr.c``, 7.2):

* **setting** (``spapr_cap_set_bool/_string/_pagesize``, when ``-machine`` is applied):
  bool caps take QEMU's bool words; string caps take their modes case-insensitively and keep
  the mode's own spelling, ``?`` answers the cap's help text as an error, anything else is
  ``Invalid capability mode "V" for cap-NAME``; ``cap-hpt-max-page-size`` takes a size
  (``Parameter '...' expects size``) that must be a power of two
  (``cap-hpt-max-page-size must be a power of 2``).
* **defaults** (``spapr_caps_init`` / ``default_caps_with_cpu``): a cap not set on the
  command line takes the machine version's default, lowered by the CPU model when the CPU
  lacks the compatibility level the cap needs: the data holds each version's answers with
  its default CPU and, per spapr CPU model, the answers that differ.
* **apply** (``spapr_caps_apply``, at machine init, in the capability table's order): each
  cap's effective value either passes, adds a warning (TCG: ``TCG doesn't support requested
  feature, cap-cfpc=workaround`` ...) or ends start-up with QEMU's error and hint
  (``No Transactional Memory support in TCG`` + ``Try appending -machine cap-htm=off``); the
  outcome depends on the cap, its value and the CPU model only, and the data holds it for
  every combination under TCG.  ``cap-hpt-max-page-size`` is checked by its page shift:
  below 4 KiB refused, below 64 KiB warned.
* **machine init order**: the CPU model is found first (:mod:`.cpu`), then the pseries core
  type (``Unable to find sPAPR CPU Core definition``), then the caps.

* **max-cpu-compat** (``power6`` … ``power10``, case-sensitive; else ``Invalid
  compatibility mode "X"``): lowers the defaults like an older CPU does (the caps the mode
  lacks take fixed values whatever the machine version), and a mode the CPU cannot run
  (``-cpu power8`` with ``power9``) fails after the caps with ``Compatibility PVR 0x0f000005
  not valid for CPU``.
* **SMT**: under TCG a pseries machine runs one thread per core (``-smp threads=2``: ``TCG
  cannot support more than 1 thread/core on a pseries machine``, before the caps).

Not modelled (a start-up log line says so): KVM (no POWER host is described).
"""

from __future__ import annotations

import math

from ...errors import QMPError, StartupError
from ...log import get as get_logger
from . import cpu as ppc_cpu

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "NOT_MINE",
    "SpaprState",
    "is_pseries",
    "parse_property",
    "validate",
    "qom_value",
    "qom_set",
    "describe",
]

PAGESIZE_CAP = "cap-hpt-max-page-size"
COMPAT_PROP = "max-cpu-compat"
PREFIX = "qemu-system-ppc64: "
# cap_hpt_maxpagesize_apply: page shifts below 12 are refused, below 16 warned about; the
# measured outcomes of these sizes stand for each range
PAGESIZE_CLASSES = ((12, "2k"), (16, "4k"), (64, "64k"))
NOT_MINE = object()
log = get_logger("qmpserver.machine")


def is_pseries(machine_type: str | None) -> bool:
    return bool(machine_type) and (machine_type == "pseries" or str(machine_type).startswith("pseries-"))


def rules(build: Any) -> dict[str, Any] | None:
    """The build's measured spapr data (precompiled with the profile by
    :mod:`.derive`), None when its version has none."""
    got: dict[str, Any] | None = (getattr(build, "derived", None) or {}).get("spapr")
    return got


class SpaprState:
    """What pseries machine init settled on (``instance.board``): the CPU model and every
    cap's and extra's value, as ``qom-get /machine`` answers them."""

    __slots__ = ("cpu_model", "values")

    def __init__(self, cpu_model: str, values: dict[str, Any]) -> None:
        self.cpu_model = cpu_model
        self.values = values


# --- setting a cap (-machine cap-X=V) -----------------------------------------------------------


def parse_property(instance: Any, machine_type: str, name: str, value: Any) -> Any:
    """``-machine NAME=VALUE`` through the cap's setter: the typed value, ValueError with
    QEMU's text, or NOT_MINE for a property this module does not own."""
    r = rules(instance.build)
    if r is None or not is_pseries(machine_type):
        return NOT_MINE
    if name == COMPAT_PROP and isinstance(value, str) and "compat" in r:
        if value not in r["compat"]:
            raise ValueError('Invalid compatibility mode "%s"' % value)
        return value
    if name not in r["caps"]:
        return NOT_MINE
    info = r["caps"][name]
    if not isinstance(value, str):
        return value
    kind = info["type"]
    if kind == "bool":
        from ...qapi.opts import parse_bool

        return parse_bool(value, name)  # QemuOptsError is a ValueError
    if kind == "string":
        if value == "?":
            raise ValueError(_help(r, name))
        for mode in info.get("values") or ():
            if mode.lower() == value.lower():
                return mode
        raise ValueError('Invalid capability mode "%s" for %s' % (value, name))
    from ...qapi.opts import strtosz

    size = strtosz(value)
    if size is None or size < 0:
        raise ValueError("Parameter '%s' expects size" % name)
    if size <= 0 or size & (size - 1):
        raise ValueError("%s must be a power of 2" % name)
    return size


def _help(r: dict[str, Any], name: str) -> str:
    """The cap's help text (``cap-X=?``), as measured."""
    got = ((r.get("set-errors") or {}).get(name) or {}).get("?") or {}
    lines = got.get("stderr") or []
    prefix = "qemu-system-ppc64: "
    return "\n".join(ln[len(prefix) :] if ln.startswith(prefix) else ln for ln in lines)


# --- machine init ---------------------------------------------------------------------------


def effective(r: dict[str, Any], machine: str, cpu: str | None, props: dict[str, Any]) -> dict[str, Any]:
    """Every cap and extra of ``machine`` with CPU model ``cpu``: the command line's value,
    else the version's default lowered by the CPU (``spapr_caps_init``)."""
    values = dict(r["defaults"][machine])
    values.update(((r.get("cpu-defaults") or {}).get(machine) or {}).get(cpu or "", {}).get("qom") or {})
    values.update(_compat(r, props, cpu).get("forced") or {})
    for k, v in props.items():
        if k in values:
            values[k] = v
    return values


def _compat(r: dict[str, Any], props: dict[str, Any], cpu: str | None) -> dict[str, Any]:
    """What ``max-cpu-compat`` does with this CPU: {"forced": values it lowers} and, when
    QEMU refuses the pair, {"rc", "stderr"} (empty without the property)."""
    mode = props.get(COMPAT_PROP)
    if not mode:
        return {}
    got: dict[str, Any] = ((r.get("compat") or {}).get(mode) or {}).get(cpu or "") or {}
    return got


def _strip(lines: list[str]) -> str:
    return "\n".join(ln[len(PREFIX) :] if ln.startswith(PREFIX) else ln for ln in lines)


def _outcome(
    r: dict[str, Any], cap: str, value: Any, cpu: str, props: dict[str, Any]
) -> dict[str, Any] | None:
    """The measured apply outcome of ``cap`` at ``value`` with ``cpu`` (and the command
    line's max-cpu-compat, which ``cap-large-decr`` reads under TCG): {"warning": [...]} /
    {"error": [...], "rc": N} / {} (silent), None when not measured."""
    if cap == PAGESIZE_CAP:
        shift = int(math.log2(value))
        key = next((k for limit, k in PAGESIZE_CLASSES if shift < limit), "64k")
    elif isinstance(value, bool):
        key = "on" if value else "off"
    else:
        key = value
    by_compat = ((_compat(r, props, cpu).get("apply") or {}).get(cap) or {}).get(key)
    if by_compat is not None:
        return dict(by_compat)
    for group in (r["apply"].get(cap) or {}).get(key) or ():
        if cpu in group["cpus"]:
            return group
    return None


def validate(instance: Any, ms: Any) -> None:
    """Machine init of a ppc64 instance: the CPU model (any machine), then for pseries the
    spapr core type and the caps in QEMU's apply order; warnings go to the instance's
    start-up warnings, a refusal is a StartupError carrying the warnings printed before it."""
    model = ppc_cpu.resolve(instance, ms)
    if ms.type == "none" and instance.config.cpu is None:
        ms.cpu_model = None
        return
    ms.cpu_model = model
    r = rules(instance.build)
    if not is_pseries(ms.type):
        return
    if r is None:
        log.warning(
            "spapr capabilities of QEMU %s are not measured (models/ppc64): no cap is checked",
            ".".join(map(str, instance.build.version)),
        )
        return
    warnings = instance.config.warnings
    if model is None or model not in r["cpus"]:
        raise StartupError("Unable to find sPAPR CPU Core definition", list(warnings))
    if ms.accel != "tcg":
        log.warning(
            "spapr capabilities of machine %s are not modelled under %s: no cap is checked", ms.type, ms.accel
        )
        return
    props = ms.props or {}
    threads = int((ms.smp or {}).get("threads") or 1)
    if threads > 1 and r.get("tcg-smt"):
        # spapr_set_vsmt_mode: TCG runs one thread per core on pseries
        raise StartupError(_strip(r["tcg-smt"]["stderr"]), list(warnings))
    # the CPUs are created (the -cpu globals applied) before the caps are applied
    ppc_cpu.apply_globals(instance, ms, model)
    values = effective(r, ms.type, model, props)
    for cap in r["order"]:
        got = _outcome(r, cap, values[cap], model, props)
        if got is None:
            log.warning(
                "spapr %s=%s with CPU %s: no measured outcome, accepted silently", cap, values[cap], model
            )
            continue
        if "error" in got and got.get("rc", 1) != 1:
            # QEMU 7.2 fails an assertion here (cap-vsx=on with a CPU without Altivec)
            raise StartupError(
                "qmpserver: QEMU aborts here (%s, exit status %s), which is not reproduced: %s=%s with CPU %s"
                % (" ".join(got["error"]), got["rc"], cap, values[cap], model),
                list(warnings),
            )
        if "error" in got:
            raise StartupError(_strip(got["error"]), list(warnings))
        for ln in got.get("warning") or ():
            warnings.append(ln[len(PREFIX + "warning: ") :] if ln.startswith(PREFIX + "warning: ") else ln)
    refused = _compat(r, props, model)
    if "rc" in refused:
        # the CPU refuses the compatibility mode when it is reset, after the caps
        raise StartupError(_strip([ln for ln in refused["stderr"] if " warning: " not in ln]), list(warnings))
    instance.board = SpaprState(model, values)


# --- qom-get /machine ---------------------------------------------------------------------------


def qom_value(instance: Any, name: str) -> Any:
    """``qom-get /machine NAME`` of a running pseries instance (caps and extras), NOT_MINE
    for other properties."""
    board = instance.board
    if not isinstance(board, SpaprState) or name not in board.values:
        return NOT_MINE
    return board.values[name]


def qom_set(instance: Any, name: str, value: Any) -> Any:
    """``qom-set /machine NAME VALUE`` of a cap or ``max-cpu-compat`` on a running pseries
    instance: the value the setter stores (QEMU's setters run at any time, the JSON value
    through the QObject visitor: a bool cap takes a JSON bool, a string cap a string matched
    like on the command line, ``cap-hpt-max-page-size`` an integer power of two), QMPError
    with QEMU's text, or NOT_MINE."""
    board = instance.board
    r = rules(instance.build)
    if r is None or not isinstance(board, SpaprState) or name not in board.values:
        return NOT_MINE
    info = r["caps"].get(name)
    if name == COMPAT_PROP:
        kind = "string"
    elif info is None:
        return NOT_MINE
    else:
        kind = info["type"]
    if kind == "bool" and not isinstance(value, bool):
        raise QMPError("Invalid parameter type for '%s', expected: boolean" % name)
    if kind == "string" and not isinstance(value, str):
        raise QMPError("Invalid parameter type for '%s', expected: string" % name)
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise QMPError("Parameter '%s' expects uint64" % name)
        if value == 0 or value & (value - 1):
            raise QMPError("%s must be a power of 2" % name)
    if kind == "string":
        try:
            value = parse_property(instance, instance.machine.type, name, value)
        except ValueError as e:
            raise QMPError(str(e)) from None
    board.values[name] = value
    return value


def describe(instance: Any) -> dict[str, Any]:
    """The ppc64 part of the guest ABI (:class:`qmpserver.vm.abi.GuestABI`): the CPU model
    and, on pseries, every cap's value as machine init settled it."""
    board = instance.board
    if not isinstance(board, SpaprState):
        return {"cpu_model": instance.machine.cpu_model}
    caps = {k: v for k, v in board.values.items() if k.startswith("cap-")}
    return {"cpu_model": board.cpu_model, "spapr_caps": caps}
