"""Chardevs: what ``-chardev`` and ``chardev-add`` create, ``query-chardev``,
``chardev-remove``, ``query-chardev-backends`` (QEMU 7.2 ``chardev/char.c``).

State: ``instance.backends.chardevs`` (label -> chardev record; the launcher's
sockets or a :class:`_QmpChardev`).
"""

from __future__ import annotations

from ..errors import QMPError
from ..qapi.opts import CHARDEV_BACKENDS
from ..vm import qom
from .registry import command


def open_pty():
    """A real pseudo-terminal for a ``pty`` chardev -> (master fd, slave path).

    QEMU 7.2 ``chardev/char-pty.c`` ``char_pty_open`` with ``qemu_openpty_raw``
    (``util/qemu-openpty.c``): openpty, the slave set raw (``cfmakeraw``: no echo,
    no line editing) and closed again, the master kept, non-blocking.  Nothing is
    read from or written to the master: the simulated guest never drives its
    UART, so a console client sees a silent line, as with a guest that does not
    boot."""
    import os
    import termios
    import tty

    master, slave = os.openpty()
    try:
        tty.setraw(slave, termios.TCSAFLUSH)
        path = os.ttyname(slave)
    except OSError:
        os.close(master)
        raise
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    return master, path


def close_pty(cd) -> None:
    fd = getattr(cd, "pty_master", None)
    if fd is not None:
        import os

        cd.pty_master = None
        try:
            os.close(fd)
        except OSError:
            pass


class _QmpChardev:
    """A chardev created by ``chardev-add`` (not backed by a socket of ours)."""

    def __init__(self, label, backend, filename):
        self.id = label
        self.backend = backend
        self.disconnected = filename
        self.monitor = None
        self.listening = False
        self.frontend = None
        self.pty_master = None


def register_chardev(inst, label, cd) -> None:
    inst.backends.chardevs[label] = cd
    inst.backends.children("chardevs").insert(label)
    if inst.qom is not None:  # else the tree, when first built, lists every chardev
        qom.add_chardev(inst.qom, label, cd)


def _chardev_filename(cd):
    mon = getattr(cd, "monitor", None)
    if mon is not None and mon.sessions:
        name = getattr(cd, "connected_name", None)
        if name:
            return name
        addr = getattr(mon, "address", None) or ""
        return addr if "server=on" in addr or not getattr(cd, "listening", False) else addr + ",server=on"
    return cd.disconnected


def _frontend_open(inst, label, cd) -> bool:
    """``ChardevInfo.frontend-open``: a frontend (monitor, serial port, device) holds it."""
    if getattr(cd, "monitor", None) is not None or getattr(cd, "frontend", None) is not None:
        return True
    return any(d["props"].get("chardev") == label for d in inst.backends.devices)


@command("query-chardev")
def query_chardev(ctx, args):
    inst = ctx.instance
    cds = inst.backends.chardevs
    out = []
    for label in inst.backends.child_order("chardevs", cds):  # object_child_foreach + PREPEND
        cd = cds[label]
        # ChardevInfo members in QAPI order: label, filename, frontend-open
        out.append(
            {
                "label": label,
                "filename": _chardev_filename(cd),
                "frontend-open": _frontend_open(inst, label, cd),
            }
        )
    out.reverse()
    return out


@command("chardev-add")
def chardev_add(ctx, args):
    inst = ctx.instance
    label = args["id"]
    if label in inst.backends.chardevs:
        raise QMPError("Chardev '%s' already exists" % label)
    backend = args.get("backend") or {}
    btype = backend.get("type", "null")
    data = backend.get("data") or {}
    if btype == "socket":
        addr = data.get("addr") or {}
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
    cd = _QmpChardev(label, btype, name)
    ret = {}
    if btype == "pty":
        try:
            cd.pty_master, path = open_pty()
        except OSError as e:
            raise QMPError("Failed to create PTY: %s" % (e.strerror or e)) from None
        cd.disconnected = "pty:" + path
        ret["pty"] = path  # ChardevReturn.pty; no redirect line: qemu_printf goes to the QMP monitor
    register_chardev(inst, label, cd)
    return ret


@command("chardev-remove")
def chardev_remove(ctx, args):
    inst = ctx.instance
    label = args["id"]
    cds = inst.backends.chardevs
    cd = cds.get(label)
    if cd is None:
        raise QMPError("Chardev '%s' not found" % label)
    if _frontend_open(inst, label, cd):
        raise QMPError("Chardev '%s' is busy" % label)
    del cds[label]
    close_pty(cd)
    inst.backends.children("chardevs").remove(label)
    cont = qom.tree(inst).root.children.get("chardevs")
    if cont is not None:
        cont.remove_child(label)


@command("query-chardev-backends")
def query_chardev_backends(ctx, args):
    rec = ctx.instance.build.recorded_return("query-chardev-backends", None, ctx.instance.accel)
    if rec is not None:
        return rec
    return [{"name": n} for n in CHARDEV_BACKENDS]
