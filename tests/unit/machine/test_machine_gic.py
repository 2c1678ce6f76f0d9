"""gic-version resolution and query-gic-capabilities (qmpserver/arch/arm64/gic.py).

TCG behaviour of 7.2 is checked against the real binary in
tests/conformance/test_machine_virt.py; KVM and the 8.0+ rule set cannot be run
here, so these vectors follow QEMU hw/arm/virt.c (finalize_gic_version at 7.2 and
after the 8.0 "Consolidate GIC finalize logic" patch)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from machine_testutil import Qmp, start

from qmpserver.arch.arm64 import gic
from qmpserver.errors import StartupError

MODERN = SimpleNamespace(quirks=frozenset())
LEGACY = SimpleNamespace(quirks=frozenset({gic.LEGACY_QUIRK}))


def host(v2, v3):
    return SimpleNamespace(kvm={"present": True, "gic": {"v2": v2, "v3": v3}})


V3, V2, BOTH, NONE = host(False, True), host(True, False), host(True, True), host(False, False)

# (requested, accel, host, options, build) -> version | error text
VECTORS = [
    # 8.0+ : KVM
    (None, "kvm", V3, {}, MODERN, 3),
    ("3", "kvm", V3, {}, MODERN, 3),
    ("host", "kvm", V3, {}, MODERN, 3),
    ("max", "kvm", V3, {}, MODERN, 3),
    ("2", "kvm", V3, {}, MODERN, "KVM does not support GICv2 emulation"),
    ("4", "kvm", V3, {}, MODERN, "KVM does not support GICv4 emulation, is virtualization=on?"),
    (
        "4",
        "kvm",
        V3,
        {"virtualization": True},
        MODERN,
        "KVM does not support GICv4 emulation, is virtualization=on?",
    ),
    (None, "kvm", BOTH, {}, MODERN, 2),
    (None, "kvm", BOTH, {"max_cpus": 9}, MODERN, 3),
    ("max", "kvm", BOTH, {}, MODERN, 3),
    ("max", "kvm", V2, {}, MODERN, 2),
    ("3", "kvm", V2, {}, MODERN, "KVM does not support GICv3 emulation"),
    (
        None,
        "kvm",
        V2,
        {"max_cpus": 9},
        MODERN,
        "KVM only supports GICv2 emulation but more than 8 vcpus are requested",
    ),
    (None, "kvm", NONE, {}, MODERN, "Unable to determine GIC version supported by host"),
    (None, "kvm", V3, {"kernel_irqchip": False}, MODERN, 2),
    (
        "3",
        "kvm",
        V3,
        {"kernel_irqchip": False},
        MODERN,
        "KVM with kernel-irqchip=off does not support GICv3 emulation",
    ),
    (
        None,
        "kvm",
        V3,
        {"kernel_irqchip": False, "max_cpus": 9},
        MODERN,
        "KVM with kernel-irqchip=off only supports GICv2 emulation but more than 8 vcpus are requested",
    ),
    # 8.0+ : TCG
    (None, "tcg", None, {}, MODERN, 2),
    (None, "tcg", None, {"max_cpus": 9}, MODERN, 3),
    ("max", "tcg", None, {}, MODERN, 3),
    ("max", "tcg", None, {"virtualization": True}, MODERN, 4),
    ("4", "tcg", None, {}, MODERN, "tcg does not support GICv4 emulation, is virtualization=on?"),
    ("4", "tcg", None, {"virtualization": True}, MODERN, 4),
    ("host", "tcg", None, {}, MODERN, "gic-version=host requires KVM"),
    ("max", "hvf", None, {}, MODERN, 3),
    ("2", "whpx", None, {}, MODERN, "WHPX does not support GICv2 emulation"),
    (None, "xen", None, {}, MODERN, "Unsupported accelerator, can not determine GIC support"),
    # 7.2
    (None, "tcg", None, {"max_cpus": 9}, LEGACY, 2),
    ("4", "tcg", None, {}, LEGACY, "gic-version=4 requires virtualization enabled"),
    ("max", "tcg", None, {"virtualization": True}, LEGACY, 4),
    ("host", "tcg", None, {}, LEGACY, "gic-version=host requires KVM"),
    ("2", "kvm", V3, {}, LEGACY, "host does not support in-kernel GICv2 emulation"),
    ("4", "kvm", V3, {}, LEGACY, "gic-version=4 is not supported with KVM"),
    (
        None,
        "kvm",
        V2,
        {"max_cpus": 9},
        LEGACY,
        "host only supports in-kernel GICv2 emulation but more than 8 vcpus are requested",
    ),
    (
        "3",
        "kvm",
        V3,
        {"kernel_irqchip": False},
        LEGACY,
        "gic-version=3 is not supported with kernel-irqchip=off",
    ),
    ("max", "kvm", V3, {"kernel_irqchip": False}, LEGACY, 2),
]


@pytest.mark.parametrize("requested,accel,h,opts,build,want", VECTORS)
def test_resolution(requested, accel, h, opts, build, want):
    if isinstance(want, int):
        assert gic.resolve(requested, accel, h, build, **opts) == (want, [])
    else:
        with pytest.raises(gic.GicError) as e:
            gic.resolve(requested, accel, h, build, **opts)
        assert e.value.message == want


def test_legacy_host_without_kernel_irqchip_warns():
    v, warns = gic.resolve("host", "kvm", V3, LEGACY, kernel_irqchip=False)
    assert v == 2
    assert warns == [
        "gic-version=host not relevant with kernel-irqchip=off as only userspace GICv2 "
        "is supported. Using v2 ..."
    ]


def test_setter_values_come_from_the_build_description():
    assert gic.accepted_values("Set GIC version. Valid values are 2, 3, 4, host and max") == (
        "2",
        "3",
        "4",
        "host",
        "max",
    )
    assert gic.accepted_values("Set GIC version. Valid values are 2, 3, 4, x-5, host and max") == (
        "2",
        "3",
        "4",
        "x-5",
        "host",
        "max",
    )
    with pytest.raises(gic.GicError) as e:
        gic.parse("x-5", gic.accepted_values("Set GIC version. Valid values are 2, 3, 4, host and max"))
    assert e.value.message == "Invalid gic-version value\nValid values are 3, 2, host, max."


def test_qom_value():
    assert [gic.qom_value(v) for v in (2, 3, 4, "host", "max", None, "3")] == [
        "2",
        "3",
        "4",
        "2",
        "2",
        "2",
        "3",
    ]


def test_max_cpus():
    assert [gic.max_cpus_for(2), gic.max_cpus_for(3), gic.max_cpus_for(4)] == [8, 635, 317]
    assert [gic.max_cpus_for(3, False), gic.max_cpus_for(4, False)] == [123, 61]


def test_capabilities():
    assert gic.capabilities(V3, "kvm") == [
        {"version": 3, "emulated": True, "kernel": True},
        {"version": 2, "emulated": True, "kernel": False},
    ]
    assert gic.capabilities(BOTH, "tcg") == [
        {"version": 3, "emulated": True, "kernel": False},
        {"version": 2, "emulated": True, "kernel": False},
    ]


# --- through an instance -------------------------------------------------------------------


@pytest.mark.parametrize(
    "machine,accel,want",
    [
        ("virt", "kvm", "3"),
        ("virt,gic-version=max", "kvm", "3"),
        ("virt,gic-version=2", "kvm", "KVM does not support GICv2 emulation"),
        ("virt,gic-version=4", "kvm", "KVM does not support GICv4 emulation, is virtualization=on?"),
        ("virt,gic-version=4,virtualization=on", "tcg", "4"),
        ("virt,gic-version=x-5", "tcg", "x-5"),
        ("virt,gic-version=host", "tcg", "gic-version=host requires KVM"),
        ("virt,gic-version=5", "tcg", "Invalid gic-version value\nValid values are 3, 2, host, max."),
        (
            "virt,secure=on",
            "kvm",
            "mach-virt: KVM does not support providing Security extensions (TrustZone) to the guest CPU",
        ),
        (
            "virt,virtualization=on",
            "kvm",
            "mach-virt: host kernel KVM does not support providing "
            "Virtualization extensions to the guest CPU",
        ),
    ],
)
def test_instance(machine, accel, want):
    got = start("default", machine, accel, "max")
    if isinstance(got, StartupError):
        assert got.message == want
    else:
        assert Qmp(got).cmd("qom-get", path="/machine", property="gic-version") == want


def test_virtualization_under_kvm_with_the_el2_capability():
    inst = start("axion-v2-6.17", "virt,virtualization=on", "kvm", "host")
    assert not isinstance(inst, StartupError), inst


def test_smp_limit_depends_on_the_version():
    e = start("debian-7.2-tcg", "virt", "tcg", "max", smp={"cpus": 9})
    assert (
        e.message == "Number of SMP CPUs requested (9) exceeds max CPUs supported by machine 'mach-virt' (8)"
    )
    inst = start("qemu-11.1-tcg", "virt", "tcg", "max", smp={"cpus": 9})
    assert Qmp(inst).cmd("qom-get", path="/machine", property="gic-version") == "3"
    e = start("qemu-11.1-tcg", "virt,gic-version=3,highmem-redists=off", "tcg", "max", smp={"cpus": 124})
    assert e.message == (
        "Number of SMP CPUs requested (124) exceeds max CPUs supported by machine "
        "'mach-virt' (123)\nTry 'highmem-redists=on' for more CPUs"
    )


@pytest.mark.parametrize(
    "profile_name,accel,want",
    [
        ("default", "kvm", [[3, True, True], [2, True, False]]),
        ("default", "tcg", [[3, True, False], [2, True, False]]),
        ("qemu-11.1-tcg", "tcg", [[3, True, False], [2, True, False]]),
    ],
)
def test_query_gic_capabilities(profile_name, accel, want):
    q = Qmp(start(profile_name, "virt", accel, "max"))
    assert q.cmd("query-gic-capabilities") == [{"version": v, "emulated": e, "kernel": k} for v, e, k in want]
