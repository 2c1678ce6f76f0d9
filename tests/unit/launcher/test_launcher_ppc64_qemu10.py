"""The launcher's pseries start-up against Debian's real QEMU 10.0 (bookworm-backports, TCG).

Every input of ``launcher_ppc64_inputs10.py`` (the 7.2 command lines of
``launcher_ppc64_inputs.py`` and what 10.0 adds: ``cap-ail-mode-3``, ``cap-nested-papr``,
``cap-dawr1``, POWER11, SMT, deprecated versions) is run through ``qmpserver-qemu --profile
qemu-10.0-debian-ppc64`` and must print exactly what the real 10.0 binary printed
(``launcher_ppc64_cases10.py``, recorded by ``launcher_record_cases.py --inputs
launcher_ppc64_inputs10``), exit the same way and answer the same ``qom-get /machine``.  The
recording is checked against the real binary when it is fetched (``need_qemu10``).
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from launcher_ppc64_cases10 import CASES  # noqa: E402
from launcher_ppc64_inputs10 import INPUTS  # noqa: E402
from test_launcher_cmdline import _env  # noqa: E402
from test_launcher_ppc64 import NOT_MODELLED, _run  # noqa: E402

from tests.support.peers import need_qemu10  # noqa: E402

MOCK = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", "qemu-10.0-debian-ppc64"]
IDS = [c[0] for c in INPUTS]


@pytest.mark.parametrize("case", INPUTS, ids=IDS)
def test_launcher_starts_pseries_like_qemu_10(case):
    cid, argv, *qom = case
    exp = CASES[cid]
    rc, err, answers = _run(MOCK, argv, qom[0] if qom else None, exp, _env())
    err, n = NOT_MODELLED.subn("", err)
    assert n == 0  # every input has -nodefaults
    assert err == exp["stderr"]
    assert rc == exp["rc"]
    assert answers == exp.get("qom")


@pytest.mark.realqemu
@pytest.mark.parametrize("case", INPUTS, ids=IDS)
def test_recording_matches_real_qemu_10_ppc64(case):
    real = need_qemu10("ppc64")
    cid, argv, *qom = case
    exp = CASES[cid]
    rc, err, answers = _run([real], argv, qom[0] if qom else None, exp)
    assert (rc, err) == (exp["rc"], exp["stderr"])
    assert answers == exp.get("qom")


def test_every_ppc64_10_input_is_recorded():
    assert sorted(CASES) == sorted(IDS)
