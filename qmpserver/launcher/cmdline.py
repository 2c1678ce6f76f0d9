"""QEMU's command line -> what to launch (``softmmu/vl.c`` of QEMU 7.2).

Two passes, as QEMU makes them:

1. :func:`first_pass` looks every option up (``invalid option``,
   ``requires an argument``, ``Option not supported for this target``);
2. :class:`Cmdline` processes the options in order, with the checks QEMU
   makes while parsing (syntax, QemuOpts/keyval/JSON texts, ``-uuid``,
   ``-object`` types, duplicate IDs); each error names the option as typed.

What QEMU checks later (machine, accelerator, CPU, sockets, devices) is done
by :mod:`qmpserver.launcher.main` in QEMU's order, partly through
:class:`qmpserver.vm.instance.Instance`.  Everything given is recorded in
``InstanceConfig.options`` as ``(option, argument)`` pairs.
"""

from __future__ import annotations

from ..qapi.opts import (
    OptsList,
    QemuOptsError,
    json_visit,
    keyval_merge,
    keyval_parse,
    keyval_visit,
    opts_visit,
    parse_cpu,
    parse_json_option,
    qemu_opts_parse,
)
from ..vm.config import InstanceConfig, parse_uuid
from . import options as _options
from .report import Diag, Exit

# --- QemuOpts lists (qemu-options / vl.c) -------------------------------------------------

_CHARDEV_DESC = {
    "backend": "string",
    "path": "string",
    "host": "string",
    "port": "string",
    "fd": "string",
    "local": "string",
    "localaddr": "string",
    "localport": "string",
    "to": "number",
    "ipv4": "bool",
    "ipv6": "bool",
    "wait": "bool",
    "server": "bool",
    "delay": "bool",
    "nodelay": "bool",
    "reconnect": "number",
    "telnet": "bool",
    "tn3270": "bool",
    "tls-creds": "string",
    "tls-authz": "string",
    "websocket": "bool",
    "width": "number",
    "height": "number",
    "cols": "number",
    "rows": "number",
    "mux": "bool",
    "signal": "bool",
    "name": "string",
    "debug": "number",
    "size": "size",
    "chardev": "string",
    "append": "bool",
    "logfile": "string",
    "logappend": "bool",
    "mouse": "bool",
    "clipboard": "bool",
    "tight": "bool",
    "abstract": "bool",
}


# audio drivers of Debian's 7.2 build (its -help lists them)
AUDIO_DRIVERS = ("none", "alsa", "oss", "pa", "sdl", "sndio", "spice", "dbus", "wav")

DISPLAY_TYPES_7_2 = ("default", "none", "gtk", "sdl", "egl-headless", "curses", "cocoa", "spice-app", "dbus")


def _lists():
    return {
        "memory": OptsList(
            "memory", "size", {"size": "size", "slots": "number", "maxmem": "size"}, merge=True
        ),
        "name": OptsList(
            "name", "guest", {"guest": "string", "process": "string", "debug-threads": "bool"}, merge=True
        ),
        "rtc": OptsList("rtc", None, {"base": "string", "clock": "string", "driftfix": "string"}, merge=True),
        "msg": OptsList("msg", None, {"timestamp": "bool", "guest-name": "bool"}, merge=True),
        "overcommit": OptsList("overcommit", None, {"mem-lock": "bool", "cpu-pm": "bool"}, merge=True),
        "sandbox": OptsList(
            "sandbox",
            "enable",
            {
                "enable": "bool",
                "obsolete": "string",
                "elevateprivileges": "string",
                "spawn": "string",
                "resourcecontrol": "string",
            },
            merge=True,
        ),
        "accel": OptsList("accel", "accel", None),
        "chardev": OptsList("chardev", "backend", _CHARDEV_DESC),
        "mon": OptsList("mon", "chardev", {"mode": "string", "chardev": "string", "pretty": "bool"}),
        "device": OptsList("device", "driver", None),
        "object": OptsList("object", "qom-type", None),
        "netdev": OptsList("netdev", "type", None),
        "global": OptsList("global", None, {"driver": "string", "property": "string", "value": "string"}),
        "action": OptsList(
            "action",
            None,
            {"reboot": "string", "shutdown": "string", "panic": "string", "watchdog": "string"},
            merge=True,
        ),
        "add-fd": OptsList("add-fd", None, {"fd": "number", "set": "number", "opaque": "string"}),
    }


class ChardevSpec:
    __slots__ = ("id", "backend", "opts", "loc", "compat")

    def __init__(self, id_, backend, opts, loc, compat=False):
        self.id = id_
        self.backend = backend  # 'socket', 'stdio', ...
        self.opts = opts  # name -> typed value
        self.loc = loc
        self.compat = compat  # from -qmp/-monitor (compat syntax)


class MonitorSpec:
    __slots__ = ("id", "chardev", "mode", "pretty", "loc", "raw")

    def __init__(self, id_, chardev, mode, pretty, loc, raw=None):
        self.id = id_
        self.chardev = chardev
        self.mode = mode
        self.pretty = pretty
        self.loc = loc
        self.raw = raw or {}


class Launch:
    """The parsed command line."""

    def __init__(self):
        self.config = InstanceConfig()
        self.config.memory = None  # None: the machine's default
        self.machine_dict: dict = {}  # merged -machine keyval (type, accel, smp, boot ...)
        self.machine_loc = None
        self.accel_opts: list = []  # [(name, props, loc)] from -accel
        self.cpu_option = None
        self.memory = None  # Parsed -m group
        self.memory_loc = None
        self.pidfile = None
        self.daemonize = False
        self.chardevs: dict = {}  # id -> ChardevSpec, in order
        self.monitors: list = []  # MonitorSpec in order
        self.serials: list = []  # -serial: (label, ChardevSpec or None for chardev:X, loc)
        self.objects: list = []  # (dict, loc)
        self.devices: list = []  # (dict, loc, JSON form)
        self.blockdevs: list = []  # (dict, loc)
        self.netdevs: list = []  # (dict, loc, legacy raw)
        self.audiodevs: list = []
        self.globals: list = []  # (driver, property, value)
        self.display = None
        self.nographic = False
        self.nodefaults = False
        self.default_serial = True
        self.default_monitor = True
        self.default_parallel = True
        self.rtc = None
        self.msg = None
        self.sandbox = None
        self.sandbox_loc = None
        self.overcommit = None
        self.name_opts = None
        self.compat = None
        self.incoming = None
        self.preconfig = False
        self.loadvm = None
        self.help_cpu = False
        self.kernel = None
        self.warnings: list = []  # (text, loc, hint) printed in order
        self.add_fds: list = []
        self.action = None  # (merged -action group, loc)

    def spawn_denied(self) -> bool:
        """``-sandbox on,spawn=deny`` (libvirt's default sandbox): QEMU's seccomp filter kills
        the process when it forks a helper (``Instance.before_spawn``)."""
        s = self.sandbox
        return s is not None and bool(s.opts.get("enable")) and s.opts.get("spawn") == "deny"


def first_pass(args, version=(7, 2, 0), target="aarch64"):
    """``lookup_opt`` over all of argv; returns [(name, arg, loc)] (name None: a disk image)."""
    out = []
    i = 0
    n = len(args)
    while i < n:
        a = args[i]
        if not a.startswith("-"):
            out.append((None, a, (a,)))
            i += 1
            continue
        r = a[1:]
        if r.startswith("-"):
            r = r[1:]
        info = _options.lookup(r, version, target) if r else None
        if info is None:
            raise Diag("invalid option", (a,))
        has_arg, supported = info
        if has_arg:
            if i + 1 >= n:
                raise Diag("requires an argument", (a,))
            arg = args[i + 1]
            loc = (a, arg)
            i += 2
        else:
            arg = None
            loc = (a,)
            i += 1
        if not supported:
            raise Diag("Option not supported for this target", loc)
        out.append((r, arg, loc))
    return out


def _parse_with_first(lst, params, firstname):
    """``qemu_opts_do_parse`` with an implied first name (no short-form warnings)."""
    saved = lst.implied
    lst.implied = firstname
    try:
        return qemu_opts_parse(lst, params, True, False, store=False)
    finally:
        lst.implied = saved


def _opts_error(e: QemuOptsError, loc):
    return Diag(e.message, loc, e.hint)


class Cmdline:
    """The second pass: one method per option, run in argv order."""

    def __init__(self, profile, warn=None, reporter=None):
        self.profile = profile
        self.reporter = reporter
        self.build = profile.build
        self.lists = _lists()
        self.launch = Launch()
        self.monitor_index = 0
        self._warn = warn  # callable(text, loc, hint) printing a warning at once

    # -- helpers -----------------------------------------------------------------------

    def warn(self, text, loc=None, hint=""):
        if self._warn is not None:
            self._warn(text, loc, hint)
        else:
            self.launch.warnings.append((text, loc, hint))

    def qopts(self, listname, arg, loc, permit_abbrev=True, warn_on_flag=True, store=True):
        warnings = []
        try:
            return qemu_opts_parse(
                self.lists[listname], arg, permit_abbrev, warn_on_flag, store, warnings=warnings
            )
        except QemuOptsError as e:
            raise _opts_error(e, loc) from None
        finally:
            for text, hint in warnings:
                self.warn(text, loc, hint)

    def schema_type(self, command, ret=False):
        cmd = self.build.schema.command(command)
        if cmd is None:
            return None
        return cmd.ret_type if ret else cmd.arg_type

    # -- the pass ----------------------------------------------------------------------------

    def parse(self, args, version=None, target=None):
        b = self.build
        items = first_pass(args, version or b.version, target or b.target)
        L = self.launch
        for name, arg, loc in items:
            L.config.options.append((name or "hda", arg))
            if name is None:
                self.opt_drive_image(arg, loc)
                continue
            fn = getattr(self, "opt_" + name.replace("-", "_"), None)
            if fn is not None:
                fn(arg, loc)
        return L

    # -- standard options ---------------------------------------------------------------------

    def opt_h(self, arg, loc):
        from .help import usage

        raise Exit(0, usage(self.profile))

    opt_help = opt_h

    def opt_version(self, arg, loc):
        from .help import version_text

        raise Exit(0, version_text(self.profile))

    def opt_machine(self, arg, loc):
        L = self.launch
        try:
            d, help_ = keyval_parse(arg, "type")
        except QemuOptsError as e:
            raise _opts_error(e, loc) from None
        keyval_merge(L.machine_dict, d)
        if "type" in d:
            L.machine_loc = loc
        if help_:
            from .help import machine_help

            raise Exit(0, machine_help(self.profile, L.machine_dict.get("type")))

    opt_M = opt_machine

    def opt_accel(self, arg, loc):
        g = self.qopts("accel", arg, loc)
        name = g.opts.get("accel")
        if name is None or name == "help" or g.help:
            from .help import accel_help

            raise Exit(0, accel_help(self.profile))
        props = {k: v for k, v in g.opts.items() if k != "accel"}
        self.launch.accel_opts.append((name, props, loc))

    def opt_enable_kvm(self, arg, loc):
        self.launch.machine_dict["accel"] = "kvm"

    def opt_cpu(self, arg, loc):
        self.launch.cpu_option = (arg, loc)

    def opt_m(self, arg, loc):
        L = self.launch
        L.memory = self.qopts("memory", arg, loc)
        L.memory_loc = loc

    def opt_smp(self, arg, loc):
        try:
            d, help_ = keyval_parse(arg, "cpus")
        except QemuOptsError as e:
            raise _opts_error(e, loc) from None
        if help_:
            raise Exit(0, "smp-opts options:\n")
        keyval_merge(self.launch.machine_dict, {"smp": d})

    def opt_boot(self, arg, loc):
        try:
            d, help_ = keyval_parse(arg, "order")
        except QemuOptsError as e:
            raise _opts_error(e, loc) from None
        if help_:
            raise Exit(0, "boot-opts options:\n")
        keyval_merge(self.launch.machine_dict, {"boot": d})

    def opt_uuid(self, arg, loc):
        try:
            self.launch.config.uuid = parse_uuid(arg)
        except ValueError as e:
            raise Diag(str(e), loc) from None

    def opt_name(self, arg, loc):
        g = self.qopts("name", arg, loc)
        self.launch.name_opts = g
        if "guest" in g.opts:
            self.launch.config.name = g.opts["guest"]

    def opt_S(self, arg, loc):
        self.launch.config.start_paused = True

    def opt_preconfig(self, arg, loc):
        self.launch.preconfig = True
        self.launch.config.preconfig = True

    def opt_no_shutdown(self, arg, loc):
        self.launch.config.no_shutdown = True

    def opt_action(self, arg, loc):
        g = self.qopts("action", arg, loc, permit_abbrev=False)
        self.launch.action = (g, loc)
        if g.opts.get("shutdown") == "pause":
            self.launch.config.no_shutdown = True
        if g.opts.get("panic") is not None:
            # a value outside PanicAction is refused by check_action before the instance starts
            self.launch.config.panic_action = str(g.opts["panic"])

    def opt_nodefaults(self, arg, loc):
        L = self.launch
        L.nodefaults = True
        L.default_serial = L.default_monitor = L.default_parallel = False

    def opt_nographic(self, arg, loc):
        L = self.launch
        L.nographic = True
        L.display = {"type": "none"}

    def opt_daemonize(self, arg, loc):
        self.launch.daemonize = True

    def opt_pidfile(self, arg, loc):
        self.launch.pidfile = arg

    def opt_incoming(self, arg, loc):
        L = self.launch
        L.incoming = (arg, loc)
        L.config.incoming = arg

    def opt_loadvm(self, arg, loc):
        self.launch.loadvm = arg

    def opt_kernel(self, arg, loc):
        self.launch.machine_dict["kernel"] = arg

    def opt_initrd(self, arg, loc):
        self.launch.machine_dict["initrd"] = arg

    def opt_append(self, arg, loc):
        self.launch.machine_dict["append"] = arg

    def opt_serial(self, arg, loc):
        """``serial_parse`` (QEMU 7.2 softmmu/vl.c): ``none`` adds nothing; anything else
        is the next ``serialN`` port, on the chardev ``chardev:X`` names or on a new chardev
        labelled ``serialN`` made from the compat syntax (created after ``-chardev``'s)."""
        L = self.launch
        L.default_serial = False
        if arg == "none":
            return
        if arg.startswith("chardev:"):
            L.serials.append((arg[8:], None, loc))
            return
        label = "serial%d" % len(L.serials)
        L.serials.append((label, self.chr_parse_compat(label, arg, loc), loc))

    def opt_parallel(self, arg, loc):
        self.launch.default_parallel = False

    def opt_monitor(self, arg, loc):
        self.launch.default_monitor = False
        self.monitor_parse(arg, loc, "readline", False)

    def opt_qmp(self, arg, loc):
        self.launch.default_monitor = False
        self.monitor_parse(arg, loc, "control", False)

    def opt_qmp_pretty(self, arg, loc):
        self.launch.default_monitor = False
        self.monitor_parse(arg, loc, "control", True)

    def opt_mon(self, arg, loc):
        L = self.launch
        g = self.qopts("mon", arg, loc)
        L.default_monitor = False
        L.monitors.append(
            MonitorSpec(g.id, g.opts.get("chardev"), g.raw.get("mode"), g.raw.get("pretty"), loc, dict(g.raw))
        )

    def opt_chardev(self, arg, loc):
        g = self.qopts("chardev", arg, loc)
        if g.help:
            g.opts["backend"] = "help"  # listed when the chardevs are created
        self.launch.chardevs[g.id if g.id is not None else object()] = ChardevSpec(
            g.id, g.opts.get("backend"), g.opts, loc
        )

    def opt_msg(self, arg, loc):
        g = self.qopts("msg", arg, loc, permit_abbrev=False)
        self.launch.msg = g
        if self.reporter is not None:  # configure_msg: applies from here on
            self.reporter.timestamp = bool(g.opts.get("timestamp", False))

    def opt_rtc(self, arg, loc):
        self.launch.rtc = self.qopts("rtc", arg, loc, permit_abbrev=False)

    def opt_sandbox(self, arg, loc):
        self.launch.sandbox = self.qopts("sandbox", arg, loc)
        self.launch.sandbox_loc = loc

    def opt_overcommit(self, arg, loc):
        self.launch.overcommit = self.qopts("overcommit", arg, loc, permit_abbrev=False)

    def opt_add_fd(self, arg, loc):
        g = self.qopts("add-fd", arg, loc, permit_abbrev=False)
        self.launch.add_fds.append((g, loc))

    def opt_global(self, arg, loc):
        import re

        m = re.match(r"([^.=]{1,63})\.([^=]{1,63})=", arg)
        if m:
            self.launch.globals.append((m.group(1), m.group(2), arg[m.end() :]))
            return
        g = self.qopts("global", arg, loc, permit_abbrev=False)
        if not all(k in g.opts for k in ("driver", "property", "value")):
            raise Diag("options 'driver', 'property', and 'value' are required", loc)
        self.launch.globals.append((g.opts["driver"], g.opts["property"], g.opts["value"]))

    def opt_display(self, arg, loc):
        if arg == "help":
            from .help import display_help

            raise Exit(0, display_help())
        if arg.startswith("vnc"):
            if not arg.startswith("vnc="):
                raise Diag("VNC requires a display argument vnc=<display>", loc)
            self.launch.display = {"type": "vnc", "vnc": arg[4:]}
            return
        if arg == "none":
            # DisplayType 'none' exists in every build and the keyval visit of a
            # bare implied value gives just {type}: no need to load the build's
            # schema (about 30 ms) before the greeting for the common case
            self.launch.display = {"type": "none"}
            return
        self.launch.display = self.structured(
            arg, loc, self.schema_type("query-display-options", ret=True), "type"
        )

    def opt_vnc(self, arg, loc):
        self.launch.display = {"type": "vnc", "vnc": arg}

    def opt_compat(self, arg, loc):
        from ..qapi.model import EnumType, Member, ObjectType

        inp = EnumType("CompatPolicyInput", ("accept", "reject", "crash"))
        outp = EnumType("CompatPolicyOutput", ("accept", "hide"))
        members = [Member("deprecated-input", inp, True), Member("deprecated-output", outp, True)]
        if tuple(self.build.version) >= (6, 2, 0):
            members += [Member("unstable-input", inp, True), Member("unstable-output", outp, True)]
        value = self.structured(arg, loc, ObjectType("CompatPolicy", members), None)
        c = self.launch.config.compat
        for k, v in value.items():
            setattr(c, k.replace("-", "_"), v)

    def opt_audiodev(self, arg, loc):
        from ..qapi.model import BuiltinType, EnumType, Member, ObjectType

        drv = EnumType("AudiodevDriver", AUDIO_DRIVERS)
        t = ObjectType(
            "Audiodev",
            [
                Member("id", BuiltinType("str", "string")),
                Member("timer-period", BuiltinType("uint32", "int"), True),
                Member("driver", drv),
            ],
        )
        try:
            if arg.startswith("{"):
                d = parse_json_option(arg)
            else:
                d, _ = keyval_parse(arg, "driver")
            if not isinstance(d, dict):
                raise QemuOptsError("Invalid parameter type for '<anonymous>', expected: object")
            for m in t.members:
                if m.name not in d:
                    if not m.optional:
                        raise QemuOptsError("Parameter '%s' is missing" % m.name)
                    continue
                if m.name == "driver" and d["driver"] not in AUDIO_DRIVERS:
                    raise QemuOptsError("Parameter 'driver' does not accept value '%s'" % d["driver"])
        except QemuOptsError as e:
            raise _opts_error(e, loc) from None
        self.launch.audiodevs.append((d, loc))

    # -- objects, devices, backends -----------------------------------------------------------

    def opt_object(self, arg, loc):
        t = self.schema_type("object-add")
        L = self.launch
        try:
            if arg.startswith("{"):
                value = parse_json_option(arg)
                if t is not None:
                    json_visit(t, value)
                obj = dict(value) if isinstance(value, dict) else value
            else:
                g = self.qopts("object", arg, loc)
                if g.help:
                    from .help import object_help

                    raise Exit(0, object_help(self.profile, g.raw.get("qom-type")))
                if "qom-type" not in g.raw:
                    raise QemuOptsError("Parameter 'qom-type' is missing")
                if g.raw.get("qom-type") == "help":
                    from .help import object_help

                    raise Exit(0, object_help(self.profile, None))
                raw = dict(g.raw)
                if g.id is not None:
                    raw["id"] = g.id
                obj = opts_visit(t, raw, g.order) if t is not None else raw
                for k in raw:  # keep members the schema does not know as given
                    obj.setdefault(k, raw[k])
        except QemuOptsError as e:
            raise _opts_error(e, loc) from None
        L.objects.append((obj, loc))
        L.config.objects.append(obj)

    def opt_device(self, arg, loc):
        L = self.launch
        if arg.startswith("{"):
            try:
                value = parse_json_option(arg)
            except QemuOptsError as e:
                raise _opts_error(e, loc) from None
            if not isinstance(value, dict):
                raise Diag("Invalid parameter type for '<anonymous>', expected: object", loc)
            dev = dict(value)
        else:
            g = self.qopts("device", arg, loc)
            dev = dict(g.raw)
            if g.id is not None:
                dev["id"] = g.id
            if g.help or dev.get("driver") == "help":
                from .help import device_help

                raise Exit(0, device_help(self.profile, dev.get("driver") if g.help else None))
        L.devices.append((dev, loc, arg.startswith("{")))
        L.config.devices.append(dev)

    def structured(self, arg, loc, t, implied):
        """An option given as JSON (``{...}``) or as keyval, visited against schema type ``t``
        (``None``: a recorded schema without it, taken as given)."""
        try:
            if arg.startswith("{"):
                value = parse_json_option(arg)
                if t is not None:
                    json_visit(t, value)
                return value
            d, _ = keyval_parse(arg, implied)
            return keyval_visit(t, d, []) if t is not None else d
        except QemuOptsError as e:
            raise _opts_error(e, loc) from None

    def opt_blockdev(self, arg, loc):
        value = self.structured(arg, loc, self.schema_type("blockdev-add"), "driver")
        self.launch.blockdevs.append((value, loc))

    def opt_netdev(self, arg, loc):
        L = self.launch
        modern = arg.startswith("{")
        if not modern:
            try:
                d, _ = keyval_parse(arg, "type")
                modern = d.get("type") in ("stream", "dgram")
            except QemuOptsError:
                modern = False
        if modern:
            value = self.structured(arg, loc, self.schema_type("netdev_add"), "type")
            L.netdevs.append((value, loc, None))
        else:
            g = self.qopts("netdev", arg, loc)
            raw = dict(g.raw)
            if g.id is not None:
                raw["id"] = g.id
            L.netdevs.append((raw, loc, g))

    def opt_drive_image(self, arg, loc):
        pass

    # -- -qmp / -monitor compat syntax (qemu_chr_parse_compat) -----------------------------

    def monitor_parse(self, arg, loc, mode, pretty):
        L = self.launch
        if arg.startswith("chardev:"):
            label = arg[8:]
        else:
            label = "compat_monitor%d" % self.monitor_index
            spec = self.chr_parse_compat(label, arg, loc)
            L.chardevs[label] = spec
        for m in L.monitors:
            if m.id == label:
                raise Diag("Duplicate ID '%s' for mon" % label, loc)
        L.monitors.append(MonitorSpec(label, label, mode, "on" if pretty else "off", loc))
        self.monitor_index += 1

    def chr_parse_compat(self, label, filename, loc):
        def fail(first=None):
            before = [(first.message, loc, first.hint)] if first is not None else []
            return Diag("parse error: %s" % filename, loc, before=before)

        def extra(params, firstname, opts):
            lst = OptsList("chardev", None, _CHARDEV_DESC)
            try:
                g = (
                    qemu_opts_parse(lst, params, firstname is not None, False, store=False)
                    if firstname is None
                    else _parse_with_first(lst, params, firstname)
                )
            except QemuOptsError as e:
                raise fail(e) from None
            opts.update(g.opts)
            return opts

        if label in self.launch.chardevs:
            raise fail()
        if filename.startswith("mon:"):
            spec = self.chr_parse_compat(label, filename[4:], loc)
            spec.opts["mux"] = True
            return spec
        if filename in ("null", "pty", "msmouse", "wctablet", "braille", "testdev", "stdio"):
            return ChardevSpec(label, filename, {"backend": filename}, loc, True)
        if filename.startswith("vc"):
            return ChardevSpec(label, "vc", {"backend": "vc"}, loc, True)
        for prefix, backend in (("file:", "file"), ("pipe:", "pipe")):
            if filename.startswith(prefix):
                return ChardevSpec(
                    label, backend, {"backend": backend, "path": filename[len(prefix) :]}, loc, True
                )
        for prefix in ("tcp:", "telnet:", "tn3270:", "websocket:"):
            if filename.startswith(prefix):
                p = filename[len(prefix) :]
                import re

                m = re.match(r"([^:]{1,64}):([^,]{1,32})", p)
                if m:
                    host, port, pos = m.group(1), m.group(2), m.end()
                else:
                    m = re.match(r":([^,]{1,32})", p)
                    if not m:
                        raise fail()
                    host, port, pos = "", m.group(1), m.end()
                opts = {"backend": "socket", "host": host, "port": port}
                if p[pos : pos + 1] == ",":
                    extra(p[pos + 1 :], None, opts)
                if prefix != "tcp:":
                    opts[prefix[:-1]] = True
                return ChardevSpec(label, "socket", opts, loc, True)
        if filename.startswith("udp:"):
            return ChardevSpec(label, "udp", {"backend": "udp", "spec": filename[4:]}, loc, True)
        if filename.startswith("unix:"):
            opts = {"backend": "socket"}
            extra(filename[5:], "path", opts)
            return ChardevSpec(label, "socket", opts, loc, True)
        if filename.startswith("/dev/"):
            return ChardevSpec(label, "serial", {"backend": "serial", "path": filename}, loc, True)
        raise Diag(
            "parse error: %s" % filename,
            loc,
            before=[("'%s' is not a valid char driver" % filename, loc, "")],
        )


def parse_argv(profile, args, warn=None) -> Launch:
    """Both passes; raises :class:`Diag` (exit 1) or :class:`Exit` (help/version)."""
    return Cmdline(profile, warn).parse(args)


__all__ = ["Cmdline", "Launch", "first_pass", "parse_argv", "parse_cpu"]
