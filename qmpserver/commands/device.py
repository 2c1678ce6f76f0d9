"""Devices: ``-device``/``device_add``/``device_del`` and what a QOM type is
(QEMU 7.2 ``softmmu/qdev-monitor.c``).

State: ``instance.backends.devices`` (device records; QOM
``/machine/peripheral/<id>`` or ``/machine/peripheral-anon/device[N]``).
Unplug follows QEMU's PCI hotplug: ``device_del`` only asks; the simulated
guest acknowledges after ``guest.powerdown_delay`` and ``DEVICE_DELETED``
follows (for virtio PCI devices first for the ``virtio-backend`` child, then
for the device).  A device on the root bus (``pcie.0`` of ``virt``) cannot be
unplugged.
"""

from __future__ import annotations

from ..errors import DEVICE_NOT_FOUND, QMPError
from ..qapi.opts import id_wellformed
from ..vm import qom
from . import balloon
from .block import node_user
from .objects import qom_type_of
from .qom import type_index
from .registry import command

# --- QOM types ---------------------------------------------------------------------------------


def known_types(inst) -> dict:
    """name -> {name, parent[, abstract]} of every QOM type the build knows."""
    return type_index(inst)


# Recorded type lists (``qom-list-types`` without ``abstract``) name each type's
# parent but leave abstract types out, so a chain stops at its first abstract
# ancestor.  These roots say what such an ancestor is; an unknown one counts
# as a device class unless a user-creatable object or a machine descends from it.
_NOT_DEVICE_ROOTS = frozenset(
    (
        "object",
        "bus",
        "virtio-bus",
        "machine",
        "chardev",
        "chardev-fd",
        "chardev-spice",
        "qio-channel",
        "iommu-memory-region",
        "tpm-backend",
        "memory-backend",
        "secret_common",
        "authz",
        "rng-backend",
        "tls-creds",
        "event-loop-base",
        "can-host",
        "pr-manager",
        "netfilter",
        "accel",
        "interface",
    )
)
# abstract roots whose devices are not user-creatable (``-device`` refuses them)
_NOT_PLUGGABLE_ROOTS = frozenset(
    (
        "sys-bus-device",
        "arm-cpu",
        "aarch64-cpu",
        "x86_64-cpu",
        "i386-cpu",
        "cpu",
        "pci-host-bridge",
        "pcie-host-bridge",
        "arm-gicv3-common",
        "arm-gicv3-its-common",
        "arm_gic_common",
        "arm-smmu",
        "arm-sse",
        "aspeed-soc",
        "bcm283x",
        "npcm7xx",
        "fw_cfg",
        "pl050",
        "pxa2xx-timer",
        "common-omap-intc",
        "imx.ccm",
        "allwinner-rtc",
        "allwinner-sdhost",
        "aspeed.adc",
        "aspeed.gpio",
        "aspeed.i2c",
        "aspeed.scu",
        "aspeed.sdmc",
        "aspeed.smc",
        "aspeed.timer",
        "aspeed.wdt",
        "aspeed.xdma",
        "npcm7xx-otp",
        "ps2-device",
        "microdrive",
        "pcie-slot",
        "pcie-port",
        "pci-host",
    )
)
# abstract device classes deeper than any recorded chain reaches
_KNOWN_ABSTRACT_DEVICES = (
    "device",
    "virtio-pci",
    "cpu",
    "pci-device",
    "sys-bus-device",
    "usb-device",
    "virtio-device",
    "scsi-device",
    "isa-device",
)
_PLUGGABLE_SYSBUS = frozenset(
    ("ramfb", "tpm-tis-device", "platform-bus-device", "virtio-iommu-device", "guest-loader")
)
# bus a device class needs (dc->bus_type) -> drivers providing such a bus
_BUS_OF_ROOT = {
    "usb-device": "usb-bus",
    "usb-hid": "usb-bus",
    "usb-serial-dev": "usb-bus",
    "usb-storage-dev": "usb-bus",
    "u2f-key": "usb-bus",
    "scsi-device": "SCSI",
    "scsi-disk-base": "SCSI",
    "virtio-serial-port": "virtio-serial-bus",
    "ccid-card": "ccid-bus",
    "hda-audio": "HDA",
    "ide-device": "IDE",
    "i2c-slave": "i2c-bus",
    "smbus-device": "i2c-bus",
    "pmbus-device": "i2c-bus",
    "isa-device": "ISA",
    "ipack-device": "IndustryPack",
    "ssi-peripheral": "SSI",
    "aux-slave": "aux-bus",
}
_BUS_PROVIDERS_BY_TYPE = {
    "usb-bus": (
        "qemu-xhci",
        "nec-usb-xhci",
        "usb-ehci",
        "ich9-usb-ehci1",
        "ich9-usb-ehci2",
        "ich9-usb-uhci1",
        "pci-ohci",
        "piix3-usb-uhci",
        "piix4-usb-uhci",
        "sysbus-ohci",
    ),
    "SCSI": (
        "virtio-scsi-pci",
        "virtio-scsi-device",
        "lsi53c895a",
        "lsi53c810",
        "megasas",
        "megasas-gen2",
        "mptsas1068",
        "am53c974",
        "dc390",
        "pvscsi",
        "usb-bot",
    ),
    "virtio-serial-bus": (
        "virtio-serial-pci",
        "virtio-serial-device",
        "virtio-serial-pci-non-transitional",
        "virtio-serial-pci-transitional",
    ),
    "ccid-bus": ("usb-ccid",),
    "HDA": ("intel-hda", "ich9-intel-hda"),
    "IDE": ("ich9-ahci", "piix3-ide", "piix4-ide", "via-ide", "cmd646-ide"),
}


def _chain(types, name):
    """``name`` and its recorded ancestors, ending at the first unlisted one."""
    out = []
    seen = set()
    while name is not None and name not in seen:
        out.append(name)
        seen.add(name)
        t = types.get(name)
        if t is None:
            break
        name = t.get("parent")
    return out


def _user_creatable_objects(inst):
    cmd = inst.build.schema.command("object-add")
    at = cmd.arg_type if cmd is not None else None
    return set(at.variants) if at is not None and at.variants else set()


def _abstract_roots(inst, types):
    """Unlisted (abstract) parents -> True if a device class."""
    cache = inst.caches.abstract_roots
    if cache is not None:
        return cache
    objs = _user_creatable_objects(inst)
    roots = {}
    for name in types:
        ch = _chain(types, name)
        root = ch[-1]
        if root in types:
            continue
        dev = roots.get(root, True)
        if (
            root in _NOT_DEVICE_ROOTS
            or root.endswith(("-machine", "-bus"))
            or root.startswith("chardev")
            or name in objs
            or name.endswith("-machine")
        ):
            dev = False
        roots[root] = dev
    for name in _KNOWN_ABSTRACT_DEVICES:
        roots.setdefault(name, True)
    inst.caches.abstract_roots = roots
    return roots


def classify(inst, name, types=None):
    """-> (kind, root): kind is None (unknown), 'abstract', 'device', 'other'."""
    types = types if types is not None else known_types(inst)
    roots = _abstract_roots(inst, types)
    if name not in types:
        if roots.get(name):
            return "abstract", name
        return None, None
    ch = _chain(types, name)
    root = ch[-1] if ch[-1] not in types else None
    if "device" in ch or (root is not None and roots.get(root)):
        return "device", root
    return "other", root


def is_device_type(inst, name, types=None) -> bool:
    kind, _ = classify(inst, name, types)
    return kind in ("device", "abstract")


def _device_props(inst, driver):
    """The recorded property list of a device type, or None when unknown."""
    rec = inst.build.recorded("device-list-properties", {"typename": driver}, inst.accel)
    if rec is not None and "return" in rec:
        return rec["return"]
    return None


# devices that refuse to realize without a backend (QEMU 7.2 texts)
_NEEDS_DRIVE = {
    "virtio-blk-pci": "drive property not set",
    "virtio-blk-device": "drive property not set",
    "scsi-hd": "drive property not set",
    "scsi-block": "drive property not set",
    "usb-storage": "drive property not set",
    "ide-hd": "No drive specified",
}
_NEEDS_CHARDEV = {"virtserialport": "chardev", "virtconsole": "chardev"}

# devices whose id names a bus they provide ("<id>" or "<id>.0")
_BUS_PROVIDERS = {
    "pcie-root-port": "",
    "ioh3420": "",
    "xio3130-downstream": "",
    "x3130-upstream": "",
    "pcie-pci-bridge": "",
    "pci-bridge": "",
    "pxb-pcie": "",
    "pxb": "",
    "virtio-scsi-pci": ".0",
    "virtio-scsi-device": ".0",
    "virtio-serial-pci": ".0",
    "virtio-serial-device": ".0",
    "qemu-xhci": ".0",
    "nec-usb-xhci": ".0",
    "usb-ehci": ".0",
    "ich9-usb-ehci1": ".0",
    "pci-ohci": ".0",
    "lsi53c895a": ".0",
    "megasas": ".0",
}
_ROOT_BUS = {"virt": "pcie.0"}


def _root_bus(inst):
    t = inst.machine.type
    if t.startswith("virt"):
        return "pcie.0"
    if t.startswith(("q35", "pc-q35")):
        return "pcie.0"
    if t.startswith(("pc-i440fx", "pc")):
        return "pci.0"
    return None


def _buses(inst):
    out = set()
    root = _root_bus(inst)
    if root:
        out.add(root)
    for d in inst.backends.devices:
        suffix = _BUS_PROVIDERS.get(d["driver"])
        if suffix is not None and d["id"]:
            out.add(d["id"] + suffix)
    return out


# backend type -> fn(QomObject) adding the properties its instance_init creates (not qdev
# properties, so not in device-list-properties)
BACKEND_QOM_PROPS = {"virtio-balloon-device": balloon.add_qom_props}


def _alias_props(proxy, backend):
    """A virtio PCI proxy's ``object_property_add_alias`` of its backend's properties: reads and
    writes go to the backend, so its errors name the backend's type."""
    for p in backend.props.values():
        proxy.add_prop(
            p.name,
            p.type,
            (lambda n=p.name: backend.get(n)),
            (lambda v, n=p.name: backend.set(n, v)),
        )


def _inner_virtio(driver):
    """The virtio-*-device a virtio PCI proxy forwards backend properties to."""
    if driver.startswith("virtio-") and driver.endswith("-pci"):
        base = driver[:-4]
        for suffix in ("-non-transitional", "-transitional"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        return base + "-device"
    return driver


def _check_prop_value(inst, driver, name, value):
    """Link-like properties: the referenced backend must exist."""
    if name == "netdev":
        if value not in inst.backends.netdevs:
            raise QMPError("Property '%s.netdev' can't find value '%s'" % (_inner_virtio(driver), value))
        for d in inst.backends.devices:
            if d["props"].get("netdev") == value:
                raise QMPError(
                    "Property '%s.netdev' can't take value '%s', it's in use" % (_inner_virtio(driver), value)
                )
    elif name == "drive":
        if value not in inst.backends.block:
            raise QMPError("Property '%s.drive' can't find value '%s'" % (_inner_virtio(driver), value))
        if node_user(inst, value) is not None:
            raise QMPError(
                "Property '%s.drive' can't take value '%s', it's in use" % (_inner_virtio(driver), value)
            )
    elif name == "chardev":
        if value not in inst.backends.chardevs:
            raise QMPError("Property '%s.chardev' can't find value '%s'" % (driver, value))
    elif name == "iothread":
        o = inst.backends.objects.get(value)
        if o is None or o.get("qom-type") != "iothread":
            raise QMPError("Property '%s.iothread' can't find value '%s'" % (_inner_virtio(driver), value))
    elif name == "memdev":
        o = inst.backends.objects.get(value)
        if o is None:
            raise QMPError("Property '%s.memdev' can't find value '%s'" % (driver, value))


_PCI_ROOTS = (
    "pci-device",
    "virtio-pci",
    "base-pci-bridge",
    "pcie-root-port-base",
    "pcie-port",
    "pci-vga",
    "pci-xhci",
    "pci-ehci-usb",
    "pci-uhci-usb",
    "e1000-base",
    "megasas-base",
    "intel-hda-generic",
    "ivshmem-common",
)


def _is_pci(inst, driver, types):
    ch = _chain(types, driver)
    root = ch[-1]
    if root in _PCI_ROOTS or root.endswith("-pci-base") or root.endswith("-pci-base-type"):
        return True
    return driver.endswith("-pci") or "pci" in root


def _needed_bus(inst, driver, root):
    """The bus type a device class plugs into, when the machine may lack it."""
    if root in _BUS_OF_ROOT:
        return _BUS_OF_ROOT[root]
    return None


def add_device(inst, dev, cli=False, json_form=False):
    """``qdev_device_add``: validate and plug; returns the device record.

    Order of QEMU's checks: the class (unknown / abstract / not pluggable), the
    bus, the id, the properties, then what realize refuses."""
    dev = dict(dev)
    driver = dev.pop("driver", None)
    if driver is None:
        raise QMPError("Parameter 'driver' is missing")
    types = known_types(inst)
    kind, root = classify(inst, driver, types)
    if kind not in ("device", "abstract"):
        raise QMPError("'%s' is not a valid device model name" % driver)
    if kind == "abstract" or types.get(driver, {}).get("abstract"):
        raise QMPError("Parameter 'driver' expects a non-abstract device type")
    if root in _NOT_PLUGGABLE_ROOTS and driver not in _PLUGGABLE_SYSBUS:
        raise QMPError("Parameter 'driver' expects a pluggable device type")
    bus = dev.pop("bus", None)
    devs = inst.backends.devices
    if bus is not None:
        if bus not in _buses(inst):
            raise QMPError("Bus '%s' not found" % bus)
    else:
        need = _needed_bus(inst, driver, root)
        if need is not None:
            providers = _BUS_PROVIDERS_BY_TYPE.get(need, ())
            if not any(d["driver"] in providers for d in devs):
                raise QMPError("No '%s' bus found for device '%s'" % (need, driver))
        elif _root_bus(inst) is not None and _is_pci(inst, driver, types):
            bus = _root_bus(inst)
    # after machine init every device_add is a hotplug; the root bus of virt
    # (pcie.0) is not hotpluggable
    if not cli and bus is not None and bus == _root_bus(inst):
        raise QMPError("Bus '%s' does not support hotplugging" % bus)
    did = dev.pop("id", None)
    if did is not None:
        if not id_wellformed(did):
            raise QMPError("Parameter 'id' expects an identifier")
        if any(d["id"] == did for d in devs):
            raise QMPError(
                "Duplicate device ID '%s'" % did
                if cli and json_form
                else "Duplicate ID '%s' for device" % did
            )
    known = _device_props(inst, driver)
    if known is not None:
        names = {p["name"] for p in known}
        for k in dev:
            if k not in names:
                raise QMPError("Property '%s.%s' not found" % (driver, k))
    for k, v in dev.items():
        if isinstance(v, str):
            _check_prop_value(inst, driver, k, v)
    need = _NEEDS_DRIVE.get(driver)
    if need is not None and "drive" not in dev:
        raise QMPError(need)
    chr_prop = _NEEDS_CHARDEV.get(driver)
    if chr_prop is not None and chr_prop not in dev:
        raise QMPError("chardev property not set")
    tree = qom.tree(inst)
    obj = qom.QomObject(driver)
    props = known or []
    types_by_name = {p["name"]: p.get("type", "str") for p in props}
    values = {}
    for p in props:
        if "default-value" in p:
            values[p["name"]] = p["default-value"]
    values.update(dev)
    for k, v in values.items():
        obj.add_value(k, types_by_name.get(k, qom_type_of(v)), v)
    if did is not None:
        parent = tree.machine.children["peripheral"]
        name = did
    else:
        parent = tree.machine.children["peripheral-anon"]
        n = sum(1 for c in parent.children if c.startswith("device["))
        name = "device[%d]" % n
    parent.add_child(name, obj)
    backend = obj
    if driver.startswith("virtio-") and driver.endswith("-pci"):
        backend = obj.add_child("virtio-backend", qom.QomObject(_inner_virtio(driver)))
    add_props = BACKEND_QOM_PROPS.get(backend.type)
    if add_props is not None:
        add_props(backend)
        if backend is not obj:
            _alias_props(obj, backend)
    count = sum(1 for d in devs if d["driver"] == driver)
    rec = {
        "id": did,
        "driver": driver,
        "bus": bus,
        "props": dict(dev),
        "path": obj.path,
        "net_name": did if did is not None else "%s.%d" % (driver, count),
        "unplugging": False,
    }
    devs.append(rec)
    return rec


@command("device_add")
def device_add(ctx, args):
    add_device(ctx.instance, dict(args))


def _find_device(inst, ident):
    for d in inst.backends.devices:
        if d["id"] == ident or d["path"] == ident:
            return d
    return None


@command("device_del")
def device_del(ctx, args):
    inst = ctx.instance
    ident = args["id"]
    d = _find_device(inst, ident)
    if d is None:
        if ident.startswith("/"):
            raise QMPError("Device '%s' not found" % ident, DEVICE_NOT_FOUND)
        raise QMPError("Device '%s' not found" % ident, DEVICE_NOT_FOUND)
    if d["bus"] is not None and d["bus"] == _root_bus(inst):
        raise QMPError("Bus '%s' does not support hotplugging" % d["bus"])
    if d["unplugging"]:
        raise QMPError("Device %s is already in the process of unplug" % (d["id"] or d["path"]))
    d["unplugging"] = True
    guest = inst.config.guest
    if not guest.acpi and inst.runstate == "running":
        return
    delay = guest.powerdown_delay if inst.runstate == "running" else 0.0
    inst.scheduler.call_later(delay, lambda: _finish_unplug(inst, d))


def _finish_unplug(inst, d):
    if inst.terminated is not None or d not in inst.backends.devices:
        return
    for child in list(inst.backends.devices):
        if (
            child is not d
            and child["bus"] is not None
            and d["id"] is not None
            and child["bus"].startswith(d["id"])
        ):
            _finish_unplug(inst, child)
    inst.backends.devices.remove(d)
    tree = qom.tree(inst)
    try:
        obj = tree.resolve(d["path"])
    except QMPError:
        obj = None
    if obj is not None and obj.parent is not None:
        if "virtio-backend" in obj.children:
            inst.emit("DEVICE_DELETED", {"path": d["path"] + "/virtio-backend"})
        obj.parent.remove_child(obj.name)
    data = {"path": d["path"]}
    if d["id"] is not None:
        data = {"device": d["id"], "path": d["path"]}
    inst.emit("DEVICE_DELETED", data)
