"""The aarch64 fields of the guest ABI (:class:`qmpserver.vm.abi.GuestABI`).

From what the start-up pipeline settled on, never from the command line again:

* CPU: the realized vCPU (:mod:`.startup`).  Under KVM the ``host`` model (and
  ``max``, which is ``host`` there) shows the host's ID registers, field by
  field, as the host profile gives them (``Host.derived["arm_cpu"]``), with
  the ``SYSREG_<REG>_<FIELD>`` properties that lowered a field applied
  (QEMU's ``kvm_arm_set_writable_idregs`` writes them before the first
  KVM_RUN).  A TCG model's registers are QEMU's model code, of which the
  models directory knows only MIDR: the other fields are absent (None).
* SVE vector lengths and PMU: the vCPU's ``sve<N>`` and ``pmu`` properties.
* MTE and GIC: what board init settled on (``instance.board``, hw/arm/virt.c);
  the GIC is in-kernel under KVM unless ``kernel-irqchip=off``.
* Firmware pseudo-registers (KVM_REG_ARM_FW*, Linux
  Documentation/virt/kvm/arm/fw-pseudo-registers.rst) and the PSCI version:
  the host kernel's, under KVM only (:func:`.kvm.firmware_regs`, read on
  first use because it reads a data file).
"""

from __future__ import annotations

from .cpu import SVE_NAMES, SVE_VQ
from .gic import kernel_irqchip

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any


def _idregs(instance: Any, obj: Any) -> dict[str, int] | None:
    """``REG.FIELD -> value`` the guest reads, or None when the models do not know."""
    if instance.machine.accel != "kvm" or (obj.cls.name not in ("host", "max") and obj.cls.named is None):
        return None
    hd = (getattr(instance.host, "derived", None) or {}).get("arm_cpu") or {}
    values = hd.get("field_values")
    if not values:
        return None
    lowered = obj.sysreg
    out = {
        "%s.%s" % (reg, name): lowered.get(prop, values[prop])
        for prop, reg, name, _lsb, _width, _pol, _sig in hd.get("fields") or ()
    }
    # a vCPU feature switched off hides its fields (KVM's sanitised ID registers
    # read 0 there when the VMM did not ask for the feature): sve/pauth/pmu=off
    off = [f for f in ("sve", "pauth", "pmu") if obj.get(f) is False]
    if off:
        from .migrate import feature_off  # lazy: off the launcher's path unless a feature is off

        for key in out:
            reg, _, name = key.partition(".")
            sw = feature_off(reg, name)
            if sw and sw.partition("=")[0] in off:
                out[key] = 0
    return out


def _midr(instance: Any, obj: Any) -> int | None:
    if instance.machine.accel == "kvm" and (obj.cls.name in ("host", "max") or obj.cls.named is not None):
        hd = (getattr(instance.host, "derived", None) or {}).get("arm_cpu") or {}
        midr = (hd.get("kvm") or {}).get("midr")
        if not midr:
            return None
        midr = int(midr)
        # a named model may write MIDR's fields (Linux 6.15+, KVM_CAP_ARM_WRITABLE_IMP_ID_REGS)
        for prop, v in obj.sysreg.items():
            if prop.startswith("SYSREG_MIDR_EL1_"):
                from .sysreg import set_field

                midr = set_field("MIDR_EL1", midr, prop[len("SYSREG_MIDR_EL1_") :], int(v))
        return midr
    return int(obj.cls.midr) if obj.cls.midr is not None else None


def qom_value(instance: Any, prop: str) -> int | None:
    """A vCPU property the guest ABI decides, or None: after an incoming
    migration the vCPU carries the source's registers (the cpreg list written
    into the destination's vCPU), so ``SYSREG_*`` and ``midr`` read the
    adopted ABI, not what this host's own configuration would give."""
    abi = getattr(instance, "abi", None)
    if abi is None:
        return None
    if prop == "midr":
        return abi.midr
    if not prop.startswith("SYSREG_") or not abi.idregs:
        return None
    hd = (getattr(instance.host, "derived", None) or {}).get("arm_cpu") or {}
    for name, reg, field, _lsb, _width, _pol, _sig in hd.get("fields") or ():
        if name == prop:
            v = abi.idregs.get("%s.%s" % (reg, field))
            return None if v is None else int(v)
    return None


def _firmware(instance: Any) -> dict[str, int] | None:
    if instance.machine.accel != "kvm" or not instance.host.kvm_present:
        return None
    from . import kvm  # lazy: reads models/arm64/kvm-firmware-regs.yaml (see GuestABI.firmware)

    return {r["name"]: int(r["default"]) for r in kvm.firmware_regs(None, instance.host.data)}


def describe(instance: Any) -> dict[str, Any]:
    """The aarch64 fields of a started instance's guest ABI (keyword arguments of
    :class:`qmpserver.vm.abi.GuestABI`, which vm/ builds: arch/ does not know vm/'s types)."""
    ms = instance.machine
    board = instance.board
    obj = instance.cpu.realized
    kw: dict[str, Any] = {}
    if obj is not None:
        c = obj.cls
        kw["cpu_model"] = c.name
        kw["midr"] = _midr(instance, obj)
        kw["idregs"] = _idregs(instance, obj)
        kw["sve_vector_lengths"] = (
            [128 * SVE_VQ[n] for n in SVE_NAMES if obj.get(n)] if c.sve_props or c.kvm_sve else None
        )
        kw["pmu"] = bool(obj.get("pmu")) if c.pmu else False
        pauth = obj.get("pauth")
        kw["pauth"] = pauth if isinstance(pauth, bool) else None
    elif ms.cpu_model is not None:
        kw["cpu_model"] = ms.cpu_model
    if board is not None:
        kw["mte"] = str(board.mte) if board.mte else "none"
        kw["gic"] = board.gic
        kw["gic_in_kernel"] = ms.accel == "kvm" and kernel_irqchip(instance, ms)
    kw["firmware_source"] = lambda: _firmware(instance)
    return kw
