#!/usr/bin/env python3
"""Record what the real ``qemu-system-x86_64`` answers under KVM on this machine, for the tests
that compare a host file's computed answers with the real binary's on the machine the file was
captured on (``test_x86_msr_features.py``).

Asks a ``-machine none -accel kvm`` QEMU (as libvirt probes): ``query-cpu-definitions`` and
``query-cpu-model-expansion`` of ``host`` (``full``, with and without ``migratable: false``;
``static``).  Writes one JSON object: the binary's version, the host file it goes with, and
``[arguments, return]`` pairs.  Usage::

    python3 tests/unit/x86_64/record_x86_host_answers.py --host-file capture-amd-epyc-6.18 \\
        -o tests/unit/x86_64/data/capture-amd-epyc-6.18-kvm.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

QUESTIONS = [
    {"execute": "query-cpu-definitions"},
    {"execute": "query-cpu-model-expansion", "arguments": {"type": "full", "model": {"name": "host"}}},
    {
        "execute": "query-cpu-model-expansion",
        "arguments": {"type": "full", "model": {"name": "host", "props": {"migratable": False}}},
    },
    {"execute": "query-cpu-model-expansion", "arguments": {"type": "static", "model": {"name": "host"}}},
]


def ask(emulator: str, questions: list[dict]) -> list[dict]:
    script = "".join(
        json.dumps(m) + "\n" for m in [{"execute": "qmp_capabilities"}, *questions, {"execute": "quit"}]
    )
    r = subprocess.run(
        [emulator, "-S", "-nodefaults", "-display", "none", "-machine", "none", "-accel", "kvm", "-qmp", "stdio"],
        input=script, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    replies = [json.loads(line) for line in r.stdout.splitlines() if line.startswith('{"return"')]
    replies = replies[1 : 1 + len(questions)]  # after qmp_capabilities' {}
    if len(replies) != len(questions):
        raise SystemExit("%s: %s" % (sys.argv[0], r.stderr.strip()))
    return [x["return"] for x in replies]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emulator", default="/usr/bin/qemu-system-x86_64")
    ap.add_argument("--host-file", required=True, help="the models/x86_64/hosts file of this machine")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    version = subprocess.run([a.emulator, "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    answers = ask(a.emulator, QUESTIONS)
    out = {
        "recorded-by": "tests/unit/x86_64/record_x86_host_answers.py --host-file %s, %s"
        % (a.host_file, time.strftime("%Y-%m-%d")),
        "qemu": version,
        "host-file": a.host_file,
        "answers": [[q.get("arguments"), ans] for q, ans in zip(QUESTIONS, answers)],
    }
    with open(a.output, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
