#!/usr/bin/env python3
"""Full x86 CPU-model sweep against the real binary (issue 11; the CI subset is
tests/conformance/test_x86_cpu_expansion.py).

Every model of the capture's ``query-cpu-definitions`` (plus ``base``) × every property set of
the conformance test × ``full`` and ``static``, under KVM (when /dev/kvm is usable) and TCG,
sent to the real ``qemu-system-x86_64`` (``-machine none``) the profile was captured from (Debian's
7.2, or Debian's 10.0 from bookworm-backports for ``--profile qemu-10.0-debian-x86_64``) and to
qmpserver on that profile; prints identical / total per accelerator, the first differences,
and both sides' wall time.  ``host`` and ``max`` under KVM are left out (the capturing
machine's; see the conformance test).

    python3 bench/bench_x86_cpu_sweep.py [--limit N] [--profile P] [--accel kvm|tcg]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from qmpserver.profiles.loader import load_profile  # noqa: E402
from qmpserver.vm.config import InstanceConfig  # noqa: E402
from tests.conformance.test_x86_cpu_expansion import PROFILE, PROFILES, PROPS, _req, real, transcript  # noqa: E402
from tests.support.mock import MockServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0, help="models to sweep (0: all)")
    ap.add_argument(
        "--profile",
        default=PROFILE,
        help="qmpserver's profile (default: the 7.2 capture's; on another KVM machine one with that"
        " machine's CPUID data, e.g. x86-capture-amd-epyc-6.18 on the AMD machine it was captured on);"
        " compared with the real binary of its build's version",
    )
    ap.add_argument(
        "--accel", choices=("kvm", "tcg"), help="one accelerator (default: both when /dev/kvm works)"
    )
    a = ap.parse_args()
    build = load_profile(a.profile).build
    # the real binary of the profile's build: the one each build profile was captured from
    oracle = next(p for p in PROFILES if load_profile(p).build.version[:2] == build.version[:2])
    accels = ["tcg"] + (["kvm"] if os.access("/dev/kvm", os.R_OK | os.W_OK) else [])
    if a.accel:
        accels = [a.accel]
    rc = 0
    with MockServer() as mock:
        for accel in accels:
            names = ["base"] + [
                d["name"] for d in build.recorded_return("query-cpu-definitions", None, accel)
            ]
            if accel == "kvm":
                names = [n for n in names if n not in ("host", "max")]
            if a.limit:
                names = names[: a.limit]
            reqs = [_req(k, n, p) for n in names for p in PROPS for k in ("full", "static")]
            t0 = time.perf_counter()
            with real(accel, oracle) as q:
                theirs = transcript(q.path, reqs)
            t1 = time.perf_counter()
            _, path = mock.instance(
                a.profile, config=InstanceConfig(accel=[accel], machine={"type": "none"}, start_paused=True)
            )
            t2 = time.perf_counter()
            ours = transcript(path, reqs)
            t3 = time.perf_counter()
            diffs = [(r, x, y) for r, x, y in zip(reqs, theirs, ours) if x != y]
            print(
                "%s %s: %d/%d identical (%d models x %d prop sets x 2 types); real %.2f s, qmpserver %.2f s"
                % (
                    a.profile,
                    accel,
                    len(reqs) - len(diffs),
                    len(reqs),
                    len(names),
                    len(PROPS),
                    t1 - t0,
                    t3 - t2,
                )
            )
            for r, x, y in diffs[:5]:
                print("  %s\n    real %s\n    ours %s" % (json.dumps(r), x[:160], y[:160]))
            rc |= bool(diffs)
    return rc


if __name__ == "__main__":
    sys.exit(main())
