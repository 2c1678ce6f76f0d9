"""``qmpserver-qemu``: a stand-in for ``qemu-system-<arch>`` that libvirt can run.

The start-up follows QEMU 7.2's ``qemu_init`` (``softmmu/vl.c``) step by step,
with its texts and its exit codes:

1. both passes over argv (:mod:`.cmdline`); ``-version``/``-help``/``help``
   values print and exit 0;
2. ``qemu_validate_options``, early options (``-sandbox``, ``-name``),
   ``-cpu help``;
3. ``-daemonize``: fork; the foreground process waits on a pipe and exits 0
   only when the daemon reports that everything (sockets, pidfile) is ready,
   1 otherwise; the daemon writes the pidfile first (QEMU's order);
4. machine selection, memory and RTC options, default devices, accelerator
   choice (QEMU's messages, e.g. ``invalid accelerator kvm`` /
   ``falling back to tcg``), then the instance (machine properties, CPU,
   MTE/GIC rules: ``StartupError``), chardevs and monitors (sockets bound),
   memory backend, ``-device``, ``-incoming``;
5. the daemon redirects stdin/stdout/stderr to ``/dev/null`` and tells the
   foreground process; the selectors loop serves QMP until the instance exits.

SIGTERM, SIGINT and SIGHUP print ``terminating on signal N from pid P (<cmd>)``
and emit ``SHUTDOWN`` (``host-signal``) before exiting 0.  The pidfile and
unix sockets are removed at exit.  Nothing else is written next to them.

Only the standard library's lean modules are imported on this path (no
asyncio, logging, YAML or argparse); the profile comes precompiled.
"""

from __future__ import annotations

import os
import sys

from .config import _absolutize, _read_json, extract_profile_flag, find_config
from .report import Diag, Exit, Reporter, program_name


def check_add_fd(opts, loc):
    """``parse_add_fd`` (QEMU 7.2 ``softmmu/vl.c``), before daemonizing: ``fd`` must be
    given, above the standard streams, and open in this process without close-on-exec (an
    inherited descriptor, ``fcntl(F_GETFD)``); ``set`` must be given.  The simulator checks
    the real descriptor table of its own process, as QEMU does."""
    import fcntl

    fd = opts.get("fd", -1)
    if fd < 0:
        raise Diag("fd option is required and must be non-negative", loc)
    if fd <= 2:
        raise Diag("fd cannot be a standard I/O stream", loc)
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    except (OSError, OverflowError):
        flags = -1
    if flags == -1 or flags & fcntl.FD_CLOEXEC:
        raise Diag("fd is not valid or already in use", loc)
    if opts.get("set", -1) < 0:
        raise Diag("set option is required and must be non-negative", loc)


def load_compiled(path):
    """A compiled profile file written by ``install-launcher`` (``models.save_compiled``).

    Read with ``_pickle`` directly: importing :mod:`qmpserver.models`' cache part
    (hashlib, tempfile, pickle) costs more than the load itself.  Anything
    unexpected falls back to ``models.load_compiled``."""
    import _pickle

    from .. import __version__

    try:
        with open(path, "rb") as f:
            entry = _pickle.load(f)
    except FileNotFoundError:
        return None
    except Exception:
        entry = None
    if (
        type(entry) is dict
        and entry.get("format") == 4  # models._FORMAT
        and entry.get("version") == __version__
        and not entry.get("deps")
        and entry.get("profile") is not None
    ):
        return entry["profile"]
    from ..models import load_compiled as load_checked  # lazy: see the docstring

    return load_checked(path)


def _load_profile(spec, cfg):
    """--profile > QMPSERVER_PROFILE > config file > default; a compiled file first."""
    env = os.environ.get("QMPSERVER_PROFILE")
    dirs = ()
    if spec is None and env:
        spec = env
    if spec is None and cfg:
        if cfg.get("_error"):
            from ..errors import UsageError

            raise UsageError(cfg["_error"])
        compiled = cfg.get("compiled")
        if compiled:
            prof = load_compiled(compiled)
            if prof is not None:
                return prof
        spec = cfg.get("profile")
        dirs = cfg.get("profile_dirs") or ()
    from ..profiles.loader import load_profile

    return load_profile(spec, dirs)


def _strict(cfg) -> bool:
    """Strict mode (a read-only command neither modelled nor recorded is an error, not its
    type's default): ``QMPSERVER_STRICT=1`` or ``"strict": true`` in the launcher config
    (libvirt strips the environment; the config file is read either way).  Not a QEMU
    option: the command line stays QEMU's."""
    from ..vm.config import strict_from_env

    value = cfg.get("strict", False) if cfg else False
    if not isinstance(value, bool):
        import json

        raise ValueError("launcher config: strict: expected true or false, not %s" % json.dumps(value))
    return strict_from_env() or value


def main(argv=None, config=None) -> int:
    """Console entry point; ``config`` is an explicit launcher config file."""
    argv = list(sys.argv if argv is None else argv)
    prog0 = argv[0] if argv else "qmpserver-qemu"
    spec, args = extract_profile_flag(argv[1:])
    if config is not None:
        cfg = _read_json(config)
        if cfg is not None and "_error" not in cfg:
            cfg = _absolutize(cfg, os.path.dirname(os.path.abspath(config)))
    else:
        cfg = find_config(prog0)
    try:
        profile = _load_profile(spec, cfg)
    except Exception as e:  # a bad profile must never give a traceback
        from ..errors import UsageError

        msg = str(e) if isinstance(e, UsageError) else "cannot load profile: %s" % e
        sys.stderr.write("%s: qmpserver: %s\n" % (program_name(prog0), msg))
        return 1
    rep = Reporter(program_name(prog0, profile.build.target))
    runner = Runner(profile, rep, prog0)
    try:
        runner.strict = _strict(cfg)
    except ValueError as e:
        sys.stderr.write("%s: qmpserver: %s\n" % (program_name(prog0), e))
        return 1
    try:
        return runner.run(args)
    except KeyboardInterrupt:
        return 1


class Runner:
    def __init__(self, profile, reporter, prog0):
        self.profile = profile
        self.build = profile.build
        self.rep = reporter
        self.prog0 = prog0
        self.daemon_pipe = None
        self.pidfile_fd = None
        self.pidfile_path = None
        self.endpoints: list = []
        self.stdio_user = None  # the chardev that has stdin/stdout (char-stdio.c: one only)
        self.instance = None
        self.loop = None
        self.exit_code = 0
        self.strict = False  # main() sets it (environment, launcher config)

    # -- the sequence ----------------------------------------------------------------------

    def run(self, args) -> int:
        from .cmdline import Cmdline

        rep = self.rep
        try:
            L = Cmdline(self.profile, warn=rep.warning, reporter=rep).parse(args)
            self.validate_options(L)
            self.early_options(L)
            self.help_options(L)
        except Diag as d:
            rep.diag(d)
            return d.code
        except Exit as e:
            _out(e.out)
            return e.code
        self.launch = L
        if L.daemonize:
            if L.spawn_denied():
                from ..vm.instance import killed_by_seccomp

                killed_by_seccomp()  # os_daemonize forks after the sandbox is in place
            code = self.daemonize()
            if code is not None:
                return code
        try:
            if L.pidfile is not None:  # -pidfile '' is tried, and fails, like any path
                self.write_pidfile(L.pidfile)
            self.start(L)
        except Diag as d:
            rep.diag(d)
            self.cleanup()
            return d.code
        except Exit as e:
            _out(e.out)
            self.cleanup()
            return e.code
        self.setup_post()
        try:
            self.loop.run()
        finally:
            self.cleanup()
        # QEMU's exit is immediate; the interpreter's own teardown (module and
        # object finalisation) would make libvirt wait for the process longer
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os._exit(self.exit_code)

    # -- before daemonizing --------------------------------------------------------------

    def validate_options(self, L):
        md = L.machine_dict
        if "kernel" not in md:
            if "append" in md:
                raise Diag("-append only allowed with -kernel option")
            if "initrd" in md:
                raise Diag("-initrd only allowed with -kernel option")
        if L.loadvm and L.preconfig:
            raise Diag("'preconfig' and 'loadvm' options are mutually exclusive")
        if L.incoming and L.preconfig and L.incoming[0] != "defer":
            raise Diag("'preconfig' supports '-incoming defer' only")

    def early_options(self, L):
        s = L.sandbox
        if s is not None and s.opts.get("enable"):
            allowed = {
                "obsolete": ("allow", "deny"),
                "elevateprivileges": ("allow", "deny", "children"),
                "spawn": ("allow", "deny"),
                "resourcecontrol": ("allow", "deny"),
            }
            for key, values in allowed.items():
                v = s.opts.get(key)
                if v is not None and v not in values:
                    raise Diag("invalid argument for %s" % key, L.sandbox_loc)
        if L.action is not None:
            self.check_action(*L.action)
        for g, loc in L.add_fds:
            check_add_fd(g.opts, loc)
        if L.name_opts is not None and L.msg is not None and L.msg.opts.get("guest-name"):
            guest = L.name_opts.opts.get("guest")
            if guest:
                self.rep.guest_name = guest

    def check_action(self, g, loc):
        """``process_runstate_actions`` (QEMU 7.2 ``softmmu/vl.c``): the merged ``-action``
        group goes through the opts visitor into ``set-action``'s arguments, so a value
        outside the schema's enum (``RebootAction``, ``ShutdownAction``, ...) is refused
        with the visitor's text, members in schema order."""
        from ..qapi.opts import QemuOptsError, opts_visit

        cmd = self.build.schema.command("set-action")
        if cmd is None or cmd.arg_type is None:
            return
        try:
            opts_visit(cmd.arg_type, g.raw)
        except QemuOptsError as e:
            raise Diag(e.message, loc) from None

    def help_options(self, L):
        if L.cpu_option is not None and L.cpu_option[0] == "help":
            from .help import cpu_help

            raise Exit(0, cpu_help(self.profile))
        for dev, loc, _json in L.devices:
            if dev.get("driver") == "help":
                from .help import device_help

                raise Exit(0, device_help(self.profile))

    def daemonize(self):
        """``os_daemonize``: returns the foreground process's exit code there, None in the daemon."""
        r, w = os.pipe()
        pid = os.fork()
        if pid > 0:
            os.close(w)
            while True:
                try:
                    data = os.read(r, 1)
                    break
                except InterruptedError:
                    continue
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass
            return 0 if data == b"\0" else 1
        os.close(r)
        os.setsid()
        pid = os.fork()
        if pid > 0:
            os._exit(0)
        os.umask(0o027)
        import signal

        for sig in (signal.SIGTSTP, signal.SIGTTOU, signal.SIGTTIN):
            signal.signal(sig, signal.SIG_IGN)
        self.daemon_pipe = w
        return None

    def write_pidfile(self, path):
        """``qemu_write_pidfile``: create 0600, lock, truncate, write "PID\\n"; kept open."""
        import fcntl

        while True:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as e:
                raise Diag("cannot create PID file: Could not create '%s': %s" % (path, e.strerror)) from None
            try:
                b = os.fstat(fd)
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                raise Diag("cannot create PID file: Cannot lock pid file: %s" % e.strerror) from None
            try:
                a = os.stat(path)
            except OSError:
                os.close(fd)
                continue
            if a.st_ino == b.st_ino:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % os.getpid())
        self.pidfile_fd = fd
        self.pidfile_path = os.path.realpath(path)

    # -- the machine -----------------------------------------------------------------------

    def start(self, L):
        from .start import build_instance

        L.config.strict = self.strict
        build_instance(self, L)
        if L.loadvm is not None:
            # qmp_x_exit_preconfig: load_snapshot(..., &error_fatal) after the machine is done
            from ..commands import snapshot

            try:
                snapshot.restore(self.instance, L.loadvm)
            except snapshot.SnapshotError as e:
                raise Diag(str(e)) from None

    def setup_post(self):
        """``os_setup_post``: the daemon drops its stdio and releases the foreground process."""
        if self.daemon_pipe is None:
            return
        try:
            os.chdir("/")
        except OSError:
            pass
        fd = os.open("/dev/null", os.O_RDWR)
        sys.stdout.flush()
        sys.stderr.flush()
        for target in (0, 1, 2):
            os.dup2(fd, target)
        os.close(fd)
        while True:
            try:
                os.write(self.daemon_pipe, b"\0")
                break
            except InterruptedError:
                continue
        os.close(self.daemon_pipe)
        self.daemon_pipe = None

    def cleanup(self):
        for ep in self.endpoints:
            try:
                ep.close()
            except OSError:
                pass
        self.endpoints = []
        for cd in (getattr(self, "chardevs", None) or {}).values():
            if cd.unix_path is not None:  # char_socket_finalize unlinks what it bound
                try:
                    os.unlink(cd.unix_path)
                except OSError:
                    pass
                cd.unix_path = None
        if self.pidfile_path is not None:
            try:
                os.unlink(self.pidfile_path)
            except OSError:
                pass
            self.pidfile_path = None
        if self.pidfile_fd is not None:
            try:
                os.close(self.pidfile_fd)
            except OSError:
                pass
            self.pidfile_fd = None


def _out(text):
    if text:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except (OSError, ValueError):
            pass


if __name__ == "__main__":
    raise SystemExit(main())
