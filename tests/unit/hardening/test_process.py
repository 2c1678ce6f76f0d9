"""Issue 16: process-level behaviour of ``qmpserver serve`` and the launcher (uuid, signals,
non-UTF-8 arguments, the fd limit)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from qmpserver.vm.config import NO_UUID, parse_uuid
from tests.support.peers import need_binary, short_tmpdir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PROFILE = "debian-7.2-tcg"
LAUNCHER = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", PROFILE]


def _env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("QMPSERVER_PROFILE")}
    e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


@pytest.fixture
def tmpd():
    d = short_tmpdir("qh")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _qmp(path, *commands):
    """Connect, negotiate, run each command; the answers' 'return' values."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    f = s.makefile("rwb")
    json.loads(f.readline())
    out = []
    for c in ({"execute": "qmp_capabilities"},) + commands:
        f.write(json.dumps(c).encode() + b"\n")
        f.flush()
        while True:
            msg = json.loads(f.readline())
            if "return" in msg or "error" in msg:
                break
        out.append(msg.get("return", msg.get("error")))
    s.close()
    return out[1:]


def _wait(pred, timeout=15.0):
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


# -- query-uuid ---------------------------------------------------------------------------------


def test_parse_uuid_is_the_launchers_rule():
    assert parse_uuid("A0B1C2D3-0000-1111-2222-333344445555") == "a0b1c2d3-0000-1111-2222-333344445555"
    for bad in ("", "x", "a0b1c2d3000011112222333344445555", "g0b1c2d3-0000-1111-2222-333344445555"):
        with pytest.raises(ValueError, match="failed to parse UUID string: wrong format"):
            parse_uuid(bad)


def test_serve_instances_answer_zeros_unless_given_a_uuid():
    """QEMU answers query-uuid with all zeros unless -uuid was given; serve used a random uuid4."""
    from qmpserver.serve import Server
    from qmpserver.vm.config import InstanceConfig

    async def run(d):
        server = Server(asyncio.get_running_loop())
        try:
            plain = await server.create_instance(PROFILE, qmp=["unix:" + os.path.join(d, "a.sock")])
            cfg = InstanceConfig()
            cfg.uuid = "c0ffee00-0000-4000-8000-000000000001"
            given = await server.create_instance(PROFILE, cfg, qmp=["unix:" + os.path.join(d, "b.sock")])
            return plain.uuid, given.uuid
        finally:
            server.close()

    d = short_tmpdir("qu")
    try:
        plain, given = asyncio.run(run(d))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert plain is None  # query-uuid and 'info uuid' print NO_UUID for it
    assert given == "c0ffee00-0000-4000-8000-000000000001"


def test_serve_uuid_option_and_default_over_qmp(tmpd):
    sock = os.path.join(tmpd, "q.sock")
    ready = os.path.join(tmpd, "ready")
    for uuid, expect in (
        (None, NO_UUID),
        ("C0FFEE00-0000-4000-8000-00000000000A", "c0ffee00-0000-4000-8000-00000000000a"),
    ):
        cmd = [sys.executable, "-m", "qmpserver.cli", "serve", "--profile", PROFILE, "--qmp", "unix:" + sock]
        cmd += ["--ready-file", ready] + (["--uuid", uuid] if uuid else [])
        p = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(400):
                if os.path.exists(ready) or p.poll() is not None:
                    break
                import time

                time.sleep(0.025)
            assert _qmp(sock, {"execute": "query-uuid"}) == [{"UUID": expect}]
        finally:
            p.terminate()
            p.communicate(timeout=10)


def test_serve_rejects_a_bad_uuid_in_one_line():
    p = subprocess.run(
        [sys.executable, "-m", "qmpserver.cli", "serve", "--profile", PROFILE, "--uuid", "nope"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 1
    assert p.stderr == "qmpserver: --uuid nope: failed to parse UUID string: wrong format\n"


def test_http_body_uuid_uses_the_same_rule():
    from qmpserver.http.control import BodyError, config_from_body

    assert config_from_body({"uuid": "C0FFEE00-0000-4000-8000-00000000000A"})[1].uuid == (
        "c0ffee00-0000-4000-8000-00000000000a"
    )
    with pytest.raises(BodyError, match="uuid: failed to parse UUID string"):
        config_from_body({"uuid": "nope"})


# -- D22: launcher arguments' bytes -------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [[b"-fo\xffo"], [b"-uuid", b"ab\xff"], [b"-machine", b"virt", b"-cpu", b"m\xfe\xffax"]]
)
def test_d22_launcher_prints_argument_bytes(args):
    """QEMU prints non-UTF-8 argument bytes as they are; the launcher printed '\\udcff'."""
    p = subprocess.run(LAUNCHER + args, env=_env(), capture_output=True, timeout=30)
    assert p.returncode == 1
    assert b"\\udc" not in p.stderr and args[-1] in p.stderr, p.stderr


@pytest.mark.parametrize(
    "args", [[b"-fo\xffo"], [b"-uuid", b"ab\xff"], [b"-machine", b"virt", b"-cpu", b"m\xffax"]]
)
def test_d22_same_bytes_as_real_qemu(args):
    qemu = need_binary("qemu-system-aarch64")
    real = subprocess.run([qemu] + args, capture_output=True, timeout=30)
    ours = subprocess.run(LAUNCHER + args, env=_env(), capture_output=True, timeout=30)
    assert (ours.returncode, ours.stderr.split(b": ", 1)[1]) == (
        real.returncode,
        real.stderr.split(b": ", 1)[1],
    )


# -- D17: signals to serve ----------------------------------------------------------------------


def _serve(tmpd, *extra):
    sock, ready = os.path.join(tmpd, "q.sock"), os.path.join(tmpd, "ready")
    cmd = [sys.executable, "-m", "qmpserver.cli", "serve", "--profile", PROFILE, "--qmp", "unix:" + sock]
    p = subprocess.Popen(
        cmd + ["--ready-file", ready] + list(extra),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return p, sock, ready


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM, signal.SIGINT])
def test_d17_every_terminating_signal_cleans_up(tmpd, sig):
    """SIGHUP and SIGQUIT left the socket files behind (only INT and TERM were handled)."""
    p, sock, ready = _serve(tmpd)
    try:
        assert _wait(lambda: os.path.exists(ready) or p.poll() is not None)
        assert os.path.exists(sock)
        p.send_signal(sig)
        out, err = p.communicate(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert (p.returncode, err) == (0, "qmpserver: terminating on signal %d\n" % sig)
    assert os.listdir(tmpd) == []


def test_d17_sigint_during_start_up_never_prints_a_traceback(tmpd):
    """A Ctrl-C while modules load gave a KeyboardInterrupt traceback (2 in 40 runs)."""
    import time

    seen = set()
    for i in range(16):
        p, sock, ready = _serve(tmpd)
        time.sleep(0.04 + 0.03 * i)  # across interpreter start, imports and the profile load
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=15)
        # Python's own start-up (site.py, runpy, the imports of the entry script) runs before
        # any qmpserver function can catch anything; a traceback must not come from later
        frames = re.findall(r'File "([^"]+)", line \d+, in (\S+)', err)
        assert not [f for f in frames if "qmpserver" in f[0] and f[1] != "<module>"], err
        if frames or "init_import_site" in err:
            continue
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert p.returncode in (0, 130, -signal.SIGINT), (p.returncode, err)
        assert not os.path.exists(sock) and not os.path.exists(ready)
        seen.add(p.returncode)
    assert 0 in seen  # the later signals reached the running server


def test_d17_ctrl_c_while_the_cli_loads_is_quiet(monkeypatch):
    """Building the parser imports most subcommands; a KeyboardInterrupt there escaped main()."""
    from qmpserver import cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["serve"]) == 130


# -- the fd limit: accept backs off and warns once ----------------------------------------------

FD_LIMIT_SERVER = r"""
import asyncio, errno, logging, os, resource, sys, time
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
from qmpserver.net.endpoint import parse_address
from qmpserver.profiles.loader import load_profile
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig

driver, d = sys.argv[1], sys.argv[2]
addrs = [parse_address("unix:" + os.path.join(d, "q.sock"), 0o600), parse_address("tcp:127.0.0.1:0", 0)]
profile = load_profile("debian-7.2-tcg", [])
FULL, FREE = 1.5, 1.5  # seconds with no descriptor left, then seconds with some free


def fill():
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    held = []
    try:
        while True:
            held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as e:
        assert e.errno == errno.EMFILE
    return held


def ready(eps):
    print(" ".join(ep.monitor.address for ep in eps), flush=True)


if driver == "aio":
    from qmpserver.net.aio import AsyncScheduler, Endpoint

    async def main():
        loop = asyncio.get_running_loop()
        inst = start(profile, InstanceConfig(), scheduler=AsyncScheduler(loop))
        eps = []
        for i, a in enumerate(addrs):
            eps.append(await Endpoint(inst.add_monitor(label="m%d" % i), a).start(loop))
        held = fill()
        ready(eps)
        await asyncio.sleep(FULL)
        for fd in held[:16]:
            os.close(fd)
        await asyncio.sleep(FREE)
        for ep in eps:
            ep.close()

    asyncio.run(main())
else:
    from qmpserver.net.sel import Endpoint, Loop, SelScheduler

    loop = Loop()
    inst = start(profile, InstanceConfig(), scheduler=SelScheduler(loop))
    eps = [Endpoint(loop, inst.add_monitor(label="m%d" % i), a).start() for i, a in enumerate(addrs)]
    held = fill()
    ready(eps)
    loop.call_later(FULL, lambda: [os.close(fd) for fd in held[:16]])
    loop.call_later(FULL + FREE, loop.stop)
    loop.run()
    for ep in eps:
        ep.close()
"""


@pytest.mark.parametrize("driver", ["aio", "sel"])
def test_accept_at_the_fd_limit_backs_off_and_warns_once(tmpd, driver):
    """With no descriptor left, the accept loop logged a traceback about every second (asyncio's
    server) or spun silently on the readable listening socket (the unix listeners); now each
    listener pauses, warns once, and accepts the waiting client once descriptors are free."""
    p = subprocess.Popen(
        [sys.executable, "-c", FD_LIMIT_SERVER, driver, tmpd],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = p.stdout.readline()
        assert line, p.communicate()[1]
        clients = []
        for addr in line.split():
            kind, _, rest = addr.partition(":")
            if kind == "unix":
                s = socket.socket(socket.AF_UNIX)
                s.connect(rest)
            else:
                host, _, port = rest.rpartition(":")
                s = socket.create_connection((host, int(port)))
            s.settimeout(10)
            clients.append(s)
        # the pending connections wait in the backlog and get their greeting once fds are free
        greetings = [json.loads(s.makefile("rb").readline()) for s in clients]
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert all("QMP" in g for g in greetings)
    assert "Traceback" not in err, err
    warnings = [ln for ln in err.splitlines() if ln.startswith("WARNING")]
    assert len(warnings) == 2, err  # one per listener, not one per retry
    assert all("Too many open files" in w for w in warnings), err
    assert err.count("accepting connections again") == 2, err
