"""The ppc64 and x86_64 migration models (arch/*/migrate.py) on their own: what a pseries
source sends, how levels compare, what an x86 destination on a weaker host does."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "machine"))

from machine_testutil import start  # noqa: E402

from qmpserver.arch.ppc64 import migrate as ppc  # noqa: E402
from qmpserver.arch.x86_64 import migrate as x86  # noqa: E402
from qmpserver.errors import StartupError  # noqa: E402


@pytest.mark.parametrize(
    "cap,value,level",
    [
        ("cap-cfpc", "broken", 0),
        ("cap-cfpc", "Workaround", 1),
        ("cap-sbbc", "fixed", 2),
        ("cap-ibs", "fixed-ccd", 3),
        ("cap-ibs", "fixed-na", 0x10),
        ("cap-large-decr", True, 1),
        ("cap-hpt-max-page-size", 65536, 16),
        ("cap-hpt-max-page-size", 4096, 12),
    ],
)
def test_levels_are_qemus(cap, value, level):
    assert ppc.level(cap, value) == level


def test_stream_names_of_caps():
    assert ppc.mig_name("cap-hpt-max-page-size") == "hpt_maxpagesize"  # recorded (VMDESCRIPTION)
    assert ppc.mig_name("cap-nested-hv") == "nested_kvm_hv"
    assert ppc.mig_name("cap-rpt-invalidate") == "rpt_invalidate"


def _pseries(machine, **cfg):
    inst = start("qemu-7.2-debian-ppc64", machine, "tcg", "power9", **cfg)
    assert not isinstance(inst, StartupError), inst
    return ppc.Machine(inst)


def test_only_set_and_different_caps_are_sent():
    assert _pseries("pseries-7.2").sent_caps() == {"hpt_maxpagesize": 16}
    assert _pseries("pseries-7.2,cap-cfpc=workaround").sent_caps() == {"hpt_maxpagesize": 16}
    assert _pseries("pseries-7.2,cap-cfpc=fixed").sent_caps() == {"cfpc": 2, "hpt_maxpagesize": 16}
    # hpt-max-page-size is always sent from pseries-4.1 on, only when set and different before
    assert _pseries("pseries-4.0").sent_caps() == {}


def test_cas_ov5_is_part_of_the_guest_abi():
    m = _pseries("pseries-7.2")
    assert m.abi["cas-ov5"] == {"radix": True, "gtse": True}
    assert m.sections()[-1][0] == "spapr"


def test_x86_enforce_on_a_weaker_host_refuses_to_start():
    """The source's -cpu on a destination host without its features: QEMU's start-up texts
    (x86_cpu_filter_features; libvirt's Prepare then fails), a warning per feature before."""
    got = start("x86-skylake-sp-5.15", "pc-q35-7.2", "kvm", "Icelake-Server", cpu_props={"enforce": "on"})
    assert isinstance(got, StartupError)
    assert "Host doesn't support requested features" in str(got)


def test_x86_invtsc_blocks_only_without_tsc_frequency():
    inst = start("x86-icelake-sp-6.8", "pc-q35-7.2", "kvm", "qemu64", cpu_props={"invtsc": "on"})
    assert x86.blockers(inst) == [x86.INVTSC_BLOCKER]
    inst = start(
        "x86-icelake-sp-6.8",
        "pc-q35-7.2",
        "kvm",
        "qemu64",
        cpu_props={"invtsc": "on", "tsc-frequency": "2000000000"},
    )
    assert x86.blockers(inst) == []
    inst = start("x86-icelake-sp-6.8", "pc-q35-7.2", "tcg", "qemu64", cpu_props={"invtsc": "on"})
    assert x86.blockers(inst) == []


def _profile(name):
    from qmpserver.profiles.loader import load_profile

    return load_profile(name, ())


def test_plan_x86_proposes_a_named_model_with_enforce():
    from qmpserver.planner import plan

    p = plan(_profile("x86-icelake-sp-6.8"), _profile("x86-skylake-sp-5.15"), both_ways=True)
    assert p["migratable"], p
    cfg = p["configuration"]
    assert cfg["cpu"] not in ("host", "max") and cfg["cpu_props"] == {"enforce": True}
    assert any(n.startswith("x86_64: the stream carries no CPUID") for n in p["notes"])


def test_plan_ppc64_names_the_gtse_blocker():
    from qmpserver.planner import plan

    p = plan(_profile("power9-bare-metal-5.14"), _profile("power9-nested-l1-gtse-off"))
    assert not p["migratable"]
    assert p["blockers"][0].startswith("the guest was told GTSE=1")
    assert any(n.startswith("ppc64: checked by running it") for n in p["notes"])


def test_plan_refuses_a_pair_of_targets():
    from qmpserver.planner import plan

    p = plan(_profile("graviton3-v1-6.1"), _profile("x86-icelake-sp-6.8"))
    assert p["blockers"] == [
        "qmpserver: graviton3-v1-6.1 (aarch64) and x86-icelake-sp-6.8 (x86_64) run different QEMU targets"
    ]


@pytest.mark.parametrize(
    "profile,machine,cpu,accel,stream,first",
    [
        (
            "qemu-7.2-debian-ppc64",
            "pseries-7.2",
            "power9",
            "tcg",
            "qemu-7.2-ppc64-tcg/stream-pseries-7.2.bin.gz",
            "Unknown savevm section or instance 'spapr/htab' 0",
        ),
        (
            "qemu-7.2-debian-x86_64",
            "pc-i440fx-7.2",
            "qemu64",
            "tcg",
            "qemu-7.2-x86_64/stream-pc-7.2.bin.gz",
            "Unknown combination of migration flags",
        ),
    ],
)
def test_a_real_stream_fails_cleanly(profile, machine, cpu, accel, stream, first):
    """A real QEMU 7.2 stream into a qmpserver destination of the same configuration: the
    configuration and the RAM block list are accepted (same names and sizes as QEMU's), then
    the first thing qmpserver does not model stops the load with QEMU's text -- no hang, no
    internal error."""
    import gzip

    from qmpserver.migration import engine
    from qmpserver.migration import stream as st

    data = gzip.open(Path(__file__).resolve().parents[2] / "data" / "migration" / stream).read()
    mem = 512 << 20 if "ppc64" in profile else 128 << 20  # as the streams were recorded
    inst = start(profile, machine, accel, cpu, memory=mem)
    assert not isinstance(inst, StartupError), inst
    dest = engine.Destination(engine.Snapshot(inst))
    pos = [0]

    def read(n):
        chunk = data[pos[0] : pos[0] + n]
        pos[0] += len(chunk)
        return chunk

    with pytest.raises(st.LoadError) as e:
        dest.load(st.Reader(read), lambda cmd, payload: None)
    assert e.value.lines[0].startswith(first), e.value.lines
    assert "internal error" not in " ".join(e.value.lines)
