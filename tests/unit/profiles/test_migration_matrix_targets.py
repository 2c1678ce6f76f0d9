"""The host-pair matrix (``planner.matrix``) for every target: ppc64 (pseries) and x86_64 (q35)
besides aarch64 -- one profile per host, the passthrough configuration from the builds' data,
each cell proved by migrating between in-process instances."""

from __future__ import annotations

import types

import pytest

from qmpserver.planner import MATRIX_TARGETS, matrix, one_per_host, passthrough_config
from qmpserver.profiles.loader import load_profile

PPC64 = [
    "power10-powervm-6.10",
    "power8-bare-metal-5.15",
    "power9-bare-metal-5.14",
    "power9-nested-l1-gtse-off",
    "power9-nested-l1-gtse-off-proposal",
    "qemu-7.2-debian-ppc64",  # TCG on an x86_64 host: not a ppc64 host
]
X86 = [
    "qemu-10.0-debian-x86_64",
    "qemu-7.2-debian-x86_64",
    "x86-capture-amd-epyc-6.18",
    "x86-cascadelake-6.1",
    "x86-cooperlake-6.14",
    "x86-epyc-genoa-6.12",
    "x86-epyc-genoa-6.12-qemu-10.0",
    "x86-epyc-milan-6.17",
    "x86-epyc-naples-5.10",
    "x86-epyc-rome-6.18",
    "x86-icelake-sp-6.8",
    "x86-sapphire-rapids-6.1",
    "x86-sapphire-rapids-6.1-qemu-10.0",
    "x86-skylake-sp-5.15",
]


def P(name):
    return load_profile(name)


@pytest.fixture(scope="module")
def ppc64():
    return one_per_host([P(n) for n in PPC64], "ppc64")


@pytest.fixture(scope="module")
def x86():
    return one_per_host([P(n) for n in X86], "x86_64")


def cells(m):
    return {(c["source"], c["destination"]): c for c in m["cells"]}


def test_one_per_host_per_target(ppc64, x86):
    # the proposal build's profile of a host where there is one (ppc64: spapr-gtse);
    # profiles of the target on another architecture's host (TCG) are no host of the matrix
    assert [p.name for p in ppc64] == [
        "power10-powervm-6.10",
        "power8-bare-metal-5.15",
        "power9-bare-metal-5.14",
        "power9-nested-l1-gtse-off-proposal",
    ]
    assert ppc64[-1].build.name == MATRIX_TARGETS["ppc64"].preferred_build == "qmpserver-ppc64"
    # x86_64 has no proposal build: the first profile of a host (names sorted) stands for it
    names = [p.name for p in x86]
    assert len(names) == 12 and "x86-epyc-genoa-6.12" in names
    assert "x86-epyc-genoa-6.12-qemu-10.0" not in names
    # the default target is aarch64's: no ppc64 or x86_64 profile in it
    assert one_per_host([P("power9-bare-metal-5.14"), P("x86-skylake-sp-5.15")]) == []


@pytest.mark.parametrize("target", ["riscv64", "", "x86-64"])
def test_a_target_without_a_matrix_is_refused_by_name(target):
    with pytest.raises(
        ValueError, match=r"no host-pair matrix for target .* \(one of: aarch64, ppc64, x86_64\)"
    ):
        one_per_host([], target)
    with pytest.raises(ValueError, match="no host-pair matrix for target"):
        matrix([], target=target)


def test_a_profile_of_another_target_is_refused():
    with pytest.raises(ValueError, match="profile x86-skylake-sp-5.15 runs target x86_64, not ppc64"):
        matrix([P("power9-bare-metal-5.14"), P("x86-skylake-sp-5.15")], target="ppc64")


def test_passthrough_config_per_target():
    kvm = passthrough_config(P("power9-bare-metal-5.14"), P("power10-powervm-6.10"))
    assert kvm == {"machine": {"type": "pseries-7.2"}, "accel": "kvm", "cpu": "host"}
    # TCG: the CPU the machine type defaults to (query-machines default-cpu-type)
    tcg = passthrough_config(P("qemu-7.2-debian-ppc64"), P("qemu-10.0-debian-ppc64"))
    assert tcg == {"machine": {"type": "pseries-7.2"}, "accel": "tcg", "cpu": "power9_v2.0"}
    # x86_64: the newest q35 both builds have (7.2 and 10.0 share pc-q35-7.2)
    a, b = P("x86-epyc-genoa-6.12"), P("x86-sapphire-rapids-6.1-qemu-10.0")
    assert passthrough_config(a, b) == {"machine": {"type": "pc-q35-7.2"}, "accel": "kvm", "cpu": "host"}
    b10 = P("x86-epyc-genoa-6.12-qemu-10.0")
    assert passthrough_config(b, b10)["machine"] == {"type": "pc-q35-10.0"}
    # x86_64 under TCG: q35's default CPU, qemu64
    tcg_a = types.SimpleNamespace(name="a", build=a.build, host=a.host, defaults={"accel": "tcg"})
    assert passthrough_config(tcg_a, tcg_a) == {
        "machine": {"type": "pc-q35-7.2"},
        "accel": "tcg",
        "cpu": "qemu64",
    }
    # no common versioned machine type: none
    assert passthrough_config(P("power9-bare-metal-5.14"), P("x86-skylake-sp-5.15")) is None


def test_ppc64_passthrough_matrix(ppc64):
    m = matrix(ppc64, "passthrough", target="ppc64")
    assert "notes" not in m and len(m["cells"]) == 12
    c = cells(m)
    # only the guest started on the GTSE-off L1 with the proposal (told GTSE=0) moves: to bare metal
    assert [k for k, v in c.items() if v["migratable"]] == [
        ("power9-nested-l1-gtse-off-proposal", "power9-bare-metal-5.14")
    ]
    ok = c[("power9-nested-l1-gtse-off-proposal", "power9-bare-metal-5.14")]
    assert ok["qemu-args"] == ["-machine", "pseries-7.2", "-accel", "kvm", "-cpu", "host"]
    # bare metal told its guest GTSE=1: the L1 whose guests run with LPCR[GTSE]=0 refuses it
    assert c[("power9-bare-metal-5.14", "power9-nested-l1-gtse-off-proposal")]["first-blocker"].startswith(
        "the guest was told GTSE=1 (LPCR[GTSE]); this host's guests run with LPCR[GTSE]=0"
    )
    # -cpu host is the host's own family: the PVR decides
    assert c[("power10-powervm-6.10", "power9-bare-metal-5.14")]["first-blocker"] == (
        "the source's CPU power10_v2.0 does not match this vCPU's power9_v2.0 (PVR)"
    )
    assert c[("power8-bare-metal-5.15", "power9-bare-metal-5.14")]["first-blocker"] == (
        "the source's CPU power8_v2.0 does not match this vCPU's power9_v2.0 (PVR)"
    )
    # a POWER8 pseries has no XIVE (XICS only): the stream's spapr-xive section is unknown there
    assert c[("power9-bare-metal-5.14", "power8-bare-metal-5.15")]["first-blocker"].startswith(
        "Unknown savevm section or instance 'spapr-xive' 0"
    )


def test_ppc64_planned_matrix_shows_the_destination_stderr(ppc64):
    m = matrix(ppc64, "planned", target="ppc64")
    assert "notes" not in m
    # the plan's candidate is the passthrough configuration: the same verdicts
    assert {k: v["migratable"] for k, v in cells(m).items()} == {
        k: v["migratable"] for k, v in cells(matrix(ppc64, target="ppc64")).items()
    }
    from qmpserver.planner import plan

    p = plan(P("power9-bare-metal-5.14"), P("power9-nested-l1-gtse-off-proposal"))
    assert p["tried"][0]["trials"][0]["destination-stderr"] == [
        "Process table config unsupported by the host",
        "error while loading state for instance 0x0 of device 'spapr'",
        "load of migration failed: Invalid argument",
    ]


def test_x86_passthrough_matrix(x86):
    m = matrix(x86, "passthrough", target="x86_64")
    assert len(m["cells"]) == 12 * 11
    # the stream carries no CPUID: -cpu host migrates between any two KVM hosts (on the newest q35
    # both builds have), and the matrix says what that does not prove
    assert all(c["migratable"] for c in m["cells"])
    assert {tuple(c["qemu-args"]) for c in m["cells"]} == {
        ("-machine", "pc-q35-7.2", "-accel", "kvm", "-cpu", "host"),
    }
    (note,) = m["notes"]
    assert note.startswith("x86_64: the stream carries no CPUID") and "config=planned" in note


def test_x86_planned_matrix_picks_named_models(x86):
    # a plan per pair probes both hosts' CPU models: three hosts (6 plans) keep it short
    few = [p for p in x86 if p.name in ("x86-epyc-genoa-6.12", "x86-epyc-naples-5.10", "x86-icelake-sp-6.8")]
    m = matrix(few, "planned", target="x86_64")
    assert "notes" not in m
    args = {k: v["qemu-args"][-1] for k, v in cells(m).items()}
    assert all(v["migratable"] for v in m["cells"])
    # the host's vendor first, the newest family both provide in full, with enforce
    assert args[("x86-epyc-genoa-6.12", "x86-icelake-sp-6.8")] == "Icelake-Server-v2,enforce=on"
    assert args[("x86-icelake-sp-6.8", "x86-epyc-genoa-6.12")] == "Icelake-Server-v2,enforce=on"
    # the Naples host lacks rdtscp (its recorded CPUID): no EPYC model is complete there
    assert args[("x86-epyc-genoa-6.12", "x86-epyc-naples-5.10")] == "Westmere-v1,enforce=on"


def test_a_build_that_does_not_say_the_default_cpu_is_a_blocker_not_a_guess():
    def fake(name):
        build = types.SimpleNamespace(
            target="ppc64", name="b-" + name, machines=lambda: [{"name": "pseries-7.2"}]
        )
        host = types.SimpleNamespace(name=name, arch="ppc64", data={})
        return types.SimpleNamespace(name=name, build=build, host=host, defaults={"accel": "tcg"}, summary="")

    m = matrix([fake("x"), fake("y")], target="ppc64")
    assert [c["first-blocker"] for c in m["cells"]] == [
        "qmpserver: build b-x does not say the default CPU of pseries-7.2 (query-machines)",
        "qmpserver: build b-y does not say the default CPU of pseries-7.2 (query-machines)",
    ]
    assert not any(c["migratable"] for c in m["cells"])
