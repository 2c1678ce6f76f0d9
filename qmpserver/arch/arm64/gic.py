"""GIC version of the ``virt`` machine and ``query-gic-capabilities``.

Pure functions of (host, build, accelerator, options) reproducing QEMU's
``hw/arm/virt.c`` rules and texts:

* the ``gic-version`` setter accepts the values the build's property
  description lists (``Valid values are 2, 3, 4, host and max``; 11.1 adds
  ``x-5``); anything else is ``Invalid gic-version value`` with the hint
  ``Valid values are 3, 2, host, max.`` (a second stderr line);
* ``finalize_gic_version`` turns host/max/unset into a number.  Two rule
  sets exist: QEMU 8.0 (commit "hw/arm/virt: Consolidate GIC finalize
  logic", Feb 2023) and later compute the set of versions the accelerator
  supports and share one state machine with the accelerator's name in the
  texts (``KVM does not support GICv2 emulation``); 7.2 and older have
  separate KVM/TCG branches with their own texts (TCG unset -> GICv2 even
  with more than 8 vCPUs).  The build's quirk ``virt-gic-finalize-legacy``
  selects the old set;
* ``query-gic-capabilities``: version 3 first, then 2, both ``emulated``;
  ``kernel`` only under KVM, from the host's in-kernel vGIC devices.

Failures raise :class:`GicError` (the message QEMU prints after
``qemu-system-aarch64: ``); the machine resolver turns it into a start-up
failure.
"""

from __future__ import annotations

import re

GIC_NCPU = 8  # GICv2 limit (hw/intc/arm_gic_common.h)
DEFAULT_ACCEPTED = ("2", "3", "4", "host", "max")
INVALID = "Invalid gic-version value"
HINT = "Valid values are 3, 2, host, max."
LEGACY_QUIRK = "virt-gic-finalize-legacy"

_VALID_RE = re.compile(r"Valid values are (.*)$")


class GicError(Exception):
    def __init__(self, message: str, warnings=()):
        super().__init__(message)
        self.message = message
        self.warnings = list(warnings)


def accepted_values(description: str | None) -> tuple:
    """The setter's values, read from the property description the build
    recorded ("Set GIC version. Valid values are 2, 3, 4, x-5, host and max")."""
    if not description:
        return DEFAULT_ACCEPTED
    m = _VALID_RE.search(description)
    if not m:
        return DEFAULT_ACCEPTED
    vals = [v.strip() for v in re.split(r",|\band\b", m.group(1)) if v.strip()]
    return tuple(vals) or DEFAULT_ACCEPTED


def parse(value: str, accepted=DEFAULT_ACCEPTED) -> str:
    """``virt_set_gic_version``: the value, or GicError with QEMU's hint line."""
    if value in accepted:
        return value
    raise GicError(INVALID + "\n" + HINT)


def qom_value(selected) -> str:
    """``virt_get_gic_version``: 4/3 as such, everything else (2, host, max,
    unset before machine init) reads as "2"; x-5 reads as itself."""
    if selected in (4, "4"):
        return "4"
    if selected in (3, "3"):
        return "3"
    if selected in (5, "x-5"):
        return "x-5"
    return "2"


def accel_name(accel: str, kernel_irqchip: bool = True) -> str:
    """``current_accel_name()`` as QEMU prints it."""
    if accel == "kvm":
        return "KVM" if kernel_irqchip else "KVM with kernel-irqchip=off"
    return {"hvf": "HVF", "whpx": "WHPX", "qtest": "qtest"}.get(accel, accel)


def host_vgic(host) -> set:
    """In-kernel vGIC versions KVM_CREATE_DEVICE accepts on the host."""
    kvm = getattr(host, "kvm", None) or {}
    gic = kvm.get("gic") or {}
    return {v for v, key in ((2, "v2"), (3, "v3")) if gic.get(key)}


def supported(
    accel: str, host, *, virtualization: bool = False, kernel_irqchip: bool = True, gicv5: bool = False
) -> set:
    """The GIC versions the accelerator can provide (QEMU 8.0+ ``gics_supported``)."""
    if accel == "kvm":
        if not kernel_irqchip:
            return {2}
        probe = host_vgic(host)
        if not probe:
            raise GicError("Unable to determine GIC version supported by host")
        return probe
    if accel == "whpx":
        return {3}
    if accel in ("tcg", "hvf", "qtest"):
        out = {2, 3}
        if virtualization:
            out.add(4)
        if gicv5 and accel == "tcg":
            out.add(5)
        return out
    raise GicError("Unsupported accelerator, can not determine GIC support")


def _finalize(requested, name: str, accel: str, gics: set, max_cpus: int) -> int:
    """``finalize_gic_version_do`` (QEMU 8.0+)."""
    if requested == "host":
        if accel != "kvm":
            raise GicError("gic-version=host requires KVM")
        requested = "max"
    if requested == "max":
        version = 4 if 4 in gics else 3 if 3 in gics else 2
    elif requested is None:
        if 2 in gics and max_cpus <= GIC_NCPU:
            version = 2
        elif 3 in gics:
            version = 3
        elif max_cpus > GIC_NCPU:
            raise GicError("%s only supports GICv2 emulation but more than 8 vcpus are requested" % name)
        else:
            version = 2
    else:
        version = 5 if requested == "x-5" else int(requested)
    if version not in gics:
        if version == 4:
            raise GicError("%s does not support GICv4 emulation, is virtualization=on?" % name)
        if version == 5:
            raise GicError("%s does not support GICv5 emulation" % name)
        raise GicError("%s does not support GICv%d emulation" % (name, version))
    return version


def _finalize_legacy(
    requested, accel: str, host, virtualization: bool, kernel_irqchip: bool, max_cpus: int
) -> tuple:
    """QEMU 7.2's ``finalize_gic_version``; returns (version, warnings)."""
    if accel == "kvm":
        if not kernel_irqchip:
            if requested == "host":
                return 2, [
                    "gic-version=host not relevant with kernel-irqchip=off as only "
                    "userspace GICv2 is supported. Using v2 ..."
                ]
            if requested in (None, "max", "2"):
                return 2, []
            raise GicError("gic-version=%s is not supported with kernel-irqchip=off" % requested)
        probe = host_vgic(host)
        if not probe:
            raise GicError("Unable to determine GIC version supported by host")
        if requested in ("host", "max"):
            return (3 if 3 in probe else 2), []
        if requested is None:
            if 2 in probe and max_cpus <= GIC_NCPU:
                version = 2
            elif 3 in probe:
                version = 3
            elif max_cpus > GIC_NCPU:
                raise GicError(
                    "host only supports in-kernel GICv2 emulation but more than 8 vcpus are requested"
                )
            else:
                version = 2
        elif requested == "4":
            raise GicError("gic-version=4 is not supported with KVM")
        else:
            version = int(requested)
        if version not in probe:
            raise GicError("host does not support in-kernel GICv%d emulation" % version)
        return version, []
    # TCG (and every other accelerator 7.2 lets through)
    if requested is None:
        return 2, []
    if requested == "max":
        return (4 if virtualization else 3), []
    if requested == "host":
        raise GicError("gic-version=host requires KVM")
    if requested == "4" and not virtualization:
        raise GicError("gic-version=4 requires virtualization enabled")
    return int(requested), []


def resolve(
    requested,
    accel: str,
    host,
    build=None,
    *,
    virtualization: bool = False,
    kernel_irqchip: bool = True,
    max_cpus: int = 1,
) -> tuple:
    """The GIC version machine init settles on: ``(version, warnings)``.

    ``requested`` is the setter's value (``"2"``, ``"3"``, ``"4"``,
    ``"x-5"``, ``"host"``, ``"max"``) or None when not set.
    """
    quirks = getattr(build, "quirks", ()) or ()
    if LEGACY_QUIRK in quirks:
        return _finalize_legacy(requested, accel, host, virtualization, kernel_irqchip, max_cpus)
    name = accel_name(accel, kernel_irqchip)
    gics = supported(
        accel, host, virtualization=virtualization, kernel_irqchip=kernel_irqchip, gicv5=(requested == "x-5")
    )
    return _finalize(requested, name, accel, gics, max_cpus), []


def max_cpus_for(version: int, highmem_redists: bool = True) -> int:
    """How many vCPUs the GIC lets ``virt`` have: 8 with GICv2; with GICv3/v4
    the redistributors that fit (2 or 4 64 KiB frames each) in the low
    region (123 / 61) plus the high region above 4 GiB (512 / 256)."""
    if version == 2:
        return GIC_NCPU
    low, high = (61, 256) if version == 4 else (123, 512)
    return low + (high if highmem_redists else 0)


def capabilities(host, accel: str) -> list:
    """``query-gic-capabilities``: ``[v3, v2]`` (QAPI member order version,
    emulated, kernel); ``kernel`` is probed only under KVM."""
    probe = host_vgic(host) if accel == "kvm" else set()
    return [{"version": v, "emulated": True, "kernel": v in probe} for v in (3, 2)]


def kernel_irqchip(instance, ms) -> bool:
    """The GIC is emulated in the kernel (KVM) unless ``-accel kvm,kernel-irqchip=off``
    (QEMU accel/kvm/kvm-all.c, kvm_set_kernel_irqchip; hw/arm/virt.c picks the in-kernel GIC).

    Known gap: ``config.accel_props`` is keyed by accelerator name, so the second lookup never
    sees ``-accel kvm,kernel-irqchip=off``; left as it was, to be fixed with a test.
    """
    v = ms.accel_opts.get("kernel-irqchip")
    if v is None:
        v = (instance.config.accel_props or {}).get("kernel-irqchip")
    return v not in ("off", False, "no", "false")
