"""What a pseries machine sends in a live migration, and what its destination checks.

Measured with Debian's ``qemu-system-ppc64`` 7.2 under TCG
(``tests/data/migration/qemu-7.2-ppc64-tcg``, ``tools/capture_migration.py --target ppc64``):
the RAM block is ``ppc_spapr.ram``; the configuration section has no
target-page-bits subsection; the device sections come in the order
``timer, ics, xive-source, spapr-xive, cpu_common, cpu (v5), icp/server, xive-tctx,
spapr_cpu, spapr/rtc, nvram, spapr_iommu, spapr_pci, PCIBUS, spapr (v3), globalstate``.
qmpserver sends the ones a destination's checks read, in that order:

* ``spapr-xive`` (``ic-mode`` dual or xive): its state is sized by the vCPU count, so a
  destination with another ``-smp`` reads past the source's state and fails with only
  ``Missing section footer for spapr-xive`` (recorded for 1 -> 2; the other direction is
  an inference);
* per vCPU ``cpu_common`` and ``cpu`` v5 (``vmstate_ppc_cpu``): the PVR -- a destination
  of another CPU family refuses in ``cpu_post_load`` (-EINVAL, recorded for power9 ->
  power10; same-family revisions such as power9_v1.0/v2.0 match ``pvr_match``, an
  inference) -- and LPCR[GTSE], where the guest's GTSE choice lives;
* ``spapr`` v3 (``hw/ppc/spapr.c`` vmstate_spapr) with one subsection per capability,
  ``spapr/cap/<name>`` (``hw/ppc/spapr_caps.c`` SPAPR_CAP_MIG_STATE), sent only when the
  cap was set on the command line *and* differs from the machine's default (with the
  CPU); ``hpt_maxpagesize`` always on pseries-4.1 and later; and the CAS option vector
  (``spapr_option_vector_ov5_cas``: radix, GTSE).

The destination (``spapr_caps_pre_load`` + ``spapr_post_load``): a missing subsection
means its own machine default; then every cap in QEMU's table order is compared with its
own effective value: higher in the stream is ``cap-X higher level (a) in incoming
stream than on destination (b)`` (error, the load fails with -EINVAL after all caps
were compared), lower is ``warning: cap-X lower level ...`` (the load goes on); levels
are QEMU's (bool 0/1; broken 0, workaround 1, fixed 2, fixed-ibs 2, fixed-ccd 3,
fixed-na 0x10; the page size as its shift).  All recorded.

Then, under KVM, when the guest runs radix: ``kvmppc_configure_v3_mmu(radix, gtse)``
must succeed, else ``Process table config unsupported by the host`` (-EINVAL).  A host
whose guests run with LPCR[GTSE]=0 (``kvm.lpcr_gtse: false``: a nested L1 that disabled
GTSE, where KVM does not let the L1 change that) cannot give an incoming guest that was
told GTSE=1 its GTSE back; a host without ``KVM_CAP_PPC_MMU_RADIX`` cannot run a radix
guest at all.  That refusal is read from QEMU's code and the host facts, not recorded
(no POWER KVM host here).  Not modelled: HPT guests' ``spapr/htab`` contents.
"""

from __future__ import annotations

import math

from ..migrate import (
    EINVAL,
    ENOENT,
    FOOTER,
    Incoming,
    NotModelled,
    Refusal,
    be32,
    blob,
    cpu_common,
    read_json,
)
from . import spapr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

CPU_VERSION = 5  # vmstate_ppc_cpu
SPAPR_VERSION = 3  # vmstate_spapr
RAM_BLOCK = "ppc_spapr.ram"
# QEMU's names of the caps in the stream (SPAPR_CAP_MIG_STATE(name, ...)): the cap's
# own name with '_' except these two
MIG_NAME = {"cap-hpt-max-page-size": "hpt_maxpagesize", "cap-nested-hv": "nested_kvm_hv"}
FIXED_NA = 0x10  # SPAPR_CAP_FIXED_NA
PROCESS_TABLE = "Process table config unsupported by the host"
# the spapr-xive state qmpserver sends: bytes per vCPU (a stand-in for the END/NVT
# tables; only "same vCPU count or not" matters)
XIVE_BYTES_PER_VCPU = 16


def mig_name(cap: str) -> str:
    return MIG_NAME.get(cap, cap[len("cap-") :].replace("-", "_"))


def level(cap: str, value: Any) -> int:
    """A cap's value as the u8 level QEMU migrates and compares."""
    if cap == spapr.PAGESIZE_CAP:
        return int(math.log2(int(value)))
    if isinstance(value, bool):
        return int(value)
    modes = spapr.LEVELS.get(cap)
    if modes is not None:
        mode = str(value).lower()
        return FIXED_NA if mode == "fixed-na" else modes.index(mode)
    return int(value)


def family(model: str | None) -> str:
    """``power9_v2.0`` -> ``power9`` (what ``pvr_match`` compares, approximately)."""
    return (model or "").split("_v")[0]


def _pre_4_1(machine: str) -> bool:
    ver = machine.rpartition("-")[2]
    try:
        return tuple(int(x) for x in ver.split(".")) < (4, 1)
    except ValueError:
        return False


class Machine:
    """A pseries instance in a migration: :func:`sections` to send, :func:`loaders`
    to receive."""

    page_bits = 12
    sends_page_bits = False  # TARGET_PAGE_BITS is fixed on ppc64: no subsection (recorded)

    def __init__(self, inst: Any) -> None:
        ms = inst.machine
        if not spapr.is_pseries(ms.type):
            raise NotModelled("qmpserver: live migration is not modelled for ppc64 machine %s" % ms.type)
        board = inst.board
        r = spapr.rules(inst.build)
        if r is None or not isinstance(board, spapr.SpaprState):
            raise NotModelled(
                "qmpserver: live migration of pseries is not modelled without measured spapr caps "
                "(QEMU %s)" % ".".join(map(str, inst.build.version))
            )
        self.abi: dict[str, Any] = inst.abi.to_dict()
        size = int(inst.memory.size if hasattr(inst.memory, "size") else inst.config.memory or 512 << 20)
        self.blocks = [(RAM_BLOCK, size)]
        self.abi["ram-size"] = size
        self.machine = ms.type
        self.kvm = inst.accel == "kvm"
        self.host_kvm = spapr._host_kvm(inst) if self.kvm else None
        self.vcpus = int((ms.smp or {}).get("cpus") or 1)
        self.model = board.cpu_model
        props = ms.props or {}
        self.order: list[str] = list(r["order"])
        # spapr->def (the machine's defaults with this CPU), spapr->eff, cmd_line_caps
        self.default = spapr.effective(r, ms.type, board.cpu_model, {})
        self.effective = {c: board.values[c] for c in self.order if c in board.values}
        self.cmdline = {c for c in props if c in self.effective}
        self.ov5 = dict(self.abi.get("cas-ov5") or {"radix": False, "gtse": False})
        self.xive = str(board.values.get("ic-mode", "dual")) in ("dual", "xive")

    # --- source ---------------------------------------------------------------------------

    def sent_caps(self) -> dict[str, int]:
        """The ``spapr/cap/*`` subsections this source sends, name -> level."""
        out = {}
        for cap in self.order:
            differs = cap in self.cmdline and self.effective[cap] != self.default.get(cap)
            if differs or (cap == spapr.PAGESIZE_CAP and not _pre_4_1(self.machine)):
                out[mig_name(cap)] = level(cap, self.effective[cap])
        return out

    def sections(self) -> list[tuple[str, int, int, bytes]]:
        out: list[tuple[str, int, int, bytes]] = []
        if self.xive:
            out.append(("spapr-xive", 0, 1, be32(self.vcpus) + bytes(XIVE_BYTES_PER_VCPU * self.vcpus)))
        cpu = blob({"pvr": family(self.model), "model": self.model, "lpcr-gtse": bool(self.ov5.get("gtse"))})
        for i in range(self.vcpus):
            out.append(("cpu_common", i, 1, bytes(8)))
            out.append(("cpu", i, CPU_VERSION, cpu))
        out.append(("spapr", 0, SPAPR_VERSION, blob({"caps": self.sent_caps(), "ov5": self.ov5})))
        return out

    # --- destination ----------------------------------------------------------------------

    def loaders(self) -> dict[tuple[str, int], tuple[int, Callable[[Any, Incoming], Refusal | None]]]:
        out: dict[tuple[str, int], tuple[int, Callable[[Any, Incoming], Refusal | None]]] = {}
        if self.xive:
            out[("spapr-xive", 0)] = (1, self._xive)
        for i in range(self.vcpus):
            out[("cpu_common", i)] = (1, cpu_common)
            out[("cpu", i)] = (CPU_VERSION, self._cpu)
        out[("spapr", 0)] = (SPAPR_VERSION, self._spapr)
        return out

    def _xive(self, r: Any, inc: Incoming) -> Refusal | None:
        n = int.from_bytes(r.bytes(4), "big")
        r.bytes(XIVE_BYTES_PER_VCPU * n)
        r.check("spapr-xive", "state")
        if n != self.vcpus:
            # QEMU reads its own table sizes and then misses the section footer
            return Refusal(
                FOOTER,
                EINVAL,
                ["Missing section footer for spapr-xive"],
                ["the source's XIVE state is for %d vCPUs, this machine has %d" % (n, self.vcpus)],
            )
        return None

    def _cpu(self, r: Any, inc: Incoming) -> Refusal | None:
        d = read_json(r, "cpu", "env.spr")
        if d.get("pvr") != family(self.model):
            return Refusal(
                1,
                EINVAL,
                [],
                ["the source's CPU %s does not match this vCPU's %s (PVR)" % (d.get("model"), self.model)],
            )
        return None

    def _spapr(self, r: Any, inc: Incoming) -> Refusal | None:
        d = read_json(r, "spapr", "caps")
        incoming = d.get("caps") or {}
        known = {mig_name(c): c for c in self.order}
        unknown = [n for n in incoming if n not in known]
        if unknown:
            # vmstate_subsection_load: a subsection this binary does not know (-ENOENT, trace only)
            return Refusal(2, ENOENT, [], ["subsection spapr/cap/%s unknown to this QEMU" % unknown[0]])
        lines: list[str] = []
        why: list[str] = []
        failed = False
        for cap in self.order:
            mine = level(cap, self.effective[cap])
            src = incoming.get(mig_name(cap))
            if src is None:
                src = level(cap, self.default[cap])  # spapr_caps_pre_load: mig = def
            if src > mine:
                failed = True
                lines.append(
                    "%s higher level (%d) in incoming stream than on destination (%d)" % (cap, src, mine)
                )
                why.append("%s: the guest was given level %d, this machine runs %d" % (cap, src, mine))
            elif src < mine:
                lines.append(
                    "warning: %s lower level (%d) in incoming stream than on destination (%d)"
                    % (cap, src, mine)
                )
        if failed:
            return Refusal(3, EINVAL, lines, why)
        inc.warnings.extend(lines)
        ov5 = d.get("ov5") or {}
        if self.kvm and ov5.get("radix"):
            kvm = self.host_kvm or {}
            caps = kvm.get("caps") or {}
            if not int(caps.get("KVM_CAP_PPC_MMU_RADIX", 0) or 0):
                return Refusal(
                    4, EINVAL, [PROCESS_TABLE], ["the guest runs radix; this host's KVM has no radix"]
                )
            if ov5.get("gtse") and not kvm.get("lpcr_gtse", True):
                return Refusal(
                    4,
                    EINVAL,
                    [PROCESS_TABLE],
                    [
                        "the guest was told GTSE=1 (LPCR[GTSE]); this host's guests run with LPCR[GTSE]=0 "
                        "and KVM cannot give it back (KVM_PPC_CONFIGURE_V3_MMU with KVM_PPC_MMUV3_GTSE)"
                    ],
                )
        return None
