"""``human-monitor-command``: a small HMP with QEMU's output format.

Supported: ``info version|status|name|kvm|uuid|cpus|snapshots``, ``help``,
``info`` (list), ``stop``, ``cont``/``c``, ``system_reset``,
``system_powerdown``, ``quit``/``q``, ``savevm``/``loadvm``/``delvm``
(:mod:`qmpserver.commands.snapshot`).  Other commands
answer ``unknown command: 'X'`` as QEMU does for names it does not know.
Output lines end in CRLF, like QEMU's HMP-over-QMP.
"""

from __future__ import annotations

from ..errors import QMPError
from ..vm.config import NO_UUID
from .registry import command

_INFO_HELP = {
    "version": "show the version of QEMU",
    "status": "show the current VM status (running|paused)",
    "name": "show the current VM name",
    "kvm": "show KVM information",
    "uuid": "show the current VM UUID",
    "cpus": "show infos for each CPU",
    "snapshots": "show the currently saved VM snapshots",
}

_HELP = {
    "cont|c": "resume emulation",
    "delvm tag": "delete a VM snapshot from its tag",
    "loadvm tag": "restore a VM snapshot from its tag",
    "savevm [tag]": "save a VM snapshot. If no tag is provided, a new snapshot is created",
    "help|? [cmd]": "show the help",
    "info [subcommand]": "show various information about the system state",
    "quit|q": "quit the emulator",
    "stop|s": "stop emulation",
    "system_powerdown": "send system power down event",
    "system_reset": "reset the system",
}


def _status(inst) -> str:
    running = inst.runstate == "running"
    text = "VM status: %s" % ("running" if running else "paused")
    if not running and inst.runstate != "paused":
        text += " (%s)" % inst.runstate
    return text + "\n"


def _info(inst, what: str, cpu: int = 0) -> str:
    b = inst.build
    if what == "version":
        major, minor, micro = b.version
        return "%d.%d.%d%s\n" % (major, minor, micro, b.package)
    if what == "status":
        return _status(inst)
    if what == "name":
        return ("%s\n" % inst.name) if inst.name is not None else ""
    if what == "kvm":
        if "kvm" not in b.accelerators:
            return "kvm support: not compiled\n"
        return "kvm support: %s\n" % ("enabled" if inst.accel == "kvm" else "disabled")
    if what == "uuid":
        return "%s\n" % (inst.uuid or NO_UUID)
    if what == "cpus":
        n = int(inst.machine.smp.get("cpus", 1) or 1) if inst.machine.smp else 1
        return "".join(
            # the vCPU thread ids query-cpus-fast reports (hmp_info_cpus prints its thread-id)
            "%s CPU #%d: thread_id=%d\n" % ("*" if i == cpu else " ", i, inst.threads.id_for("vcpu:%d" % i))
            for i in range(n)
        )
    if what == "snapshots":
        from . import snapshot

        return snapshot.info_snapshots(inst)
    raise KeyError(what)


def _string_arg(cmd: str, rest: str, optional: bool):
    """One HMP ``s`` argument (``get_str``: a word, or a double-quoted string with
    backslash escapes) and nothing after it -> the string, or None when optional and
    absent.  Raises ValueError with QEMU's text."""
    i = 0
    while i < len(rest) and rest[i].isspace():
        i += 1
    if i == len(rest):
        if optional:
            return None
        raise ValueError("%s: string expected" % cmd)
    out = []
    if rest[i] == '"':
        i += 1
        while i < len(rest) and rest[i] != '"':
            c = rest[i]
            if c == "\\" and i + 1 < len(rest):
                i += 1
                c = {"n": "\n", "r": "\r"}.get(rest[i], rest[i])
            out.append(c)
            i += 1
        if i == len(rest):
            raise ValueError("%s: string expected" % cmd)  # get_str: unterminated string
        i += 1
    else:
        while i < len(rest) and not rest[i].isspace():
            out.append(rest[i])
            i += 1
    if rest[i:].strip():
        raise ValueError("%s: extraneous characters at the end of line" % cmd)
    return "".join(out)


def _snapshot_command(inst, cmd: str, rest: str) -> str:
    from . import snapshot

    try:
        name = _string_arg(cmd, rest, optional=cmd == "savevm")
    except ValueError as e:
        return '%s\nTry "help %s" for more information\n' % (e, cmd)
    try:
        getattr(snapshot, cmd)(inst, name)
    except snapshot.SnapshotError as e:
        return "Error: %s\n" % e
    return ""


def run(inst, line: str, cpu: int = 0) -> str:
    words = line.split()
    if not words:
        return ""
    cmd, rest = words[0], words[1:]
    if cmd in ("savevm", "loadvm", "delvm"):
        return _snapshot_command(inst, cmd, line.lstrip()[len(cmd) :])
    if cmd == "info":
        if not rest:
            return "".join("info %s  -- %s\n" % kv for kv in sorted(_INFO_HELP.items()))
        try:
            return _info(inst, rest[0], cpu)
        except KeyError:
            return "unknown command: 'info %s'\n" % rest[0]
    if cmd in ("help", "?"):
        return "".join("%s -- %s\n" % kv for kv in sorted(_HELP.items()))
    if cmd in ("stop", "s"):
        inst.stop()
        return ""
    if cmd in ("cont", "c"):
        try:
            inst.cont()
        except QMPError as e:
            return e.desc + "\n"
        return ""
    if cmd == "system_reset":
        inst.system_reset("host-qmp-system-reset")
        return ""
    if cmd == "system_powerdown":
        inst.system_powerdown()
        return ""
    if cmd in ("quit", "q"):
        inst.quit()
        return ""
    return "unknown command: '%s'\n" % cmd


def vcpu_indexes(inst) -> range:
    """The ``cpu-index`` of every vCPU (``query-cpus-fast``'s): one per ``-smp`` CPU, none
    for ``-machine none`` without ``-cpu``."""
    ms = inst.machine
    if ms.type == "none" and not ms.cpu_model:
        return range(0)
    return range(int(ms.smp.get("cpus", 1) or 1) if ms.smp else 1)


@command("human-monitor-command")
def human_monitor_command(ctx, args):
    """QEMU 7.2 ``monitor/hmp-cmds.c`` ``qmp_human_monitor_command``: a ``cpu-index`` must
    name an existing vCPU (``monitor_set_cpu``/``qemu_get_cpu``), which then is the monitor's
    current CPU for the command (``info cpus`` marks it)."""
    cpu = args.get("cpu-index", 0)
    if cpu not in vcpu_indexes(ctx.instance):
        raise QMPError("Parameter 'cpu-index' expects a CPU number")
    out = run(ctx.instance, args["command-line"], cpu)
    return out.replace("\n", "\r\n")
