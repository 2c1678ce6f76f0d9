"""Block nodes: ``-blockdev``/``blockdev-add``/``blockdev-del``,
``query-named-block-nodes``, ``query-block`` (QEMU 7.2 ``block.c``,
``block/qapi.c``).

State: ``instance.backends.block`` (node-name -> options).
"""

from __future__ import annotations

from ..errors import QMPError
from .registry import command


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
    add_blockdev(ctx.instance, dict(args))


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


def _block_device_info(nodes, name):
    o = nodes[name]
    filename = _file_name(nodes, name)
    drv = o.get("driver", "raw")
    size = int(o.get("size", 1 << 30)) if drv in ("null-co", "null-aio") else 0
    ro = bool(o.get("read-only", False))
    image = {"filename": filename, "format": drv, "virtual-size": size, "dirty-flag": False}
    # BlockDeviceInfo members in QAPI order (7.2)
    return {
        "file": filename,
        "node-name": name,
        "ro": ro,
        "drv": drv,
        "backing_file_depth": 0,
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


@command("query-named-block-nodes")
def query_named_block_nodes(ctx, args):
    nodes = ctx.instance.backends.block
    out = [_block_device_info(nodes, n) for n in nodes]
    out.reverse()
    return out


@command("query-block")
def query_block(ctx, args):
    inst = ctx.instance
    nodes = inst.backends.block
    out = []
    for d in inst.backends.devices:
        drive = d["props"].get("drive")
        if drive is None or drive not in nodes:
            continue
        qdev = d["path"] + (
            "/virtio-backend" if d["driver"].startswith("virtio-") and d["driver"].endswith("-pci") else ""
        )
        # BlockInfo members in QAPI order
        out.append(
            {
                "device": "",
                "qdev": qdev,
                "type": "unknown",
                "removable": False,
                "locked": False,
                "inserted": _block_device_info(nodes, drive),
            }
        )
    out.reverse()
    return out
