"""Accelerator properties every target's rules share (below :mod:`qmpserver.vm`, so the
targets' start-up rules and the launcher both read them from here)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any

# kvm-accel's kernel-irqchip (accel/kvm/kvm-all.c, kvm_set_kernel_irqchip: an OnOffSplit); the
# boards that do not ask for another default (x86 pc/q35, Arm virt) get an in-kernel irqchip
KERNEL_IRQCHIP = ("on", "off", "split")
DEFAULT_KERNEL_IRQCHIP = "on"


def kernel_irqchip_error(value: Any, via_machine: bool = False) -> str | None:
    """QEMU's text for a ``kernel-irqchip`` value the KVM accelerator refuses, else None.
    ``-machine kernel-irqchip=V`` is a global default of ``kvm-accel`` (only read when KVM is
    the accelerator): its failure is reported as the global's, ``-accel kvm,kernel-irqchip=V``'s
    as the option's (checked with the real 7.2 binary; ``yes`` is refused too)."""
    if value in KERNEL_IRQCHIP:
        return None
    text = "Parameter 'kernel-irqchip' does not accept value '%s'" % value
    if via_machine:
        return "can't apply global kvm-accel.kernel-irqchip=%s: %s" % (value, text)
    return text
