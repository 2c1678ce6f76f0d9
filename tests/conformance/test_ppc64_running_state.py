"""A running ``pseries`` machine: the same QMP questions to Debian's real ``qemu-system-ppc64``
7.2 (TCG) and to the launcher started with the same command line, byte for byte (thread IDs
masked).  The questions are those the pseries model answers (issue 12, docs/ppc64.md): RAM size,
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

PROFILE = "qemu-7.2-debian-ppc64"
LAUNCHER = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", PROFILE]
B = ["-S", "-nodefaults", "-machine", "pseries"]
LINES = [
    ("plain", B),
    ("max-1G", B + ["-cpu", "max", "-m", "1G"]),
    ("smp-maxcpus", B + ["-smp", "2,maxcpus=4"]),
    ("smp-sockets", B + ["-smp", "2,sockets=2,cores=2,maxcpus=4", "-cpu", "power8"]),
    ("older", ["-S", "-nodefaults", "-machine", "pseries-6.2,cap-ccf-assist=off", "-cpu", "power10"]),
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
