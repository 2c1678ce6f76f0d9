#!/usr/bin/env python3
"""Scale benchmark: N simulated QEMUs in ONE ``qmpserver serve`` process, one client each.

Measures, against targets from the issue (N = 1000):

* creation of all N instances through the HTTP API (target <= 5 s);
* total RSS of the serve process with N instances and N connected, negotiated
  clients (target <= 250 MB; one real QEMU is 36-45 MB here);
* round trip of ``query-cpu-model-expansion`` with all N clients active
  (target p99 <= 10 ms).

"Active" means every client keeps sending: each one issues the command at
``--rate`` per second (default 1/s, so N requests/s in total, start times
spread uniformly), for ``--duration`` seconds; the round trip is measured per
request, from write to the reply line.  A second figure, ``burst``, has all N
clients send at the same instant (a worst case: the N-th reply waits behind
N-1 others on one event loop); it is reported, not judged.

The server runs as a subprocess (``python -m qmpserver.cli serve --http``);
the clients are raw asyncio connections in this process (qemu.qmp costs
~100 us per call on the client side and would measure itself), so the two
sides use two cores.  ``--trace-memory`` runs the server under tracemalloc
and prints the allocation sites that dominate its memory.

    python bench/bench_scale.py                 # 1000 instances, the default profile
    python bench/bench_scale.py -n 200 --profile debian-7.2-tcg --json out.json
    python bench/bench_scale.py --trace-memory  # where the memory goes

Exit status 1 with ``--check`` when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGETS = {"create_s": 5.0, "rss_mb": 250.0, "p99_ms": 10.0}


# --- server side ---------------------------------------------------------------------------------


def proc_mem(pid) -> dict:
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0]) / 1024.0
    return out


def start_server(args, trace_file=None):
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", ROOT)
    if trace_file:
        cmd = [sys.executable, os.path.abspath(__file__), "--serve-traced", trace_file]
        if args.profile:
            cmd += ["--profile", args.profile]
    else:
        cmd = (
            [
                sys.executable,
                "-m",
                "qmpserver.cli",
                "serve",
                "--http",
                "127.0.0.1:0",
                "--keep-running",
                "--log-level",
                "error",
            ]
            if _has_log_level()
            else [sys.executable, "-m", "qmpserver.cli", "serve", "--http", "127.0.0.1:0", "--keep-running"]
        )
        if args.profile:
            cmd += ["--profile", args.profile]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    url = None
    deadline = time.monotonic() + 60
    while url is None:
        line = p.stdout.readline().decode()
        if not line:
            raise SystemExit("serve exited: %s" % p.stderr.read().decode())
        m = re.search(r"HTTP API on (http://\S+)", line)
        if m:
            url = m.group(1)
        if time.monotonic() > deadline:
            raise SystemExit("serve did not start")
    return p, url


def _has_log_level():
    try:
        out = subprocess.run(
            [sys.executable, "-m", "qmpserver.cli", "serve", "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT),
        ).stdout
    except OSError:
        return False
    return "--log-level" in out


def serve_traced(trace_file, profile):
    """The server of ``--trace-memory``: serve + HTTP under tracemalloc; SIGUSR1 writes the top sites."""
    import tracemalloc

    tracemalloc.start(1)
    sys.path.insert(0, ROOT)
    from qmpserver.http.app import start_http
    from qmpserver.serve import Server

    async def main():
        loop = asyncio.get_running_loop()
        server = Server(loop)
        prof = server.profile(profile)  # load the profile (and its lazily loaded parts) first
        prof.build.schema
        inst = await server.create_instance(profile, None, ["tcp:127.0.0.1:0"])
        inst.command_table
        server.remove_instance(inst.id)
        base = tracemalloc.take_snapshot()
        del inst
        h = await start_http(server, "127.0.0.1:0")
        print("qmpserver: HTTP API on %s" % h.url, flush=True)
        done = asyncio.Event()

        def dump():
            snap = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            stats = snap.compare_to(base, "lineno")
            total = sum(s.size_diff for s in stats)
            lines = ["total allocated since the baseline: %.1f MB" % (total / 1e6)]
            for s in stats[:25]:
                fr = s.traceback[0]
                fn = fr.filename.replace(ROOT + "/", "")
                lines.append("%8.1f MB  %8d blocks  %s:%d" % (s.size_diff / 1e6, s.count_diff, fn, fr.lineno))
            by_file = {}
            for s in stats:
                fn = s.traceback[0].filename.replace(ROOT + "/", "")
                by_file[fn] = by_file.get(fn, 0) + s.size_diff
            lines.append("by file:")
            for fn, size in sorted(by_file.items(), key=lambda kv: -kv[1])[:15]:
                lines.append("%8.1f MB  %s" % (size / 1e6, fn))
            with open(trace_file, "w") as f:
                f.write("\n".join(lines) + "\n")

        loop.add_signal_handler(signal.SIGUSR1, dump)
        loop.add_signal_handler(signal.SIGTERM, done.set)
        await done.wait()
        server.close()
        await h.close()

    asyncio.run(main())


# --- client side -----------------------------------------------------------------------------------


async def create_all(url, n, profile, concurrency):
    import aiohttp

    body = {"profile": profile} if profile else {}
    sem = asyncio.Semaphore(concurrency)
    out = [None] * n
    async with aiohttp.ClientSession() as cs:

        async def one(i):
            async with sem:
                async with cs.post(url + "/api/v1/instances", json=body) as r:
                    d = await r.json()
                    if r.status != 201:
                        raise SystemExit("create failed: %s %s" % (r.status, d))
                    out[i] = d

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return out, time.perf_counter() - t0


class Client:
    __slots__ = ("reader", "writer", "n")

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.n = 0

    async def call(self, payload: bytes):
        self.writer.write(payload)
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("closed")
            if b'"event"' not in line[:40]:
                return line


async def connect(d):
    a = d["qmp"][0]
    if "path" in a:
        r, w = await asyncio.open_unix_connection(a["path"], limit=1 << 24)
    else:
        r, w = await asyncio.open_connection(a["host"], a["port"], limit=1 << 24)
    await r.readline()
    c = Client(r, w)
    await c.call(b'{"execute": "qmp_capabilities"}')
    return c


def request_bytes(model):
    return json.dumps(
        {"execute": "query-cpu-model-expansion", "arguments": {"type": "full", "model": {"name": model}}}
    ).encode()


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


async def steady_load(clients, payload, rate, duration):
    lat = []
    errors = 0
    t_end = time.perf_counter() + duration
    period = 1.0 / rate

    async def run(c):
        nonlocal errors
        nxt = time.perf_counter() + random.random() * period
        while True:
            delay = nxt - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() >= t_end:
                return
            t0 = time.perf_counter()
            line = await c.call(payload)
            lat.append(time.perf_counter() - t0)
            if b'"error"' in line[:12]:
                errors += 1
            nxt += period

    await asyncio.gather(*(run(c) for c in clients))
    return lat, errors


async def burst(clients, payload, rounds=3):
    lat = []
    for _ in range(rounds):

        async def one(c):
            t0 = time.perf_counter()
            await c.call(payload)
            lat.append(time.perf_counter() - t0)

        await asyncio.gather(*(one(c) for c in clients))
        await asyncio.sleep(0.2)
    return lat


def reply_sample(line):
    try:
        return json.loads(line)
    except ValueError:
        return None


async def drive(args, pid, url):
    res = {"instances": args.instances, "profile": args.profile or "(default)"}
    res["rss_start_mb"] = proc_mem(pid)["VmRSS"]
    infos, dt = await create_all(url, args.instances, args.profile, args.concurrency)
    res["create_s"] = dt
    res["create_per_instance_ms"] = dt / args.instances * 1000
    res["rss_created_mb"] = proc_mem(pid)["VmRSS"]
    t0 = time.perf_counter()
    clients = []
    for i in range(0, len(infos), 100):
        clients += await asyncio.gather(*(connect(d) for d in infos[i : i + 100]))
    res["connect_s"] = time.perf_counter() - t0
    model = args.model or infos[0]["cpu"]["model"] or "max"
    payload = request_bytes(model)
    first = await clients[0].call(payload)
    res["model"] = model
    res["reply_bytes"] = len(first)
    sample = reply_sample(first)
    res["reply_is_error"] = bool(sample and "error" in sample)
    res["rss_connected_mb"] = proc_mem(pid)["VmRSS"]
    lat, errors = await steady_load(clients, payload, args.rate, args.duration)
    res["requests"] = len(lat)
    res["errors"] = errors
    res["throughput_rps"] = len(lat) / args.duration
    for p in (50, 90, 99, 99.9):
        res["p%s_ms" % str(p).replace(".", "_")] = percentile(lat, p) * 1000
    res["max_ms"] = max(lat) * 1000 if lat else float("nan")
    b = await burst(clients, payload)
    res["burst_p50_ms"] = percentile(b, 50) * 1000
    res["burst_p99_ms"] = percentile(b, 99) * 1000
    mem = proc_mem(pid)
    res["rss_mb"] = mem["VmRSS"]
    res["rss_peak_mb"] = mem["VmHWM"]
    res["rss_anon_mb"] = mem.get("RssAnon")
    res["rss_per_instance_kb"] = (mem["VmRSS"] - res["rss_start_mb"]) * 1024 / args.instances
    for c in clients:
        c.writer.close()
    return res


def report(res, out=sys.stdout):
    def line(label, value, unit="", target=None):
        verdict = ""
        if target is not None:
            verdict = "  (target <= %s%s: %s)" % (target, unit, "ok" if value <= target else "MISSED")
        out.write("%-44s %10.2f %s%s\n" % (label, value, unit, verdict))

    out.write(
        "qmpserver scale bench: %d instances, profile %s, query-cpu-model-expansion of '%s' "
        "(%d-byte reply%s)\n"
        % (
            res["instances"],
            res["profile"],
            res["model"],
            res["reply_bytes"],
            ", an error reply" if res["reply_is_error"] else "",
        )
    )
    line("create all through the API", res["create_s"], "s", TARGETS["create_s"])
    line("  per instance", res["create_per_instance_ms"], "ms")
    line("connect + negotiate all clients", res["connect_s"], "s")
    line("RSS at start (1 instance, HTTP on)", res["rss_start_mb"], "MB")
    line("RSS with all instances", res["rss_created_mb"], "MB")
    line("RSS with all clients connected", res["rss_connected_mb"], "MB")
    line("RSS after the load", res["rss_mb"], "MB", TARGETS["rss_mb"])
    line("  per instance (+ its client)", res["rss_per_instance_kb"], "KB")
    out.write(
        "%-44s %10d requests at %.0f/s, %d errors\n"
        % ("steady load", res["requests"], res["throughput_rps"], res["errors"])
    )
    line("  p50 round trip", res["p50_ms"], "ms")
    line("  p90 round trip", res["p90_ms"], "ms")
    line("  p99 round trip", res["p99_ms"], "ms", TARGETS["p99_ms"])
    line("  p99.9 round trip", res["p99_9_ms"], "ms")
    line("  max round trip", res["max_ms"], "ms")
    line("burst (all clients at once) p50", res["burst_p50_ms"], "ms")
    line("burst (all clients at once) p99", res["burst_p99_ms"], "ms")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--instances", type=int, default=1000)
    ap.add_argument("--profile", help="profile of the instances (default: the embedded default)")
    ap.add_argument("--model", help="CPU model to expand (default: the instances' CPU model)")
    ap.add_argument("--rate", type=float, default=1.0, help="requests per second per client (default 1)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of steady load (default 10)")
    ap.add_argument("--concurrency", type=int, default=4, help="concurrent creation requests (default 4)")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument(
        "--trace-memory",
        action="store_true",
        help="run the server under tracemalloc and "
        "print where its memory goes (slower; timings not comparable)",
    )
    ap.add_argument("--serve-traced", metavar="FILE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve_traced:
        return serve_traced(args.serve_traced, args.profile)
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = args.instances * 2 + 200
        if soft < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
    except (ImportError, ValueError, OSError):
        pass
    trace_file = tempfile.mktemp(prefix="qmpserver-trace-") if args.trace_memory else None
    proc, url = start_server(args, trace_file)
    try:
        res = asyncio.run(drive(args, proc.pid, url))
        if trace_file:
            proc.send_signal(signal.SIGUSR1)
            for _ in range(600):
                if os.path.exists(trace_file) and os.path.getsize(trace_file):
                    break
                time.sleep(0.1)
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    report(res)
    if trace_file:
        print("\nwhere the server's memory went (tracemalloc, since the profile was loaded):")
        with open(trace_file) as f:
            print(f.read())
        os.unlink(trace_file)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    missed = [k for k, t in TARGETS.items() if res[k if k != "rss_mb" else "rss_mb"] > t]
    if args.check and missed:
        print("missed: %s" % ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
