#!/usr/bin/env python3
"""Side-by-side benchmark: real QEMU vs qmpserver, in one run.

    python bench/bench_core.py [--rounds N] [--reps R] [--mock-cmd LAUNCHER] [--json FILE]

Measures, for real ``qemu-system-aarch64 -S -nodefaults -machine virt -cpu max
-accel tcg`` and for qmpserver's QEMU-compatible launcher on the profile
captured from that binary (same command line):

* process start to QMP greeting
* sequential ``query-version`` round trip
* sequential ``query-cpu-model-expansion`` of ``max``
* pipelined ``query-version`` (N requests written at once), time per command
* ``query-qmp-schema`` round trip
* resident memory (VmRSS) after start

and prints mock/QEMU ratios next to the issue's targets.

Method: the two servers are measured alternately (QEMU, qmpserver, QEMU, ...)
and every figure is the median of the repetitions, so that load changes and
vCPU placement (on a 2-vCPU VM a round trip costs 15 us more or less depending
on which vCPUs client and server share) hit both sides alike.  Round trips are
timed with the small C client ``bench/qmp_rtt.c`` (compiled on the fly; the
Python client is the fallback): a Python client alone costs more than the
targets allow for the server.
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
TARGETS = {
    "start_to_greeting_ms": 2.0,
    "seq_query_version_us": 0.2,
    "seq_cpu_expansion_us": 0.1,
    "pipelined_query_version_us": 0.1,
    "query_qmp_schema_ms": 0.05,
    "rss_mb": 0.5,
}
Q_VERSION = b'{"execute":"query-version"}'
Q_EXPAND = b'{"execute":"query-cpu-model-expansion","arguments":{"type":"full","model":{"name":"max"}}}'
Q_SCHEMA = b'{"execute":"query-qmp-schema"}'


class Client:
    """Buffered raw-socket Python client (fallback, and for the schema)."""

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

    def close(self):
        self.s.close()


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


def rtt(path, mode, n, req: bytes) -> float:
    """Microseconds per request over n requests (a fresh connection each time)."""
    tool = rtt_tool()
    if tool:
        out = subprocess.run(
            [tool, path, mode, str(n), req.decode()], capture_output=True, text=True, check=True
        )
        return float(out.stdout)
    c = Client(path)
    c.line()
    c.rt(b'{"execute":"qmp_capabilities"}')
    for _ in range(100):
        c.rt(req)
    t = time.perf_counter()
    if mode == "seq":
        for _ in range(n):
            c.rt(req)
    else:
        c.s.sendall(req * n)
        for _ in range(n):
            c.line()
    us = (time.perf_counter() - t) / n * 1e6
    c.close()
    return us


def launch(cmd, path):
    """Start a server; returns (process, milliseconds until its greeting arrived)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(
        cmd + ["-qmp", "unix:%s,server=on,wait=off" % path],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
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
    ms = (time.perf_counter() - t0) * 1000
    c.close()
    return p, ms


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def schema_ms(path, reps=20):
    c = Client(path)
    c.line()
    c.rt(b'{"execute":"qmp_capabilities"}')
    c.rt(Q_SCHEMA)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        c.rt(Q_SCHEMA)
        ts.append((time.perf_counter() - t) * 1000)
    c.close()
    return statistics.median(ts)


def run(cmds, rounds, reps, starts):
    """cmds: {"qemu": argv, "mock": argv}; returns {side: {metric: value}}."""
    d = tempfile.mkdtemp(prefix="bq", dir="/tmp")
    sides = list(cmds)
    samples = {s: {k: [] for k in TARGETS} for s in sides}
    notes = {}
    procs = {}
    try:
        for i in range(starts):
            for s in sides:
                p, ms = launch(cmds[s], os.path.join(d, "%s-s%d.sock" % (s, i)))
                samples[s]["start_to_greeting_ms"].append(ms)
                p.kill()
                p.wait()
        paths = {}
        for s in sides:
            paths[s] = os.path.join(d, "%s.sock" % s)
            procs[s], _ = launch(cmds[s], paths[s])
        time.sleep(0.3)
        for s in sides:
            c = Client(paths[s])
            c.line()
            c.rt(b'{"execute":"qmp_capabilities"}')
            reply = c.rt(Q_EXPAND)
            if b'"return"' not in reply:
                notes[s] = "expansion answered an error: %s" % reply.decode()
            c.close()
            samples[s]["rss_mb"].append(rss_mb(procs[s].pid))
        for _ in range(reps):
            for s in sides:
                samples[s]["seq_query_version_us"].append(rtt(paths[s], "seq", rounds, Q_VERSION))
                samples[s]["seq_cpu_expansion_us"].append(rtt(paths[s], "seq", rounds // 2, Q_EXPAND))
                samples[s]["pipelined_query_version_us"].append(rtt(paths[s], "pipe", rounds, Q_VERSION))
        for s in sides:
            samples[s]["query_qmp_schema_ms"].append(schema_ms(paths[s]))
            samples[s]["rss_mb"].append(rss_mb(procs[s].pid))
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)
    result = {s: {k: statistics.median(v) for k, v in samples[s].items() if v} for s in sides}
    return result, samples, notes


def mock_command(profile):
    launcher = shutil.which("qmpserver-qemu")
    base = [launcher] if launcher else [sys.executable, "-m", "qmpserver.launcher.main"]
    return base + ["--profile", profile] + QEMU_ARGS


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3000, help="requests per round-trip measurement")
    ap.add_argument("--reps", type=int, default=7, help="alternating repetitions per metric")
    ap.add_argument("--starts", type=int, default=21, help="launches per side for start-up")
    ap.add_argument("--profile", default="debian-7.2-tcg")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-aarch64"))
    ap.add_argument(
        "--mock-cmd",
        help="the mock executable (and leading arguments), e.g. a launcher written "
        "by 'qmpserver install-launcher'; QEMU's arguments are appended",
    )
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if not a.qemu:
        sys.exit("qemu-system-aarch64 not found: install Debian's qemu-system-arm")
    mock_cmd = a.mock_cmd.split() + QEMU_ARGS if a.mock_cmd else mock_command(a.profile)
    subprocess.run(
        [sys.executable, "-m", "qmpserver.cli", "profiles", "show", a.profile],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # warm the compile cache
    result, samples, notes = run({"qemu": [a.qemu] + QEMU_ARGS, "mock": mock_cmd}, a.rounds, a.reps, a.starts)
    real, mock = result["qemu"], result["mock"]
    rows = []
    print("%-28s %12s %12s %8s %8s" % ("metric (median)", "QEMU", "qmpserver", "ratio", "target"))
    for k, target in TARGETS.items():
        ratio = mock[k] / real[k] if real[k] else float("nan")
        rows.append({"metric": k, "qemu": real[k], "qmpserver": mock[k], "ratio": ratio, "target": target})
        print(
            "%-28s %12.2f %12.2f %8.3f %6s %s"
            % (k, real[k], mock[k], ratio, "<=%g" % target, "ok" if ratio <= target else "MISS")
        )
    print(
        "client: %s; %d alternating repetitions" % ("C (bench/qmp_rtt.c)" if rtt_tool() else "Python", a.reps)
    )
    for side, note in notes.items():
        print("note (%s): %s" % (side, note))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "samples": samples, "mock_cmd": mock_cmd}, f, indent=2)


if __name__ == "__main__":
    main()
