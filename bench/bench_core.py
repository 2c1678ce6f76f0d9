#!/usr/bin/env python3
"""Side-by-side benchmark: real QEMU vs qmpserver, in one run.

    python bench/bench_core.py [--rounds N] [--profile P] [--json FILE]

Measures, for real ``qemu-system-aarch64 -S -nodefaults -machine virt -cpu max
-accel tcg`` and for qmpserver's QEMU-compatible launcher on the profile
captured from that binary (same command line):

* process start to QMP greeting (median of runs)
* sequential ``query-version`` round trip (buffered raw-socket client)
* sequential ``query-cpu-model-expansion`` of ``max``
* pipelined ``query-version`` (N requests written at once), time per command
* ``query-qmp-schema`` round trip
* resident memory (VmRSS) after start

and prints mock/QEMU ratios next to the issue's targets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU_ARGS = ["-S", "-nodefaults", "-machine", "virt", "-cpu", "max", "-accel", "tcg", "-display", "none"]
TARGETS = {"start_to_greeting_ms": 2.0, "seq_query_version_us": 0.2, "seq_cpu_expansion_us": 0.1,
           "pipelined_query_version_us": 0.1, "query_qmp_schema_ms": 0.05, "rss_mb": 0.5}


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def rt(self, req: bytes):
        self.s.sendall(req)
        while True:
            line = self.line()
            if not line.startswith(b'{"timestamp"'):
                return line


def launch(cmd, path, env=None):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd + ["-qmp", "unix:%s,server=on,wait=off" % path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            break
        except OSError:
            if p.poll() is not None:
                raise RuntimeError("%s exited: %s" % (cmd[0], p.stderr.read().decode()))
            time.sleep(0.0005)
    c = Client.__new__(Client)
    c.s, c.buf = s, b""
    c.line()
    return p, c, (time.perf_counter() - t0) * 1000


_RTT = None


def rtt_tool():
    """Compile bench/qmp_rtt.c once (gcc); None means: use the Python client."""
    global _RTT
    if _RTT is None:
        cc = shutil.which("gcc") or shutil.which("cc")
        _RTT = ""
        if cc:
            out = os.path.join(tempfile.mkdtemp(prefix="bqc", dir="/tmp"), "qmp_rtt")
            r = subprocess.run([cc, "-O2", "-o", out, os.path.join(ROOT, "bench", "qmp_rtt.c")])
            if r.returncode == 0:
                _RTT = out
    return _RTT or None


def c_rtt(path, mode, n, req: bytes) -> float:
    out = subprocess.run([rtt_tool(), path, mode, str(n), req.decode()], capture_output=True, text=True,
                         check=True)
    return float(out.stdout)


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(cmd, rounds, starts, env=None):
    d = tempfile.mkdtemp(prefix="bq", dir="/tmp")
    res = {}
    try:
        times = []
        for i in range(starts):
            path = os.path.join(d, "s%d.sock" % i)
            p, c, ms = launch(cmd, path, env)
            times.append(ms)
            p.kill()
            p.wait()
        res["start_to_greeting_ms"] = statistics.median(times)
        path = os.path.join(d, "main.sock")
        p, c, _ = launch(cmd, path, env)
        try:
            c.rt(b'{"execute":"qmp_capabilities"}')
            time.sleep(0.3)
            res["rss_mb"] = rss_mb(p.pid)
            q = b'{"execute":"query-version"}'
            e = b'{"execute":"query-cpu-model-expansion","arguments":{"type":"full","model":{"name":"max"}}}'
            reply = c.rt(e)
            if b'"return"' not in reply:
                res["seq_cpu_expansion_error"] = reply.decode()
            if rtt_tool():
                c.s.close()   # one client per monitor: let the C client in
                res["client"] = "C (bench/qmp_rtt.c)"
                res["seq_query_version_us"] = c_rtt(path, "seq", rounds, q)
                res["seq_cpu_expansion_us"] = c_rtt(path, "seq", rounds // 2, e)
                res["pipelined_query_version_us"] = c_rtt(path, "pipe", rounds, q)
                c = Client(path)
                c.line()
                c.rt(b'{"execute":"qmp_capabilities"}')
                res["query_qmp_schema_ms"] = _schema_ms(c)
                return res
            res["client"] = "Python"
            for _ in range(200):
                c.rt(q)
            t = time.perf_counter()
            for _ in range(rounds):
                c.rt(q)
            res["seq_query_version_us"] = (time.perf_counter() - t) / rounds * 1e6
            t = time.perf_counter()
            for _ in range(rounds // 2):
                c.rt(e)
            res["seq_cpu_expansion_us"] = (time.perf_counter() - t) / (rounds // 2) * 1e6
            n = rounds
            t = time.perf_counter()
            c.s.sendall(q * n)
            for _ in range(n):
                c.line()
            res["pipelined_query_version_us"] = (time.perf_counter() - t) / n * 1e6
            res["query_qmp_schema_ms"] = _schema_ms(c)
        finally:
            p.kill()
            p.wait()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return res


def _schema_ms(c):
    sch = b'{"execute":"query-qmp-schema"}'
    c.rt(sch)
    ts = []
    for _ in range(20):
        t = time.perf_counter()
        c.rt(sch)
        ts.append((time.perf_counter() - t) * 1000)
    return statistics.median(ts)


def mock_command(profile):
    launcher = shutil.which("qmpserver-qemu")
    if launcher is None:
        launcher_cmd = [sys.executable, "-m", "qmpserver.launcher.main"]
    else:
        launcher_cmd = [launcher]
    return launcher_cmd + ["--profile", profile] + QEMU_ARGS


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--starts", type=int, default=15)
    ap.add_argument("--profile", default="debian-7.2-tcg")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-aarch64"))
    ap.add_argument("--mock-cmd", help="the mock executable (and leading arguments), e.g. a launcher written "
                                        "by 'qmpserver install-launcher'; QEMU's arguments are appended")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if not a.qemu:
        sys.exit("qemu-system-aarch64 not found: install Debian's qemu-system-arm")
    mock_cmd = a.mock_cmd.split() + QEMU_ARGS if a.mock_cmd else mock_command(a.profile)
    # warm the compile cache once so start-up measures a normal start
    subprocess.run([sys.executable, "-m", "qmpserver.cli", "profiles", "show", a.profile],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    real = measure([a.qemu] + QEMU_ARGS, a.rounds, a.starts)
    mock = measure(mock_cmd, a.rounds, a.starts)
    rows = []
    print("%-28s %12s %12s %8s %8s" % ("metric", "QEMU", "qmpserver", "ratio", "target"))
    for k, target in TARGETS.items():
        if k not in real or k not in mock:
            continue
        ratio = mock[k] / real[k] if real[k] else float("nan")
        ok = "ok" if ratio <= target else "MISS"
        rows.append({"metric": k, "qemu": real[k], "qmpserver": mock[k], "ratio": ratio, "target": target})
        print("%-28s %12.2f %12.2f %8.3f %6s %s" % (k, real[k], mock[k], ratio, "<=%g" % target, ok))
    print("client: %s" % mock.get("client"))
    for k in ("seq_cpu_expansion_error",):
        if k in mock:
            print("note: qmpserver expansion answered an error: %s" % mock[k])
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "real": real, "mock": mock, "mock_cmd": mock_cmd}, f, indent=2)


if __name__ == "__main__":
    main()
