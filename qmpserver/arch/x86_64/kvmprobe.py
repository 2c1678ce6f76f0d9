"""This machine's x86 KVM CPUID data, read from ``/dev/kvm``: what ``-cpu host`` starts from.

The one owner of the ``/dev/kvm`` probing that ``qmpserver profiles capture``
(:mod:`qmpserver.profiles.capture`), ``tools/capture_x86_kvm_cpuid.py`` and the tests' live
host (``tests/support/livehost.py``) share.  It asks the kernel's uapi (``linux/kvm.h``):

* ``KVM_GET_API_VERSION`` (``_IO(KVMIO, 0x00)``): 12 on every modern kernel (the host file's
  ``kvm.api_version``);
* ``KVM_GET_SUPPORTED_CPUID`` (``_IOWR(KVMIO, 0x05, struct kvm_cpuid2)``): the host's CPUID
  leaves ANDed with what KVM virtualises, plus what KVM emulates; a too-small ``nent`` is
  ``E2BIG``, so the buffer grows until it fits;
* ``KVM_GET_EMULATED_CPUID`` (``_IOWR(KVMIO, 0x09, …)``): the purely emulated features;
* ``KVM_CHECK_EXTENSION`` (``_IO(KVMIO, 0x03)``) of the capabilities QEMU's ``-cpu host`` rules
  read (:data:`CAPS`);
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
three u32 of padding (40 bytes); ``struct kvm_cpuid2`` and ``struct kvm_msrs`` start with
``nent``/``nmsrs`` and a u32 of padding, ``struct kvm_msr_list`` with ``nmsrs`` alone; a
``struct kvm_msr_entry`` is ``index``, a u32 of padding and a u64 ``data``.  The APIC-ID
fields (leaf 1 EBX[31:24], leaf 0xB/0x1F EDX) are those of the CPU the ioctl ran on and differ
between two runs.

:func:`render` writes the ``models/x86_64/hosts/*.yaml`` file (``kind: x86-kvm-cpuid``) that
:mod:`.hostcpu` reads and a host file names with ``x86_cpuid``.  A failing open or ioctl is a
:class:`KvmProbeError`, one line naming the ioctl.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import platform
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

DEVICE = "/dev/kvm"
KVMIO = 0xAE


def _iowr(nr: int, size: int) -> int:
    return (3 << 30) | (size << 16) | (KVMIO << 8) | nr


KVM_GET_API_VERSION = (KVMIO << 8) | 0x00
KVM_CHECK_EXTENSION = (KVMIO << 8) | 0x03
KVM_GET_SUPPORTED_CPUID = _iowr(0x05, 8)
KVM_GET_EMULATED_CPUID = _iowr(0x09, 8)
KVM_GET_MSR_INDEX_LIST = _iowr(0x02, 4)
KVM_GET_MSR_FEATURE_INDEX_LIST = _iowr(0x0A, 4)
KVM_GET_MSRS = _iowr(0x88, 8)
KVM_CREATE_VM = (KVMIO << 8) | 0x01
KVM_CREATE_VCPU = (KVMIO << 8) | 0x41
KVM_GET_TSC_KHZ = (KVMIO << 8) | 0xA3
ENTRY = struct.Struct("<7I12x")  # struct kvm_cpuid_entry2
MSR_ENTRY = struct.Struct("<IIQ")  # struct kvm_msr_entry
# KVM_CHECK_EXTENSION numbers (linux/kvm.h) of the capabilities QEMU's -cpu host rules read
CAPS = {
    "KVM_CAP_IRQCHIP": 0,
    "KVM_CAP_TSC_DEADLINE_TIMER": 72,
    "KVM_CAP_SPLIT_IRQCHIP": 121,
    "KVM_CAP_X2APIC_API": 129,
    "KVM_CAP_X86_DISABLE_EXITS": 143,
}
# the caps a host file's kvm.caps carries (models/hosts/x86-*.yaml); the CPUID file has all CAPS
HOST_CAPS = ("KVM_CAP_IRQCHIP", "KVM_CAP_TSC_DEADLINE_TIMER", "KVM_CAP_SPLIT_IRQCHIP", "KVM_CAP_X2APIC_API")
# how far the E2BIG loops grow their buffers
MAX_CPUID_ENTRIES = 4096
MAX_MSRS = 1 << 16
IOCTLS = (
    "KVM_GET_SUPPORTED_CPUID, KVM_GET_EMULATED_CPUID, KVM_CHECK_EXTENSION, KVM_GET_MSR_FEATURE_INDEX_LIST,"
    " KVM_GET_MSRS, KVM_GET_MSR_INDEX_LIST, KVM_GET_TSC_KHZ on /dev/kvm"
)
# /proc/cpuinfo keys of the first processor -> (host-format cpu field, type)
CPUINFO_KEYS = {
    "vendor_id": ("vendor", str),
    "model name": ("model_name", str),
    "cpu family": ("family", int),
    "model": ("model", int),
    "stepping": ("stepping", int),
}

# the ioctl call (tests replace it to feed canned bytes)
_ioctl: Callable[..., int] = fcntl.ioctl


class KvmProbeError(Exception):
    """A one-line reason the probe failed (the device or ioctl, and the kernel's error)."""


@dataclass
class Probe:
    """What :func:`probe` read: ``supported``/``emulated`` are ``[function, index, flags, eax,
    ebx, ecx, edx]`` lists, ``feature_msrs`` index -> value."""

    supported: list[list[int]]
    emulated: list[list[int]]
    caps: dict[str, int]
    feature_msrs: dict[int, int]
    msr_index_list: list[int]
    tsc_khz: int
    api_version: int
    cpu: dict[str, Any] = field(default_factory=dict)
    release: str = ""


def unavailable(device: str = DEVICE) -> str | None:
    """Why this machine cannot be probed (not x86_64, no usable device), or None."""
    machine = platform.machine()
    if machine not in ("x86_64", "amd64", "AMD64"):
        return "this machine is %s, not x86_64" % machine
    if not os.path.exists(device):
        return "%s does not exist (no KVM here)" % device
    if not os.access(device, os.R_OK | os.W_OK):
        return "%s is not readable and writable by this user" % device
    return None


def _call(fd: int, name: str, request: int, arg: Any = 0) -> int:
    try:
        return _ioctl(fd, request, arg, True) if isinstance(arg, bytearray) else _ioctl(fd, request, arg)
    except OSError as e:
        raise KvmProbeError(
            "%s: %s failed: %s" % (DEVICE, name, e.strerror or errno.errorcode.get(e.errno or 0, str(e)))
        ) from None


def cpuid2_buffer(nent: int) -> bytearray:
    """A ``struct kvm_cpuid2`` with room for ``nent`` entries."""
    return bytearray(struct.pack("<II", nent, 0) + bytes(ENTRY.size * nent))


def parse_cpuid2(buf: bytes | bytearray) -> list[list[int]]:
    """[function, index, flags, eax, ebx, ecx, edx] per entry of a filled ``struct kvm_cpuid2``."""
    n = struct.unpack_from("<I", buf)[0]
    if 8 + n * ENTRY.size > len(buf):
        raise KvmProbeError("struct kvm_cpuid2: nent %d does not fit a %d-byte buffer" % (n, len(buf)))
    return [list(ENTRY.unpack_from(buf, 8 + i * ENTRY.size)) for i in range(n)]


def msr_list_buffer(nmsrs: int) -> bytearray:
    """A ``struct kvm_msr_list`` with room for ``nmsrs`` indices."""
    return bytearray(struct.pack("<I", nmsrs) + bytes(4 * nmsrs))


def parse_msr_list(buf: bytes | bytearray) -> list[int]:
    """The indices of a filled ``struct kvm_msr_list``."""
    n = struct.unpack_from("<I", buf)[0]
    if 4 + 4 * n > len(buf):
        raise KvmProbeError("struct kvm_msr_list: nmsrs %d does not fit a %d-byte buffer" % (n, len(buf)))
    return list(struct.unpack_from("<%dI" % n, buf, 4))


def msrs_buffer(index: int) -> bytearray:
    """A ``struct kvm_msrs`` asking for one MSR."""
    return bytearray(struct.pack("<II", 1, 0) + MSR_ENTRY.pack(index, 0, 0))


def parse_msrs(buf: bytes | bytearray) -> tuple[int, int]:
    """(index, data) of the single entry of a filled ``struct kvm_msrs``."""
    index, _, data = MSR_ENTRY.unpack_from(buf, 8)
    return index, data


def cpuid2(fd: int, request: int, name: str) -> list[list[int]]:
    """A ``struct kvm_cpuid2`` ioctl, growing the buffer on ``E2BIG``."""
    nent = 64
    while True:
        buf = cpuid2_buffer(nent)
        try:
            _ioctl(fd, request, buf, True)
        except OSError as e:
            if e.errno == errno.E2BIG and nent < MAX_CPUID_ENTRIES:
                nent *= 2
                continue
            raise KvmProbeError("%s: %s failed: %s" % (DEVICE, name, e.strerror or e)) from None
        return parse_cpuid2(buf)


def msr_list(fd: int, request: int, name: str) -> list[int]:
    """The indices of a ``struct kvm_msr_list`` ioctl (``E2BIG`` gives the count needed)."""
    nmsrs = 64
    while True:
        buf = msr_list_buffer(nmsrs)
        try:
            _ioctl(fd, request, buf, True)
        except OSError as e:
            if e.errno == errno.E2BIG and nmsrs < MAX_MSRS:
                nmsrs = max(struct.unpack_from("<I", buf)[0], nmsrs * 2)
                continue
            raise KvmProbeError("%s: %s failed: %s" % (DEVICE, name, e.strerror or e)) from None
        return parse_msr_list(buf)


def feature_msrs(fd: int, indices: list[int]) -> dict[int, int]:
    """``KVM_GET_MSRS`` on the system fd, one feature MSR at a time (the ioctl answers the
    number of MSRs read; an MSR it does not read is left out)."""
    out = {}
    for index in indices:
        buf = msrs_buffer(index)
        if _call(fd, "KVM_GET_MSRS(0x%x)" % index, KVM_GET_MSRS, buf) == 1:
            out[index] = parse_msrs(buf)[1]
    return out


def tsc_khz(fd: int) -> int:
    """``KVM_GET_TSC_KHZ`` of vCPU 0 of a new VM (closed again)."""
    vm = _call(fd, "KVM_CREATE_VM", KVM_CREATE_VM)
    try:
        vcpu = _call(vm, "KVM_CREATE_VCPU", KVM_CREATE_VCPU)
        try:
            return _call(vcpu, "KVM_GET_TSC_KHZ", KVM_GET_TSC_KHZ)
        finally:
            os.close(vcpu)
    finally:
        os.close(vm)


def cpuinfo(path: str = "/proc/cpuinfo") -> dict[str, Any]:
    """The first processor's identity in /proc/cpuinfo, in the file's order ({} when
    unreadable; a value that is not a number where one is expected is left out)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return {}
    out: dict[str, Any] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        spec = CPUINFO_KEYS.get(key.strip())
        if sep and spec and spec[0] not in out:
            try:
                out[spec[0]] = spec[1](value.strip())
            except ValueError:
                continue
    return out


def probe(device: str = DEVICE) -> Probe:
    """Everything the module docstring lists, from ``device``; :class:`KvmProbeError` when the
    device cannot be opened or an ioctl fails."""
    try:
        fd = os.open(device, os.O_RDWR)
    except OSError as e:
        raise KvmProbeError("%s: %s" % (device, e.strerror or e)) from None
    try:
        api = _call(fd, "KVM_GET_API_VERSION", KVM_GET_API_VERSION)
        supported = cpuid2(fd, KVM_GET_SUPPORTED_CPUID, "KVM_GET_SUPPORTED_CPUID")
        emulated = cpuid2(fd, KVM_GET_EMULATED_CPUID, "KVM_GET_EMULATED_CPUID")
        caps = {k: _call(fd, "KVM_CHECK_EXTENSION(%s)" % k, KVM_CHECK_EXTENSION, n) for k, n in CAPS.items()}
        msrs = feature_msrs(
            fd, msr_list(fd, KVM_GET_MSR_FEATURE_INDEX_LIST, "KVM_GET_MSR_FEATURE_INDEX_LIST")
        )
        index_list = msr_list(fd, KVM_GET_MSR_INDEX_LIST, "KVM_GET_MSR_INDEX_LIST")
        khz = tsc_khz(fd)
    finally:
        os.close(fd)
    return Probe(supported, emulated, caps, msrs, index_list, khz, api, cpuinfo(), platform.release())


def _hexs(v: int) -> str:
    return "0x%08x" % v


def render(p: Probe, name: str, recorded_by: str, capture: str) -> str:
    """The ``kind: x86-kvm-cpuid`` file of ``p``: ``recorded_by`` names the program in the
    header comment, ``capture`` is ``sources.refs.capture`` (command, date, machine)."""
    lines = [
        "# Recorded by %s from /dev/kvm; regenerate, do not edit by hand." % recorded_by,
        "kind: x86-kvm-cpuid",
        "name: %s" % name,
        "cpu: %s" % json.dumps(p.cpu),
        "kernel: %s" % json.dumps({"release": p.release}),
        "kvm-caps: %s" % json.dumps(p.caps),
        "# [function, index, flags, eax, ebx, ecx, edx]",
        "supported:",
    ]
    lines += ["  - [%s]" % ", ".join(_hexs(v) for v in e) for e in p.supported]
    lines.append("emulated:")
    lines += ["  - [%s]" % ", ".join(_hexs(v) for v in e) for e in p.emulated]
    lines += [
        "# KVM_GET_MSR_FEATURE_INDEX_LIST's indices and their KVM_GET_MSRS values (the whole list:",
        "# an index not here reads as 0 in QEMU)",
        "feature-msrs: {%s}" % ", ".join('"0x%x": 0x%x' % (i, v) for i, v in sorted(p.feature_msrs.items())),
        "feature-msrs-complete: true",
        "# KVM_GET_MSR_INDEX_LIST",
        "msr-index-list: [%s]" % ", ".join("0x%x" % i for i in sorted(p.msr_index_list)),
        "# KVM_GET_TSC_KHZ of a new vCPU",
        "tsc-khz: %d" % p.tsc_khz,
        "sources:",
        "  refs:",
        "    capture: %s" % json.dumps(capture),
        '    ioctls: "%s"' % IOCTLS,
        '    cpuinfo: "/proc/cpuinfo (first CPU), uname -r"',
        "  fields: {supported: ioctls, emulated: ioctls, kvm-caps: ioctls, feature-msrs: ioctls,"
        " feature-msrs-complete: ioctls, msr-index-list: ioctls, tsc-khz: ioctls, cpu: cpuinfo, kernel: cpuinfo}",
    ]
    return "\n".join(lines) + "\n"


def host_kvm(p: Probe) -> dict[str, Any]:
    """The host file's ``kvm`` section (schemas/host.schema.json) from ``p``."""
    return {
        "present": True,
        "api_version": p.api_version,
        "caps": {k: p.caps[k] for k in HOST_CAPS if k in p.caps},
    }
