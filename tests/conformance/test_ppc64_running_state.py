"""A running ``pseries`` machine: the same QMP questions to Debian's real ``qemu-system-ppc64``
7.2 (TCG) and to the launcher started with the same command line, byte for byte (thread IDs
masked), and the launcher against the real binary's answers recorded in
``ppc64_running_state_cases.py`` (so it runs without the binary; re-record with
``python3 -m tests.conformance.test_ppc64_running_state``).  The questions are those the pseries model answers (issue 12, docs/ppc64.md): RAM size,
the spapr CPU cores in ``query-cpus-fast`` / ``query-hotpluggable-cpus``, the machine.
"""

from __future__ import annotations

import json
import os
import re
import sys

import pytest

from tests.conformance.test_x86_cpu_expansion import transcript
from tests.support.peers import RealQemu, need_binary

try:
    from tests.conformance.ppc64_running_state_cases import ANSWERS
except ImportError:  # not recorded yet
    ANSWERS = {}

PROFILE = "qemu-7.2-debian-ppc64"
LAUNCHER = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", PROFILE]
B = ["-S", "-nodefaults", "-machine", "pseries"]
LINES = [
    ("plain", B),
    ("max-1G", B + ["-cpu", "max", "-m", "1G"]),
    ("smp-maxcpus", B + ["-smp", "2,maxcpus=4"]),
    ("smp-sockets", B + ["-smp", "2,sockets=2,cores=2,maxcpus=4", "-cpu", "power8"]),
    ("older", ["-S", "-nodefaults", "-machine", "pseries-6.2,cap-ccf-assist=off", "-cpu", "power10"]),
    ("xics-smp", B + ["-machine", "ic-mode=xics", "-smp", "3,maxcpus=6", "-m", "2G"]),
    ("power7-4.2", ["-S", "-nodefaults", "-machine", "pseries-4.2", "-cpu", "power7", "-smp", "2"]),
    ("xive-p10", B + ["-machine", "ic-mode=xive", "-cpu", "power10", "-smp", "1,maxcpus=3"]),
]
QUESTIONS = (
    "query-current-machine",
    "query-cpus-fast",
    "query-hotpluggable-cpus",
    "query-memory-size-summary",
    "query-target",
    "query-pci",
    "query-chardev",
    "query-kvm",
    "query-status",
    "query-balloon",
    "query-iothreads",
    "query-name",
)


MACHINE_PROPS = (
    "host-serial",
    "host-model",
    "nvdimm-persistence",
    "vsmt",
    "ic-mode",
    "kvm-type",
    "rtas-base",
    "vfio-no-msix-emulation",
    "memory-backend",
    "firmware",
    "dump-guest-core",
    "mem-merge",
    "usb",
    "graphics",
    "suppress-vmdesc",
    "dt-compatible",
    "kernel",
    "append",
    "x-remove-hpt-on-migrate",
)


def requests():
    out = [{"execute": c} for c in QUESTIONS]
    out += [{"execute": "qom-get", "arguments": {"path": "/machine", "property": p}} for p in MACHINE_PROPS]
    return [dict(r, id=i) for i, r in enumerate(out)]


_TID = re.compile(rb'"thread-id": \d{3,}')
_SOCK = re.compile(rb'unix:/tmp/[^"]*qmp\.sock')


def answers(command, args):
    with RealQemu(args, command=command) as q:
        return [
            _SOCK.sub(b"unix:SOCK", _TID.sub(b'"thread-id": TID', line))
            for line in transcript(q.path, requests())
        ]


@pytest.mark.realqemu
@pytest.mark.parametrize("lid,args", LINES, ids=[i for i, _ in LINES])
def test_running_pseries_answers_as_qemu(lid, args):
    real = need_binary("qemu-system-ppc64")
    env_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("PYTHONPATH", env_root)
    theirs = answers([real], args)
    ours = answers(LAUNCHER, args)
    diff = [(json.dumps(r), a.decode(), b.decode()) for r, a, b in zip(requests(), theirs, ours) if a != b]
    assert diff == []


@pytest.mark.parametrize("lid,args", LINES, ids=[i for i, _ in LINES])
def test_running_pseries_answers_as_recorded(lid, args):
    """The launcher against the recorded answers of the real binary (no binary needed)."""
    assert lid in ANSWERS, "line %s not recorded: re-record (see the module's docstring)" % lid
    env_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("PYTHONPATH", env_root)
    ours = [a.decode() for a in answers(LAUNCHER, args)]
    diff = [(json.dumps(r), a, b) for r, a, b in zip(requests(), ANSWERS[lid], ours) if a != b]
    assert diff == [] and len(ours) == len(ANSWERS[lid])


@pytest.mark.realqemu
def test_recording_is_the_real_binarys():
    real = need_binary("qemu-system-ppc64")
    lid, args = LINES[0]
    assert [a.decode() for a in answers([real], args)] == ANSWERS[lid]


def record(path: str) -> None:
    got = {lid: [a.decode() for a in answers(["/usr/bin/qemu-system-ppc64"], args)] for lid, args in LINES}
    with open(path, "w") as f:
        f.write('"""Recorded by ``python3 -m tests.conformance.test_ppc64_running_state`` from Debian\'s\n')
        f.write('qemu-system-ppc64 7.2 (TCG): per command line, the answer lines to ``requests()``."""\n\n')
        f.write("ANSWERS = %s\n" % json.dumps(got, indent=1))


if __name__ == "__main__":
    record(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ppc64_running_state_cases.py"))
