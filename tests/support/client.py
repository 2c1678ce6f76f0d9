"""A raw byte-level QMP client: sends exact bytes, reads CRLF-framed messages."""

from __future__ import annotations

import json
import re
import socket
import time

# QEMU prints non-finite doubles as C does ("inf", "-nan"): not JSON; tests see them as strings
_NONFINITE = re.compile(rb"(?<=[:\[,] )(-?(?:inf|nan))(?=[,\]}])")


def loads(line: bytes):
    try:
        return json.loads(line)
    except ValueError:
        return json.loads(_NONFINITE.sub(rb'"<\1>"', line))


class RawClient:
    def __init__(self, path_or_sock, timeout=5.0):
        if isinstance(path_or_sock, socket.socket):
            self.sock = path_or_sock
        else:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(path_or_sock)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.eof = False
        self.raw_lines: list = []

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_line(self, timeout=5.0) -> bytes | None:
        deadline = time.time() + timeout
        while b"\r\n" not in self.buf:
            left = deadline - time.time()
            if left <= 0 or self.eof or not self._fill(left):
                return None
        line, _, self.buf = self.buf.partition(b"\r\n")
        self.raw_lines.append(line + b"\r\n")
        return line

    def read(self, timeout=5.0):
        line = self.read_line(timeout)
        return None if line is None else loads(line)

    def read_n(self, n, timeout=5.0) -> list:
        out = []
        for _ in range(n):
            m = self.read(timeout)
            if m is None:
                break
            out.append(m)
        return out

    def read_quiet(self, quiet=0.3, limit=10.0) -> list:
        """Messages until nothing arrives for ``quiet`` seconds (or EOF)."""
        out = []
        deadline = time.time() + limit
        while time.time() < deadline:
            m = self.read(quiet)
            if m is None:
                break
            out.append(m)
        return out

    def cmd(self, name, args=None, **extra):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        msg.update(extra)
        self.send(json.dumps(msg))
        while True:
            m = self.read()
            if m is None or "event" not in m:
                return m

    def negotiate(self):
        g = self.read()
        r = self.cmd("qmp_capabilities")
        assert r == {"return": {}}, r
        return g

    def at_eof(self, timeout=2.0) -> bool:
        deadline = time.time() + timeout
        while not self.eof and time.time() < deadline:
            if not self._fill(deadline - time.time()):
                if not self.eof:
                    continue
        return self.eof and not self.buf

    def close(self):
        self.sock.close()


def strip_timestamps(msgs):
    out = []
    for m in msgs:
        if isinstance(m, dict) and "timestamp" in m:
            ts = m["timestamp"]
            assert isinstance(ts["seconds"], int) and isinstance(ts["microseconds"], int)
            assert 0 <= ts["microseconds"] < 1000000
            m = dict(m)
            m["timestamp"] = "TS"
        out.append(m)
    return out
