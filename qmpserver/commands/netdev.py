"""Network backends: ``-netdev``/``netdev_add``/``netdev_del``, ``set_link``
and the start-up check ``net_check_clients`` (QEMU 7.2 ``net/net.c``).

State: ``instance.backends.netdevs`` (id -> options).
"""

from __future__ import annotations

from ..errors import DEVICE_NOT_FOUND, QMPError
from ..qapi.opts import QemuOptsError, opts_visit
from .registry import command


def add_netdev(inst, opts, legacy=False):
    """``net_client_netdev_init``: legacy QemuOpts are visited like QEMU's opts visitor."""
    nds = inst.backends.netdevs
    cmd = inst.build.schema.command("netdev_add")
    t = cmd.arg_type if cmd is not None else None
    if legacy and t is not None:
        try:
            opts = {**opts, **opts_visit(t, opts)}
        except QemuOptsError as e:
            raise QMPError(e.message) from None
    nid = opts.get("id")
    if nid in nds:
        raise QMPError("Duplicate ID '%s' for netdev" % nid)
    nds[nid] = dict(opts)


@command("netdev_add")
def netdev_add(ctx, args):
    add_netdev(ctx.instance, dict(args))


@command("netdev_del")
def netdev_del(ctx, args):
    inst = ctx.instance
    nid = args["id"]
    nds = inst.backends.netdevs
    if nid not in nds:
        raise QMPError("Device '%s' not found" % nid, DEVICE_NOT_FOUND)
    del nds[nid]
    for d in inst.backends.devices:
        if d["props"].get("netdev") == nid:
            d["props"]["netdev"] = None


@command("set_link")
def set_link(ctx, args):
    inst = ctx.instance
    name = args["name"]
    if name in inst.backends.netdevs:
        return
    for d in inst.backends.devices:
        if d["id"] == name or d.get("net_name") == name:
            return
    raise QMPError("Device '%s' not found" % name, DEVICE_NOT_FOUND)


_NIC_HINTS = (
    "net",
    "e1000",
    "rtl8139",
    "ne2k",
    "pcnet",
    "vmxnet",
    "i8255",
    "igb",
    "tulip",
    "smc91c111",
    "lan9118",
)


def _is_nic(driver):
    return any(h in driver for h in _NIC_HINTS) and driver not in ("virtio-net-device-x",)


def net_check_clients(inst):
    """``net_check_clients``: warnings for netdevs and NICs without a peer."""
    used = {d["props"].get("netdev") for d in inst.backends.devices}
    out = []
    for nid in inst.backends.netdevs:
        if nid not in used:
            out.append("netdev %s has no peer" % nid)
    for d in inst.backends.devices:
        if _is_nic(d["driver"]) and d["props"].get("netdev") is None:
            out.append("nic %s has no peer" % d.get("net_name"))
    return out
