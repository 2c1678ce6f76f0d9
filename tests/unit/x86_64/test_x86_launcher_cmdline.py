"""The launcher as ``qemu-system-x86_64`` against Debian's real binary (issue 11): machines
(``pc``/``q35``, versions, the default), ``kernel-irqchip`` under TCG and KVM, ``-cpu`` models,
feature syntax, TCG's and the host's feature filtering with ``check``/``enforce``.

Every input of ``x86_cmdline_inputs.py`` is run through ``qmpserver-qemu --profile
qemu-7.2-debian-x86_64`` and must print exactly what the real binary printed and exit the same
way (``x86_cmdline_cases.py``, recorded by ``tests/unit/launcher/launcher_record_cases.py
--inputs``; its runners are reused here).  The recording is re-checked against the real binary
when it is installed; the KVM cases only on the host the profile was captured on (their warnings
are that host's CPUID), which they skip elsewhere saying so.
"""

import functools
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER_TESTS = os.path.join(os.path.dirname(HERE), "launcher")
sys.path.insert(0, HERE)
sys.path.insert(0, LAUNCHER_TESTS)

from launcher_record_cases import run_case, run_started  # noqa: E402
from x86_cmdline_cases import CASES  # noqa: E402
from x86_cmdline_inputs import INPUTS  # noqa: E402

from qmpserver.arch.x86_64 import hostcpu  # noqa: E402
from qmpserver.profiles.loader import load_profile  # noqa: E402
from tests.support.peers import need_binary  # noqa: E402

PROFILE = "qemu-7.2-debian-x86_64"
MOCK = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", PROFILE]


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMPSERVER_PROFILE")}
    root = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _run(cmd, argv, expected, env=None):
    if expected["rc"] == "started":
        return run_started(cmd, argv, env=env)
    return run_case(cmd, argv, timeout=15.0, env=env)


# boards whose running state is not modelled: the launcher says so once on stderr (its log), the
# only line the real binary does not print
UNMODELLED_BOARDS = {"isapc": "isapc", "microvm": "microvm", "irqchip-off-isapc-kvm": "isapc"}
UNMODELLED = (
    "machine %s of target x86_64 is not modelled: a running instance's answers beyond the build's "
    "recordings (memory size, CPUs, PCI, chardevs ...) are generic, not QEMU's\n"
)


def _needs_kvm(cid):
    return "kvm" in cid


@pytest.mark.parametrize("cid,argv", INPUTS, ids=[c for c, _ in INPUTS])
def test_launcher_prints_what_qemu_prints(cid, argv):
    exp = CASES[cid]
    rc, err = _run(MOCK, argv, exp, _env())
    board = UNMODELLED_BOARDS.get(cid)
    assert (rc, err) == (exp["rc"], (UNMODELLED % board if board else "") + exp["stderr"])


@functools.lru_cache(maxsize=1)
def _on_captured_host():
    """/dev/kvm works and its CPUID is the one the profile's host data holds (the KVM cases'
    warnings are that host's)."""
    from tests.unit.x86_64.test_x86_hostcpu import live_matches

    return live_matches(hostcpu.host_for(load_profile(PROFILE).host))


@pytest.mark.realqemu
@pytest.mark.parametrize("cid,argv", INPUTS, ids=[c for c, _ in INPUTS])
def test_recording_matches_real_qemu(cid, argv):
    binary = need_binary("qemu-system-x86_64")
    if _needs_kvm(cid) and not _on_captured_host():
        pytest.skip("KVM case: this machine is not the host the profile was captured on")
    exp = CASES[cid]
    rc, err = _run([binary], argv, exp)
    assert (rc, err) == (exp["rc"], exp["stderr"])


def test_every_input_is_recorded():
    assert sorted(CASES) == sorted(c for c, _ in INPUTS)
