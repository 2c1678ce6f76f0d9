#!/usr/bin/env python3
"""Record an x86 KVM host's CPUID data as qmpserver data: what ``-cpu host`` starts from.

Asks ``/dev/kvm`` directly (the kernel's uapi, ``linux/kvm.h``):

* ``KVM_GET_SUPPORTED_CPUID`` (``_IOWR(KVMIO, 0x05, struct kvm_cpuid2)``): the host's CPUID
  leaves ANDed with what KVM virtualises, plus what KVM emulates; a too-small ``nent`` is
  ``E2BIG``, so the buffer grows until it fits;
* ``KVM_GET_EMULATED_CPUID`` (``_IOWR(KVMIO, 0x09, …)``): the purely emulated features;
* ``KVM_CHECK_EXTENSION`` (``_IO(KVMIO, 0x03)``) of the capabilities QEMU's ``-cpu host`` rules
  read (``KVM_CAP_IRQCHIP`` 0, ``KVM_CAP_TSC_DEADLINE_TIMER`` 72, ``KVM_CAP_SPLIT_IRQCHIP`` 121,
  ``KVM_CAP_X2APIC_API`` 129, ``KVM_CAP_X86_DISABLE_EXITS`` 143);
* ``KVM_GET_MSR_FEATURE_INDEX_LIST`` (``_IOWR(KVMIO, 0x0a, struct kvm_msr_list)``) and, for each
  index it lists, ``KVM_GET_MSRS`` (``_IOWR(KVMIO, 0x88, struct kvm_msrs)``) on the ``/dev/kvm``
  fd: the feature MSRs KVM offers a guest (``IA32_ARCH_CAPABILITIES`` 0x10a,
  ``IA32_CORE_CAPABILITY`` 0xcf, ``IA32_PERF_CAPABILITIES`` 0x345, the VMX capability MSRs
  0x480.. with nested VMX ...), which QEMU reads for its MSR feature words
  (``kvm_arch_get_supported_msr_feature``); an index KVM does not list reads as 0 there;
* ``KVM_GET_MSR_INDEX_LIST`` (``_IOWR(KVMIO, 0x02, …)``): the MSRs a vCPU saves and restores
  (QEMU reads it for ``has_msr_*``; whether it lists 0x48b decides QEMU's VMX secondary-controls
  workaround);
* ``KVM_GET_TSC_KHZ`` (``_IO(KVMIO, 0xa3)``) on a vCPU of a fresh VM (``KVM_CREATE_VM``,
  ``KVM_CREATE_VCPU``): the TSC rate a vCPU starts with, which QEMU reports as the vCPU's
  ``tsc-frequency`` (kHz × 1000) when none is given;
* the kernel release (``uname -r``) and ``/proc/cpuinfo``'s vendor / family / model / stepping.

Each ``struct kvm_cpuid_entry2`` is ``function, index, flags, eax, ebx, ecx, edx`` (u32) and
three u32 of padding (40 bytes).  The APIC-ID fields (leaf 1 EBX[31:24], leaf 0xB/0x1F EDX)
are those of the CPU the ioctl ran on and differ between two runs.  Usage::

    python3 tools/capture_x86_kvm_cpuid.py -o models/x86_64/hosts/NAME.yaml --name NAME
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import platform
import struct
import sys
import time

KVMIO = 0xAE


def _iowr(nr: int, size: int) -> int:
    return (3 << 30) | (size << 16) | (KVMIO << 8) | nr


KVM_CHECK_EXTENSION = (KVMIO << 8) | 0x03
KVM_GET_SUPPORTED_CPUID = _iowr(0x05, 8)
KVM_GET_EMULATED_CPUID = _iowr(0x09, 8)
KVM_GET_MSR_INDEX_LIST = _iowr(0x02, 4)
KVM_GET_MSR_FEATURE_INDEX_LIST = _iowr(0x0A, 4)
KVM_GET_MSRS = _iowr(0x88, 8)
MSR_ENTRY = struct.Struct("<IIQ")
KVM_CREATE_VM = (KVMIO << 8) | 0x01
KVM_CREATE_VCPU = (KVMIO << 8) | 0x41
KVM_GET_TSC_KHZ = (KVMIO << 8) | 0xA3
ENTRY = struct.Struct("<7I12x")
CAPS = {
    "KVM_CAP_IRQCHIP": 0,
    "KVM_CAP_TSC_DEADLINE_TIMER": 72,
    "KVM_CAP_SPLIT_IRQCHIP": 121,
    "KVM_CAP_X2APIC_API": 129,
    "KVM_CAP_X86_DISABLE_EXITS": 143,
}


def cpuid2(fd: int, request: int) -> list[list[int]]:
    """[function, index, flags, eax, ebx, ecx, edx] per entry."""
    nent = 64
    while True:
        buf = bytearray(struct.pack("<II", nent, 0) + bytes(ENTRY.size * nent))
        try:
            fcntl.ioctl(fd, request, buf, True)
        except OSError as e:
            if e.errno == errno.E2BIG and nent < 4096:
                nent *= 2
                continue
            raise
        n = struct.unpack_from("<I", buf)[0]
        return [list(ENTRY.unpack_from(buf, 8 + i * ENTRY.size)) for i in range(n)]


def msr_list(fd: int, request: int) -> list[int]:
    """The indices of a ``struct kvm_msr_list`` ioctl (``E2BIG`` gives the count needed)."""
    nmsrs = 64
    while True:
        buf = bytearray(struct.pack("<I", nmsrs) + bytes(4 * nmsrs))
        try:
            fcntl.ioctl(fd, request, buf, True)
        except OSError as e:
            if e.errno == errno.E2BIG and nmsrs < 1 << 16:
                nmsrs = max(struct.unpack_from("<I", buf)[0], nmsrs * 2)
                continue
            raise
        n = struct.unpack_from("<I", buf)[0]
        return list(struct.unpack_from("<%dI" % n, buf, 4))


def feature_msrs(fd: int, indices: list[int]) -> dict[int, int]:
    """``KVM_GET_MSRS`` on the system fd, one feature MSR at a time (the ioctl answers the
    number of MSRs read)."""
    out = {}
    for index in indices:
        buf = bytearray(struct.pack("<II", 1, 0) + MSR_ENTRY.pack(index, 0, 0))
        if fcntl.ioctl(fd, KVM_GET_MSRS, buf, True) == 1:
            out[index] = MSR_ENTRY.unpack_from(buf, 8)[2]
    return out


def tsc_khz(fd: int) -> int:
    """``KVM_GET_TSC_KHZ`` of vCPU 0 of a new VM (closed again)."""
    vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
    try:
        vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
        try:
            return fcntl.ioctl(vcpu, KVM_GET_TSC_KHZ, 0)
        finally:
            os.close(vcpu)
    finally:
        os.close(vm)


def cpuinfo() -> dict:
    out: dict = {}
    keys = {
        "vendor_id": "vendor",
        "cpu family": "family",
        "model": "model",
        "stepping": "stepping",
        "model name": "model_name",
    }
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                break
            k, _, v = line.partition(":")
            k = k.strip()
            if k in keys:
                v = v.strip()
                out[keys[k]] = int(v) if keys[k] in ("family", "model", "stepping") else v
    return out


def hexs(v: int) -> str:
    return "0x%08x" % v


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--name", required=True)
    a = ap.parse_args(argv)
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError as e:
        print("%s: error: /dev/kvm: %s" % (sys.argv[0], e.strerror), file=sys.stderr)
        return 1
    try:
        supported = cpuid2(fd, KVM_GET_SUPPORTED_CPUID)
        emulated = cpuid2(fd, KVM_GET_EMULATED_CPUID)
        caps = {k: fcntl.ioctl(fd, KVM_CHECK_EXTENSION, n) for k, n in CAPS.items()}
        msrs = feature_msrs(fd, msr_list(fd, KVM_GET_MSR_FEATURE_INDEX_LIST))
        index_list = msr_list(fd, KVM_GET_MSR_INDEX_LIST)
        khz = tsc_khz(fd)
    finally:
        os.close(fd)
    info = cpuinfo()
    lines = [
        "# Recorded by tools/capture_x86_kvm_cpuid.py from /dev/kvm; regenerate, do not edit by hand.",
        "kind: x86-kvm-cpuid",
        "name: %s" % a.name,
        "cpu: %s" % json.dumps(info),
        "kernel: %s" % json.dumps({"release": platform.release()}),
        "kvm-caps: %s" % json.dumps(caps),
        "# [function, index, flags, eax, ebx, ecx, edx]",
        "supported:",
    ]
    lines += ["  - [%s]" % ", ".join(hexs(v) for v in e) for e in supported]
    lines.append("emulated:")
    lines += ["  - [%s]" % ", ".join(hexs(v) for v in e) for e in emulated]
    lines += [
        "# KVM_GET_MSR_FEATURE_INDEX_LIST's indices and their KVM_GET_MSRS values (the whole list:",
        "# an index not here reads as 0 in QEMU)",
        "feature-msrs: {%s}" % ", ".join('"0x%x": 0x%x' % (i, v) for i, v in sorted(msrs.items())),
        "feature-msrs-complete: true",
        "# KVM_GET_MSR_INDEX_LIST",
        "msr-index-list: [%s]" % ", ".join("0x%x" % i for i in sorted(index_list)),
        "# KVM_GET_TSC_KHZ of a new vCPU",
        "tsc-khz: %d" % khz,
    ]
    lines += [
        "sources:",
        "  refs:",
        "    capture: %s"
        % json.dumps(
            "python3 tools/capture_x86_kvm_cpuid.py -o %s --name %s, %s, on %s"
            % (a.output, a.name, time.strftime("%Y-%m-%d"), platform.node() or "?")
        ),
        '    ioctls: "KVM_GET_SUPPORTED_CPUID, KVM_GET_EMULATED_CPUID, KVM_CHECK_EXTENSION,'
        ' KVM_GET_MSR_FEATURE_INDEX_LIST, KVM_GET_MSRS, KVM_GET_MSR_INDEX_LIST, KVM_GET_TSC_KHZ on /dev/kvm"',
        '    cpuinfo: "/proc/cpuinfo (first CPU), uname -r"',
        "  fields: {supported: ioctls, emulated: ioctls, kvm-caps: ioctls, feature-msrs: ioctls,"
        " feature-msrs-complete: ioctls, msr-index-list: ioctls, tsc-khz: ioctls, cpu: cpuinfo, kernel: cpuinfo}",
    ]
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with open(a.output, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(
        "%s: %d supported, %d emulated entries, %d feature MSRs"
        % (a.output, len(supported), len(emulated), len(msrs))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
