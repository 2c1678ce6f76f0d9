"""Launcher command-line fuzzing: generated argv never gives a Python traceback.

Options come from the launcher's own option table (``qmpserver.launcher.options``,
the list ``qemu-system-aarch64 -help`` prints) plus unknown and mistyped ones;
values are QEMU-ish edge cases, random text, empty strings and non-UTF-8 bytes
(as Python hands them over: surrogate-escaped).  QEMU's contract is a stderr
message and exit 1 (or output and exit 0 for help/version), never a crash.

* in process: the launcher's whole pre-start sequence (``Runner.run`` up to
  ``start``: parse, validate, early options, help) must end in ``Diag`` (exit 1)
  or ``Exit`` (exit 0/1), or succeed; any other exception is a crash;
* as processes: a small bounded sample runs ``python -m qmpserver.launcher.main``
  for real (in a temporary directory; a command line that starts a VM is killed
  after a few seconds); no ``Traceback`` on stderr and an exit status of 0 or 1.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.launcher import options
from qmpserver.launcher.cmdline import Cmdline
from qmpserver.launcher.main import Runner
from qmpserver.launcher.report import Diag, Exit, Reporter
from qmpserver.profiles.loader import load_profile
from tests.unit.launcher.launcher_testutil import LAUNCHER, env, short_dir

from .strategies import examples

NAMES = sorted(options.TABLE) + ["no-such-option", "", "-", "m=1", "help=1"]
VALUES = [
    "",
    "help",
    "?",
    "abc",
    "on",
    "off",
    "1",
    "0",
    "-1",
    "99999999999999999999",
    "1T",
    "1e3",
    "virt",
    "virt,,",
    "virt,accel=tcg,gic-version=99",
    "max",
    "max,,",
    "max,sve=on,sve9999=on",
    "host",
    "type=",
    "id=",
    ",",
    ",,",
    "=",
    "driver=virtio-net-pci,id=n0",
    "{}",
    '{"driver":',
    '{"driver":"virtio-blk-pci","drive":1}',
    "socket,id=c,path=qmp.sock,server=on,wait=off",
    "unix:qmp.sock,server=on,wait=off",
    "order=zz",
    "shutdown=nope",
    "fd=99,set=1",
    "tcg,thread=single",
    "memory-backend-ram,id=m,size=big",
    "cpus=0,sockets=0",
    "x" * 5000,
]


def _text():
    alphabet = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/")
    return st.text(alphabet, max_size=20)


# non-UTF-8 bytes arrive in sys.argv surrogate-escaped, exactly as os.fsdecode makes them
_bytes_arg = (
    st.binary(min_size=1, max_size=12).filter(lambda b: b"\0" not in b and b"/" not in b).map(os.fsdecode)
)
_value = st.one_of(st.sampled_from(VALUES), _text(), _bytes_arg)
_option = st.tuples(st.sampled_from(("-", "--")), st.sampled_from(NAMES)).map("".join)
argv = st.lists(st.one_of(st.tuples(_option, _value), st.tuples(_option), st.tuples(_value)), max_size=6).map(
    lambda parts: [a for p in parts for a in p]
)

FUZZ = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
_profile = None


def _prof():
    global _profile
    if _profile is None:
        _profile = load_profile("debian-7.2-tcg")
    return _profile


@settings(max_examples=examples(600), **FUZZ)
@given(argv)
def test_pre_start_sequence_never_raises_anything_else(args):
    err = io.StringIO()
    rep = Reporter("qemu-system-aarch64", stream=err)
    runner = Runner(_prof(), rep, "qemu-system-aarch64")
    try:
        L = Cmdline(_prof(), warn=rep.warning, reporter=rep).parse(args)
        runner.validate_options(L)
        runner.early_options(L)
        runner.help_options(L)
    except Diag as d:
        assert d.code == 1
        rep.diag(d)
        assert err.getvalue().startswith("qemu-system-aarch64: ")
    except Exit as e:
        assert e.code in (0, 1)


# never daemonize (it would leave a process behind) nor drop privileges in the sample
_SAFE = [n for n in NAMES if n not in ("daemonize", "runas", "chroot")]
_safe_option = st.tuples(st.sampled_from(("-", "--")), st.sampled_from(_SAFE)).map("".join)
safe_argv = st.lists(st.one_of(st.tuples(_safe_option, _value), st.tuples(_safe_option)), max_size=4).map(
    lambda parts: [a for p in parts for a in p]
)


@settings(max_examples=examples(12), **FUZZ)
@given(safe_argv)
def test_launcher_process_exits_cleanly(args):
    cwd = short_dir("qf")
    cmd = LAUNCHER + ["--profile", "debian-7.2-tcg", *[os.fsencode(a) for a in args]]
    p = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env(),
        start_new_session=True,
    )
    try:
        _, stderr = p.communicate(timeout=6)
        started = False
    except subprocess.TimeoutExpired:  # the command line was good: a VM is running
        os.killpg(p.pid, signal.SIGKILL)
        _, stderr = p.communicate()
        started = True
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    assert b"Traceback" not in stderr, stderr.decode(errors="replace")
    if not started:
        assert p.returncode in (0, 1), (p.returncode, stderr)
