#!/usr/bin/env python3
"""Fleet benchmark: the simulated-host image's size, its time to healthy, N hosts' memory.

    python bench/bench_fleet.py [--image IMAGE] [--hosts N] [--profile P] [--starts K] [--json FILE]

* image size (``podman image inspect`` .Size);
* time to healthy of one host: ``podman run -d`` to the first successful
  ``qmpserver-host-health`` (libvirt answers, the launcher loads the profile, the HTTP API
  answers), median of K starts, and the time ``podman stop`` (SIGTERM) takes;
* N hosts started together (``qmpserver.testing.hosts.SimulatedHosts``): wall time until all
  are healthy, then each container's memory (``podman stats --no-stream`` MemUsage, the
  cgroup's figure) and the machine's ``MemAvailable`` drop.

Podman here: ``--runtime runc`` and, where the sandbox forbids raising rlimits, a
``CONTAINERS_CONF`` with ``default_ulimits = []`` (as docker/build-image.sh does).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def engine():
    env = dict(os.environ)
    if "CONTAINERS_CONF" not in env:
        path = os.path.join(tempfile.mkdtemp(prefix="benchfleet"), "containers.conf")
        with open(path, "w") as f:
            f.write("[containers]\ndefault_ulimits = []\n")
        env["CONTAINERS_CONF"] = path
    return ["podman", "--runtime", os.environ.get("PODMAN_RUNTIME", "runc")], env


def mem_available_kib() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def to_mib(text: str) -> float:
    m = re.match(r"([\d.]+)\s*([kMG]?i?B)", text.strip())
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v * {
        "B": 1 / 2**20,
        "kB": 1 / 1024,
        "KiB": 1 / 1024,
        "MB": 1,
        "MiB": 1,
        "GB": 1024,
        "GiB": 1024,
    }.get(unit, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default="localhost/qmpserver-host:latest")
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--profile", default="debian-7.2-tcg")
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    eng, env = engine()

    def run(*a, check=True):
        p = subprocess.run(eng + list(a), capture_output=True, text=True, env=env)
        if check and p.returncode != 0:
            raise SystemExit("podman %s: %s" % (" ".join(a), p.stderr))
        return p

    out: dict = {"image": args.image, "profile": args.profile}
    out["image_size_mb"] = round(
        int(run("image", "inspect", args.image, "--format", "{{.Size}}").stdout) / 1e6, 1
    )

    readies, stops = [], []
    for i in range(args.starts):
        name = "benchfleet-%d-%d" % (os.getpid(), i)
        t0 = time.monotonic()
        run("run", "-d", "--name", name, "-e", "QMPSERVER_PROFILE=" + args.profile,
            "-e", "QMPSERVER_HTTP_TOKEN=bench-token-123", args.image)  # fmt: skip
        while run("exec", name, "/usr/local/bin/qmpserver-host-health", check=False).returncode != 0:
            if time.monotonic() - t0 > 120:
                raise SystemExit("host not healthy: %s" % run("logs", name, check=False).stdout[-2000:])
            time.sleep(0.05)
        readies.append(time.monotonic() - t0)
        t1 = time.monotonic()
        run("stop", "-t", "10", name)
        stops.append(time.monotonic() - t1)
        run("rm", "-f", name)
    out["ready_s_median"] = round(statistics.median(readies), 2)
    out["ready_s_all"] = [round(r, 2) for r in readies]
    out["stop_s_median"] = round(statistics.median(stops), 2)

    from qmpserver.testing.hosts import SimulatedHosts

    before = mem_available_kib()
    with SimulatedHosts(args.image, engine=eng, env=env, kvm=False) as fleet:
        t0 = time.monotonic()
        hosts = fleet.start(*([args.profile] * args.hosts), timeout=600)
        out["fleet_hosts"] = len(hosts)
        out["fleet_ready_s"] = round(time.monotonic() - t0, 1)
        time.sleep(2)
        out["mem_available_drop_mb"] = round((before - mem_available_kib()) / 1024, 1)
        stats = run(
            "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *[h.container for h in hosts]
        )
        mems = [
            to_mib(line.split(None, 1)[1].split("/")[0]) for line in stats.stdout.splitlines() if line.strip()
        ]
        out["mem_per_host_mib_median"] = round(statistics.median(mems), 1) if mems else None
        out["mem_total_mib"] = round(sum(mems), 1)
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
