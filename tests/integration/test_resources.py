"""A misbehaving client cannot grow the server without limit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from tests.support.client import RawClient
from tests.support.peers import short_tmpdir, wait_socket


def rss_kb(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.fixture
def served():
    d = short_tmpdir("rs")
    path = os.path.join(d, "q.sock")
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qmpserver.cli",
            "serve",
            "--profile",
            "debian-7.2-tcg",
            "--qmp",
            "unix:" + path,
            "-S",
            "--keep-running",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_socket(path).close()
    time.sleep(0.2)
    yield p, path
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()


def test_flood_without_reading_is_bounded(served):
    proc, path = served
    c = RawClient(path)
    c.negotiate()
    base = rss_kb(proc.pid)
    sent = [0]
    req = b'{"execute":"query-version"}' * 4096

    def flood():
        c.sock.settimeout(3)
        try:
            while sent[0] < 400 << 20:
                c.sock.sendall(req)
                sent[0] += len(req)
        except OSError:
            pass

    t = threading.Thread(target=flood)
    t.start()
    t.join(8)
    grown = rss_kb(proc.pid) - base
    assert sent[0] < 400 << 20, "the server must stop reading from a client that does not read"
    assert grown < 64 * 1024, "server grew by %d kB" % grown
    c.close()


def test_100_mib_message_is_bounded_and_recovers(served):
    proc, path = served
    c = RawClient(path)
    c.negotiate()
    base = rss_kb(proc.pid)
    peak = [0]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kb(proc.pid))
            time.sleep(0.05)

    w = threading.Thread(target=watch)
    w.start()
    c.sock.settimeout(60)
    c.send(b'{"execute":"query-name","id":"x","big":"')
    chunk = b"a" * (1 << 20)
    for _ in range(100):
        c.sock.sendall(chunk)
    c.send(b'"}\x01{"execute":"query-name","id":"after"}')
    msgs = []
    while True:
        m = c.read(60)
        assert m is not None
        msgs.append(m)
        if m.get("id") == "after":
            break
    stop.set()
    w.join()
    assert any(m.get("error", {}).get("desc") == "JSON token size limit exceeded" for m in msgs)
    assert msgs[-1] == {"return": {}, "id": "after"}
    assert peak[0] - base < 220 * 1024, "peak growth %d kB" % (peak[0] - base)
    c.close()


def test_unix_socket_mode_and_cleanup():
    d = short_tmpdir("rs")
    path = os.path.join(d, "q.sock")
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qmpserver.cli",
            "serve",
            "--profile",
            "debian-7.2-tcg",
            "--qmp",
            "unix:" + path,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_socket(path).close()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    p.terminate()
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert not os.path.exists(path), "socket files are removed on SIGTERM"
    assert "QMP listening on unix:%s" % path in out


def test_serve_default_profile_prints_where_it_listens():
    p = subprocess.Popen(
        [sys.executable, "-m", "qmpserver.cli", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        deadline = time.time() + 20
        while "QMP listening on" not in line and time.time() < deadline:
            line = p.stdout.readline()
            if not line and p.poll() is not None:
                break
        assert "QMP listening on unix:" in line, p.stderr.read() if p.poll() is not None else line
        path = line.strip().split("unix:", 1)[1]
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        assert b'"QMP"' in s.recv(4096)
        s.close()
    finally:
        p.send_signal(2)
        p.wait(10)
    assert p.returncode == 0


def test_tcp_listener_and_several_qmp_endpoints():
    d = short_tmpdir("rs")
    path = os.path.join(d, "q.sock")
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qmpserver.cli",
            "serve",
            "--profile",
            "debian-7.2-tcg",
            "--qmp",
            "tcp:127.0.0.1:0",
            "--qmp",
            "unix:" + path,
            "-S",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        while "QMP listening on" not in line:
            line = p.stdout.readline()
            assert line, p.stderr.read()
        tcp = line.split("on ", 1)[1].split(",")[0].strip()
        assert tcp.startswith("tcp:127.0.0.1:")
        port = int(tcp.rsplit(":", 1)[1])
        s = socket.create_connection(("127.0.0.1", port))
        c = RawClient(s)
        c.negotiate()
        assert c.cmd("query-status")["return"]["status"] == "prelaunch"
        u = RawClient(path)
        u.negotiate()
        # both monitors see the same instance: an event reaches both
        c.send(b'{"execute":"cont"}')
        assert [m.get("event") for m in c.read_n(2)][0] == "RESUME"
        assert u.read()["event"] == "RESUME"
    finally:
        p.terminate()
        p.wait(10)


def test_bad_command_line_is_one_clear_line():
    p = subprocess.run(
        [sys.executable, "-m", "qmpserver.cli", "serve", "--qmp", "tcp:nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 1
    assert p.stderr.strip() == "qmpserver: invalid TCP port in 'tcp:nope' (expected tcp:HOST:PORT)"
    p = subprocess.run(
        [sys.executable, "-m", "qmpserver.cli", "serve", "--profile", "no-such-profile"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 1 and "unknown profile 'no-such-profile'" in p.stderr
    assert "Traceback" not in p.stderr
