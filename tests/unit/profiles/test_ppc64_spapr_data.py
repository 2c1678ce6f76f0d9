"""The measured ppc64 data (``models/ppc64/*.yaml``) against the real binary and the model.

* The spapr data answers what Debian's ``qemu-system-ppc64`` answers now: a sample of
  machine versions x CPU models re-measured with the capture tool's own function
  (``tools/capture_ppc64_spapr.py`` ``measure_defaults``), and of ``-cpu`` PVR lookups.
* Without the binary: the data is complete for every machine version and CPU model the build
  lists, and the lookup follows QEMU's rule on the recorded names (aliases, case, PVR forms).
"""

import importlib.util

import pytest
from capture_testutil import REPO, real_binary

from qmpserver.arch.ppc64 import cpu as ppc_cpu
from qmpserver.arch.ppc64 import spapr
from qmpserver.models import data
from qmpserver.profiles.loader import load_profile

EMULATOR = "/usr/bin/qemu-system-ppc64"
SPAPR = data("ppc64/spapr-caps-7.2.yaml")
LOOKUP = data("ppc64/cpu-lookup-7.2.yaml")


def _tool():
    spec = importlib.util.spec_from_file_location(
        "capture_ppc64_spapr", REPO / "tools" / "capture_ppc64_spapr.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def build():
    return load_profile("qemu-7.2-debian-ppc64").build


def test_every_pseries_version_and_spapr_cpu_is_measured(build):
    versions = sorted(m["name"] for m in build.machines() if m["name"].startswith("pseries-"))
    assert sorted(SPAPR["machines"]) == versions
    assert sorted(SPAPR["defaults"]) == versions
    assert set(SPAPR["order"]) == set(SPAPR["caps"])
    for cap, info in SPAPR["caps"].items():
        values = info.get("values") or (["off", "on"] if info["type"] == "bool" else ["2k", "4k", "64k"])
        for v in values:
            covered = {c for g in SPAPR["apply"][cap][v] for c in g["cpus"]}
            assert covered == set(SPAPR["cpus"]), (cap, v)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("power9", "power9_v2.0"),
        ("POWER9", "power9_v2.0"),
        ("Power8_V2.0", "power8_v2.0"),
        ("004e1200", "power9_v2.0"),
        ("0x004E1200", "power9_v2.0"),
        ("0X004E1200", None),  # QEMU drops only a lower-case 0x
        ("04e1200", None),
        ("max", "power9_v2.0"),
        ("host", None),
        ("nosuch", None),
    ],
)
def test_cpu_lookup_follows_qemu(build, name, expected):
    assert ppc_cpu.lookup(build, name, "pseries-7.2", "tcg") == expected


def test_max_without_machine_default_is_not_found(build):
    assert ppc_cpu.lookup(build, "max", "none", "tcg") is None


@pytest.mark.realqemu
@pytest.mark.parametrize(
    "machine", ["pseries-7.2", "pseries-4.0", "pseries-2.12", "pseries-2.11", "pseries-2.1"]
)
@pytest.mark.parametrize("cpu", [None, "power8_v2.0", "970_v2.2", "power10_v2.0"])
def test_spapr_defaults_match_real_qemu(machine, cpu):
    real_binary(EMULATOR)
    tool = _tool()
    props = list(SPAPR["caps"]) + list(SPAPR["extras"])
    got = tool.measure_defaults(EMULATOR, machine, cpu, props)
    assert spapr.effective(SPAPR, machine, cpu, {}) == got["qom"]
    if "refused" in got:
        assert SPAPR["refused-defaults"].get(machine) == got["refused"] or cpu is not None


@pytest.mark.realqemu
@pytest.mark.parametrize("model", ["power9_v2.0", "power8_v2.0", "970_v2.2", "e500v2_v30", "7400_v2.9"])
def test_pvr_lookup_matches_real_qemu(model):
    real_binary(EMULATOR)
    tool = _tool()
    pvr = LOOKUP["pvr"][model]
    m = tool.Monitor(EMULATOR, ["-machine", "none", "-cpu", pvr])
    try:
        r = m.client.execute("qom-get", {"path": "/machine/unattached/device[0]", "property": "type"})
    finally:
        m.close()
    assert r["return"] == LOOKUP["by-pvr"][pvr] + "-powerpc64-cpu"


QOM_SETS = [
    ("cap-cfpc", "nosuch"),
    ("cap-cfpc", "FIXED"),
    ("cap-cfpc", "?"),
    ("cap-htm", True),
    ("cap-htm", "on"),
    ("cap-hpt-max-page-size", 3000),
    ("cap-hpt-max-page-size", 4096),
    ("cap-hpt-max-page-size", "64k"),
    ("max-cpu-compat", "nosuch"),
    ("max-cpu-compat", "power8"),
    ("vsmt", 2),
]


def _qom_set_conversation():
    out = []
    for prop, value in QOM_SETS:
        out.append(("qom-set", {"path": "/machine", "property": prop, "value": value}))
        out.append(("qom-get", {"path": "/machine", "property": prop}))
    return out


@pytest.mark.realqemu
def test_qom_set_of_caps_answers_like_real_qemu():
    """qom-set of caps on a running pseries instance: the setters' texts and what reads back."""
    from capture_testutil import start_profile

    from tests.support.peers import RealQemu

    conversation = _qom_set_conversation()
    mock = start_profile(REPO / "models" / "profiles" / "qemu-7.2-debian-ppc64.yaml", *conversation)
    real_binary(EMULATOR)
    with RealQemu(args=("-S", "-nodefaults", "-M", "pseries", "-accel", "tcg"), binary=EMULATOR) as q:
        from tests.support.client import RawClient

        client = RawClient(q.path)
        try:
            client.negotiate()
            real = [client.cmd(name, args) for name, args in conversation]
        finally:
            client.close()
    assert mock == real


def test_guest_abi_carries_the_caps_qom_get_answers():
    """The pseries caps machine init settled on are part of the guest ABI (what migration and
    `profiles diff` compare), equal to what qom-get answers; other targets have no such member."""
    from qmpserver import startup
    from qmpserver.vm.abi import GuestABI
    from qmpserver.vm.config import InstanceConfig

    cfg = InstanceConfig()
    cfg.machine = {"type": "pseries-2.12", "cap-cfpc": "fixed", "cap-htm": "off"}
    cfg.cpu = "power8"
    inst = startup.start(load_profile("qemu-7.2-debian-ppc64"), cfg)
    d = inst.abi.to_dict()
    expected = spapr.effective(SPAPR, "pseries-2.12", "power8_v2.0", {"cap-cfpc": "fixed", "cap-htm": False})
    assert d["spapr-caps"] == {k: v for k, v in expected.items() if k.startswith("cap-")}
    assert d["spapr-caps"]["cap-cfpc"] == "fixed" and d["spapr-caps"]["cap-large-decr"] is False
    assert d["cpu"]["model"] == "power8_v2.0"
    assert GuestABI.from_dict(d) == inst.abi
    arm = startup.start(load_profile("debian-7.2-tcg"), InstanceConfig())
    assert "spapr-caps" not in arm.abi.to_dict()
