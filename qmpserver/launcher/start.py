"""From a parsed command line to a running instance, in QEMU 7.2's order.

``qemu_create_machine`` (machine type, ``-m``, ``-rtc``), default devices,
``-smp``/``-boot``, ``configure_accelerators``, the instance itself
(machine properties, CPU, MTE/GIC: ``StartupError``), chardevs, netdevs,
monitors, the memory backend, ``-device``, ``-incoming``, then the warnings
QEMU prints once the machine is done (unused globals, NICs without peer).
"""

from __future__ import annotations

import os
import socket
import stat

from ..errors import QMPError, StartupError
from .report import Diag

HINT_MACHINE = "Use -machine help to list supported machines"


class _HostView:
    def __init__(self, profile):
        self.build = profile.build
        self.host = profile.host
        self.profile = profile
        self.config = None


def build_instance(runner, L):
    import signal
    # QEMU's termination signals are blocked from here on and collected by a
    # thread (install_signals): one arriving while sockets are being set up is
    # handled like one arriving later
    signal.pthread_sigmask(signal.SIG_BLOCK, TERM_SIGNALS)
    profile = runner.profile
    build = profile.build
    rep = runner.rep
    cfg = L.config
    md = L.machine_dict

    # -- qemu_create_machine ---------------------------------------------------------------
    # The build's recorded answers are loaded on first use; the machine list is
    # read only when a check needs it, so a plain start stays before that load.
    mtype = md.get("type")
    if mtype is None:
        mtype = next((m["name"] for m in build.machines() if m.get("is-default")), None)
        if mtype is None:
            raise Diag("No machine specified, and there is no default", hint=HINT_MACHINE)
    canonical = build.canonical_machine(mtype)
    if canonical is None:
        raise Diag("unsupported machine type", hint=HINT_MACHINE)
    minfo = _LazyMachine(build, canonical)
    cfg.memory, maxmem, slots = memory_options(L)
    L.maxmem, L.slots = maxmem, slots
    configure_rtc(L)

    # -- qemu_create_default_devices ------------------------------------------------------------
    if L.daemonize and L.nographic and (L.default_parallel or L.default_serial or L.default_monitor):
        raise Diag("-nographic cannot be used with -daemonize")

    # -- qemu_apply_machine_options: -smp, -boot ---------------------------------------------
    from ..commands import misc
    try:
        cfg.smp = misc.parse_smp(minfo, md.get("smp") or {}, warn=rep.warning)
        L.boot = misc.parse_boot(md.get("boot") or {})
    except QMPError as e:
        raise Diag(e.desc) from None

    # -- configure_accelerators ------------------------------------------------------------------
    accel, props = choose_accelerator(runner, L)
    cfg.accel = [accel]
    cfg.accel_props = {accel: props}

    cfg.machine = {k: v for k, v in md.items() if k not in ("accel", "smp", "boot")}
    cfg.machine["type"] = mtype
    if L.cpu_option is not None:
        from .opts import parse_cpu
        cfg.cpu, cfg.cpu_props = parse_cpu(L.cpu_option[0])
    elif canonical != "none":
        dct = minfo.get("default-cpu-type")
        if dct:
            cfg.cpu = _model_of(dct)
    guest = profile.defaults.get("guest")
    if guest:
        from ..vm.config import GuestBehaviour
        cfg.guest = GuestBehaviour(**{**cfg.guest.__dict__, **guest})

    # -- the instance (machine properties, CPU, board) -------------------------------------------
    from ..commands.registry import load_all
    from ..net.sel import Loop, SelScheduler
    from ..vm.instance import Instance
    load_all()        # topic modules register their machine resolvers on import
    loop = runner.loop = Loop()
    try:
        inst = Instance(profile, cfg, scheduler=SelScheduler(loop))
    except StartupError as e:
        for w in e.warnings:
            rep.warning(w)
        first, _, rest = e.message.partition("\n")
        if L.incoming is not None and first == "unknown migration protocol: %s" % L.incoming[0]:
            first = "-incoming %s: %s" % (L.incoming[0], first)   # error_reportf_err's prefix
        raise Diag(first, hint=rest) from None
    runner.instance = inst
    for w in cfg.warnings:
        rep.warning(w)
    inst.state["launcher"] = L
    inst.state["boot"] = L.boot
    inst.state["memory"] = {"size": cfg.memory, "maxmem": maxmem, "slots": slots}
    inst.state["display"] = L.display
    inst.state["rtc"] = L.rtc.opts if L.rtc is not None else {}

    from ..commands import devices
    # chardevs (qemu_create_early_backends) and blockdevs
    chardevs = create_chardevs(runner, L, inst)
    for bd, loc in L.blockdevs:
        try:
            devices.add_blockdev(inst, bd)
        except QMPError as e:
            raise Diag(e.desc, loc) from None
    for obj, loc in L.objects:
        try:
            devices.add_object(inst, obj, cli=True)
        except QMPError as e:      # object_option_foreach_add reports without a location
            raise Diag(e.desc) from None
    # qemu_create_late_backends: netdevs, monitors
    for nd, loc, legacy in L.netdevs:
        try:
            devices.add_netdev(inst, nd, legacy=legacy is not None)
        except QMPError as e:
            raise Diag(e.desc, loc) from None
    create_monitors(runner, L, inst, chardevs)

    # qemu_resolve_machine_memdev, board init
    memdev = cfg.machine.get("memory-backend")
    objs = devices.objects(inst)
    if memdev is not None:
        o = objs.get(memdev)
        if o is None or not str(o.get("qom-type", "")).startswith("memory-backend"):
            raise Diag("Memory backend '%s' not found" % memdev)
    elif objs:
        ram_id = minfo.get("default-ram-id")
        if ram_id and ram_id in objs:
            raise Diag("object name '%s' is reserved for the default RAM backend, it can't be used "
                       "for any other purposes. Change the object's 'id' to something else" % ram_id)

    # qemu_create_cli_devices
    for dev, loc, json_form in L.devices:
        try:
            devices.add_device(inst, dev, cli=True, json_form=json_form)
        except QMPError as e:
            raise Diag(e.desc, loc) from None

    if L.incoming is not None:
        uri, loc = L.incoming
        if uri != "defer" and not uri.startswith(("tcp:", "rdma:", "unix:", "exec:", "fd:")):
            raise Diag("-incoming %s: unknown migration protocol: %s" % (uri, uri))

    # qemu_machine_creation_done: warnings
    known = devices.known_types(inst)
    for drv, prop, _val in L.globals:
        if not devices.is_device_type(inst, drv, known):
            rep.warning("global %s.%s has invalid class name" % (drv, prop))
    for w in devices.net_check_clients(inst):
        rep.warning(w)

    install_signals(runner, inst, loop)
    inst.exit_listeners.append(lambda cause: _on_exit(runner, cause))


class _LazyMachine(dict):
    """The machine's ``query-machines`` entry, fetched when first read."""

    def __init__(self, build, name):
        super().__init__(name=name)
        self._build = build
        self._loaded = False

    def _load(self):
        if not self._loaded:
            self._loaded = True
            for m in self._build.machines():
                if m["name"] == self["name"]:
                    self.update(m)
                    break

    def get(self, key, default=None):
        if key != "name":
            self._load()
        return super().get(key, default)

    def __getitem__(self, key):
        if key != "name":
            self._load()
        return super().__getitem__(key)


def _model_of(typename: str) -> str:
    for suffix in ("-arm-cpu", "-x86_64-cpu", "-i386-cpu", "-cpu"):
        if typename.endswith(suffix):
            return typename[:-len(suffix)]
    return typename


# -- memory and RTC --------------------------------------------------------------------------

MiB = 1 << 20


def memory_options(L):
    """``set_memory_options``: -> (ram size, maxmem, slots)."""
    g = L.memory
    size = 128 * MiB
    if g is not None and "size" in g.raw:
        text = g.raw["size"]
        if text == "":
            raise Diag("missing 'size' option value")
        size = g.opts["size"]
        if text[-1:].isdigit():
            size *= MiB
            if size >= 1 << 64:
                raise Diag("too large 'size' option value")
    if size == 0:
        size = 128 * MiB
    size = (size + 8191) // 8192 * 8192
    maxmem, slots = size, 0
    if g is not None and "maxmem" in g.opts:
        mx = g.opts["maxmem"]
        slots = g.opts.get("slots", 0)
        if mx < size:
            raise Diag("invalid value of maxmem: maximum memory size (0x%x) must be at least the "
                       "initial memory size (0x%x)" % (mx, size))
        if slots and mx == size:
            raise Diag("invalid value of maxmem: memory slots were specified but maximum memory size "
                       "(0x%x) is equal to the initial memory size (0x%x)" % (mx, size))
        maxmem = mx
    elif g is not None and "slots" in g.opts:
        raise Diag("slots specified but no max-size")
    return size, maxmem, slots


def configure_rtc(L):
    g = L.rtc
    if g is None:
        return
    import re
    base = g.opts.get("base")
    if base is not None and base not in ("utc", "localtime"):
        if not (re.fullmatch(r"\d+-\d+-\d+T\d+:\d+:\d+", base) or re.fullmatch(r"\d+-\d+-\d+", base)):
            raise Diag("invalid datetime format",
                       hint="valid formats: '2006-06-17T16:01:21' or '2006-06-17'")
    clock = g.opts.get("clock")
    if clock is not None and clock not in ("host", "rt", "vm"):
        raise Diag("invalid option value '%s'" % clock)
    drift = g.opts.get("driftfix")
    if drift is not None and drift not in ("slew", "none"):
        raise Diag("invalid option value '%s'" % drift)


# -- accelerators ----------------------------------------------------------------------------

ACCEL_PROPS = {
    "tcg": ("thread", "tb-size", "split-wx", "one-insn-per-tb"),
    "kvm": ("kernel-irqchip", "kvm-shadow-mem", "dirty-ring-size", "eager-split-size",
            "notify-vmexit", "notify-window", "xen-version", "xen-gnttab-max-frames",
            "xen-evtchn-max-pirq", "device", "honor-guest-pat"),
    "qtest": (),
}


def choose_accelerator(runner, L):
    """``configure_accelerators`` / ``do_configure_accelerator`` with QEMU's messages."""
    from ..vm.machine import _accel_available
    build = runner.build
    rep = runner.rep
    md_accel = L.machine_dict.get("accel")
    if md_accel is not None and L.accel_opts:
        raise Diag('The -accel and "-machine accel=" options are incompatible')
    init_failed = False
    entries = []
    if md_accel is not None:
        for a in str(md_accel).split(":"):
            if a in build.accelerators:
                entries.append((a, {}, None))
            else:
                init_failed = True
                rep.error("invalid accelerator %s" % a)
    elif L.accel_opts:
        entries = list(L.accel_opts)
    else:
        have_tcg, have_kvm = "tcg" in build.accelerators, "kvm" in build.accelerators
        if have_tcg and have_kvm:
            order = ("kvm", "tcg") if os.path.basename(runner.prog0).endswith("kvm") else ("tcg", "kvm")
        elif have_kvm:
            order = ("kvm",)
        elif have_tcg:
            order = ("tcg",)
        else:
            raise Diag("No accelerator selected and no default accelerator available")
        entries = [(a, {}, None) for a in order]
    view = _HostView(runner.profile)
    chosen = None
    for name, props, loc in entries:
        if name not in build.accelerators:
            init_failed = True
            rep.error("invalid accelerator %s" % name, loc)
            continue
        known = ACCEL_PROPS.get(name, ())
        for k in props:
            if k not in known:
                raise Diag("Property '%s-accel.%s' not found" % (name, k), loc)
        if _accel_available(view, name):
            chosen = (name, props)
            break
        init_failed = True
        if name == "kvm":
            rep._write("Could not access KVM kernel module: No such file or directory\n")
        rep.error("failed to initialize %s: No such file or directory" % name, loc)
    if chosen is None:
        if not init_failed:
            rep.error("no accelerator found")
        raise Diag("")
    if init_failed:
        rep.error("falling back to %s" % chosen[0])
    return chosen


# -- chardevs and monitors -------------------------------------------------------------------------

class Chardev:
    """A created chardev: its socket (listening or connected) and QEMU's filename texts."""

    def __init__(self, spec):
        self.spec = spec
        self.id = spec.id
        self.sock = None
        self.listening = False
        self.unix_path = None          # created by us: unlinked at exit
        self.disconnected = "disconnected:socket"
        self.connected_name = None
        self.address = None            # net.endpoint.Address for the endpoint
        self.monitor = None


def _socket_err(e):
    return e.strerror or str(e)


def create_chardevs(runner, L, inst):
    from ..commands import devices
    rep = runner.rep
    out = {}
    for key, spec in L.chardevs.items():
        loc = spec.loc
        if spec.backend == "help":
            from .help import chardev_help
            from .report import Exit
            raise Exit(0, chardev_help())
        if spec.id is None:
            raise Diag("chardev: no id specified", loc)
        backend = spec.backend
        if backend is None:
            raise Diag('chardev: "%s" missing backend' % spec.id, loc)
        from .cmdline import _CHARDEV_ALIASES, CHARDEV_BACKENDS
        backend = _CHARDEV_ALIASES.get(backend, backend)
        if backend not in CHARDEV_BACKENDS and backend not in ("parallel", "serial"):
            raise Diag("'%s' is not a valid char driver name" % spec.backend, loc)
        cd = Chardev(spec)
        if backend == "socket":
            _open_socket_chardev(runner, cd, loc)
        elif backend == "stdio" and L.daemonize:
            raise Diag("cannot use stdio with -daemonize", loc)
        else:
            cd.disconnected = backend
        out[spec.id] = cd
        devices.register_chardev(inst, spec.id, cd)
    runner.chardevs = out
    _ = rep
    return out


def _open_socket_chardev(runner, cd, loc):
    o = cd.spec.opts
    path, host, port, fd = o.get("path"), o.get("host"), o.get("port"), o.get("fd")
    if (path is not None) + (fd is not None) + (host is not None) > 1:
        raise Diag("None or one of 'path', 'fd' or 'host' option required.", loc)
    if host is not None and port is None:
        raise Diag("chardev: socket: no port given", loc)
    server = bool(o.get("server", False))
    wait = server and bool(o.get("wait", True))
    srv = ",server=on" if server else ""
    cd.listening = server
    if path is not None:
        cd.disconnected = "disconnected:unix:%s%s" % (path, srv)
        if server:
            try:
                st = os.lstat(path)
                if stat.S_ISSOCK(st.st_mode):
                    os.unlink(path)
            except OSError:
                pass
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.bind(path)
                s.listen(1)
            except OSError as e:
                s.close()
                raise Diag("Failed to bind socket to %s: %s" % (path, _socket_err(e)), loc) from None
            cd.unix_path = path
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
            except OSError as e:
                s.close()
                raise Diag("Failed to connect to '%s': %s" % (path, _socket_err(e)), loc) from None
        cd.sock = s
    elif host is not None:
        cd.disconnected = "disconnected:tcp:%s:%s%s" % (host, port, srv)
        try:
            infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE if server else 0)
        except socket.gaierror as e:
            raise Diag("address resolution failed for %s:%s: %s" % (host, port, e.strerror), loc) from None
        fam, typ, proto, _, sa = infos[0]
        s = socket.socket(fam, typ, proto)
        try:
            if server:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(sa)
                s.listen(1)
            else:
                s.connect(sa)
        except OSError as e:
            s.close()
            if server:
                raise Diag("Failed to find an available port: %s" % _socket_err(e), loc) from None
            raise Diag("Failed to connect to '%s:%s': %s" % (host, port, _socket_err(e)), loc) from None
        cd.sock = s
    else:
        text = fd if fd is not None else ""
        if not text.isdigit():
            raise Diag("Unable to parse FD number %s" % text, loc)
        n = int(text)
        try:
            st = os.fstat(n)
            ok = stat.S_ISSOCK(st.st_mode)
        except OSError:
            ok = False
        if not ok:
            raise Diag("File descriptor '%s' is not a socket" % text, loc)
        s = socket.socket(fileno=n)
        cd.sock = s
        cd.disconnected = "disconnected:fd:%s%s" % (text, srv)
        try:
            listening = bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
        except OSError:
            listening = False
        cd.listening = listening
        server = listening
        wait = server and bool(o.get("wait", True))
    cd.wait = wait
    cd.connected_name = _connected_name(cd.sock, cd.listening)
    _ = runner


def _connected_name(sock, listening):
    """``qemu_chr_compute_filename`` once a client is connected (local address)."""
    srv = ",server=on" if listening else ""
    try:
        local = sock.getsockname()
    except OSError:
        return None
    if sock.family == socket.AF_UNIX:
        path = local if isinstance(local, str) else local.decode("utf-8", "replace")
        return "unix:%s%s" % (path, srv)
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = "[%s]" % local[0] if sock.family == socket.AF_INET6 else local[0]
        return "tcp:%s:%s%s" % (host, local[1], srv)
    return None


def create_monitors(runner, L, inst, chardevs):
    from ..net.endpoint import Address
    from ..net.sel import Connection, Endpoint
    rep = runner.rep
    for ms in L.monitors:
        loc = ms.loc
        mode = ms.mode
        if mode is not None and mode not in ("readline", "control"):
            raise Diag("Parameter 'mode' does not accept value '%s'" % mode, loc)
        if ms.chardev is None:
            raise Diag("Parameter 'chardev' is missing", loc)
        cd = chardevs.get(ms.chardev)
        if cd is None:
            raise Diag('chardev "%s" not found' % ms.chardev, loc)
        pretty = ms.pretty in ("on", "yes", "true", "y")
        if mode is None:
            mode = "readline"
        if mode == "readline":
            if pretty:
                raise Diag("'pretty' is not compatible with HMP monitors", loc)
            continue          # HMP is not spoken; the chardev stays as created
        if cd.sock is None:
            continue          # QMP on stdio/pty/...: not served by the stand-in
        mon = inst.add_monitor(label=ms.chardev, pretty=pretty)
        cd.monitor = mon
        sock = cd.sock
        cd.sock = None
        if cd.listening:
            fd = sock.detach()
            ep = Endpoint(runner.loop, mon, Address("fd", fd=fd))
            ep.start()
            mon.address = cd.disconnected.replace("disconnected:", "", 1)
            if getattr(cd, "wait", False):
                rep.info("QEMU waiting for connection on: %s" % cd.disconnected, loc)
                conn, _ = _blocking_accept(ep.lsock)
                Connection(ep, conn)
        else:
            fd = sock.detach()
            ep = Endpoint(runner.loop, mon, Address("fd", fd=fd))
            ep.start()
        runner.endpoints.append(ep)
    # chardevs nobody serves keep their sockets open, as QEMU's do
    runner.idle_sockets = [cd.sock for cd in chardevs.values() if cd.sock is not None]


def _blocking_accept(lsock):
    lsock.setblocking(True)
    try:
        return lsock.accept()
    finally:
        lsock.setblocking(False)


# -- signals and exit -------------------------------------------------------------------------------

def _term_signals():
    import signal
    return frozenset((signal.SIGINT, signal.SIGHUP, signal.SIGTERM))


TERM_SIGNALS = _term_signals()

def install_signals(runner, inst, loop):
    """QEMU's ``termsig_handler``: SIGINT/SIGHUP/SIGTERM with the sender's pid.

    The signals are blocked and a thread waits for them with ``sigwaitinfo`` (the
    sender's pid is not available to a Python signal handler); it wakes the loop
    through a pipe."""
    import selectors
    import signal
    import _thread
    sigs = TERM_SIGNALS
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    r, w = os.pipe()
    os.set_blocking(r, False)
    pending = []

    def waiter():
        while True:
            try:
                info = signal.sigwaitinfo(sigs)
            except InterruptedError:
                continue
            pending.append((info.si_signo, info.si_pid))
            try:
                os.write(w, b"s")
            except OSError:
                return

    def on_wake(mask):
        try:
            os.read(r, 64)
        except OSError:
            pass
        while pending:
            signo, pid = pending.pop(0)
            if inst.terminated is not None:
                continue
            if pid == 0:
                runner.rep.error("terminating on signal %d" % signo)
            else:
                runner.rep.error("terminating on signal %d from pid %d (%s)" % (signo, pid, _pid_name(pid)))
            inst.shutdown("host-signal", force_exit=True)

    loop.sel.register(r, selectors.EVENT_READ, on_wake)
    _thread.start_new_thread(waiter, ())


def _pid_name(pid: int) -> str:
    """``qemu_get_pid_name``: the first word of /proc/PID/cmdline."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return "<unknown process>"
    if not data:
        return "<unknown process>"
    return data.split(b"\0", 1)[0].decode("utf-8", "replace")


def _on_exit(runner, cause):
    loop = runner.loop

    def finish():
        for ep in runner.endpoints:
            try:
                ep.close()
            except OSError:
                pass
        runner.endpoints = []
        loop.stop()
    loop.call_soon(finish)
