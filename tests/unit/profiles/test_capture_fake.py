"""The capture tool against a fake QEMU (tests/unit/profiles/fake_qemu.py): logic and errors."""

import datetime
import json
import os

import pytest
import yaml
from capture_testutil import schema_validator

from qmpserver.profiles import capture as C
from qmpserver.profiles import replies as R

DAY = datetime.date(2026, 11, 21)


def run(binary, tmp_path, accel="kvm", name="fake", **kw):
    result = C.run_capture(binary, accel, timeout=10)
    paths = C.write_capture(result, tmp_path / "models", name, "capture-test", today=DAY, **kw)
    return result, paths


def entries_of(paths):
    return R.load_replies_json(paths["build"] / "replies.json")["entries"]


def test_kvm_then_tcg(fake_qemu, tmp_path):
    result, paths = run(fake_qemu(), tmp_path)
    assert [p.accel for p in result["passes"]] == ["kvm", "tcg"]
    build = yaml.safe_load((paths["build"] / "build.yaml").read_text())
    assert build["version"] == "9.0.0" and build["package"] == "fake-1"
    assert build["target"] == "aarch64" and build["accelerators"] == ["kvm", "tcg"]
    assert build["sources"]["passes"] == ["kvm", "tcg"]
    assert build["sources"]["refs"]["capture"] == "capture-test, 2026-11-21"
    assert "-machine none,accel=kvm:tcg" in build["sources"]["refs"]["launch-probe-kvm"]
    assert "-machine virt,accel=tcg -cpu max" in build["sources"]["refs"]["launch-instance-tcg"]
    schema = json.loads((paths["build"] / "schema.json").read_text())
    assert schema == C.json.loads(json.dumps(schema)) and schema[0]["name"] == "query-status"
    doc = R.load_replies_json(paths["build"] / "replies.json")
    assert doc["greeting"]["QMP"]["capabilities"] == ["oob"]
    ents = doc["entries"]
    find = lambda *a, **k: R.find_entry(ents, *a, **k)  # noqa: E731
    assert find("query-kvm", accel="kvm")["return"] == {"enabled": True, "present": True}
    assert find("query-kvm", accel="tcg")["return"] == {"enabled": False, "present": True}
    host = find("query-cpu-model-expansion", {"type": "full", "model": {"name": "host"}}, accel="tcg")
    assert host["accel"] == "tcg" and "requires KVM" in host["error"]["desc"]
    host = find("query-cpu-model-expansion", {"type": "full", "model": {"name": "host"}}, accel="kvm")
    assert host["return"]["model"]["props"]["sve128"] is True
    hv = find("query-cpu-model-expansion", {"type": "full", "model": {"name": "max", "props": R.HV_PROPS}})
    assert hv["error"]["desc"] == "Parameter 'migratable' is unexpected"
    # every model expanded in the TCG pass only
    a57 = [e for e in ents if e.get("arguments") == {"type": "full", "model": {"name": "cortex-a57"}}]
    assert [e["accel"] for e in a57] == ["tcg"]
    # every machine type and CPU type listed
    for t in ("virt-9.0-machine", "none-machine", "max-arm-cpu", "host-arm-cpu", "cortex-a57-arm-cpu"):
        assert "return" in find("qom-list-properties", {"typename": t})
    assert find("device-list-properties", {"typename": "kvm-pit"})["error"]["class"] == "DeviceNotFound"
    # same answer in both passes: untagged
    assert "accel" not in find("query-machines")
    # instance launches: one per pass, in their own section, /machine properties read
    insts = doc["instances"]
    assert [(i["machine"], i["accel"], i["cpu"]) for i in insts] == [
        ("virt", "kvm", "host"),
        ("virt", "tcg", "max"),
    ]
    gic = R.find_entry(insts[0]["entries"], "qom-get", {"path": "/machine", "property": "gic-version"})
    assert gic == {
        "execute": "qom-get",
        "arguments": {"path": "/machine", "property": "gic-version"},
        "return": "3",
    }
    assert R.find_entry(insts[1]["entries"], "qom-list", {"path": "/machine"})["return"]
    none = find("qom-get", {"path": "/machine", "property": "gic-version"}, accel="kvm")
    assert "none-machine.gic-version" in none["error"]["desc"]
    assert not [e for e in ents if e["execute"] in ("qmp_capabilities", "query-qmp-schema")]


def test_host_and_profile_under_kvm(fake_qemu, tmp_path, monkeypatch):
    # KVM runs native guests only: pretend this machine is the aarch64 host the fake claims
    monkeypatch.setattr(C.os, "uname", lambda: os.uname_result(("Linux", "h", "6.12.0", "#1", "aarch64")))
    _, paths = run(fake_qemu(), tmp_path, name="Fake_Host")
    host = yaml.safe_load(paths["host"].read_text())
    assert host["kind"] == "host" and host["name"] == "fake-host" and host["arch"] == "aarch64"
    assert paths["host"].name == "fake-host.yaml"
    assert host["kvm"]["present"] is True
    assert host["kvm"]["sve_vector_lengths"] == [128]
    assert host["kvm"]["gic"] == {"v2": False, "v3": True}
    assert host["kvm"]["caps"] == {
        "KVM_CAP_ARM_PMU_V3": 1,
        "KVM_CAP_ARM_SVE": 1,
        "KVM_CAP_ARM_PTRAUTH_ADDRESS": 1,
        "KVM_CAP_ARM_PTRAUTH_GENERIC": 1,
        "KVM_CAP_STEAL_TIME": 1,
    }
    assert host["kernel"] == {"release": "6.12.0"}
    assert host["cpu"]["count"] == os.cpu_count() and host["cpu"]["midr"] == 0  # no sysfs MIDR here
    assert host["sources"]["fields"]["cpu.midr"] == "synthetic"
    assert host["sources"]["fields"]["kvm.caps.KVM_CAP_ARM_PTRAUTH_ADDRESS"] == "capture"
    assert host["sources"]["fields"]["kvm.caps.KVM_CAP_STEAL_TIME"] == "synthetic"
    for v in host["sources"]["fields"].values():
        assert v == "synthetic" or v in host["sources"]["refs"]
    prof = yaml.safe_load(paths["profile"].read_text())
    assert prof["host"] == "fake-host" and prof["build"] == prof["name"] == "Fake_Host"
    assert prof["defaults"] == {"accel": "kvm", "machine": "virt", "cpu": "host"}
    validate = schema_validator()
    validate("host", paths["host"])
    validate("profile", paths["profile"])
    validate("build", paths["build"] / "build.yaml")


def test_tcg_only(fake_qemu, tmp_path):
    result, paths = run(fake_qemu(), tmp_path, accel="tcg")
    assert [p.accel for p in result["passes"]] == ["tcg"]
    assert set(paths) == {"build", "host", "profile"}  # issue 14 item 8: a TCG capture is usable too
    ents = entries_of(paths)
    assert R.find_entry(ents, "query-version")["execute"] == "query-version"
    assert "accel" not in R.find_entry(ents, "query-version")
    assert R.find_entry(ents, "query-kvm")["accel"] == "tcg"


def test_no_kvm_means_one_pass(fake_qemu, tmp_path):
    result, _ = run(fake_qemu(accel={"kvm:tcg": "tcg", "tcg": "tcg"}), tmp_path)
    assert [p.accel for p in result["passes"]] == ["tcg"]


def test_crash_on_optional_command_is_noted(fake_qemu, tmp_path):
    result, paths = run(fake_qemu(crash_on=["qom-list-properties cortex-a57-arm-cpu"]), tmp_path)
    ents = entries_of(paths)
    assert R.find_entry(ents, "qom-list-properties", {"typename": "cortex-a57-arm-cpu"}) is None
    # later questions were still asked, on a relaunched QEMU
    assert R.find_entry(ents, "query-status")["return"]["status"] == "prelaunch"
    notes = [w for w in result["warnings"] if "cortex-a57-arm-cpu" in w]
    assert len(notes) == 2 and "not recorded, relaunched" in notes[0]
    build = yaml.safe_load((paths["build"] / "build.yaml").read_text())
    assert "cortex-a57-arm-cpu" in build["sources"]["refs"]["notes"]


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            {"errors": {"query-version": {"class": "GenericError", "desc": "nope"}}},
            "QEMU refused mandatory command query-version: GenericError: nope",
        ),
        (
            {"errors": {"qom-list-types": {"class": "GenericError", "desc": "nope"}}},
            "QEMU refused mandatory command qom-list-types",
        ),
        (
            {"errors": {"query-qmp-schema": {"class": "CommandNotFound", "desc": "x"}}},
            "QEMU refused mandatory command query-qmp-schema",
        ),
        ({"crash_on": ["query-machines None"]}, "QEMU closed the QMP connection"),
        ({"exit_code": 1}, "failed to start (exit 1): fake-qemu: simulated start failure"),
        ({"no_socket": True}, "exited 0 but its QMP socket"),
        ({"banner": "not an emulator"}, "does not look like a QEMU system emulator"),
    ],
)
def test_errors_are_one_line_and_write_nothing(fake_qemu, tmp_path, capsys, overrides, message):
    exe = fake_qemu(**overrides)
    out = tmp_path / "models"
    rc = C.main(["--emulator", exe, "-o", str(out), "--timeout", "1", "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert err.startswith("python -m qmpserver.profiles.capture: error: ") and message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_missing_and_non_executable(tmp_path, capsys):
    assert C.main(["--emulator", str(tmp_path / "nope"), "-o", str(tmp_path / "o"), "-q"]) == 1
    assert "no such file" in capsys.readouterr().err
    f = tmp_path / "plain"
    f.write_text("x")
    assert C.main(["--emulator", str(f), "-o", str(tmp_path / "o"), "-q"]) == 1
    assert "not an executable file" in capsys.readouterr().err


def test_cli_refuses_to_overwrite(fake_qemu, tmp_path, capsys, monkeypatch):
    # the fake claims KVM for aarch64 guests: pretend this machine is that aarch64 host
    monkeypatch.setattr(C.os, "uname", lambda: os.uname_result(("Linux", "h", "6.12.0", "#1", "aarch64")))
    exe = fake_qemu()
    out = tmp_path / "models"
    assert C.main(["--emulator", exe, "-o", str(out), "--name", "b", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "build: " in printed and "entries" in printed
    before = (out / "builds" / "b" / "replies.json").read_text()
    assert C.main(["--emulator", exe, "-o", str(out), "--name", "b", "-q"]) == 1
    assert "already exists (use --force" in capsys.readouterr().err
    assert (out / "builds" / "b" / "replies.json").read_text() == before
    assert C.main(["--emulator", exe, "-o", str(out), "--name", "b", "-q", "--force"]) == 0
    assert not [p for p in (out / "builds").iterdir() if p.name.startswith(".")]
    build = yaml.safe_load((out / "builds" / "b" / "build.yaml").read_text())
    assert build["sources"]["refs"]["capture"].startswith(
        f"python -m qmpserver.profiles.capture --emulator {exe} -o {out} --name b -q --force, "
    )


def test_daemon_is_terminated(fake_qemu):
    d = C.QemuDaemon(fake_qemu(), "none,accel=tcg", timeout=10)
    d.start()
    pid, workdir = d.pid, d.dir
    assert C._alive(pid)
    d.stop()
    assert not C._alive(pid) and not os.path.exists(workdir)


def test_local_host_facts_reads_midr(tmp_path, monkeypatch):
    regs = tmp_path / "cpu0" / "regs" / "identification"
    regs.mkdir(parents=True)
    (regs / "midr_el1").write_text("0x00000000413fd0c1\n")
    monkeypatch.setattr(C.os, "uname", lambda: os.uname_result(("Linux", "h", "6.8.0", "#1", "aarch64")))
    arch, facts, src, refs = C.local_host_facts("2026-11-21", sysfs=str(tmp_path))
    assert arch == "aarch64" and facts["kernel"] == {"release": "6.8.0"}
    assert facts["cpu"]["midr"] == 0x413FD0C1
    assert src["cpu.midr"] == "sysfs" and "0x00000000413fd0c1" in refs["sysfs"]


# ---- issue 14, items 7 and 8: the `qmpserver profiles capture` front end, usable output ----------


def test_front_end_force_label_and_early_refusal(fake_qemu, tmp_path, capsys, monkeypatch):
    """`qmpserver profiles capture` takes --force (its error told the user to), labels its errors
    with its own name, and refuses an existing output after the first two questions, not after
    the whole recording."""
    from qmpserver.cli import main as cli

    exe = fake_qemu()
    out = tmp_path / "models"
    argv = ["profiles", "capture", "--emulator", exe, "--accel", "tcg", "-o", str(out), "--name", "b", "-q"]
    assert cli(argv) == 0
    asked = []
    real_ask = C.Recorder.ask
    monkeypatch.setattr(
        C.Recorder, "ask", lambda self, *a, **k: (asked.append(a[0]), real_ask(self, *a, **k))[1]
    )
    capsys.readouterr()
    assert cli(argv) == 1
    err = capsys.readouterr().err
    assert (
        err
        == f"qmpserver profiles capture: error: {out}/builds/b already exists (use --force to replace it)\n"
    )
    assert asked == ["query-version", "query-target"]
    asked.clear()
    assert cli(argv + ["--force"]) == 0
    assert len(asked) > 50  # the whole recording this time
    build = yaml.safe_load((out / "builds" / "b" / "build.yaml").read_text())
    assert build["sources"]["refs"]["capture"].startswith("qmpserver profiles capture --emulator ")


def test_tcg_capture_ends_in_a_profile_that_starts(fake_qemu, tmp_path, capsys):
    """A TCG capture writes the machine it ran on as a TCG-only host and a profile of the two;
    `serve --profile FILE` starts it and answers from the captured build."""
    from capture_testutil import start_profile

    exe = fake_qemu()
    out = tmp_path / "models"
    assert C.main(["--emulator", exe, "--accel", "tcg", "-o", str(out), "--name", "t", "-q"]) == 0
    printed = capsys.readouterr().out
    assert f"profile: {out}/profiles/t.yaml" in printed
    host = yaml.safe_load((out / "hosts" / "t.yaml").read_text())
    assert host["kvm"] == {"present": False}
    assert host["targets"] == {"aarch64": {"accels": ["tcg"]}}
    assert host["sources"]["fields"]["kvm.present"] == "synthetic"
    assert "not probed" in host["sources"]["notes"]["kvm.present"]
    prof = yaml.safe_load((out / "profiles" / "t.yaml").read_text())
    assert prof["defaults"] == {"accel": "tcg", "machine": "virt", "cpu": "max"}
    (version,) = start_profile(out / "profiles" / "t.yaml", "query-version")
    assert "return" in version, version
    assert version["return"].get("qemu") == {"major": 9, "minor": 0, "micro": 0}, version
    assert version["return"]["package"] == "fake-1"


@pytest.mark.parametrize("ref", ["no-equals-sign", "=text without a name", "name=", " = "])
def test_capture_ref_garbage_is_one_line_and_exit_1(fake_qemu, tmp_path, capsys, ref):
    """`--ref NAME=TEXT` that is not NAME=TEXT: one labelled line, exit 1, nothing written."""
    exe = fake_qemu()
    out = tmp_path / "models"
    assert (
        C.main(["--emulator", exe, "--accel", "tcg", "-o", str(out), "--name", "t", "-q", "--ref", ref]) == 1
    )
    err = capsys.readouterr().err
    assert err.endswith("error: --ref %r: expected NAME=TEXT\n" % ref), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_capture_ref_lands_in_the_build_sources(fake_qemu, tmp_path):
    exe = fake_qemu()
    out = tmp_path / "models"
    argv = ["--emulator", exe, "--accel", "tcg", "-o", str(out), "--name", "t", "-q", "--ref", "why=a reason"]
    assert C.main(argv) == 0
    build = yaml.safe_load((out / "builds" / "t" / "build.yaml").read_text())
    assert build["sources"]["refs"]["why"] == "a reason"
