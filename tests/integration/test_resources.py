"""A misbehaving client cannot grow the server without limit.

The worst client behaviours of issue 16, each against a real server process with
its RSS asserted under a stated ceiling (docs/security.md lists the limits):

* a client that floods without reading (write pressure stops reading);
* a client waiting for the single-client monitor that sends 300 MiB (D1: QEMU
  does not accept it; the mock reads at most WAITING_INPUT_MAX of it);
* 1,000 pipelined ``query-qmp-schema`` in one write from a client that does not
  read (D2: answers stop at OUTPUT_HIGH_WATER of output until it is written),
  on the asyncio driver (serve, unix and TCP) and the epoll one (the launcher);
* a 100 MiB message (the token-size limit) and 1,000 abrupt clients.

Before the fixes of issue 16 the waiting client cost +307 MB and 3,000
pipelined schemas +1.3 GB (unix) / +1.8 GB (TCP); after, +8 kB and ~+10 MB.
"""

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


class Peak:
    """The highest RSS of a process while the block runs (sampled every 20 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.base = rss_kb(pid)
        self.peak = self.base
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> Peak:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, rss_kb(self.pid))

    @property
    def grown_kb(self) -> int:
        return self.peak - self.base


def open_fds(pid: int) -> int:
    return len(os.listdir("/proc/%d/fd" % pid))


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


@pytest.fixture
def served_tcp():
    """serve with a unix and a TCP monitor (the asyncio driver: unix sockets on the
    epoll-style connection, TCP on asyncio's transport)."""
    d = short_tmpdir("rs")
    path = os.path.join(d, "q.sock")
    p = subprocess.Popen(
        [sys.executable, "-m", "qmpserver.cli", "serve", "--profile", "debian-7.2-tcg"]
        + ["--qmp", "unix:" + path, "--qmp", "tcp:127.0.0.1:0", "-S", "--keep-running"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = ""
    while "QMP listening on" not in line:
        line = p.stdout.readline()
        assert line, p.stderr.read()
    port = int(line.split("tcp:127.0.0.1:", 1)[1].split(",")[0].split()[0])
    time.sleep(0.2)
    yield p, path, port
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()


@pytest.fixture
def launched():
    """The launcher (qemu-system-aarch64 stand-in, the epoll driver) with a unix monitor."""
    d = short_tmpdir("rs")
    path = os.path.join(d, "q.sock")
    p = subprocess.Popen(
        [sys.executable, "-m", "qmpserver.launcher.main", "--profile", "debian-7.2-tcg"]
        + ["-S", "-machine", "virt", "-nodefaults", "-display", "none"]
        + ["-qmp", "unix:%s,server=on,wait=off" % path],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_socket(path).close()
    time.sleep(0.2)
    yield p, path
    p.kill()
    p.wait(5)


def _connect(where):
    if isinstance(where, int):
        return socket.create_connection(("127.0.0.1", where))
    s = socket.socket(socket.AF_UNIX)
    s.connect(where)
    return s


PIPELINED = 1000
# Ceiling: 1 MiB of answers in the session plus 1 MiB above the transport's mark, twice
# for allocator slack; without the high-water mark 1,000 schemas held ~450 MB.
PIPELINED_CEILING_KB = 48 * 1024


def _pipelined_schema(proc, where):
    s = _connect(where)
    assert b'"QMP"' in s.recv(65536)
    with Peak(proc.pid) as peak:
        s.sendall(b'{"execute":"qmp_capabilities"}' + b'{"execute":"query-qmp-schema"}' * PIPELINED)
        time.sleep(2)  # the client does not read
    assert peak.grown_kb < PIPELINED_CEILING_KB, "server grew by %d kB" % peak.grown_kb
    # all of them are answered once the client reads, in order and whole
    s.settimeout(30)
    lines, buf = 0, b""
    while lines < PIPELINED + 1:
        data = s.recv(1 << 20)
        assert data, "closed after %d answers" % lines
        buf += data
        *done, buf = buf.split(b"\r\n")
        for line in done:
            assert line.startswith(b'{"return": '), line[:80]
        lines += len(done)
    s.close()


def test_pipelined_schema_without_reading_is_bounded_unix(served_tcp):
    proc, path, _ = served_tcp
    _pipelined_schema(proc, path)


def test_pipelined_schema_without_reading_is_bounded_tcp(served_tcp):
    proc, _, port = served_tcp
    _pipelined_schema(proc, port)


def test_pipelined_schema_without_reading_is_bounded_launcher(launched):
    proc, path = launched
    _pipelined_schema(proc, path)


WAITING_SENT_CEILING = 16 << 20  # the kernel's socket buffers plus WAITING_INPUT_MAX, with room
WAITING_CEILING_KB = 16 * 1024


@pytest.mark.parametrize("driver", ["serve", "launcher"])
def test_waiting_client_flood_is_not_buffered(driver, request):
    """D1: while A holds the monitor, B sends up to 300 MiB: it must block (QEMU does not
    accept it); once A leaves, B is greeted and its requests run."""
    if driver == "serve":
        proc, path, _ = request.getfixturevalue("served_tcp")
    else:
        proc, path = request.getfixturevalue("launched")
    a = RawClient(path)
    a.negotiate()
    b = _connect(path)
    sent = [0]
    chunk = b'{"execute":"query-name"}' * 40000  # ~1 MiB of valid requests

    def flood():
        b.settimeout(2)
        try:
            while sent[0] < 300 << 20:
                sent[0] += b.send(chunk)
        except OSError:
            pass

    with Peak(proc.pid) as peak:
        t = threading.Thread(target=flood)
        t.start()
        t.join(10)
    assert sent[0] < WAITING_SENT_CEILING, "the server took %d bytes from a waiting client" % sent[0]
    assert peak.grown_kb < WAITING_CEILING_KB, "server grew by %d kB" % peak.grown_kb
    a.close()
    b.settimeout(10)
    assert b'"QMP"' in b.recv(65536), "the waiting client is greeted when the first leaves"
    b.close()


ABRUPT = 1000


def test_thousand_abrupt_clients_leave_nothing_behind(served_tcp):
    """1,000 clients that connect and vanish (half-sent requests, RST, while another
    client holds the monitor or not): no descriptor, no memory and no liveness lost."""
    proc, path, port = served_tcp
    holder = RawClient(path)
    holder.negotiate()
    fds = open_fds(proc.pid)
    with Peak(proc.pid) as peak:
        for i in range(ABRUPT):
            s = _connect(port if i % 2 else path)
            if i % 3 == 0:
                s.send(b'{"execute":"query-qmp-schema"}{"execute":"qmp_capa')
            if i % 10 == 5:  # TCP reset instead of an orderly close
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        holder.close()  # the waiting ones are admitted one by one and found gone
        c = RawClient(path)
        c.negotiate()
        assert c.cmd("query-status")["return"]["status"] == "prelaunch"
    deadline = time.time() + 10
    while open_fds(proc.pid) > fds and time.time() < deadline:
        time.sleep(0.1)
    assert open_fds(proc.pid) <= fds, "descriptors left: %d > %d" % (open_fds(proc.pid), fds)
    assert peak.grown_kb < 32 * 1024, "server grew by %d kB" % peak.grown_kb
    assert proc.poll() is None
    c.close()
