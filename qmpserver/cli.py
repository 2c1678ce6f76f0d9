"""``qmpserver`` command line: serve, profiles, cpu, install-launcher, completion.

Errors in input (bad options, bad profile files, impossible configurations)
print one clear line to stderr and exit with status 1; never a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys

from .completion import complete_as
from .errors import StartupError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def _die(msg: str, code: int = 1) -> NoReturn:
    sys.stderr.write("qmpserver: %s\n" % msg)
    raise SystemExit(code)


def _instance_config(args):
    from .qapi.opts import parse_cpu, parse_opts
    from .vm.config import InstanceConfig, parse_uuid, strict_from_env

    cfg = InstanceConfig()
    for m in args.machine or ():
        cfg.machine.update(parse_opts(m, "type"))
    if args.accel:
        cfg.accel = args.accel.split(":")
    if args.cpu:
        cfg.cpu, cfg.cpu_props = parse_cpu(args.cpu)
    cfg.name = args.name
    if args.uuid is not None:
        try:
            cfg.uuid = parse_uuid(args.uuid)
        except ValueError as e:
            raise UsageError("--uuid %s: %s" % (args.uuid, e)) from None
    cfg.start_paused = args.S
    cfg.no_shutdown = args.no_shutdown
    try:
        cfg.strict = strict_from_env() or args.strict
    except ValueError as e:
        raise UsageError(str(e)) from None
    return cfg


def socket_mode(text: str) -> int:
    """``--socket-mode``: octal permission bits 0..0777 only; setuid, setgid and sticky
    bits (04000, 02000, 01000) mean nothing on a socket and are refused (issue 16, D15)."""
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise UsageError(
            "invalid --socket-mode '%s' (expected octal permission bits 0 to 777, e.g. 600)" % text
        )
    return mode


def _setup_logging(level: str) -> None:
    import logging

    logging.basicConfig(
        format="qmpserver: %(levelname)s: %(name)s: %(message)s",
        level=getattr(logging, level.upper(), logging.WARNING),
    )


def _address_info(addr: str) -> dict:
    out: dict = {"address": addr}
    if addr.startswith("unix:"):
        out["path"] = addr[5:]
    elif addr.startswith("tcp:"):
        host, _, port = addr[4:].rpartition(":")
        out["host"] = host.strip("[]")
        out["port"] = int(port)
    return out


def _write_ready(target: str, info: dict) -> None:
    """``--ready-file``: JSON written once everything listens (atomically: a reader never sees
    half a file); ``-`` prints it as one line on stdout instead."""
    import json
    import os

    text = json.dumps(info, sort_keys=True)
    if target == "-":
        print(text, flush=True)
        return
    tmp = "%s.%d.tmp" % (target, os.getpid())
    try:
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, target)
    except OSError as e:
        raise UsageError("cannot write the ready file %s: %s" % (target, e.strerror or e)) from None


def _require_aiohttp() -> None:
    """``--http`` needs aiohttp (a dependency of qmpserver): one line naming the fix, not a traceback."""
    import importlib.util

    if importlib.util.find_spec("aiohttp") is None:
        _die(
            "--http needs aiohttp, which is not installed for %s: reinstall qmpserver "
            "(aiohttp is one of its dependencies) or run: %s -m pip install 'aiohttp>=3.9'"
            % (sys.executable, sys.executable)
        )


def _http_limits(args):
    """The ``--http-*`` limits and permissions (docs/security.md)."""
    from .http.app import Limits
    from .http.control import Policy

    return Limits(
        Policy(
            allow_profile_paths=args.http_allow_profile_paths,
            socket_dir=args.http_socket_dir,
            max_instances=args.http_max_instances,
        ),
        max_connections=args.http_max_connections,
        max_websockets=args.http_max_websockets,
    )


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, got '%s'" % text)
    return int(text)


SERVE_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
"""SIGINT, SIGTERM, SIGHUP, SIGQUIT: each stops ``serve`` the same way -- instances shut down,
sockets and the ready file removed, ``terminating on signal N`` on stderr, status 0 (QEMU's
``termsig_handler`` for INT/TERM/HUP; serve treats QUIT alike so it never leaves sockets
behind, issue 16 D17)."""


def cmd_serve(args) -> int:
    import asyncio

    from .serve import Server

    _setup_logging(args.log_level)
    if args.http:
        _require_aiohttp()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(signo: int) -> None:
        received.append(signo)
        stop.set()

    # before anything listens: every terminating signal must clean up the sockets
    for sig in SERVE_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    server = Server(
        loop,
        profile_dirs=args.profile_dir or (),
        multi_client=args.multi_client,
        socket_mode=socket_mode(args.socket_mode),
    )
    if args.log_level == "debug":
        from .serve import TrafficLog

        server.hooks.append(TrafficLog())
    ready_written = False

    async def main():
        nonlocal ready_written
        try:
            inst = await server.create_instance(args.profile, _instance_config(args), args.qmp or ())
        except StartupError as e:
            for w in e.warnings:
                sys.stderr.write("qmpserver: warning: %s\n" % w)
            _die(e.message)
        prof = inst.profile
        for w in inst.config.warnings:
            sys.stderr.write("qmpserver: warning: %s\n" % w)
        addrs = ", ".join(m.address for m in inst.monitors)
        print(
            "qmpserver: profile '%s' (%s on %s, QEMU %s, accel %s)"
            % (prof.name, prof.build.name, prof.host.name, ".".join(map(str, prof.build.version)), inst.accel)
        )
        print("qmpserver: QMP listening on %s" % addrs, flush=True)
        http = None
        if args.http:
            from .http.app import start_http

            http = await start_http(server, args.http, token=args.http_token, limits=_http_limits(args))
            print("qmpserver: HTTP API on %s" % http.url, flush=True)
        if args.ready_file:
            import os

            _write_ready(
                args.ready_file,
                {
                    "pid": os.getpid(),
                    "profile": prof.name,
                    "qemu": ".".join(map(str, prof.build.version)),
                    "accel": inst.accel,
                    "qmp": [_address_info(m.address) for m in inst.monitors],
                    "http": http.url if http is not None else None,
                },
            )
            ready_written = True
        if not args.keep_running:
            server.on_change.append(
                lambda kind, i: (kind == "removed" and not server.instances) and stop.set()
            )
        await stop.wait()
        server.close()
        if http is not None:
            await http.close()

    try:
        loop.run_until_complete(main())
    finally:
        server.close()
        loop.close()
        if ready_written and args.ready_file != "-":
            import os

            try:
                os.unlink(args.ready_file)
            except OSError:
                pass
    if received:
        sys.stderr.write("qmpserver: terminating on signal %d\n" % received[0])
    return 0


DEFAULT_COMMAND = "serve"
"""What a command line without a subcommand runs (``qmpserver --profile P`` is ``qmpserver serve
--profile P``); the completion scripts follow the same rule."""


def cmd_completion(args) -> int:
    from .completion import generate

    sys.stdout.write(generate(args.shell, build_parser(), "qmpserver", DEFAULT_COMMAND))
    return 0


def build_parser():
    from . import __version__

    p = argparse.ArgumentParser(
        prog="qmpserver", description="A mock QEMU that speaks QMP, answering from simulated host profiles."
    )
    p.add_argument("--version", "-V", action="version", version="qmpserver %s" % __version__)
    sub = p.add_subparsers(dest="command")

    s = sub.add_parser("serve", help="run instances and serve QMP (the default command)")
    complete_as(
        s.add_argument("--profile", help="profile name or file (default: the embedded default profile)"),
        "profile",
    )
    complete_as(
        s.add_argument(
            "--profile-dir", action="append", help="extra directory of profiles/hosts/builds (repeatable)"
        ),
        "profile-dir",
    )
    s.add_argument("--qmp", action="append", metavar="ADDR", help="unix:PATH or tcp:HOST:PORT (repeatable)")
    s.add_argument(
        "--machine", "-M", action="append", metavar="OPTS", help="machine options, e.g. virt,mte-version=3"
    )
    s.add_argument("--accel", help="kvm, tcg or a fallback list kvm:tcg")
    s.add_argument("--cpu", metavar="MODEL[,PROPS]", help="CPU model and properties")
    s.add_argument("--name", help="VM name (query-name)")
    s.add_argument("--uuid", help="VM UUID, like QEMU -uuid (query-uuid; default all zeros, as QEMU)")
    s.add_argument("-S", action="store_true", help="start paused (prelaunch), like QEMU -S")
    s.add_argument("--no-shutdown", action="store_true", help="stay in 'shutdown' after a guest shutdown")
    s.add_argument(
        "--strict",
        action="store_true",
        help="a read-only command neither modelled nor recorded for the build answers a GenericError "
        "naming it instead of its return type's default (also $QMPSERVER_STRICT=1)",
    )
    s.add_argument("--http", metavar="HOST:PORT", help="start the HTTP control plane (aiohttp)")
    s.add_argument("--http-token", help="bearer token required by the HTTP API")
    s.add_argument(
        "--http-allow-profile-paths",
        action="store_true",
        help="let HTTP clients start profiles from files of this machine (default: only profile "
        "names of the store and the built-ins)",
    )
    complete_as(
        s.add_argument(
            "--http-socket-dir",
            metavar="DIR",
            help="directory for unix sockets requested through the HTTP API (default: the server's "
            "own socket directory, $XDG_RUNTIME_DIR/qmpserver)",
        ),
        "dir",
    )
    from .http import control as hc

    s.add_argument(
        "--http-max-instances",
        type=_positive,
        default=hc.DEFAULT_MAX_INSTANCES,
        metavar="N",
        help="instances running at a time beyond which POST /api/v1/instances answers 429 "
        "(default %d)" % hc.DEFAULT_MAX_INSTANCES,
    )
    s.add_argument(
        "--http-max-connections",
        type=_positive,
        default=hc.DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="open HTTP connections beyond which new ones get 503 (default %d)" % hc.DEFAULT_MAX_CONNECTIONS,
    )
    s.add_argument(
        "--http-max-websockets",
        type=_positive,
        default=hc.DEFAULT_MAX_WEBSOCKETS,
        metavar="N",
        help="open WebSockets (dashboards) beyond which new ones get 503 (default %d)"
        % hc.DEFAULT_MAX_WEBSOCKETS,
    )
    s.add_argument("--multi-client", action="store_true", help="let several clients use a monitor at once")
    s.add_argument("--socket-mode", default="600", help="mode of created unix sockets (octal, default 600)")
    s.add_argument("--keep-running", action="store_true", help="keep serving after the last instance exits")
    s.add_argument(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error"),
        help="log level on stderr (warnings include commands answered with type defaults; "
        "debug adds every QMP message, in and out)",
    )
    s.add_argument(
        "--ready-file",
        metavar="PATH",
        help="once everything listens, write JSON with the pid, profile and the QMP (and HTTP) "
        "addresses to PATH, removed at exit ('-': one JSON line on stdout)",
    )
    s.set_defaults(func=cmd_serve)

    from .profiles import cli as profiles_cli

    profiles_cli.add_parser(sub)
    from .migration import cli as migration_cli

    migration_cli.add_parser(sub)
    from . import fleet

    fleet.add_parser(sub)
    try:
        from .arch.arm64 import cli as cpu_cli
        from .profiles.loader import load_profile

        cpu_cli.add_parser(sub, load_profile)
    except ImportError:
        pass
    try:
        from .launcher import install

        install.add_parser(sub)
    except ImportError:
        pass
    from .completion import SHELLS

    c = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print a completion script for bash, zsh or fish, generated from this command "
        "line's own subcommands and options (profile names complete from 'qmpserver profiles list "
        '--names\'). For bash: eval "$(qmpserver completion bash)" in ~/.bashrc; the other ways to '
        "install it are in docs/cli.md.",
    )
    c.add_argument("shell", choices=SHELLS, help="the shell the script is for")
    c.set_defaults(func=cmd_completion)
    return p


def main(argv=None) -> int:
    """The entry point. A Ctrl-C before ``serve`` installs its handlers (while modules load)
    ends the process quietly with status 130, never a ``KeyboardInterrupt`` traceback
    (issue 16, D17)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return 130


def _main(argv) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version", "-V"):
        argv.insert(0, DEFAULT_COMMAND)
    args = parser.parse_args(argv)
    args.argv = argv  # the command line as typed (what profiles capture/import record)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return args.func(args) or 0
    except UsageError as e:
        _die(str(e))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
