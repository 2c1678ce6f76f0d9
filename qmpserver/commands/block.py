"""Block nodes: ``-blockdev``/``blockdev-add``/``blockdev-del``,
``query-named-block-nodes``, ``query-block`` (QEMU 7.2 ``block.c``,
``block/qapi.c``).

State: ``instance.backends.block`` (node-name -> options).  Once the instance's
qemu-storage-daemon runs (:mod:`qmpserver.vm.storage_daemon`, started by the first block
job), it owns the images: node changes go to it too, and the queries read its graph.
"""

from __future__ import annotations

from ..errors import QMPError
from .registry import command


def _daemon(inst):
    """The instance's qemu-storage-daemon once it runs (``qmpserver.vm.storage_daemon``,
    imported only then: the launcher's start-up stays lean)."""
    return inst.backends.daemon


def add_blockdev(inst, opts):
    nodes = inst.backends.block
    name = opts.get("node-name")
    if not name:
        raise QMPError("'node-name' must be specified for the root node")
    if name in nodes:
        raise QMPError("Duplicate nodes with node-name='%s'" % name)
    nodes[name] = dict(opts)


@command("blockdev-add")
def blockdev_add(ctx, args):
    inst = ctx.instance
    d = _daemon(inst)
    if d is not None:
        d.call("blockdev-add", dict(args))
        inst.backends.block[args["node-name"]] = dict(args)
        return
    add_blockdev(inst, dict(args))


def node_user(inst, name):
    for d in inst.backends.devices:
        if d["props"].get("drive") == name:
            return d
    return None


@command("blockdev-del")
def blockdev_del(ctx, args):
    inst = ctx.instance
    name = args["node-name"]
    nodes = inst.backends.block
    if _daemon(inst) is not None:
        from ..vm.storage_daemon import ensure

        ensure(inst).call("blockdev-del", dict(args))
        nodes.pop(name, None)
        return
    if name not in nodes:
        raise QMPError("Failed to find node with node-name='%s'" % name)
    if node_user(inst, name) is not None:
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


def image_sizes(drv, filename):
    """(virtual size, bytes allocated on the host) of a node's image file, read from the
    file itself (qcow2: the header's ``size``, bytes 24..31; raw/file: the file's length);
    None when there is no such file."""
    import os
    import struct

    try:
        st = os.stat(filename)
        if drv == "qcow2":
            with open(filename, "rb") as f:
                head = f.read(32)
            if len(head) < 32 or head[:4] != b"QFI\xfb":
                return None
            return struct.unpack(">Q", head[24:32])[0], st.st_blocks * 512
        return st.st_size, st.st_blocks * 512
    except OSError:
        return None


def _block_device_info(nodes, name):
    o = nodes[name]
    filename = _file_name(nodes, name)
    drv = o.get("driver", "raw")
    size = int(o.get("size", 1 << 30)) if drv in ("null-co", "null-aio") else 0
    ro = bool(o.get("read-only", False))
    image = {"filename": filename, "format": drv, "virtual-size": size, "dirty-flag": False}
    sizes = image_sizes(drv, filename) if filename and drv in ("qcow2", "raw", "file") else None
    if sizes is not None:
        image["virtual-size"], image["actual-size"] = sizes
    # BlockDeviceInfo members in QAPI order (7.2)
    return {
        "file": filename,
        "node-name": name,
        "ro": ro,
        "drv": drv,
        "backing_file_depth": 0,
        "children": _recorded_children(nodes, name),
        "active": True,
        "encrypted": False,
        "detect_zeroes": o.get("detect-zeroes", "off"),
        "bps": 0,
        "bps_rd": 0,
        "bps_wr": 0,
        "iops": 0,
        "iops_rd": 0,
        "iops_wr": 0,
        "image": image,
        "write_threshold": 0,
        "cache": {
            "writeback": True,
            "direct": bool((o.get("cache") or {}).get("direct", False)),
            "no-flush": bool((o.get("cache") or {}).get("no-flush", False)),
        },
    }


def _recorded_children(nodes, name):
    """BlockDeviceInfo ``children`` (QEMU 10.1+, ``bdrv_block_device_info``): the node's
    BdrvChild list, most recently attached first (``bdrv_attach_child_noperm`` inserts at
    the head; read from QEMU's block.c, not measured: no 10.1+ binary here).  A format
    node opens its ``file`` child, then its backing chain: ``backing`` comes first.  Only
    children given by node name are known (an inline child's generated name is not)."""
    o = nodes[name]
    return [
        {"child": role, "node-name": o[role]} for role in ("backing", "file") if isinstance(o.get(role), str)
    ]


def _graph_children(d):
    """node name -> ``children`` from the daemon's graph (``x-debug-query-block-graph``
    lists each node's edges in its BdrvChild list order), for a build whose BlockDeviceInfo
    has them while the daemon (Debian's 7.2) does not report them."""
    graph = d.call("x-debug-query-block-graph", {})
    ids = {n["id"]: n["name"] for n in graph["nodes"] if n.get("type") == "block-driver"}
    out: dict = {}
    for e in graph["edges"]:
        parent, child = ids.get(e["parent"]), ids.get(e["child"])
        if parent is not None and child is not None:
            out.setdefault(parent, []).append({"child": e["name"], "node-name": child})
    return out


def _newer_members(inst, infos, d=None):
    """Complete BlockDeviceInfo values with what newer QEMU reports and the daemon does not:
    ``children`` (10.1) and ``active`` (10.0; false while ``BDRV_O_INACTIVE``: an incoming
    migration's images until it completes, a source's after it completed, until ``cont``).
    Only when the build's type has ``children`` (otherwise the reply is held to its schema
    anyway, and the daemon's graph is not asked)."""
    if not _has_member(inst, "query-named-block-nodes", "children"):
        return infos
    graph = _graph_children(d) if d is not None else None
    active = inst.runstate not in ("inmigrate", "postmigrate")
    for info in infos:
        if graph is not None:
            info["children"] = graph.get(info["node-name"], [])
        info["active"] = active
    return infos


def _has_member(inst, command_name, member):
    """Whether the element type of the build's ``command_name`` return has ``member``."""
    cache = inst.caches.block_members
    key = (command_name, member)
    if key not in cache:
        cmd = inst.build.schema.command(command_name)
        t = getattr(cmd, "ret_type", None)
        t = getattr(t, "element", t)
        cache[key] = member in getattr(t, "member_map", {})
    return cache[key]


@command("query-named-block-nodes")
def query_named_block_nodes(ctx, args):
    inst = ctx.instance
    d = _daemon(inst)
    if d is not None:
        return _newer_members(inst, d.call("query-named-block-nodes", dict(args)), d)
    nodes = inst.backends.block
    out = _newer_members(inst, [_block_device_info(nodes, n) for n in nodes])
    out.reverse()
    return out


#: devices whose BlockBackend reports an I/O status (QEMU 7.2 ``blk_iostatus_enable`` in the
#: device's realize; seen on real 7.2 for virtio-blk; others not checked yet); no I/O ever
#: failed: ``ok``
IOSTATUS_DEVICES = frozenset({"virtio-blk-pci", "virtio-blk-device"})


@command("query-block")
def query_block(ctx, args):
    inst = ctx.instance
    nodes = inst.backends.block
    daemon = _daemon_nodes(inst)
    out = []
    for d, qdev, drive in _attached(inst):
        # BlockInfo members in QAPI order
        info = {
            "device": "",
            "qdev": qdev,
            "type": "unknown",
            "removable": False,
            "locked": False,
            "inserted": daemon[drive]
            if daemon is not None
            else _newer_members(inst, [_block_device_info(nodes, drive)])[0],
        }
        if d["driver"] in IOSTATUS_DEVICES:
            info["io-status"] = "ok"
        out.append(info)
    out.reverse()
    return out


# -- statistics and resizing ---------------------------------------------------------------

_COUNTERS = (
    "rd_bytes wr_bytes unmap_bytes rd_operations wr_operations unmap_operations flush_operations "
    "rd_total_time_ns wr_total_time_ns unmap_total_time_ns flush_total_time_ns wr_highest_offset "
    "rd_merged wr_merged unmap_merged failed_rd_operations failed_wr_operations "
    "failed_unmap_operations failed_flush_operations invalid_rd_operations invalid_wr_operations "
    "invalid_unmap_operations invalid_flush_operations"
).split()
#: zone-append accounting (QEMU 8.1+, zoned devices): 0 here, as for any device the guest
#: never sent a zone append to; a build without them drops them (qapi/conform.py), and they
#: complete the 7.2 daemon's statistics for such a build
_ZONE_COUNTERS = (
    "zone_append_bytes zone_append_operations zone_append_total_time_ns zone_append_merged "
    "failed_zone_append_operations invalid_zone_append_operations"
).split()


def _stats(backend: bool):
    """BlockDeviceStats (QEMU 7.2) of a device that did no I/O (the guest never ran).
    ``account_invalid``/``account_failed`` are the BlockBackend's defaults (on); a node
    without a BlockBackend reports them off."""
    out: dict = dict.fromkeys(_COUNTERS + _ZONE_COUNTERS, 0)
    out["account_invalid"] = backend
    out["account_failed"] = backend
    out["timed_stats"] = []
    return out


def _node_stats(nodes, name, backend):
    o = nodes[name]
    out = {"node-name": name, "stats": _stats(backend)}
    if o.get("driver") == "file":
        # BlockStatsSpecificFile
        out["driver-specific"] = {
            "driver": "file",
            "discard-nb-ok": 0,
            "discard-nb-failed": 0,
            "discard-bytes-ok": 0,
        }
    f = o.get("file")
    if isinstance(f, str) and f in nodes:
        out["parent"] = _node_stats(nodes, f, False)
    return out


@command("query-blockstats")
def query_blockstats(ctx, args):
    """``qmp_query_blockstats``: one entry per device's BlockBackend (``query-nodes``:
    one per named node instead), its protocol node as ``parent``."""
    inst = ctx.instance
    nodes = inst.backends.block
    d = _daemon(inst)
    if d is not None:
        return _daemon_stats(inst, d, bool(args.get("query-nodes")))
    out = []
    if args.get("query-nodes"):
        for name in nodes:
            out.append(_node_stats(nodes, name, False))
        return out
    for d, qdev, drive in _attached(inst):
        entry = {"device": "", "qdev": qdev}
        entry.update(_node_stats(nodes, drive, True))
        out.append(entry)
    return out


def _daemon_nodes(inst):
    """node name -> BlockDeviceInfo of the daemon's graph (None: no daemon runs)."""
    d = _daemon(inst)
    if d is None:
        return None
    d.sync_exports()
    return {n["node-name"]: n for n in _newer_members(inst, d.nodes(), d)}


def _daemon_stats(inst, d, query_nodes):
    """``query-blockstats`` from the daemon's per-node statistics; a device's entry is its
    root node's, with the BlockBackend's accounting defaults (on)."""
    d.sync_exports()
    per_node = d.call("query-blockstats", {"query-nodes": True})
    for e in per_node:
        for k in _ZONE_COUNTERS:
            e["stats"].setdefault(k, 0)
    if query_nodes:
        return per_node
    by_name = {e["node-name"]: e for e in per_node}
    out = []
    for _dev, qdev, drive in _attached(inst):
        e = by_name.get(drive)
        if e is None:
            continue
        stats = dict(e["stats"])
        stats["account_invalid"] = stats["account_failed"] = True
        entry = {"device": "", "qdev": qdev, "node-name": drive, "stats": stats}
        entry.update({k: v for k, v in e.items() if k not in entry})
        out.append(entry)
    return out


def _attached(inst):
    nodes = inst.backends.block
    daemon = _daemon(inst) is not None
    for d in inst.backends.devices:
        drive = d["props"].get("drive")
        if drive is None or (drive not in nodes and not daemon):
            continue
        qdev = d["path"] + (
            "/virtio-backend" if d["driver"].startswith("virtio-") and d["driver"].endswith("-pci") else ""
        )
        yield d, qdev, drive


@command("block_resize")
def block_resize(ctx, args):
    """``qmp_block_resize`` (QEMU 7.2 blockdev.c) and the driver's truncate: the image
    file really changes size (qcow2 through ``qemu-img resize``, raw by truncating)."""
    import os
    import subprocess

    from ..vm.qcow2 import Qcow2Error, qemu_img

    inst = ctx.instance
    d = _daemon(inst)
    if d is not None:
        d.sync_exports()
        return d.call("block_resize", dict(args))
    nodes = inst.backends.block
    size = args["size"]
    if size < 0:
        raise QMPError("Parameter 'size' expects a >0 size")
    name = args.get("node-name")
    if name not in nodes:
        raise QMPError("Cannot find device='%s' nor node-name='%s'" % (args.get("device", ""), name or ""))
    o = nodes[name]
    drv = o.get("driver")
    path = _file_name(nodes, name)
    if drv == "qcow2":
        if size % 512:
            raise QMPError("The new size must be a multiple of 512")
        try:
            exe = qemu_img()
        except Qcow2Error as e:
            raise QMPError(str(e)) from None
        p = subprocess.run(
            [exe, "resize", "--shrink", "-f", "qcow2", path, str(size)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if p.returncode != 0:
            raise QMPError((p.stderr or p.stdout).strip().splitlines()[-1])
    elif drv in ("raw", "file") and not o.get("offset") and not o.get("size"):
        try:
            os.truncate(path, size)
        except OSError as e:
            raise QMPError("Failed to resize '%s': %s" % (path, e.strerror)) from None
    else:
        raise QMPError("qmpserver: block_resize of a %s node is not modelled" % drv)
