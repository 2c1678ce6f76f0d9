"""The Arm ``virt`` machine: ``-machine`` properties, machine init, QOM.

Three steps, in QEMU's order (``softmmu/vl.c`` then ``hw/arm/virt.c``):

1. :func:`apply_properties` (before the accelerator is chosen, like
   ``qemu_apply_machine_options``): every ``-machine`` key,
   in QDict order, must be a property of the machine type (``Property
   'virt-7.2-machine.foo' not found``) and its value must pass the property
   setter (``Parameter 'mte' expects 'on' or 'off'``, ``Invalid gic-version
   value`` ...).  Types come from the build's recorded ``qom-list-properties
   <type>-machine``; ``mte-version`` exists only with the ``mte-version``
   proposal, and using ``mte`` then prints its deprecation warning.  The
   raw strings in ``machine_state.props`` are replaced by typed values.
2. :func:`board_init` (after the accelerator and the CPU model name): GIC version, vCPU limit, TrustZone / virtualization
   under KVM, MTE (:mod:`qmpserver.arch.arm64.mte` owns those rules), the
   KVM MTE migration blocker.  Failures are start-up errors.
3. :func:`build_qom`: ``/machine`` with every property of the type and its
   resolved value (``qom-get /machine gic-version`` -> ``"3"``,
   ``mte-version`` -> ``"2"``), and the ``qom-list-properties`` overlay
   adding ``mte-version`` next to ``mte``.

The start-up pipeline (:mod:`qmpserver.startup`) calls steps 1 and 2 in
that order; :mod:`qmpserver.vm.qom` lists :func:`build_qom` among its
builders and :mod:`qmpserver.commands.qom` :func:`overlay_properties` among
its property overlays.
"""

from __future__ import annotations

import re

from ..errors import QMPError, StartupError
from ..qapi.opts import parse_bool
from . import smp as _smp

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any, Callable, NoReturn

VIRT_RE = re.compile(r"^virt-\d+\.\d+$")
LEGACY_ACCEL_OPTS = ("kernel-irqchip", "kvm-shadow-mem", "igd-passthru")
ON_OFF_AUTO = ("on", "off", "auto")

# Values qom-get reports for properties nobody set (QEMU 7.2.22 -M virt,
# observed 2026-11-21 with qom-get on every /machine property); others get the
# zero of their type.
_DEFAULTS = {
    "dump-guest-core": True,
    "mem-merge": True,
    "its": True,
    "highmem": True,
    "dtb-randomness": True,
    "dtb-kaslr-seed": True,
    "iommu": "none",
    "acpi": "auto",
    "x-oem-table-id": "BXPC    ",
    "x-oem-id": "BOCHS ",
    "highmem-redists": True,
    "highmem-ecam": True,
    "highmem-mmio": True,
    "compact-highmem": True,
    "boot": {"order": ""},
}
_TYPE_ZERO = {"bool": False, "string": "", "str": "", "int": 0, "OnOffAuto": "auto"}

# Properties of virt when the build recorded none for the type (e.g. a build
# from QAPI source without replies): the ones qmpserver models.
_FALLBACK = [
    (
        "mte",
        "bool",
        "Set on/off to enable/disable emulating a guest CPU which implements the ARM "
        "Memory Tagging Extension",
    ),
    ("gic-version", "string", "Set GIC version. Valid values are 2, 3, 4, host and max"),
    ("virtualization", "bool", None),
    ("secure", "bool", None),
    ("its", "bool", None),
    ("highmem", "bool", None),
    ("iommu", "string", None),
    ("acpi", "OnOffAuto", None),
    ("ras", "bool", None),
    ("usb", "bool", None),
    ("graphics", "bool", None),
    ("dump-guest-core", "bool", None),
    ("mem-merge", "bool", None),
    ("memory-backend", "link<memory-backend>", None),
    ("firmware", "string", None),
    ("pflash0", "str", None),
    ("pflash1", "str", None),
    ("kernel", "string", None),
    ("initrd", "string", None),
    ("append", "string", None),
    ("dtb", "string", None),
    ("suppress-vmdesc", "bool", None),
    ("nvdimm", "bool", None),
    ("hmat", "bool", None),
    ("dtb-randomness", "bool", None),
]


def is_virt(machine_type: str | None) -> bool:
    return bool(machine_type) and (machine_type == "virt" or bool(VIRT_RE.match(machine_type or "")))


# aarch64's modelled board (arch/targets.py, part "board"): the virt machine, whose unset
# /machine values are _DEFAULTS (read in _initial for every target's virt)
is_board = is_virt


def _fail(instance: Any, message: str) -> NoReturn:
    raise StartupError(message, list(instance.config.warnings))


# --- the property table ---------------------------------------------------------------------


def recorded_properties(instance: Any, qom_type: str) -> list[dict[str, Any]] | None:
    """``qom-list-properties <qom_type>`` as the build recorded it (None if not)."""
    rec: list[dict[str, Any]] | None = instance.build.recorded_return(
        "qom-list-properties", {"typename": qom_type}
    )
    return rec


def property_list(instance: Any, qom_type: str, machine_type: str) -> list[dict[str, Any]] | None:
    """The machine type's properties (dicts name/type/description) with the
    proposal overlay applied; None when nothing is known about the type."""
    props = recorded_properties(instance, qom_type)
    if props is None and is_virt(machine_type):
        # versioned virt types share virt-machine's class properties: use the
        # newest one the build recorded, else the properties qmpserver models
        latest = instance.build.canonical_machine("virt")
        if latest:
            props = recorded_properties(instance, latest + "-machine")
        if props is None:
            props = [{"name": n, "type": t, **({"description": d} if d else {})} for n, t, d in _FALLBACK]
    if props is None:
        return None
    props = overlay_properties(instance, qom_type, props)
    from ..arch.targets import machine_rules

    target_overlay = getattr(machine_rules(instance.build.target), "overlay_properties", None)
    return target_overlay(instance, qom_type, props) if target_overlay is not None else props


def overlay_properties(
    instance: Any, typename: str, props: list[dict[str, Any]] | None
) -> list[dict[str, Any]] | None:
    """PROPERTY_OVERLAYS hook: ``mte-version`` right after ``mte`` on every
    virt machine type when the build has the proposal."""
    if props is None:
        return props
    if not (typename == "virt-machine" or (typename.startswith("virt-") and typename.endswith("-machine"))):
        return props
    if props == [] and typename != "virt-machine":
        # a versioned type the build did not record: it has virt-machine's properties
        latest = instance.build.canonical_machine("virt")
        rec = recorded_properties(instance, latest + "-machine") if latest else None
        if rec:
            props = rec
    if not instance.build.has_proposal("mte-version"):
        return props
    names = [p.get("name") for p in props]
    if "mte" not in names or "mte-version" in names:
        return props
    from ..arch.arm64 import mte

    out = list(props)
    # ObjectPropertyInfo members in QAPI order: name, type, description
    out.insert(
        names.index("mte") + 1, {"name": "mte-version", "type": "string", "description": mte.DESCRIPTION}
    )
    return out


# --- step 1: -machine properties -------------------------------------------------------------


def _parse_bool(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    return parse_bool(v, name)  # QemuOptsError is a ValueError


def _parse_int(name: str, v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    try:
        s = str(v).strip()
        return int(s, 0) if s[:2].lower() == "0x" else int(s)
    except ValueError:
        raise ValueError("Parameter '%s' expects integer" % name) from None


def convert(instance: Any, qom_type: str, name: str, typ: str, value: Any) -> Any:
    """One ``-machine key=value`` through the property's setter: the typed
    value, or ValueError with QEMU's text."""
    from ..arch.arm64 import gic, mte
    from ..arch.targets import machine_rules

    rules = machine_rules(instance.build.target)
    if rules is not None:
        got = rules.parse_property(instance, qom_type[: -len("-machine")], name, value)
        if got is not rules.NOT_MINE:
            return got
    if typ == "bool":
        return _parse_bool(name, value)
    if typ == "int" or typ.startswith(("uint", "int")):
        return _parse_int(name, value)
    if typ == "OnOffAuto":
        if value not in ON_OFF_AUTO:
            raise ValueError("Parameter '%s' does not accept value '%s'" % (name, value))
        return value
    if typ.startswith("child<"):
        raise ValueError("Property '%s.%s' is not writable" % (qom_type, name))
    if not isinstance(value, str):
        return value
    if name == "gic-version":
        try:
            return gic.parse(value, gic.accepted_values(_description(instance, qom_type, name)))
        except gic.GicError as e:
            raise ValueError(e.message) from None
    if name == "mte-version":
        try:
            return mte.parse_version(value)
        except mte.MteError as e:
            raise ValueError(e.message) from None
    if name == "iommu" and value not in ("none", "smmuv3"):
        raise ValueError("Invalid iommu value\nValid values are none, smmuv3.")
    if name == "nvdimm-persistence" and value not in ("cpu", "mem-ctrl"):
        raise ValueError("-machine nvdimm-persistence=%s: unsupported option" % value)
    return value


def _description(instance: Any, qom_type: str, name: str) -> str | None:
    for p in property_list(instance, qom_type, qom_type[: -len("-machine")]) or ():
        if p.get("name") == name:
            return p.get("description")
    return None


def apply_properties(instance: Any, ms: Any) -> None:
    """Validate and type the ``-machine`` options (start-up phase 2)."""
    from ..wire.qdict import wire_order

    qom_type = ms.qom_type
    raw: dict[str, Any] = {}
    for k, v in (ms.props or {}).items():
        raw[k.replace("_", "-")] = v  # keyval_dashify
    if not raw:
        ms.props = {}
        ms.accel_opts = {}
        return  # nothing to check: the build's recordings stay unread
    table = property_list(instance, qom_type, ms.type)
    known = {p["name"]: p for p in table} if table is not None else None
    typed: dict[str, Any] = {}
    accel_opts: dict[str, Any] = {}
    proposal = instance.build.has_proposal("mte-version")
    for key in wire_order(tuple(raw)):
        value = raw[key]
        if key in LEGACY_ACCEL_OPTS:
            accel_opts[key] = value
            continue
        if known is None:
            typed[key] = value
            continue
        p = known.get(key)
        if p is None:
            _fail(instance, "Property '%s.%s' not found" % (qom_type, key))
        try:
            typed[key] = convert(instance, qom_type, key, p.get("type", "string"), value)
        except ValueError as e:
            _fail(instance, str(e))
        if key == "mte" and proposal and is_virt(ms.type):
            from ..arch.arm64 import mte

            instance.config.warnings.append(mte.DEPRECATED)
    ms.props = {k: typed[k] for k in raw if k in typed}
    ms.accel_opts = accel_opts


# --- step 2: machine init --------------------------------------------------------------------


def _cpu_known(instance: Any, model: str | None, accel: str) -> bool:
    """False when the CPU step will reject the model (unknown name; not in
    virt's CPU list): QEMU reports that first, so the GIC/MTE checks leave it
    to that step."""
    bd = (getattr(instance.build, "derived", None) or {}).get("arm_cpu") or {}
    defs = bd.get("definitions")
    if not defs or model is None:
        return True
    if model not in {d.get("name") for d in defs}:
        return False
    v = bd.get("virt") or {}
    valid = v.get("valid")
    if valid and model not in valid:
        return False
    if accel != "tcg" and model in (v.get("tcg_only") or ()):
        return False
    return True


def default_cpu(instance: Any, ms: Any) -> str:
    bd = (getattr(instance.build, "derived", None) or {}).get("arm_cpu") or {}
    d = (bd.get("virt") or {}).get("default")
    if isinstance(d, dict):
        d = d.get("tcg" if ms.accel == "tcg" else "other")
    if d:
        return str(d)
    from ..arch.arm64 import mte

    return mte.default_cpu(instance.build, ms.type) or "cortex-a15"


def _max_cpus(ms: Any) -> int:
    return max(1, int(ms.smp["maxcpus"]))


class VirtState:
    """What machine init settled on (``instance.board``)."""

    __slots__ = ("gic", "mte", "requested_mte", "secure", "virtualization", "cpu_model")

    def __init__(
        self,
        gic: int,
        mte: int,
        requested_mte: str | None,
        secure: bool,
        virtualization: bool,
        cpu_model: str | None,
    ) -> None:
        self.gic = gic  # 2, 3, 4 (5 for x-5)
        self.mte = mte  # 0 (none), 2, 3
        self.requested_mte = requested_mte  # none|2|3|host|max (after aliasing)
        self.secure = secure
        self.virtualization = virtualization
        self.cpu_model = cpu_model


def board_init(instance: Any, ms: Any) -> None:
    """``machvirt_init``'s checks in QEMU's order (start-up phase 4)."""
    if not is_virt(ms.type):
        return
    from ..arch.arm64 import gic, mte

    build, host, accel = instance.build, instance.host, ms.accel
    p = ms.props
    cpu = ms.cpu_model or default_cpu(instance, ms)
    if not _cpu_known(instance, cpu, accel):
        return  # the CPU step reports the model first
    legacy = gic.LEGACY_QUIRK in build.quirks
    virtualization = bool(p.get("virtualization", False))
    secure = bool(p.get("secure", False))
    max_cpus = _max_cpus(ms)
    try:
        version, warns = gic.resolve(
            p.get("gic-version"),
            accel,
            host,
            build,
            virtualization=virtualization,
            kernel_irqchip=gic.kernel_irqchip(instance, ms),
            max_cpus=max_cpus,
        )
    except gic.GicError as e:
        _fail(instance, e.message)
    instance.config.warnings.extend(warns)
    highmem = bool(p.get("highmem", True))
    redists = highmem and bool(p.get("highmem-redists", True))
    limit = gic.max_cpus_for(version, redists)
    if max_cpus > limit:
        msg = "Number of SMP CPUs requested (%d) exceeds max CPUs supported by machine 'mach-virt' (%d)" % (
            max_cpus,
            limit,
        )
        if not legacy and version != 2 and not redists:
            msg += "\nTry 'highmem-redists=on' for more CPUs"
        _fail(instance, msg)
    if secure and accel in ("kvm", "hvf"):
        _fail(
            instance,
            "mach-virt: %s does not support providing Security extensions (TrustZone) "
            "to the guest CPU" % ("KVM" if accel == "kvm" else "HVF"),
        )
    if virtualization and accel in ("kvm", "hvf"):
        if legacy or accel == "hvf":
            _fail(
                instance,
                "mach-virt: %s does not support providing Virtualization extensions "
                "to the guest CPU" % ("KVM" if accel == "kvm" else "HVF"),
            )
        if int(((host.kvm or {}).get("caps") or {}).get("KVM_CAP_ARM_EL2", 0)) <= 0:
            _fail(
                instance,
                "mach-virt: host kernel KVM does not support providing Virtualization "
                "extensions to the guest CPU",
            )
    try:
        if build.has_proposal("mte-version"):
            value = mte.requested(p.get("mte"), p.get("mte-version"), accel)
        else:
            value = mte.alias(bool(p.get("mte", False)), accel)
        level = mte.resolve(host, build, accel, cpu, value)
    except mte.MteError as e:
        _fail(instance, e.message)
    p["gic-version"] = version
    p["mte"] = bool(level)
    if build.has_proposal("mte-version"):
        p["mte-version"] = str(level) if level else "none"
    instance.board = VirtState(version, level, value, secure, virtualization, cpu)
    blocker = mte.migration_blocker(accel, level, build.has_proposal("mte-version"))
    if blocker:
        instance.migration_blockers.append(blocker)


def state(instance: Any) -> VirtState | None:
    board = instance.board
    return board if isinstance(board, VirtState) else None


# --- memory hotplug (the virt pre-plug handler) -------------------------------------------


def _firmware_loaded(instance: Any) -> bool:
    props = instance.machine.props or {}
    if props.get("firmware") or props.get("pflash0"):
        return True
    for entry in instance.config.options or ():
        name, value = entry if isinstance(entry, (tuple, list)) and len(entry) == 2 else (entry, "")
        name = str(name).lstrip("-")
        if name in ("bios", "pflash"):
            return True
        if name == "drive" and "if=pflash" in str(value):
            return True
    return False


def memory_hotplug_error(instance: Any) -> str | None:
    """Why ``virt`` refuses a memory device (pc-dimm, nvdimm) at pre-plug,
    or None: QEMU checks the ACPI GED first (it exists only with ACPI on and
    firmware loaded), then MTE."""
    if not is_virt(instance.machine.type):
        return None
    props = instance.machine.props or {}
    if props.get("acpi", "auto") == "off" or not _firmware_loaded(instance):
        return "memory hotplug is not enabled: missing acpi-ged device"
    v = state(instance)
    if v is not None and v.mte:
        return "memory hotplug is not enabled: MTE is enabled"
    return None


def memory_hotplug_allowed(instance: Any) -> bool:
    return memory_hotplug_error(instance) is None


def check_memory_hotplug(instance: Any) -> None:
    """Raise QEMU's GenericError when the machine refuses memory hotplug."""
    why = memory_hotplug_error(instance)
    if why:
        raise QMPError(why)


# --- step 3: QOM ----------------------------------------------------------------------------

# /machine properties the guest ABI describes: qom-get reads them from there
_FROM_ABI = {
    "gic-version": lambda a: a.gic,
    "mte": lambda a: a.mte != "none",
    "mte-version": lambda a: a.mte,
}


def _initial(instance: Any, name: str, typ: str) -> Any:
    ms = instance.machine
    props = ms.props or {}
    a = instance.abi
    if name in _FROM_ABI and a is not None and a.gic is not None and name in props:
        return _FROM_ABI[name](a)
    if name in props:
        v = props[name]
        if name == "memory-backend" and v:
            return "/objects/%s" % v
        return v
    if name == "memory":
        return {"size": instance.config.memory}
    if name == "smp":
        return _smp.qom_value(ms.smp)
    if name == "memory-backend":
        rid = next(
            (m.get("default-ram-id") for m in instance.build.machines() if m.get("name") == ms.type), None
        )
        return "/objects/%s" % rid if rid and instance.config.memory else ""
    if name == "graphics":
        return not _option_given(instance, "nographic")
    if name in _DEFAULTS and is_virt(ms.type):
        return _DEFAULTS[name]
    from ..arch import targets

    board_default = targets.part(instance.build.target, "board", "machine_default")
    if board_default is not None:
        v = board_default(instance, name)
        if v is not None:
            return v
    rules = targets.machine_rules(instance.build.target)
    if rules is not None:
        got = rules.qom_value(instance, name)
        if got is not rules.NOT_MINE:
            return got

    if not targets.target(instance.build.target).zero_filled_machine:
        return _UNMODELLED
    return _TYPE_ZERO.get(typ, "" if typ.startswith("link<") else None)


# the value of a /machine property nothing resolves on a target whose row in arch/targets.py
# is not zero_filled_machine: reading it is an error (_unmodelled), setting it stores the value
_UNMODELLED = object()


def _unmodelled(instance: Any, name: str) -> NoReturn:
    ms = instance.machine
    raise QMPError(
        "qmpserver: qom-get /machine %s: property of machine %s is not modelled for target %s, "
        "and build %s recorded no answer" % (name, ms.type, instance.build.target, instance.build.name)
    )


def _option_given(instance: Any, name: str) -> bool:
    for entry in instance.config.options or ():
        opt = entry[0] if isinstance(entry, (tuple, list)) and entry else entry
        if isinstance(opt, str) and opt.lstrip("-") == name:
            return True
    return False


def _schema_fit(instance: Any, type_name: str, value: Any) -> Any:
    """Order/filter a struct value like the build's QAPI type (qom-get of
    ``smp`` lists only the members the version has)."""
    if not isinstance(value, dict):
        return value
    t = instance.build.schema.types.get(type_name)
    members = getattr(t, "members", None)
    if not members:
        return (
            {
                k: v
                for k, v in value.items()
                if k in ("cpus", "sockets", "dies", "clusters", "cores", "threads", "maxcpus")
            }
            if type_name == "SMPConfiguration"
            else value
        )
    return {m.name: value[m.name] for m in members if m.name in value}


def _setter(
    instance: Any, qom_type: str, name: str, typ: str, values: dict[str, Any]
) -> Callable[[Any], None]:
    from ..arch.arm64 import gic, mte
    from ..arch.targets import machine_rules

    proposal = instance.build.has_proposal("mte-version")
    rules = machine_rules(instance.build.target)

    def set_(value: Any) -> None:
        if rules is not None:
            got = rules.qom_set(instance, name, value)
            if got is not rules.NOT_MINE:
                values[name] = got
                return
        if typ == "bool":
            if not isinstance(value, bool):
                raise QMPError("Invalid parameter type for '%s', expected: boolean" % name)
        elif typ == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                raise QMPError("Invalid parameter type for '%s', expected: integer" % name)
        elif typ in ("string", "str", "OnOffAuto"):
            if not isinstance(value, str):
                raise QMPError("Invalid parameter type for '%s', expected: string" % name)
            if typ == "OnOffAuto" and value not in ON_OFF_AUTO:
                raise QMPError("Parameter '%s' does not accept value '%s'" % (name, value))
            if name == "gic-version":
                try:
                    gic.parse(value, gic.accepted_values(_description(instance, qom_type, name)))
                except gic.GicError:
                    raise QMPError(gic.INVALID) from None
            if name == "iommu" and value not in ("none", "smmuv3"):
                raise QMPError("Invalid iommu value")
            if name == "mte-version":
                try:
                    mte.parse_version(value)
                except mte.MteError:
                    raise QMPError(mte.INVALID) from None
        if proposal and name in ("mte", "mte-version") and is_virt(instance.machine.type):
            # the proposal's guarantee: what qom-get reports is what the guest has
            if value != values[name]:
                raise QMPError("Property '%s' cannot be changed after machine initialization" % name)
            return
        values[name] = value

    return set_


def build_qom(instance: Any, tree: Any) -> None:
    """QOM builder: ``/machine``'s properties with their resolved values."""
    ms = instance.machine
    plist = property_list(instance, ms.qom_type, ms.type)
    if not plist:
        return
    from ..arch.arm64 import gic
    from .qom import QomObject

    m = tree.machine
    values: dict[str, Any] = {}
    for p in plist:
        name, typ = p["name"], p.get("type", "string")
        if name == "type":
            continue
        if typ.startswith("child<"):
            if name not in m.children:
                m.add_child(name, QomObject(typ[len("child<") : -1]))
            continue
        if name in m.props:
            continue
        values[name] = _initial(instance, name, typ)
        get: Callable[..., Any]
        if name == "gic-version":
            get = lambda: gic.qom_value(values["gic-version"])
        elif typ in ("SMPConfiguration", "MemorySizeConfiguration", "BootConfiguration"):
            get = lambda n=name, t=typ: _schema_fit(instance, t, values[n])
        elif values[name] is _UNMODELLED:
            get = lambda n=name: values[n] if values[n] is not _UNMODELLED else _unmodelled(instance, n)
        else:
            get = lambda n=name: values[n]
        m.add_prop(name, typ, get, _setter(instance, ms.qom_type, name, typ, values), p.get("description"))
    if is_virt(ms.type) and "fw_cfg" not in m.children:
        m.add_child("fw_cfg", QomObject("fw_cfg_mem"))
    m.order = getattr(instance.build, "qom_orders", {}).get(ms.type)
    v = state(instance)
    if v is not None and v.mte and ms.accel == "tcg":
        # machvirt_init: the tag memory TCG CPUs link to (and its secure twin)
        m.add_child("tag-memory[0]", QomObject("memory-region"))
        if v.secure:
            m.add_child("secure-tag-memory[0]", QomObject("memory-region"))
