"""Differential conformance for the Arm CPU commands: the same bytes to Debian's real
qemu-system-aarch64 7.2 (TCG) and to qmpserver on the profile captured from it
(debian-7.2-tcg); replies must be byte-identical.  Also the start-up texts of -cpu
(stderr of the real binary vs qmpserver's StartupError).

Covers QEMU target/arm/arm-qmp-cmds.c (monitor.c before 8.0): qmp_query_cpu_model_expansion and
the property setters it calls, for everything TCG can show.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from qmpserver.errors import StartupError
from qmpserver.profiles.loader import load_profile
from qmpserver.qapi.opts import parse_cpu
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig
from tests.support.client import RawClient
from tests.support.mock import MockServer
from tests.support.peers import RealQemu, need_binary

PROFILE = "debian-7.2-tcg"

PROPS = [
    None,
    {},
    {"pmu": "on"},
    {"pauth": False, "pauth-impdef": True},
    {"pauth-qarma3": True},
    {"pauth-impdef": True},
    {"sve128": False},
    {"foo": 1},
    {"kvm-steal-time": False},
    {"kvm-no-adjvtime": False},
    {"aarch64": False},
    {"aarch64": True},
    5,
    "x",
    [],
    False,
    {"sve-max-vq": 8},
    {"sve": False, "sve128": True},
    {"sve1024": True, "sve256": False},
    {"sve": False},
    {"sve384": True},
    {"sve384": False},
    {"sve1024": True},
    {"sve384": True, "sve512": False, "sve640": True},
    {"sve512": False},
    {"sve384": True, "sve512": True, "sve640": True},
    {"sve1024": False},
    {"sve1152": True},
    {"sve128": True},
    {"sve": True},
    {"sve": True, "sve128": True, "sve256": True},
    {"migratable": False, "hv-passthrough": True},
    {"migratable": False},
    {"pmu": False, "x": 1, "y": 2, "abc": 3},
    {"sve128": False, "sve256": False},
    {"sve256": False},
    {"sve2048": True, "sve1920": False},
    {"pmu": 1},
    {"pmu": None},
    {"sve640": True},
]
MODELS = [
    "max",
    "a64fx",
    "cortex-a15",
    "cortex-a57",
    "neoverse-n1",
    "cortex-a76",
    "cortex-m4",
    "host",
    "foo",
    "max-arm-cpu",
    "pxa250",
    "",
    "Max",
]
CPU_OPTIONS = [
    "max",
    "max,sve-max-vq=8",
    "max,sve=off",
    "max,sve-max-vq=4,sve384=off",
    "max,pmu=off,pauth=off",
    "a64fx",
    "max,sve256=off",
    "max,sve128=on,sve256=off",
    "cortex-a57",
    "max,pauth-impdef=on",
]


def requests():
    out = []
    for m in MODELS:
        out.append(
            {"execute": "query-cpu-model-expansion", "arguments": {"type": "full", "model": {"name": m}}}
        )
    out.append(
        {"execute": "query-cpu-model-expansion", "arguments": {"type": "static", "model": {"name": "foo"}}}
    )
    out.append(
        {"execute": "query-cpu-model-expansion", "arguments": {"type": "static", "model": {"name": "max"}}}
    )
    for p in PROPS:
        for m in ("max", "a64fx", "cortex-a15"):
            model = {"name": m}
            if p is not None:
                model["props"] = p
            out.append(
                {"execute": "query-cpu-model-expansion", "arguments": {"type": "full", "model": model}}
            )
    out.append(
        {
            "execute": "query-cpu-model-expansion",
            "arguments": {"type": "full", "model": {"name": "max", "props": None}},
        }
    )
    out.append({"execute": "query-cpu-definitions"})
    out.append(
        {
            "execute": "query-cpu-model-comparison",
            "arguments": {"modela": {"name": "max"}, "modelb": {"name": "max"}},
        }
    )
    out.append(
        {
            "execute": "query-cpu-model-baseline",
            "arguments": {"modela": {"name": "max"}, "modelb": {"name": "max"}},
        }
    )
    return [dict(r, id=i) for i, r in enumerate(out)]


def transcript(path, reqs) -> list:
    c = RawClient(path)
    c.negotiate()
    out = []
    for r in reqs:
        c.send(json.dumps(r))
        while True:
            line = c.read_line()
            assert line is not None, "no answer to %r" % (r,)
            if b'"event"' not in line:
                break
        out.append(line)
    c.close()
    return out


@pytest.fixture(scope="module")
def mock():
    with MockServer() as m:
        yield m


@pytest.mark.realqemu
@pytest.mark.parametrize("cpu", CPU_OPTIONS)
def test_expansion_bytes_identical(mock, cpu):
    reqs = requests()
    with RealQemu(("-S", "-nodefaults", "-machine", "virt", "-cpu", cpu, "-accel", "tcg")) as q:
        real = transcript(q.path, reqs)
    model, props = parse_cpu(cpu)
    _, path = mock.instance(PROFILE, config=InstanceConfig(start_paused=True, cpu=model, cpu_props=props))
    ours = transcript(path, reqs)
    diffs = [
        "%s\n  real %s\n  ours %s" % (json.dumps(r), a[:200], b[:200])
        for r, a, b in zip(reqs, real, ours)
        if a != b
    ]
    assert not diffs, "%d of %d replies differ:\n%s" % (len(diffs), len(reqs), "\n".join(diffs[:10]))


# --- start-up -----------------------------------------------------------------------------

STARTUP = [
    "max",
    "max,foo=on",
    "max,sve=off",
    "max,sve-max-vq=0",
    "max,sve-max-vq=8",
    "max,sve128=off",
    "max,sve",
    "max,+sve",
    "max,pmu=maybe",
    "max,sve-max-vq=abc",
    "max,pauth=off,pauth-impdef=on",
    "host",
    "cortex-a15,sve=on",
    "foo",
    "max,sve-max-vq=8,sve1152=on",
    "max,aarch64=off",
    "max,kvm-steal-time=on",
    "cortex-a15,aarch64=off",
    "max,sve=off,sve128=on",
    "max,pauth-impdef=on",
    "max,sve-max-vq=17",
    "max,sve=off,sve=on",
    "max,migratable=off",
    "a64fx,sve384=on",
    "max,",
    "max,sve-max-vq=-1",
    "max,sve-max-vq=0x8",
    "max,sve-max-vq=010",
    "max,sve-max-vq=08",
    "max,sve-max-vq=99999999999",
    "max,pmu=yes",
    "max,pmu=True",
    "max,sve-max-vq= 8",
    "max,sve-max-vq=8k",
    "max,sve-max-vq=",
    "max,sve=off,sve-max-vq=4",
    "a64fx,sve-max-vq=4",
    "max,sve256=off,sve128=on",
    "max,sve-max-vq=2,sve384=on",
    "cortex-a8",
    "cortex-a55",
    "cortex-m4",
    "max,sme=off,sme128=on",
    "max,sme128=off,sme256=off,sme512=off,sme1024=off,sme2048=off",
    "max,midr=5",
    "max,lpa2=off",
    "max,sve1024=on,sve256=off",
    "max,sve384=on,sve512=off,sve640=on",
    "a64fx,pauth=on",
    "cortex-a57,pmu=off",
    "max,kvm-no-adjvtime=on",
    "max,sme=off",
]


def real_stderr(cpu: str) -> str:
    binary = need_binary("qemu-system-aarch64")
    r = subprocess.run(
        [
            "timeout",
            "2",
            binary,
            "-S",
            "-nodefaults",
            "-machine",
            "virt",
            "-accel",
            "tcg",
            "-display",
            "none",
            "-cpu",
            cpu,
        ],
        capture_output=True,
        text=True,
    )
    return "\n".join(l for l in r.stderr.splitlines() if "terminating on signal" not in l)


def our_stderr(cpu: str) -> str:
    model, props = parse_cpu(cpu)
    try:
        start(
            load_profile(PROFILE),
            InstanceConfig(start_paused=True, cpu=model, cpu_props=props, options=[("-cpu", cpu)]),
        )
    except StartupError as e:
        return "qemu-system-aarch64: " + e.message
    return ""


@pytest.mark.realqemu
@pytest.mark.parametrize("cpu", STARTUP)
def test_startup_text_identical(cpu):
    assert our_stderr(cpu) == real_stderr(cpu)


# hand-written expectations (meaningful without the real binary too)
EXPECTED_STARTUP = {
    "max,foo=on": "can't apply global max-arm-cpu.foo=on: Property 'max-arm-cpu.foo' not found",
    "max,sve-max-vq=0": "can't apply global max-arm-cpu.sve-max-vq=0: unsupported SVE vector length\n"
    "Valid sve-max-vq in range [1-16]",
    "max,sve128=off": "cannot disable sve128\nDisabling sve128 results in all vector lengths being disabled.\n"
    "With SVE enabled, at least one vector length must be enabled.",
    "max,sve": "Expected key=value format, found sve.",
    "max,pmu=maybe": "can't apply global max-arm-cpu.pmu=maybe: Parameter 'pmu' expects 'on' or 'off'",
    "max,sve-max-vq=abc": "can't apply global max-arm-cpu.sve-max-vq=abc: Parameter 'sve-max-vq' expects uint64",
    "max,sve-max-vq=-1": "can't apply global max-arm-cpu.sve-max-vq=-1: Parameter 'sve-max-vq' expects uint32_t",
    "max,pauth=off,pauth-impdef=on": "cannot enable pauth-impdef without pauth\nAdd pauth=on to the CPU property list.",
    "host": "unable to find CPU model 'host'",
    "foo": "unable to find CPU model 'foo'",
    "max,sve-max-vq=8,sve1152=on": "cannot enable sve1152\nsve1152 is larger than the maximum vector length, "
    "sve-max-vq=8 (1024 bits)",
    "max,aarch64=off": "can't apply global max-arm-cpu.aarch64=off: 'aarch64' feature cannot be disabled unless "
    "KVM is enabled and 32-bit EL1 is supported",
    "max,sve=off,sve128=on": "cannot enable sve128\nSVE must be enabled to enable vector lengths.\n"
    "Add sve=on to the CPU property list.",
    "a64fx,sve384=on": "cannot enable sve384\nThis CPU does not support the vector length 384-bits.",
    "cortex-a8": "mach-virt: CPU type cortex-a8-arm-cpu not supported",
    "max,sve-max-vq=2,sve384=on": "cannot enable sve384\nsve384 is larger than the maximum vector length, "
    "sve-max-vq=2 (256 bits)",
    "max": "",
    "max,sve-max-vq=8": "",
    "max,sve-max-vq=0x8": "",
    "max,sve=off,sve=on": "",
}


@pytest.mark.parametrize("cpu", sorted(EXPECTED_STARTUP))
def test_startup_text_expected(cpu):
    want = EXPECTED_STARTUP[cpu]
    assert our_stderr(cpu) == ("qemu-system-aarch64: " + want if want else "")
