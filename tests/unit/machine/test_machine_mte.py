"""The MTE rules (qmpserver/arch/arm64/mte.py) as pure functions, for the cases
the matrix does not reach: option combinations, builds whose TCG emulates
other versions, named CPU models with MTE2, other accelerators, QEMU before
8.1, kernels that can lower MTE."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from machine_testutil import Qmp, profile, start

from qmpserver.arch.arm64 import mte
from qmpserver.errors import StartupError


def build(accels=("kvm", "tcg"), tcg=None, quirks=(), props=None):
    data = {"tcg": tcg} if tcg is not None else {}
    rec = props or {}

    def recorded_return(name, args=None, accel=None, default=None):
        return rec.get((name, (args or {}).get("typename")), default)

    return SimpleNamespace(
        accelerators=frozenset(accels),
        data=data,
        quirks=frozenset(quirks),
        recorded_return=recorded_return,
        machines=lambda: [],
        target="aarch64",
    )


def host(level, cap=True, release="6.12.0", writable=None, name="h"):
    kvm = {"present": True, "caps": {"KVM_CAP_ARM_MTE": 1 if cap else 0}, "gic": {"v2": False, "v3": True}}
    if writable:
        kvm["writable"] = writable
    data = {
        "kind": "host",
        "name": name,
        "kernel": {"release": release},
        "kvm": kvm,
        "idregs": {"ID_AA64PFR1_EL1": level << 8},
    }
    return SimpleNamespace(
        data=data, kvm=kvm, kvm_present=True, derived={}, path=name, arch_can_run_kvm=lambda t: True
    )


B = build()
MTE3, MTE2, NOCAP = host(3, name="mte3"), host(2, name="mte2"), host(3, cap=False, name="nocap")
LOWER = host(3, release="7.4.0", writable=[{"reg": "ID_AA64PFR1_EL1", "add": ["MTE"]}], name="lower")


@pytest.mark.parametrize("value", ["none", "2", "3", "host", "max"])
def test_parse_accepts(value):
    assert mte.parse_version(value) == value


@pytest.mark.parametrize("value", ["4", "1", "on", "MAX", "", "0"])
def test_parse_refuses(value):
    with pytest.raises(mte.MteError) as e:
        mte.parse_version(value)
    assert e.value.message == "Invalid mte-version value\nValid values are none, 2, 3, host, max."


@pytest.mark.parametrize(
    "mte_on,version,accel,want",
    [
        (None, None, "tcg", "none"),
        (True, None, "tcg", "max"),
        (True, None, "kvm", "host"),
        (False, None, "kvm", "none"),
        (None, "2", "kvm", "2"),
        (True, "max", "tcg", "max"),
        (True, "host", "kvm", "host"),
        (True, "max", "kvm", "max"),  # under KVM host and max are the same thing
        (False, "none", "tcg", "none"),
        (
            True,
            "host",
            "tcg",
            "mte=on conflicts with mte-version=host (under TCG, mte=on means mte-version=max)",
        ),
        (
            True,
            "none",
            "kvm",
            "mte=on conflicts with mte-version=none (under KVM, mte=on means mte-version=host)",
        ),
        (
            False,
            "2",
            "tcg",
            "mte=off conflicts with mte-version=2 (under TCG, mte=off means mte-version=none)",
        ),
        (True, "2", "kvm", "mte=on conflicts with mte-version=2 (under KVM, mte=on means mte-version=host)"),
    ],
)
def test_alias_and_conflicts(mte_on, version, accel, want):
    if " " in want:
        with pytest.raises(mte.MteError) as e:
            mte.requested(mte_on, version, accel)
        assert e.value.message == want
    else:
        assert mte.requested(mte_on, version, accel) == want


@pytest.mark.parametrize(
    "h,value,want",
    [
        (MTE3, "host", 3),
        (MTE3, "max", 3),
        (MTE3, "3", 3),
        (
            MTE3,
            "2",
            "MTE version 2 requested, but not supported by KVM (the host provides MTE3 and Linux 6.12 "
            "does not let userspace lower ID_AA64PFR1_EL1.MTE)",
        ),
        (MTE2, "2", 2),
        (MTE2, "max", 2),
        (MTE2, "3", "MTE version 3 requested, but not supported by KVM (the host provides MTE2)"),
        (NOCAP, "host", "MTE requested, but not supported by KVM"),
        (NOCAP, "2", "MTE requested, but not supported by KVM"),
        (LOWER, "2", 2),
        (LOWER, "3", 3),
        (LOWER, "max", 3),
        (MTE3, "none", 0),
        (NOCAP, "none", 0),
    ],
)
def test_kvm(h, value, want):
    if isinstance(want, int):
        assert mte.resolve(h, B, "kvm", "host", value) == want
    else:
        with pytest.raises(mte.MteError) as e:
            mte.resolve(h, B, "kvm", "host", value)
        assert e.value.message == want


def test_kvm_ignores_the_cpu_model():
    """QEMU's KVM path checks KVM_CAP_ARM_MTE, not the CPU model."""
    assert mte.resolve(MTE2, B, "kvm", "cortex-a57", "host") == 2


@pytest.mark.parametrize(
    "b,cpu,value,want",
    [
        (B, "max", "max", 3),
        (B, "max", "2", 2),
        (B, "max", "3", 3),
        (B, "max", "host", "mte-version=host requires KVM"),
        (B, "cortex-a57", "max", "MTE requested, but not supported by the guest CPU"),
        (B, "cortex-a57", "2", "MTE requested, but not supported by the guest CPU"),
        (B, "host", "max", "MTE requested, but not supported by the guest CPU"),
        (B, "cortex-a710", "max", 2),
        (B, "neoverse-n2", "2", 2),
        (
            B,
            "cortex-a710",
            "3",
            "MTE version 3 requested, but not supported by the guest CPU (cortex-a710 implements MTE2)",
        ),
        (
            build(tcg={"mte_versions": [3]}),
            "max",
            "2",
            "MTE version 2 requested, but not supported by TCG in this QEMU",
        ),
        (build(tcg={"mte_versions": [3]}), "max", "max", 3),
        (build(tcg={"mte_versions": [2]}), "max", "max", 2),
        (
            build(tcg={"mte_versions": [2]}),
            "max",
            "3",
            "MTE version 3 requested, but not supported by the guest CPU (max implements MTE2)",
        ),
        (build(tcg={"cpu_mte": {"cortex-a57": 3}}), "cortex-a57", "3", 3),
        (
            build(props={("qom-list-properties", "cortex-a99-arm-cpu"): [{"name": "tag-memory"}]}),
            "cortex-a99",
            "max",
            2,
        ),
        (
            build(props={("qom-list-properties", "cortex-a710-arm-cpu"): [{"name": "pmu"}]}),
            "cortex-a710",
            "max",
            "MTE requested, but not supported by the guest CPU",
        ),
    ],
)
def test_tcg(b, cpu, value, want):
    if isinstance(want, int):
        assert mte.resolve(None, b, "tcg", cpu, value) == want
    else:
        with pytest.raises(mte.MteError) as e:
            mte.resolve(None, b, "tcg", cpu, value)
        assert e.value.message == want


@pytest.mark.parametrize(
    "accel,b,want",
    [
        ("hvf", B, "mach-virt: HVF does not support providing MTE to the guest CPU"),
        ("qtest", B, "MTE requested, but not supported "),
        (
            "kvm",
            build(quirks=[mte.NO_KVM_QUIRK]),
            "mach-virt: KVM does not support providing MTE to the guest CPU",
        ),
    ],
)
def test_other_accelerators_and_old_qemu(accel, b, want):
    with pytest.raises(mte.MteError) as e:
        mte.resolve(MTE3, b, accel, "max", "max")
    assert e.value.message == want


def test_qtest_before_81_behaves_like_tcg():
    assert mte.resolve(None, build(quirks=[mte.NO_KVM_QUIRK]), "qtest", "max", "max") == 3


@pytest.mark.parametrize(
    "h,b,want",
    [
        (MTE3, B, [[3, True, True], [2, True, False]]),
        (MTE2, B, [[3, True, False], [2, True, True]]),
        (NOCAP, B, [[3, True, False], [2, True, False]]),
        (LOWER, B, [[3, True, True], [2, True, True]]),
        (MTE3, build(accels=("tcg",)), [[3, True, False], [2, True, False]]),
        (MTE3, build(accels=("kvm",)), [[3, False, True], [2, False, False]]),
        (MTE3, build(tcg={"mte_versions": [3]}), [[3, True, True], [2, False, False]]),
        (MTE3, build(quirks=[mte.NO_KVM_QUIRK]), [[3, True, False], [2, True, False]]),
    ],
)
def test_capabilities(h, b, want):
    assert mte.capabilities(h, b) == [{"version": v, "emulated": e, "kernel": k} for v, e, k in want]


def test_capabilities_without_kvm_on_the_host():
    h = host(3, name="nokvm")
    h.kvm_present = False
    assert [c["kernel"] for c in mte.capabilities(h, B)] == [False, False]


def test_migration_blocker_only_for_kvm_with_mte():
    assert mte.migration_blocker("kvm", 3) == "Live migration disabled due to MTE enabled"
    assert mte.migration_blocker("kvm", 0) is None
    assert mte.migration_blocker("tcg", 3) is None


def test_build_data_tcg_versions():
    assert mte.tcg_versions(profile("default").build) == (3, 2)
    assert mte.tcg_versions(profile("debian-7.2-tcg").build) == (3, 2)  # default: QEMU's


def test_every_call_path_uses_the_same_rules():
    """serve/launcher/HTTP all build an Instance; the matrix runs it. Here: the
    in-process API gives the same text as the pure function."""
    e = start("default", "virt,mte-version=2", "kvm", "host")
    assert isinstance(e, StartupError)
    with pytest.raises(mte.MteError) as pure:
        h = profile("default").host
        mte.resolve(h, profile("default").build, "kvm", "host", "2")
    assert e.message == pure.value.message


def test_deprecation_warning_only_with_the_proposal():
    on = start("qmpserver-tcg", "virt,mte=off", "tcg", "max")
    off = start("qemu-11.1-tcg", "virt,mte=off", "tcg", "max")
    assert on.config.warnings == ['"mte" property is deprecated; use "mte-version"']
    assert off.config.warnings == []


def test_qom_mte_version_cannot_change_after_init():
    q = Qmp(start("qmpserver-tcg", "virt,mte-version=2", "tcg", "max"))
    assert q.send("qom-set", path="/machine", property="mte-version", value="2") == {"return": {}}
    assert (
        q.send("qom-set", path="/machine", property="mte-version", value="3")["error"]["desc"]
        == "Property 'mte-version' cannot be changed after machine initialization"
    )
    assert (
        q.send("qom-set", path="/machine", property="mte-version", value="7")["error"]["desc"]
        == "Invalid mte-version value"
    )
    assert (
        q.send("qom-set", path="/machine", property="mte", value=False)["error"]["desc"]
        == "Property 'mte' cannot be changed after machine initialization"
    )
    assert q.cmd("qom-get", path="/machine", property="mte-version") == "2"
    # upstream: mte stays a plain settable bool
    q = Qmp(start("qemu-11.1-tcg", "virt", "tcg", "max"))
    assert q.send("qom-set", path="/machine", property="mte", value=True) == {"return": {}}
    assert q.cmd("qom-get", path="/machine", property="mte") is True
