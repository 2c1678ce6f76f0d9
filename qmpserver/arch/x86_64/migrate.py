"""What a pc / q35 machine sends in a live migration, and what its destination checks.

Measured with Debian's ``qemu-system-x86_64`` 7.2, ``-nodefaults``, under TCG and KVM
(``tests/data/migration/qemu-7.2-x86_64``, ``tools/capture_migration.py --target x86_64``):

* the configuration section has no target-page-bits subsection;
* RAM blocks, for both ``pc-i440fx-*`` and ``pc-q35-*``: ``pc.ram`` (the ``-m`` size;
  below/above-4G are aliases of it), ``/rom@etc/acpi/tables`` 0x20000, ``pc.bios``
  0x40000 (SeaBIOS 256K), ``pc.rom`` 0x20000, ``/rom@etc/table-loader`` 0x1000,
  ``/rom@etc/acpi/rsdp`` 0x1000;
* device sections: ``timer``, per vCPU ``cpu_common`` and ``cpu`` (``vmstate_x86_cpu``
  v12), ``kvm-tpr-opt``, ``apic``, ``kvmclock`` (KVM only), then the chipset's devices.
  qmpserver sends ``cpu_common``/``cpu`` per vCPU and ``kvmclock`` under KVM.

The stream carries no CPUID: the destination's own ``-cpu`` defines the guest ABI, so a
destination with another model or fewer features loads fine (recorded: qemu64 ->
core2duo, and ``-cpu qemu64,+avx512f`` under TCG, which warns at start-up and then takes
the guest) -- the guest then sees a different CPU than it booted with, which QEMU does
not check.  A destination that cannot provide a feature its ``-cpu`` asks refuses to
*start* with ``enforce`` (the start-up check, :mod:`.hostcpu`; recorded: ``TCG doesn't
support requested features``); libvirt never passes ``enforce`` and checks afterwards.
A destination with more vCPUs loads fine (recorded: -smp 1 -> 2); with fewer, the source's
``cpu_common`` N is an unknown section.

Checks modelled in the ``cpu`` section (``target/i386/machine.c`` cpu_post_load): a
destination started with ``tsc-frequency`` refuses another migrated TSC frequency,
``Mismatch between user-specified TSC frequency and migrated TSC frequency`` (-EINVAL);
the migrated frequency is the source's ``tsc-frequency`` or, under KVM, its host's TSC
frequency (``host.cpu.tsc_khz`` when a host file knows it; else not checked, and the log
says so).  ``kvmclock`` exists only under KVM: a KVM source into a TCG destination meets
``Unknown savevm section or instance 'kvmclock' 0`` (read from the code, not recorded).

Migration blocker (:func:`blockers`, ``target/i386/kvm/kvm.c`` kvm_arch_init_vcpu): under
KVM, a vCPU with ``invtsc`` and no ``tsc-frequency`` registers ``State blocked by
non-migratable CPU device (invtsc flag)`` (recorded: ``query-migrate`` lists it in
``blocked-reasons``, ``migrate`` answers it as a GenericError).  ``-cpu host``/``max``
drop invtsc while ``migratable=on`` (their default), so only an explicit ``+invtsc`` (or
``migratable=off``, not modelled) blocks.
"""

from __future__ import annotations

from ...log import get as get_logger
from ..migrate import EINVAL, Incoming, NotModelled, Refusal, blob, cpu_common, read_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

CPU_VERSION = 12  # vmstate_x86_cpu (minimum 11)
# the fixed-size blocks after pc.ram, as 7.2 sends them with -nodefaults (recorded)
FIXED_BLOCKS = (
    ("/rom@etc/acpi/tables", 0x20000),
    ("pc.bios", 0x40000),
    ("pc.rom", 0x20000),
    ("/rom@etc/table-loader", 0x1000),
    ("/rom@etc/acpi/rsdp", 0x1000),
)
INVTSC_BLOCKER = "State blocked by non-migratable CPU device (invtsc flag)"
TSC_MISMATCH = "Mismatch between user-specified TSC frequency and migrated TSC frequency"
log = get_logger("qmpserver.migration")


def _on(v: Any) -> bool:
    return str(v).lower() in ("on", "true", "yes", "1")


def _user_tsc_khz(inst: Any) -> int | None:
    """``tsc-frequency`` (Hz, a size) of the -cpu option, in kHz."""
    v = (inst.config.cpu_props or {}).get("tsc-frequency")
    if v in (None, ""):
        return None
    try:
        hz = int(str(v))
    except ValueError:  # a size with a suffix (2.5G): not parsed here, so not checked
        log.info("tsc-frequency=%s: not a plain number, the TSC frequency is not checked", v)
        return None
    return hz // 1000


def blockers(inst: Any) -> list[str]:
    """The migration blockers the vCPUs register at start-up (see the module text)."""
    props = inst.config.cpu_props or {}
    if inst.accel == "kvm" and _on(props.get("invtsc", "off")) and _user_tsc_khz(inst) is None:
        return [INVTSC_BLOCKER]
    return []


def is_pc(machine: str | None) -> bool:
    m = machine or ""
    return m in ("pc", "q35") or m.startswith(("pc-i440fx-", "pc-q35-"))


class Machine:
    """A pc/q35 instance in a migration."""

    page_bits = 12
    sends_page_bits = False  # TARGET_PAGE_BITS is fixed on x86: no subsection (recorded)

    def __init__(self, inst: Any) -> None:
        ms = inst.machine
        if not is_pc(ms.type):
            raise NotModelled("qmpserver: live migration is not modelled for x86_64 machine %s" % ms.type)
        self.abi: dict[str, Any] = inst.abi.to_dict()
        size = int(inst.memory.size if hasattr(inst.memory, "size") else inst.config.memory or 128 << 20)
        self.blocks = [("pc.ram", size), *FIXED_BLOCKS]
        self.abi["ram-size"] = size
        self.kvm = inst.accel == "kvm"
        self.vcpus = int((ms.smp or {}).get("cpus") or 1)
        self.model = ms.cpu_model or inst.config.cpu
        self.user_tsc_khz = _user_tsc_khz(inst)
        host_khz = ((inst.host.data or {}).get("cpu") or {}).get("tsc_khz") if self.kvm else None
        # env->tsc_khz: the user's, else KVM's (the host's) under KVM; 0 under TCG
        self.tsc_khz = self.user_tsc_khz or (int(host_khz) if host_khz else None)
        self.tsc_known = self.user_tsc_khz is not None or not self.kvm or host_khz is not None

    def sections(self) -> list[tuple[str, int, int, bytes]]:
        cpu = blob({"model": self.model, "tsc-khz": self.tsc_khz, "tsc-known": self.tsc_known})
        out: list[tuple[str, int, int, bytes]] = []
        for i in range(self.vcpus):
            out.append(("cpu_common", i, 1, bytes(8)))
            out.append(("cpu", i, CPU_VERSION, cpu))
        if self.kvm:
            out.append(("kvmclock", 0, 1, bytes(9)))
        return out

    def loaders(self) -> dict[tuple[str, int], tuple[int, Callable[[Any, Incoming], Refusal | None]]]:
        out: dict[tuple[str, int], tuple[int, Callable[[Any, Incoming], Refusal | None]]] = {}
        for i in range(self.vcpus):
            out[("cpu_common", i)] = (1, cpu_common)
            out[("cpu", i)] = (CPU_VERSION, self._cpu)
        if self.kvm:
            out[("kvmclock", 0)] = (1, _kvmclock)
        return out

    def _cpu(self, r: Any, inc: Incoming) -> Refusal | None:
        d = read_json(r, "cpu", "env.tsc_khz")
        src = d.get("tsc-khz")
        if self.user_tsc_khz is not None:
            if src and src != self.user_tsc_khz:
                return Refusal(
                    1,
                    EINVAL,
                    [TSC_MISMATCH],
                    [
                        "the guest's TSC runs at %d kHz, this vCPU's tsc-frequency is %d kHz"
                        % (src, self.user_tsc_khz)
                    ],
                )
            if not d.get("tsc-known", True):
                log.info("the source's TSC frequency (its host's) is not known: tsc-frequency not checked")
        return None


def _kvmclock(r: Any, inc: Incoming) -> Refusal | None:
    r.bytes(9)  # clock (u64), clock_is_reliable (bool)
    r.check("kvmclock", "clock")
    return None
