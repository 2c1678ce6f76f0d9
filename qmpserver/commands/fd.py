"""File descriptors: ``-add-fd`` sets and ``getfd``/``closefd``/``add-fd``/
``remove-fd``/``query-fdsets`` (QEMU 7.2 ``monitor/fds.c``).  No descriptor
ever arrives over SCM_RIGHTS here, so the commands that need one fail as
QEMU's do without it.

State: ``instance.backends.fdsets`` (set id -> fds), filled from ``-add-fd``
by the start-up pipeline.
"""

from __future__ import annotations

from ..errors import QMPError
from .registry import command


def fdsets(inst) -> dict:
    return inst.backends.fdsets


def add_cli_fd(inst, opts: dict) -> None:
    """``-add-fd fd=N,set=S[,opaque=O]`` (already checked by the command line)."""
    entry = {"fd": opts.get("fd")}
    if "opaque" in opts:
        entry["opaque"] = opts["opaque"]
    inst.backends.fdsets.setdefault(opts.get("set"), []).append(entry)


@command("getfd")
def getfd(ctx, args):
    raise QMPError("No file descriptor supplied via SCM_RIGHTS")


@command("closefd")
def closefd(ctx, args):
    raise QMPError("File descriptor named '%s' not found" % args["fdname"])


@command("add-fd")
def add_fd(ctx, args):
    raise QMPError("No file descriptor supplied via SCM_RIGHTS")


@command("remove-fd")
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


@command("query-fdsets")
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
