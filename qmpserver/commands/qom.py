"""QOM commands: the tree (qom-list/get/set) and type/property listings.

Type and property listings come from the build's recorded answers,
adjusted by the overlays listed in ``PROPERTY_OVERLAYS`` (the
``mte-version`` machine property when that proposal is on, the ``SYSREG_*``
properties of Arm CPU types).
"""

from __future__ import annotations

from ..arch.arm64 import startup as arm64_startup
from ..errors import DEVICE_NOT_FOUND, QMPError
from ..qapi.defaults import STRICT_MISSING
from ..vm import qom, virt
from .registry import command


def _arm_cpu_properties(instance, typename, props):
    if instance.build.target != "aarch64" or not typename.endswith("-arm-cpu"):
        return props
    return arm64_startup.qom_type_properties(instance, typename, props)


def _spapr_properties(instance, typename, props):
    if instance.build.target != "ppc64":
        return props
    from ..arch.ppc64 import spapr

    return spapr.overlay_properties(instance, typename, props)


# fn(instance, typename, props) -> props, in order (qom-list-properties, device-list-properties)
PROPERTY_OVERLAYS = (virt.overlay_properties, _arm_cpu_properties, _spapr_properties)


@command("qom-list")
def qom_list(ctx, args):
    return qom.tree(ctx.instance).resolve(args["path"]).listing()


@command("qom-get")
def qom_get(ctx, args):
    return qom.tree(ctx.instance).resolve(args["path"], ambiguous=False).get(args["property"])


@command("qom-list-get")
def qom_list_get(ctx, args):
    """``qom-list-get`` (QEMU 10.1+, ``qom/qom-qmp-cmds.c``): for each path, the properties
    ``qom-list`` lists, in its order, each with the value ``qom-get`` reads, the value absent
    where reading fails (QEMU reads with a NULL error); a path that does not resolve fails the
    whole command with ``qom-list``'s error.  A property the model lists without knowing its
    value (a recorded property list, no getter) is listed without a value too, not with an
    invented one."""
    tree = qom.tree(ctx.instance)
    out = []
    for obj in [tree.resolve(path) for path in args["paths"]]:
        props = []
        for p in obj.listing():
            item = dict(p)
            try:
                value = obj.get(p["name"])
            except QMPError:
                value = None
            if value is not None:
                item["value"] = value
            props.append(item)
        out.append({"properties": props})
    return out


@command("qom-set")
def qom_set(ctx, args):
    qom.tree(ctx.instance).resolve(args["path"], ambiguous=False).set(args["property"], args["value"])


def all_types(instance) -> list:
    """Every QOM type with its parent, abstract ones included, best effort."""
    b = instance.build
    full = b.recorded_return("qom-list-types", {"abstract": True}, instance.accel)
    if full is None:
        full = b.recorded_return("qom-list-types", None, instance.accel, default=[]) or []
    return full


def type_index(instance) -> dict:
    """name -> {name, parent[, abstract]} of every type the build knows (cached)."""
    index = instance.caches.types
    if index is None:
        index = instance.caches.types = {t["name"]: t for t in all_types(instance)}
    return index


def is_a(index: dict, name, ancestor) -> bool:
    """True if type ``name`` is ``ancestor`` or derives from it (QOM's parent chain)."""
    seen = set()
    while name is not None and name not in seen:
        if name == ancestor:
            return True
        seen.add(name)
        t = index.get(name)
        name = t.get("parent") if t else None
    return False


def _implements(types, name, iface) -> bool:
    return is_a({t["name"]: t for t in types}, name, iface)


@command("qom-list-types")
def qom_list_types(ctx, args):
    inst = ctx.instance
    rec = inst.build.recorded("qom-list-types", args or None, inst.accel)
    if rec is not None and "return" in rec:
        return rec["return"]
    types = all_types(inst)
    abstract = args.get("abstract", False)
    iface = args.get("implements")
    out = []
    for t in types:
        if t.get("abstract") and not abstract:
            continue
        if iface is not None and not _implements(types, t["name"], iface):
            continue
        out.append(t if abstract else {k: v for k, v in t.items() if k != "abstract"})
    return out


def _type_known(inst, typename) -> bool:
    return any(t["name"] == typename for t in all_types(inst))


def _props(inst, cmd, typename):
    rec = inst.build.recorded(cmd, {"typename": typename}, inst.accel)
    if rec is not None and "error" in rec:
        err = rec["error"]
        props = None
        error = QMPError(err.get("desc", ""), err.get("class", "GenericError"))
    else:
        props = rec["return"] if rec is not None else None
        error = None
    # a type the build lists whose properties were not recorded: [] unless an overlay models
    # them; that [] is invented (docs/qmp.md, "Commands without a handler"), so a strict
    # instance answers the strict error instead (a ppc64 probe once got [] for
    # spapr-pci-host-bridge, whose properties the capture had not asked)
    invented = props is None and error is None and _type_known(inst, typename)
    if invented:
        props = []
    for fn in PROPERTY_OVERLAYS:
        props = fn(inst, typename, props)
    if invented and props == [] and inst.config.strict:
        from ..wire.encode import dumps

        args_text = "arguments " + dumps({"typename": typename})
        raise QMPError(STRICT_MISSING % (cmd, args_text, inst.build.name))
    if props is None:
        if error is not None:
            raise error
        if cmd == "qom-list-properties":
            raise QMPError("Class '%s' not found" % typename, DEVICE_NOT_FOUND)
        raise QMPError("Device '%s' not found" % typename, DEVICE_NOT_FOUND)
    return props


@command("qom-list-properties")
def qom_list_properties(ctx, args):
    return _props(ctx.instance, "qom-list-properties", args["typename"])


@command("device-list-properties")
def device_list_properties(ctx, args):
    return _props(ctx.instance, "device-list-properties", args["typename"])
