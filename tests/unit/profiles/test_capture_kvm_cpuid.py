"""``profiles capture`` records the host's KVM CPUID data beside the host it writes (x86_64 under
KVM), or says why not; a failing /dev/kvm ioctl is one line.  Against the fake QEMU, with the
probe's answers canned (no /dev/kvm needed); the real capture is test_capture_x86_kvm.py."""

import datetime
import os

import pytest
import yaml
from capture_testutil import schema_validator

from qmpserver.arch.x86_64 import kvmprobe
from qmpserver.profiles import capture as C

DAY = datetime.date(2026, 11, 21)
X86 = {"query-target": {"arch": "x86_64"}}
PROBE = kvmprobe.Probe(
    supported=[
        [0, 0, 0, 0x1C, 0x68747541, 0x444D4163, 0x69746E65],
        [1, 0, 0, 0xA10F11, 0x800, 0x80000000, 0x178BFBFF],
    ],
    emulated=[],
    caps={
        "KVM_CAP_IRQCHIP": 1,
        "KVM_CAP_TSC_DEADLINE_TIMER": 1,
        "KVM_CAP_SPLIT_IRQCHIP": 1,
        "KVM_CAP_X2APIC_API": 15,
        "KVM_CAP_X86_DISABLE_EXITS": 14,
    },
    feature_msrs={0x10A: 0x69},
    msr_index_list=[0x10, 0x10A],
    tsc_khz=2596138,
    api_version=12,
    cpu={"vendor": "AuthenticAMD", "family": 25, "model": 17, "model_name": "AMD EPYC", "stepping": 1},
    release="6.18.44",
)


@pytest.fixture
def x86_machine(monkeypatch):
    """This machine is an x86_64 one with a usable /dev/kvm whose probe answers PROBE."""
    monkeypatch.setattr(C, "_local_arch", lambda: "x86_64")
    monkeypatch.setattr(kvmprobe, "unavailable", lambda device=kvmprobe.DEVICE: None)
    monkeypatch.setattr(kvmprobe, "probe", lambda device=kvmprobe.DEVICE: PROBE)


@pytest.fixture
def out(tmp_path):
    return tmp_path / "models"


def cli(binary, out, *extra):
    return C.main(["--emulator", binary, "-o", str(out), "--name", "fx", "-q", *extra], prog="capture")


def test_x86_kvm_capture_writes_the_cpuid_file_the_host_names(fake_qemu, out, x86_machine, capsys):
    assert cli(fake_qemu(answers=X86), out) == 0
    printed = capsys.readouterr()
    cpuid = out / "x86_64" / "hosts" / "fx.yaml"
    assert "x86_cpuid: %s" % cpuid in printed.out and "not recorded" not in printed.err
    text = cpuid.read_text()
    assert text.startswith("# Recorded by qmpserver.profiles.capture from /dev/kvm;")
    data = yaml.safe_load(text)
    assert data["name"] == "fx" and data["supported"] == PROBE.supported and data["tsc-khz"] == 2596138
    assert data["sources"]["refs"]["capture"].startswith("capture --emulator ")
    host = yaml.safe_load((out / "hosts" / "fx.yaml").read_text())
    assert host["x86_cpuid"] == "fx"
    assert host["kvm"] == {
        "present": True,
        "api_version": 12,
        "caps": {
            "KVM_CAP_IRQCHIP": 1,
            "KVM_CAP_TSC_DEADLINE_TIMER": 1,
            "KVM_CAP_SPLIT_IRQCHIP": 1,
            "KVM_CAP_X2APIC_API": 15,
        },
    }
    fields, refs = host["sources"]["fields"], host["sources"]["refs"]
    assert fields["x86_cpuid"] == fields["kvm.caps"] == fields["kvm.api_version"] == "kvm-cpuid"
    assert "kernel 6.18.44" in refs["kvm-cpuid"] and "capture --emulator" in refs["kvm-cpuid"]
    assert list(host)[-2:] == ["x86_cpuid", "sources"]
    schema_validator()("host", out / "hosts" / "fx.yaml")


def test_force_is_needed_to_replace_the_cpuid_file(fake_qemu, out, x86_machine, capsys):
    cpuid = out / "x86_64" / "hosts" / "fx.yaml"
    cpuid.parent.mkdir(parents=True)
    cpuid.write_text("old")
    assert cli(fake_qemu(answers=X86), out) == 1
    err = capsys.readouterr().err
    assert err == "capture: error: %s already exists (use --force to replace it)\n" % cpuid
    assert cpuid.read_text() == "old" and not (out / "hosts").exists()
    assert cli(fake_qemu(answers=X86), out, "--force") == 0
    assert yaml.safe_load(cpuid.read_text())["kind"] == "x86-kvm-cpuid"


def test_failing_ioctl_is_one_line_and_writes_nothing(fake_qemu, out, x86_machine, monkeypatch, capsys):
    def boom(device=kvmprobe.DEVICE):
        raise kvmprobe.KvmProbeError("/dev/kvm: KVM_GET_MSR_FEATURE_INDEX_LIST failed: Invalid argument")

    monkeypatch.setattr(kvmprobe, "probe", boom)
    assert cli(fake_qemu(answers=X86), out) == 1
    err = capsys.readouterr().err
    assert err == (
        "capture: error: recording the host's KVM CPUID data: "
        "/dev/kvm: KVM_GET_MSR_FEATURE_INDEX_LIST failed: Invalid argument\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "setup, extra, why",
    [
        (
            {"unavailable": "/dev/kvm does not exist (no KVM here)"},
            (),
            "/dev/kvm does not exist (no KVM here)",
        ),
        ({}, ("--accel", "tcg"), "--accel tcg; the host's CPUID data matters under KVM only"),
        ({"accel": {"kvm:tcg": "tcg"}}, (), "QEMU's probe ran tcg, not kvm"),
        ({"arch": "aarch64"}, (), "this machine is aarch64; KVM runs x86_64 guests on x86_64 hosts only"),
    ],
)
def test_not_recorded_says_why(fake_qemu, out, x86_machine, monkeypatch, capsys, setup, extra, why):
    if "unavailable" in setup:
        monkeypatch.setattr(kvmprobe, "unavailable", lambda device=kvmprobe.DEVICE: setup["unavailable"])
    if "arch" in setup:
        monkeypatch.setattr(C, "_local_arch", lambda: setup["arch"])
    monkeypatch.setattr(kvmprobe, "probe", lambda device=kvmprobe.DEVICE: pytest.fail("probed"))
    over = {"answers": X86}
    if "accel" in setup:
        over["accel"] = setup["accel"]
    assert cli(fake_qemu(**over), out, *extra) == 0
    printed = capsys.readouterr()
    assert "capture: note: the host's x86 KVM CPUID data was not recorded: %s\n" % why in printed.err
    assert not (out / "x86_64").exists() and "x86_cpuid:" not in printed.out
    host = yaml.safe_load((out / "hosts" / "fx.yaml").read_text())
    assert "x86_cpuid" not in host and host["sources"]["notes"]["x86_cpuid"] == "not recorded: " + why


def test_another_target_neither_probes_nor_notes(fake_qemu, out, x86_machine, monkeypatch, capsys):
    monkeypatch.setattr(kvmprobe, "probe", lambda device=kvmprobe.DEVICE: pytest.fail("probed"))
    assert cli(fake_qemu(accel={"kvm:tcg": "tcg"}), out) == 0  # an aarch64 QEMU, TCG on this machine
    assert "CPUID" not in capsys.readouterr().err and not (out / "x86_64").exists()


def test_build_only_neither_probes_nor_notes(fake_qemu, out, x86_machine, monkeypatch, capsys):
    monkeypatch.setattr(kvmprobe, "probe", lambda device=kvmprobe.DEVICE: pytest.fail("probed"))
    assert cli(fake_qemu(answers=X86), out, "--build-only") == 0
    printed = capsys.readouterr()
    assert "CPUID" not in printed.err and not (out / "x86_64").exists()


def test_library_result_carries_the_probe(fake_qemu, out, x86_machine):
    result = C.run_capture(fake_qemu(answers=X86), "kvm", timeout=10)
    assert result["kvm_cpuid"] is PROBE and result["kvm_cpuid_note"] is None
    paths = C.write_capture(result, out, "fx", "capture-test", today=DAY)
    assert set(paths) == {"build", "host", "profile", "x86_cpuid"}
    assert "capture-test, 2026-11-21, on " in paths["x86_cpuid"].read_text()
    assert os.path.basename(paths["x86_cpuid"]) == "fx.yaml"
