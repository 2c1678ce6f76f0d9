"""Display: ``query-display-options``, ``query-vnc``, ``set_password``,
``expire_password`` from ``-display``/``-vnc`` (``InstanceConfig.display``).
"""

from __future__ import annotations

from ..errors import QMPError
from .registry import command


def _display(inst):
    d = inst.config.display
    return d if isinstance(d, dict) else {"type": "none"}


@command("query-display-options")
def query_display_options(ctx, args):
    d = dict(_display(ctx.instance))
    if d.get("type") == "vnc":
        return {"type": "none"}
    d.setdefault("type", "none")
    return d


@command("set_password")
def set_password(ctx, args):
    proto = args["protocol"]
    d = _display(ctx.instance)
    if proto == "vnc":
        if d.get("type") != "vnc":
            raise QMPError("Could not set password")
        return
    raise QMPError("SPICE is not in use")


@command("expire_password")
def expire_password(ctx, args):
    proto = args["protocol"]
    d = _display(ctx.instance)
    if proto == "vnc":
        if d.get("type") != "vnc":
            raise QMPError("Could not set password expire time.")
        return
    raise QMPError("SPICE is not in use")


@command("query-vnc")
def query_vnc(ctx, args):
    inst = ctx.instance
    d = _display(inst)
    if d.get("type") != "vnc":
        return {"enabled": False}
    spec = str(d.get("vnc", ""))
    host, _, disp = spec.partition(":")
    try:
        port = 5900 + int(disp.split(",")[0])
    except ValueError:
        port = 5900
    # VncInfo members in QAPI order
    return {
        "enabled": True,
        "host": host or "0.0.0.0",
        "family": "ipv4",
        "service": str(port),
        "auth": "none",
        "clients": [],
    }


@command("send-key")
def send_key(ctx, args):
    """``qmp_send_key`` (QEMU 7.2 ui/input.c): the keys are queued as input events for
    whatever input handler the guest has, each pressed and released after ``hold-time``.
    Nothing is checked beyond the schema (real 7.2 answers ``{}`` for an empty list, an
    unknown key number or a negative hold time, with or without a keyboard device) and
    there is no event; the simulated guest never runs, so the keys have no further effect."""
    return {}
