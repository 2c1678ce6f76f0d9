"""The launcher as a process: daemonize, pidfile, sockets, signals, lifecycle events,
inherited file descriptors and profile selection."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import launcher_testutil as lu  # noqa: E402

PROBE = ["-S", "-no-user-config", "-nodefaults", "-nographic", "-machine", "none,accel=kvm:tcg"]


@pytest.fixture
def tmpd():
    d = lu.short_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _kill_pidfile(path):
    try:
        n = int(open(path).read())
    except (OSError, ValueError):
        return
    try:
        os.kill(n, signal.SIGKILL)
    except OSError:
        pass


def test_daemonize_like_libvirt_probe(tmpd):
    sock, pid = os.path.join(tmpd, "qmp.monitor"), os.path.join(tmpd, "qmp.pid")
    # capture_output: returns only when every holder of the pipes (the daemon too) closed them
    p = lu.run(
        PROBE + ["-qmp", "unix:%s,server=on,wait=off" % sock, "-pidfile", pid, "-daemonize"], timeout=30
    )
    try:
        assert p.returncode == 0
        assert p.stderr == (
            "qemu-system-aarch64: invalid accelerator kvm\nqemu-system-aarch64: falling back to tcg\n"
        )
        assert p.stdout == ""
        # the foreground process exited after the socket listens and the pidfile is written
        assert sorted(os.listdir(tmpd)) == ["qmp.monitor", "qmp.pid"]
        text = open(pid).read()
        assert re.fullmatch(r"\d+\n", text)
        n = int(text)
        assert n != p.returncode and os.path.exists("/proc/%d" % n)
        assert oct(os.stat(pid).st_mode & 0o777) == "0o600"
        q = lu.QMP(sock)
        assert q.greeting["QMP"]["version"]["qemu"] == {"micro": 22, "minor": 2, "major": 7}
        assert q.cmd("qmp_capabilities") == {"return": {}}
        assert q.cmd("query-kvm") == {"return": {"enabled": False, "present": False}}
        os.kill(n, signal.SIGTERM)
        ev = q.event("SHUTDOWN")
        assert ev["data"] == {"guest": False, "reason": "host-signal"}
        assert q.recv() is None
        q.close()
        assert lu.wait_for(lambda: os.listdir(tmpd) == []), os.listdir(tmpd)
        # the daemon's stdio went to /dev/null: nothing else to read
    finally:
        _kill_pidfile(pid)


def test_daemonize_failure_exits_1_with_qemu_text(tmpd):
    pid = os.path.join(tmpd, "qmp.pid")
    p = lu.run(
        ["-S", "-nodefaults", "-machine", "virt", "-cpu", "nosuch", "-pidfile", pid, "-daemonize"], timeout=30
    )
    assert p.returncode == 1
    assert p.stderr == "qemu-system-aarch64: unable to find CPU model 'nosuch'\n"
    assert os.listdir(tmpd) == []  # the pidfile written before the error is removed


def test_pidfile_locked_by_another_process(tmpd):
    import fcntl

    pid = os.path.join(tmpd, "p.pid")
    fd = os.open(pid, os.O_WRONLY | os.O_CREAT, 0o600)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    try:
        p = lu.run(lu.BASE + ["-pidfile", pid], timeout=30)
        assert p.returncode == 1
        assert p.stderr == (
            "qemu-system-aarch64: cannot create PID file: Cannot lock pid file: "
            "Resource temporarily unavailable\n"
        )
    finally:
        os.close(fd)


def test_sigterm_reports_sender_and_exits_0(tmpd):
    sock = os.path.join(tmpd, "m.sock")
    p = lu.spawn(lu.BASE + ["-qmp", "unix:%s,server=on,wait=off" % sock])
    try:
        assert lu.wait_for(lambda: os.path.exists(sock))
        q = lu.QMP(sock)
        q.cmd("qmp_capabilities")
        p.send_signal(signal.SIGTERM)
        ev = q.event("SHUTDOWN")
        assert ev["data"] == {"guest": False, "reason": "host-signal"}
        assert set(ev["timestamp"]) == {"seconds", "microseconds"}
        assert p.wait(timeout=10) == 0
        err = p.stderr.read().decode()
        me = open("/proc/self/cmdline", "rb").read().split(b"\0")[0].decode()
        assert err == "qemu-system-aarch64: terminating on signal 15 from pid %d (%s)\n" % (os.getpid(), me)
        assert not os.path.exists(sock)
    finally:
        p.kill()
        p.wait()


def test_msg_timestamp_prefixes_late_messages(tmpd):
    sock = os.path.join(tmpd, "m.sock")
    p = lu.spawn(lu.BASE + ["-qmp", "unix:%s,server=on,wait=off" % sock, "-msg", "timestamp=on"])
    try:
        assert lu.wait_for(lambda: os.path.exists(sock))
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=10) == 0
        err = p.stderr.read().decode()
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z qemu-system-aarch64: "
            r"terminating on signal 2 from pid \d+ \(.*\)\n",
            err,
        ), err
    finally:
        p.kill()
        p.wait()


def test_quit_and_runstate_events(tmpd):
    sock = os.path.join(tmpd, "m.sock")
    p = lu.spawn(lu.BASE + ["-qmp", "unix:%s,server=on,wait=off" % sock])
    try:
        assert lu.wait_for(lambda: os.path.exists(sock))
        q = lu.QMP(sock)
        q.cmd("qmp_capabilities")
        assert q.cmd("query-status")["return"]["status"] == "prelaunch"
        assert q.cmd("cont") == {"return": {}}
        assert q.event("RESUME") is not None
        assert q.cmd("stop") == {"return": {}}
        assert q.event("STOP") is not None
        assert q.cmd("query-status")["return"] == {"status": "paused", "singlestep": False, "running": False}
        assert q.cmd("quit") == {"return": {}}
        assert q.event("SHUTDOWN")["data"] == {"guest": False, "reason": "host-qmp-quit"}
        assert q.recv() is None
        assert p.wait(timeout=10) == 0
        assert p.stderr.read() == b""
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("no_shutdown", [False, True])
def test_system_powerdown_guest_shutdown(tmpd, no_shutdown):
    sock = os.path.join(tmpd, "m.sock")
    args = lu.BASE + ["-qmp", "unix:%s,server=on,wait=off" % sock] + (["-no-shutdown"] if no_shutdown else [])
    p = lu.spawn(args)
    try:
        assert lu.wait_for(lambda: os.path.exists(sock))
        q = lu.QMP(sock)
        q.cmd("qmp_capabilities")
        q.cmd("cont")
        assert q.cmd("system_powerdown") == {"return": {}}
        assert q.event("POWERDOWN") is not None
        ev = q.event("SHUTDOWN")
        assert ev["data"] == {"guest": True, "reason": "guest-shutdown"}
        if no_shutdown:
            assert q.event("STOP") is not None
            assert q.cmd("query-status")["return"]["status"] == "shutdown"
            assert p.poll() is None
            assert q.cmd("quit") == {"return": {}}
        assert p.wait(timeout=10) == 0
    finally:
        p.kill()
        p.wait()


def test_inherited_listening_fd_like_libvirt(tmpd):
    path = os.path.join(tmpd, "monitor.sock")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(1)
    fd = ls.fileno()
    args = lu.BASE + [
        "-chardev",
        "socket,id=charmonitor,fd=%d,server=on,wait=off" % fd,
        "-mon",
        "chardev=charmonitor,id=monitor,mode=control",
    ]
    p = lu.spawn(args, pass_fds=(fd,))
    ls.close()
    try:
        q = lu.QMP(path)  # connect works at once: the socket already listens
        q.cmd("qmp_capabilities")
        r = q.cmd("query-chardev")
        assert r["return"] == [
            {"frontend-open": True, "filename": "unix:%s,server=on" % path, "label": "charmonitor"}
        ]
        q.cmd("quit")
        assert p.wait(timeout=10) == 0
        assert os.path.exists(path)  # an inherited socket is libvirt's to remove
    finally:
        p.kill()
        p.wait()


def test_inherited_connected_fd(tmpd):
    a, b = socket.socketpair()
    args = lu.BASE + ["-chardev", "socket,id=c0,fd=%d" % b.fileno(), "-mon", "chardev=c0,mode=control"]
    p = lu.spawn(args, pass_fds=(b.fileno(),))
    b.close()
    try:
        q = lu.QMP(sock=a)
        assert "QMP" in q.greeting
        assert q.cmd("qmp_capabilities") == {"return": {}}
        q.cmd("quit")
        assert p.wait(timeout=10) == 0
    finally:
        p.kill()
        p.wait()


def test_pretty_monitor(tmpd):
    path = os.path.join(tmpd, "p.sock")
    p = lu.spawn(
        lu.BASE
        + [
            "-chardev",
            "socket,id=c1,path=%s,server=on,wait=off" % path,
            "-mon",
            "chardev=c1,mode=control,pretty=on",
        ]
    )
    try:
        s = lu.connect(path)
        data = b""
        while not data.endswith(b"}\r\n"):
            data += s.recv(4096)
        assert data.startswith(b'{\r\n    "QMP": {')
        s.close()
    finally:
        p.kill()
        p.wait()


def test_wait_on_blocks_until_a_client_connects(tmpd):
    path = os.path.join(tmpd, "w.sock")
    p = lu.spawn(lu.BASE + ["-qmp", "unix:%s,server=on" % path])
    try:
        assert lu.wait_for(lambda: os.path.exists(path))
        line = p.stderr.readline().decode()
        assert line == (
            "qemu-system-aarch64: -qmp unix:%s,server=on: info: QEMU waiting for "
            "connection on: disconnected:unix:%s,server=on\n" % (path, path)
        )
        q = lu.QMP(path)
        assert q.cmd("qmp_capabilities") == {"return": {}}
        q.cmd("quit")
        assert p.wait(timeout=10) == 0
    finally:
        p.kill()
        p.wait()


# --- profile selection ----------------------------------------------------------------


def _version_of(cmd, **kw):
    p = subprocess.run(cmd + ["-version"], capture_output=True, text=True, **kw)
    return p.returncode, p.stdout.splitlines()[0] if p.stdout else p.stderr


def test_profile_flag_env_and_config_file(tmpd):
    from qmpserver.launcher.config import SUFFIX

    link = os.path.join(tmpd, "qemu-system-aarch64")
    with open(link, "w") as f:
        f.write(
            "#!%s\nimport sys\nsys.path.insert(0, %r)\nfrom qmpserver.launcher.main import main\n"
            "sys.exit(main())\n" % (sys.executable, lu.ROOT)
        )
    os.chmod(link, 0o755)
    env = lu.env()
    # a config keyed on the executable's path
    with open(link + SUFFIX, "w") as f:
        json.dump({"profile": "qemu-11.1-tcg"}, f)
    rc, line = _version_of([link], env=env)
    assert rc == 0 and line.startswith("QEMU emulator version 11.1"), line
    # QMPSERVER_PROFILE beats the config file
    rc, line = _version_of([link], env=dict(env, QMPSERVER_PROFILE="debian-7.2-tcg"))
    assert line == "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"
    # --profile beats both, wherever it is on the command line
    p = subprocess.run(
        [link, "-version", "--profile", "debian-7.2-tcg"],
        capture_output=True,
        text=True,
        env=dict(env, QMPSERVER_PROFILE="qemu-11.1-tcg"),
    )
    assert p.stdout.startswith("QEMU emulator version 7.2.22")
    # a launchers.json registry (XDG_CONFIG_HOME) when there is no file next to it
    os.unlink(link + SUFFIX)
    cfg = os.path.join(tmpd, "xdg", "qmpserver")
    os.makedirs(cfg)
    with open(os.path.join(cfg, "launchers.json"), "w") as f:
        json.dump({link: {"profile": "qemu-11.1-tcg"}}, f)
    rc, line = _version_of([link], env=dict(env, XDG_CONFIG_HOME=os.path.join(tmpd, "xdg")))
    assert line.startswith("QEMU emulator version 11.1")


def test_bad_profile_is_one_line_not_a_traceback():
    p = lu.run(["-version"], profile="no-such-profile")
    assert p.returncode == 1
    assert p.stderr.startswith("qemu-system-aarch64: qmpserver: unknown profile 'no-such-profile'")
    assert "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1


# --- install-launcher ------------------------------------------------------------------------


def _install(*args):
    return subprocess.run(
        [sys.executable, "-m", "qmpserver.cli", "install-launcher"] + list(args),
        capture_output=True,
        text=True,
        env=lu.env(),
        timeout=300,
    )


def test_install_launcher_empty_environment_and_ctime(tmpd):
    d = os.path.join(tmpd, "bin")
    p = _install("--profile", "debian-7.2-tcg", "--dir", d)
    assert p.returncode == 0, p.stderr
    exe = os.path.join(d, "qemu-system-aarch64")
    assert sorted(os.listdir(d)) == [
        "qemu-system-aarch64",
        "qemu-system-aarch64.profile.pickle",
        "qemu-system-aarch64.qmpserver.json",
    ]
    first = open(exe).readline()
    assert first.startswith("#!/") and first.rstrip().endswith(" -IS")
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, env={})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("QEMU emulator version 7.2.22")
    ctime = os.stat(exe).st_ctime_ns
    time.sleep(0.02)
    p = _install("--profile", "debian-7.2-tcg", "--dir", d)
    assert p.returncode == 0 and "up to date" in p.stdout
    assert os.stat(exe).st_ctime_ns == ctime  # nothing changed: libvirt keeps its cache
    p = _install("--profile", "qemu-11.1-tcg", "--dir", d, "--name", "qemu-system-aarch64")
    assert p.returncode == 0, p.stderr
    assert os.stat(exe).st_ctime_ns != ctime  # another profile: libvirt re-probes
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, env={})
    assert out.stdout.startswith("QEMU emulator version 11.1")


def test_install_launcher_profile_file_change_changes_ctime(tmpd):
    prof = os.path.join(tmpd, "mine.yaml")
    with open(prof, "w") as f:
        f.write("kind: profile\nname: mine\nextends: debian-7.2-tcg\nsummary: one\n")
    d = os.path.join(tmpd, "bin")
    assert _install("--profile", prof, "--dir", d).returncode == 0
    exe = os.path.join(d, "qemu-system-aarch64")
    ctime = os.stat(exe).st_ctime_ns
    time.sleep(0.02)
    with open(prof, "w") as f:
        f.write("kind: profile\nname: mine\nextends: debian-7.2-tcg\nsummary: two, longer\n")
    p = _install("--profile", prof, "--dir", d)
    assert p.returncode == 0 and p.stdout.startswith("installed"), p.stdout + p.stderr
    assert os.stat(exe).st_ctime_ns != ctime


def test_install_launcher_copy_package(tmpd):
    d = os.path.join(tmpd, "bin")
    p = _install("--profile", "debian-7.2-tcg", "--dir", d, "--copy-package")
    assert p.returncode == 0, p.stderr
    lib = os.path.join(d, "qemu-system-aarch64.lib", "qmpserver")
    assert os.path.exists(os.path.join(lib, "launcher", "main.py"))
    assert any(f.endswith(".pyc") for f in os.listdir(os.path.join(lib, "launcher", "__pycache__")))
    exe = os.path.join(d, "qemu-system-aarch64")
    assert "qemu-system-aarch64.lib" in open(exe).read()
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, env={})
    assert out.returncode == 0, out.stderr


def test_launcher_start_imports_stay_lean(tmpd):
    """No asyncio, logging, yaml, argparse or aiohttp on the launcher's path."""
    sock = os.path.join(tmpd, "m.sock")
    code = (
        "import sys\nsys.argv=['qemu-system-aarch64','--profile','debian-7.2-tcg']+%r\n"
        "import qmpserver.launcher.main as M\n"
        "M.Runner.setup_post=lambda self: (_ for _ in ()).throw(SystemExit(0))\n"
        "try:\n    M.main()\nexcept SystemExit:\n    pass\n"
        "bad=[m for m in ('asyncio','logging','yaml','argparse','aiohttp') if m in sys.modules]\n"
        "print(','.join(bad))\n" % (lu.BASE + ["-qmp", "unix:%s,server=on,wait=off" % sock])
    )
    # the compiled profile must be in the cache first (compiling parses YAML)
    lu.run(["-version"])
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=lu.env())
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ""
