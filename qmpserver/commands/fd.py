"""Descriptors handed to the process: named ones (``getfd``/``closefd``), fd sets
(``-add-fd``, ``add-fd``/``remove-fd``/``query-fdsets``), and :func:`take_fd` for
the code that uses a named one (``migrate`` to ``fd:NAME``).

QEMU 7.2 ``monitor/misc.c`` (``qmp_getfd``, ``qmp_closefd``, ``monitor_get_fd``,
``qmp_add_fd``, ``monitor_fdset_add_fd``, ``qmp_remove_fd``,
``monitor_fdset_cleanup``, ``qmp_query_fdsets``) and ``monitor/qmp.c``
(``monitor_qmp_event``: the fd sets are cleaned up whenever a monitor
connection closes).

A client passes descriptors with SCM_RIGHTS on a unix-socket monitor; its
session holds them until a command takes one (``Session.take_fd``, QEMU's
``qemu_chr_fe_get_msgfd``).  Taken by ``getfd`` or ``add-fd``, a descriptor is
owned here, in the instance's state (one owner, this module):

* ``instance.backends.fdnames``: monitor -> name -> descriptor.  Names belong
  to the monitor (QEMU's ``mon->fds``), not to one connection: they outlive a
  client that reconnects.
* ``instance.backends.fdsets``: set id -> entries ``{"fd", ["opaque"],
  "removed", "owned"}`` in the order they were added.  ``owned`` is False for
  ``-add-fd`` entries: the simulator records the number it was given and
  never closes it.

Everything still held is closed when the instance ends (:func:`close_all`).
Nothing here opens ``/dev/fdset/N``, so no set ever has duplicates in use
(QEMU's ``dup_fds``): cleaning up a set only looks at its own entries.
"""

from __future__ import annotations

import os

from ..errors import QMPError
from .registry import command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..vm.instance import Instance

NO_FD = "No file descriptor supplied via SCM_RIGHTS"
NOT_FOUND = "File descriptor named '%s' not found"  # closefd, remove-fd
GET_FD_NOT_FOUND = "File descriptor named '%s' has not been found"  # monitor_get_fd (fd:NAME users)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def attach(inst: Instance) -> None:
    """Hook the instance's life cycle (the start-up pipeline calls this once).

    QEMU ``monitor/qmp.c`` ``monitor_qmp_event``: each closed monitor
    connection runs ``monitor_fdsets_cleanup``; and the descriptors die with
    the process."""
    inst.session_close_listeners.append(lambda: cleanup_fdsets(inst))
    inst.exit_listeners.append(lambda cause: close_all(inst))


def close_all(inst: Instance) -> None:
    """The instance ended: close every descriptor it holds (named ones, owned set members)."""
    b = inst.backends
    for names in b.fdnames.values():
        for fd in names.values():
            _close(fd)
    b.fdnames.clear()
    for entries in b.fdsets.values():
        for e in entries:
            if e["owned"]:
                _close(e["fd"])
    b.fdsets.clear()


# --- named descriptors ---------------------------------------------------------------------


def _received(ctx: Any) -> int | None:
    """The descriptor that came with the request, if any (``qemu_chr_fe_get_msgfd``)."""
    s = ctx.session
    return s.take_fd() if s is not None else None


@command("getfd")
def getfd(ctx, args):
    """QEMU ``qmp_getfd``: no descriptor received -> error; a name starting with a
    digit is refused (and the descriptor closed); an existing name gets the new
    descriptor and the old one is closed."""
    fd = _received(ctx)
    if fd is None:
        raise QMPError(NO_FD)
    name = args["fdname"]
    if "0" <= name[:1] <= "9":  # qemu_isdigit: ASCII digits
        _close(fd)
        raise QMPError("Parameter 'fdname' expects a name not starting with a digit")
    names = ctx.instance.backends.fdnames.setdefault(ctx.session.monitor, {})
    old = names.get(name)
    names[name] = fd
    if old is not None:
        _close(old)


@command("closefd")
def closefd(ctx, args):
    """QEMU ``qmp_closefd``: forget the name and close its descriptor."""
    name = args["fdname"]
    names = ctx.instance.backends.fdnames.get(ctx.session.monitor if ctx.session is not None else None)
    if names is None or name not in names:
        raise QMPError(NOT_FOUND % name)
    _close(names.pop(name))


def take_fd(inst: Instance, name: str, monitor: Any = None) -> int | None:
    """The descriptor ``getfd`` stored as ``name``, handed over: the caller closes it.

    QEMU ``monitor_get_fd``: the name is removed from the monitor's list when
    used; without it the caller fails with ``GET_FD_NOT_FOUND % name``.  Pass
    the monitor the command came in on (``ctx.session.monitor``, QEMU's
    ``monitor_cur()``); with None every monitor of the instance is searched
    (QEMU has no such lookup; an instance with one monitor behaves the same).
    """
    tables = inst.backends.fdnames
    if monitor is not None:
        names = tables.get(monitor)
        return names.pop(name, None) if names else None
    for names in tables.values():
        if name in names:
            return names.pop(name)
    return None


# --- fd sets ---------------------------------------------------------------------------------


def add_cli_fd(inst: Instance, opts: dict) -> None:
    """``-add-fd fd=N,set=S[,opaque=O]`` (already checked by the command line)."""
    _add_to_set(inst, opts.get("fd"), opts.get("set"), opts.get("opaque"), owned=False)


def _add_to_set(inst: Instance, fd: Any, set_id: int | None, opaque: str | None, owned: bool) -> int:
    """QEMU ``monitor_fdset_add_fd``: into set ``set_id`` (created if new), else
    into a new set with the lowest free id; returns the set id."""
    sets = inst.backends.fdsets
    if set_id is None:
        set_id = 0
        while set_id in sets:
            set_id += 1
    elif set_id not in sets and set_id < 0:
        raise QMPError("Parameter 'fdset-id' expects a non-negative value")
    entry: dict[str, Any] = {"fd": fd, "removed": False, "owned": owned}
    if opaque is not None:
        entry["opaque"] = opaque
    sets.setdefault(set_id, []).append(entry)
    return set_id


@command("add-fd")
def add_fd(ctx, args):
    """QEMU ``qmp_add_fd``: the received descriptor joins a set; the reply names
    the set and the descriptor's number in this process."""
    fd = _received(ctx)
    if fd is None:
        raise QMPError(NO_FD)
    try:
        set_id = _add_to_set(ctx.instance, fd, args.get("fdset-id"), args.get("opaque"), owned=True)
    except QMPError:
        _close(fd)
        raise
    return {"fdset-id": set_id, "fd": fd}


def _cleanup_set(inst: Instance, set_id: int) -> None:
    """QEMU ``monitor_fdset_cleanup``: while the VM runs, close the members marked
    removed, and every member once no monitor connection is open; a set left
    empty disappears.  While the VM does not run nothing is closed (a removed
    member is still listed)."""
    if inst.runstate != "running":
        return
    sets = inst.backends.fdsets
    open_connections = sum(len(m.sessions) for m in inst.monitors)
    keep = []
    for e in sets[set_id]:
        if e["removed"] or open_connections == 0:
            if e["owned"]:
                _close(e["fd"])
        else:
            keep.append(e)
    if keep:
        sets[set_id] = keep
    else:
        del sets[set_id]


def cleanup_fdsets(inst: Instance) -> None:
    """QEMU ``monitor_fdsets_cleanup``, run when a monitor connection closes."""
    for set_id in list(inst.backends.fdsets):
        _cleanup_set(inst, set_id)


@command("remove-fd")
def remove_fd(ctx, args):
    """QEMU ``qmp_remove_fd``: mark one member (or the whole set) removed, then
    clean the set up (see :func:`_cleanup_set`)."""
    inst = ctx.instance
    set_id = args["fdset-id"]
    fd = args.get("fd")
    entries = inst.backends.fdsets.get(set_id)
    if entries is not None:
        if fd is None:
            for e in entries:
                e["removed"] = True
        else:
            # QEMU walks the set newest first and marks the first match
            hit = next((e for e in reversed(entries) if e["fd"] == fd), None)
            if hit is None:
                raise QMPError(NOT_FOUND % ("fdset-id:%d, fd:%d" % (set_id, fd)))
            hit["removed"] = True
        _cleanup_set(inst, set_id)
        return
    if fd is not None:
        raise QMPError(NOT_FOUND % ("fdset-id:%d, fd:%d" % (set_id, fd)))
    raise QMPError(NOT_FOUND % ("fdset-id:%d" % set_id))


@command("query-fdsets")
def query_fdsets(ctx, args):
    """QEMU ``qmp_query_fdsets``: sets by descending id, members oldest first
    (removed ones included while they are still held)."""
    sets = ctx.instance.backends.fdsets
    out = []
    for set_id in sorted(sets, reverse=True):
        fds = []
        for e in sets[set_id]:
            x = {"fd": e["fd"]}
            if "opaque" in e:
                x["opaque"] = e["opaque"]
            fds.append(x)
        out.append({"fdset-id": set_id, "fds": fds})
    return out
