"""A running ``pseries`` machine on Debian's real QEMU 10.0 (bookworm-backports, TCG): the
questions of ``test_ppc64_running_state`` (the 7.2 command lines, and what 10.0 adds: SMT under
TCG, POWER11, a deprecated version) to the real binary and to the launcher on profile
``qemu-10.0-debian-ppc64``, byte for byte (thread IDs and the socket path masked), and the
launcher against the real answers recorded in ``ppc64_running_state_cases10.py`` (re-record with
``python3 -m tests.conformance.test_ppc64_running_state_qemu10``).
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.conformance.test_ppc64_running_state import LINES, B, answers, requests
from tests.support.peers import QEMU10_DIR, need_qemu10

try:
    from tests.conformance.ppc64_running_state_cases10 import ANSWERS
except ImportError:  # not recorded yet
    ANSWERS = {}

PROFILE = "qemu-10.0-debian-ppc64"
LAUNCHER = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", PROFILE]
LINES10 = LINES + [
    ("smt-2", B + ["-smp", "4,threads=2"]),
    ("smt-4-maxcpus", B + ["-smp", "4,threads=4,maxcpus=8", "-cpu", "power10"]),
    ("power11", B + ["-cpu", "power11", "-smp", "2"]),
    ("deprecated-3.0", ["-S", "-nodefaults", "-machine", "pseries-3.0", "-cpu", "power9"]),
]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.realqemu
@pytest.mark.parametrize("lid,args", LINES10, ids=[i for i, _ in LINES10])
def test_running_pseries_answers_as_qemu_10(lid, args):
    real = need_qemu10("ppc64")
    os.environ.setdefault("PYTHONPATH", ROOT)
    theirs = answers([real], args)
    ours = answers(LAUNCHER, args)
    diff = [(json.dumps(r), a.decode(), b.decode()) for r, a, b in zip(requests(), theirs, ours) if a != b]
    assert diff == []


@pytest.mark.parametrize("lid,args", LINES10, ids=[i for i, _ in LINES10])
def test_running_pseries_answers_as_recorded_10(lid, args):
    """The launcher against the recorded answers of the real 10.0 binary (no binary needed)."""
    assert lid in ANSWERS, "line %s not recorded: re-record (see the module's docstring)" % lid
    os.environ.setdefault("PYTHONPATH", ROOT)
    ours = [a.decode() for a in answers(LAUNCHER, args)]
    diff = [(json.dumps(r), a, b) for r, a, b in zip(requests(), ANSWERS[lid], ours) if a != b]
    assert diff == [] and len(ours) == len(ANSWERS[lid])


@pytest.mark.realqemu
def test_recording_is_the_real_10_binarys():
    real = need_qemu10("ppc64")
    lid, args = LINES10[0]
    assert [a.decode() for a in answers([real], args)] == ANSWERS[lid]


def record(path: str) -> None:
    real = os.path.join(QEMU10_DIR, "bin", "qemu-system-ppc64")
    got = {lid: [a.decode() for a in answers([real], args)] for lid, args in LINES10}
    with open(path, "w") as f:
        f.write(
            '"""Recorded by ``python3 -m tests.conformance.test_ppc64_running_state_qemu10`` from Debian\'s\n'
        )
        f.write(
            "QEMU 10.0.2 qemu-system-ppc64 (bookworm-backports, TCG): per command line, the answer lines to\n"
        )
        f.write('``requests()``."""\n\n')
        f.write("ANSWERS = %s\n" % json.dumps(got, indent=1))


if __name__ == "__main__":
    record(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ppc64_running_state_cases10.py"))
