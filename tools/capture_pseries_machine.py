#!/usr/bin/env python3
"""Measure the ``qom-get /machine`` answers of a started ``pseries`` machine of Debian's
``qemu-system-ppc64`` (TCG, ``-S -nodefaults``): every property ``qom-list /machine`` lists
whose value is a scalar and that nothing else models (the spapr caps and ``vsmt``/``ic-mode``
... are :mod:`qmpserver.arch.ppc64.spapr`'s; links and children are left out).

    python3 tools/capture_pseries_machine.py --machines pseries-7.2,pseries-6.2,pseries-4.2,pseries-3.0 \\
        -o models/ppc64/pseries-machine-7.2.yaml
    python3 tools/capture_pseries_machine.py --emulator .cache/qemu-10.0/bin/qemu-system-ppc64 \\
        -o models/ppc64/pseries-machine-10.0.yaml

Without ``--machines``, every pseries version of the binary that starts with its defaults under
TCG (``pseries-2.11`` and older default ``cap-htm=on``, which TCG refuses: left out, listed under
``refused``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import tempfile
import time

import yaml

SKIP_PREFIXES = ("cap-", "child<", "link<")
OWNED = ("vsmt", "ic-mode", "kvm-type", "resize-hpt", "max-cpu-compat", "type", "smp", "memory", "boot")


def qmp(path: str, cmds: list[dict]) -> list[dict]:
    s = socket.socket(socket.AF_UNIX)
    for _ in range(100):
        try:
            s.connect(path)
            break
        except OSError:
            time.sleep(0.05)
    f = s.makefile("rwb")
    f.readline()
    out = []
    for c in [{"execute": "qmp_capabilities"}] + cmds:
        f.write(json.dumps(c).encode() + b"\n")
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "event" not in r:
                break
        out.append(r)
    s.close()
    return out[1:]


def measure(emulator: str, machine: str) -> dict | None:
    """The scalar answers, or None when QEMU exits (refuses the machine's defaults)."""
    d = tempfile.mkdtemp()
    sock = os.path.join(d, "q.sock")
    p = subprocess.Popen(
        [
            emulator,
            "-S",
            "-nodefaults",
            "-display",
            "none",
            "-machine",
            machine,
            "-qmp",
            "unix:%s,server=on,wait=off" % sock,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 20
        while not os.path.exists(sock) and p.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        if p.poll() is not None:
            return None
        (listed,) = qmp(sock, [{"execute": "qom-list", "arguments": {"path": "/machine"}}])
        names = [
            e["name"]
            for e in listed["return"]
            if not e["type"].startswith(SKIP_PREFIXES)
            and not e["name"].startswith("cap-")
            and e["name"] not in OWNED
        ]
        got = qmp(
            sock, [{"execute": "qom-get", "arguments": {"path": "/machine", "property": n}} for n in names]
        )
        return {
            n: r["return"]
            for n, r in zip(names, got)
            if "return" in r and not isinstance(r["return"], (dict, list))
        }
    finally:
        p.kill()
        p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--emulator", default="/usr/bin/qemu-system-ppc64")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument(
        "--machines", help="comma-separated machine versions (default: every pseries-M.m the binary has)"
    )
    a = ap.parse_args()
    ver = subprocess.run([a.emulator, "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    if a.machines:
        machines = a.machines.split(",")
    else:
        text = subprocess.run([a.emulator, "-machine", "help"], capture_output=True, text=True).stdout
        machines = [ln.split()[0] for ln in text.splitlines() if re.match(r"pseries-\d", ln)]
        machines.sort(key=lambda m: [int(x) for x in re.findall(r"\d+", m)], reverse=True)
    measured = {m: measure(a.emulator, m) for m in machines}
    doc: dict = {
        "source": "%s, measured by tools/capture_pseries_machine.py (qom-get /machine of -S -nodefaults -machine M under TCG)"
        % ver,
        "machines": {m: v for m, v in measured.items() if v is not None},
    }
    refused = [m for m, v in measured.items() if v is None]
    if refused:
        doc["refused"] = refused
    with open(a.output, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=True)


if __name__ == "__main__":
    main()
