"""The pseries machine's spapr capabilities (``cap-*`` machine properties) and the other
``/machine`` properties a management layer reads (``vsmt``, ``ic-mode``, ``kvm-type``,
``resize-hpt``, ``max-cpu-compat``).

The one owner of these rules: :mod:`qmpserver.vm.virt` hands ``-machine cap-*=V`` to
:func:`parse_property`, the start-up pipeline calls :func:`validate` at machine init, and
``qom-get /machine`` reads :func:`qom_value`.  Every value and text comes from
``models/ppc64/spapr-caps-<M.m>.yaml`` of the build's version (7.2, 10.0; precompiled with the
profile, :mod:`.derive`), measured from Debian's ``qemu-system-ppc64`` 7.2 and 10.0 under TCG by
``tools/capture_ppc64_spapr.py``; the rules below are QEMU's (``hw/ppc/spapr_caps.c``,
``hw/ppc/spapr.c``, 7.2 and 10.0; what 10.0 adds: docs/ppc64.md "QEMU 10.0"):

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

* **KVM** (a ppc64 host file, ``models/hosts``: ``kvm.caps``, ``kvm.cpu_char``,
  ``kvm.dec_bits``): the same apply order, each cap checked against what the host's KVM
  provides by the rows of :data:`KVM_RULES` (QEMU's ``cap_*_apply`` under
  ``kvm_enabled()``, texts and hints from 7.2): ``cap-htm`` needs ``KVM_CAP_PPC_HTM``;
  ``cap-cfpc``/``cap-sbbc``/``cap-ibs`` a level no higher than the host's
  ``KVM_PPC_GET_CPU_CHAR`` level (the hint names the host's level); ``cap-ccf-assist``
  the host's flush assist unless its ``cap-ibs`` is ``fixed-ccd``; ``cap-nested-hv``
  ``KVM_CAP_PPC_NESTED_HV``; ``cap-large-decr`` the host's decrementer width equal to the
  CPU model's; ``cap-fwnmi`` ``KVM_CAP_PPC_FWNMI``; ``cap-rpt-invalidate`` a radix host
  (``KVM_CAP_PPC_MMU_RADIX``) and ``KVM_CAP_PPC_RPT_INVALIDATE``; ``cap-hpt-max-page-size``
  no larger than the host's RAM page size under KVM-HV.  The CPU-only checks (``vsx``,
  ``dfp``, the POWER9 checks of ``nested-hv``) are the measured ones.
* **GTSE** (:func:`ov5`): what client-architecture-support tells the guest in
  ``ibm,architecture-vec-5`` byte 26 (GTSE) next to byte 24 (radix).  Upstream 7.2 sets
  both for an ISA 3.00 CPU when the accelerator can run radix; with the ``spapr-gtse``
  proposal GTSE follows the host's ``KVM_CAP_PPC_GTSE`` (RFC, never merged).  A guest
  told GTSE=1 on a host whose guests run with LPCR[GTSE]=0 (an L1 that disabled GTSE)
  crashes on ``tlbie`` when it runs (:func:`_tlbie_crash`).

  Under KVM-HV the ``pseries-2.12``-and-older default of ``cap-hpt-max-page-size`` is the
  host's RAM page size (64 KiB) instead of TCG's 16 GiB.

Not modelled (a log line says so): whether KVM runs a CPU model other than the host's; SMT
limits under KVM are not checked.
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
PERMISSION_DENIED = "Insufficient permission to perform this operation"  # QERR_PERMISSION_DENIED
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
    if name == GTSE_PROP and instance.build.has_proposal(PROPOSAL):
        raise ValueError(PERMISSION_DENIED)  # no setter: object_property_set refuses
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


def _deprecation(r: dict[str, Any], machine: str) -> str | None:
    """The ``Machine type 'X' is deprecated: ...`` warning QEMU prints for a deprecated machine
    version (QEMU 10.0: after the options are parsed, before the CPU is looked up), as measured
    among the version's default start-up lines; None when the version prints none."""
    for ln in (r.get("default-stderr") or {}).get(machine) or ():
        if ln.startswith(PREFIX + "warning: Machine type ") and " is deprecated" in ln:
            return ln[len(PREFIX + "warning: ") :]
    return None


def _conflict(
    r: dict[str, Any], cap: str, values: dict[str, Any], cpu: str, threads: int
) -> dict[str, Any] | None:
    """The measured refusal of caps that read each other or the SMT threads (QEMU 9.0+:
    ``cap-nested-hv`` and ``cap-nested-papr`` each claim the machine's one nested API, under
    TCG the later one in the apply order is refused when both are on; 10.0: TCG runs
    ``cap-nested-hv`` with one thread per core only): the outcome at ``cap`` when it is the
    last cap of a measured combination whose values (and thread count) hold, else None."""
    for c in r.get("conflicts") or ():
        names = [n for n in r["order"] if n in c["caps"]]
        if not names or names[-1] != cap or cpu not in c["cpus"] or "error" not in c:
            continue
        if threads < int(c.get("smp-threads") or 1):
            continue
        if all(values.get(n) == v for n, v in c["caps"].items()):
            return dict(c)
    return None


def validate(instance: Any, ms: Any) -> None:
    """Machine init of a ppc64 instance: the CPU model (any machine), then for pseries the
    spapr core type and the caps in QEMU's apply order; warnings go to the instance's
    start-up warnings, a refusal is a StartupError carrying the warnings printed before it."""
    r = rules(instance.build)
    warnings = instance.config.warnings
    deprecated = _deprecation(r, ms.type) if r is not None and is_pseries(ms.type) else None
    if deprecated:
        warnings.append(deprecated)
    try:
        model = ppc_cpu.resolve(instance, ms)
    except StartupError as e:
        raise StartupError(e.message, e.warnings or list(warnings)) from None
    if ms.type == "none" and instance.config.cpu is None:
        ms.cpu_model = None
        return
    ms.cpu_model = model
    if not is_pseries(ms.type):
        return
    if r is None:
        log.warning(
            "spapr capabilities of QEMU %s are not measured (models/ppc64): no cap is checked",
            ".".join(map(str, instance.build.version)),
        )
        return
    if model is None or model not in r["cpus"]:
        raise StartupError("Unable to find sPAPR CPU Core definition", list(warnings))
    kvm = _host_kvm(instance) if ms.accel == "kvm" else None
    if ms.accel not in ("tcg", "kvm") or (ms.accel == "kvm" and kvm is None):
        log.warning(
            "spapr capabilities of machine %s are not modelled under %s: no cap is checked", ms.type, ms.accel
        )
        return
    if kvm is not None and model != (instance.host.data.get("cpu") or {}).get("model"):
        log.warning(
            "-cpu %s on a %s host under KVM: whether KVM runs that CPU model is not modelled",
            model,
            (instance.host.data.get("cpu") or {}).get("model"),
        )
    props = ms.props or {}
    threads = int((ms.smp or {}).get("threads") or 1)
    if kvm is None and threads > 1:
        # 7.2 spapr_set_vsmt_mode: TCG runs one thread per core on pseries; 10.0: SMT from
        # POWER8 on (measured per CPU model; the default CPU's answer where no model's is)
        smt = r.get("tcg-smt") or {}
        smt = next((g for g in r.get("tcg-smt-cpus") or () if model in g["cpus"]), smt)
        if smt.get("rc", "started") != "started":
            raise StartupError(_strip([ln for ln in smt["stderr"] if " warning: " not in ln]), list(warnings))
    # the CPUs are created (the -cpu globals applied) before the caps are applied
    try:
        ppc_cpu.apply_globals(instance, ms, model)
    except StartupError as e:
        raise StartupError(e.message, e.warnings or list(warnings)) from None
    values = effective(r, ms.type, model, props)
    if "vsmt" not in props and "vsmt" in values:
        # spapr_set_vsmt_mode: without vsmt=, the machine's VSMT is its threads per core, at
        # least the version's own default (8 on the versions that measured 8 with one thread)
        values["vsmt"] = max(int(values["vsmt"]), threads)
    if kvm is not None and kvm.get("flavour") == "hv" and PAGESIZE_CAP not in props:
        # default_caps_with_cpu: pseries-2.12 and older have no default; TCG allows every
        # size (16 GiB), KVM-HV the host's RAM page size (kvmppc_hpt_needs_host_contiguous_pages)
        if values.get(PAGESIZE_CAP) == ALL_PAGESIZES:
            values[PAGESIZE_CAP] = HOST_RAM_PAGE
    for cap in r["order"]:
        got = _outcome(r, cap, values[cap], model, props)
        if got is not None and "error" not in got:
            got = _conflict(r, cap, values, model, threads) or got
        if kvm is not None:
            got = _kvm_outcome(cap, values[cap], model, kvm, got)
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
    told = ov5(instance, ms.accel, model, props, kvm)
    if instance.build.has_proposal(PROPOSAL):
        values[GTSE_PROP] = told["gtse"]
    if kvm is not None and told["radix"] and told["gtse"] and not kvm.get("lpcr_gtse", True):
        instance.run_hooks.append(_tlbie_crash)
    instance.board = SpaprState(model, values)


# --- KVM: the host's capabilities gate the caps ------------------------------------------------

# QEMU's value lists (cap_cfpc_possible ...): a level is its index
LEVELS = {
    "cap-cfpc": ("broken", "workaround", "fixed"),
    "cap-sbbc": ("broken", "workaround", "fixed"),
    "cap-ibs": ("broken", "workaround", "fixed-ibs", "fixed-ccd", "fixed-na"),
}
LEVEL_TEXT = {
    "cap-cfpc": "safe cache",
    "cap-sbbc": "safe bounds check",
    "cap-ibs": "safe indirect branch",
}
# pcc->lrg_decr_bits: POWER9, POWER10 (and 10.0's POWER11, a POWER10 derivative) classes set 56, older none
LRG_DECR_BITS = (("power9", 56), ("power10", 56), ("power11", 56))
# the RAM page size of a ppc64le host kernel (64 KiB pages); hugepage backends not modelled
HOST_RAM_PAGE = 64 << 10
ALL_PAGESIZES = 1 << 34  # the "allow everything" default of pseries-2.12 and older under TCG


def _host_kvm(instance: Any) -> dict[str, Any] | None:
    """The host's KVM facts for ppc64 guests (a ppc64 host file), None elsewhere."""
    host = instance.host
    if getattr(host, "arch", None) != "ppc64" or not host.kvm_present:
        return None
    kvm: dict[str, Any] = host.kvm
    return kvm


def _cap(kvm: dict[str, Any], name: str) -> int:
    """KVM_CHECK_EXTENSION: a cap the kernel does not know answers 0."""
    return int((kvm.get("caps") or {}).get(name, 0) or 0)


def _refuse(msg: str, hint: str | None = None) -> dict[str, Any]:
    return {"error": [PREFIX + msg] + ([hint] if hint else []), "rc": 1}


def _off_hint(cap: str) -> str:
    return "Try appending -machine %s=off" % cap


def _kvm_htm(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
    if value and not _cap(kvm, "KVM_CAP_PPC_HTM"):
        return _refuse("KVM implementation does not support Transactional Memory", _off_hint("cap-htm"))
    return {}


def _kvm_level(cap: str) -> Any:
    def check(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
        levels = LEVELS[cap]
        have = (kvm.get("cpu_char") or {}).get(cap, "broken")
        if levels.index(value) > levels.index(have):
            return _refuse(
                "Requested %s capability level not supported by KVM" % LEVEL_TEXT[cap],
                "Try appending -machine %s=%s" % (cap, have),
            )
        return {}

    return check


def _kvm_ccf_assist(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
    char = kvm.get("cpu_char") or {}
    if value and not char.get("cap-ccf-assist") and char.get("cap-ibs") != "fixed-ccd":
        # without the assist the instruction is a no-op, harmless when the count cache is off
        return _refuse(
            "Requested count cache flush assist capability level not supported by KVM",
            _off_hint("cap-ccf-assist"),
        )
    return {}


def _kvm_nested_hv(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
    if value and not _cap(kvm, "KVM_CAP_PPC_NESTED_HV"):
        return _refuse("KVM implementation does not support Nested-HV", _off_hint("cap-nested-hv"))
    return {}


def _kvm_large_decr(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
    if not value:
        return {}
    host_bits = int(kvm.get("dec_bits") or 0)
    model_bits = next((bits for prefix, bits in LRG_DECR_BITS if model.startswith(prefix)), 0)
    if not host_bits:
        return _refuse("No large decrementer support", _off_hint("cap-large-decr"))
    if host_bits != model_bits:
        return _refuse(
            "KVM large decrementer size (%d) differs to model (%d)" % (host_bits, model_bits),
            _off_hint("cap-large-decr"),
        )
    return {}


def _kvm_fwnmi(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
    if value and not _cap(kvm, "KVM_CAP_PPC_FWNMI"):
        return _refuse(
            "Firmware Assisted Non-Maskable Interrupts(FWNMI) not supported by KVM.", _off_hint("cap-fwnmi")
        )
    return {}


def _kvm_rpt_invalidate(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
    if not value:
        return {}
    if not _cap(kvm, "KVM_CAP_PPC_MMU_RADIX"):
        return _refuse("H_RPT_INVALIDATE only supported on Radix")
    if not _cap(kvm, "KVM_CAP_PPC_RPT_INVALIDATE"):
        return _refuse(
            "KVM implementation does not support H_RPT_INVALIDATE", _off_hint("cap-rpt-invalidate")
        )
    return {}


def _kvm_pagesize(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
    # spapr_check_pagesize: KVM-HV backs guest pages with host-contiguous pages
    if kvm.get("flavour") == "hv" and value > HOST_RAM_PAGE:
        return _refuse(
            "Can't support %d kiB guest pages with %d kiB host pages with this KVM implementation"
            % (value >> 10, HOST_RAM_PAGE >> 10)
        )
    return {}


def _kvm_ail_mode_3(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
    # QEMU 8.0+ (not in 7.2): kvmppc_supports_ail_3 answers KVM_CAP_PPC_AIL_MODE_3 (Linux 5.18);
    # the cap is on by default, so a pseries-8.0-or-later machine needs it or cap-ail-mode-3=off
    if value and not _cap(kvm, "KVM_CAP_PPC_AIL_MODE_3"):
        return _refuse("KVM implementation does not support cap-ail-mode-3", _off_hint("cap-ail-mode-3"))
    return {}


def _kvm_nested_papr(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
    # QEMU 9.0+: the nested PAPR API (KVM on PowerVM's L0 API) is served by TCG only; under KVM
    # cap-nested-papr=on is refused whatever the host
    if value:
        return _refuse("KVM implementation does not support Nested-PAPR", _off_hint("cap-nested-papr"))
    return {}


def _kvm_dawr1(value: Any, model: str, kvm: dict[str, Any]) -> dict[str, Any] | None:
    # QEMU 10.0: after the POWER10 check (measured, kept), KVM_CAP_PPC_DAWR1; QEMU appends
    # the hint without a newline (the launcher ends the line)
    if value and not _cap(kvm, "KVM_CAP_PPC_DAWR1"):
        return _refuse("DAWR1 not supported by KVM.", _off_hint("cap-dawr1"))
    return {}


# cap -> its KVM check (QEMU cap_*_apply, kvm_enabled() branch: 7.2's caps, and the three caps
# 10.0 adds, whose KVM texts are QEMU's source as posted in the merged series and not
# measured: Debian's x86_64 build compiles the KVM branches of ppc64 out); a cap not listed
# (vsx, dfp) is checked against the CPU model only, as under TCG.  A cap the build's data does
# not list is never asked (the apply order is the build's).
KVM_RULES = {
    "cap-htm": _kvm_htm,
    "cap-cfpc": _kvm_level("cap-cfpc"),
    "cap-sbbc": _kvm_level("cap-sbbc"),
    "cap-ibs": _kvm_level("cap-ibs"),
    "cap-hpt-max-page-size": _kvm_pagesize,
    "cap-nested-hv": _kvm_nested_hv,
    "cap-large-decr": _kvm_large_decr,
    "cap-ccf-assist": _kvm_ccf_assist,
    "cap-fwnmi": _kvm_fwnmi,
    "cap-rpt-invalidate": _kvm_rpt_invalidate,
    "cap-ail-mode-3": _kvm_ail_mode_3,
    "cap-nested-papr": _kvm_nested_papr,
    "cap-dawr1": _kvm_dawr1,
}
# the measured TCG outcomes that are TCG's own (not the CPU model's): dropped under KVM.
# QEMU 10.0's cap_ail_mode_3_apply and cap_nested_papr_apply check the CPU (and the other nested
# API) under tcg_enabled() only
TCG_ONLY = (
    "TCG doesn't support",
    "in TCG",
    "TCG only supports",
    "TCG does not support",
    "Large decrementer only supported on POWER9",
    "Nested-PAPR only supported on POWER9",
    "Nested-HV APIs are mutually exclusive",
)


def _kvm_outcome(cap: str, value: Any, model: str, kvm: dict[str, Any], tcg: dict[str, Any] | None) -> Any:
    """The apply outcome of ``cap`` under KVM: the measured outcome where it is the CPU
    model's (a refusal or warning that names no TCG), else the cap's :data:`KVM_RULES`
    row; the page-size warnings are the same under both accelerators."""
    kept: dict[str, Any] = {}
    if tcg:
        lines = tcg.get("error") or tcg.get("warning") or []
        if not any(t in ln for ln in lines for t in TCG_ONLY):
            kept = dict(tcg)
    if "error" in kept:
        return kept
    rule = KVM_RULES.get(cap)
    got = rule(value, model, kvm) if rule is not None else {}
    if got and "error" in got:
        return got
    return kept


# --- GTSE: what client-architecture-support tells the guest (proposal spapr-gtse) ---------------

PROPOSAL = "spapr-gtse"
GTSE_PROP = "x-ov5-gtse"
ISA300_COMPAT = ("power9", "power10", "power11")  # max-cpu-compat modes of ISA 3.00 and later (power11: 10.0)
# KVM_CAP_PPC_GTSE (RFC): 0 = the kernel does not know the cap, 1 = GTSE on, 2 = GTSE off
GTSE_OFF = 2


def _isa300(model: str, props: dict[str, Any]) -> bool:
    """ppc_type_check_compat(cpu, CPU_POWERPC_LOGICAL_3_00, ...): an ISA 3.00 CPU not
    capped below it by max-cpu-compat."""
    compat = props.get(COMPAT_PROP)
    return model.startswith(ISA300_COMPAT) and (not compat or compat in ISA300_COMPAT)


def ov5(
    instance: Any, accel: str, model: str, props: dict[str, Any], kvm: dict[str, Any] | None
) -> dict[str, bool]:
    """``{"radix": ..., "gtse": ...}``: the radix (byte 24) and GTSE (byte 26, 0x40) bits
    of the ``ibm,architecture-vec-5`` the pseries machine offers (``spapr_machine_init``).

    Upstream 7.2: both for an ISA 3.00 CPU when the accelerator runs radix (TCG, or KVM with
    ``KVM_CAP_PPC_MMU_RADIX``): GTSE=1 whatever the host.  The ``spapr-gtse`` proposal (the
    RFC "spapr: Report correct GTSE support via ov5" with its final cap semantics): under
    KVM, radix from ``KVM_CAP_PPC_MMU_RADIX`` and GTSE cleared only when the host has
    ``KVM_CAP_PPC_RPT_INVALIDATE`` (else the guest could not invalidate TLBs at all) and
    ``KVM_CAP_PPC_GTSE`` answers "off"; 0 (a kernel without the cap) keeps GTSE=1; TCG
    always GTSE=1."""
    if not _isa300(model, props):
        return {"radix": False, "gtse": False}
    radix = kvm is None or bool(_cap(kvm, "KVM_CAP_PPC_MMU_RADIX"))
    if kvm is None or not instance.build.has_proposal(PROPOSAL):
        return {"radix": radix, "gtse": radix}
    gtse = not (_cap(kvm, "KVM_CAP_PPC_RPT_INVALIDATE") and _cap(kvm, "KVM_CAP_PPC_GTSE") == GTSE_OFF)
    return {"radix": radix, "gtse": gtse}


GTSE_DESCRIPTION = (
    "qmpserver proposal spapr-gtse (read-only): the GTSE bit (byte 26, 0x40) of the "
    "ibm,architecture-vec-5 the guest is offered at client-architecture-support"
)


def overlay_properties(instance: Any, typename: str, props: list[dict[str, Any]] | None) -> Any:
    """PROPERTY_OVERLAYS hook: ``x-ov5-gtse`` (a read-only bool) after the caps of every
    pseries machine type when the build has the ``spapr-gtse`` proposal."""
    if not props or not instance.build.has_proposal(PROPOSAL):
        return props
    if not (typename.startswith("pseries") and typename.endswith("-machine")):
        return props
    names = [p.get("name") for p in props]
    if GTSE_PROP in names:
        return props
    caps = [i for i, n in enumerate(names) if str(n).startswith("cap-")]
    at = (max(caps) + 1) if caps else len(props)
    out = list(props)
    out.insert(at, {"name": GTSE_PROP, "type": "bool", "description": GTSE_DESCRIPTION})
    return out


def _tlbie_crash(instance: Any) -> None:
    """The seed's crash: a radix guest told GTSE=1 whose partition runs with LPCR[GTSE]=0
    (the L1 disabled GTSE, KVM gives its L2s the same) issues ``tlbie``, which the hardware
    then treats as hypervisor-privileged: the guest kernel dies and reports it through
    ``ibm,os-term``.  qmpserver reports it as soon as the guest runs (no boot time is
    simulated): from the main loop, after the reply of the command that made it run."""
    instance.run_hooks.remove(_tlbie_crash)
    instance.scheduler.call_later(0.0, lambda: _panic(instance))


def _panic(instance: Any) -> None:
    if instance.terminated is not None or instance.runstate != "running":
        return
    if _migrated_gtse(instance) is False:
        return  # the guest came in told GTSE=0 (the proposal on its source): no tlbie
    log.warning(
        "pseries guest told GTSE=1 on a host whose guests run with LPCR[GTSE]=0: the guest "
        "crashes on tlbie (the spapr-gtse proposal would tell it GTSE=0)"
    )
    instance.guest_panicked()


# --- qom-get /machine ---------------------------------------------------------------------------


def qom_value(instance: Any, name: str) -> Any:
    """``qom-get /machine NAME`` of a running pseries instance (caps and extras), NOT_MINE
    for other properties."""
    board = instance.board
    if not isinstance(board, SpaprState) or name not in board.values:
        return NOT_MINE
    if name == GTSE_PROP and _migrated_gtse(instance) is not None:
        return _migrated_gtse(instance)  # CAS happened on the source: its answer travelled
    return board.values[name]


def _migrated_gtse(instance: Any) -> bool | None:
    """The GTSE a guest that migrated in was told (the source's guest ABI), None otherwise."""
    if not getattr(instance, "migrated_in", False) or instance.abi is None:
        return None
    got = (instance.abi.cas_ov5 or {}).get("gtse")
    return None if got is None else bool(got)


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
    if name == GTSE_PROP:
        # a read-only property (no setter): object_property_set's QERR_PERMISSION_DENIED
        raise QMPError(PERMISSION_DENIED)
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
    and, on pseries, every cap's value as machine init settled it and what CAS tells the
    guest (:func:`ov5`: radix, GTSE)."""
    board = instance.board
    if not isinstance(board, SpaprState):
        return {"cpu_model": instance.machine.cpu_model}
    caps = {k: v for k, v in board.values.items() if k.startswith("cap-")}
    accel = instance.machine.accel
    kvm = _host_kvm(instance) if accel == "kvm" else None
    told = ov5(instance, accel, board.cpu_model, instance.machine.props or {}, kvm)
    return {"cpu_model": board.cpu_model, "spapr_caps": caps, "cas_ov5": told}
