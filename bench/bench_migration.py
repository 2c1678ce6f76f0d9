#!/usr/bin/env python3
"""Migration benchmark: a live-migration round trip, qmpserver vs real QEMU, and the planner.

    python bench/bench_migration.py [--reps N] [--qemu BIN] [--profile P] [--plan-rounds R]
                                    [--no-plans] [--json FILE]

1. **Round trip.**  Two processes per repetition, a source and a destination
   (``-machine virt-7.2 -cpu cortex-a57 -m 128M -S -nodefaults -display none``, TCG),
   driven in libvirt 9.0's conversation (tests/unit/launcher/test_launcher_migration.py):
   ``events`` on both; the destination started with ``-incoming defer`` gets
   ``late-block-activate`` + ``return-path`` and ``migrate-incoming tcp:127.0.0.1:PORT``;
   the source gets ``pause-before-switchover`` + ``return-path`` and ``migrate``, then
   ``migrate-continue`` at ``pre-switchover``.  Timed: ``migrate`` sent to the source's
   ``MIGRATION`` ``completed`` event read (the start of the processes is not timed).  Real
   ``qemu-system-aarch64`` 7.2 and qmpserver's launcher on the profile captured from it
   (``debian-7.2-tcg``) alternate repetition by repetition, as in bench_core.py; median
   and p95 of each, and the ratio of the medians.
2. **Planner.**  ``planner.plan(a, b)`` (what ``qmpserver migration plan A B`` computes) for
   every ordered pair of built-in hosts (one profile per host,
   ``planner.one_per_host`` over models/profiles): total, median and max per pair;
   then ``planner.matrix(profiles, "passthrough")`` and ``"planned"`` totals.  Profiles
   are loaded (compiled) before timing; the plans and matrices run in this process.
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
sys.path.insert(0, ROOT)

ARGS = ["-machine", "virt-7.2", "-cpu", "cortex-a57", "-m", "128M", "-S", "-nodefaults", "-display", "none"]
SRC_CAPS = ("pause-before-switchover", "return-path")
DST_CAPS = ("late-block-activate", "return-path")


def _env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("QMPSERVER_PROFILE")}
    e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QMP:
    """A line-based QMP client that keeps events aside."""

    def __init__(self, path, timeout=20.0):
        end = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                break
            except OSError:
                s.close()
                if time.monotonic() > end:
                    raise
                time.sleep(0.002)
        s.settimeout(timeout)
        self.s = s
        self.f = s.makefile("rwb")
        self.events: list = []
        self.recv()  # greeting
        self.cmd("qmp_capabilities")

    def recv(self):
        line = self.f.readline()
        if not line:
            raise EOFError("QMP connection closed")
        return json.loads(line)

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        self.f.write(json.dumps(msg).encode() + b"\r\n")
        self.f.flush()
        while True:
            r = self.recv()
            if "event" in r:
                self.events.append(r)
                continue
            if "error" in r:
                raise RuntimeError("%s: %s" % (name, r["error"]["desc"]))
            return r["return"]

    def migration_status(self):
        """The next MIGRATION event's status."""
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == "MIGRATION":
                    del self.events[i]
                    return e["data"]["status"]
            r = self.recv()
            if "event" in r:
                self.events.append(r)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def _caps(names):
    return {"capabilities": [{"capability": n, "state": True} for n in names]}


def _start(cmd, path, extra=()):
    p = subprocess.Popen(
        cmd + ARGS + ["-qmp", "unix:%s,server=on,wait=off" % path] + list(extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    try:
        return p, QMP(path)
    except Exception:
        p.kill()
        p.wait()
        raise RuntimeError("%s did not start: %s" % (cmd[0], p.stderr.read().decode().strip())) from None


def round_trip(cmd, tmp, i):
    """One migration between two fresh processes of ``cmd``: seconds from ``migrate`` to
    the source's MIGRATION completed."""
    procs = []
    try:
        sp, src = _start(cmd, os.path.join(tmp, "s%d.sock" % i))
        procs.append(sp)
        dp, dst = _start(cmd, os.path.join(tmp, "d%d.sock" % i), ["-incoming", "defer"])
        procs.append(dp)
        for q in (src, dst):
            q.cmd("migrate-set-capabilities", _caps(["events"]))
        dst.cmd("migrate-set-capabilities", _caps(DST_CAPS))
        src.cmd("migrate-set-capabilities", _caps(SRC_CAPS))
        uri = "tcp:127.0.0.1:%d" % _free_port()
        dst.cmd("migrate-incoming", {"uri": uri})
        t0 = time.perf_counter()
        src.cmd("migrate", {"uri": uri})
        seen = []
        while True:
            status = src.migration_status()
            seen.append(status)
            if status == "pre-switchover":
                src.cmd("migrate-continue", {"state": "pre-switchover"})
            elif status in ("completed", "failed", "cancelled"):
                break
        dt = time.perf_counter() - t0
        if status != "completed":
            raise RuntimeError("%s: migration %s (%s)" % (cmd[0], status, " -> ".join(seen)))
        for q in (src, dst):
            q.close()
        return dt, seen
    finally:
        for p in procs:
            p.kill()
            p.wait()
            if p.stderr is not None:
                p.stderr.close()


def _p95(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def bench_round_trips(qemu, mock, reps):
    tmp = tempfile.mkdtemp(prefix="bmig", dir="/tmp")
    out = {"qemu": [], "mock": []}
    seen = {}
    try:
        for side, cmd in (("qemu", qemu), ("mock", mock)):  # warm-up, not counted
            _, seen[side] = round_trip(cmd, tmp, 1000 + len(seen))
        for i in range(reps):
            for side, cmd in (("qemu", qemu), ("mock", mock)):
                dt, _ = round_trip(cmd, tmp, i * 2 + (side == "mock"))
                out[side].append(dt * 1e3)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out, seen


def bench_planner(plan_rounds):
    from qmpserver import planner
    from qmpserver.profiles import loader as L

    t = time.perf_counter()
    profiles = [L.load_profile(name) for name, _, _ in L.list_names("profile", [L.MODELS_DIR])]
    load_s = time.perf_counter() - t
    hosts = planner.one_per_host(profiles)
    pairs = [(a, b) for a in hosts for b in hosts if a is not b]
    planner.plan(*pairs[0])  # warm-up (lazy tables)
    per: dict = {}
    totals = []
    verdicts = {}
    for _ in range(plan_rounds):
        t0 = time.perf_counter()
        for a, b in pairs:
            t = time.perf_counter()
            p = planner.plan(a, b)
            per.setdefault((a.name, b.name), []).append(time.perf_counter() - t)
            verdicts[(a.name, b.name)] = p["migratable"]
        totals.append(time.perf_counter() - t0)
    pair_s = sorted(statistics.median(v) for v in per.values())
    res = {
        "hosts": [p.name for p in hosts],
        "pairs": len(pairs),
        "migratable_pairs": sum(verdicts.values()),
        "profile_load_s": load_s,
        "plan_total_s": statistics.median(totals),
        "plan_pair_median_ms": statistics.median(pair_s) * 1e3,
        "plan_pair_max_ms": pair_s[-1] * 1e3,
        "plan_slowest_pair": max(per, key=lambda k: statistics.median(per[k])),
    }
    for config in ("passthrough", "planned"):
        t = time.perf_counter()
        m = planner.matrix(hosts, config)
        res["matrix_%s_s" % config] = time.perf_counter() - t
        res["matrix_%s_migratable" % config] = sum(1 for c in m["cells"] if c["migratable"])
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=15, help="round trips per side (default 15)")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-aarch64"))
    ap.add_argument("--profile", default="debian-7.2-tcg")
    ap.add_argument(
        "--mock-cmd",
        help="the mock executable and leading arguments (default: python -m qmpserver.launcher.main --profile P)",
    )
    ap.add_argument("--plan-rounds", type=int, default=1, help="times every pair is planned (default 1)")
    ap.add_argument("--no-plans", action="store_true", help="only the round trips")
    ap.add_argument("--no-round-trips", action="store_true", help="only the planner")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args(argv)
    res: dict = {}
    if not a.no_round_trips:
        if not a.qemu:
            sys.exit("qemu-system-aarch64 not found: install Debian's qemu-system-arm")
        mock = (
            a.mock_cmd.split()
            if a.mock_cmd
            else [sys.executable, "-m", "qmpserver.launcher.main", "--profile", a.profile]
        )
        samples, seen = bench_round_trips([a.qemu], mock, a.reps)
        med = {s: statistics.median(v) for s, v in samples.items()}
        res["round_trip_ms"] = {
            s: {"median": med[s], "p95": _p95(v), "min": min(v), "samples": v} for s, v in samples.items()
        }
        res["round_trip_ratio"] = med["mock"] / med["qemu"]
        res["statuses"] = seen
        print("migration round trip (migrate -> source MIGRATION completed), %d each:" % a.reps)
        for s, label in (("qemu", "real QEMU 7.2"), ("mock", "qmpserver (%s)" % a.profile)):
            r = res["round_trip_ms"][s]
            print(
                "  %-28s median %7.1f ms  p95 %7.1f ms  min %7.1f ms   [%s]"
                % (label, r["median"], r["p95"], r["min"], " -> ".join(seen[s]))
            )
        print("  ratio qmpserver/QEMU (medians): %.2f" % res["round_trip_ratio"])
    if not a.no_plans:
        p = res["planner"] = bench_planner(a.plan_rounds)
        print(
            "planner over %d built-in hosts (%d ordered pairs, %d migratable by plan; profiles loaded in %.1f s):"
            % (len(p["hosts"]), p["pairs"], p["migratable_pairs"], p["profile_load_s"])
        )
        print(
            "  plan, every pair: %.2f s; per pair median %.0f ms, max %.0f ms (%s -> %s)"
            % (p["plan_total_s"], p["plan_pair_median_ms"], p["plan_pair_max_ms"], *p["plan_slowest_pair"])
        )
        for config in ("passthrough", "planned"):
            print(
                "  matrix %-11s: %.2f s (%d of %d cells migratable)"
                % (config, p["matrix_%s_s" % config], p["matrix_%s_migratable" % config], p["pairs"])
            )
    if a.json:
        if "planner" in res:
            res["planner"]["plan_slowest_pair"] = list(res["planner"]["plan_slowest_pair"])
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == "__main__":
    main()
