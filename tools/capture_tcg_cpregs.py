#!/usr/bin/env python3
"""Measure the TCG cpreg list QEMU 7.2 sends for each aarch64 CPU model in a migration stream.

Under TCG the ``cpu`` section of a migration stream (target/arm/machine.c ``vmstate_arm_cpu``)
carries ``cpreg_vmstate_array_len``, ``cpreg_vmstate_indexes[]`` and ``cpreg_vmstate_values[]``:
the vCPU's migratable coprocessor/system registers (every cpreg that is neither an alias nor
``ARM_CP_NO_RAW``), sorted by their KVM-style 64-bit index.  The destination walks the incoming
list against its own (``cpu_post_load``): an index it lacks is -EPERM, an incoming count above
its own is -EINVAL (``Invalid value N expecting positive value <= M``), and a value its register
will not take (a constant reads back different) is -EPERM (``write_list_to_cpustate``).

For every CPU model ``-machine virt-7.2 -accel tcg -cpu help`` lists, this script starts Debian's
``/usr/bin/qemu-system-aarch64`` paused::

    qemu-system-aarch64 -S -nodefaults -display none -machine virt-7.2[,mte=on] -accel tcg \\
        -cpu MODEL[,opts] -m 128M -smp N -chardev socket,...,server=on,wait=off -mon ...,mode=control

sends ``qmp_capabilities`` and ``migrate`` ``exec:cat > FILE`` and waits for ``completed``; the
stream is decoded with tools/capture_migration.py's decoder (imported, not copied), the cpu
sections located from its section list, and the cpreg fields found from the field layout the
stream's own VMDESCRIPTION gives for the ``cpu`` device (field sizes and array lengths, in
order; the cpreg fields lie in the main body, before any subsection).

Runs: each model at ``-smp 1`` twice (to find run-dependent values), at ``-smp 2`` (both cpu
instances), with ``-machine virt-7.2,mte=on`` where the model accepts it, and ``max`` with
``sve=off`` / ``pauth=off``.  Then ``--probe`` checks which differing registers a destination
actually refuses: it patches one value of a model's smp-1 stream to a value seen elsewhere and
loads it into a destination of the same model (``-incoming defer`` + ``migrate-incoming``
``exec:cat FILE``), recording whether the load completed or failed and with what error.

Usage::

    python3 tools/capture_tcg_cpregs.py --raw /tmp/tcgregs.json           # capture (+ --probe)
    python3 tools/capture_tcg_cpregs.py --raw /tmp/tcgregs.json --yaml models/arm64/tcg-cpregs-7.2.yaml
    python3 tools/capture_tcg_cpregs.py --decode tests/data/migration/qemu-7.2-tcg/stream-virt-7.2.bin.gz

``--yaml`` rebuilds the data file from the raw JSON (no QEMU needed).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import importlib.util
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _load_capture_migration():
    name = "capture_migration"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "capture_migration.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


cm = _load_capture_migration()

QEMU = cm.QEMU
MACHINE = "virt-7.2"

# --------------------------------------------------------------------------------------------
# decoding the cpu sections


def vmdescription(data: bytes, info: dict | None = None) -> dict:
    """The full VMDESCRIPTION JSON of a stream (capture_migration.decode_stream keeps only names)."""
    info = info or cm.decode_stream(data)
    vm = [s for s in info["sections"] if s["type"] == "VMDESCRIPTION"]
    if not vm:
        raise ValueError("stream has no VMDESCRIPTION")
    r = cm.Reader(data, vm[0]["offset"] + 1)
    return json.loads(r.take(r.be32()))


def _body_start(sec: dict) -> int:
    # section type, be32 id, idstr (u8 length + bytes), be32 instance, be32 version
    return sec["offset"] + 1 + 4 + 1 + len(sec["idstr"]) + 4 + 4


def field_layout(dev: dict) -> dict[str, tuple[int, int, int]]:
    """{field name: (offset in the section body, element size, element count)} of the main fields."""
    out: dict[str, tuple[int, int, int]] = {}
    off = 0
    for f in dev["fields"]:
        n = f.get("array_len", 1)
        out.setdefault(f["name"], (off, f["size"], n))
        off += f["size"] * n
    out["<end of main fields>"] = (off, 0, 0)
    return out


def cpu_cpregs(data: bytes) -> dict[int, dict]:
    """{cpu instance: {"count", "indexes", "values", "version"}} read from a (decompressed) stream."""
    info = cm.decode_stream(data)
    desc = vmdescription(data, info)
    devs = {(d["name"], d["instance_id"]): d for d in desc["devices"]}
    out: dict[int, dict] = {}
    for sec in info["sections"]:
        if sec["type"] != "FULL" or sec["idstr"] != "cpu":
            continue
        dev = devs[("cpu", sec["instance"])]
        lay = field_layout(dev)
        base = _body_start(sec)
        off_len, size_len, _ = lay["cpreg_vmstate_array_len"]
        off_idx, size_idx, n_idx = lay["cpreg_vmstate_indexes"]
        off_val, size_val, n_val = lay["cpreg_vmstate_values"]
        if (size_len, size_idx, size_val) != (4, 8, 8):
            raise ValueError(f"unexpected cpreg field sizes {(size_len, size_idx, size_val)}")
        (count,) = struct.unpack_from(">i", data, base + off_len)
        if not count == n_idx == n_val:
            raise ValueError(f"cpreg count {count} but VMDESCRIPTION arrays {n_idx}/{n_val}")
        indexes = list(struct.unpack_from(f">{count}Q", data, base + off_idx))
        values = list(struct.unpack_from(f">{count}Q", data, base + off_val))
        end = base + lay["<end of main fields>"][0]
        body_end = base + sec["body_bytes"]
        # what follows the main fields is a subsection (0x05) or the section footer
        if end > body_end or (end < body_end and data[end] != 0x05):
            raise ValueError(f"cpu {sec['instance']}: field layout does not fit the section body")
        if indexes != sorted(indexes) or len(set(indexes)) != count:
            raise ValueError("cpreg indexes not strictly sorted")
        out[sec["instance"]] = {
            "version": sec["version"],
            "count": count,
            "indexes": indexes,
            "values": values,
            "offsets": {"array_len": off_len, "indexes": off_idx, "values": off_val, "body": base},
        }
    return out


def patch_value(data: bytes, instance: int, index: int, value: int) -> bytes:
    """A copy of the stream with one cpreg value of one cpu instance replaced."""
    regs = cpu_cpregs(data)[instance]
    i = regs["indexes"].index(index)
    pos = regs["offsets"]["body"] + regs["offsets"]["values"] + 8 * i
    return data[:pos] + struct.pack(">Q", value) + data[pos + 8 :]


# --------------------------------------------------------------------------------------------
# index names

KVM_REG_ARM64 = 0x6000000000000000
KVM_REG_ARM = 0x4000000000000000
SIZE_U32, SIZE_U64 = 0x0020000000000000, 0x0030000000000000
ARM64_SYSREG = 0x0013 << 16


def decode_index(idx: int) -> dict:
    """What a KVM-style cpreg index says (QEMU target/arm/kvm-consts.h, cpreg_to_kvm_id)."""
    arch = idx & 0xFF00000000000000
    size = idx & 0x00F0000000000000
    if arch == KVM_REG_ARM64 and (idx & 0xFFFF0000) == ARM64_SYSREG and size == SIZE_U64:
        enc = [(idx >> 14) & 3, (idx >> 11) & 7, (idx >> 7) & 15, (idx >> 3) & 15, idx & 7]
        return {"kind": "sysreg", "encoding": enc}
    if arch == KVM_REG_ARM:
        # QEMU's cpregid with the AArch32 layout: ns<<29 | cp<<16 | crn<<11 | crm<<7 | opc1<<3 | opc2
        # (64-bit registers: crm<<7 | opc1<<3); ns=0 is the Secure bank of a banked register.
        cp, ns = (idx >> 16) & 0xFF, (idx >> 29) & 1
        if size == SIZE_U32:
            return {
                "kind": "cp32",
                "cp": cp,
                "ns": ns,
                "crn": (idx >> 11) & 15,
                "opc1": (idx >> 3) & 7,
                "crm": (idx >> 7) & 15,
                "opc2": idx & 7,
            }
        if size == SIZE_U64:
            return {"kind": "cp64", "cp": cp, "ns": ns, "crm": (idx >> 7) & 15, "opc1": (idx >> 3) & 15}
    return {"kind": "other"}


# Names the sysreg table and kvm-reg-list.yaml do not have: TCG implements registers KVM does
# not list (EL2/EL3 state, IMPLEMENTATION DEFINED registers of the Cortex cores, AArch32-only
# cp15 registers).  Encodings from the Arm ARM (DDI 0487) and the Cortex-A57/A72/A53 TRMs as
# QEMU 7.2 defines them (target/arm/helper.c, target/arm/cpu64.c cortex_a72_a57_a53_cp_reginfo).
EXTRA_SYSREG_NAMES = {
    # Cortex-A57/A72/A53 IMPLEMENTATION DEFINED (cpu64.c)
    (3, 1, 11, 0, 2): "L2CTLR_EL1",
    (3, 1, 11, 0, 3): "L2ECTLR_EL1",
    (3, 1, 15, 0, 0): "L2ACTLR_EL1",
    (3, 1, 15, 2, 0): "CPUACTLR_EL1",
    (3, 1, 15, 2, 1): "CPUECTLR_EL1",
    (3, 1, 15, 2, 2): "CPUMERRSR_EL1",
    (3, 1, 15, 2, 3): "L2MERRSR_EL1",
    (3, 1, 15, 3, 0): "CBAR_EL1",
    # cache identification
    (3, 1, 0, 0, 0): "CCSIDR_EL1",
    (3, 1, 0, 0, 1): "CLIDR_EL1",
    (3, 1, 0, 0, 7): "AIDR_EL1",
    (3, 2, 0, 0, 0): "CSSELR_EL1",
    (3, 3, 0, 0, 1): "CTR_EL0",
    (3, 3, 0, 0, 7): "DCZID_EL0",
    (3, 0, 0, 0, 0): "MIDR_EL1",
    (3, 0, 0, 0, 5): "MPIDR_EL1",
    (3, 0, 0, 0, 6): "REVIDR_EL1",
    # EL1/EL0 state
    (3, 0, 1, 0, 0): "SCTLR_EL1",
    (3, 0, 1, 0, 1): "ACTLR_EL1",
    (3, 0, 1, 0, 2): "CPACR_EL1",
    (3, 0, 1, 0, 5): "RGSR_EL1",
    (3, 0, 1, 0, 6): "GCR_EL1",
    (3, 0, 1, 2, 0): "ZCR_EL1",
    (3, 0, 1, 2, 4): "SMPRI_EL1",
    (3, 0, 1, 2, 6): "SMCR_EL1",
    (3, 0, 2, 0, 0): "TTBR0_EL1",
    (3, 0, 2, 0, 1): "TTBR1_EL1",
    (3, 0, 2, 0, 2): "TCR_EL1",
    (3, 0, 2, 1, 0): "APIAKEYLO_EL1",
    (3, 0, 2, 1, 1): "APIAKEYHI_EL1",
    (3, 0, 2, 1, 2): "APIBKEYLO_EL1",
    (3, 0, 2, 1, 3): "APIBKEYHI_EL1",
    (3, 0, 2, 2, 0): "APDAKEYLO_EL1",
    (3, 0, 2, 2, 1): "APDAKEYHI_EL1",
    (3, 0, 2, 2, 2): "APDBKEYLO_EL1",
    (3, 0, 2, 2, 3): "APDBKEYHI_EL1",
    (3, 0, 2, 3, 0): "APGAKEYLO_EL1",
    (3, 0, 2, 3, 1): "APGAKEYHI_EL1",
    (3, 0, 4, 6, 0): "ICC_PMR_EL1",
    (3, 0, 5, 1, 0): "AFSR0_EL1",
    (3, 0, 5, 1, 1): "AFSR1_EL1",
    (3, 0, 5, 2, 0): "ESR_EL1",
    (3, 0, 5, 6, 0): "TFSR_EL1",
    (3, 0, 5, 6, 1): "TFSRE0_EL1",
    (3, 0, 6, 0, 0): "FAR_EL1",
    (3, 0, 7, 4, 0): "PAR_EL1",
    (3, 0, 9, 14, 1): "PMINTENSET_EL1",
    (3, 0, 9, 14, 2): "PMINTENCLR_EL1",
    (3, 0, 10, 2, 0): "MAIR_EL1",
    (3, 0, 10, 3, 0): "AMAIR_EL1",
    (3, 0, 10, 4, 0): "LORSA_EL1",
    (3, 0, 10, 4, 1): "LOREA_EL1",
    (3, 0, 10, 4, 2): "LORN_EL1",
    (3, 0, 10, 4, 3): "LORC_EL1",
    (3, 0, 10, 4, 7): "LORID_EL1",
    (3, 0, 12, 0, 0): "VBAR_EL1",
    (3, 0, 12, 0, 1): "RVBAR_EL1",
    (3, 0, 12, 1, 0): "ISR_EL1",
    (3, 0, 13, 0, 1): "CONTEXTIDR_EL1",
    (3, 0, 13, 0, 4): "TPIDR_EL1",
    (3, 0, 13, 0, 7): "SCXTNUM_EL1",
    (3, 0, 14, 1, 0): "CNTKCTL_EL1",
    (3, 3, 4, 2, 0): "NZCV",
    (3, 3, 4, 2, 1): "DAIF",
    (3, 3, 4, 2, 5): "DIT",
    (3, 3, 4, 2, 6): "SSBS",
    (3, 3, 4, 2, 7): "TCO",
    (3, 3, 4, 2, 2): "SVCR",
    (3, 3, 4, 4, 0): "FPCR",
    (3, 3, 4, 4, 1): "FPSR",
    (3, 3, 9, 12, 0): "PMCR_EL0",
    (3, 3, 9, 12, 1): "PMCNTENSET_EL0",
    (3, 3, 9, 12, 2): "PMCNTENCLR_EL0",
    (3, 3, 9, 12, 3): "PMOVSCLR_EL0",
    (3, 3, 9, 12, 4): "PMSWINC_EL0",
    (3, 3, 9, 12, 5): "PMSELR_EL0",
    (3, 3, 9, 12, 6): "PMCEID0_EL0",
    (3, 3, 9, 12, 7): "PMCEID1_EL0",
    (3, 3, 9, 13, 0): "PMCCNTR_EL0",
    (3, 3, 9, 13, 1): "PMXEVTYPER_EL0",
    (3, 3, 9, 13, 2): "PMXEVCNTR_EL0",
    (3, 3, 9, 14, 0): "PMUSERENR_EL0",
    (3, 3, 9, 14, 3): "PMOVSSET_EL0",
    (3, 3, 13, 0, 2): "TPIDR_EL0",
    (3, 3, 13, 0, 3): "TPIDRRO_EL0",
    (3, 3, 13, 0, 5): "TPIDR2_EL0",
    (3, 3, 13, 0, 7): "SCXTNUM_EL0",
    (3, 3, 14, 0, 0): "CNTFRQ_EL0",
    (3, 3, 14, 0, 1): "CNTPCT_EL0",
    (3, 3, 14, 0, 2): "CNTVCT_EL0",
    (3, 3, 14, 2, 0): "CNTP_TVAL_EL0",
    (3, 3, 14, 2, 1): "CNTP_CTL_EL0",
    (3, 3, 14, 2, 2): "CNTP_CVAL_EL0",
    (3, 3, 14, 3, 0): "CNTV_TVAL_EL0",
    (3, 3, 14, 3, 1): "CNTV_CTL_EL0",
    (3, 3, 14, 3, 2): "CNTV_CVAL_EL0",
    (3, 3, 14, 15, 7): "PMCCFILTR_EL0",
    # EL2
    (3, 4, 0, 0, 0): "VPIDR_EL2",
    (3, 4, 0, 0, 5): "VMPIDR_EL2",
    (3, 4, 1, 0, 0): "SCTLR_EL2",
    (3, 4, 1, 0, 1): "ACTLR_EL2",
    (3, 4, 1, 1, 0): "HCR_EL2",
    (3, 4, 1, 1, 1): "MDCR_EL2",
    (3, 4, 1, 1, 2): "CPTR_EL2",
    (3, 4, 1, 1, 3): "HSTR_EL2",
    (3, 4, 1, 1, 4): "HFGRTR_EL2",
    (3, 4, 1, 1, 7): "HACR_EL2",
    (3, 4, 1, 2, 0): "ZCR_EL2",
    (3, 4, 1, 2, 6): "SMCR_EL2",
    (3, 4, 1, 2, 5): "SMPRIMAP_EL2",
    (3, 4, 2, 0, 0): "TTBR0_EL2",
    (3, 4, 2, 0, 1): "TTBR1_EL2",
    (3, 4, 2, 0, 2): "TCR_EL2",
    (3, 4, 2, 1, 0): "VTTBR_EL2",
    (3, 4, 2, 1, 2): "VTCR_EL2",
    (3, 4, 2, 6, 0): "VSTTBR_EL2",
    (3, 4, 2, 6, 2): "VSTCR_EL2",
    (3, 4, 3, 0, 0): "DACR32_EL2",
    (3, 4, 4, 0, 0): "SPSR_EL2",
    (3, 4, 4, 0, 1): "ELR_EL2",
    (3, 4, 4, 1, 0): "SP_EL1",
    (3, 4, 4, 3, 0): "SPSR_irq",
    (3, 4, 4, 3, 1): "SPSR_abt",
    (3, 4, 4, 3, 2): "SPSR_und",
    (3, 4, 4, 3, 3): "SPSR_fiq",
    (3, 4, 5, 0, 1): "IFSR32_EL2",
    (3, 4, 5, 1, 0): "AFSR0_EL2",
    (3, 4, 5, 1, 1): "AFSR1_EL2",
    (3, 4, 5, 2, 0): "ESR_EL2",
    (3, 4, 5, 3, 0): "FPEXC32_EL2",
    (3, 4, 5, 6, 0): "TFSR_EL2",
    (3, 4, 6, 0, 0): "FAR_EL2",
    (3, 4, 6, 0, 4): "HPFAR_EL2",
    (3, 4, 10, 2, 0): "MAIR_EL2",
    (3, 4, 10, 3, 0): "AMAIR_EL2",
    (3, 4, 12, 0, 0): "VBAR_EL2",
    (3, 4, 12, 0, 1): "RVBAR_EL2",
    (3, 4, 13, 0, 1): "CONTEXTIDR_EL2",
    (3, 4, 13, 0, 2): "TPIDR_EL2",
    (3, 4, 13, 0, 7): "SCXTNUM_EL2",
    (3, 4, 14, 0, 3): "CNTVOFF_EL2",
    (3, 4, 14, 1, 0): "CNTHCTL_EL2",
    (3, 4, 14, 2, 0): "CNTHP_TVAL_EL2",
    (3, 4, 14, 2, 1): "CNTHP_CTL_EL2",
    (3, 4, 14, 2, 2): "CNTHP_CVAL_EL2",
    (3, 4, 14, 3, 0): "CNTHV_TVAL_EL2",
    (3, 4, 14, 3, 1): "CNTHV_CTL_EL2",
    (3, 4, 14, 3, 2): "CNTHV_CVAL_EL2",
    # EL3
    (3, 6, 1, 0, 0): "SCTLR_EL3",
    (3, 6, 1, 0, 1): "ACTLR_EL3",
    (3, 6, 1, 1, 0): "SCR_EL3",
    (3, 6, 1, 1, 1): "SDER32_EL3",
    (3, 6, 1, 1, 2): "CPTR_EL3",
    (3, 6, 1, 2, 0): "ZCR_EL3",
    (3, 6, 1, 2, 6): "SMCR_EL3",
    (3, 6, 1, 3, 1): "MDCR_EL3",
    (3, 6, 2, 0, 0): "TTBR0_EL3",
    (3, 6, 2, 0, 2): "TCR_EL3",
    (3, 6, 4, 0, 0): "SPSR_EL3",
    (3, 6, 4, 0, 1): "ELR_EL3",
    (3, 6, 4, 1, 0): "SP_EL2",
    (3, 6, 5, 1, 0): "AFSR0_EL3",
    (3, 6, 5, 1, 1): "AFSR1_EL3",
    (3, 6, 5, 2, 0): "ESR_EL3",
    (3, 6, 5, 6, 0): "TFSR_EL3",
    (3, 6, 6, 0, 0): "FAR_EL3",
    (3, 6, 10, 2, 0): "MAIR_EL3",
    (3, 6, 10, 3, 0): "AMAIR_EL3",
    (3, 6, 12, 0, 0): "VBAR_EL3",
    (3, 6, 12, 0, 1): "RVBAR_EL3",
    (3, 6, 13, 0, 2): "TPIDR_EL3",
    (3, 6, 13, 0, 7): "SCXTNUM_EL3",
    (3, 7, 14, 2, 0): "CNTPS_TVAL_EL1",
    (3, 7, 14, 2, 1): "CNTPS_CTL_EL1",
    (3, 7, 14, 2, 2): "CNTPS_CVAL_EL1",
    # debug
    (2, 0, 0, 0, 2): "OSDTRRX_EL1",
    (2, 0, 0, 2, 0): "MDCCINT_EL1",
    (2, 0, 0, 2, 2): "MDSCR_EL1",
    (2, 0, 0, 3, 2): "OSDTRTX_EL1",
    (2, 0, 0, 6, 2): "OSECCR_EL1",
    (2, 0, 1, 0, 0): "MDRAR_EL1",
    (2, 0, 1, 0, 4): "OSLAR_EL1",
    (2, 0, 1, 1, 4): "OSLSR_EL1",
    (2, 0, 1, 3, 4): "OSDLR_EL1",
    (2, 0, 1, 4, 4): "DBGPRCR_EL1",
    (2, 0, 7, 8, 6): "DBGCLAIMSET_EL1",
    (2, 0, 7, 9, 6): "DBGCLAIMCLR_EL1",
    (2, 0, 7, 14, 6): "DBGAUTHSTATUS_EL1",
    (2, 3, 0, 1, 0): "MDCCSR_EL0",
    (2, 3, 0, 4, 0): "DBGDTR_EL0",
    (2, 3, 0, 5, 0): "DBGDTRRX_EL0",
    (2, 4, 0, 7, 0): "DBGVCR32_EL2",
}


def _sysreg_names() -> dict[tuple, str]:
    """Encoding -> name: this script's table, then the project's sysreg table and kvm-reg-list.yaml."""
    names: dict[tuple, str] = dict(EXTRA_SYSREG_NAMES)
    for n in range(16):
        names[(2, 0, 0, n, 4)] = f"DBGBVR{n}_EL1"
        names[(2, 0, 0, n, 5)] = f"DBGBCR{n}_EL1"
        names[(2, 0, 0, n, 6)] = f"DBGWVR{n}_EL1"
        names[(2, 0, 0, n, 7)] = f"DBGWCR{n}_EL1"
    for n in range(31):
        names[(3, 3, 14, 8 | (n >> 3), n & 7)] = f"PMEVCNTR{n}_EL0"
        names[(3, 3, 14, 12 | (n >> 3), n & 7)] = f"PMEVTYPER{n}_EL0"
    try:
        sys.path.insert(0, str(ROOT))
        from qmpserver.arch.arm64 import sysreg  # noqa: PLC0415  (optional: naming only)

        for name, reg in sysreg.sysreg_table()["registers"].items():
            names[tuple(reg["encoding"])] = name
        kvm = sysreg.load_yaml(sysreg.models_dir() / "arm64" / "kvm-reg-list.yaml")
        for section in ("always", "gated"):
            for name, enc in (kvm.get(section) or {}).items():
                if isinstance(enc, list) and len(enc) == 5:
                    names.setdefault(tuple(enc), name)
    except Exception as exc:  # noqa: BLE001  naming is best effort
        print(f"note: qmpserver sysreg table not used for names: {exc}", file=sys.stderr)
    return names


# AArch32 cp15 names for the registers the 32-bit models (cortex-a7/a15) send; (crn, opc1, crm, opc2)
CP15_NAMES = {
    (0, 0, 0, 0): "MIDR",
    (0, 0, 0, 1): "CTR",
    (0, 0, 0, 2): "TCMTR",
    (0, 0, 0, 3): "TLBTR",
    (0, 0, 0, 5): "MPIDR",
    (0, 0, 0, 6): "REVIDR",
    (0, 1, 0, 0): "CCSIDR",
    (0, 1, 0, 1): "CLIDR",
    (0, 1, 0, 7): "AIDR",
    (0, 2, 0, 0): "CSSELR",
    (0, 4, 0, 0): "VPIDR",
    (0, 4, 0, 5): "VMPIDR",
    (1, 0, 0, 0): "SCTLR",
    (1, 0, 0, 1): "ACTLR",
    (1, 0, 0, 2): "CPACR",
    (1, 0, 1, 0): "SCR",
    (1, 0, 1, 1): "SDER",
    (1, 0, 1, 2): "NSACR",
    (2, 0, 0, 2): "TTBCR",
    (3, 0, 0, 0): "DACR",
    (5, 0, 0, 0): "DFSR",
    (5, 0, 0, 1): "IFSR",
    (6, 0, 0, 0): "DFAR",
    (6, 0, 0, 2): "IFAR",
    (9, 1, 0, 2): "L2CTLR",
    (9, 1, 0, 3): "L2ECTLR",
    (10, 0, 2, 0): "MAIR0/PRRR",
    (10, 0, 2, 1): "MAIR1/NMRR",
    (12, 0, 0, 0): "VBAR",
    (12, 0, 0, 1): "MVBAR",
    (13, 0, 0, 1): "CONTEXTIDR",
    (13, 0, 0, 2): "TPIDRURW",
    (13, 0, 0, 3): "TPIDRURO",
    (13, 0, 0, 4): "TPIDRPRW",
    (14, 0, 0, 0): "CNTFRQ",
    (15, 4, 0, 0): "CBAR",
}
for _crm, _regs in (
    (1, ["ID_PFR0", "ID_PFR1", "ID_DFR0", "ID_AFR0", "ID_MMFR0", "ID_MMFR1", "ID_MMFR2", "ID_MMFR3"]),
    (2, ["ID_ISAR0", "ID_ISAR1", "ID_ISAR2", "ID_ISAR3", "ID_ISAR4", "ID_ISAR5", "ID_MMFR4", "ID_ISAR6"]),
):
    for _op2, _n in enumerate(_regs):
        CP15_NAMES[(0, 0, _crm, _op2)] = _n

CP15_NAMES.update(
    {
        (0, 0, 3, 4): "ID_PFR2",
        (0, 0, 3, 5): "ID_DFR1",
        (0, 0, 3, 6): "ID_MMFR5",
        (1, 0, 1, 2): "NSACR",
        (1, 4, 0, 1): "HACTLR",
        (2, 0, 0, 0): "TTBR0",
        (2, 0, 0, 1): "TTBR1",
        (5, 0, 1, 0): "ADFSR",
        (5, 0, 1, 1): "AIFSR",
        (6, 0, 0, 1): "WFAR",
        (7, 0, 4, 0): "PAR",
        (9, 0, 12, 0): "PMCR",
        (9, 0, 12, 1): "PMCNTENSET",
        (9, 0, 12, 3): "PMOVSR",
        (9, 0, 12, 5): "PMSELR",
        (9, 0, 12, 6): "PMCEID0",
        (9, 0, 12, 7): "PMCEID1",
        (9, 0, 13, 0): "PMCCNTR",
        (9, 0, 14, 0): "PMUSERENR",
        (9, 0, 14, 1): "PMINTENSET",
        (10, 0, 3, 0): "AMAIR0",
        (10, 0, 3, 1): "AMAIR1",
        (13, 0, 0, 0): "FCSEIDR",
        (14, 0, 1, 0): "CNTKCTL",
        (15, 1, 0, 0): "L2ACTLR",
        (15, 1, 3, 0): "CBAR",
    }
)
# cp14 (debug, Jazelle); (crn, opc1, crm, opc2).  QEMU 7.2 (target/arm/debug_helper.c
# define_debug_regs) registers DBGDEVID/DBGDEVID1/DBGDEVID2 with `.crn = 7` written twice and
# no `.crm`, i.e. at c7 c0 2 / c7 c0 1 / c7 c0 0 instead of the architectural c7 c2 7 / c7 c1 7 /
# c7 c0 7; the names below follow QEMU's encodings, which are what the stream carries.
CP14_NAMES = {
    (0, 0, 0, 0): "DBGDIDR",
    (7, 0, 0, 2): "DBGDEVID",
    (7, 0, 0, 1): "DBGDEVID1",
    (7, 0, 0, 0): "DBGDEVID2",
    (0, 7, 0, 0): "JIDR",
    (1, 7, 0, 0): "JOSCR",
    (2, 7, 0, 0): "JMCR",
    (1, 0, 0, 0): "DBGDRAR",
    (1, 0, 1, 4): "DBGOSLSR",
    (1, 0, 3, 4): "DBGOSDLR",
    (2, 0, 0, 0): "DBGDSAR",
    (0, 0, 2, 2): "DBGDSCRext",
}
for _n in range(16):
    CP14_NAMES[(0, 0, _n, 4)] = f"DBGBVR{_n}"
    CP14_NAMES[(0, 0, _n, 5)] = f"DBGBCR{_n}"
    CP14_NAMES[(0, 0, _n, 6)] = f"DBGWVR{_n}"
    CP14_NAMES[(0, 0, _n, 7)] = f"DBGWCR{_n}"
    CP14_NAMES[(1, 0, _n, 1)] = f"DBGBXVR{_n}"
CP15_64_NAMES = {
    (0, 2): "TTBR0",
    (1, 2): "TTBR1",
    (0, 7): "PAR",
    (0, 15): "CPUACTLR",
    (1, 15): "CPUECTLR",
    (2, 15): "CPUMERRSR",
    (3, 15): "L2MERRSR",
    (0, 14): "CNTPCT",
    (1, 14): "CNTVCT",
    (2, 14): "CNTP_CVAL",
    (3, 14): "CNTV_CVAL",
    (4, 14): "CNTVOFF",
    (6, 14): "CNTHP_CVAL",
    (4, 2): "HTTBR",
    (6, 2): "VTTBR",
}
CP14_64_NAMES = {(0, 1): "DBGDRAR", (0, 2): "DBGDSAR"}

_NAMES: dict[tuple, str] | None = None


def index_name(idx: int) -> str | None:
    global _NAMES
    d = decode_index(idx)
    if d["kind"] == "sysreg":
        if _NAMES is None:
            _NAMES = _sysreg_names()
        enc = tuple(d["encoding"])
        if enc in _NAMES:
            return _NAMES[enc]
        if enc[:3] == (3, 0, 0) and 1 <= enc[3] <= 7:
            return f"ID space S3_0_C0_C{enc[3]}_{enc[4]}"
        return None
    if d["kind"] == "cp32":
        table = {15: CP15_NAMES, 14: CP14_NAMES}.get(d["cp"], {})
        return table.get((d["crn"], d["opc1"], d["crm"], d["opc2"]))
    if d["kind"] == "cp64":
        table = {15: CP15_64_NAMES, 14: CP14_64_NAMES}.get(d["cp"], {})
        return table.get((d["opc1"], d["crm"]))
    return None


def index_label(idx: int) -> str:
    """A readable label: the name if known, else the encoding."""
    d = decode_index(idx)
    name = index_name(idx)
    if d["kind"] == "sysreg":
        enc = "S{}_{}_C{}_C{}_{}".format(*d["encoding"])
    elif d["kind"] == "cp32":
        enc = f"p{d['cp']} {d['opc1']} c{d['crn']} c{d['crm']} {d['opc2']}" + ("" if d["ns"] else " Secure")
    elif d["kind"] == "cp64":
        enc = f"p{d['cp']} {d['opc1']} c{d['crm']} 64-bit" + ("" if d["ns"] else " Secure")
    else:
        enc = "?"
    return f"{name} ({enc})" if name else enc


# --------------------------------------------------------------------------------------------
# running QEMU


def list_models() -> list[str]:
    out = subprocess.run(
        [QEMU, "-machine", MACHINE, "-accel", "tcg", "-cpu", "help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split()[0] for line in out.splitlines()[1:] if line.strip()]


def argv_for(cpu: str, smp: int, machine_opts: str, sockpath: str, incoming: bool = False) -> list[str]:
    machine = MACHINE + (f",{machine_opts}" if machine_opts else "")
    argv = [
        QEMU,
        "-S",
        "-nodefaults",
        "-display",
        "none",
        "-machine",
        machine,
        "-accel",
        "tcg",
        "-cpu",
        cpu,
        "-m",
        "128M",
        "-smp",
        str(smp),
        "-chardev",
        f"socket,id=mon,path={sockpath},server=on,wait=off",
        "-mon",
        "chardev=mon,id=monitor,mode=control",
    ]
    if incoming:
        argv += ["-incoming", "defer"]
    return argv


def public_argv(argv: list[str]) -> str:
    """The command line with the temporary monitor path written MON.qmp."""
    return " ".join(re.sub(r"path=[^,]*", "path=MON.qmp", a) for a in argv)


def capture(cpu: str, smp: int, machine_opts: str = "", running: float = 0.0) -> dict:
    """Start one paused source (``cont`` for ``running`` seconds first if asked), stream it to a
    file, decode its cpu sections."""
    tmp = tempfile.mkdtemp(prefix="tcgregs-")
    sock = os.path.join(tmp, "mon.qmp")
    raw = os.path.join(tmp, "stream.bin")
    argv = argv_for(cpu, smp, machine_opts, sock)
    res: dict = {"cpu": cpu, "smp": smp, "machine_opts": machine_opts, "running": running, "argv": argv}
    sess = cm.Session(f"{cpu}-{smp}", tmp)
    try:
        if not sess.start("src", argv, sock):
            sess.procs["src"].poll()
            sess.wait(lambda: False, 0.2)
            err = " / ".join(cm.strip_ts(x) for x in sess.procs["src"].stderr_lines)
            res["error"] = err or "exited at start"
            return res
        cm.handshake(sess, "src")
        if running:
            sess.cmd("src", "cont")
            sess.settle(running)
        since = len(sess.qmp["src"].msgs)
        sess.cmd("src", "migrate", {"uri": f"exec:cat > {raw}"})
        final = cm.src_wait_outcome(sess, since, False, 60)
        res["outcome"] = final
        if final != "completed":
            sess.wait(lambda: sess.procs["src"].poll() is not None, 2)
            err = " / ".join(cm.strip_ts(x) for x in sess.procs["src"].stderr_lines)
            res["error"] = err or f"migration {final}"
            return res
        data = open(raw, "rb").read()
        res["stream_bytes"] = len(data)
        regs = cpu_cpregs(data)
        res["cpus"] = {
            str(k): {kk: v[kk] for kk in ("version", "count", "indexes", "values")} for k, v in regs.items()
        }
        res["_stream"] = data
        return res
    finally:
        sess.close()
        shutil.rmtree(tmp, ignore_errors=True)


def load_into(cpu: str, smp: int, machine_opts: str, stream: bytes, timeout: float = 30.0) -> dict:
    """Feed a stream to a destination (-incoming defer, migrate-incoming exec:cat FILE)."""
    tmp = tempfile.mkdtemp(prefix="tcgregs-dst-")
    sock = os.path.join(tmp, "mon.qmp")
    path = os.path.join(tmp, "in.bin")
    with open(path, "wb") as f:
        f.write(stream)
    sess = cm.Session(f"dst-{cpu}", tmp)
    res: dict = {}
    try:
        if not sess.start("dst", argv_for(cpu, smp, machine_opts, sock, incoming=True), sock):
            res["outcome"] = "start-failed"
            return res
        cm.handshake(sess, "dst")
        since = len(sess.qmp["dst"].msgs)
        sess.cmd("dst", "migrate-incoming", {"uri": f"exec:cat {path}"})

        def done() -> bool:
            st = [e["data"]["status"] for e in sess.events("dst", since) if e.get("event") == "MIGRATION"]
            return "completed" in st or "failed" in st or not sess.alive("dst")

        sess.wait(done, timeout)
        st = [e["data"]["status"] for e in sess.events("dst", since) if e.get("event") == "MIGRATION"]
        res["outcome"] = "completed" if "completed" in st else ("failed" if "failed" in st else "unknown")
        sess.wait(lambda: sess.procs["dst"].poll() is not None, 3 if res["outcome"] == "failed" else 0.2)
        res["stderr"] = [cm.strip_ts(x) for x in sess.procs["dst"].stderr_lines]
        res["exit"] = sess.procs["dst"].poll()
        return res
    finally:
        sess.close()
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# the measurement plan


def config_key(cpu: str, smp: int, machine_opts: str = "") -> str:
    return f"{cpu}/smp{smp}" + (f"/{machine_opts}" if machine_opts else "")


def plan(models: list[str], supported: list[str] | None = None) -> list[tuple[str, str, int, str, float]]:
    """(key, cpu option, smp, machine options, seconds running) of every capture.

    Without ``supported``: the first pass (smp 1 of every model).  With it: the rest, for the
    models that started: a repeat run (``#2``), a run whose guest ran 1 s before the migration
    (``/running``), smp 2, ``mte=on``, and ``max`` with ``sve=off`` / ``pauth=off``.
    """
    if supported is None:
        return [(config_key(m, 1), m, 1, "", 0.0) for m in models]
    runs = []
    for m in supported:
        runs.append((config_key(m, 1) + "#2", m, 1, "", 0.0))
        runs.append((config_key(m, 1) + "/running", m, 1, "", 1.0))
        runs.append((config_key(m, 2), m, 2, "", 0.0))
        runs.append((config_key(m, 1, "mte=on"), m, 1, "mte=on", 0.0))
    if "max" in supported:
        for opt in ("sve=off", "pauth=off"):
            runs.append((config_key(f"max,{opt}", 1), f"max,{opt}", 1, "", 0.0))
    return runs


def run_captures(models: list[str], streams: str, jobs: int) -> dict:
    os.makedirs(streams, exist_ok=True)
    out: dict = {}

    def one(item):
        key, cpu, smp, mopts, running = item
        t0 = time.monotonic()
        res = capture(cpu, smp, mopts, running)
        res["seconds"] = round(time.monotonic() - t0, 2)
        data = res.pop("_stream", None)
        if data is not None:
            fn = os.path.join(streams, re.sub(r"[/,#=]", "_", key) + ".bin")
            with open(fn, "wb") as f:
                f.write(data)
            res["stream_file"] = fn
        res["argv"] = public_argv(res["argv"])
        return key, res

    def batch(items):
        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            for key, res in ex.map(one, items):
                status = res.get("error") or " ".join(f"cpu{k}={v['count']}" for k, v in res["cpus"].items())
                print(f"{key:40} {status}", file=sys.stderr)
                out[key] = res

    batch(plan(models))
    supported = [m for m in models if "cpus" in out[config_key(m, 1)]]
    batch(plan(models, supported))
    return out


def run_dependent(caps: dict) -> dict[str, set[int]]:
    """Indexes whose value differs from a model's smp-1 capture in its repeat run (``repeat``) or
    after its guest ran for a second (``running``)."""
    dep: dict[str, set[int]] = {"repeat": set(), "running": set()}
    for key, res in caps.items():
        kind = "repeat" if key.endswith("#2") else "running" if key.endswith("/running") else None
        if kind is None or "cpus" not in res:
            continue
        base = caps[key.split("#")[0].removesuffix("/running")]
        a, b = base["cpus"]["0"], res["cpus"]["0"]
        if a["indexes"] != b["indexes"]:
            raise ValueError(f"{key}: index list differs from the first run")
        dep[kind] |= {i for i, x, y in zip(a["indexes"], a["values"], b["values"]) if x != y}
    return dep


def is_variant(key: str) -> bool:
    """A repeat or running capture (used only to find run-dependent registers)."""
    return key.endswith("#2") or key.endswith("/running")


def differing(caps: dict, dep: set[int]) -> dict[int, set[int]]:
    """{index: every value seen at it} for the indexes whose value is not the same in every capture."""
    seen: dict[int, set[int]] = {}
    for key, res in caps.items():
        if is_variant(key):
            continue
        for inst in (res.get("cpus") or {}).values():
            for i, v in zip(inst["indexes"], inst["values"]):
                seen.setdefault(i, set()).add(v)
    return {i: vs for i, vs in seen.items() if len(vs) > 1 and i not in dep}


def _dest_of(key: str, res: dict) -> tuple[str, int, str]:
    return res["cpu"], res["smp"], res["machine_opts"]


def run_probes(
    caps: dict,
    dep: set[int],
    jobs: int,
    all_values: set[int] = frozenset(),
    skip: set[tuple] = frozenset(),
    per_register: int = 3,
) -> list[dict]:
    """Patch one differing value into a config's own stream and load it into that config.

    ``all_values``: indexes probed with every foreign value seen (the others with one).
    """
    diff = differing(caps, dep)
    items = []
    per_index: dict[int, int] = {}
    for key, res in caps.items():
        if is_variant(key) or "cpus" not in res:
            continue
        own = res["cpus"]["0"]
        for i, v in zip(own["indexes"], own["values"]):
            others = sorted(x for x in diff.get(i, ()) if x != v)
            # one foreign value in at most `per_register` configs per register, unless the register
            # took a value somewhere (then every value in every config: a writefn may take some
            # values and mask others)
            if i not in all_values:
                if not others or per_index.get(i, 0) >= per_register:
                    continue
                per_index[i] = per_index.get(i, 0) + 1
            for foreign in others if i in all_values else others[:1]:
                if (key, i, foreign) not in skip:
                    items.append((key, i, v, foreign))
    print(f"{len(items)} probes", file=sys.stderr)
    streams: dict[str, bytes] = {}

    def one(item):
        key, i, v, foreign = item
        res = caps[key]
        if key not in streams:
            streams[key] = open(res["stream_file"], "rb").read()
        data = patch_value(streams[key], 0, i, foreign)
        r = load_into(*_dest_of(key, res), data)
        return {"config": key, "index": i, "own": v, "sent": foreign, **r}

    out = []
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        for n, r in enumerate(ex.map(one, items)):
            out.append(r)
            if n % 50 == 0:
                print(
                    f"  probe {n}: {r['config']} {index_label(r['index'])} -> {r['outcome']}", file=sys.stderr
                )
    return out


def run_matrix(caps: dict, jobs: int) -> list[dict]:
    """Real loads of one config's stream into another config: every smp-1 model pair, plus
    smp 1<->2 and mte off<->on per model (the cases the rule has to predict)."""
    keys = [k for k, r in caps.items() if "cpus" in r and not is_variant(k)]
    pairs = []
    base = [
        k for k in keys if caps[k]["smp"] == 1 and not caps[k]["machine_opts"] and "," not in caps[k]["cpu"]
    ]
    for a in base:
        for b in base:
            pairs.append((a, b))
    for k in keys:
        r = caps[k]
        if r["smp"] == 2 or r["machine_opts"] or "," in r["cpu"]:
            plain = config_key(r["cpu"].split(",")[0], 1)
            if plain in caps and "cpus" in caps[plain]:
                pairs.append((plain, k))
                pairs.append((k, plain))
    print(f"{len(pairs)} matrix loads", file=sys.stderr)

    def one(pair):
        a, b = pair
        data = open(caps[a]["stream_file"], "rb").read()
        r = load_into(*_dest_of(b, caps[b]), data)
        return {"src": a, "dst": b, **r}

    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        return list(ex.map(one, pairs))


# --------------------------------------------------------------------------------------------
# the data file


def runs_of(indexes: list[int]) -> list:
    """Sorted indexes as items: an int, or [first, last] for a run of consecutive indexes (>= 3)."""
    out: list = []
    i = 0
    while i < len(indexes):
        j = i
        while j + 1 < len(indexes) and indexes[j + 1] == indexes[j] + 1:
            j += 1
        if j - i >= 2:
            out.append([indexes[i], indexes[j]])
        else:
            out.extend(indexes[i : j + 1])
        i = j + 1
    return out


def expand_runs(items: list) -> list[int]:
    out: list[int] = []
    for it in items:
        if isinstance(it, list):
            out.extend(range(it[0], it[1] + 1))
        else:
            out.append(it)
    return out


def _errno_of(stderr: list[str]) -> str | None:
    for line in reversed(stderr):
        if "load of migration failed:" in line:
            return line.split("load of migration failed:", 1)[1].strip()
    return None


def outcome_word(r: dict) -> str:
    """completed | EPERM | EINVAL | ... from a load's result."""
    if r["outcome"] == "completed":
        return "completed"
    err = _errno_of(r.get("stderr", []))
    return {"Operation not permitted": "EPERM", "Invalid argument": "EINVAL"}.get(err, err or r["outcome"])


def predict_cpu(src: dict, dst: dict, refused: set[int]) -> str:
    """target/arm/machine.c cpu_post_load/write_list_to_cpustate as the data file models them,
    for cpu instance 0 (every instance of the recorded configs carries the same list and values)."""
    if src["count"] > dst["count"]:
        return "EINVAL"
    dvals = dict(zip(dst["indexes"], dst["values"]))
    for i, v in zip(src["indexes"], src["values"]):
        if i not in dvals:
            return "EPERM"
        if i in refused and dvals[i] != v:
            return "EPERM"
    return "completed"


def predict(src: dict, dst: dict, refused: set[int], src_cfg: dict, dst_cfg: dict) -> tuple[str, str]:
    """(outcome, stage) in stream order: the MTE tag RAM block (ram section), then cpu 0's
    cpreg list, then the other vCPUs' sections (a source with more vCPUs: `Unknown savevm
    section or instance 'cpu_common' 1`, EINVAL; a destination with more: its extra vCPUs get no
    state and the load completes)."""
    if "mte=on" in src_cfg["machine_opts"] and "mte=on" not in dst_cfg["machine_opts"]:
        return "EINVAL", "ram"
    cpu = predict_cpu(src, dst, refused)
    if cpu != "completed":
        return cpu, "cpu"
    if src_cfg["smp"] > dst_cfg["smp"]:
        return "EINVAL", "cpu_common"
    return "completed", "-"


def _hex(v: int) -> str:
    return f"{v:#x}"


def _flow(items: list, indent: str, width: int = 100) -> list[str]:
    """A YAML flow list of hex ints / [a, b] pairs, wrapped."""
    toks = [f"[{_hex(it[0])}, {_hex(it[1])}]" if isinstance(it, list) else _hex(it) for it in items]
    lines, cur = [], indent + "["
    for n, t in enumerate(toks):
        piece = t + ("," if n < len(toks) - 1 else "]")
        if len(cur) + len(piece) + 1 > width and cur.strip() != "[":
            lines.append(cur.rstrip())
            cur = indent + " "
        cur += piece + " "
    lines.append(cur.rstrip() if toks else indent + "[]")
    return lines


def build_data(raw: dict) -> dict:
    """Everything the data file says, as plain data (the emitter below writes it)."""
    caps = raw["captures"]
    dep = set().union(*map(set, raw["run_dependent"].values()))
    diff = differing(caps, dep)
    good = {k: r for k, r in caps.items() if "cpus" in r and not is_variant(k)}
    models = [m for m in raw["models_listed"] if config_key(m, 1) in good]
    not_on_virt = {m: caps[config_key(m, 1)]["error"] for m in raw["models_listed"] if m not in models}
    # per-register probe verdicts
    verdict: dict[int, dict] = {}
    for pr in raw.get("probes", []):
        v = verdict.setdefault(
            pr["index"], {"refused": 0, "accepted": 0, "other": 0, "accepted_examples": []}
        )
        w = outcome_word(pr)
        if w == "completed":
            v["accepted"] += 1
            v["accepted_examples"].append((pr["config"], pr["own"], pr["sent"]))
        elif w == "EPERM":
            v["refused"] += 1
        else:
            v["other"] += 1
    refused = {i for i, v in verdict.items() if v["refused"] and not v["accepted"] and not v["other"]}
    cfg0 = {k: r["cpus"]["0"] for k, r in good.items()}
    # matrix: real vs predicted
    matrix = []
    for m in raw.get("matrix", []):
        real = outcome_word(m)
        pred, stage = predict(cfg0[m["src"]], cfg0[m["dst"]], refused, good[m["src"]], good[m["dst"]])
        matrix.append(
            {
                "src": m["src"],
                "dst": m["dst"],
                "real": real,
                "predicted": pred,
                "stage": stage,
                "stderr": [x for x in m.get("stderr", []) if x],
            }
        )
    return {
        "models": models,
        "not_on_virt": not_on_virt,
        "diff": diff,
        "verdict": verdict,
        "refused": refused,
        "cfg0": cfg0,
        "good": good,
        "matrix": matrix,
    }


def write_yaml(raw: dict, path: str) -> None:
    d = build_data(raw)
    caps, good, cfg0, diff, verdict = raw["captures"], d["good"], d["cfg0"], d["diff"], d["verdict"]
    models = d["models"]
    L: list[str] = []
    a = L.append
    argv = caps[config_key("cortex-a57", 1)]["argv"]
    a("# The TCG cpreg list QEMU 7.2 migrates for each aarch64 CPU model on `virt-7.2`: what the")
    a("# `cpu` section of a migration stream carries (target/arm/machine.c vmstate_arm_cpu:")
    a("# cpreg_vmstate_array_len, cpreg_vmstate_indexes[], cpreg_vmstate_values[]), MEASURED from real")
    a("# streams by tools/capture_tcg_cpregs.py (regenerate with it; do not edit by hand).")
    a("#")
    a("# How a 7.2 destination uses it (target/arm/machine.c cpu_post_load, write_list_to_cpustate):")
    a("#   * incoming count > its own count: `Invalid value N expecting positive value <= M`,")
    a("#     `Failed to load cpu:cpreg_vmstate_array_len`, EINVAL;")
    a("#   * an incoming index it does not have: EPERM (`error while loading state for instance 0x0")
    a("#     of device 'cpu'`, `load of migration failed: Operation not permitted`); its own indexes")
    a("#     missing from the incoming list are skipped;")
    a("#   * a value one of its registers will not take (it reads back different): EPERM.  Which")
    a("#     registers refuse a foreign value is measured here too (`registers:` `check`).")
    a("#")
    a("# Index format (QEMU cpreg_to_kvm_id): AArch64 0x6030_0000_0013_xxxx with op0<<14 | op1<<11 |")
    a("# CRn<<7 | CRm<<3 | op2; AArch32 0x4020_0000_NNNN_xxxx (32-bit) / 0x4030_... (64-bit) with")
    a("# NNNN = ns<<13 | coproc (0x200f: cp15 Non-secure, 0x000f: cp15 Secure bank, 0x200e: cp14) and")
    a("# xxxx = CRn<<11 | CRm<<7 | opc1<<3 | opc2 (64-bit: CRm<<7 | opc1<<3).  `indexes` lists are")
    a("# sorted (the order QEMU sends); an item [a, b] is the run of every index from a to b.")
    a("#")
    a("# Measured vs inferred:")
    a("#   measured: every count, index list and value below (cpu instance 0 of a paused source")
    a("#     that never ran, `-S`), the smp-2 values (instance 0 and 1 are identical in every model),")
    a("#     the mte=on / sve=off / pauth=off lists, which registers refuse a foreign value")
    a("#     (`check`, by loading a stream with that one value patched), and every outcome under")
    a("#     `matrix:` (a real load of one configuration's stream into another);")
    a("#   inferred: that the comparison rule above (with `check: refused` registers compared by")
    a("#     value and every other register ignored) is the whole of QEMU's check for these pairs; it")
    a("#     predicts every recorded `matrix:` outcome (`predicted` = `real` in every row, checked")
    a("#     by tests/unit/arm64/test_tcg_cpregs_data.py); the register names (from the Arm ARM, the")
    a("#     project's sysreg table and QEMU 7.2's target/arm sources; the index is the fact).")
    a("#")
    a("# Values are stored only for the registers whose value differs between two configurations")
    a("# at the same index (`registers:`); every other listed register had the same value in every")
    a("# capture.  Run-dependent registers (different in a repeat run, or after the guest ran for")
    a("# one second) are excluded and listed under `run_dependent:`; the guest never ran in the")
    a("# captures whose values are stored.")
    a("")
    a("format: 1")
    a("")
    a("source:")
    a(f'  package: "{raw["package"]} (Debian bookworm), binary {raw["binary"]}"')
    a(f'  qemu: "{raw["qemu"]}"')
    a(f'  date: "{raw["date"]}"')
    a("  tool: tools/capture_tcg_cpregs.py --capture --probe --matrix --raw FILE, then --yaml")
    a(f'  command: "{argv.replace("cortex-a57", "MODEL").replace("-smp 1", "-smp N")}"')
    a(
        "  qmp: \"qmp_capabilities; migrate-set-capabilities events=true; migrate {uri: 'exec:cat > FILE'}; wait for MIGRATION completed\""
    )
    a(
        '  variants: "MODEL from `-machine virt-7.2 -accel tcg -cpu help`; -smp 1 and 2; -machine virt-7.2,mte=on; -cpu max,sve=off and max,pauth=off"'
    )
    a(
        "  probes: \"destination: the same command line plus -incoming defer, then migrate-incoming {uri: 'exec:cat FILE'}\""
    )
    a("  refs:")
    a('    vmstate: "QEMU 7.2 target/arm/machine.c (vmstate_arm_cpu, cpu_pre_save, cpu_post_load)"')
    a(
        '    list: "QEMU 7.2 target/arm/helper.c (init_cpreg_list, count_cpreg, write_list_to_cpustate), cpregs.h"'
    )
    a(
        '    l2ctlr: "QEMU 7.2 target/arm/cpu64.c a57_a53_l2ctlr_read: (core_count - 1) << 24; target/arm/cpu_tcg.c a15_l2ctlr_read: (smp_cpus - 1) << 24 | 1 << 23"'
    )
    a("")
    a("# -cpu help lists these but `-machine virt` refuses them (QEMU's error, measured)")
    a("not_on_virt: [" + ", ".join(d["not_on_virt"]) + "]")
    errs = sorted({e.replace(f"type {m}-arm-cpu", "type MODEL-arm-cpu") for m, e in d["not_on_virt"].items()})
    a(f'not_on_virt_error: "{" | ".join(errs)}"')
    mte_refused = sorted(m for m in models if "cpus" not in caps.get(config_key(m, 1, "mte=on"), {}))
    mte_err = {caps[config_key(m, 1, "mte=on")].get("error") for m in mte_refused}
    a("# `-machine virt-7.2,mte=on` refused at start-up by these models (measured):")
    a(f"mte_refused: [{', '.join(mte_refused)}]")
    a(f'mte_refused_error: "{" | ".join(sorted(mte_err))}"')
    a("")
    # run-dependent
    a("# registers whose value changed between runs of the same configuration (never stored)")
    a("run_dependent:")
    for kind, idxs in raw["run_dependent"].items():
        what = {"repeat": "a second -S run", "running": "the guest `cont`ed for 1 s before `migrate`"}[kind]
        names = ", ".join(f"{_hex(i)} {index_name(i) or ''}".strip() for i in idxs)
        a(f"  {kind}: [{', '.join(_hex(i) for i in idxs)}]  # {what}{': ' + names if names else ': none'}")
    a("")
    # registers
    a("# every index whose value differs between configurations: name, and whether a destination")
    a("# refuses a value different from its own (check: refused = every probe failed with EPERM;")
    a("# accepted = every probe loaded; probes = how many single-value loads were made)")
    a("registers:")
    for i in sorted(diff):
        v = verdict.get(i, {"refused": 0, "accepted": 0, "other": 0})
        chk = (
            "refused"
            if i in d["refused"]
            else ("accepted" if v["accepted"] and not v["refused"] else "mixed")
        )
        nm = index_name(i)
        dd = decode_index(i)
        enc = f", encoding: [{', '.join(map(str, dd['encoding']))}]" if dd["kind"] == "sysreg" else ""
        a(
            f"  {_hex(i)}: {{name: {nm or '~'}{enc}, check: {chk}, probes: {v['refused'] + v['accepted'] + v['other']}}}"
        )
    a("")
    # per model
    a("# per model, -smp 1, `-machine virt-7.2`: cpu section version, count, sorted index list, and")
    a("# the values of the `registers:` it has")
    a("models:")
    for m in models:
        c = cfg0[config_key(m, 1)]
        a(f"  {m}:")
        a(f"    cpu_section_version: {c['version']}")
        a(f"    count: {c['count']}")
        a("    indexes:")
        L.extend(_flow(runs_of(c["indexes"]), "      "))
        vals = [(i, v) for i, v in zip(c["indexes"], c["values"]) if i in diff]
        a("    values:")
        for i, v in vals:
            a(f"      {_hex(i)}: {_hex(v)}  # {index_name(i) or index_label(i)}")
    a("")
    # variants
    a("# other configurations, as differences from the model's -smp 1 capture above")
    a("variants:")
    for key, r in good.items():
        if r["smp"] == 1 and not r["machine_opts"] and "," not in r["cpu"]:
            continue
        base_model = r["cpu"].split(",")[0]
        base = cfg0[config_key(base_model, 1)]
        c = cfg0[key]
        bvals = dict(zip(base["indexes"], base["values"]))
        cvals = dict(zip(c["indexes"], c["values"]))
        added = sorted(set(cvals) - set(bvals))
        removed = sorted(set(bvals) - set(cvals))
        changed = sorted(i for i in cvals if i in bvals and cvals[i] != bvals[i])
        a(f"  {key}:")
        a(f"    model: {base_model}")
        a(f'    cpu: "{r["cpu"]}"')
        a(f'    machine: "{MACHINE + ("," + r["machine_opts"] if r["machine_opts"] else "")}"')
        a(f"    smp: {r['smp']}")
        a(f"    count: {c['count']}")
        if r["smp"] > 1:
            same = all(
                r["cpus"][k]["indexes"] == c["indexes"] and r["cpus"][k]["values"] == c["values"]
                for k in r["cpus"]
            )
            a(f"    instances_identical: {'true' if same else 'false'}")
        a("    added:" + (" []" if not added else ""))
        for i in added:
            a(f"      - {_hex(i)}  # {index_label(i)}")
        a("    removed:" + (" []" if not removed else ""))
        for i in removed:
            a(f"      - {_hex(i)}  # {index_label(i)}")
        a("    values:" + (" {}" if not (changed or [i for i in added if i in diff]) else ""))
        for i in sorted(set(changed) | {i for i in added if i in diff}):
            a(
                f"      {_hex(i)}: {_hex(cvals[i])}  # {index_name(i) or index_label(i)}"
                + (f" (smp 1 / base: {_hex(bvals[i])})" if i in bvals else "")
            )
    a("")
    # smp rule
    a("# registers whose value depends on -smp (cpu instance 0 and 1 alike); measured at 1 and 2,")
    a("# the formula is QEMU's (refs.l2ctlr)")
    a("smp_dependent:")
    smp_regs: dict[int, dict] = {}
    for m in models:
        k2 = config_key(m, 2)
        if k2 not in cfg0:
            continue
        b = dict(zip(cfg0[config_key(m, 1)]["indexes"], cfg0[config_key(m, 1)]["values"]))
        t = dict(zip(cfg0[k2]["indexes"], cfg0[k2]["values"]))
        for i in b:
            if b[i] != t[i]:
                smp_regs.setdefault(i, {})[m] = (b[i], t[i])
    formulas = {
        0x603000000013CD82: "(smp - 1) << 24  (L2CTLR_EL1 bits [25:24] = number of cores - 1; target/arm/cpu64.c a57_a53_l2ctlr_read)",
        0x40200000200F480A: "a35/a53/a57/a72/max: (smp - 1) << 24 (AArch32 view, same readfn); a7/a15: (smp - 1) << 24 | 1 << 23 (target/arm/cpu_tcg.c a15_l2ctlr_read)",
    }
    for i, per in sorted(smp_regs.items()):
        a(f"  {_hex(i)}:")
        a(f"    name: {index_name(i)}")
        a(f'    rule: "{formulas.get(i, "see values")}"')
        a("    values:  # model: [smp 1, smp 2]")
        for m, (x, y) in per.items():
            a(f"      {m}: [{_hex(x)}, {_hex(y)}]")
        a(
            f"    models_without_it_changing: [{', '.join(m for m in models if m not in per and i in set(cfg0[config_key(m, 1)]['indexes']))}]"
        )
    a("")
    # matrix
    a("# real loads (destination QEMU, -incoming defer + migrate-incoming exec:cat FILE) of one")
    a("# configuration's stream into another: outcome (completed | EPERM | EINVAL; the comment is the")
    a("# destination's first stderr line) and what the rule predicts from this file's data, with the")
    a("# stage that decides it, in stream order: `ram` (an mte=on source's tag RAM block; not a cpreg")
    a("# matter), `cpu` (cpu instance 0's cpreg list, the rule of the header), `cpu_common` (a source")
    a("# with more vCPUs: `Unknown savevm section or instance 'cpu_common' 1`; a destination with MORE")
    a("# vCPUs than the source loads fine when cpu 0 passes: its extra vCPU gets no state), `-`.")
    a("matrix:")
    for row in d["matrix"]:
        first = row["stderr"][0].replace("qemu-system-aarch64: ", "") if row["stderr"] else ""
        a(
            f'  - {{src: "{row["src"]}", dst: "{row["dst"]}", real: {row["real"]}, predicted: {row["predicted"]}, '
            f"stage: {row['stage']}}}" + (f"  # {first}" if first else "")
        )
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def package_version() -> str:
    return cm.package_version()


def qemu_version() -> str:
    out = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", help="raw results JSON (written by a capture, read by --yaml)")
    ap.add_argument(
        "--streams", default=None, help="directory for the captured streams (default: next to --raw)"
    )
    ap.add_argument("--capture", action="store_true", help="run the captures")
    ap.add_argument("--probe", action="store_true", help="run the single-register probes (after --capture)")
    ap.add_argument("--matrix", action="store_true", help="run the config-to-config loads (after --capture)")
    ap.add_argument("--models", nargs="*", help="only these models (default: every model -cpu help lists)")
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2)))
    ap.add_argument("--yaml", help="write the data file from --raw")
    ap.add_argument("--decode", help="print the cpreg list of a stream file (.bin or .bin.gz)")
    args = ap.parse_args(argv)

    if args.decode:
        for inst, regs in cpu_cpregs(cm.load_stream(args.decode)).items():
            print(f"cpu instance {inst}: version {regs['version']}, {regs['count']} cpregs")
            for i, v in zip(regs["indexes"], regs["values"]):
                print(f"  {i:#018x} {v:#018x} {index_label(i)}")
        return 0
    if not args.raw:
        ap.error("--raw is needed")
    raw: dict = json.load(open(args.raw)) if os.path.exists(args.raw) else {}
    streams = args.streams or os.path.splitext(args.raw)[0] + "-streams"
    if args.capture:
        models = args.models or list_models()
        raw = {
            "package": f"{cm.PACKAGE} {package_version()}",
            "qemu": qemu_version(),
            "binary": QEMU,
            "date": datetime.date.today().isoformat(),
            "models_listed": list_models(),
            "captures": run_captures(models, streams, args.jobs),
        }
        raw["run_dependent"] = {k: sorted(v) for k, v in run_dependent(raw["captures"]).items()}
        json.dump(raw, open(args.raw, "w"))
    if args.probe:
        dep = set().union(*map(set, raw["run_dependent"].values()))
        first = run_probes(raw["captures"], dep, args.jobs)
        # second round: every foreign value for the registers some config accepted a value of
        accepted = {p["index"] for p in first if p["outcome"] == "completed"}
        done = {(q["config"], q["index"], q["sent"]) for q in first}
        more = run_probes(raw["captures"], dep, args.jobs, accepted, done)
        raw["probes"] = first + more
        json.dump(raw, open(args.raw, "w"))
    if args.matrix:
        raw["matrix"] = run_matrix(raw["captures"], args.jobs)
        json.dump(raw, open(args.raw, "w"))
    if args.yaml:
        write_yaml(raw, args.yaml)
    return 0


if __name__ == "__main__":
    sys.exit(main())
