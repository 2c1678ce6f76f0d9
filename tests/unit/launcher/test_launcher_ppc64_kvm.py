"""pseries under KVM on the POWER host profiles: host x kernel x machine version x cap
settings -> starts (with what ``qom-get /machine`` answers) or QEMU 7.2's exact error and
hint (``hw/ppc/spapr_caps.c``, ``cap_*_apply`` under ``kvm_enabled()``), and the
``spapr-gtse`` proposal: what the guest is told (``x-ov5-gtse``) and whether it crashes.

Every row runs twice: through the launcher (``qmpserver-qemu --profile X``, a subprocess)
and in-process (:func:`qmpserver.startup.start`).  Rows with a kernel variant change the
host's KVM answers the way an older or newer kernel of that machine answers (in-process
only: a host file describes one kernel).  No real POWER host is here: the expectations are
QEMU's rules and texts as read from its source, not a recording (see docs/ppc64.md).
"""

import copy
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from launcher_record_cases import run_case, run_started  # noqa: E402
from test_launcher_cmdline import _env  # noqa: E402

from qmpserver.errors import StartupError  # noqa: E402
from qmpserver.profiles.loader import load_profile  # noqa: E402
from qmpserver.startup import start  # noqa: E402
from qmpserver.vm.config import InstanceConfig  # noqa: E402

P8 = "power8-bare-metal-5.15"
P9 = "power9-bare-metal-5.14"
L1 = "power9-nested-l1-gtse-off"
L1_PROPOSAL = "power9-nested-l1-gtse-off-proposal"
P10 = "power10-powervm-6.10"
OFF = "Try appending -machine %s=off"
STARTS = "started"

# qmpserver's own log lines on the launcher's stderr (QEMU prints none of them)
OWN_LINES = re.compile(
    r"^(machine pseries-[\d.a-z-]+ of target ppc64 is not modelled: .*"
    r"|-cpu \S+ on a \S+ host under KVM: whether KVM runs that CPU model is not modelled"
    r"|pseries guest told GTSE=1 on a host .*)\n",
    re.M,
)

# (id, profile, kernel variant (in-process only) or None, -machine, -cpu or None,
#  expected: STARTS or the error lines, {qom-get /machine property: answer} when started)
MATRIX = [
    # POWER8 bare metal: hash only, HTM, no large decrementer
    ("p8-defaults", P8, None, "pseries", None, STARTS, {"cap-htm": False, "cap-large-decr": False}),
    ("p8-htm-on", P8, None, "pseries,cap-htm=on", None, STARTS, {"cap-htm": True}),
    ("p8-2.11-htm-default", P8, None, "pseries-2.11", None, STARTS, {"cap-htm": True}),
    (
        "p8-rpt-invalidate-hash",
        P8,
        None,
        "pseries,cap-rpt-invalidate=on",
        None,
        ["H_RPT_INVALIDATE only supported on Radix"],
        None,
    ),
    (
        "p8-nested-hv-cpu",
        P8,
        None,
        "pseries,cap-nested-hv=on",
        None,
        ["Nested-HV only supported on POWER9 and later", OFF % "cap-nested-hv"],
        None,
    ),
    (
        "p8-large-decr",
        P8,
        None,
        "pseries,cap-large-decr=on",
        None,
        ["No large decrementer support", OFF % "cap-large-decr"],
        None,
    ),
    # POWER9 bare metal
    ("p9-defaults", P9, None, "pseries", "host", STARTS, {"cap-large-decr": True, "cap-ccf-assist": True}),
    (
        "p9-rpt-invalidate",
        P9,
        None,
        "pseries,cap-rpt-invalidate=on",
        None,
        STARTS,
        {"cap-rpt-invalidate": True},
    ),
    ("p9-nested-hv", P9, None, "pseries,cap-nested-hv=on", None, STARTS, {"cap-nested-hv": True}),
    (
        "p9-2.11-htm-default",
        P9,
        None,
        "pseries-2.11",
        None,
        STARTS,
        {"cap-htm": True, "cap-hpt-max-page-size": 65536},
    ),
    (
        "p9-cfpc-fixed",
        P9,
        None,
        "pseries,cap-cfpc=fixed",
        None,
        [
            "Requested safe cache capability level not supported by KVM",
            "Try appending -machine cap-cfpc=workaround",
        ],
        None,
    ),
    (
        "p9-sbbc-fixed",
        P9,
        None,
        "pseries,cap-sbbc=FIXED",
        None,
        [
            "Requested safe bounds check capability level not supported by KVM",
            "Try appending -machine cap-sbbc=workaround",
        ],
        None,
    ),
    (
        "p9-ibs-fixed-na",
        P9,
        None,
        "pseries,cap-ibs=fixed-na",
        None,
        [
            "Requested safe indirect branch capability level not supported by KVM",
            "Try appending -machine cap-ibs=fixed-ccd",
        ],
        None,
    ),
    ("p9-ibs-fixed-ccd", P9, None, "pseries,cap-ibs=fixed-ccd", None, STARTS, {"cap-ibs": "fixed-ccd"}),
    (
        "p9-cpu-power8-large-decr",
        P9,
        None,
        "pseries,cap-large-decr=on",
        "power8",
        ["KVM large decrementer size (56) differs to model (0)", OFF % "cap-large-decr"],
        None,
    ),
    (
        "p9-hpt-16m",
        P9,
        None,
        "pseries,cap-hpt-max-page-size=16M",
        None,
        ["Can't support 16384 kiB guest pages with 64 kiB host pages with this KVM implementation"],
        None,
    ),
    # the error comes in apply order: htm before rpt-invalidate
    (
        "l1-2.11-htm-first",
        L1,
        None,
        "pseries-2.11,cap-rpt-invalidate=on",
        None,
        ["KVM implementation does not support Transactional Memory", OFF % "cap-htm"],
        None,
    ),
    (
        "l1-nested-hv",
        L1,
        None,
        "pseries,cap-nested-hv=on",
        None,
        ["KVM implementation does not support Nested-HV", OFF % "cap-nested-hv"],
        None,
    ),
    # POWER10 in a PowerVM LPAR
    ("p10-defaults", P10, None, "pseries", None, STARTS, {"cap-ibs": "workaround", "cap-ccf-assist": True}),
    ("p10-ibs-fixed-na", P10, None, "pseries,cap-ibs=fixed-na", None, STARTS, {"cap-ibs": "fixed-na"}),
    (
        "p10-htm",
        P10,
        None,
        "pseries,cap-htm=on",
        None,
        ["KVM implementation does not support Transactional Memory", OFF % "cap-htm"],
        None,
    ),
    # kernel variants of the same machines
    (
        "p9-5.10-rpt-invalidate",
        P9,
        {"KVM_CAP_PPC_RPT_INVALIDATE": 0},
        "pseries,cap-rpt-invalidate=on",
        None,
        ["KVM implementation does not support H_RPT_INVALIDATE", OFF % "cap-rpt-invalidate"],
        None,
    ),
    (
        "p9-no-fwnmi",
        P9,
        {"KVM_CAP_PPC_FWNMI": 0},
        "pseries",
        None,
        ["Firmware Assisted Non-Maskable Interrupts(FWNMI) not supported by KVM.", OFF % "cap-fwnmi"],
        None,
    ),
    (
        "p9-no-fwnmi-off",
        P9,
        {"KVM_CAP_PPC_FWNMI": 0},
        "pseries,cap-fwnmi=off",
        None,
        STARTS,
        {"cap-fwnmi": False},
    ),
    (
        "p9-dd2.1-ccf-assist",
        P9,
        {"cpu_char": {"cap-cfpc": "workaround", "cap-sbbc": "workaround", "cap-ibs": "fixed-ibs"}},
        "pseries",
        None,
        ["Requested count cache flush assist capability level not supported by KVM", OFF % "cap-ccf-assist"],
        None,
    ),
    (
        "p9-dd2.1-ccf-assist-off",
        P9,
        {"cpu_char": {"cap-cfpc": "workaround", "cap-sbbc": "workaround", "cap-ibs": "fixed-ibs"}},
        "pseries,cap-ccf-assist=off",
        None,
        STARTS,
        {"cap-ccf-assist": False},
    ),
]
IDS = [r[0] for r in MATRIX]
LAUNCHER_ROWS = [r for r in MATRIX if r[2] is None]


def _argv(machine, cpu):
    argv = ["-S", "-nodefaults", "-display", "none", "-accel", "kvm", "-M", machine]
    return argv + (["-cpu", cpu] if cpu else [])


def _variant(profile, kernel):
    """The profile with its host's KVM answering like another kernel of that machine."""
    if not kernel:
        return profile
    prof = copy.copy(profile)
    prof.host = copy.copy(profile.host)
    kvm = copy.deepcopy(profile.host.kvm)
    for k, v in kernel.items():
        if k == "cpu_char":
            kvm["cpu_char"] = v
        else:
            kvm["caps"][k] = v
    prof.host.kvm = kvm
    return prof


def _machine(spec):
    parts = spec.split(",")
    m = {"type": parts[0]}
    m.update(p.split("=", 1) for p in parts[1:])
    return m


def _start(name, machine, cpu=None, kernel=None, accel="kvm", **kw):
    prof = _variant(load_profile(name), kernel)
    cfg = InstanceConfig(machine=_machine(machine), accel=[accel], start_paused=True, **kw)
    if cpu:
        cfg.cpu = cpu
    return start(prof, cfg)


@pytest.mark.parametrize("row", MATRIX, ids=IDS)
def test_in_process(row):
    _id, name, kernel, machine, cpu, expected, qom = row
    if expected == STARTS:
        inst = _start(name, machine, cpu, kernel)
        assert inst.machine.accel == "kvm"
        for prop, answer in (qom or {}).items():
            assert inst.board.values[prop] == answer, prop
    else:
        with pytest.raises(StartupError) as e:
            _start(name, machine, cpu, kernel)
        assert str(e.value) == "\n".join(expected)


@pytest.mark.parametrize("row", LAUNCHER_ROWS, ids=[r[0] for r in LAUNCHER_ROWS])
def test_launcher(row):
    _id, name, _kernel, machine, cpu, expected, qom = row
    mock = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", name]
    if expected == STARTS:
        rc, err, answers = run_started(mock, _argv(machine, cpu), env=_env(), qom=list(qom))
        assert OWN_LINES.sub("", err) == ""
        assert rc == "started"
        assert answers == qom
    else:
        rc, err = run_case(mock, _argv(machine, cpu), timeout=15.0, env=_env())
        assert rc == 1
        assert OWN_LINES.sub("", err) == "".join(
            ("qemu-system-ppc64: " if i == 0 else "") + ln + "\n" for i, ln in enumerate(expected)
        )


def test_under_tcg_the_kvm_rules_do_not_apply():
    """The same host under TCG: QEMU's TCG rules (measured), not the host's KVM answers."""
    with pytest.raises(StartupError) as e:
        _start(P9, "pseries,cap-rpt-invalidate=on", accel="tcg")
    assert str(e.value) == "No H_RPT_INVALIDATE support in TCG\n" + OFF % "cap-rpt-invalidate"


# --- GTSE: what CAS tells the guest, and the seed's crash ----------------------------------------

# (id, profile, kernel variant, -cpu, machine, accel) -> (x-ov5-gtse or None when the property
# does not exist, the guest crashes on tlbie when it runs)
GTSE = [
    ("upstream-l1-gtse-off", L1, None, None, "pseries", "kvm", None, True),
    ("proposal-l1-gtse-off", L1_PROPOSAL, None, None, "pseries", "kvm", False, False),
    # a kernel without the cap answers 0: unknown, GTSE=1 kept (and the L2 crashes)
    ("proposal-old-kernel", L1_PROPOSAL, {"KVM_CAP_PPC_GTSE": 0}, None, "pseries", "kvm", True, True),
    # GTSE is cleared only when the guest can invalidate through H_RPT_INVALIDATE
    ("proposal-no-rpt", L1_PROPOSAL, {"KVM_CAP_PPC_RPT_INVALIDATE": 0}, None, "pseries", "kvm", True, True),
    ("proposal-gtse-on", L1_PROPOSAL, {"KVM_CAP_PPC_GTSE": 1}, None, "pseries", "kvm", True, True),
    # a POWER8 CPU (or compat mode) is offered neither radix nor GTSE: hash guests never crash
    ("proposal-compat-power8", L1_PROPOSAL, None, None, "pseries,max-cpu-compat=power8", "kvm", False, False),
    ("proposal-tcg-power9", L1_PROPOSAL, None, "power9", "pseries", "tcg", True, False),
    ("proposal-tcg-power8", L1_PROPOSAL, None, "power8", "pseries", "tcg", False, False),
    ("upstream-p9-bare", P9, None, None, "pseries", "kvm", None, False),
]


@pytest.mark.parametrize("row", GTSE, ids=[r[0] for r in GTSE])
def test_gtse_told_and_crash(row):
    _id, name, kernel, cpu, machine, accel, told, crashes = row
    inst = _start(name, machine, cpu, kernel, accel=accel, no_shutdown=True)
    assert inst.board.values.get("x-ov5-gtse") == told
    inst.cont()
    inst.scheduler.run_due(time.monotonic() + 1)
    events = [e["event"] for e in inst.event_log]
    if crashes:
        assert events[-3:] == ["RESUME", "GUEST_PANICKED", "STOP"]
        assert inst.event_log[-2]["data"] == {"action": "pause"}
        assert inst.runstate == "guest-panicked"
    else:
        assert events[-1] == "RESUME"
        assert inst.runstate == "running"


def test_crash_without_no_shutdown_powers_off():
    """QEMU's default shutdown action: GUEST_PANICKED poweroff, STOP, a guest-panic SHUTDOWN."""
    inst = _start(L1, "pseries")
    inst.cont()
    inst.scheduler.run_due(time.monotonic() + 1)
    assert [e["event"] for e in inst.event_log][-4:] == ["RESUME", "GUEST_PANICKED", "STOP", "SHUTDOWN"]
    assert inst.event_log[-3]["data"] == {"action": "poweroff"}
    assert inst.event_log[-1]["data"] == {"guest": True, "reason": "guest-panic"}


def _qmp(sock_path, commands, settle=0.3):
    s = socket.socket(socket.AF_UNIX)
    for _ in range(500):
        try:
            s.connect(sock_path)
            break
        except OSError:
            time.sleep(0.01)
    f = s.makefile("rwb")
    f.readline()  # greeting
    out = []
    for cmd in commands:
        f.write((json.dumps(cmd) + "\n").encode())
        f.flush()
        while True:
            msg = json.loads(f.readline())
            out.append(msg)
            if "return" in msg or "error" in msg:
                break
        if cmd["execute"] == "cont":
            time.sleep(settle)  # the guest runs: its events come without a command
    s.close()
    return out


@pytest.mark.parametrize(
    "name, told, crashes",
    [
        (L1, {"class": "GenericError", "desc": "Property 'pseries-7.2-machine.x-ov5-gtse' not found"}, True),
        (L1_PROPOSAL, False, False),
    ],
    ids=["upstream", "proposal"],
)
def test_launcher_gtse_conversation(name, told, crashes):
    """Over QMP, as libvirt starts a guest (-S, -no-shutdown, cont)."""
    tmp = tempfile.mkdtemp(prefix="qg", dir="/tmp")
    sock = os.path.join(tmp, "m.sock")
    mock = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", name]
    argv = _argv("pseries", None) + ["-no-shutdown", "-qmp", "unix:%s,server=on,wait=off" % sock]
    p = subprocess.Popen(
        mock + argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env()
    )
    try:
        got = _qmp(
            sock,
            [
                {"execute": "qmp_capabilities"},
                {"execute": "qom-get", "arguments": {"path": "/machine", "property": "x-ov5-gtse"}},
                {"execute": "cont"},
                {"execute": "query-status"},
                {"execute": "quit"},
            ],
        )
    finally:
        p.wait(timeout=15)
    answer = got[1].get("return", got[1].get("error"))
    assert answer == told
    events = [m["event"] for m in got if "event" in m]
    status = next(
        m["return"]["status"]
        for m in got
        if "return" in m and isinstance(m["return"], dict) and "status" in m["return"]
    )
    if crashes:
        assert events[:3] == ["RESUME", "GUEST_PANICKED", "STOP"]
        assert status == "guest-panicked"
    else:
        assert events[:1] == ["RESUME"] and "GUEST_PANICKED" not in events
        assert status == "running"


def test_gtse_property_is_listed_and_read_only_with_the_proposal_only():
    inst = _start(L1_PROPOSAL, "pseries")
    from qmpserver.commands.qom import PROPERTY_OVERLAYS  # noqa: F401  (the overlay is registered)
    from qmpserver.vm.virt import property_list

    names = [p["name"] for p in property_list(inst, "pseries-7.2-machine", "pseries-7.2")]
    assert "x-ov5-gtse" in names
    upstream = _start(L1, "pseries")
    assert "x-ov5-gtse" not in [
        p["name"] for p in property_list(upstream, "pseries-7.2-machine", "pseries-7.2")
    ]
    with pytest.raises(StartupError) as e:
        _start(L1_PROPOSAL, "pseries,x-ov5-gtse=on")
    assert str(e.value) == "Insufficient permission to perform this operation"


# --- -action panic= (QEMU 7.2 qemu_system_guest_panicked) applied to the GTSE crash --------------

PANIC = [
    # (panic action, -no-shutdown) -> GUEST_PANICKED action, events after RESUME, run state, exit
    ("shutdown", True, "pause", ["GUEST_PANICKED", "STOP"], "guest-panicked", None),
    ("pause", False, "pause", ["GUEST_PANICKED", "STOP"], "guest-panicked", None),
    ("shutdown", False, "poweroff", ["GUEST_PANICKED", "STOP", "SHUTDOWN"], None, 0),
    ("exit-failure", False, "poweroff", ["GUEST_PANICKED", "STOP", "SHUTDOWN"], None, 1),
    # the shutdown action pause stops a VM that is already stopped: the state stays (vm_stop)
    ("exit-failure", True, "poweroff", ["GUEST_PANICKED", "STOP", "SHUTDOWN"], "guest-panicked", None),
    ("none", False, "run", ["GUEST_PANICKED"], "running", None),
]


@pytest.mark.parametrize("row", PANIC, ids=["%s%s" % (r[0], "-no-shutdown" if r[1] else "") for r in PANIC])
def test_gtse_crash_follows_the_panic_action(row):
    panic, no_shutdown, action, after, state, exit_code = row
    inst = _start(L1, "pseries", no_shutdown=no_shutdown)
    inst.config.panic_action = panic
    inst.cont()
    inst.scheduler.run_due(time.monotonic() + 1)
    events = [e["event"] for e in inst.event_log]
    assert events[events.index("RESUME") + 1 :] == after
    assert next(e for e in inst.event_log if e["event"] == "GUEST_PANICKED")["data"] == {"action": action}
    if state is not None:
        assert inst.terminated is None and inst.runstate == state
    else:
        assert inst.terminated == "guest-panic" and inst.exit_code == exit_code


@pytest.mark.parametrize("panic, rc", [("exit-failure", 1), ("shutdown", 0)])
def test_launcher_panic_action_exit_status(panic, rc):
    """``-action panic=exit-failure``: the crashed guest's QEMU exits with status 1."""
    tmp = tempfile.mkdtemp(prefix="qg", dir="/tmp")
    sock = os.path.join(tmp, "m.sock")
    mock = [sys.executable, "-m", "qmpserver.launcher.main", "--profile", L1]
    argv = _argv("pseries", None) + [
        "-action",
        "panic=%s" % panic,
        "-qmp",
        "unix:%s,server=on,wait=off" % sock,
    ]
    p = subprocess.Popen(
        mock + argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env()
    )
    try:
        got = _qmp(sock, [{"execute": "qmp_capabilities"}, {"execute": "cont"}])
        assert p.wait(timeout=15) == rc
    finally:
        if p.poll() is None:
            p.kill()
    events = [m["event"] for m in got if "event" in m]
    assert events[:1] == ["RESUME"]


def test_set_action_changes_the_panic_action():
    from qmpserver.commands.core import set_action

    inst = _start(L1, "pseries", no_shutdown=True)

    class Ctx:
        instance = inst

    assert set_action(Ctx, {"panic": "none"}) == {}
    inst.cont()
    inst.scheduler.run_due(time.monotonic() + 1)
    assert inst.event_log[-1]["event"] == "GUEST_PANICKED" and inst.event_log[-1]["data"] == {"action": "run"}
    assert inst.runstate == "running"
