"""From a parsed command line to a running instance.

The launcher turns argv into an ``InstanceConfig`` and runs the start-up
pipeline (:mod:`qmpserver.startup`, QEMU 7.2's ``qemu_init`` order) with
:class:`LauncherIO`, its part of that pipeline: what QEMU reads while
creating the machine (``-m``, ``-rtc``, default devices), its accelerator
messages, the sockets behind chardevs and monitors, the termination signals,
and QEMU-style error output.
"""

from __future__ import annotations

import os
import socket
import stat

from ..arch.accel import kernel_irqchip_error
from ..commands import chardev
from ..commands.chardev import open_pty
from ..errors import StartupError
from ..net.sel import Loop, SelScheduler
from ..qapi.opts import CHARDEV_ALIASES, CHARDEV_BACKENDS, bool_word, parse_cpu
from ..startup import BackendError, StartupIO, default_ram_size, start
from ..vm.config import GuestBehaviour
from ..vm.machine import (
    ACCEL_PROPS,
    FALLING_BACK,
    INIT_FAILED,
    INVALID,
    NO_KVM_MODULE,
    accel_available,
    default_accelerators,
)
from .report import Diag


class LauncherIO(StartupIO):
    """The launcher's part of the start-up pipeline: QEMU's own default machine,
    the options QEMU reads while creating the machine, its accelerator
    messages, sockets for chardevs and monitors, warnings on stderr."""

    def __init__(self, runner, L):
        self.runner = runner
        self.L = L
        self.minfo = None

    def default_machine(self, inst):
        build = inst.build
        return next((m["name"] for m in build.machines() if m.get("is-default")), None)

    def machine_selected(self, inst, ms):
        # qemu_create_machine (-m, -rtc), qemu_create_default_devices
        L, cfg = self.L, inst.config
        # the build's recorded answers are loaded on first use; the machine list
        # is read only when a check needs it, so a plain start stays before that load
        self.minfo = _LazyMachine(inst.build, ms.type)
        cfg.memory, cfg.maxmem, cfg.slots = memory_options(L, default_ram_size(inst.build, ms.type))
        configure_rtc(L)
        if L.daemonize and L.nographic and (L.default_parallel or L.default_serial or L.default_monitor):
            raise Diag("-nographic cannot be used with -daemonize")
        if L.cpu_option is None and ms.type != "none":
            dct = self.minfo.get("default-cpu-type")
            if dct:
                cfg.cpu = _model_of(dct)

    def configure_accelerators(self, inst):
        return choose_accelerator(self.runner, self.L)

    def machine_created(self, inst):
        runner = self.runner
        runner.instance = inst
        inst.threads.real = True  # one instance per process: vCPU threads are real threads
        for w in inst.config.warnings:
            runner.rep.warning(w)

    def create_chardevs(self, inst):
        create_chardevs(self.runner, self.L, inst)

    def create_monitors(self, inst):
        create_monitors(self.runner, self.L, inst, self.runner.chardevs)

    def warn(self, inst, text):
        self.runner.rep.warning(text)


def build_instance(runner, L):
    import signal

    # QEMU's termination signals are blocked from here on and collected by a
    # thread (install_signals): one arriving while sockets are being set up is
    # handled like one arriving later
    signal.pthread_sigmask(signal.SIG_BLOCK, TERM_SIGNALS)
    profile = runner.profile
    rep = runner.rep
    cfg = L.config
    md = L.machine_dict

    # argv -> InstanceConfig (the pipeline does the rest, in QEMU's order)
    cfg.machine = {k: v for k, v in md.items() if k not in ("accel", "smp", "boot")}
    cfg.smp = dict(md.get("smp") or {})
    cfg.boot = dict(md.get("boot") or {})
    if L.cpu_option is not None:
        cfg.cpu, cfg.cpu_props = parse_cpu(L.cpu_option[0])
    guest = profile.defaults.get("guest")
    if guest:
        cfg.guest = GuestBehaviour(**{**cfg.guest.__dict__, **guest})
    cfg.blockdevs = list(L.blockdevs)
    cfg.objects = list(L.objects)
    cfg.netdevs = [(nd, loc, legacy is not None) for nd, loc, legacy in L.netdevs]
    cfg.devices = list(L.devices)
    cfg.add_fds = [g.opts for g, _loc in L.add_fds]
    cfg.globals = list(L.globals)
    cfg.display = L.display
    cfg.spawn_denied = L.spawn_denied()
    loop = runner.loop = Loop()
    try:
        inst = start(profile, cfg, scheduler=SelScheduler(loop), io=LauncherIO(runner, L))
    except BackendError as e:
        raise Diag(e.message, e.loc) from None
    except StartupError as e:
        for w in e.warnings:
            rep.warning(w)
        first, _, rest = e.message.partition("\n")
        if L.incoming is not None and first == "unknown migration protocol: %s" % L.incoming[0]:
            first = "-incoming %s: %s" % (L.incoming[0], first)  # error_reportf_err's prefix
        raise Diag(first, hint=rest) from None
    install_signals(runner, inst, loop)
    inst.reporter = rep.error
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
    for suffix in ("-arm-cpu", "-x86_64-cpu", "-i386-cpu", "-powerpc64-cpu", "-cpu"):
        if typename.endswith(suffix):
            return typename[: -len(suffix)]
    return typename


# -- memory and RTC --------------------------------------------------------------------------

MiB = 1 << 20


def memory_options(L, default=128 * MiB):
    """``set_memory_options``: -> (ram size, maxmem, slots); ``default`` is the machine class's
    default RAM size."""
    g = L.memory
    size = default
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
        size = default
    size = (size + 8191) // 8192 * 8192
    maxmem, slots = size, 0
    if g is not None and "maxmem" in g.opts:
        mx = g.opts["maxmem"]
        slots = g.opts.get("slots", 0)
        if mx < size:
            raise Diag(
                "invalid value of maxmem: maximum memory size (0x%x) must be at least the "
                "initial memory size (0x%x)" % (mx, size)
            )
        if slots and mx == size:
            raise Diag(
                "invalid value of maxmem: memory slots were specified but maximum memory size "
                "(0x%x) is equal to the initial memory size (0x%x)" % (mx, size)
            )
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
            raise Diag("invalid datetime format", hint="valid formats: '2006-06-17T16:01:21' or '2006-06-17'")
    clock = g.opts.get("clock")
    if clock is not None and clock not in ("host", "rt", "vm"):
        raise Diag("invalid option value '%s'" % clock)
    drift = g.opts.get("driftfix")
    if drift is not None and drift not in ("slew", "none"):
        raise Diag("invalid option value '%s'" % drift)


# -- accelerators ----------------------------------------------------------------------------


def choose_accelerator(runner, L):
    """``configure_accelerators`` / ``do_configure_accelerator`` with QEMU's messages
    (the rules and texts are :mod:`qmpserver.vm.machine`'s; this prints them the
    way QEMU does, as errors, while it tries each accelerator)."""
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
                rep.error(INVALID % a)
    elif L.accel_opts:
        entries = list(L.accel_opts)
    else:
        order = default_accelerators(build, os.path.basename(runner.prog0))
        if not order:
            raise Diag("No accelerator selected and no default accelerator available")
        entries = [(a, {}, None) for a in order]
    chosen = None
    for name, props, loc in entries:
        if name not in build.accelerators:
            init_failed = True
            rep.error(INVALID % name, loc)
            continue
        known = ACCEL_PROPS.get(name, ())
        for k in props:
            if k not in known:
                raise Diag("Property '%s-accel.%s' not found" % (name, k), loc)
        if name == "kvm":
            # object_new applies -machine's kernel-irqchip (a global), then -accel's properties
            md_chip = L.machine_dict.get("kernel-irqchip")
            err = md_chip is not None and kernel_irqchip_error(md_chip, via_machine=True)
            err = err or ("kernel-irqchip" in props and kernel_irqchip_error(props["kernel-irqchip"]))
            if err:
                raise Diag(err, loc)
        if accel_available(build, runner.profile.host, name):
            chosen = (name, props)
            break
        init_failed = True
        if name == "kvm":
            rep.bare(NO_KVM_MODULE)
        rep.error(INIT_FAILED % name, loc)
    if chosen is None:
        if not init_failed:
            rep.error("no accelerator found")
        raise Diag("")
    if init_failed:
        rep.error(FALLING_BACK % chosen[0])
    return chosen


# -- chardevs and monitors -------------------------------------------------------------------------


class Chardev:
    """A created chardev: its socket (listening or connected) and QEMU's filename texts."""

    def __init__(self, spec):
        self.spec = spec
        self.id = spec.id
        self.sock = None
        self.listening = False
        self.unix_path = None  # created by us: unlinked at exit
        self.disconnected = "disconnected:socket"
        self.connected_name = None
        self.address = None  # net.endpoint.Address for the endpoint
        self.monitor = None
        self.frontend = None  # "serial" when a -serial port uses it
        self.pty_master = None  # the master side of a pty chardev (kept open, never read)


def _socket_err(e):
    return e.strerror or str(e)


#: UARTs of the virt machine that take ``serial_hd(N)``: one pl011 (``create_uart``; the
#: secure UART of ``secure=on`` is not modelled); a chardev of a later ``-serial`` stays
#: without a frontend (real QEMU 7.2: ``frontend-open: false`` for ``serial1``)
SERIAL_PORTS = 1


def create_chardevs(runner, L, inst):
    """``-chardev`` in order, then the chardevs of ``-serial`` (QEMU creates those with the
    late backends) and the serial frontends that attach to them."""
    out = {}
    for spec in L.chardevs.values():
        _create_chardev(runner, L, inst, spec, out)
    for index, (label, spec, loc) in enumerate(L.serials):
        if spec is not None:
            try:
                _create_chardev(runner, L, inst, spec, out)
            except Diag as d:
                # serial_parse: the backend's error, then its own line about the -serial text
                text = "could not connect serial device to character backend '%s'" % loc[-1]
                raise Diag(text, loc, before=[*d.before, (d.text, d.loc, d.hint)]) from None
        cd = out.get(label)
        if cd is None:
            raise Diag("could not connect serial device to character backend 'chardev:%s'" % label, loc)
        if index < SERIAL_PORTS:
            cd.frontend = "serial%d" % index
    runner.chardevs = out
    return out


def _create_chardev(runner, L, inst, spec, out):
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
    backend = CHARDEV_ALIASES.get(backend, backend)
    if backend not in CHARDEV_BACKENDS and backend not in ("parallel", "serial"):
        raise Diag("'%s' is not a valid char driver name" % spec.backend, loc)
    cd = Chardev(spec)
    if backend == "socket":
        _open_socket_chardev(runner, cd, loc)
    elif backend == "stdio":
        if L.daemonize:
            raise Diag("cannot use stdio with -daemonize", loc)
        if runner.stdio_user is not None:
            raise Diag("cannot use stdio by multiple character devices", loc)
        runner.stdio_user = spec.id
        cd.disconnected = backend
    elif backend == "pty":
        try:
            cd.pty_master, path = open_pty()
        except OSError as e:
            raise Diag("Failed to create PTY: %s" % _socket_err(e), loc) from None
        cd.disconnected = "pty:" + path
        # char_pty_open's qemu_printf: stdout (no current monitor while the command line runs)
        _stdout("char device redirected to %s (label %s)\n" % (path, spec.id))
    else:
        cd.disconnected = backend
    out[spec.id] = cd
    chardev.register_chardev(inst, spec.id, cd)


def _stdout(text):
    import sys

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


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
            infos = socket.getaddrinfo(
                host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE if server else 0
            )
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
    if fd is not None and cd.listening and cd.connected_name:
        # qmp_chardev_open_socket_server: an inherited listening socket's address is
        # read back (socket_local_address), so QEMU names its path, not fd:N
        cd.disconnected = "disconnected:" + cd.connected_name


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
    from ..net.sel import Connection, Endpoint, StdioConnection

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
        pretty = bool_word(ms.pretty) is True
        if mode is None:
            mode = "readline"
        if mode == "readline":
            if pretty:
                raise Diag("'pretty' is not compatible with HMP monitors", loc)
            continue  # HMP is not spoken; the chardev stays as created
        if runner.stdio_user == ms.chardev:
            mon = inst.add_monitor(label=ms.chardev, pretty=pretty)
            cd.monitor = mon
            ep = Endpoint(runner.loop, mon, Address("stdio"))
            StdioConnection(ep, 0, 1)
            runner.endpoints.append(ep)
            continue
        if cd.sock is None:
            continue  # QMP on pty/file/...: not served by the stand-in
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
    import _thread
    import selectors
    import signal

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
    if runner.instance is not None and runner.instance.exit_code:
        runner.exit_code = runner.instance.exit_code

    def finish():
        for ep in runner.endpoints:
            try:
                ep.close()
            except OSError:
                pass
        runner.endpoints = []
        loop.stop()

    loop.call_soon(finish)
