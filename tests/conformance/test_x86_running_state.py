"""A running x86 ``pc``/``q35`` machine: the same QMP questions to Debian's real
``qemu-system-x86_64`` 7.2 and to the launcher started with the same command line, byte for byte
(thread IDs aside).  The questions are those the model answers (issue 11): the machine,
``query-cpus-fast`` / ``query-hotpluggable-cpus`` topology and QOM paths, RAM size, the vCPU's
feature values after filtering, ``/machine`` property values; what it does not answer
(``filtered-features``, the vCPU's child objects, links) is listed in docs/x86-cpu-models.md.
KVM lines run against the profile on the host it was captured on, elsewhere against this
machine's live profile (tests/support/livehost.py: their features are the machine's).
"""

from __future__ import annotations

import json
import os
import re
import sys

import pytest

from tests.conformance.test_x86_cpu_expansion import transcript
from tests.support.peers import RealQemu, need_binary

PROFILE = "qemu-7.2-debian-x86_64"
LAUNCHER = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", PROFILE]
B = ["-S", "-nodefaults"]
LINES = [
    ("q35-tcg", B + ["-machine", "q35", "-accel", "tcg"]),
    (
        "pc-tcg-skylake-smp",
        B + ["-machine", "pc", "-accel", "tcg", "-smp", "2,maxcpus=4", "-cpu", "Skylake-Client"],
    ),
    (
        "pc-old-tcg",
        B + ["-machine", "pc-i440fx-7.1", "-accel", "tcg", "-m", "1G", "-cpu", "qemu64,+x2apic,-sse2"],
    ),
    (
        "q35-tcg-boot",
        B + ["-machine", "q35", "-accel", "tcg", "-boot", "order=dc,menu=on,strict=on,splash-time=5"],
    ),
    ("pc-tcg-boot-menu", B + ["-machine", "pc", "-accel", "tcg", "-boot", "menu=on"]),
    (
        "q35-tcg-dies",
        B + ["-machine", "q35", "-accel", "tcg", "-smp", "6,sockets=4,dies=3,cores=1,threads=1,maxcpus=12"],
    ),
    ("pc-tcg-threads", B + ["-machine", "pc", "-accel", "tcg", "-smp", "3,cores=3,threads=1"]),
    ("q35-tcg-globals", B + ["-machine", "q35", "-accel", "tcg", "-cpu", "qemu64,family=7,+avx2,-sse2"]),
    ("q35-kvm-split-host", B + ["-machine", "q35,kernel-irqchip=split", "-accel", "kvm", "-cpu", "host"]),
    (
        "pc-kvm-off-skylake",
        B + ["-machine", "pc,kernel-irqchip=off", "-accel", "kvm", "-cpu", "Skylake-Client"],
    ),
]
CPU = "/machine/unattached/device[0]"
FEATURES = ("x2apic", "tsc-deadline", "kvm-pv-unhalt", "kvm-msi-ext-dest-id", "sse2", "avx2", "pni", "hle")
MACHINE_PROPS = ("vmport", "smm", "hpet", "max-ram-below-4g", "boot", "firmware", "memory-backend", "sata")


def requests():
    out = [
        {"execute": c}
        for c in (
            "query-current-machine",
            "query-cpus-fast",
            "query-hotpluggable-cpus",
            "query-memory-size-summary",
            "query-kvm",
            "query-target",
        )
    ]
    out += [{"execute": "qom-get", "arguments": {"path": CPU, "property": p}} for p in FEATURES]
    out += [
        {"execute": "qom-get", "arguments": {"path": CPU, "property": p}}
        for p in (
            "type",
            "unavailable-features",
            "filtered-features",
            "level",
            "apic-id",
            "socket-id",
            "core-id",
        )
    ]
    out += [{"execute": "qom-get", "arguments": {"path": "/machine", "property": p}} for p in MACHINE_PROPS]
    out += [
        {"execute": "qom-get", "arguments": {"path": "/machine", "property": "kernel-irqchip"}},
        {"execute": "query-cpu-model-expansion", "arguments": {"type": "full", "model": {"name": "host"}}},
        {"execute": "query-cpu-model-expansion", "arguments": {"type": "full", "model": {"name": "qemu64"}}},
        {
            "execute": "query-cpu-model-expansion",
            "arguments": {"type": "static", "model": {"name": "qemu64", "props": {"sse2": True}}},
        },
    ]
    return [dict(r, id=i) for i, r in enumerate(out)]


_TID = re.compile(rb'"thread-id": \d{3,}')


def _answers(command, args):
    with RealQemu(args, command=command) as q:
        return [_TID.sub(b'"thread-id": TID', line) for line in transcript(q.path, requests())]


def _on_captured_host():
    from tests.unit.x86_64.test_x86_launcher_cmdline import _on_captured_host as same

    return same()


@pytest.mark.realqemu
@pytest.mark.parametrize("lid,args", LINES, ids=[i for i, _ in LINES])
def test_running_machine_answers_as_qemu(lid, args):
    real = need_binary("qemu-system-x86_64")
    launcher = LAUNCHER
    if "kvm" in lid and not _on_captured_host():
        # the KVM answers are this machine's: the launcher on this machine's live profile
        from tests.support.livehost import live_profiles

        launcher = LAUNCHER[:-1] + [live_profiles()[1][PROFILE]]
    env_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("PYTHONPATH", env_root)
    theirs = _answers([real], args)
    ours = _answers(launcher, args)
    diff = [(json.dumps(r), a.decode(), b.decode()) for r, a, b in zip(requests(), theirs, ours) if a != b]
    assert diff == []
