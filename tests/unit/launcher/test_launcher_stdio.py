"""QMP on the process's stdin/stdout (``-qmp stdio``, ``-mon`` on a ``stdio`` chardev): the same
input piped to the launcher and, when installed, to Debian's ``qemu-system-aarch64`` 7.2; stdout
compared byte for byte (event times masked), with the exit status and stderr."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import launcher_testutil as lu  # noqa: E402

from tests.support.peers import need_binary  # noqa: E402

BASE = ["-M", "none", "-display", "none"]
TIME = re.compile(rb'"seconds": \d+,\s+"microseconds": \d+')
CONVERSATION = (
    b'{"execute":"qmp_capabilities"}\n{"execute":"query-status"}\n'
    b'{"execute": "nosuch", "id": 5}\ngarbage\n{"execute":"quit"}\n'
)


def _real(args):
    return [need_binary("qemu-system-aarch64")] + args


def _launcher(args):
    return lu.LAUNCHER + ["--profile", lu.PROFILE] + args


def _mask(out: bytes) -> bytes:
    return TIME.sub(b"T", out)


def _run(argv, data, settle=2.0):
    """-> (exit status, stdout masked, stderr); a process still running ``settle`` seconds
    after its input ended gets SIGTERM (QEMU stays up at end of input)."""
    p = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=lu.env()
    )
    try:
        out, err = p.communicate(data, timeout=settle)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        err = re.sub(rb"from pid \d+", b"from pid N", err)
    return p.returncode, _mask(out), err.decode()


@pytest.fixture(scope="module")
def real_runs():
    """The real binary's answers, once per module (keyed by case)."""
    return {}


CASES = {
    "qmp-stdio": (BASE + ["-qmp", "stdio"], CONVERSATION),
    "mon-pretty": (
        BASE + ["-chardev", "stdio,id=s", "-mon", "chardev=s,mode=control,pretty=on"],
        CONVERSATION,
    ),
    "before-negotiation": (BASE + ["-qmp", "stdio"], b'{"execute":"query-status"}\n{"execute":"quit"}\n'),
    "serial-also-stdio": (BASE + ["-qmp", "stdio", "-serial", "stdio"], b""),
    "monitor-also-stdio": (BASE + ["-qmp", "stdio", "-monitor", "stdio"], b""),
    "two-stdio-chardevs": (BASE + ["-chardev", "stdio,id=a", "-chardev", "stdio,id=b"], b""),
    "stdio-daemonize": (BASE + ["-qmp", "stdio", "-daemonize"], b""),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stdio_monitor_equals_real_qemu(case, real_runs):
    args, data = CASES[case]
    if case not in real_runs:
        real_runs[case] = _run(_real(args), data)
    want = real_runs[case]
    got = _run(_launcher(args), data)
    if want[0] == 1 and want[1].startswith(b'{"QMP": '):
        # a start-up failure after the QMP monitor came up: real QEMU's monitor I/O thread
        # greets or not before exit(1) (racy, seen both ways); the launcher fails first
        want = (want[0], want[1][want[1].index(b"\r\n") + 2 :], want[2])
    assert got == want
    if case == "qmp-stdio":
        assert want[0] == 0 and b'"event": "SHUTDOWN"' in want[1]


@pytest.mark.parametrize("which", [_launcher, _real], ids=["launcher", "real"])
def test_input_from_a_regular_file(which, tmp_path):
    """A file epoll cannot watch is read all the same."""
    f = tmp_path / "in"
    f.write_bytes(CONVERSATION)
    with open(f, "rb") as stdin:
        p = subprocess.run(
            which(BASE + ["-qmp", "stdio"]), stdin=stdin, capture_output=True, timeout=30, env=lu.env()
        )
    assert p.returncode == 0 and p.stderr == b""
    lines = _mask(p.stdout).split(b"\r\n")
    assert lines[-3:] == [
        b'{"timestamp": {T}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}',
        b'{"return": {}}',
        b"",
    ]


@pytest.mark.parametrize("which", [_launcher, _real], ids=["launcher", "real"])
def test_end_of_input_keeps_the_process_and_its_output(which):
    """stdin at EOF: QEMU goes on; a later SIGTERM's SHUTDOWN still reaches stdout."""
    p = subprocess.Popen(
        which(BASE + ["-qmp", "stdio"]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=lu.env(),
    )
    try:
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write(b'{"execute":"qmp_capabilities"}\n')
        p.stdin.close()
        assert p.stdout.readline().startswith(b'{"QMP": ')
        assert p.stdout.readline() == b'{"return": {}}\r\n'
        time.sleep(0.3)
        assert p.poll() is None
        p.send_signal(signal.SIGTERM)
        assert (
            b'"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-signal"}' in p.stdout.readline()
        )
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
