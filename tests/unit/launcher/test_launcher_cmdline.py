"""The launcher's command line against Debian's qemu-system-aarch64 7.2.

Every input of ``launcher_cmdline_inputs.py`` is run through
``qmpserver-qemu --profile debian-7.2-tcg`` and must print exactly what the
real binary printed (``launcher_cmdline_cases.py``, recorded by
``launcher_record_cases.py``) and exit the same way ("started" = a
``-daemonize`` run whose foreground process exits 0).  When the real binary is
installed, the recording itself is checked against it.
"""

import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from launcher_cmdline_cases import CASES  # noqa: E402
from launcher_cmdline_inputs import INPUTS  # noqa: E402
from launcher_record_cases import run_case, run_started  # noqa: E402

from tests.support.oracle_env import require_recorded_packages  # noqa: E402

REAL = "/usr/bin/qemu-system-aarch64"
MOCK = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", "debian-7.2-tcg"]


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMPSERVER_PROFILE")}
    root = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


# -sandbox ...,spawn=deny: -daemonize's fork dies by SIGSYS (test_launcher_sandbox.py), so
# "started" is a process still running after a few seconds
SPAWN_DENIED = ("sandbox-libvirt", "libvirt-domain")


def _run(cmd, argv, expected, env=None, cid=None):
    if expected["rc"] == "started" and cid in SPAWN_DENIED:
        return run_case(cmd, argv, timeout=3.0, env=env) + (None,)
    if expected["rc"] == "started":
        return run_started(cmd, argv, env=env) + (None,)
    if "stdout" in expected:
        return run_case(cmd, argv, timeout=15.0, env=env, stdout=True)
    return run_case(cmd, argv, timeout=15.0, env=env) + (None,)


@pytest.mark.parametrize("cid,argv", INPUTS, ids=[c for c, _ in INPUTS])
def test_launcher_prints_what_qemu_prints(cid, argv):
    exp = CASES[cid]
    rc, err, out = _run(MOCK, argv, exp, _env(), cid)
    assert err == exp["stderr"]
    assert rc == exp["rc"]
    if "stdout" in exp:
        assert out == exp["stdout"]


def _real_available():
    if os.path.exists(REAL) and os.access(REAL, os.X_OK):
        return True
    if os.environ.get("QMPSERVER_REQUIRE_REAL_PEERS") == "1":
        pytest.fail("%s is required (QMPSERVER_REQUIRE_REAL_PEERS=1)" % REAL)
    return False


@pytest.mark.realqemu
@pytest.mark.parametrize("cid,argv", INPUTS, ids=[c for c, _ in INPUTS])
def test_recording_matches_real_qemu(cid, argv):
    if not _real_available():
        pytest.skip("Debian's qemu-system-aarch64 is not installed")
    # recorded with the binary of the committed Debian build, in its package set
    require_recorded_packages(what="launcher_cmdline_cases.py")
    exp = CASES[cid]
    rc, err, out = _run([REAL], argv, exp, cid=cid)
    assert (rc, err) == (exp["rc"], exp["stderr"])
    if "stdout" in exp:
        assert out == exp["stdout"]


def test_every_input_is_recorded():
    assert sorted(CASES) == sorted(c for c, _ in INPUTS)
    assert shutil.which  # keep the import used
