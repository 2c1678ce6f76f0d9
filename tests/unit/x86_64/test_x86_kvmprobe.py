"""The /dev/kvm probe (qmpserver/arch/x86_64/kvmprobe.py) on canned bytes: the kernel structs
it parses, the E2BIG buffer growth, a failing ioctl as one line, and the CPUID file it renders
(byte-identical to a committed capture).  No /dev/kvm needed."""

from __future__ import annotations

import errno
import os
import struct

import pytest
import yaml

from qmpserver.arch.x86_64 import hostcpu, kvmprobe
from qmpserver.models import MODELS_DIR

E1 = [0x0, 0x0, 0x0, 0x1C, 0x68747541, 0x444D4163, 0x69746E65]
E2 = [0x7, 0x1, 0x1, 0x10, 0x0, 0x0, 0xFFFFFFFF]


def cpuid2_bytes(entries, room):
    buf = struct.pack("<II", len(entries), 0)
    for e in entries:
        buf += struct.pack("<7I", *e) + bytes(12)
    return bytearray(buf + bytes(40 * (room - len(entries))))


def test_parse_cpuid2():
    assert kvmprobe.parse_cpuid2(cpuid2_bytes([E1, E2], 4)) == [E1, E2]
    assert kvmprobe.ENTRY.size == 40


def test_parse_cpuid2_refuses_an_nent_larger_than_the_buffer():
    buf = cpuid2_bytes([E1], 1)
    struct.pack_into("<I", buf, 0, 5)
    with pytest.raises(kvmprobe.KvmProbeError, match="nent 5 does not fit a 48-byte buffer"):
        kvmprobe.parse_cpuid2(buf)


def test_parse_msr_list_and_msrs():
    assert kvmprobe.parse_msr_list(struct.pack("<I3I", 3, 0x10A, 0x345, 0x48B) + bytes(8)) == [
        0x10A,
        0x345,
        0x48B,
    ]
    with pytest.raises(kvmprobe.KvmProbeError, match="nmsrs 9"):
        kvmprobe.parse_msr_list(struct.pack("<II", 9, 1))
    buf = kvmprobe.msrs_buffer(0x10A)
    assert bytes(buf) == struct.pack("<IIIIQ", 1, 0, 0x10A, 0, 0)
    struct.pack_into("<Q", buf, 16, 0x400000000C000069)
    assert kvmprobe.parse_msrs(buf) == (0x10A, 0x400000000C000069)


class FakeKvm:
    """Answers the probe's ioctls from canned data; ``fail`` names a request to fail."""

    def __init__(self, fail=None, fail_errno=errno.EINVAL):
        self.fail, self.fail_errno = fail, fail_errno
        self.sizes = []

    def __call__(self, fd, request, arg=0, mutate=False):
        if request == self.fail:
            raise OSError(self.fail_errno, os.strerror(self.fail_errno))
        if request in (kvmprobe.KVM_GET_SUPPORTED_CPUID, kvmprobe.KVM_GET_EMULATED_CPUID):
            nent = struct.unpack_from("<I", arg)[0]
            self.sizes.append(nent)
            entries = [E1, E2] * 50 if request == kvmprobe.KVM_GET_SUPPORTED_CPUID else [E2]
            if nent < len(entries):
                raise OSError(errno.E2BIG, "Argument list too long")
            arg[:] = cpuid2_bytes(entries, nent)
            return 0
        if request in (kvmprobe.KVM_GET_MSR_FEATURE_INDEX_LIST, kvmprobe.KVM_GET_MSR_INDEX_LIST):
            want = [0x10A, 0x345] if request == kvmprobe.KVM_GET_MSR_FEATURE_INDEX_LIST else list(range(100))
            nmsrs = struct.unpack_from("<I", arg)[0]
            if nmsrs < len(want):
                struct.pack_into("<I", arg, 0, len(want))  # the kernel says how many it needs
                raise OSError(errno.E2BIG, "Argument list too long")
            struct.pack_into("<I%dI" % len(want), arg, 0, len(want), *want)
            return 0
        if request == kvmprobe.KVM_GET_MSRS:
            index = struct.unpack_from("<I", arg, 8)[0]
            struct.pack_into("<Q", arg, 16, {0x10A: 0x69, 0x345: 0x0}[index])
            return 1
        if request == kvmprobe.KVM_CHECK_EXTENSION:
            return {0: 1, 72: 1, 121: 1, 129: 15, 143: 14}[arg]
        if request in (kvmprobe.KVM_CREATE_VM, kvmprobe.KVM_CREATE_VCPU):
            return os.open(os.devnull, os.O_RDONLY)
        if request == kvmprobe.KVM_GET_TSC_KHZ:
            return 2596138
        if request == kvmprobe.KVM_GET_API_VERSION:
            return 12
        raise AssertionError("unexpected ioctl %#x" % request)


@pytest.fixture
def device(tmp_path):
    dev = tmp_path / "kvm"
    dev.write_bytes(b"")
    return str(dev)


def test_probe_grows_the_buffers_and_reads_everything(monkeypatch, device):
    fake = FakeKvm()
    monkeypatch.setattr(kvmprobe, "_ioctl", fake)
    p = kvmprobe.probe(device)
    assert p.supported == [E1, E2] * 50 and p.emulated == [E2]
    assert fake.sizes == [64, 128, 64]  # E2BIG doubled the supported buffer once
    assert p.msr_index_list == list(range(100))  # grown to the count the kernel asked for
    assert p.feature_msrs == {0x10A: 0x69, 0x345: 0}
    assert p.caps == {
        "KVM_CAP_IRQCHIP": 1,
        "KVM_CAP_TSC_DEADLINE_TIMER": 1,
        "KVM_CAP_SPLIT_IRQCHIP": 1,
        "KVM_CAP_X2APIC_API": 15,
        "KVM_CAP_X86_DISABLE_EXITS": 14,
    }
    assert p.tsc_khz == 2596138 and p.api_version == 12 and p.release == os.uname().release
    assert kvmprobe.host_kvm(p) == {
        "present": True,
        "api_version": 12,
        "caps": {
            "KVM_CAP_IRQCHIP": 1,
            "KVM_CAP_TSC_DEADLINE_TIMER": 1,
            "KVM_CAP_SPLIT_IRQCHIP": 1,
            "KVM_CAP_X2APIC_API": 15,
        },
    }


@pytest.mark.parametrize(
    "request_, message",
    [
        (kvmprobe.KVM_GET_SUPPORTED_CPUID, "/dev/kvm: KVM_GET_SUPPORTED_CPUID failed: Invalid argument"),
        (
            kvmprobe.KVM_GET_MSR_FEATURE_INDEX_LIST,
            "/dev/kvm: KVM_GET_MSR_FEATURE_INDEX_LIST failed: Invalid argument",
        ),
        (kvmprobe.KVM_GET_MSRS, "/dev/kvm: KVM_GET_MSRS(0x10a) failed: Invalid argument"),
        (kvmprobe.KVM_CREATE_VCPU, "/dev/kvm: KVM_CREATE_VCPU failed: Invalid argument"),
    ],
)
def test_a_failing_ioctl_is_one_line(monkeypatch, device, request_, message):
    monkeypatch.setattr(kvmprobe, "_ioctl", FakeKvm(fail=request_))
    with pytest.raises(kvmprobe.KvmProbeError) as e:
        kvmprobe.probe(device)
    assert str(e.value) == message


def test_e2big_without_end_is_an_error(monkeypatch, device):
    fake = FakeKvm()
    monkeypatch.setattr(kvmprobe, "MAX_CPUID_ENTRIES", 64)
    monkeypatch.setattr(kvmprobe, "_ioctl", fake)
    with pytest.raises(
        kvmprobe.KvmProbeError, match="KVM_GET_SUPPORTED_CPUID failed: Argument list too long"
    ):
        kvmprobe.probe(device)


def test_device_that_cannot_be_opened(tmp_path):
    with pytest.raises(kvmprobe.KvmProbeError) as e:
        kvmprobe.probe(str(tmp_path / "nokvm"))
    assert str(e.value) == "%s: No such file or directory" % (tmp_path / "nokvm")
    assert kvmprobe.unavailable(str(tmp_path / "nokvm")) in (
        "%s does not exist (no KVM here)" % (tmp_path / "nokvm"),
        "this machine is %s, not x86_64" % os.uname().machine,
    )


def test_cpuinfo_first_processor(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
        "model name\t: AMD EPYC\nstepping\t: x\n\nprocessor\t: 1\nvendor_id\t: Other\n"
    )
    assert kvmprobe.cpuinfo(str(f)) == {
        "vendor": "AuthenticAMD",
        "family": 25,
        "model": 17,
        "model_name": "AMD EPYC",
    }
    assert kvmprobe.cpuinfo(str(tmp_path / "none")) == {}


def committed_probe(path):
    d = yaml.safe_load(open(path, encoding="utf-8"))
    return d, kvmprobe.Probe(
        supported=d["supported"],
        emulated=d["emulated"],
        caps=d["kvm-caps"],
        feature_msrs={int(k, 16): v for k, v in d["feature-msrs"].items()},
        msr_index_list=d["msr-index-list"],
        tsc_khz=d["tsc-khz"],
        api_version=12,
        cpu=d["cpu"],
        release=d["kernel"]["release"],
    )


def test_render_is_byte_identical_to_the_committed_capture():
    """The AMD capture machine's file, written by the tool before the probe moved into the
    package, is what render() writes from the same figures."""
    path = os.path.join(MODELS_DIR, "x86_64", "hosts", "capture-amd-epyc-6.18.yaml")
    d, p = committed_probe(path)
    text = kvmprobe.render(p, d["name"], "tools/capture_x86_kvm_cpuid.py", d["sources"]["refs"]["capture"])
    assert text == open(path, encoding="utf-8").read()
    # and what it writes is what hostcpu reads
    host = yaml.safe_load(text)
    assert hostcpu.leaf(host, 0)["EAX"] == p.supported[0][3]
