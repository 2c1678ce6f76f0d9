#!/usr/bin/env python3
"""What holding replies to the build's schema costs (issue 15): per-request time with and
without :mod:`qmpserver.qapi.conform`, in process, reply memo off (every request costs what
a first request costs).

    python bench/bench_conform.py [--rounds N]

Each row: microseconds per request through a sans-IO session (parse, dispatch, handler,
conform, encode) with the engine, without it (``Conformer.reply`` replaced by the identity),
and the difference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from bench_cpu import in_process_requests  # noqa: E402


def _req(execute, arguments=None) -> bytes:
    msg = {"execute": execute}
    if arguments is not None:
        msg["arguments"] = arguments
    return json.dumps(msg).encode()


def requests():
    from qmpserver.arch.arm64.cpu import catalog_for
    from qmpserver.profiles.loader import load_profile
    from qmpserver.startup import start
    from qmpserver.vm.config import InstanceConfig

    kvm = "ampereone-a-mte-6.18"
    inst = start(load_profile(kvm), InstanceConfig(start_paused=True))
    host = dict(catalog_for(inst).expand_default("host"))
    sysreg = {k: v for k, v in host.items() if k.startswith("SYSREG_")}
    exp = "query-cpu-model-expansion"
    return [
        ("7.2 max (recorded)", "debian-7.2-tcg", _req(exp, {"type": "full", "model": {"name": "max"}})),
        (
            "7.2 max pauth=off (computed)",
            "debian-7.2-tcg",
            _req(exp, {"type": "full", "model": {"name": "max", "props": {"pauth": False}}}),
        ),
        ("7.2 query-cpu-definitions", "debian-7.2-tcg", _req("query-cpu-definitions")),
        (
            "host, %d SYSREG_* listed" % len(sysreg),
            kvm,
            _req(exp, {"type": "full", "model": {"name": "host"}}),
        ),
        (
            "host, every SYSREG_* given",
            kvm,
            _req(exp, {"type": "full", "model": {"name": "host", "props": sysreg}}),
        ),
        (
            "host sve=off",
            kvm,
            _req(exp, {"type": "full", "model": {"name": "host", "props": {"sve": False}}}),
        ),
        ("query-migrate", kvm, _req("query-migrate")),
        ("query-status", kvm, _req("query-status")),
    ]


def direct(rounds):
    """Microseconds per ``Conformer.reply`` call on representative values (no session)."""
    import time

    from qmpserver.arch.arm64.cpu import catalog_for
    from qmpserver.profiles.loader import load_profile
    from qmpserver.qapi.conform import Conformer
    from qmpserver.startup import start
    from qmpserver.vm.config import InstanceConfig
    from qmpserver.wire.encode import RawJSON, dumps

    inst = start(load_profile("ampereone-a-mte-6.18"), InstanceConfig(start_paused=True))
    cat = catalog_for(inst)
    host = {"model": {"name": "host", "props": dict(cat.expand_default("host"))}}
    text = dumps(host)
    defs = list(cat.definitions)
    out = {}

    def run(key, command, make):
        c = Conformer(inst.build.schema)  # a fresh engine: compiled on the first call, timed after
        c.reply(command, make(0))
        t = time.perf_counter()
        for i in range(rounds):
            c.reply(command, make(i))
        out[key] = (time.perf_counter() - t) / rounds * 1e6

    run("expansion dict (146 SYSREG_* in props: any)", "query-cpu-model-expansion", lambda i: host)
    run("expansion RawJSON, same text, new object", "query-cpu-model-expansion", lambda i: RawJSON(text))
    run(
        "expansion RawJSON, new text each time",
        "query-cpu-model-expansion",
        lambda i: RawJSON(text.replace('"host"', '"host"' + " " * (i % 400 + 1), 1)),
    )
    run("query-cpu-definitions (%d entries)" % len(defs), "query-cpu-definitions", lambda i: defs)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=4000)
    a = ap.parse_args(argv)
    from qmpserver.qapi import conform

    reqs = requests()
    rows = [(k, p, r, False) for k, p, r in reqs]
    on = in_process_requests(a.rounds, rows)
    real = conform.Conformer.reply
    conform.Conformer.reply = lambda self, command, value: value  # type: ignore[method-assign]
    try:
        off = in_process_requests(a.rounds, rows)
    finally:
        conform.Conformer.reply = real  # type: ignore[method-assign]
    print("%-36s %10s %10s %10s" % ("request (memo off)", "conform", "without", "cost"))
    for k, _p, _r in reqs:
        print("%-36s %9.1fus %9.1fus %+9.1fus" % (k, on[k], off[k], on[k] - off[k]))
    print("\nConformer.reply alone:")
    for k, us in direct(a.rounds).items():
        print("%-48s %8.2fus" % (k, us))


if __name__ == "__main__":
    main()
