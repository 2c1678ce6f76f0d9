#!/usr/bin/env python3
"""x86 CPU-model benchmark (issue 11): the ``query-cpu-model-expansion`` round trip, real QEMU
7.2 vs qmpserver, over a realistic mix of questions.

    python bench/bench_x86_cpu.py [--rounds N] [--reps R] [--json FILE]

In one run:

* real ``qemu-system-x86_64 7.2 -S -nodefaults -machine none -accel kvm`` (as libvirt probes);
* qmpserver's QEMU-compatible launcher with the same arguments on profile
  ``x86-capture-amd-epyc-6.18`` (its ``host`` and ``unavailable-features`` are computed from
  the host's CPUID and feature MSRs, not replayed);

both asked the same mix (:func:`mix`, 70 distinct requests sent in turn): what libvirt 9.0 asks
(``host`` static, full with ``migratable: false``), every 8th named model ``full`` and
``static``, named models with properties (``vmx``, a feature pair, a level, a feature a
prerequisite takes), an unknown model.  The mix is larger than the session's reply memo keeps
(qmpserver/qmp/memo.py bounds it to 128 KB of text; an x86 ``full`` reply is about 15 KB); the
x86 expansion memo (qmpserver/arch/x86_64/qmp.py) keeps them all, so after the first round the
round trips are answered from it.  Prints the mean time per
round trip of each side and their ratio (target <= 0.1), then the in-process cost per request
(sans-IO session without the session's reply memo: the expansion memo answers) and the cost
of a first answer (the slow path computed and encoded), which is what a question asked once
costs.  Round trips use
bench/qmp_rtt.c (mode ``mix``) when a C compiler exists, else a Python client.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import bench_core as core  # noqa: E402

PROFILE = "x86-capture-amd-epyc-6.18"
ARGS = ["-S", "-nodefaults", "-display", "none", "-machine", "none", "-accel", "kvm"]


def expansion(kind: str, name: str, props: dict | None = None) -> dict:
    model: dict = {"name": name}
    if props is not None:
        model["props"] = props
    return {"execute": "query-cpu-model-expansion", "arguments": {"type": kind, "model": model}}


def mix() -> list[dict]:
    """The requests, in the order they are sent (then again from the start)."""
    from qmpserver.profiles.loader import load_profile

    defs = load_profile(PROFILE).build.recorded_return("query-cpu-definitions", None, "kvm")
    named = sorted(d["name"] for d in defs if d["name"] not in ("host", "max", "base"))
    out = [
        expansion("static", "host"),
        expansion("full", "host", {"migratable": False}),
        expansion("static", "host", {"migratable": False}),
        expansion("full", "max"),
    ]
    for name in named[::8]:
        out += [expansion("full", name), expansion("static", name)]
    for name in ("Skylake-Client-IBRS", "Cascadelake-Server-v2", "Icelake-Server", "EPYC-Rome", "qemu64"):
        out += [
            expansion("full", name, {"vmx": True}),
            expansion("static", name, {"avx512f": False, "pcid": True}),
            expansion("full", name, {"level": 13, "xlevel": 0x80000008}),
            expansion("static", name, {"arch-capabilities": False, "ibrs-all": True}),
            expansion("full", name, {"svm": True, "npt": True}),
        ]
    out += [expansion("static", "no-such-cpu"), expansion("full", "base", {"sse4.2": True})]
    return out


def enc(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def rtt_mix(path: str, reqs: list[bytes], n: int) -> float:
    """Mean microseconds per round trip, the requests sent in turn."""
    tool = core.rtt_tool()
    if tool:
        import subprocess

        out = subprocess.run(
            [tool, path, "mix", str(n), b"\n".join(reqs).decode()], capture_output=True, text=True, check=True
        )
        return float(out.stdout)
    c = core.Client(path)
    c.line()
    c.rt(b'{"execute":"qmp_capabilities"}')
    for r in reqs:
        c.rt(r)
    t = time.perf_counter()
    for i in range(n):
        c.rt(reqs[i % len(reqs)])
    per = (time.perf_counter() - t) / n * 1e6
    c.close()
    return per


def in_process(reqs: list[bytes], rounds: int) -> dict[str, float]:
    """Per request through a sans-IO session without the session's reply memo (the expansion
    memo answers); and a first answer: the slow path computed and encoded, no memo."""
    from qmpserver.arch.x86_64 import qmp
    from qmpserver.profiles.loader import load_profile
    from qmpserver.qmp.session import Session
    from qmpserver.startup import start
    from qmpserver.vm.config import InstanceConfig

    inst = start(
        load_profile(PROFILE), InstanceConfig(start_paused=True, accel=["kvm"], machine={"type": "none"})
    )
    inst.command_table.memo = None
    s = Session(inst.add_monitor())
    s.connect()
    s.receive_data(b'{"execute":"qmp_capabilities"}')
    s.pump()
    s.take_output()
    for r in reqs:
        s.receive_data(r)
        s.pump()
        s.take_output()
    t = time.perf_counter()
    for i in range(rounds):
        s.receive_data(reqs[i % len(reqs)])
        s.pump()
        s.take_output()
    session = (time.perf_counter() - t) / rounds * 1e6
    args = [json.loads(r)["arguments"] for r in reqs]
    from qmpserver.wire.encode import dumps

    t = time.perf_counter()
    for i in range(rounds):
        try:
            dumps(qmp.compute_expansion(inst, args[i % len(args)]))
        except Exception:  # the unknown model's error  # noqa: BLE001
            pass
    first = (time.perf_counter() - t) / rounds * 1e6
    return {"session_us": session, "first_time_us": first}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=700)
    ap.add_argument("--reps", type=int, default=3, help="alternating repetitions of each round-trip figure")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-x86_64"))
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if not a.qemu:
        sys.exit("qemu-system-x86_64 not found: install Debian's qemu-system-x86")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        sys.exit("/dev/kvm is not usable: the reference is real QEMU under KVM")
    reqs = [enc(r) for r in mix()]
    d = tempfile.mkdtemp(prefix="bx86", dir="/tmp")
    res: dict = {"client": "C (bench/qmp_rtt.c)" if core.rtt_tool() else "Python", "requests": len(reqs)}
    procs = []
    try:
        real = os.path.join(d, "real.sock")
        p, _ = core.launch([a.qemu] + ARGS, real)
        procs.append(p)
        mock = os.path.join(d, "mock.sock")
        p, _ = core.launch(
            [sys.executable, "-m", "qmpserver.launcher.main", "--profile", PROFILE] + ARGS, mock
        )
        procs.append(p)
        samples: dict[str, list[float]] = {"real_us": [], "mock_us": []}
        for _ in range(a.reps):  # alternating: load changes hit both sides alike
            samples["real_us"].append(rtt_mix(real, reqs, a.rounds))
            samples["mock_us"].append(rtt_mix(mock, reqs, a.rounds))
        res["samples"] = samples
        for k, v in samples.items():
            res[k] = statistics.median(v)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)
    res["in_process"] = in_process(reqs, a.rounds)
    ratio = res["mock_us"] / res["real_us"]
    res["ratio"] = ratio
    print(
        "%-58s %10s %8s %8s"
        % ("query-cpu-model-expansion, %d-request mix" % len(reqs), "us/rt", "ratio", "target")
    )
    print("%-58s %10.1f %8s %8s" % ("real QEMU 7.2 (KVM, -machine none)", res["real_us"], "1", "-"))
    print(
        "%-58s %10.1f %8.3f %8s %s"
        % ("qmpserver (%s)" % PROFILE, res["mock_us"], ratio, "<=0.1", "ok" if ratio <= 0.1 else "MISS")
    )
    ip = res["in_process"]
    print(
        "in-process: %.1f us per request through a session (expansion memo); a first answer"
        " (computed and encoded, no memo) %.1f us, ratio %.3f to the real round trip"
        % (ip["session_us"], ip["first_time_us"], ip["first_time_us"] / res["real_us"])
    )
    print("client: %s; round trips: median of %d alternating repetitions" % (res["client"], a.reps))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == "__main__":
    main()
