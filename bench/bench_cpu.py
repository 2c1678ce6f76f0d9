#!/usr/bin/env python3
"""CPU-model benchmark (issue 4): query-cpu-model-expansion and baseline, real QEMU vs qmpserver.

    python bench/bench_cpu.py [--rounds N] [--reps R] [--json FILE]

In one run:

* real ``qemu-system-aarch64 7.2 -S -nodefaults -machine virt -cpu max -accel tcg``:
  sequential round trip of ``query-cpu-model-expansion`` of ``max`` (the reference);
* qmpserver (its QEMU-compatible launcher, else ``qmpserver serve``) on ``debian-7.2-tcg``:
  the same request;
* qmpserver on ``ampereone-a-mte-6.18`` (KVM, Linux 6.18, proposals on): ``host``
  (all 146 ``SYSREG_*`` properties listed) and ``host`` with every ``SYSREG_*``
  property given as input;
* ``query-cpu-model-baseline`` of that host and another host's full expansion, over the
  wire and as the in-process computation.

Prints each figure with its ratio to real QEMU's ``max`` expansion (target <= 0.1) and
the baseline against 1 ms.  The round trips repeat one request, which qmpserver answers
from its reply memo after the first time (qmpserver/qmp/memo.py); the in-process
figures also give each request's cost without the memo (a first request).  Round trips use bench/qmp_rtt.c when a C compiler exists
(the Python client costs more than the servers it measures), else a Python client.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import bench_core as core  # noqa: E402

MAX = {"execute": "query-cpu-model-expansion", "arguments": {"type": "full", "model": {"name": "max"}}}
HOST = {"execute": "query-cpu-model-expansion", "arguments": {"type": "full", "model": {"name": "host"}}}
KVM_PROFILE = "ampereone-a-mte-6.18"
OTHER_PROFILE = "ampereone-a-mte-6.18"


def enc(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def rtt(path, req: bytes, n: int) -> float:
    if core.rtt_tool():
        return core.rtt(path, "seq", n, req)
    c = core.Client(path)
    c.line()
    c.rt(b'{"execute":"qmp_capabilities"}')
    for _ in range(100):
        c.rt(req)
    t = time.perf_counter()
    for _ in range(n):
        c.rt(req)
    per = (time.perf_counter() - t) / n * 1e6
    c.s.close()
    return per


def start(cmd, path):
    p, _ = core.launch(cmd, path)  # its greeting client is closed: the timing client gets in
    return p


KVM_ARGS = ["-S", "-nodefaults", "-machine", "virt", "-cpu", "host", "-accel", "kvm", "-display", "none"]


def mock_cmd(profile, qemu_args):
    """qmpserver's QEMU-compatible launcher (as bench_core), or ``qmpserver serve``."""
    launcher = shutil.which("qmpserver-qemu")
    if launcher is not None or os.path.exists(os.path.join(ROOT, "qmpserver", "launcher", "main.py")):
        base = [launcher] if launcher else [sys.executable, "-m", "qmpserver.launcher.main"]
        return base + ["--profile", profile] + qemu_args, "launcher"
    return [sys.executable, "-m", "qmpserver.cli", "serve", "--profile", profile, "-S"], "serve"


def serve(profile, path, qemu_args):
    cmd, kind = mock_cmd(profile, qemu_args)
    if kind == "launcher":
        return start(cmd, path)
    p = subprocess.Popen(
        cmd + ["--qmp", "unix:" + path],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 30
    while not os.path.exists(path):
        if p.poll() is not None:
            raise RuntimeError("qmpserver exited: %s" % p.stderr.read().decode())
        if time.time() > deadline:
            raise RuntimeError("qmpserver did not listen")
        time.sleep(0.01)
    return p


def one_reply(path, req: bytes):
    c = core.Client(path)
    c.line()
    c.rt(b'{"execute":"qmp_capabilities"}')
    r = json.loads(c.rt(req))
    c.s.close()
    return r


def in_process_baseline(rounds):
    from qmpserver.arch.arm64 import baseline as B
    from qmpserver.arch.arm64.cpu import catalog_for
    from qmpserver.profiles.loader import load_profile
    from qmpserver.startup import start
    from qmpserver.vm.config import InstanceConfig

    a = start(load_profile(KVM_PROFILE), InstanceConfig(start_paused=True))
    b = start(load_profile(OTHER_PROFILE), InstanceConfig(start_paused=True))
    cat = catalog_for(a)
    other = dict(catalog_for(b).expand_default("host"))
    other["SYSREG_ID_AA64ISAR0_EL1_AES"] = 1  # the other host: one field lower
    args = ({"name": "host"}, {"name": "host", "props": other})
    B.qmp_baseline(cat, *args)
    t = time.perf_counter()
    for _ in range(rounds):
        B.qmp_baseline(cat, *args)
    return (time.perf_counter() - t) / rounds * 1e6, other


def in_process_requests(rounds, requests):
    """Per-request cost through a sans-IO session (parse, dispatch, handler, encode), no socket.
    ``memo`` False: an instance whose command table has no reply memo, so every repetition
    costs what a first request costs (the wire figures are of repeated requests)."""
    from qmpserver.profiles.loader import load_profile
    from qmpserver.qmp.session import Session
    from qmpserver.startup import start
    from qmpserver.vm.config import InstanceConfig

    out = {}
    sessions = {}
    for key, profile, req, memo in requests:
        s = sessions.get((profile, memo))
        if s is None:
            inst = start(load_profile(profile), InstanceConfig(start_paused=True))
            if not memo:
                inst.command_table.memo = None
            s = sessions[(profile, memo)] = Session(inst.add_monitor())
            s.connect()
            s.receive_data(b'{"execute":"qmp_capabilities"}')
            s.pump()
            s.take_output()
        n = (rounds if len(req) < 1000 else max(50, rounds // 10)) // 5
        for _ in range(50):
            s.receive_data(req)
            s.pump()
            s.take_output()
        batches = []
        for _ in range(5):  # the median of 5 batches: one slow moment of a shared VM moves less
            t = time.perf_counter()
            for _ in range(n):
                s.receive_data(req)
                s.pump()
                s.take_output()
            batches.append((time.perf_counter() - t) / n * 1e6)
        out[key] = statistics.median(batches)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=5, help="alternating repetitions of each round-trip figure")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-aarch64"))
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if not a.qemu:
        sys.exit("qemu-system-aarch64 not found: install Debian's qemu-system-arm")
    for prof in ("debian-7.2-tcg", KVM_PROFILE):  # warm the compile cache
        subprocess.run(
            [sys.executable, "-m", "qmpserver.cli", "profiles", "show", prof],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    d = tempfile.mkdtemp(prefix="bcpu", dir="/tmp")
    res = {
        "client": "C (bench/qmp_rtt.c)" if core.rtt_tool() else "Python",
        "mock": mock_cmd(KVM_PROFILE, KVM_ARGS)[1],
    }
    procs = []
    try:
        real = os.path.join(d, "real.sock")
        procs.append(start([a.qemu] + core.QEMU_ARGS, real))
        tcg = os.path.join(d, "tcg.sock")
        procs.append(serve("debian-7.2-tcg", tcg, core.QEMU_ARGS))
        assert "return" in one_reply(tcg, enc(MAX))
        kvm = os.path.join(d, "kvm.sock")
        procs.append(serve(KVM_PROFILE, kvm, KVM_ARGS))
        full = one_reply(kvm, enc(HOST))["return"]["model"]["props"]
        res["sysreg_props"] = sum(1 for k in full if k.startswith("SYSREG_"))
        with_input = {
            "execute": "query-cpu-model-expansion",
            "arguments": {
                "type": "full",
                "model": {
                    "name": "host",
                    "props": {k: v for k, v in full.items() if k.startswith("SYSREG_")},
                },
            },
        }
        assert "return" in one_reply(kvm, enc(with_input))
        per, other = in_process_baseline(max(50, a.rounds // 10))
        res["baseline_in_process_us"] = per
        bl = {
            "execute": "query-cpu-model-baseline",
            "arguments": {"modela": {"name": "host"}, "modelb": {"name": "host", "props": other}},
        }
        r = one_reply(kvm, enc(bl))
        assert "return" in r, r
        # QEMU and qmpserver alternately, median of the repetitions (as bench_core.py):
        # load changes and vCPU placement then hit both sides alike
        wire = [
            ("real_max_us", real, enc(MAX), a.rounds),
            ("mock_max_us", tcg, enc(MAX), a.rounds),
            ("mock_host_us", kvm, enc(HOST), a.rounds),
            ("mock_host_all_sysreg_input_us", kvm, enc(with_input), a.rounds // 4),
            ("baseline_wire_us", kvm, enc(bl), a.rounds // 4),
        ]
        samples = res["samples"] = {k: [] for k, _, _, _ in wire}
        for _ in range(a.reps):
            for key, path, req, n in wire:
                samples[key].append(rtt(path, req, n))
        for key, v in samples.items():
            res[key] = statistics.median(v)

        res["in_process"] = in_process_requests(
            a.rounds,
            [
                ("query-version", "debian-7.2-tcg", b'{"execute":"query-version"}', True),
                ("max expansion (7.2)", "debian-7.2-tcg", enc(MAX), True),
                ("max expansion (7.2), no reply memo", "debian-7.2-tcg", enc(MAX), False),
                ("host expansion (6.18)", KVM_PROFILE, enc(HOST), True),
                ("host expansion (6.18), no reply memo", KVM_PROFILE, enc(HOST), False),
                ("host, every SYSREG_* as input", KVM_PROFILE, enc(with_input), True),
                ("host, every SYSREG_* as input, no reply memo", KVM_PROFILE, enc(with_input), False),
            ],
        )
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)

    ref = res["real_max_us"]
    print("%-44s %12s %8s %10s" % ("metric", "us", "ratio", "target"))
    print("%-44s %12.1f %8s %10s" % ("real QEMU 7.2: max expansion (TCG)", ref, "1", "-"))
    for key, label in (
        ("mock_max_us", "qmpserver: max expansion (TCG, 7.2)"),
        ("mock_host_us", "qmpserver: host, %d SYSREG_* listed (6.18)" % res["sysreg_props"]),
        ("mock_host_all_sysreg_input_us", "qmpserver: host, every SYSREG_* as input"),
    ):
        ratio = res[key] / ref
        print(
            "%-44s %12.1f %8.3f %10s %s" % (label, res[key], ratio, "<=0.1", "ok" if ratio <= 0.1 else "MISS")
        )
    for key, label in (
        ("baseline_in_process_us", "baseline of two hosts (computation)"),
        ("baseline_wire_us", "baseline of two hosts (round trip)"),
    ):
        print(
            "%-44s %12.1f %8s %10s %s" % (label, res[key], "", "<=1000", "ok" if res[key] <= 1000 else "MISS")
        )
    print("\nin-process (sans-IO session: parse, dispatch, handler, encode; no socket):")
    for k, v in res["in_process"].items():
        print("  %-48s %10.1f us" % (k, v))
    print(
        "client: %s; qmpserver started through its %s; round trips: median of %d alternating repetitions"
        % (res["client"], res["mock"], a.reps)
    )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == "__main__":
    main()
