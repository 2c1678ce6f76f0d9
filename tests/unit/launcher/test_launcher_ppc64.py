"""The launcher's pseries start-up against Debian's qemu-system-ppc64 7.2 (TCG).

Every input of ``launcher_ppc64_inputs.py`` (spapr ``cap-*`` values per machine
version, CPU model and accelerator rule; the ``-cpu`` lookup) is run through
``qmpserver-qemu --profile qemu-7.2-debian-ppc64`` and must print exactly what the
real binary printed (``launcher_ppc64_cases.py``, recorded by
``launcher_record_cases.py --inputs launcher_ppc64_inputs``), exit the same way and,
where the input names ``/machine`` properties, answer ``qom-get`` on them as the
real binary did.  When the real binary is installed, the recording itself is checked
against it (``QMPSERVER_REQUIRE_REAL_PEERS=1`` makes its absence a failure).
"""

import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from launcher_ppc64_cases import CASES  # noqa: E402
from launcher_ppc64_inputs import INPUTS  # noqa: E402
from launcher_record_cases import run_case, run_started  # noqa: E402
from test_launcher_cmdline import _env  # noqa: E402

from tests.support.peers import need_binary  # noqa: E402

REAL = "qemu-system-ppc64"
MOCK = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", "qemu-7.2-debian-ppc64"]
IDS = [c[0] for c in INPUTS]
# qmpserver's own start-up log line for a pseries machine started without -nodefaults, whose
# default devices are not modelled (qmpserver.arch.ppc64.board): it says so on stderr, QEMU does not
NOT_MODELLED = re.compile(r"^machine pseries-[\d.a-z-]+ without -nodefaults: .*not modelled.*\n", re.M)


def _run(cmd, argv, qom, expected, env=None):
    """-> (rc, stderr, qom answers or None) the way the recording was taken."""
    if qom:
        return run_started(cmd, argv, env=env, qom=qom)
    if expected["rc"] == "started":
        return run_started(cmd, argv, env=env) + (None,)
    return run_case(cmd, argv, timeout=15.0, env=env) + (None,)


@pytest.mark.parametrize("case", INPUTS, ids=IDS)
def test_launcher_starts_pseries_like_qemu(case):
    cid, argv, *qom = case
    exp = CASES[cid]
    rc, err, answers = _run(MOCK, argv, qom[0] if qom else None, exp, _env())
    err, n = NOT_MODELLED.subn("", err)
    # pseries is a modelled board: only a start without -nodefaults logs its default devices
    pseries = exp["rc"] == "started" and "-M none" not in " ".join(argv)
    assert n == (1 if pseries and "-nodefaults" not in argv else 0)
    assert err == exp["stderr"]
    assert rc == exp["rc"]
    assert answers == exp.get("qom")


@pytest.mark.realqemu
@pytest.mark.parametrize("case", INPUTS, ids=IDS)
def test_recording_matches_real_qemu_ppc64(case):
    real = need_binary(REAL)
    cid, argv, *qom = case
    exp = CASES[cid]
    rc, err, answers = _run([real], argv, qom[0] if qom else None, exp)
    assert (rc, err) == (exp["rc"], exp["stderr"])
    assert answers == exp.get("qom")


def test_every_ppc64_input_is_recorded():
    assert sorted(CASES) == sorted(IDS)
