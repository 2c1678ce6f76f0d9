"""Importing libvirt .replies recordings into the QEMU-build format (qmpserver.profiles.replies)."""

import json
import re

import pytest
import yaml
from capture_testutil import REPLIES, schema_validator

from qmpserver.profiles import replies as R

HOST_82 = {
    "sve768": False,
    "sve128": False,
    "sve1024": False,
    "sve1280": False,
    "sve896": False,
    "sve256": False,
    "sve1536": False,
    "sve1792": False,
    "sve384": False,
    "sve": False,
    "sve2048": False,
    "pauth": False,
    "kvm-no-adjvtime": False,
    "sve512": False,
    "aarch64": True,
    "pmu": True,
    "sve1920": False,
    "sve1152": False,
    "kvm-steal-time": True,
    "sve640": False,
    "sve1408": False,
    "sve1664": False,
}
HOST_ARGS = {"type": "full", "model": {"name": "host"}}
HV_ARGS = {"type": "full", "model": {"name": "host", "props": {"migratable": False, "hv-passthrough": True}}}
MAX_ARGS = {"type": "full", "model": {"name": "max"}}


def load_build(root, name):
    d = root / "builds" / name
    build = yaml.safe_load((d / "build.yaml").read_text())
    schema = json.loads((d / "schema.json").read_text())
    rep = R.load_replies_json(d / "replies.json")
    return build, schema, rep["entries"]


def entry(entries, execute, arguments=None, accel=None):
    """The single entry with exactly these keys (no fallback)."""
    found = [
        e
        for e in entries
        if e["execute"] == execute and e.get("arguments") == arguments and e.get("accel") == accel
    ]
    assert len(found) == 1, (execute, arguments, accel, found)
    return found[0]


@pytest.fixture(scope="module")
def imported(replies_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    paths = {}
    for f in sorted(replies_dir.iterdir()):
        paths[f.name] = R.import_replies(f, out)
    return out, paths


# ---- every file -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,entries,tagged,errors,schema,passes,version,package",
    [
        ("libvirt-caps-7.0.0.aarch64", 46, 4, 6, 964, ["kvm", "tcg"], "6.2.92", "v7.0.0-rc2"),
        ("libvirt-caps-8.2.0-aarch64", 44, 4, 7, 1100, ["kvm", "tcg"], "8.2.0", "v8.2.0"),
        ("libvirt-caps-9.2.0-aarch64-hvf", 39, 4, 8, 1114, ["hvf", "tcg"], "9.2.2", ""),
        ("libvirt-caps-9.2.0-x86-64", 52, 8, 5, 1168, ["kvm", "tcg"], "9.2.0", "v9.2.0"),
    ],
)
def test_import_counts(imported, name, entries, tagged, errors, schema, passes, version, package):
    out, _ = imported
    build, sch, ents = load_build(out, name)
    assert build["kind"] == "qemu-build" and build["name"] == name
    assert build["version"] == version and build["package"] == package
    assert build["sources"]["passes"] == passes
    assert build["schema"] == {"introspection": "schema.json"} and build["replies"] == "replies.json"
    assert build["proposals"] == []
    assert build["sources"]["fields"] == {"*": "replies"}
    assert "sha256" in build["sources"]["refs"]["replies"]
    assert len(sch) == schema
    assert len(ents) == entries
    assert sum("accel" in e for e in ents) == tagged
    assert sum("error" in e for e in ents) == errors
    # never recorded as entries: the handshake and the schema (it has its own file)
    assert not [e for e in ents if e["execute"] in ("qmp_capabilities", "query-qmp-schema")]
    # one entry per distinct (execute, arguments, accel, machine)
    keys = [(e["execute"], R.arguments_key(e.get("arguments")), e.get("accel")) for e in ents]
    assert len(keys) == len(set(keys))
    for e in ents:
        assert ("return" in e) != ("error" in e)
        assert set(e) <= {"execute", "arguments", "accel", "return", "error"}


def test_devicenotfound_errors_kept(imported):
    out, _ = imported
    _, _, ents = load_build(out, "libvirt-caps-8.2.0-aarch64")
    e = entry(ents, "device-list-properties", {"typename": "virtio-net-ccw"})
    assert e["error"] == {"class": "DeviceNotFound", "desc": "Device 'virtio-net-ccw' not found"}
    names = [e["arguments"]["typename"] for e in ents if e["execute"] == "device-list-properties"]
    assert len(names) == 25 and names[0] == "virtio-blk-pci" and "vmware-svga" not in names


# ---- 8.2 (KVM, GICv3) -------------------------------------------------------------------------


def test_82_host_expansion_exact(imported, replies_dir):
    out, _ = imported
    build, _, ents = load_build(out, "libvirt-caps-8.2.0-aarch64")
    e = entry(ents, "query-cpu-model-expansion", HOST_ARGS, "kvm")
    props = e["return"]["model"]["props"]
    assert props == HOST_82
    # stored exactly as received: member order as in the file
    text = (replies_dir / "caps_8.2.0_aarch64.replies").read_text()
    assert (
        list(props)
        == re.findall(
            r'"(sve768|sve128|sve1024|sve1280|sve896|sve256|sve1536|sve1792|'
            r"sve384|sve|sve2048|pauth|kvm-no-adjvtime|sve512|aarch64|pmu|"
            r'sve1920|sve1152|kvm-steal-time|sve640|sve1408|sve1664)":',
            text[text.index('"name": "host",\n      "props"') :],
        )[:22]
    )
    hv = entry(ents, "query-cpu-model-expansion", HV_ARGS, "kvm")
    assert hv["error"] == {"class": "GenericError", "desc": "Parameter 'hv-passthrough' is unexpected"}
    mx = entry(ents, "query-cpu-model-expansion", MAX_ARGS, "tcg")["return"]["model"]["props"]
    assert mx["sve2048"] is True and mx["pauth"] is True and mx["pauth-qarma3"] is False
    assert entry(ents, "query-kvm", None, "kvm")["return"] == {"enabled": True, "present": True}
    # same answer in both passes -> one untagged entry
    assert len(entry(ents, "query-machines")["return"]) == 118
    assert len(entry(ents, "query-cpu-definitions")["return"]) == 48
    assert build["accelerators"] == ["kvm", "qtest", "tcg"]
    assert build["target"] == "aarch64"


def test_82_host_file(imported):
    out, paths = imported
    host = yaml.safe_load(paths["caps_8.2.0_aarch64.replies"]["host"].read_text())
    assert host["kind"] == "host" and host["arch"] == "aarch64"
    assert host["kvm"]["present"] is True
    assert host["kvm"]["gic"] == {"v2": False, "v3": True}
    assert host["kvm"]["sve_vector_lengths"] == []
    assert host["kvm"]["caps"] == {
        "KVM_CAP_ARM_PMU_V3": 1,
        "KVM_CAP_ARM_SVE": 0,
        "KVM_CAP_ARM_PTRAUTH_ADDRESS": 0,
        "KVM_CAP_ARM_PTRAUTH_GENERIC": 0,
        "KVM_CAP_STEAL_TIME": 1,
    }
    assert host["idregs"] == {}
    fields = host["sources"]["fields"]
    assert fields["kvm.gic"] == "replies" and fields["kvm.caps.KVM_CAP_STEAL_TIME"] == "synthetic"
    assert "kvm-steal-time" in host["sources"]["notes"]["kvm.caps.KVM_CAP_STEAL_TIME"]
    # what QMP cannot reveal is a synthetic placeholder, said so in notes
    assert host["cpu"] == {"midr": 0, "implementer": "unknown", "part": "unknown", "count": 1}
    assert host["kernel"] == {"release": "0.0"}
    assert fields["cpu.midr"] == fields["kernel.release"] == "synthetic"
    assert "not revealed by QMP" in host["sources"]["notes"]["kernel.release"]
    for v in fields.values():
        assert v == "synthetic" or v in host["sources"]["refs"]
    prof = yaml.safe_load(paths["caps_8.2.0_aarch64.replies"]["profile"].read_text())
    assert prof == {
        "kind": "profile",
        "name": "libvirt-caps-8.2.0-aarch64",
        "summary": prof["summary"],
        "host": "libvirt-caps-8.2.0-aarch64",
        "build": "libvirt-caps-8.2.0-aarch64",
        "defaults": {"accel": "kvm", "machine": "virt", "cpu": "host"},
    }


# ---- 7.0 (libvirt 9.0 sequence) ---------------------------------------------------------------


def test_70_query_commands_and_hv_expansion(imported):
    out, paths = imported
    _, _, ents = load_build(out, "libvirt-caps-7.0.0.aarch64")
    cmds = entry(ents, "query-commands")["return"]
    assert len(cmds) == 197 and {"name": "query-cpu-model-expansion"} in cmds
    # QEMU 7.0 still expanded host with hv-passthrough instead of failing
    hv = entry(ents, "query-cpu-model-expansion", HV_ARGS, "kvm")
    assert hv["return"]["model"]["props"]["pmu"] is True
    assert entry(ents, "device-list-properties", {"typename": "vmware-svga"})["return"]
    assert entry(ents, "query-version")["return"] == {
        "qemu": {"micro": 92, "minor": 2, "major": 6},
        "package": "v7.0.0-rc2",
    }
    host = yaml.safe_load(paths["caps_7.0.0.aarch64.replies"]["host"].read_text())
    assert host["kvm"]["gic"] == {"v2": False, "v3": True}


# ---- 9.2 HVF (no KVM) -------------------------------------------------------------------------


def test_92_hvf(imported):
    out, paths = imported
    build, _, ents = load_build(out, "libvirt-caps-9.2.0-aarch64-hvf")
    for args in (HOST_ARGS, HV_ARGS):
        e = entry(ents, "query-cpu-model-expansion", args, "hvf")
        assert e["error"] == {"class": "GenericError", "desc": "The CPU type 'host' requires KVM"}
    assert entry(ents, "query-kvm", None, "hvf")["return"] == {"enabled": False, "present": False}
    assert "hvf" in build["accelerators"] and "kvm" not in build["accelerators"]
    host = yaml.safe_load(paths["caps_9.2.0_aarch64+hvf.replies"]["host"].read_text())
    assert host["kvm"]["present"] is False
    assert host["kvm"]["gic"] == {"v2": False, "v3": False}
    assert "sve_vector_lengths" not in host["kvm"] and host["kvm"]["caps"] == {}
    prof = yaml.safe_load(paths["caps_9.2.0_aarch64+hvf.replies"]["profile"].read_text())
    assert prof["defaults"] == {"accel": "tcg", "machine": "virt", "cpu": "max"}


# ---- 9.2 x86_64 ---------------------------------------------------------------------------------


def test_92_x86(imported):
    out, paths = imported
    build, _, ents = load_build(out, "libvirt-caps-9.2.0-x86-64")
    kvm_defs = entry(ents, "query-cpu-definitions", None, "kvm")["return"]
    tcg_defs = entry(ents, "query-cpu-definitions", None, "tcg")["return"]
    assert len(kvm_defs) == len(tcg_defs) == 148 and kvm_defs != tcg_defs
    st = entry(ents, "query-cpu-model-expansion", {"type": "static", "model": {"name": "max"}}, "tcg")
    assert st["return"]["model"]["name"] == "base"
    sev = entry(ents, "query-sev-capabilities")
    assert sev["error"]["desc"] == "SEV: Failed to open /dev/sev: No such file or directory"
    host = yaml.safe_load(paths["caps_9.2.0_x86_64.replies"]["host"].read_text())
    assert host["arch"] == "x86_64" and host["kvm"]["present"] is True
    assert host["cpu"] == {
        "vendor": "AuthenticAMD",
        "model_name": "AMD Ryzen 9 3900X 12-Core Processor",
        "family": 23,
        "model": 113,
        "stepping": 0,
        "count": 1,
    }
    assert host["sources"]["fields"]["cpu.count"] == "synthetic"
    assert "gic" not in host["kvm"] and "idregs" not in host
    prof = yaml.safe_load(paths["caps_9.2.0_x86_64.replies"]["profile"].read_text())
    assert prof["defaults"] == {"accel": "kvm", "machine": "pc", "cpu": "host"}


# ---- the files follow the project's JSON Schemas (schemas/*.schema.json) -----------------------


def test_outputs_follow_schemas(imported):
    out, paths = imported
    validate = schema_validator()
    for p in paths.values():
        validate("build", p["build"] / "build.yaml")
        validate("host", p["host"])
        validate("profile", p["profile"])


# ---- merge and lookup rules ---------------------------------------------------------------------


def rec(execute, ret, arguments=None):
    return R.Record(execute, arguments, {"return": ret})


def test_merge_rules():
    passes = [
        R.Pass(
            "kvm",
            [
                rec("query-version", 1),
                rec("query-kvm", True),
                rec("query-machines", [1]),
                rec("query-cpu-definitions", ["a"]),
                rec("qom-get", "s", {"path": "/machine"}),
                rec("query-version", 2),
            ],
        ),
        R.Pass(
            "tcg",
            [
                rec("query-kvm", False),
                rec("query-machines", [1]),
                rec("query-cpu-definitions", ["b"]),
                rec("query-gic-capabilities", []),
            ],
        ),
    ]
    entries, warnings = R.merge_passes(passes)
    assert entries == [
        {"execute": "query-version", "return": 1},  # one pass, not accel-dependent
        {"execute": "query-kvm", "accel": "kvm", "return": True},  # differs
        {"execute": "query-kvm", "accel": "tcg", "return": False},
        {"execute": "query-machines", "return": [1]},  # equal in both
        {"execute": "query-cpu-definitions", "accel": "kvm", "return": ["a"]},
        {"execute": "query-cpu-definitions", "accel": "tcg", "return": ["b"]},
        {"execute": "qom-get", "arguments": {"path": "/machine"}, "accel": "kvm", "return": "s"},
        {"execute": "query-gic-capabilities", "return": []},
    ]
    assert len(warnings) == 1 and "asked twice" in warnings[0]


def test_single_pass_tags_only_accel_dependent():
    entries, _ = R.merge_passes([R.Pass("tcg", [rec("query-version", 1), rec("query-kvm", False)])])
    assert entries == [
        {"execute": "query-version", "return": 1},
        {"execute": "query-kvm", "accel": "tcg", "return": False},
    ]


def test_find_entry_order():
    ents = [
        {"execute": "q", "accel": "tcg", "return": "t"},
        {"execute": "q", "return": "u"},
        {"execute": "q", "accel": "kvm", "return": "k"},
        {"execute": "r", "accel": "tcg", "return": "only-tcg"},
        {"execute": "a", "arguments": {"x": 1, "y": 2}, "return": "args"},
    ]
    assert R.find_entry(ents, "q", accel="kvm")["return"] == "k"
    assert R.find_entry(ents, "q", accel="hvf")["return"] == "u"
    assert R.find_entry(ents, "r", accel="kvm")["return"] == "only-tcg"
    assert R.find_entry(ents, "a", {"y": 2, "x": 1})["return"] == "args"
    assert R.find_entry(ents, "a") is None
    assert R.find_entry(ents, "nope") is None


# ---- bad input ------------------------------------------------------------------------------------

CMD = '{\n  "execute": "qmp_capabilities",\n  "id": "libvirt-1"\n}\n\n{\n  "return": {\n  },\n  "id": "libvirt-1"\n}\n\n'


@pytest.mark.parametrize(
    "text,expect",
    [
        ("", r"no JSON objects"),
        (
            CMD + '{\n  "execute": "query-version",\n  "id": "libvirt-2"\n}\n\n{\n  "return": {\n',
            r":17: object #4: invalid JSON at line 19 column 1",
        ),
        (
            CMD + '{\n  "execute": "query-version",\n  "id": "libvirt-2"\n}\n',
            r":12: object #3: command query-version has no reply",
        ),
        (CMD + '[1, 2]\n\n{"return": {}}\n', r":12: object #3: expected a command"),
        (
            CMD + '{"execute": "query-version", "id": "libvirt-2"}\n\n{"return": {}, "id": "libvirt-9"}\n',
            r":14: object #4: reply id 'libvirt-9' does not match",
        ),
        (
            CMD + '{"execute": "query-version"}\n\n{"id": "x"}\n',
            r"object #4: expected the reply to query-version",
        ),
        (
            CMD + '{"execute": "query-version"}\n\n{"return": 1, "error": {"class": "X"}}\n',
            r"object #4: expected the reply",
        ),
        (
            CMD + '{"execute": "query-version", "arguments": [1]}\n\n{"return": 1}\n',
            r"object #3: \"arguments\" of query-version is not an object",
        ),
        (
            '{"execute": "query-version"}\n\n{"return": 1}\n',
            r"object #1: query-version before the first qmp_capabilities",
        ),
        (CMD * 3, r"3 probe passes"),
        (
            CMD + '{"execute": "query-version"}\n\n{"error": "oops"}\n',
            r"object #4: error reply without a \"class\"",
        ),
        (
            CMD + '{"execute": "query-version"}\n\n{"return": {"qemu": {"major": 1}}}\n',
            r"query-version answer is not QEMU-shaped",
        ),
        (
            CMD
            + '{"execute": "query-version"}\n\n{"return": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""}}\n',
            r"no query-qmp-schema in the first pass",
        ),
    ],
)
def test_bad_replies(tmp_path, text, expect):
    f = tmp_path / "bad.replies"
    f.write_text(text)
    if "query-qmp-schema" not in expect and "no JSON" not in expect and "QEMU-shaped" in expect:
        # give it a schema so the version check is what fails
        f.write_text(text.replace(CMD, CMD + '{"execute": "query-qmp-schema"}\n\n{"return": []}\n\n', 1))
    with pytest.raises(R.FormatError, match=expect) as exc:
        R.import_replies(f, tmp_path / "out")
    assert str(f) in str(exc.value) and "\n" not in str(exc.value)
    assert not (tmp_path / "out").exists()  # nothing written


def test_bad_bytes_and_missing(tmp_path):
    f = tmp_path / "bin.replies"
    f.write_bytes(b"\xff\xfe{}")
    with pytest.raises(R.FormatError, match="not UTF-8"):
        R.import_replies(f, tmp_path / "out")
    with pytest.raises(R.FormatError, match="cannot read"):
        R.import_replies(tmp_path / "missing.replies", tmp_path / "out")
    with pytest.raises(R.FormatError, match="invalid name"):
        R.check_name("../evil")


def test_cli(replies_dir, tmp_path, capsys):
    src = replies_dir / "caps_8.2.0_aarch64.replies"
    assert R.main([str(src), "-o", str(tmp_path), "--name", "x82"]) == 0
    out = capsys.readouterr().out
    assert "builds/x82" in out and "hosts/x82.yaml" in out and "profiles/x82.yaml" in out
    # refuses to replace without --force, and says so on one line
    assert R.main([str(src), "-o", str(tmp_path), "--name", "x82"]) == 1
    err = capsys.readouterr().err.strip()
    assert "already exists (use --force" in err and len(err.splitlines()) == 1
    assert R.main([str(src), "-o", str(tmp_path), "--name", "x82", "--force"]) == 0
    bad = tmp_path / "bad.replies"
    bad.write_text("{")
    assert R.main([str(bad), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("python -m qmpserver.profiles.replies: error: ")
        and "bad.replies:1: object #1: invalid JSON" in err
    )
    assert "Traceback" not in err


def test_replies_json_layout(imported):
    out, _ = imported
    text = (out / "builds" / "libvirt-caps-8.2.0-aarch64" / "replies.json").read_text()
    lines = text.splitlines()
    assert lines[0] == '{"format": 1,' and lines[1] == ' "entries": [' and lines[-1] == " ]}"
    assert len(lines) == 44 + 3  # one entry per line


# ---- issue 14, items 7 and 8: the front end, and a profile that starts or a named gap ----------


def trimmed(src, dst, drop):
    """Copy a .replies file without the command/reply pairs `drop(command)` selects."""
    text = src.read_text()
    dec, objs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i < len(text):
            obj, i = dec.raw_decode(text, i)
            objs.append(obj)
    keep = [o for n in range(0, len(objs), 2) if not drop(objs[n]) for o in objs[n : n + 2]]
    dst.write_text("\n\n".join(json.dumps(o, indent=2) for o in keep) + "\n")
    return dst


def host_expansion(cmd):
    return cmd["execute"] == "query-cpu-model-expansion" and cmd["arguments"]["model"]["name"] == "host"


def test_front_end_takes_force_and_names_itself(replies_dir, tmp_path, capsys):
    from qmpserver.cli import main as cli

    argv = [
        "profiles",
        "import-replies",
        str(replies_dir / "caps_8.2.0_aarch64.replies"),
        "-o",
        str(tmp_path),
    ]
    assert cli(argv + ["--name", "x"]) == 0
    capsys.readouterr()
    assert cli(argv + ["--name", "x"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"qmpserver profiles import-replies: error: {tmp_path}/builds/x already exists (use --force to replace it)\n"
    )
    assert cli(argv + ["--name", "x", "--force"]) == 0
    build = yaml.safe_load((tmp_path / "builds" / "x" / "build.yaml").read_text())
    assert "`qmpserver profiles import-replies " in build["sources"]["refs"]["replies"]


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_every_imported_profile_starts(imported, name):
    from capture_testutil import start_profile

    out, paths = imported
    (version,) = start_profile(paths[name]["profile"], "query-version")
    recorded = R.find_entry(
        R.load_replies_json(paths[name]["build"] / "replies.json")["entries"], "query-version"
    )
    assert version["return"] == recorded["return"]


@pytest.mark.parametrize(
    "recording,drop,missing",
    [
        (
            "caps_8.2.0_aarch64.replies",
            lambda c: c["execute"] == "query-gic-capabilities",
            "kvm.gic (no query-gic-capabilities in the kvm pass)",
        ),
        (
            "caps_8.2.0_aarch64.replies",
            host_expansion,
            "kvm.sve_vector_lengths (no query-cpu-model-expansion of 'host' listing 'sve' in the kvm pass)",
        ),
        (
            "caps_9.2.0_x86_64.replies",
            host_expansion,
            "cpu.vendor (no query-cpu-model-expansion of 'host' listing 'vendor' in the kvm pass); "
            "cpu.model_name (no query-cpu-model-expansion of 'host' listing 'model-id' in the kvm pass)",
        ),
    ],
)
def test_a_host_the_recording_cannot_describe_is_named(
    replies_dir, tmp_path, capsys, recording, drop, missing
):
    """Was: exit 0 and a profile that failed to start ('gic' is a required property)."""
    from capture_testutil import start_profile

    src = trimmed(replies_dir / recording, tmp_path / "cut.replies", drop)
    out = tmp_path / "out"
    assert R.main([str(src), "-o", str(out), "--name", "cut"]) == 1
    err = capsys.readouterr().err
    assert f"the recording lacks {missing}; nothing written" in err and len(err.splitlines()) == 1
    assert not out.exists()
    # the two ways out the message names
    host = "graviton4-v2-6.12" if "aarch64" in recording else "x86-64-kvm-host"
    assert R.main([str(src), "-o", str(out), "--name", "cut", "--host", host]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["builds", "profiles"]  # no host file
    prof = yaml.safe_load((out / "profiles" / "cut.yaml").read_text())
    assert prof["host"] == host and prof["defaults"]["accel"] == "kvm"
    (status,) = start_profile(out / "profiles" / "cut.yaml", "query-status")
    assert status["return"]["status"] in ("prelaunch", "running")
    assert R.main([str(src), "-o", str(tmp_path / "b"), "--name", "cut", "--build-only"]) == 0
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["builds"]


def test_a_tcg_only_recording_needs_a_host(replies_dir, tmp_path, capsys):
    second_pass = []

    def drop_accelerated_pass(cmd):
        # one pass: the first pass's qmp_capabilities and schema, then the TCG pass's answers
        if cmd["execute"] == "qmp_capabilities":
            second_pass.append(True)
            return len(second_pass) == 2
        first_kept = ("query-qmp-schema", "query-version", "query-target")
        return len(second_pass) < 2 and cmd["execute"] not in first_kept

    src = trimmed(replies_dir / "caps_8.2.0_aarch64.replies", tmp_path / "tcg.replies", drop_accelerated_pass)
    out = tmp_path / "out"
    assert R.main([str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "it has no accelerated (KVM/HVF) pass, so it reveals nothing about a host" in err
    assert "--host NAME" in err and not out.exists()
    assert R.main([str(src), "-o", str(out), "--name", "t", "--host", "tcg-only"]) == 0
    prof = yaml.safe_load((out / "profiles" / "t.yaml").read_text())
    assert prof["defaults"] == {"accel": "tcg", "machine": "virt", "cpu": "max"}
    assert R.main([str(src), "-o", str(out), "--name", "u", "--host", "no-such-host"]) == 1
    assert "--host no-such-host: no such host" in capsys.readouterr().err
