#!/usr/bin/env python3
"""Measure the x86 machine facts the start-up model needs from a real qemu-system-x86_64.

    python3 tools/capture_x86_machines.py [--emulator BINARY] -o models/x86_64/machines-<M.m>.yaml

(``--emulator .cache/qemu-10.0/bin/qemu-system-x86_64`` for Debian's 10.0; the file name carries
the binary's version, which ``qmpserver/arch/x86_64/startup.py``'s ``MACHINE_FILES`` maps to.)

* ``deprecation-reasons``: for each machine ``query-machines`` marks deprecated, the reason in
  the ``Machine type 'X' is deprecated: <reason>`` warning it prints at start-up;
* ``defaults``: the ``qom-get`` value of every ``/machine`` property of a freshly started
  ``-machine pc`` and ``-machine q35`` (TCG, ``-S``, ``-nodefaults``), except links and
  children (they name devices, whose numbering the model does not follow) and ``rtc-time``
  (the clock).  The machine aliases stand for all their versions' defaults: older versions
  differ in a few compatibility properties only, which this file does not claim.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SKIP = ("rtc-time",)


def _session(emulator: str, args: list[str], requests: list[dict]) -> list[dict]:
    script = "".join(json.dumps(m) + "\n" for m in [{"execute": "qmp_capabilities"}] + requests)
    r = subprocess.run(
        [emulator, "-S", "-nodefaults", "-display", "none", "-accel", "tcg", *args, "-qmp", "stdio"],
        input=script + '{"execute": "quit"}\n',
        capture_output=True,
        text=True,
        timeout=60,
    )
    replies = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    return [x for x in replies if "QMP" not in x and "event" not in x][1:]


def defaults(emulator: str, machine: str) -> dict:
    listing = _session(
        emulator, ["-machine", machine], [{"execute": "qom-list", "arguments": {"path": "/machine"}}]
    )
    names = [
        e["name"]
        for e in listing[0]["return"]
        if not e["type"].startswith(("child<", "link<")) and e["name"] not in SKIP and e["name"] != "type"
    ]
    got = _session(
        emulator,
        ["-machine", machine],
        [{"execute": "qom-get", "arguments": {"path": "/machine", "property": n}} for n in names],
    )
    return {n: g["return"] for n, g in zip(names, got) if "return" in g}


def deprecation_reasons(emulator: str) -> dict:
    machines = _session(emulator, ["-machine", "none"], [{"execute": "query-machines"}])[0]["return"]
    out = {}
    for m in sorted(x["name"] for x in machines if x.get("deprecated")):
        r = subprocess.run(
            [
                emulator,
                "-machine",
                m,
                "-accel",
                "tcg",
                "-S",
                "-nodefaults",
                "-display",
                "none",
                "-qmp",
                "stdio",
            ],
            input='{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n',
            capture_output=True,
            text=True,
            timeout=60,
        )
        head = "Machine type '%s' is deprecated: " % m
        for line in r.stderr.splitlines():
            if head in line:
                out[m] = line.split(head, 1)[1]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emulator", default="/usr/bin/qemu-system-x86_64")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    ver = subprocess.run([a.emulator, "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    lines = [
        "# Measured by tools/capture_x86_machines.py from a real QEMU; do not edit by hand.",
        "kind: x86-machines",
        "qemu: %s" % json.dumps(ver),
        "sources:",
        "  refs:",
        "    measure: %s"
        % json.dumps(
            "python3 tools/capture_x86_machines.py --emulator %s, %s"
            % (a.emulator, time.strftime("%Y-%m-%d"))
        ),
        "deprecation-reasons:",
    ]
    lines += ["  %s: %s" % (json.dumps(k), json.dumps(v)) for k, v in deprecation_reasons(a.emulator).items()]
    lines.append("defaults:")
    for machine in ("pc", "q35"):
        lines.append("  %s:" % machine)
        lines += [
            "    %s: %s" % (json.dumps(k), json.dumps(v)) for k, v in defaults(a.emulator, machine).items()
        ]
    tmp = a.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
