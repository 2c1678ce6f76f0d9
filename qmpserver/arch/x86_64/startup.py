"""The x86 ``pc``/``q35`` machines at start-up: ``kernel-irqchip``, ``-cpu`` and the vCPU objects.

QEMU 7.2's rules, each checked against Debian's ``qemu-system-x86_64`` 7.2 (the case list
``tests/unit/x86_64/x86_cmdline_cases.py``) and, where 10.0 differs (the quirks named below),
against Debian's 10.0 (``x86_cmdline_cases_10_0.py``), in the order QEMU applies them:

* ``kernel-irqchip`` is a property of the KVM accelerator (``accel/kvm/kvm-all.c``,
  ``OnOffSplit``: ``on``/``off``/``split``, nothing else, not even ``yes``); ``-machine
  kernel-irqchip=`` only sets a global default for it, so under TCG any value is ignored, while
  ``-accel tcg,kernel-irqchip=on`` is refused (``Property 'tcg-accel.kernel-irqchip' not found``).
  The texts are :mod:`qmpserver.arch.accel`'s (:func:`~qmpserver.arch.accel.kernel_irqchip_error`).
  Default: ``on`` (pc/q35 do not default to ``split``).
* ``-cpu`` (``parse_cpu_option`` then ``x86_cpu_parse_featurestr``, target/i386/cpu.c): the
  model must exist (``unable to find CPU model 'X'``); each feature token is ``+feat``,
  ``-feat``, ``feat=value`` or a bare ``feat`` (= ``on``); names of the ``=`` and bare forms
  have ``_`` turned into ``-``; an ``=``/bare form of a feature also given as ``+``/``-``
  earlier warns ``Ambiguous CPU model string. Don't mix both "+F" and "F=V"`` and, once at the
  end, ``Compatibility of ambiguous CPU model strings won't be kept on future QEMU versions``.
* the ``=`` forms are global properties of ``<model>-x86_64-cpu``, applied in order when the
  object is created: the first bad one fails with ``can't apply global T.K=V: <setter text>``
  (:data:`PARSE_ERRORS`).
* realize (``x86_cpu_realizefn``): ``-machine none`` gives the vCPU no APIC ID (``apic-id
  property was not initialized properly``); ``host`` without KVM (``CPU model 'host' requires KVM
  or HVF``); then the ``+feat`` list and the ``-feat`` list are set (an unknown name fails with
  ``Property 'T.name' not found``, the name as typed), so they win over the ``=`` forms;
  the features are filtered (:func:`.hostcpu.filter_features`): under KVM by the host's CPUID
  data and the irqchip (:mod:`.hostcpu`), under TCG by TCG's feature set, which is the set
  ``max`` enables under TCG (``x86_cpu_max_instance_init`` turns on every feature the
  accelerator supports; checked by the case list).
* each vCPU's APIC with ``kernel-irqchip=off`` under KVM is the userspace one, whose realize warns
  ``Userspace local APIC is deprecated for KVM.`` and ``Do not use kernel-irqchip except for the
  -M isapc machine type.`` (hw/intc/apic.c), after that vCPU's filtering warnings; every
  warning repeats for each vCPU.  That is 7.2 (quirk ``x86-kvm-userspace-apic-warns``); 10.0
  fails at the first vCPU instead, ``KVM does not support userspace APIC``, on every board.

What the data does not reach is logged on ``qmpserver.cpu`` as not modelled, never guessed: a
requested feature held in an MSR (``vmx-*``, ``arch-capabilities`` bits) that the accelerator
may lack (its ``MSR(...)`` warning needs MSR data nobody captured), a KVM host without CPUID data
(``models/x86_64/hosts``), a property type whose text parser is not written here.

The running machine: the vCPU objects ``/machine/unattached/device[N]`` (device[1] is the
``kvmvapic`` device the first APIC creates, so vCPU N > 0 is ``device[N + 1]``), their
``qom-get`` of every feature after filtering and of ``unavailable-features``, and
``query-hotpluggable-cpus`` (possible CPUs, last first; ``qom-path`` only for the plugged ones).
"""

from __future__ import annotations

from typing import Any

from ...errors import QMPError, StartupError
from ...log import get as get_logger
from ..accel import DEFAULT_KERNEL_IRQCHIP, kernel_irqchip_error
from . import cpu, hostcpu

log = get_logger("qmpserver.cpu")

MACHINE_FILES = {(7, 2): "x86_64/machines-7.2.yaml", (10, 0): "x86_64/machines-10.0.yaml"}
BOARD_PREFIXES = ("pc-i440fx-", "pc-q35-")
APIC_BOARDS = BOARD_PREFIXES + ("isapc",)
USERSPACE_APIC = (
    "Userspace local APIC is deprecated for KVM.",
    "Do not use kernel-irqchip except for the -M isapc machine type.",
)
# models/qemu-quirks.yaml: builds that warn USERSPACE_APIC (7.2); the others (10.0) fail at the
# first vCPU, after its filtering warnings, on every board, isapc included
USERSPACE_APIC_QUIRK = "x86-kvm-userspace-apic-warns"
USERSPACE_APIC_REFUSED = "KVM does not support userspace APIC"
AMBIGUOUS = 'Ambiguous CPU model string. Don\'t mix both "%s%s" and "%s=%s"'
AMBIGUOUS_END = "Compatibility of ambiguous CPU model strings won't be kept on future QEMU versions"
TRUE_WORDS = ("on", "yes", "true", "y")
FALSE_WORDS = ("off", "no", "false", "n")
# string → value of a global property by QOM type, with QEMU's visitor texts: (parser, error)
INT_TYPES = {
    "uint8": (0, 0xFF),
    "uint16": (0, 0xFFFF),
    "uint32": (0, 0xFFFFFFFF),
    "uint64": (0, (1 << 64) - 1),
}
SIGNED_TYPES = {"int": "int64", "int32": "int32_t"}


def is_board(machine_type: str | None) -> bool:
    """``pc-i440fx-*`` and ``pc-q35-*`` (what ``pc``/``q35`` resolve to): modelled boards."""
    return bool(machine_type) and str(machine_type).startswith(BOARD_PREFIXES)


def _raw_option(config: Any) -> str | None:
    """The last ``-cpu`` as typed (the launcher's), else one rebuilt from the parsed props."""
    for name, arg in reversed(getattr(config, "options", None) or ()):
        if isinstance(name, str) and name.lstrip("-") == "cpu" and isinstance(arg, str):
            return arg
    if config.cpu is None:
        return None
    return ",".join([config.cpu] + ["%s=%s" % kv for kv in (config.cpu_props or {}).items()])


class FeatureStr:
    """``x86_cpu_parse_featurestr``: the globals (``=`` and bare forms, in order), the ``+`` and
    ``-`` lists, and the ambiguity warnings."""

    def __init__(self, tokens: list[str]) -> None:
        self.globals: list[tuple[str, str]] = []
        self.plus: list[str] = []
        self.minus: list[str] = []
        self.warnings: list[str] = []
        for tok in tokens:
            if not tok:
                continue
            if tok[0] in "+-":
                (self.plus if tok[0] == "+" else self.minus).append(tok[1:])
                continue
            name, eq, val = tok.partition("=")
            name = name.replace("_", "-")
            if not eq:
                val = "on"
            if name == "tsc-freq":
                name = "tsc-frequency"
            for sign, lst in (("+", self.plus), ("-", self.minus)):
                if name in lst:
                    self.warnings.append(AMBIGUOUS % (sign, name, name, val))
            self.globals.append((name, val))
        if any(w.startswith("Ambiguous") for w in self.warnings):
            self.warnings.append(AMBIGUOUS_END)


def parse_value(typename: str, name: str, typ: str, text: str, visited: bool = False) -> Any:
    """A global property's string as its setter takes it; QMPError with QEMU's text, or
    cpu.Missing for a type whose parser is not modelled.  ``visited``: the build's setters are
    10.0's (:data:`.cpu.UNVISITED_QUIRK` does not apply): ``family``/``model``/``stepping`` read a uint64
    (``parameter 'family' can be at most 270``), ``vendor`` says ``value of property 'vendor'
    must consist of exactly 12 characters``."""
    if typ == "bool":
        low = text.lower()
        if low in TRUE_WORDS or low in FALSE_WORDS:
            return low in TRUE_WORDS
        raise QMPError("Parameter '%s' expects 'on' or 'off'" % name)
    if typ in INT_TYPES:
        try:
            v = int(text, 0)
        except ValueError:
            raise QMPError("Parameter '%s' expects uint64" % name) from None
        lo, hi = INT_TYPES[typ]
        if not lo <= v <= hi:
            raise QMPError("Parameter '%s' expects %s_t" % (name, typ))
        return v
    if typ in SIGNED_TYPES and visited and name in cpu.INT_RANGES:
        try:
            v = int(text, 0)
        except ValueError:
            raise QMPError("Parameter '%s' expects uint64" % name) from None
        most = cpu.INT_RANGES[name]
        if v % (1 << 64) > most:
            raise QMPError("parameter '%s' can be at most %d" % (name, most))
        return v
    if typ in SIGNED_TYPES:
        try:
            v = int(text, 0)
        except ValueError:
            raise QMPError("Parameter '%s' expects %s" % (name, SIGNED_TYPES[typ])) from None
        top = cpu.INT_RANGES.get(name)
        if top is not None and not 0 <= v <= top:
            raise QMPError("Property .%s doesn't take value %d (minimum: 0, maximum: %d)" % (name, v, top))
        return v
    if typ in ("string", "str"):
        if name == "vendor" and len(text.encode()) != 12:
            if visited:
                raise QMPError("value of property 'vendor' must consist of exactly 12 characters")
            raise QMPError("Property '.vendor' doesn't take value '%s'" % text)
        return text
    raise cpu.Missing("parsing a -cpu value of type %s (%s.%s)" % (typ, typename, name))


class X86Cpu:
    """The realized vCPU: model, QOM type, property values after filtering, filtered names."""

    def __init__(
        self,
        model: str,
        props: dict[str, Any],
        unavailable: list[str],
        globals_: dict[str, Any],
        fs: FeatureStr,
    ) -> None:
        self.model = model
        self.typename = model + "-x86_64-cpu"
        self.props = props
        self.unavailable = unavailable
        self.globals = globals_  # the -cpu key=value properties: globals of this model's type
        self.plus = list(fs.plus)  # +feat / -feat: applied to every x86 CPU object created later
        self.minus = list(fs.minus)
        # the filtered bits of the CPUID feature words, (leaf, subleaf, register, bit): the
        # features' and the XSAVE components' (filtered-features)
        self.filtered_bits: list[tuple[int, int | None, str, int]] = []
        # the XSAVE components (XCR0 bits) the vCPU has: CPUID.0DH:EAX/EDX of feature-words
        self.xsave_components = 0


def irqchip(instance: Any, ms: Any) -> str:
    """The KVM accelerator's ``kernel-irqchip``: ``-accel kvm,kernel-irqchip=`` over
    ``-machine kernel-irqchip=`` (a global default of the accelerator) over ``on``."""
    v = (instance.config.accel_props or {}).get("kvm", {}).get("kernel-irqchip")
    if v is None:
        v = ms.accel_opts.get("kernel-irqchip")
    if v is None:
        return DEFAULT_KERNEL_IRQCHIP
    err = kernel_irqchip_error(v, via_machine=True)
    if err:
        raise StartupError(err)
    return str(v)


def deprecation_warning(build: Any, machine_type: str) -> str | None:
    """``Machine type 'X' is deprecated: <reason>`` (qemu_init, after the accelerator) for a
    machine ``query-machines`` marks deprecated; the reasons are measured
    (``models/x86_64/machines-7.2.yaml``).  A deprecated machine without a recorded reason is
    logged as not modelled."""
    info: dict[str, Any] = next((m for m in build.machines() if m.get("name") == machine_type), {})
    if not info.get("deprecated"):
        return None
    rel = MACHINE_FILES.get(tuple(build.version[:2]))
    reasons = (cpu.load_rules(rel).get("deprecation-reasons") or {}) if rel else {}
    reason = reasons.get(machine_type)
    if reason is None:
        log.warning("the deprecation text of machine %s (build %s) is not modelled", machine_type, build.name)
        return None
    return "Machine type '%s' is deprecated: %s" % (machine_type, reason)


# /machine properties whose value follows other options (-boot, -m, -smp, -kernel, -bios ...):
# the measured defaults do not answer them
OPTION_DEPENDENT = frozenset({"memory", "smp", "graphics", "kernel", "initrd", "append", "dtb", "usb"})
# measured defaults that stand only while their option is absent
UNLESS_OPTION = {"firmware": "bios"}


def machine_default(instance: Any, name: str) -> Any:
    """The value real QEMU 7.2 reports for an unset ``/machine`` property of a started
    ``pc-i440fx-*`` / ``pc-q35-*`` machine (measured by ``tools/capture_x86_machines.py`` on the
    newest version; e.g. ``vmport`` ``auto`` is ``on`` once the machine exists), else None."""
    machine_type, build = instance.machine.type, instance.build
    family = (
        "q35"
        if machine_type.startswith("pc-q35-")
        else "pc"
        if machine_type.startswith("pc-i440fx-")
        else None
    )
    rel = MACHINE_FILES.get(tuple(build.version[:2]))
    if family is None or rel is None or name in OPTION_DEPENDENT:
        return None
    opt = UNLESS_OPTION.get(name)
    if opt and any(
        isinstance(o, (tuple, list)) and o and o[0].lstrip("-") == opt for o in instance.config.options
    ):
        return None
    value = ((cpu.load_rules(rel).get("defaults") or {}).get(family) or {}).get(name)
    if name == "boot" and value is not None and instance.config.boot:
        # -boot's members over the machine's default order (measured: -boot menu=on gives
        # {"order": "cad", "menu": true}; -boot order=d gives {"order": "d"})
        from ...qapi.opts import parse_boot

        value = dict(value, **parse_boot(instance.config.boot))
    return value


def validate(instance: Any, ms: Any) -> None:
    """Resolve and check the vCPU of a starting x86 instance (StartupError with QEMU's text);
    the warnings go to ``instance.config.warnings``, in QEMU's order."""
    cfg = instance.config
    warnings = cfg.warnings
    if ms.type != "none":
        w = deprecation_warning(instance.build, ms.type)
        if w:
            warnings.append(w)
        # MachineClass::wakeup: every PC machine (pc_machine_class_init) has one
        ms.wakeup_suspend = ms.type.startswith(APIC_BOARDS)
    chip = irqchip(instance, ms) if ms.accel == "kvm" else None
    if ms.type == "none" and cfg.cpu is None:
        return  # -machine none creates no vCPU without -cpu (libvirt's probe)
    model = ms.cpu_model
    raw = _raw_option(cfg)
    if model is None:
        return
    if model == "" and not (raw and "," in raw):
        raise StartupError("-cpu option cannot be empty")
    try:
        cat = cpu.catalog(instance.build, ms.accel)
    except cpu.Missing as e:
        log.warning("x86 -cpu %s under %s is not modelled: %s", model, ms.accel, e)
        return
    if model not in cat.models:
        raise StartupError("unable to find CPU model '%s'" % model)
    fs = FeatureStr((raw or model).split(",")[1:])
    warnings.extend(fs.warnings)
    typename = cat.typename(model)
    given: dict[str, Any] = {}
    extra = cpu.RECORDED_PROPS.get(ms.accel, ()) if model in ("host", "max") else ()
    for name, text in fs.globals:
        typ = "bool" if name in extra else cat.types.get(name)
        if typ is None:
            raise StartupError(
                "can't apply global %s.%s=%s: Property '%s.%s' not found"
                % (typename, name, text, typename, name)
            )
        try:
            given[name] = parse_value(typename, name, typ, text, cat.visited)
        except QMPError as e:
            raise StartupError("can't apply global %s.%s=%s: %s" % (typename, name, text, e.desc)) from None
        except cpu.Missing as e:
            log.warning("x86 -cpu %s: %s is not modelled; the value is kept unchecked", raw, e)
            given.pop(name, None)
    if ms.type == "none":
        raise StartupError("apic-id property was not initialized properly")
    if model == "host" and ms.accel != "kvm":
        raise StartupError("CPU model 'host' requires KVM or HVF")
    globals_ = dict(given)
    for names, on in ((fs.plus, True), (fs.minus, False)):
        for name in names:
            if cat.types.get(name) != "bool":
                raise StartupError("Property '%s.%s' not found" % (typename, name))
            given.pop(name, None)
            given[name] = on
    check = bool(given.get("check", True))
    enforce = bool(given.get("enforce", False))
    props, unavailable, filter_warnings, error, cpuid_bits, xsave_mask = _realize(
        instance, cat, model, given, chip, check, enforce
    )
    ncpus = max(1, int(ms.smp.get("cpus", 1)))
    apic = list(USERSPACE_APIC) if chip == "off" and ms.type.startswith(APIC_BOARDS) else []
    if chip == "off" and USERSPACE_APIC_QUIRK not in (getattr(cat.build, "quirks", ()) or ()):
        apic, error = [], error or USERSPACE_APIC_REFUSED
    if error:
        warnings.extend(filter_warnings)
        raise StartupError(error)
    for _ in range(ncpus):
        warnings.extend(filter_warnings + apic)
    instance.cpu.realized = X86Cpu(model, props, unavailable, globals_, fs)
    instance.cpu.realized.filtered_bits = cpuid_bits
    instance.cpu.realized.xsave_components = xsave_mask


def _realize(
    instance: Any,
    cat: cpu.Catalog,
    model: str,
    given: dict[str, Any],
    chip: str | None,
    check: bool,
    enforce: bool,
) -> tuple[dict[str, Any], list[str], list[str], str | None, list[tuple[int, int | None, str, int]], int]:
    """The expansion with the user's properties, the feature dependencies, then
    x86_cpu_filter_features: (properties, unavailable-features, warnings, start-up error, the
    filtered bits of the CPUID words)."""
    cpuid = cat.rules["cpuid"]
    words = cat.rules.get("feature-words")
    named_host = hostcpu.for_host(instance.host) if cat.accel == "kvm" else None
    host: dict[str, Any] | None = None
    props = _expand(cat, model, given, named_host)
    user = {k: v for k, v in given.items() if type(v) is bool}
    bits = cat.feature_bits(props, user)
    dep = cat.dependency_pass(props, user, bits)
    dep_warnings = [
        _bit_warning(cat, e, "This feature depends on other features that were not requested") for e in dep
    ]
    msr_avail: dict[tuple[int, int], bool] | None
    if cat.accel == "kvm":
        host = hostcpu.host_for(instance.host)
        if host is None:
            log.warning(
                "x86 -cpu %s under KVM: host %s has no CPUID data in models/x86_64/hosts: the features "
                "are not filtered (not modelled)",
                model,
                instance.host.name,
            )
            return (
                props,
                [],
                dep_warnings,
                None,
                [],
                _xsave_mask({f for f in cpuid if props.get(f) is True}, []),
            )
        if model == "host":
            req = hostcpu.host_model(host, cpuid, chip or "on", bool(given.get("migratable", True)))
            req = (req | {f for f, on in user.items() if on and f in cpuid}) - {
                f for f, on in user.items() if not on
            }
        else:
            req = hostcpu.requested(props, cpuid, chip or "on", user)
        avail = hostcpu.available(host, cpuid, chip or "on")
        who = "host"
        msr_avail, unknown = hostcpu.msr_offered(host, cpuid, cat.msr)
        if model in ("host", "max"):
            # the host model's own MSR features are what KVM offered (the recorded expansion on
            # the capture's host, or the host data's)
            own = {f for f in unknown if props.get(f) is True and cat.canonical.get(f, f) not in user}
            msr_avail.update({(i, b): True for f in own for i, b in cat.msr[f]})
            unknown = [f for f in unknown if f not in own]
        asked = sorted({f for f, i, _b in bits if i is not None and f in unknown})
        if asked:
            cpu.log_unknown_msr(host, asked, "-cpu %s: not filtered" % model)
            msr_avail.update({(i, b): True for f, i, b in bits if f in unknown and i is not None})
    else:
        req = {f for f in cpuid if props.get(f) is True}
        offered = {f for f, on in cat.expand("full", "max", None)["model"]["props"].items() if on is True}
        avail = offered & set(cpuid)
        who = "TCG"
        msr_avail = {(i, b): f in offered for f, i, b in cat.msr_walk}
    # a CPUID feature a prerequisite took away is not asked for
    req -= {f for f, i, _b in dep if i is None}
    got, _warns, _error = hostcpu.filter_features(req, avail, cpuid, who, check, enforce, words)
    # (rank, bit, name or None, warning text): QEMU's walk, feature word by feature word
    cut = _msr_position(words)
    msr_rank = {index: n for n, index in enumerate(cat.rules.get("msr-words") or ())}
    missing: list[tuple[tuple[int, int], int, str, str]] = []
    for f in req - got:
        w = _word_index(cpuid, words, f)
        missing.append(((0 if w < cut else 2, w), cpuid[f][3], f, hostcpu.warning_text(f, cpuid[f], who)))
    comps = _missing_xsave_components(req, host)
    xw = _word_index({"c": [0xD, 0, "EAX", 0]}, words, "c")
    for bit, f in comps:
        text = "%s doesn't support requested feature: CPUID.0DH:EAX [bit %d]" % (who, bit)
        missing.append(((0, xw), bit, f, text))
    msr_filtered = [
        (f, i, b) for f, i, b in cat.msr_walk if (f, i, b) in bits and not msr_avail.get((i, b), False)
    ]
    for f, i, b in msr_filtered:
        missing.append(((1, msr_rank.get(i, len(msr_rank))), b, f, _bit_warning(cat, (f, i, b), None, who)))
    missing.sort(key=lambda m: (m[0], m[1]))
    warns = [m[3] for m in missing] if (check or enforce) else []
    bits.difference_update(msr_filtered)
    # unavailable-features: the filtered bits and the ones a prerequisite took, in word order
    taken = [
        ((0 if _word_index(cpuid, words, f) < cut else 2, _word_index(cpuid, words, f)), b, f)
        if i is None
        else ((1, msr_rank.get(i, len(msr_rank))), b, f)
        for f, i, b in dep
    ]
    unavailable = [
        m[2] for m in sorted([(m[0], m[1], m[2]) for m in missing] + taken, key=lambda m: (m[0], m[1]))
    ]
    error = None
    if enforce and (missing or dep):
        error = "%s doesn't support requested features" % ("Host" if who == "host" else who)
    for f in cpuid:
        for k in cat.aliases.get(f, (f,)):
            if k in props:
                props[k] = f in got
    for f, fbits in cat.msr.items():
        on = all((f, i, b) in bits for i, b in fbits)
        for k in cat.aliases.get(f, (f,)):
            if k in props:
                props[k] = on
    if model not in ("host", "max") and props.get("vmx") is True and msr_filtered:
        log.warning(
            "x86 -cpu %s: the model's VMX capability bits that have no feature name (IA32_VMX_EPT_VPID_CAP "
            "bit 14 ...) are not modelled: QEMU also warns 'MSR(...) [bit N]' for them",
            model,
        )
    cpuid_bits = [(cpuid[f][0], cpuid[f][1], cpuid[f][2], cpuid[f][3]) for f in req - got]
    cpuid_bits += [(cpuid[f][0], cpuid[f][1], cpuid[f][2], cpuid[f][3]) for f, i, _b in dep if i is None]
    cpuid_bits += [(0xD, 0, "EAX", bit) for bit, _f in comps]
    return props, unavailable, dep_warnings + warns, error, cpuid_bits, _xsave_mask(req, comps)


# the components x86_cpu_enable_xsave_components always finds (x87, SSE) besides
# cpu.XSAVE_COMPONENTS: bit -> the feature that asks for it
BASE_XSAVE_COMPONENTS = ((0, "fpu"), (1, "sse"))


def _xsave_mask(req: set[str], missing: list[tuple[int, str]]) -> int:
    """The XSAVE components the realized vCPU has (``x86_cpu_enable_xsave_components``: none
    without ``xsave``; one per requested feature that owns a component, x87 and SSE
    included), less the filtered ones; decided on the features asked for, before filtering
    (on a host without XSAVE the components stay while ``xsave`` is filtered)."""
    if "xsave" not in req:
        return 0
    mask = 0
    for bit, f in BASE_XSAVE_COMPONENTS + cpu.XSAVE_COMPONENTS:
        if f in req:
            mask |= 1 << bit
    for bit, _f in missing:
        mask &= ~(1 << bit)
    return mask


def _missing_xsave_components(req: set[str], host: dict[str, Any] | None) -> list[tuple[int, str]]:
    """The XSAVE components (CPUID.0DH:EAX bits) the vCPU asks for that the accelerator lacks,
    with the feature that asks for each (``x86_cpu_enable_xsave_components``: a component for
    every enabled feature that owns one, none without ``xsave``; :data:`.cpu.XSAVE_COMPONENTS`).
    Under KVM the host's CPUID.0DH:EAX says which it offers; TCG filters none (measured:
    ``Cascadelake-Server-v2`` under TCG warns about AVX-512 itself, not its components)."""
    if "xsave" not in req or host is None:
        return []
    xcr0 = hostcpu.leaf(host, 0xD, 0)["EAX"]
    return [(bit, f) for bit, f in cpu.XSAVE_COMPONENTS if f in req and not xcr0 >> bit & 1]


def _bit_warning(cat: cpu.Catalog, e: tuple[str, int | None, int], why: str | None, who: str = "host") -> str:
    """A warning of ``mark_unavailable_features`` for one bit (MSR or CPUID word)."""
    name, index, bit = e
    if index is not None:
        return hostcpu.msr_warning_text(name, index, bit, who, why)
    text = hostcpu.warning_text(name, cat.rules["cpuid"][name], who)
    if why:
        text = why + text[text.index(": ") :]
    return text


def _word_index(cpuid: dict[str, list], words: list | None, f: str) -> int:
    w = cpuid[f]
    for n, x in enumerate(words or ()):
        if (x[0], x[1] or 0, x[2]) == (w[0], w[1] or 0, w[2]):
            return n
    return len(words or ())


def _msr_position(words: list | None) -> int:
    """Where QEMU's walk puts the MSR feature words among the CPUID words: after the XSAVE
    components (CPUID.0DH:EDX of subleaf 0, FEAT_XSAVE_COMP_HI), before leaf 0x14 and SGX
    (``FeatureWord`` order, target/i386/cpu.h; checked by the MSR case list)."""
    for n, x in enumerate(words or ()):
        if (x[0], x[1] or 0, x[2]) == (0xD, 0, "EDX"):
            return n + 1
    return len(words or ())


def _expand(
    cat: cpu.Catalog, model: str, given: dict[str, Any], host: dict[str, Any] | None
) -> dict[str, Any]:
    """``host``: the host profile's own CPUID data (``-cpu host``/``max``: its features and
    identity; a named model: its vendor), None for the capture's host."""
    try:
        return dict(cat.expand("full", model, given, host)["model"]["props"])
    except (cpu.Missing, cpu.X86Error) as e:
        log.warning("x86 -cpu %s with %s: the expansion is not modelled (%s)", model, given, e)
        return dict(cat.expand("full", model, None, host)["model"]["props"])


# --- the running machine ------------------------------------------------------------------------


def expansion_props(instance: Any, name: str, props: Any) -> Any:
    """The properties a ``query-cpu-model-expansion`` object of model ``name`` ends up with on
    this instance: the ``-cpu`` ``key=value`` globals when ``name`` is the ``-cpu`` model (set
    when the object is created), then the query's own ``props``, then the ``-cpu`` ``+feat`` and
    ``-feat`` lists, which QEMU 7.2 keeps in global lists and applies to every x86 CPU object it
    expands (``x86_cpu_expand_features``; measured: ``-cpu qemu64,+x2apic,-sse2`` makes
    ``host``'s expansion report x2apic on and sse2 off)."""
    x = _realized(instance)
    if x is None or not (x.plus or x.minus or (x.globals and x.model == name)):
        return props
    out = dict(x.globals) if x.model == name else {}
    if isinstance(props, dict):
        out.update(props)
    for names, on in ((x.plus, True), (x.minus, False)):
        for f in names:
            out.pop(f, None)
            out[f] = on
    return out


def expansion_depends_on_instance(instance: Any, name: str) -> bool:
    """Whether model ``name``'s expansion on this instance differs from the capture's: the
    ``-cpu`` properties reach it (:func:`expansion_props`), or the instance is a pc/q35
    machine under KVM with ``kernel-irqchip`` off or split (the capture had ``-machine none``,
    an in-kernel irqchip: :func:`irqchip_features`)."""
    x = _realized(instance)
    if x is not None and (x.plus or x.minus or (x.globals and x.model == name)):
        return True
    ms = instance.machine
    if instance.accel != "kvm" or ms is None or not is_board(ms.type):
        return False
    try:
        return irqchip(instance, ms) != DEFAULT_KERNEL_IRQCHIP
    except StartupError:
        return False


def irqchip_features(instance: Any, cat: cpu.Catalog, name: str, props: dict[str, Any], user: Any) -> None:
    """An expansion on a running pc/q35 machine under KVM follows the machine's
    ``kernel-irqchip`` (:mod:`.hostcpu`, measured: the capture answered for ``-machine none``,
    an in-kernel irqchip): ``host``/``max`` get the features ``-cpu host`` gets there; a named
    model loses its default ``x2apic`` without an in-kernel irqchip and gains
    ``kvm-msi-ext-dest-id`` with ``split``, unless the query sets them (``user``)."""
    ms = instance.machine
    if instance.accel != "kvm" or ms is None or not is_board(ms.type):
        return
    chip = irqchip(instance, ms)
    if chip == DEFAULT_KERNEL_IRQCHIP:
        return
    cpuid = cat.rules["cpuid"]
    given = set(user) if isinstance(user, dict) else set()
    if name in ("host", "max"):
        host = hostcpu.host_for(instance.host)
        if host is None:
            return
        offered = hostcpu.host_model(host, cpuid, chip, bool(props.get("migratable", True)))
        touched: tuple[str, ...] = hostcpu.NEEDS_IN_KERNEL_APIC + hostcpu.SPLIT_ONLY + (hostcpu.TSC_DEADLINE,)
    else:
        offered = hostcpu.requested(props, cpuid, chip, {})
        touched = ("x2apic",) + hostcpu.SPLIT_ONLY
    for f in touched:
        names = cat.aliases.get(f, (f,))
        if given.intersection(names):
            continue
        for k in names:
            if k in props:
                props[k] = f in offered


def _realized(instance: Any) -> X86Cpu | None:
    r = instance.cpu.realized
    return r if isinstance(r, X86Cpu) else None


def cpu_qom_path(index: int) -> str:
    """vCPU ``index``'s QOM path: device[1] is the first APIC's ``kvmvapic``."""
    return "/machine/unattached/device[%d]" % (index if index == 0 else index + 1)


def topology_ids(smp: dict[str, Any], index: int) -> dict[str, int]:
    """socket/die/core/thread of vCPU ``index`` (x86_topo_ids_from_idx)."""
    threads, cores, dies = smp["threads"], smp["cores"], smp.get("dies", 1)
    return {
        "socket-id": index // (threads * cores * dies),
        "die-id": (index // (threads * cores)) % dies,
        "core-id": (index // threads) % cores,
        "thread-id": index % threads,
    }


def apic_id(smp: dict[str, Any], index: int) -> int:
    """x86_apicid_from_cpu_idx: thread, core and die IDs packed into fields each as wide as its
    count needs (rounded up to a power of two), the socket above them."""
    ids = topology_ids(smp, index)
    width = [(max(1, int(n)) - 1).bit_length() for n in (smp["threads"], smp["cores"], smp.get("dies", 1))]
    return (
        ids["thread-id"]
        | ids["core-id"] << width[0]
        | ids["die-id"] << (width[0] + width[1])
        | ids["socket-id"] << (width[0] + width[1] + width[2])
    )


def cpu_props(smp: dict[str, Any], index: int) -> dict[str, int]:
    """CpuInstanceProperties of an x86 vCPU: ``die-id`` only with several dies, no ``node-id``
    without NUMA."""
    ids = topology_ids(smp, index)
    if smp.get("dies", 1) <= 1:
        del ids["die-id"]
    return ids


def board_cpus(instance: Any) -> Any:
    """pc/q35's vCPUs for query-cpus-fast / query-hotpluggable-cpus (arch/targets.py,
    part ``board``), None on the other x86 boards."""
    if not is_board(instance.machine.type):
        return None
    from ..targets import BoardCPUs

    smp = instance.machine.smp
    return BoardCPUs(lambda i: cpu_props(smp, i), cpu_qom_path, lambda: hotpluggable_cpus(instance))


def hotpluggable_cpus(instance: Any) -> list[dict[str, Any]]:
    """``query-hotpluggable-cpus`` of a pc/q35 machine: every possible vCPU, last first."""
    ms = instance.machine
    x = _realized(instance)
    typename = x.typename if x is not None else (ms.cpu_model or "qemu64") + "-x86_64-cpu"
    out = []
    for i in reversed(range(int(ms.smp["maxcpus"]))):
        e: dict[str, Any] = {"props": cpu_props(ms.smp, i), "vcpus-count": 1}
        if i < int(ms.smp["cpus"]):
            e["qom-path"] = cpu_qom_path(i)
        e["type"] = typename
        out.append(e)
    return out


def filtered_words(
    rules: dict[str, Any], names: list[str], bits: list[tuple[int, int | None, str, int]] | None = None
) -> list[dict[str, Any]]:
    """``qom-get filtered-features``: one X86CPUFeatureWordInfo per CPUID feature word, last word
    first (the list is built by prepending), ``cpuid-input-ecx`` only for words with a subleaf,
    ``features`` the mask of the filtered bits: ``bits`` (``(leaf, subleaf, register, bit)``,
    the XSAVE components included) when given, else the bits of the filtered features ``names``.
    The MSR feature words are not in the list (QEMU lists the CPUID words only)."""
    cpuid = rules["cpuid"]
    out = []
    for leaf, sub, reg in reversed(rules.get("feature-words") or ()):
        mask = 0
        where = bits if bits is not None else [tuple(cpuid[n]) for n in names if n in cpuid]
        for w in where:
            if (w[0], w[1] or 0, w[2]) == (leaf, sub or 0, reg):
                mask |= 1 << w[3]
        # members in X86CPUFeatureWordInfo's order (the output visitor's insertion order; the
        # wire shows them in QDict order)
        e: dict[str, Any] = {"cpuid-input-eax": leaf}
        if sub is not None:
            e["cpuid-input-ecx"] = sub
        e["cpuid-register"] = reg
        e["features"] = mask
        out.append(e)
    return out


# names QEMU gives several bits of one CPUID word (the rules' cpuid table keeps the first):
# kvmclock is KVM_FEATURE_CLOCKSOURCE (bit 0) and KVM_FEATURE_CLOCKSOURCE2 (bit 3)
MORE_BITS = {"kvmclock": ((0x40000001, None, "EAX", 3),)}
# x86_cpu_realizefn on an AMD vCPU: CPUID.80000001H:EDX repeats the CPUID.01H:EDX bits AMD
# mirrors (CPUID_EXT2_AMD_ALIASES: fpu ... pse36, mmx, fxsr), which have no names of their own
AMD_ALIASES = 0x0183F3FF


def feature_words(rules: dict[str, Any], props: dict[str, Any], xsave: int) -> list[dict[str, Any]]:
    """``qom-get feature-words`` of a realized vCPU: the CPUID feature words as
    :func:`filtered_words` lists them, each with the bits of the features the vCPU has after
    filtering (:data:`MORE_BITS` included; an AMD vCPU's :data:`AMD_ALIASES`), the XSAVE
    component words (CPUID.0DH:EAX/EDX of subleaf 0) with its components."""
    cpuid = rules["cpuid"]
    bits: list[tuple[int, int | None, str, int]] = []
    for f, w in cpuid.items():
        if props.get(f) is True:
            bits.append((w[0], w[1], w[2], w[3]))
            bits.extend(MORE_BITS.get(f, ()))
    if props.get("vendor") == "AuthenticAMD":
        edx1 = sum(1 << w[3] for w in bits if (w[0], w[2]) == (1, "EDX"))
        bits += [(0x80000001, None, "EDX", b) for b in range(32) if (edx1 & AMD_ALIASES) >> b & 1]
    bits += [(0xD, 0, "EAX", b) for b in range(32) if xsave >> b & 1]
    bits += [(0xD, 0, "EDX", b) for b in range(32) if xsave >> (32 + b) & 1]
    return filtered_words(rules, [], bits)


# realize-time defaults of a vCPU's properties (x86_cpu_realizefn / x86_cpu_hyperv_realize,
# target/i386/cpu.c; measured on the running binary): the microcode revision KVM also reports,
# by vendor; TCG's physical address width; the Hyper-V vendor ID
UCODE_REV = {"AuthenticAMD": 0x01000065}
UCODE_REV_OTHER = 0x100000000
TCG_PHYS_BITS = 40
HV_VENDOR_ID = "Microsoft Hv"
# errors of a realized vCPU's properties: (class, text with the QOM type)
PROPERTY_ERRORS = {
    "crash-information": ("GenericError", "No crash occurred"),
    "legacy-memory": ("GenericError", "Property '%s.legacy-memory' is not readable"),
}


def realize_defaults(x: X86Cpu, host: dict[str, Any] | None, kvm: bool) -> dict[str, Any]:
    """The properties a vCPU's realize sets when the user did not (see the constants above);
    ``phys-bits`` with ``host-phys-bits`` (the default of ``-cpu host``) is the host's
    CPUID.80000008H:EAX[7:0] (capped by ``host-phys-bits-limit``), from the host's data; under
    KVM ``tsc-frequency`` is KVM's TSC rate (``KVM_GET_TSC_KHZ`` of a new vCPU, the host file's
    ``tsc-khz``), None (not modelled) for a host file without it."""
    p = x.props
    out: dict[str, Any] = {"parent_bus": ""}
    if not p.get("ucode-rev"):
        out["ucode-rev"] = UCODE_REV.get(p.get("vendor", ""), UCODE_REV_OTHER)
    if not p.get("hv-vendor-id"):
        out["hv-vendor-id"] = HV_VENDOR_ID
    if kvm and not p.get("tsc-frequency"):
        khz = (host or {}).get("tsc-khz")
        out["tsc-frequency"] = int(khz) * 1000 if khz else None
    if not p.get("phys-bits"):
        if p.get("host-phys-bits") and host is not None:
            bits = hostcpu.leaf(host, 0x80000008)["EAX"] & 0xFF
            limit = p.get("host-phys-bits-limit") or 0
            out["phys-bits"] = min(bits, limit) if limit else bits
        elif not p.get("host-phys-bits"):
            out["phys-bits"] = TCG_PHYS_BITS
    return out


def vcpu_qom_key(instance: Any) -> str:
    """Which measured set of vCPU objects applies: ``tcg`` or ``kvm-<kernel-irqchip>``."""
    if instance.accel != "kvm":
        return "tcg"
    try:
        return "kvm-" + irqchip(instance, instance.machine)
    except StartupError:
        return "kvm-" + DEFAULT_KERNEL_IRQCHIP


def _add_recorded(
    QomObject: Any, parent: Any, name: str, typ: str, rec: dict[str, Any], subst: dict[str, Any]
) -> None:
    """A child object as the real binary showed it (the rules' ``vcpu-qom``): its listing, its
    property values or errors, its children."""
    o = QomObject(typ)
    parent.add_child(name, o)
    o.order = [n for n, _t in rec["list"]]
    for n, t in rec["list"]:
        if n == "type":
            continue
        if t.startswith("child<"):
            child = rec["children"].get(n)
            if child is not None:
                _add_recorded(QomObject, o, n, child["type"], child, subst)
            continue
        reply = rec["values"].get(n) or {}
        o.add_prop(n, t, _recorded_getter(reply, subst))


def _recorded_getter(reply: dict[str, Any], subst: dict[str, Any]) -> Any:
    if "error" in reply:
        err = reply["error"]

        def fail() -> Any:
            raise QMPError(err.get("desc", ""), err.get("class", "GenericError"))

        return fail
    value = reply.get("return")
    if isinstance(value, str) and value in subst:
        value = subst[value]
    elif isinstance(value, str) and value.startswith("{cpu}"):
        value = subst["{cpu}"] + value[len("{cpu}") :]
    return lambda: value


def add_cpu_objects(instance: Any, tree: Any, QomObject: Any) -> None:
    """The vCPU objects with their property values after filtering, the realize-time defaults
    (:func:`realize_defaults`), and their child objects (local APIC, memory regions) as the
    real binary shows them (the rules' ``vcpu-qom``, per accelerator and irqchip, with the
    vCPU's path and APIC ID); a property this model does not compute is an error naming it
    (not a default passed off as QEMU's)."""
    x = _realized(instance)
    unattached = tree.machine.children.get("unattached")
    if x is None or unattached is None:
        return
    ms = instance.machine
    try:
        cat = cpu.catalog(instance.build, instance.accel)
    except cpu.Missing:
        return
    types, cat_rules = cat.types, cat.rules
    objects = (cat_rules.get("vcpu-qom") or {}).get(vcpu_qom_key(instance))
    if objects is None:
        log.warning("the child objects of a running x86 vCPU (%s) are not modelled", vcpu_qom_key(instance))
    host = hostcpu.host_for(instance.host) if instance.accel == "kvm" else None
    defaults = realize_defaults(x, host, instance.accel == "kvm")
    for i in range(int(ms.smp["cpus"])):
        o = QomObject(x.typename)
        path_name = cpu_qom_path(i).rsplit("/", 1)[1]
        unattached.add_child(path_name, o)
        values = dict(x.props)
        values.update(defaults)
        values.update(topology_ids(ms.smp, i))
        values["apic-id"] = apic_id(ms.smp, i)
        values.update(
            {
                "filtered-features": filtered_words(cat_rules, x.unavailable, x.filtered_bits),
                "feature-words": feature_words(cat_rules, x.props, x.xsave_components),
                "unavailable-features": list(x.unavailable),
                "start-powered-off": False,
                "hotpluggable": True,
                "hotplugged": False,
                "realized": True,
            }
        )
        if objects is not None:
            o.order = list(objects["order"])
            subst = {"{cpu}": cpu_qom_path(i), "{apic-id}": values["apic-id"]}
            for name, rec in objects["first" if i == 0 else "other"].items():
                _add_recorded(QomObject, o, name, rec["type"], rec, subst)
        for name, typ in types.items():
            if name == "type":
                continue
            err = PROPERTY_ERRORS.get(name)
            if err is not None:
                o.add_prop(name, typ, _error_getter(err[0], err[1].replace("%s", x.typename)))
            elif name in values and values[name] is not None:
                o.add_value(name, typ, values[name])
            else:
                o.add_prop(name, typ, _unmodelled(instance, x.typename, name))


def _error_getter(cls: str, desc: str) -> Any:
    def fail() -> Any:
        raise QMPError(desc, cls)

    return fail


def _unmodelled(instance: Any, typename: str, name: str) -> Any:
    def get() -> Any:
        log.warning("qom-get %s.%s of a running x86 vCPU is not modelled", typename, name)
        raise QMPError(
            "qmpserver: qom-get of %s.%s is not modelled for a running vCPU (build %s)"
            % (typename, name, instance.build.name)
        )

    return get
