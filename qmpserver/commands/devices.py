"""Devices, objects and backends: what ``-device``/``-object``/``-blockdev``/
``-netdev``/``-chardev`` create and the QMP commands that add, remove and list them.

State lives in ``instance.state``:

* ``objects``   id -> options of ``-object`` / ``object-add`` (QOM ``/objects/<id>``);
* ``devices``   list of device records (QOM ``/machine/peripheral/<id>`` or
  ``/machine/peripheral-anon/device[N]``);
* ``block``     node-name -> ``-blockdev`` / ``blockdev-add`` options;
* ``netdevs``   id -> netdev options;
* ``chardevs``  label -> chardev record (the launcher's sockets, ``chardev-add``);
* ``fdsets``    ``-add-fd`` sets.

Texts are QEMU 7.2's (``softmmu/qdev-monitor.c``, ``qom/object_interfaces.c``,
``block.c``, ``net/net.c``, ``chardev/char.c``).  Unplug follows QEMU's PCI
hotplug: ``device_del`` only asks; the simulated guest acknowledges after
``guest.powerdown_delay`` and ``DEVICE_DELETED`` follows (for virtio PCI
devices first for the ``virtio-backend`` child, then for the device).
A device on the root bus (``pcie.0`` of ``virt``) cannot be unplugged.
"""

from __future__ import annotations

import os

from ..errors import DEVICE_NOT_FOUND, QMPError
from .registry import HANDLERS, command


def _cmd(name):
    """Register unless a topic module loaded earlier already handles ``name``."""
    def deco(fn):
        if name not in HANDLERS:
            command(name)(fn)
        return fn
    return deco


# --- state -------------------------------------------------------------------------------

def _st(inst, key, factory):
    v = inst.state.get(key)
    if v is None:
        v = inst.state[key] = factory()
    return v


def objects(inst) -> dict:
    return _st(inst, "objects", dict)


def device_list(inst) -> list:
    return _st(inst, "devices", list)


def block_nodes(inst) -> dict:
    return _st(inst, "block", dict)


def netdevs(inst) -> dict:
    return _st(inst, "netdevs", dict)


def chardevs(inst) -> dict:
    return _st(inst, "chardevs", dict)


def _qom():
    from ..vm import qom
    return qom


def _children_table(inst, container):
    """The GHashTable of a QOM container's children: QEMU lists them in its order."""
    key = "_ghash_" + container
    t = inst.state.get(key)
    if t is None:
        from ..qapi.ghash import GHashTable
        t = inst.state[key] = GHashTable()
    return t


def child_order(inst, container, names):
    """``object_child_foreach`` order of ``names`` (a subset of the container's children)."""
    wanted = set(names)
    return [k for k in _children_table(inst, container) if k in wanted]


def _tree(inst):
    return _qom().tree(inst)


# --- QOM types ---------------------------------------------------------------------------------

def known_types(inst) -> dict:
    """name -> {name, parent[, abstract]} of every QOM type the build knows."""
    try:
        return _qom_cmds().type_index(inst)
    except Exception:      # a build without recorded types
        types = inst.build.recorded_return("qom-list-types", None, None, default=[]) or []
        return inst.state.setdefault("_types", {t["name"]: t for t in types})


def _qom_cmds():
    from . import qom
    return qom


# Recorded type lists (``qom-list-types`` without ``abstract``) name each type's
# parent but leave abstract types out, so a chain stops at its first abstract
# ancestor.  These roots say what such an ancestor is; an unknown one counts
# as a device class unless a user-creatable object or a machine descends from it.
_NOT_DEVICE_ROOTS = frozenset((
    "object", "bus", "virtio-bus", "machine", "chardev", "chardev-fd", "chardev-spice",
    "qio-channel", "iommu-memory-region", "tpm-backend", "memory-backend", "secret_common",
    "authz", "rng-backend", "tls-creds", "event-loop-base", "can-host", "pr-manager",
    "netfilter", "accel", "interface"))
# abstract roots whose devices are not user-creatable (``-device`` refuses them)
_NOT_PLUGGABLE_ROOTS = frozenset((
    "sys-bus-device", "arm-cpu", "aarch64-cpu", "x86_64-cpu", "i386-cpu", "cpu",
    "pci-host-bridge", "pcie-host-bridge", "arm-gicv3-common", "arm-gicv3-its-common",
    "arm_gic_common", "arm-smmu", "arm-sse", "aspeed-soc", "bcm283x", "npcm7xx", "fw_cfg",
    "pl050", "pxa2xx-timer", "common-omap-intc", "imx.ccm", "allwinner-rtc",
    "allwinner-sdhost", "aspeed.adc", "aspeed.gpio", "aspeed.i2c", "aspeed.scu", "aspeed.sdmc",
    "aspeed.smc", "aspeed.timer", "aspeed.wdt", "aspeed.xdma", "npcm7xx-otp", "ps2-device",
    "microdrive", "pcie-slot", "pcie-port", "pci-host"))
# abstract device classes deeper than any recorded chain reaches
_KNOWN_ABSTRACT_DEVICES = ("device", "virtio-pci", "cpu", "pci-device", "sys-bus-device",
                           "usb-device", "virtio-device", "scsi-device", "isa-device")
_PLUGGABLE_SYSBUS = frozenset(("ramfb", "tpm-tis-device", "platform-bus-device",
                               "virtio-iommu-device", "guest-loader"))
# bus a device class needs (dc->bus_type) -> drivers providing such a bus
_BUS_OF_ROOT = {
    "usb-device": "usb-bus", "usb-hid": "usb-bus", "usb-serial-dev": "usb-bus",
    "usb-storage-dev": "usb-bus", "u2f-key": "usb-bus",
    "scsi-device": "SCSI", "scsi-disk-base": "SCSI",
    "virtio-serial-port": "virtio-serial-bus", "ccid-card": "ccid-bus", "hda-audio": "HDA",
    "ide-device": "IDE", "i2c-slave": "i2c-bus", "smbus-device": "i2c-bus",
    "pmbus-device": "i2c-bus", "isa-device": "ISA", "ipack-device": "IndustryPack",
    "ssi-peripheral": "SSI", "aux-slave": "aux-bus",
}
_BUS_PROVIDERS_BY_TYPE = {
    "usb-bus": ("qemu-xhci", "nec-usb-xhci", "usb-ehci", "ich9-usb-ehci1", "ich9-usb-ehci2",
                "ich9-usb-uhci1", "pci-ohci", "piix3-usb-uhci", "piix4-usb-uhci", "sysbus-ohci"),
    "SCSI": ("virtio-scsi-pci", "virtio-scsi-device", "lsi53c895a", "lsi53c810", "megasas",
             "megasas-gen2", "mptsas1068", "am53c974", "dc390", "pvscsi", "usb-bot"),
    "virtio-serial-bus": ("virtio-serial-pci", "virtio-serial-device",
                          "virtio-serial-pci-non-transitional", "virtio-serial-pci-transitional"),
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
    cache = inst.state.get("_abstract_roots")
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
        if (root in _NOT_DEVICE_ROOTS or root.endswith(("-machine", "-bus")) or
                root.startswith("chardev") or name in objs or name.endswith("-machine")):
            dev = False
        roots[root] = dev
    for name in _KNOWN_ABSTRACT_DEVICES:
        roots.setdefault(name, True)
    inst.state["_abstract_roots"] = roots
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


# --- chardevs --------------------------------------------------------------------------------------

class _QmpChardev:
    """A chardev created by ``chardev-add`` (not backed by a socket of ours)."""

    def __init__(self, label, backend, filename):
        self.id = label
        self.backend = backend
        self.disconnected = filename
        self.monitor = None
        self.listening = False


def register_chardev(inst, label, cd) -> None:
    chardevs(inst)[label] = cd
    _children_table(inst, "chardevs").insert(label)
    t = _tree(inst)
    cont = t.root.children.get("chardevs")
    if cont is not None:
        backend = getattr(getattr(cd, "spec", None), "backend", None) or getattr(cd, "backend", "socket")
        cont.add_child(label, _qom().QomObject("chardev-" + backend))


def _chardev_filename(cd):
    mon = getattr(cd, "monitor", None)
    if mon is not None and mon.sessions:
        name = getattr(cd, "connected_name", None)
        if name:
            return name
        addr = getattr(mon, "address", None) or ""
        return addr if "server=on" in addr or not getattr(cd, "listening", False) else addr + ",server=on"
    return cd.disconnected


@_cmd("query-chardev")
def query_chardev(ctx, args):
    inst = ctx.instance
    cds = chardevs(inst)
    out = []
    for label in child_order(inst, "chardevs", cds):   # object_child_foreach + PREPEND
        cd = cds[label]
        # ChardevInfo members in QAPI order: label, filename, frontend-open
        out.append({"label": label, "filename": _chardev_filename(cd),
                    "frontend-open": getattr(cd, "monitor", None) is not None})
    out.reverse()
    return out


@_cmd("chardev-add")
def chardev_add(ctx, args):
    inst = ctx.instance
    label = args["id"]
    if label in chardevs(inst):
        raise QMPError("Chardev '%s' already exists" % label)
    backend = args.get("backend") or {}
    btype = backend.get("type", "null")
    data = backend.get("data") or {}
    if btype == "socket":
        addr = (data.get("addr") or {})
        at = addr.get("type")
        ad = addr.get("data") or {}
        srv = ",server=on" if data.get("server") else ""
        if at == "unix":
            name = "disconnected:unix:%s%s" % (ad.get("path", ""), srv)
        elif at == "inet":
            name = "disconnected:tcp:%s:%s%s" % (ad.get("host", ""), ad.get("port", ""), srv)
        elif at == "fd":
            name = "disconnected:fd:%s%s" % (ad.get("str", ""), srv)
        else:
            name = "disconnected:socket"
    elif btype in ("file", "pipe"):
        name = data.get("out", data.get("device", ""))
    else:
        name = btype
    register_chardev(inst, label, _QmpChardev(label, btype, name))
    ret = {}
    if btype == "pty":
        ret["pty"] = "/dev/pts/%d" % (10 + len(chardevs(inst)))
    return ret


@_cmd("chardev-remove")
def chardev_remove(ctx, args):
    inst = ctx.instance
    label = args["id"]
    cds = chardevs(inst)
    cd = cds.get(label)
    if cd is None:
        raise QMPError("Chardev '%s' not found" % label)
    if getattr(cd, "monitor", None) is not None or any(
            d["props"].get("chardev") == label for d in device_list(inst)):
        raise QMPError("Chardev '%s' is busy" % label)
    del cds[label]
    _children_table(inst, "chardevs").remove(label)
    cont = _tree(inst).root.children.get("chardevs")
    if cont is not None:
        cont.remove_child(label)


@_cmd("query-chardev-backends")
def query_chardev_backends(ctx, args):
    rec = ctx.instance.build.recorded_return("query-chardev-backends", None, ctx.instance.accel)
    if rec is not None:
        return rec
    from ..launcher.cmdline import CHARDEV_BACKENDS
    return [{"name": n} for n in CHARDEV_BACKENDS]


# --- objects ------------------------------------------------------------------------------------------

def _object_type_ok(inst, qom_type):
    cmd = inst.build.schema.command("object-add")
    if cmd is None or cmd.arg_type is None or not cmd.arg_type.variants:
        return True
    return qom_type in cmd.arg_type.variants


def add_object(inst, obj, cli=False):
    """``user_creatable_add_qapi``: ``obj`` holds qom-type, id and the properties."""
    objs = objects(inst)
    oid = obj.get("id")
    qom_type = obj.get("qom-type")
    if oid in objs:
        raise QMPError("attempt to add duplicate property '%s' to object (type 'container')" % oid)
    if not _object_type_ok(inst, qom_type):
        raise QMPError("Parameter 'qom-type' does not accept value '%s'" % qom_type)
    objs[oid] = dict(obj)
    _children_table(inst, "objects").insert(oid)
    t = _tree(inst)
    o = _qom().QomObject(qom_type)
    for k, v in obj.items():
        if k in ("qom-type", "id"):
            continue
        o.add_value(k, _qom_type_of(v), v)
    t.root.children["objects"].add_child(oid, o)
    _ = cli


def _qom_type_of(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, list):
        return "list"
    return "string"


def _object_users(inst, oid):
    cfg = inst.config
    if cfg.machine.get("memory-backend") == oid:
        return True
    for d in device_list(inst):
        for k, v in d["props"].items():
            if v == oid and k in ("memdev", "iothread", "rng", "secret", "memory-backend"):
                return True
    for node in block_nodes(inst).values():
        if oid in (node.get("key-secret"), node.get("password-secret")):
            return True
    return False


@_cmd("object-add")
def object_add(ctx, args):
    add_object(ctx.instance, dict(args))


@_cmd("object-del")
def object_del(ctx, args):
    inst = ctx.instance
    oid = args["id"]
    objs = objects(inst)
    if oid not in objs:
        raise QMPError("object '%s' not found" % oid)
    if _object_users(inst, oid):
        raise QMPError("object '%s' is in use, can not be deleted" % oid)
    del objs[oid]
    _children_table(inst, "objects").remove(oid)
    _tree(inst).root.children["objects"].remove_child(oid)


@_cmd("query-iothreads")
def query_iothreads(ctx, args):
    inst = ctx.instance
    out = []
    objs = objects(inst)
    for oid in child_order(inst, "objects", objs):     # object_child_foreach + APPEND
        o = objs[oid]
        if o.get("qom-type") != "iothread":
            continue
        # IOThreadInfo members in QAPI order
        out.append({"id": oid, "thread-id": _thread_id(inst, "iothread:" + oid),
                    "poll-max-ns": int(o.get("poll-max-ns", 32768)),
                    "poll-grow": int(o.get("poll-grow", 0)),
                    "poll-shrink": int(o.get("poll-shrink", 0)),
                    "aio-max-batch": int(o.get("aio-max-batch", 0))})
    return out


def _thread_id(inst, key):
    """A stable thread id for a QEMU thread (vCPU, iothread).

    The launcher runs one instance per process and gives each such thread a
    real, idle OS thread (libvirt moves them into cgroups and sets their
    affinity); other drivers report numbers next to their own pid."""
    ids = _st(inst, "thread_ids", dict)
    tid = ids.get(key)
    if tid is None:
        if inst.state.get("launcher") is not None:
            tid = _spawn_idle_thread()
        else:
            tid = os.getpid() + 1 + len(ids)
        ids[key] = tid
    return tid


def _spawn_idle_thread() -> int:
    import _thread
    started = _thread.allocate_lock()
    started.acquire()
    box = []
    forever = _thread.allocate_lock()
    forever.acquire()

    def run():
        box.append(_thread.get_native_id())
        started.release()
        forever.acquire()

    _thread.start_new_thread(run, ())
    started.acquire()
    return box[0]


@_cmd("query-memdev")
def query_memdev(ctx, args):
    inst = ctx.instance
    objs = dict(objects(inst))
    if inst.config.machine.get("memory-backend") is None and inst.machine.type != "none":
        m = next((x for x in inst.build.machines() if x["name"] == inst.machine.type), {})
        ram_id = m.get("default-ram-id")
        if ram_id and ram_id not in objs:
            # the default RAM backend, created at board init after the -object ones
            _children_table(inst, "objects").insert(ram_id)
            objs[ram_id] = {"qom-type": "memory-backend-ram",
                            "size": inst.config.memory or (128 << 20)}
    out = []
    for oid in child_order(inst, "objects", objs):     # object_child_foreach + PREPEND
        o = objs[oid]
        if str(o.get("qom-type", "")).startswith("memory-backend"):
            out.append(_memdev_info(oid, o))
    out.reverse()
    return out


def _memdev_info(oid, o):
    def b(k, default):
        v = o.get(k, default)
        return v if isinstance(v, bool) else str(v) in ("on", "yes", "true", "y")
    # Memdev members in QAPI order
    return {"id": oid, "size": int(o.get("size", 0)), "merge": b("merge", True), "dump": b("dump", True),
            "prealloc": b("prealloc", False), "share": b("share", False), "reserve": b("reserve", True),
            "host-nodes": list(o.get("host-nodes", [])), "policy": o.get("policy", "default")}


# --- block ----------------------------------------------------------------------------------------------

def add_blockdev(inst, opts):
    nodes = block_nodes(inst)
    name = opts.get("node-name")
    if not name:
        raise QMPError("'node-name' must be specified for the root node")
    if name in nodes:
        raise QMPError("Duplicate nodes with node-name='%s'" % name)
    nodes[name] = dict(opts)


@_cmd("blockdev-add")
def blockdev_add(ctx, args):
    add_blockdev(ctx.instance, dict(args))


def _node_users(inst, name):
    for d in device_list(inst):
        if d["props"].get("drive") == name:
            return d
    return None


@_cmd("blockdev-del")
def blockdev_del(ctx, args):
    inst = ctx.instance
    name = args["node-name"]
    nodes = block_nodes(inst)
    if name not in nodes:
        raise QMPError("Failed to find node with node-name='%s'" % name)
    if _node_users(inst, name) is not None:
        raise QMPError("Node %s is in use" % name)
    for other, o in nodes.items():
        if other != name and name in (o.get("file"), o.get("backing")):
            raise QMPError("Node %s is in use" % name)
    del nodes[name]


def _file_name(nodes, name, depth=0):
    o = nodes.get(name) or {}
    if "filename" in o:
        return o["filename"]
    f = o.get("file")
    if isinstance(f, str) and depth < 8:
        return _file_name(nodes, f, depth + 1)
    if isinstance(f, dict):
        return f.get("filename", "")
    drv = o.get("driver", "")
    return "%s://" % drv if drv in ("null-co", "null-aio") else ""


def _block_device_info(nodes, name):
    o = nodes[name]
    filename = _file_name(nodes, name)
    drv = o.get("driver", "raw")
    size = int(o.get("size", 1 << 30)) if drv in ("null-co", "null-aio") else 0
    ro = bool(o.get("read-only", False))
    image = {"filename": filename, "format": drv, "virtual-size": size, "dirty-flag": False}
    # BlockDeviceInfo members in QAPI order (7.2)
    return {"file": filename, "node-name": name, "ro": ro, "drv": drv, "backing_file_depth": 0,
            "encrypted": False, "detect_zeroes": o.get("detect-zeroes", "off"),
            "bps": 0, "bps_rd": 0, "bps_wr": 0, "iops": 0, "iops_rd": 0, "iops_wr": 0,
            "image": image, "write_threshold": 0,
            "cache": {"writeback": True, "direct": bool((o.get("cache") or {}).get("direct", False)),
                      "no-flush": bool((o.get("cache") or {}).get("no-flush", False))}}


@_cmd("query-named-block-nodes")
def query_named_block_nodes(ctx, args):
    nodes = block_nodes(ctx.instance)
    out = [_block_device_info(nodes, n) for n in nodes]
    out.reverse()
    return out


@_cmd("query-block")
def query_block(ctx, args):
    inst = ctx.instance
    nodes = block_nodes(inst)
    out = []
    for d in device_list(inst):
        drive = d["props"].get("drive")
        if drive is None or drive not in nodes:
            continue
        qdev = d["path"] + ("/virtio-backend" if d["driver"].startswith("virtio-") and
                            d["driver"].endswith("-pci") else "")
        # BlockInfo members in QAPI order
        out.append({"device": "", "qdev": qdev, "type": "unknown", "removable": False,
                    "locked": False, "inserted": _block_device_info(nodes, drive)})
    out.reverse()
    return out


# --- netdevs ---------------------------------------------------------------------------------------------

def add_netdev(inst, opts, legacy=False):
    """``net_client_netdev_init``: legacy QemuOpts are visited like QEMU's opts visitor."""
    nds = netdevs(inst)
    cmd = inst.build.schema.command("netdev_add")
    t = cmd.arg_type if cmd is not None else None
    if legacy and t is not None:
        from ..launcher.opts import QemuOptsError
        from ..launcher.visit import opts_visit
        try:
            opts = {**opts, **opts_visit(t, opts)}
        except QemuOptsError as e:
            raise QMPError(e.message) from None
    nid = opts.get("id")
    if nid in nds:
        raise QMPError("Duplicate ID '%s' for netdev" % nid)
    nds[nid] = dict(opts)


@_cmd("netdev_add")
def netdev_add(ctx, args):
    add_netdev(ctx.instance, dict(args))


@_cmd("netdev_del")
def netdev_del(ctx, args):
    inst = ctx.instance
    nid = args["id"]
    nds = netdevs(inst)
    if nid not in nds:
        raise QMPError("Device '%s' not found" % nid, DEVICE_NOT_FOUND)
    del nds[nid]
    for d in device_list(inst):
        if d["props"].get("netdev") == nid:
            d["props"]["netdev"] = None


@_cmd("set_link")
def set_link(ctx, args):
    inst = ctx.instance
    name = args["name"]
    if name in netdevs(inst):
        return
    for d in device_list(inst):
        if d["id"] == name or d.get("net_name") == name:
            return
    raise QMPError("Device '%s' not found" % name, DEVICE_NOT_FOUND)


_NIC_HINTS = ("net", "e1000", "rtl8139", "ne2k", "pcnet", "vmxnet", "i8255", "igb", "tulip",
              "smc91c111", "lan9118")


def _is_nic(driver):
    return any(h in driver for h in _NIC_HINTS) and driver not in ("virtio-net-device-x",)


def net_check_clients(inst):
    """``net_check_clients``: warnings for netdevs and NICs without a peer."""
    used = {d["props"].get("netdev") for d in device_list(inst)}
    out = []
    for nid in netdevs(inst):
        if nid not in used:
            out.append("netdev %s has no peer" % nid)
    for d in device_list(inst):
        if _is_nic(d["driver"]) and d["props"].get("netdev") is None:
            out.append("nic %s has no peer" % d.get("net_name"))
    return out


# --- devices ---------------------------------------------------------------------------------------------

# devices that refuse to realize without a backend (QEMU 7.2 texts)
_NEEDS_DRIVE = {"virtio-blk-pci": "drive property not set", "virtio-blk-device": "drive property not set",
                "scsi-hd": "drive property not set", "scsi-block": "drive property not set",
                "usb-storage": "drive property not set", "ide-hd": "No drive specified"}
_NEEDS_CHARDEV = {"virtserialport": "chardev", "virtconsole": "chardev"}

# devices whose id names a bus they provide ("<id>" or "<id>.0")
_BUS_PROVIDERS = {
    "pcie-root-port": "", "ioh3420": "", "xio3130-downstream": "", "x3130-upstream": "",
    "pcie-pci-bridge": "", "pci-bridge": "", "pxb-pcie": "", "pxb": "",
    "virtio-scsi-pci": ".0", "virtio-scsi-device": ".0", "virtio-serial-pci": ".0",
    "virtio-serial-device": ".0", "qemu-xhci": ".0", "nec-usb-xhci": ".0", "usb-ehci": ".0",
    "ich9-usb-ehci1": ".0", "pci-ohci": ".0", "lsi53c895a": ".0", "megasas": ".0",
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
    for d in device_list(inst):
        suffix = _BUS_PROVIDERS.get(d["driver"])
        if suffix is not None and d["id"]:
            out.add(d["id"] + suffix)
    return out


def _inner_virtio(driver):
    """The virtio-*-device a virtio PCI proxy forwards backend properties to."""
    if driver.startswith("virtio-") and driver.endswith("-pci"):
        base = driver[:-4]
        for suffix in ("-non-transitional", "-transitional"):
            if base.endswith(suffix):
                base = base[:-len(suffix)]
        return base + "-device"
    return driver


def _check_prop_value(inst, driver, name, value):
    """Link-like properties: the referenced backend must exist."""
    if name == "netdev":
        if value not in netdevs(inst):
            raise QMPError("Property '%s.netdev' can't find value '%s'" % (_inner_virtio(driver), value))
        for d in device_list(inst):
            if d["props"].get("netdev") == value:
                raise QMPError("Property '%s.netdev' can't take value '%s', it's in use" % (
                    _inner_virtio(driver), value))
    elif name == "drive":
        if value not in block_nodes(inst):
            raise QMPError("Property '%s.drive' can't find value '%s'" % (_inner_virtio(driver), value))
        if _node_users(inst, value) is not None:
            raise QMPError("Property '%s.drive' can't take value '%s', it's in use" % (
                _inner_virtio(driver), value))
    elif name == "chardev":
        if value not in chardevs(inst):
            raise QMPError("Property '%s.chardev' can't find value '%s'" % (driver, value))
    elif name == "iothread":
        o = objects(inst).get(value)
        if o is None or o.get("qom-type") != "iothread":
            raise QMPError("Property '%s.iothread' can't find value '%s'" % (_inner_virtio(driver), value))
    elif name == "memdev":
        o = objects(inst).get(value)
        if o is None:
            raise QMPError("Property '%s.memdev' can't find value '%s'" % (driver, value))


_PCI_ROOTS = ("pci-device", "virtio-pci", "base-pci-bridge", "pcie-root-port-base", "pcie-port",
              "pci-vga", "pci-xhci", "pci-ehci-usb", "pci-uhci-usb", "e1000-base", "megasas-base",
              "intel-hda-generic", "ivshmem-common")


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
    devs = device_list(inst)
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
        from ..launcher.opts import _id_wellformed
        if not _id_wellformed(did):
            raise QMPError("Parameter 'id' expects an identifier")
        if any(d["id"] == did for d in devs):
            raise QMPError("Duplicate device ID '%s'" % did if cli and json_form
                           else "Duplicate ID '%s' for device" % did)
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
    qom = _qom()
    tree = _tree(inst)
    obj = qom.QomObject(driver)
    props = known or []
    types_by_name = {p["name"]: p.get("type", "str") for p in props}
    values = {}
    for p in props:
        if "default-value" in p:
            values[p["name"]] = p["default-value"]
    values.update(dev)
    for k, v in values.items():
        obj.add_value(k, types_by_name.get(k, _qom_type_of(v)), v)
    if did is not None:
        parent = tree.machine.children["peripheral"]
        name = did
    else:
        parent = tree.machine.children["peripheral-anon"]
        n = sum(1 for c in parent.children if c.startswith("device["))
        name = "device[%d]" % n
    parent.add_child(name, obj)
    if driver.startswith("virtio-") and driver.endswith("-pci"):
        obj.add_child("virtio-backend", qom.QomObject(_inner_virtio(driver)))
    count = sum(1 for d in devs if d["driver"] == driver)
    rec = {"id": did, "driver": driver, "bus": bus, "props": dict(dev), "path": obj.path,
           "net_name": did if did is not None else "%s.%d" % (driver, count), "unplugging": False}
    devs.append(rec)
    return rec


@_cmd("device_add")
def device_add(ctx, args):
    add_device(ctx.instance, dict(args))


def _find_device(inst, ident):
    for d in device_list(inst):
        if d["id"] == ident or d["path"] == ident:
            return d
    return None


@_cmd("device_del")
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
    if inst.terminated is not None or d not in device_list(inst):
        return
    for child in list(device_list(inst)):
        if child is not d and child["bus"] is not None and d["id"] is not None and \
                child["bus"].startswith(d["id"]):
            _finish_unplug(inst, child)
    device_list(inst).remove(d)
    tree = _tree(inst)
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


# --- file descriptors ---------------------------------------------------------------------------------

def fdsets(inst) -> dict:
    fs = inst.state.get("fdsets")
    if fs is None:
        fs = inst.state["fdsets"] = {}
        L = inst.state.get("launcher")
        for g, _loc in getattr(L, "add_fds", ()) or ():
            sid = g.opts.get("set")
            entry = {"fd": g.opts.get("fd")}
            if "opaque" in g.opts:
                entry["opaque"] = g.opts["opaque"]
            fs.setdefault(sid, []).append(entry)
    return fs


@_cmd("getfd")
def getfd(ctx, args):
    raise QMPError("No file descriptor supplied via SCM_RIGHTS")


@_cmd("closefd")
def closefd(ctx, args):
    raise QMPError("File descriptor named '%s' not found" % args["fdname"])


@_cmd("add-fd")
def add_fd(ctx, args):
    raise QMPError("No file descriptor supplied via SCM_RIGHTS")


@_cmd("remove-fd")
def remove_fd(ctx, args):
    fs = fdsets(ctx.instance)
    sid = args["fdset-id"]
    fd = args.get("fd")
    entries = fs.get(sid)
    if entries is None or (fd is not None and not any(e["fd"] == fd for e in entries)):
        if fd is not None:
            raise QMPError("File descriptor named 'fdset-id:%d, fd:%d' not found" % (sid, fd))
        raise QMPError("File descriptor named 'fdset-id:%d' not found" % sid)
    if fd is None:
        del fs[sid]
    else:
        fs[sid] = [e for e in entries if e["fd"] != fd]
        if not fs[sid]:
            del fs[sid]


@_cmd("query-fdsets")
def query_fdsets(ctx, args):
    out = []
    for sid, entries in fdsets(ctx.instance).items():
        fds = []
        for e in entries:
            x = {"fd": e["fd"]}
            if "opaque" in e:
                x["opaque"] = e["opaque"]
            fds.append(x)
        fds.reverse()
        out.append({"fdset-id": sid, "fds": fds})
    out.reverse()
    return out


# --- display ------------------------------------------------------------------------------------------

def _display(inst):
    d = inst.state.get("display")
    return d if isinstance(d, dict) else {"type": "none"}


@_cmd("query-display-options")
def query_display_options(ctx, args):
    d = dict(_display(ctx.instance))
    if d.get("type") == "vnc":
        return {"type": "none"}
    d.setdefault("type", "none")
    return d


@_cmd("set_password")
def set_password(ctx, args):
    proto = args["protocol"]
    d = _display(ctx.instance)
    if proto == "vnc":
        if d.get("type") != "vnc":
            raise QMPError("Could not set password")
        return
    raise QMPError("SPICE is not in use")


@_cmd("expire_password")
def expire_password(ctx, args):
    proto = args["protocol"]
    d = _display(ctx.instance)
    if proto == "vnc":
        if d.get("type") != "vnc":
            raise QMPError("Could not set password expire time.")
        return
    raise QMPError("SPICE is not in use")
