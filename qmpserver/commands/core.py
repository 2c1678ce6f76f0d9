"""Control and run-state commands (QEMU's ``qapi/control.json``, ``run-state.json``)."""

from __future__ import annotations

from ..errors import COMMAND_NOT_FOUND, QMPError
from ..log import get as get_logger
from ..vm.config import NO_UUID
from ..wire.encode import RawJSON, dumps
from .registry import command

log = get_logger("qmpserver.commands")


def _constant(inst, key, make):
    """A reply that never changes for an instance, encoded once."""
    cache = inst.caches.constant_replies
    v = cache.get(key)
    if v is None:
        v = cache[key] = RawJSON(dumps(make()))
    return v


@command("qmp_capabilities")
def qmp_capabilities(ctx, args):
    session = ctx.session
    if session.negotiated:
        raise QMPError("Capabilities negotiation is already complete, command ignored", COMMAND_NOT_FOUND)
    enable = args.get("enable") or []
    offered = {"oob"} if session.monitor.oob else set()
    missing = []
    for cap in enable:
        if cap not in offered and cap not in missing:
            missing.append(cap)
    if missing:
        raise QMPError("Capability %s not available" % ", ".join(missing))
    session.negotiate("oob" in enable)
    return {}


@command("query-version")
def query_version(ctx, args):
    return _constant(ctx.instance, "query-version", ctx.instance.version_info)


@command("query-commands")
def query_commands(ctx, args):
    names = ctx.session.table.names()
    recorded = ctx.instance.build.recorded_return("query-commands")
    if recorded:
        # a recording has QEMU's own registration order (e.g. 7.0 registers device_add last)
        have = set(names)
        order = [e["name"] for e in recorded if e.get("name") in have]
        extra = [n for n in names if n not in set(order)]
        return [{"name": n} for n in reversed(extra)] + [{"name": n} for n in order]
    # QEMU walks its command list in registration order and prepends
    return [{"name": n} for n in reversed(names)]


@command("query-name")
def query_name(ctx, args):
    name = ctx.instance.name
    return {"name": name} if name is not None else {}


@command("query-uuid")
def query_uuid(ctx, args):
    return {"UUID": ctx.instance.uuid or NO_UUID}


def _has_member(instance, cmd, member) -> bool:
    c = instance.build.schema.command(cmd)
    t = c.ret_type if c is not None else None
    return t is not None and member in getattr(t, "member_map", {})


@command("query-status")
def query_status(ctx, args):
    inst = ctx.instance
    out = {"running": inst.runstate == "running"}
    if _has_member(inst, "query-status", "singlestep"):
        out["singlestep"] = False
    out["status"] = inst.runstate
    return out


@command("query-target")
def query_target(ctx, args):
    return _constant(ctx.instance, "query-target", lambda: {"arch": ctx.instance.build.target})


@command("query-kvm")
def query_kvm(ctx, args):
    inst = ctx.instance
    return {"enabled": inst.accel == "kvm", "present": "kvm" in inst.build.accelerators}


@command("query-accelerators")
def query_accelerators(ctx, args):
    inst = ctx.instance
    return {"enabled": inst.accel, "present": sorted(inst.build.accelerators)}


@command("stop")
def stop(ctx, args):
    ctx.instance.stop()


@command("cont")
def cont(ctx, args):
    ctx.instance.cont()


@command("set-action")
def set_action(ctx, args):
    """``qmp_set_action`` (``softmmu/runstate-action.c``): the actions take effect at once.
    ``panic`` and ``shutdown`` (``pause`` keeps the VM after a guest shutdown, as
    ``-no-shutdown``; ``poweroff`` exits) change what the instance does; ``reboot`` and
    ``watchdog`` are accepted, their effect is not simulated (a log line says so)."""
    cfg = ctx.instance.config
    if "panic" in args:
        cfg.panic_action = args["panic"]
    if "shutdown" in args:
        cfg.no_shutdown = args["shutdown"] == "pause"
    unmodelled = sorted(k for k in ("reboot", "watchdog") if k in args)
    if unmodelled:
        log.warning("set-action %s: not simulated (accepted)", ", ".join(unmodelled))
    return {}


@command("system_reset")
def system_reset(ctx, args):
    ctx.instance.system_reset("host-qmp-system-reset", ctx)


@command("system_powerdown")
def system_powerdown(ctx, args):
    ctx.instance.system_powerdown(ctx)


@command("system_wakeup")
def system_wakeup(ctx, args):
    inst = ctx.instance
    if not inst.machine.wakeup_suspend:
        raise QMPError("wake-up from suspend is not supported by this guest")
    if inst.runstate == "suspended":
        inst.runstate = "running"
        inst.emit("WAKEUP")


@command("quit")
def quit_(ctx, args):
    ctx.instance.quit(ctx)


@command("x-exit-preconfig")
def x_exit_preconfig(ctx, args):
    inst = ctx.instance
    if not inst.preconfig:
        raise QMPError("The command is permitted only before machine initialization")
    inst.preconfig = False
    if inst.autostart:
        inst.vm_start()
    else:
        inst.runstate = "prelaunch"
