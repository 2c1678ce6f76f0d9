"""What a source sends and what a destination loads, instance by instance.

:func:`outgoing` turns a started instance into the stream of
:mod:`.stream` (split at the switchover: what is sent while the guest runs,
and the device state sent once it stopped); :class:`Destination` is the
loader of one incoming migration, with the section handlers a destination of
that configuration registers (QEMU registers one per device; an idstr or
instance nobody registered is ``Unknown savevm section``).  Both work on
snapshots taken on the instance's own thread, so the channel threads of
:mod:`qmpserver.commands.migration` never touch an instance.

The per-target part (what a vCPU carries, what a destination's KVM accepts)
is ``arch/<target>/migrate.py``; targets without one cannot migrate yet and
say so (:class:`NotModelled`).
"""

from __future__ import annotations

from ..arch.arm64 import migrate as arm64
from ..log import get as get_logger
from ..vm.abi import FORMAT as ABI_FORMAT
from . import stream as st

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAGE_BITS = {"aarch64": 12, "x86_64": 12, "ppc64": 12}
CPU_VERSION = {"aarch64": 22, "x86_64": 12, "ppc64": 5}
# virt's interrupt controller (hw/intc/arm_gic_common.c, arm_gicv3_common.c vmsd names)
GIC_IDSTR = {2: "arm_gic", 3: "arm_gicv3", 4: "arm_gicv3"}


class NotModelled(Exception):
    """The instance's target or machine has no migration model: the text says what."""


def _ram_blocks(inst: Any) -> list[tuple[str, int]]:
    """RAM blocks of the machine (hw/arm/virt.c: ``mach-virt.ram``; MTE under TCG
    adds the tag memory ``mach-virt.tag``, 1/32 of RAM)."""
    size = int(inst.memory.size if hasattr(inst.memory, "size") else inst.config.memory or 128 << 20)
    if inst.machine.type == "none":
        return []
    blocks = [("mach-virt.ram", size)]
    board = inst.board
    if board is not None and getattr(board, "mte", None) and inst.accel == "tcg":
        blocks.append(("mach-virt.tag", size // 32))
    return blocks


def _vcpus(inst: Any) -> int:
    if inst.machine.type == "none" or inst.cpu.realized is None:
        return 0
    return int((inst.machine.smp or {}).get("cpus") or 1)


CPU_COMMON_IDSTR = "cpu_common"


def _cpu_common(r: st.Reader, sec: st.Section) -> None:
    """vmstate_cpu_common v1: halted, interrupt_request (both u32)."""
    r.bytes(8)
    r.check(CPU_COMMON_IDSTR, "interrupt_request")


class Snapshot:
    """What one instance contributes to a migration, taken on its own thread."""

    def __init__(self, inst: Any) -> None:
        if inst.build.target != "aarch64":
            raise NotModelled("qmpserver: live migration is not modelled for target %s" % inst.build.target)
        self.target = inst.build.target
        self.machine = inst.machine.type
        self.accel = inst.accel
        self.abi = inst.abi.to_dict()
        self.abi["ram-size"] = sum(s for _, s in _ram_blocks(inst))
        # the profile's host facts themselves (immutable once loaded), not a copy: the
        # destination's compiled KVM rules (kvm.field_checker) are kept per host object
        self.host = inst.host.data
        self.blocks = _ram_blocks(inst)
        self.vcpus = _vcpus(inst)
        self.gic = self.abi.get("gic", {}).get("version")
        self.kvm = self.accel == "kvm"
        # QEMU enables KVM_CAP_ARM_WRITABLE_IMP_ID_REGS only with the cpu-idreg-props
        # proposal, on a kernel offering it (before any vCPU exists)
        caps = (self.host.get("kvm") or {}).get("caps") or {}
        self.imp_id_regs = bool(
            self.kvm
            and inst.build.has_proposal("cpu-idreg-props")
            and int(caps.get("KVM_CAP_ARM_WRITABLE_IMP_ID_REGS", 0) or 0) > 0
        )
        props = inst.config.cpu_props or {}

        def on(name: str) -> bool:
            return str(props.get(name, "on")).lower() not in ("off", "false", "no", "0")

        self.tcg_image = arm64.tcg_image_key(
            inst.build.version,
            (self.abi.get("cpu") or {}).get("model"),
            mte=self.abi.get("mte") not in (None, "none"),
            sve=on("sve"),
            pauth=on("pauth"),
            smp=self.vcpus,
        )
        # which TCG register image the cpu sections carry: a measured one (QEMU's own
        # list, models/arm64/tcg-cpregs-*.yaml) or the fallback stand-in; travels in
        # the guest-ABI section so a destination compares like with like
        measured = not self.kvm and arm64.tcg_image_measured(self.tcg_image)
        self.tcg_measured = "qemu-%d.%d" % tuple(self.tcg_image["version"]) if measured else None
        self.abi["tcg-image"] = self.tcg_measured
        self.cpregs = self._cpregs()

    def _cpregs(self) -> list[tuple[int, int]]:
        if self.vcpus == 0:
            return []
        if self.kvm:
            return [(e.index, e.value) for e in arm64.kvm_reg_list(self.host, self.abi)]
        return [(e.index, e.value) for e in arm64.tcg_reg_list(self.abi, self.tcg_image)]

    def limits(self) -> list[Any]:
        """The destination's own list, values = what its KVM would accept up to."""
        if self.kvm:
            return arm64.limit_list(self.host, self.abi)
        return arm64.tcg_reg_list(self.abi, self.tcg_image)


def outgoing(snap: Snapshot, return_path: bool) -> tuple[bytes, bytes]:
    """(stream up to the switchover, device state to EOF)."""
    head = st.header(snap.machine, PAGE_BITS[snap.target])
    if return_path:
        head += st.command(st.CMD_OPEN_RETURN_PATH)
        head += st.ping(1)
    head += st.ram_setup(0, snap.blocks)
    if return_path:
        # a second PING after the RAM setup: its PONG tells the source that the
        # destination accepted the configuration and the RAM blocks (QEMU sends
        # PINGs where it needs to know how far the destination got)
        head += st.ping(2)
    head += st.ram_iteration(0)
    tail = st.ram_complete(0)
    tail += st.abi_section(1, snap.abi)
    sid = 2
    for i in range(snap.vcpus):
        # QEMU registers cpu_common (halted, interrupt_request) before cpu for each
        # vCPU: a destination with fewer vCPUs meets 'cpu_common' N first
        tail += st.device_section(sid, CPU_COMMON_IDSTR, i, 1, bytes(8))
        tail += st.cpu_section(sid + 1, i, CPU_VERSION[snap.target], snap.cpregs)
        sid += 2
    if snap.gic:
        tail += st.device_section(sid, GIC_IDSTR.get(snap.gic, "arm_gicv3"), 0, 1)
    tail += bytes([st.EOF])
    return head, tail


class Destination:
    """The loader of one incoming stream, for a destination instance's snapshot.

    ``load(reader, on_command)`` raises :class:`.stream.LoadError`; afterwards
    ``abi`` is the source's guest ABI (dict) and ``why`` lists the reasons
    behind a refusal in words (for logs and plans; QEMU prints none of them)."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.abi: dict[str, Any] | None = None
        self.why: list[str] = []
        self.put_failed = False  # a KVM_SET_ONE_REG refusal (the 10.0 put-after-load path)
        self.limits = snap.limits() if snap.vcpus else []

    def handlers(self) -> dict[tuple[str, int], st.Handler]:
        h: dict[tuple[str, int], st.Handler] = {
            ("ram", 0): st.Handler(4, self._ram, lambda r, s: st.read_ram_part(r)),
            (st.ABI_IDSTR, 0): st.Handler(st.ABI_VERSION, self._abi),
        }
        for i in range(self.snap.vcpus):
            h[(CPU_COMMON_IDSTR, i)] = st.Handler(1, _cpu_common)
            h[(st.CPU_IDSTR, i)] = st.Handler(CPU_VERSION[self.snap.target], self._cpu)
        if self.snap.gic:
            h[(GIC_IDSTR.get(self.snap.gic, "arm_gicv3"), 0)] = st.Handler(1, lambda r, s: None)
        return h

    def load(self, r: st.Reader, on_command: Any) -> None:
        st.load(r, self.snap.machine, PAGE_BITS[self.snap.target], self.handlers(), on_command)

    def _ram(self, r: st.Reader, sec: st.Section) -> None:
        mine = dict(self.snap.blocks)
        for name, size in st.read_ram_setup(r):
            if name not in mine:
                raise st.LoadError(st.EINVAL, 'Unknown ramblock "%s", cannot accept migration' % name)
            if size != mine[name]:
                # qemu_ram_resize on a block that is not resizeable (error_report_err
                # of its "Size mismatch: NAME: 0xNEW != 0xUSED" with EINVAL)
                raise st.LoadError(
                    st.EINVAL,
                    "Size mismatch: %s: 0x%x != 0x%x: Invalid argument" % (name, size, mine[name]),
                )

    def _abi(self, r: st.Reader, sec: st.Section) -> None:
        d = st.read_abi(r)
        if d.get("format") != ABI_FORMAT:
            raise st.LoadError(
                st.EINVAL,
                "qmpserver: guest ABI format %r, this build reads %d" % (d.get("format"), ABI_FORMAT),
            )
        self.abi = d

    def _cpu(self, r: st.Reader, sec: st.Section) -> None:
        count, idx, val = st.read_cpu(r)
        if count < 0:
            raise st.LoadError(
                st.EINVAL,
                "Invalid value %d expecting positive value <= %d" % (count, len(self.limits)),
                "Failed to load cpu:cpreg_vmstate_array_len",
            )
        if self.snap.kvm:
            ref = arm64.check_incoming(self.snap.host, self.limits, idx, val, count, self.snap.imp_id_regs)
        elif self.snap.tcg_measured and (self.abi or {}).get("tcg-image") == self.snap.tcg_measured:
            ref = arm64.check_incoming_tcg(self.limits, idx, val, count)
        else:
            # one side's register image was not measured (another QEMU build): compare
            # what the images stand for, and say so
            ref = arm64.check_tcg_identity(self.abi or {}, self.snap.abi)
            get_logger("qmpserver.migration").info(
                "TCG register image not measured on %s: compared CPU model and features only",
                "this build" if not self.snap.tcg_measured else "the source's build",
            )
        if ref is not None:
            self.why = list(ref.why)
            if ref.case == 3:
                self.put_failed = True
            raise st.LoadError(ref.errno, *ref.lines)
