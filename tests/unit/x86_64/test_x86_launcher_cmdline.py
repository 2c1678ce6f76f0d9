"""The launcher as ``qemu-system-x86_64`` against Debian's real binary (issue 11): machines
(``pc``/``q35``, versions, the default), ``kernel-irqchip`` under TCG and KVM, ``-cpu`` models,
feature syntax, TCG's and the host's feature filtering with ``check``/``enforce``.

Every input of ``x86_cmdline_inputs.py`` is run through ``qmpserver-qemu --profile
qemu-7.2-debian-x86_64`` and must print exactly what the real binary printed and exit the same
way (``x86_cmdline_cases.py``, recorded by ``tests/unit/launcher/launcher_record_cases.py
--inputs``; its runners are reused here).  The same inputs against Debian's QEMU 10.0
(``x86_cmdline_cases_10_0.py``, recorded from ``.cache/qemu-10.0/bin/qemu-system-x86_64`` on the
host the ``qemu-10.0-debian-x86_64`` profile was captured on) run through that profile; the few
cases the 10.0 comparison leaves out say why (``SKIP_10_0``, ``DIFFERS_10_0``).  The recording is re-checked against the real binary
when it is installed; the KVM cases only on the host the profile was captured on (their warnings
are that host's CPUID); elsewhere, on any machine with /dev/kvm, the KVM cases run the real
binary against the launcher on a profile of THIS machine recorded for the session
(``tests/support/livehost.py``).
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
from x86_cmdline_cases_10_0 import CASES as CASES_10_0  # noqa: E402
from x86_cmdline_inputs import INPUTS  # noqa: E402

from qmpserver.arch.x86_64 import hostcpu  # noqa: E402
from qmpserver.profiles.loader import load_profile  # noqa: E402
from tests.support.livehost import live_profiles  # noqa: E402
from tests.support.peers import need_binary, need_qemu10  # noqa: E402

PROFILE = "qemu-7.2-debian-x86_64"
PROFILE_10 = "qemu-10.0-debian-x86_64"
MOCK = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", PROFILE]
# profile -> (recording, the real binary)
BUILDS = {
    PROFILE: (CASES, lambda: need_binary("qemu-system-x86_64")),
    PROFILE_10: (CASES_10_0, lambda: need_qemu10("x86_64")),
}
# 10.0 inputs the launcher is not compared on: the real binary aborts there (on the capture
# host, a nested EPYC guest, -cpu host's MSR IA32_ARCH_CAPABILITIES 0x10a cannot be set:
# kvm_buf_set_msrs' assertion), a crash of the binary rather than a rule
SKIP_10_0 = {
    "libvirt-q35-host-kvm": "real QEMU 10.0 aborts (kvm_buf_set_msrs, MSR 0x10a) on the capture host",
    "cpu-kvm-host": "real QEMU 10.0 aborts (kvm_buf_set_msrs, MSR 0x10a) on the capture host",
    "cpu-kvm-host-enforce": "real QEMU 10.0 aborts (kvm_buf_set_msrs, MSR 0x10a) on the capture host",
}
# 10.0 inputs on which the launcher is known to differ, and why (strict xfail: a fix shows)
DIFFERS_10_0 = {
    "cpu-kvm-skylake": "10.0 takes ERMS from the host's own CPUID (kvm_arch_get_supported_cpuid), "
    "which the KVM CPUID host file does not hold: the launcher warns about erms",
    "cpu-kvm-skylake-enforce": "as cpu-kvm-skylake: the launcher also lists erms",
}
CASE_IDS = [(p, c, a) for p in BUILDS for c, a in INPUTS]


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


@pytest.mark.parametrize("profile,cid,argv", CASE_IDS, ids=["%s-%s" % (p, c) for p, c, _ in CASE_IDS])
def test_launcher_prints_what_qemu_prints(profile, cid, argv):
    if profile == PROFILE_10 and cid in SKIP_10_0:
        pytest.skip(SKIP_10_0[cid])
    if profile == PROFILE_10 and cid in DIFFERS_10_0:
        pytest.xfail(DIFFERS_10_0[cid])
    exp = BUILDS[profile][0][cid]
    mock = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", profile]
    rc, err = _run(mock, argv, exp, _env())
    board = UNMODELLED_BOARDS.get(cid) if exp["rc"] == "started" else None
    assert (rc, err) == (exp["rc"], (UNMODELLED % board if board else "") + exp["stderr"])


@functools.lru_cache(maxsize=2)
def _on_captured_host(profile=PROFILE):
    """/dev/kvm works and its CPUID is the one the profile's host data holds (the KVM cases'
    warnings are that host's)."""
    from tests.unit.x86_64.test_x86_hostcpu import live_matches

    return live_matches(hostcpu.host_for(load_profile(profile).host))


@pytest.mark.realqemu
@pytest.mark.parametrize("profile,cid,argv", CASE_IDS, ids=["%s-%s" % (p, c) for p, c, _ in CASE_IDS])
def test_recording_matches_real_qemu(request, profile, cid, argv):
    cases, binary_of = BUILDS[profile]
    binary = binary_of()
    if _needs_kvm(cid) and not _on_captured_host(profile):
        # KVM case: this machine is not the host the profile was captured on (the recording's
        # warnings are that host's CPUID): the real binary against the launcher on this
        # machine's profile instead
        launcher_matches_real_qemu_live_kvm(request, live_profiles(), profile, cid, argv)
        return
    exp = cases[cid]
    rc, err = _run([binary], argv, exp)
    assert (rc, err) == (exp["rc"], exp["stderr"])


def test_every_input_is_recorded():
    assert sorted(CASES) == sorted(c for c, _ in INPUTS)
    assert sorted(CASES_10_0) == sorted(c for c, _ in INPUTS)


# KVM inputs on which the launcher, on this machine's live profile, is known to differ from
# the real binary: (build, input) -> (the condition on this machine's KVM_GET_SUPPORTED_CPUID
# under which it shows, why); strict xfail there, so a fix shows
def _no_erms(live):
    """KVM does not list ERMS (CPUID.07H:EBX bit 9)."""
    return not any(e[0] == 7 and e[1] == 0 and e[4] & (1 << 9) for e in live["supported"])


LIVE_DIFFERS = {
    ("qemu-10.0-debian-x86_64", c): (
        _no_erms,
        "10.0 takes ERMS from the host's own CPUID instruction (kvm_arch_get_supported_cpuid), which "
        "/dev/kvm's KVM_GET_SUPPORTED_CPUID (the live host file) does not hold: the launcher warns about erms",
    )
    for c in ("cpu-kvm-skylake", "cpu-kvm-skylake-enforce")
}
# the real binary aborting is a crash of it, not a rule the launcher can answer: where KVM lists
# IA32_ARCH_CAPABILITIES (0x10a) but refuses its value (nested guests), -cpu host aborts in
# kvm_buf_set_msrs (7.2 and 10.0)
REAL_CRASH = "kvm_buf_set_msrs: Assertion"


def launcher_matches_real_qemu_live_kvm(request, live_kvm, profile, cid, argv):
    """Each KVM input, on THIS machine: the real binary and the launcher on the session's
    live profile (this machine's /dev/kvm with the build under test) print the same and exit
    the same way."""
    cases, binary_of = BUILDS[profile]
    binary = binary_of()
    if (profile, cid) in LIVE_DIFFERS:
        import yaml

        when, why = LIVE_DIFFERS[(profile, cid)]
        with open(os.path.join(live_kvm[0], "x86_64", "hosts", "live-kvm.yaml"), encoding="utf-8") as f:
            if when(yaml.safe_load(f)):
                request.applymarker(pytest.mark.xfail(strict=True, reason=why))
    exp = cases[cid]  # only which runner the input needs (started or not)
    rc, err = _run([binary], argv, exp)
    if REAL_CRASH in err:
        pytest.skip("the real binary aborts on this machine (%s)" % err.strip().splitlines()[0])
    mock = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", live_kvm[1][profile]]
    got_rc, got_err = _run(mock, argv, exp, _env())
    board = (
        UNMODELLED_BOARDS.get(cid)
        if got_rc == "started" or (exp["rc"] == "started" and got_rc == 0)
        else None
    )
    assert (got_rc, got_err) == (rc, (UNMODELLED % board if board else "") + err)
