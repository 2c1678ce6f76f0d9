"""``-cpu`` at start-up and the CPU objects in the QOM tree (aarch64).

Start-up checks in QEMU's order (softmmu/vl.c, cpu.c parse_cpu_option,
hw/arm/virt.c, qom/object.c, target/arm/cpu.c):

1. ``-cpu option cannot be empty``; ``unable to find CPU model 'X'``;
   ``Expected key=value format, found X.`` (only when the raw option is known);
2. the virt machine's CPU list (``mach-virt: CPU type T not supported`` before
   9.0, ``Invalid CPU model: X`` + ``The valid models are: ...`` after);
3. object creation applies the ``-cpu`` key=value pairs as global properties
   in order: ``can't apply global T.K=V: <setter error>``;
4. realize: ``The 'host' CPU type can only be used with KVM or HVF``, then
   arm_cpu_finalize_features (SVE, SME, pauth, steal-time texts).

Hint lines (error_append_hint) follow the message on their own lines.
"""

from __future__ import annotations

from ...errors import QMPError, StartupError
from .cpu import Catalog, CpuError

__all__ = ["validate", "add_cpu_objects", "qom_type_properties"]


def _is_virt(machine_type: str) -> bool:
    return machine_type == "virt" or machine_type.startswith("virt-")


def _raw_cpu_option(config):
    for entry in getattr(config, "options", None) or ():
        if (
            isinstance(entry, (tuple, list))
            and len(entry) == 2
            and isinstance(entry[0], str)
            and entry[0].lstrip("-") == "cpu"
            and isinstance(entry[1], str)
        ):
            return entry[1]
    return None


def _default_model(instance, ms, bd):
    if _is_virt(ms.type):
        d = (bd.get("virt") or {}).get("default", "cortex-a15")
        if isinstance(d, dict):
            d = d.get("tcg" if ms.accel == "tcg" else "other")
        return d
    for m in instance.build.machines():
        if m.get("name") == ms.type:
            t = m.get("default-cpu-type")
            if t and t.endswith("-arm-cpu"):
                return t[: -len("-arm-cpu")]
    return None


def _virt_check(instance, ms, bd, model):
    v = bd.get("virt") or {}
    valid = list(v.get("valid") or ())
    if not bd.get("has_kvm"):
        valid = [m for m in valid if m != "host"]
    accels = set(instance.build.accelerators)
    tcg_only = set(v.get("tcg_only") or ())
    if v.get("tcg_only_at_runtime"):
        if ms.accel != "tcg":
            valid = [m for m in valid if m not in tcg_only]
    elif "tcg" not in accels:
        valid = [m for m in valid if m not in tcg_only]
    if model in valid:
        return
    if v.get("style") == "invalid-model":
        raise StartupError("Invalid CPU model: %s\nThe valid models are: %s" % (model, ", ".join(valid)))
    raise StartupError("mach-virt: CPU type %s-arm-cpu not supported" % model)


def _named_kvm(build, ms, model) -> bool:
    """An upstream name the arm-cpu-models proposal makes a KVM model (neoverse-n1, -v1)."""
    if ms.accel != "kvm" or not build.has_proposal("arm-cpu-models"):
        return False
    from . import named

    return model in named.tables().names


def validate(instance, ms) -> None:
    """Resolve and check the CPU of a starting instance (raises StartupError)."""
    build = instance.build
    bd = (getattr(build, "derived", None) or {}).get("arm_cpu")
    if not bd:
        return
    model = ms.cpu_model
    raw = _raw_cpu_option(instance.config)
    if ms.type == "none" and instance.config.cpu is None:
        # -machine none creates a CPU only when -cpu is given (hw/core/null-machine.c)
        ms.cpu_model = None
        return
    if model is None:
        model = _default_model(instance, ms, bd)
        ms.cpu_model = model
        if model is None:
            return
    if model == "" and not (raw and "," in raw):
        # parse_cpu_option: an empty option has no model at all; ',x' names the model ''
        raise StartupError("-cpu option cannot be empty")
    names = {d["name"] for d in bd.get("definitions") or ()}
    named_model = False
    if ms.accel == "kvm" and build.has_proposal("arm-cpu-models") and model not in names:
        from . import named  # proposal arm-cpu-models: named models under KVM

        named_model = model in named.tables().names
    if model not in names and not named_model:
        raise StartupError("unable to find CPU model '%s'" % model)
    if raw is not None and "," in raw:
        for tok in raw.split(",", 1)[1].split(","):
            if tok and "=" not in tok:
                raise StartupError("Expected key=value format, found %s." % tok)
    if _is_virt(ms.type) and not named_model and not _named_kvm(build, ms, model):
        _virt_check(instance, ms, bd, model)
    cat = Catalog(
        build,
        instance.host,
        ms.accel,
        model,
        ms.cpu_props,
        sysreg_props=build.has_proposal("cpu-idreg-props"),
    )
    instance.cpu.catalog = cat
    try:
        obj = cat.new(model)
        if obj.cls.host_probe_failed:
            raise CpuError("The 'host' CPU type can only be used with KVM or HVF")
        obj.finalize()
    except CpuError as e:
        raise StartupError(e.startup_text()) from None
    instance.cpu.realized = obj


# --------------------------------------------------------------------------
# QOM

_DEFAULTS = {"bool": False, "string": "", "str": ""}


def _prop_value(instance, obj, cat, name, typ, index, ncpus):
    c = obj.cls
    if name in c.present and name not in ("midr", "cntfrq"):
        v = obj.get(name)
        if v is not None:
            return v
    if name == "midr":
        return int(c.midr or 0)
    if name == "mp-affinity":
        return ((index // 8) << 8) | (index % 8)
    if name == "start-powered-off":
        return index > 0
    if name == "core-count":
        return ncpus
    if name == "node-id":
        return -1
    if name == "realized" or name == "hotpluggable":
        return True
    if name == "memory":
        return "/machine/unattached/system[0]"
    if name == "psci-conduit":
        return 2
    if name == "reset-cbar":
        return 0x8000000
    if name == "cntfrq":
        cf = cat.bd.get("cntfrq") or {}
        return int((cf.get("models") or {}).get(c.name, cf.get("default", 62500000)))
    if name in ("vfp", "neon"):
        return True
    if name == "lpa2":
        return True
    if name in obj.other:
        return obj.other[name]
    if typ.startswith("child<"):
        return None  # resolved to the child's path by the caller
    if typ.startswith("link<"):
        return ""
    if typ.startswith(("int", "uint")):
        return 0
    return _DEFAULTS.get(typ, "")


def _synth_props(c) -> list:
    out = [
        ("type", "string"),
        ("parent_bus", "link<bus>"),
        ("realized", "bool"),
        ("hotplugged", "bool"),
        ("hotpluggable", "bool"),
        ("memory", "link<memory-region>"),
    ]
    seen = {n for n, _ in out}
    for n, t in c.types.items():
        if n not in seen:
            out.append((n, t))
            seen.add(n)
    return out


def add_cpu_objects(instance, tree, QomObject) -> None:
    """/machine/unattached/device[N] for every vCPU (type <model>-arm-cpu).

    ``QomObject`` is the QOM tree's object class (:class:`qmpserver.vm.qom.QomObject`), given by
    the tree's builder: arch/ sits below vm/ and does not import it."""
    obj = instance.cpu.realized
    cat = instance.cpu.catalog
    if obj is None or cat is None:
        return
    unattached = tree.machine.children.get("unattached")
    if unattached is None:
        return
    c = obj.cls
    ncpus = max(1, instance.machine.smp["cpus"])
    rec = instance.build.recorded_return("qom-list-properties", {"typename": c.typename}, instance.accel)
    plist = [(p["name"], p["type"]) for p in rec] if rec else _synth_props(c)
    names = {n for n, _ in plist}
    for p in c.sysreg:
        if p not in names:
            plist.append((p, "uint64"))
    for i in range(ncpus):
        o = QomObject(c.typename)
        unattached.add_child("device[%d]" % i, o)
        for name, typ in plist:
            if name == "type":
                continue
            if name == "legacy-memory":

                def unreadable(_n=name, _t=c.typename):
                    raise QMPError("Property '%s.%s' is not readable" % (_t, _n))

                o.add_prop(name, typ, unreadable)
                continue
            v = _prop_value(instance, obj, cat, name, typ, i, ncpus)
            if v is None:
                v = o.path + "/" + name
            if name == "midr" or name.startswith("SYSREG_"):
                # the guest ABI decides once a migration brought the source's registers in
                o.add_prop(name, typ, lambda _n=name, _v=v: _abi_value(instance, _n, _v))
                continue
            o.add_value(name, typ, v)


def _abi_value(instance, name, own):
    if not instance.migrated_in:
        return own
    from .abi import qom_value

    v = qom_value(instance, name)
    return own if v is None else v


def qom_type_properties(instance, typename, props):
    """PROPERTY_OVERLAYS hook for '<model>-arm-cpu' types."""
    from .cpu import catalog_for

    cat = instance.cpu.catalog
    if cat is None:
        try:
            cat = catalog_for(instance)
        except Exception:  # noqa: BLE001 - never break qom-list-properties
            return props
    name = typename[: -len("-arm-cpu")]
    if name not in cat.names:
        return props
    c = cat.cls(name)
    if props:
        out = list(props)  # the build's own answer for this accelerator
    else:
        out = [{"name": n, "type": t} for n, t in _synth_props(c)]
    have = {p["name"] for p in out}
    for p in c.sysreg:
        if p not in have:
            out.append({"name": p, "type": "uint64"})
    return out
