"""Built-in profiles and builds: every file validates and loads, the set covers the issue's
hosts, the 11.1 data holds what libvirt asks, and a second load comes from the compile cache."""

from __future__ import annotations

import glob
import json
import os
import time

import pytest
import yaml

from qmpserver.arch.arm64 import kvm
from qmpserver.cli import main as cli_main
from qmpserver.profiles import loader
from qmpserver.profiles.loader import MODELS_DIR, _Resolver, load_profile, search_roots

PROFILES = sorted(glob.glob(os.path.join(MODELS_DIR, "profiles", "*.yaml")))
NAMES = [os.path.basename(p)[:-5] for p in PROFILES]
AARCH64_HOSTS = [
    "graviton2-n1-5.10",
    "altra-n1-6.8",
    "graviton3-v1-6.1",
    "graviton4-v2-6.12",
    "axion-v2-6.17",
    "grace-v2-6.8",
    "ampereone-a-mte-6.18",
    "cix-p1-a720-mte3-6.12",
]


@pytest.fixture(scope="module")
def _module_cache(tmp_path_factory):
    d = tmp_path_factory.mktemp("profile-cache")
    os.chmod(d, 0o700)
    return d


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, _module_cache):
    """Built-ins only (no user directories) and a compile cache private to this module."""
    monkeypatch.delenv("QMPSERVER_PROFILE_PATH", raising=False)
    monkeypatch.delenv("QMPSERVER_PROFILE", raising=False)
    monkeypatch.setenv("QMPSERVER_CACHE_DIR", str(_module_cache))
    return _module_cache


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    d = tmp_path / "cache"
    d.mkdir(mode=0o700)
    monkeypatch.setenv("QMPSERVER_CACHE_DIR", str(d))
    return d


def resolved(path):
    return _Resolver(search_roots()).profile(path)


# --- every file -------------------------------------------------------------------------------


def test_cli_validates_every_builtin_profile(capsys):
    assert cli_main(["profiles", "validate"] + PROFILES) == 0
    out = capsys.readouterr().out
    assert out.count(": ok") == len(PROFILES)


def test_cli_validates_the_builds(capsys):
    builds = sorted(glob.glob(os.path.join(MODELS_DIR, "builds", "*", "build.yaml")))
    assert cli_main(["profiles", "validate"] + builds) == 0
    assert capsys.readouterr().out.count(": ok") == len(builds)


@pytest.mark.parametrize("path", PROFILES, ids=NAMES)
def test_profile_loads(path):
    name = os.path.basename(path)[:-5]
    prof = load_profile(name)
    data = yaml.safe_load(open(path))
    assert prof.name == name == data["name"]
    assert prof.summary and len(prof.summary) > 30, "every profile has a summary"
    d = resolved(path)
    host = {k: v for k, v in d["host"].items() if k != "_path"}
    if host.get("arch", "aarch64") == "aarch64":
        kvm.validate_host(host)  # semantic checks too (caps known to the kernel ...)
    accel = prof.defaults.get("accel")
    assert accel in prof.build.accelerators
    if accel == "kvm":
        assert prof.host.kvm_present and prof.host.arch_can_run_kvm(prof.build.target)
    assert prof.build.canonical_machine(prof.defaults.get("machine", "virt"))


@pytest.mark.parametrize("name", NAMES)
def test_profile_starts_an_instance(name):
    from qmpserver.startup import start
    from qmpserver.vm.config import InstanceConfig

    prof = load_profile(name)
    inst = start(prof, InstanceConfig(start_paused=True))
    assert inst.machine.accel == prof.defaults["accel"]
    assert inst.machine.type == prof.build.canonical_machine(prof.defaults["machine"])


# --- the set ------------------------------------------------------------------------------------


def test_every_aarch64_host_has_a_kvm_profile_with_every_proposal():
    for host in AARCH64_HOSTS:
        prof = load_profile(host)
        assert prof.host.name == host
        assert prof.build.name == "qmpserver"
        assert prof.defaults == {"accel": "kvm", "machine": "virt", "cpu": "host"}
        assert prof.build.proposals == {
            "mte-version",
            "query-mte-capabilities",
            "cpu-idreg-props",
            "arm-cpu-models",
            "query-arm-cpu-writable-id-regs",
        }


def test_upstream_profiles_turn_every_proposal_off():
    upstream = [n for n in NAMES if n.endswith("-qemu-11.1")]
    assert upstream, "at least one KVM host on the plain 11.1 build"
    for name in upstream:
        prof = load_profile(name)
        assert prof.build.name == "qemu-11.1" and not prof.build.proposals
        assert prof.defaults["accel"] == "kvm"
        assert "query-mte-capabilities" not in prof.build.schema.commands
    assert "query-mte-capabilities" in load_profile("default").build.schema.commands


def test_default_profile_shows_the_mission():
    prof = load_profile()  # no name: the embedded default
    assert prof.name == "default"
    assert prof.host.name == "cix-p1-a720-mte3-6.12"
    assert prof.build.name == "qmpserver"
    assert prof.defaults["accel"] == "kvm"
    from qmpserver.arch.arm64 import sysreg

    assert sysreg.mte_level(prof.host.data) == 3
    assert prof.host.kvm["caps"]["KVM_CAP_ARM_MTE"] == 1


def test_tcg_profile_on_11_1():
    prof = load_profile("qemu-11.1-tcg")
    assert prof.build.name == "qemu-11.1" and prof.defaults["accel"] == "tcg"
    assert not prof.host.kvm_present


def test_extends_example_is_three_lines():
    path = os.path.join(MODELS_DIR, "profiles", "graviton4-v2-6.8.yaml")
    body = [
        ln
        for ln in open(path)
        if ln.strip() and not ln.startswith("#") and not ln.startswith(("kind:", "name:", "summary:"))
    ]
    assert len(body) <= 3, body
    prof = load_profile("graviton4-v2-6.8")
    base = load_profile("graviton4-v2-6.12")
    assert prof.host.data["kernel"]["release"] == "6.8.0"
    assert prof.host.data["idregs"] == base.host.data["idregs"]
    assert prof.build.name == base.build.name and prof.defaults == base.defaults
    # the 6.8 kernel cannot lower what 6.12 added (ID_AA64PFR1_EL1.BT is writable from 6.12)
    assert "BT" in kvm.writable_fields("6.12.0", base.host.data).get("ID_AA64PFR1_EL1", [])
    assert "BT" not in kvm.writable_fields("6.8.0", prof.host.data).get("ID_AA64PFR1_EL1", [])


def test_x86_host_profile_runs_aarch64_guests_under_tcg():
    prof = load_profile("x86-64-host-debian-7.2")
    assert prof.host.arch == "x86_64" and prof.host.kvm_present
    assert not prof.host.arch_can_run_kvm(prof.build.target)
    assert prof.defaults["accel"] == "tcg"


# --- the 11.1 build data --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def b111():
    return loader.compile_build(
        dict(
            _Resolver(search_roots()).file(
                "build", os.path.join(MODELS_DIR, "builds", "qemu-11.1", "build.yaml")
            ),
            _path="qemu-11.1",
        ),
        set(),
    )


def test_11_1_identity(b111):
    assert b111.version == (11, 1, 0) and b111.package == "v11.1.0" and b111.target == "aarch64"
    assert b111.accelerators == {"kvm", "qtest", "tcg"} and not b111.proposals
    assert b111.data["tcg"]["mte_versions"] == [3, 2]


def test_11_1_machines(b111):
    ms = {m["name"]: m for m in b111.machines()}
    assert b111.canonical_machine("virt") == "virt-11.1"
    assert ms["virt-11.1"]["alias"] == "virt" and ms["virt-11.1"]["acpi"] is True
    assert ms["virt-11.1"]["default-ram-id"] == "mach-virt.ram" and ms["virt-11.1"]["cpu-max"] == 512
    assert "default-cpu-type" not in ms["virt-11.1"]
    virts = sorted(
        (tuple(map(int, n[5:].split("."))), m["deprecated"]) for n, m in ms.items() if n.startswith("virt-")
    )
    assert virts[0][0] == (5, 2) and virts[-1][0] == (11, 1)
    # QEMU's rule: versioned machine types are deprecated 3 years (9 releases) after release
    for version, deprecated in virts:
        assert deprecated == (version < (8, 2)), version
    assert ms["none"]["cpu-max"] == 1 and "alias" not in ms["none"]
    assert ms["amd-versal-virt"]["alias"] == "xlnx-versal-virt"
    assert sum("alias" in m for m in ms.values()) == 3
    for m in ms.values():
        assert isinstance(m["hotpluggable-cpus"], bool) and isinstance(m["numa-mem-supported"], bool)
        assert isinstance(m["deprecated"], bool) and isinstance(m["acpi"], bool)
        assert "is-default" not in m  # aarch64 has no default machine


def test_11_1_types_and_properties(b111):
    types = {t["name"] for t in b111.recorded_return("qom-list-types")}
    for t in (
        "virt-11.1-machine",
        "none-machine",
        "max-arm-cpu",
        "host-arm-cpu",
        "tcg-accel",
        "kvm-accel",
        "qtest-accel",
        "memory-backend-memfd",
        "cortex-a78ae-arm-cpu",
    ):
        assert t in types, t
    assert "virt-5.1-machine" not in types and "pxa270-arm-cpu" not in types
    assert "sev-guest" not in types and "sgx-epc" not in types
    virt = {
        p["name"]: p for p in b111.recorded_return("qom-list-properties", {"typename": "virt-11.1-machine"})
    }
    assert virt["gic-version"]["description"].endswith("Valid values are 2, 3, 4, x-5, host and max")
    assert virt["mte"]["type"] == "bool" and "mte-version" not in virt
    cpu = {p["name"] for p in b111.recorded_return("qom-list-properties", {"typename": "max-arm-cpu"})}
    assert {"kvm-no-adjvtime", "kvm-steal-time", "kvm-psci-version", "sve", "pmu", "pauth", "aarch64"} <= cpu
    assert not [p for p in cpu if p.startswith("SYSREG_")]
    defs = b111.recorded_return("query-cpu-definitions")
    assert len(defs) == 37 and {"host", "max"} <= {d["name"] for d in defs}
    for d in defs:
        assert d["typename"] == d["name"] + "-arm-cpu" and d["static"] is False and d["deprecated"] is False
    err = b111.recorded("device-list-properties", {"typename": "kvm-pit"})
    assert err["error"]["class"] == "DeviceNotFound"
    caps = [c["capability"] for c in b111.recorded_return("query-migrate-capabilities")]
    assert caps[0] == "xbzrle" and caps[-1] == "mapped-ram" and "zero-blocks" not in caps
    assert not [c for c in b111.recorded_return("query-migrate-capabilities") if c["state"]]
    opts = {o["option"]: o for o in b111.recorded_return("query-command-line-options")}
    machine = {p["name"] for p in opts["machine"]["parameters"]}
    assert {"gic-version", "mte", "highmem-mmio-size"} <= machine
    gic = b111.recorded("query-gic-capabilities", None, "tcg")["return"]
    assert gic == [
        {"emulated": True, "version": 3, "kernel": False},
        {"emulated": True, "version": 2, "kernel": False},
    ]


def test_11_1_every_answer_has_a_source(b111):
    doc = json.load(open(os.path.join(MODELS_DIR, "builds", "qemu-11.1", "replies.json")))
    src = b111.data["sources"]["replies"]
    for e in doc["entries"]:
        keys = [e["execute"]]
        if "arguments" in e:
            keys.append("%s %s" % (e["execute"], e["arguments"].get("typename", "")))
        assert any(k in src or any(s.startswith(k) for s in src) for k in keys), e["execute"]
    text = json.dumps(src)
    assert "synthetic" in text


SCHEMA_11_1 = os.path.join(MODELS_DIR, "builds", "qemu-11.1", "schema.json")
# masks QEMU's generator handed out to types this aarch64 Linux build compiles out (no entry)
COMPILED_OUT_11_1 = {245, 343, 350, 361, 362, 363, 396, 399, 400, 401, 489, 666}


def test_11_1_schema_is_the_recorded_introspection(b111):
    """The build answers query-qmp-schema with 11.1's whole recorded introspection, not a subset:
    the commands libvirt found missing (issue 17) are there, the proposals are not."""
    with open(SCHEMA_11_1) as f:
        rec = json.load(f)
    assert b111.schema.introspection == rec
    metas = [e["meta-type"] for e in rec]
    assert (len(rec), metas.count("command"), metas.count("event")) == (1225, 242, 57)
    assert len(b111.schema.commands) == 242 and len(b111.schema.events) == 57
    for name in (
        "transaction",
        "blockdev-create",
        "blockdev-snapshot",
        "block-commit",
        "blockdev-mirror",
        "send-key",
        "query-pci",
        "snapshot-save",
        "query-accelerators",
    ):
        assert name in b111.schema.commands, name
    assert "query-mte-capabilities" not in b111.schema.commands
    by_name = {e["name"]: e for e in rec}
    assert by_name["query-kvm"]["features"] == ["deprecated"]  # deprecated in 11.0
    assert "x-query-profile" not in by_name and "x-query-rdma" not in by_name  # gone since 7.2


def test_11_1_schema_reads_like_qemus_own_output():
    """Invariants of QEMU's introspection generator that a hand-edited schema.json would break:
    every referenced type is defined; type masks are numbered in order of first mention (QEMU
    masks a name when it first uses it), the missing numbers are exactly the types compiled out
    of this build, and the only listed types nobody references are the branch types of
    compiled-out union branches; every union lists exactly the values of its tag's enum."""
    with open(SCHEMA_11_1) as f:
        rec = json.load(f)
    by_name = {e["name"]: e for e in rec}

    def refs(e):
        """The type names an entry mentions, in the generator's order (qapi/introspect.py:
        arg-type before ret-type, members before variants)."""
        out = [e[k] for k in ("arg-type", "ret-type", "element-type") if k in e]
        out += [m["type"] for m in e.get("members", ()) if "type" in m]
        return out + [v["type"] for v in e.get("variants", ())]

    first = []
    for e in rec:
        if e["meta-type"] not in ("command", "event") and e["name"] not in first:
            first.append(e["name"])  # listed before anything mentioned it
        for t in refs(e):
            t = t[1:-1] if t.startswith("[") else t
            assert t in by_name, t
            if t not in first:
                first.append(t)
    referenced = {t[1:-1] if t.startswith("[") else t for e in rec for t in refs(e)}
    masks = [int(t) for t in first if t.isdigit()]
    unreferenced = [n for n in masks if str(n) not in referenced]
    assert unreferenced == [432, 558, 560, 564]  # DisplayCocoa; coreaudio, dsound, pipewire audio
    in_order = [n for n in masks if n not in unreferenced]
    assert in_order == sorted(in_order)
    assert set(range(max(masks) + 1)) - set(masks) == COMPILED_OUT_11_1
    for e in rec:
        if "tag" in e:
            tag = next(m for m in e["members"] if m["name"] == e["tag"])
            cases = [v["case"] for v in e["variants"]]
            assert sorted(cases) == sorted(by_name[tag["type"]]["values"]), e["name"]


def test_qmpserver_build_is_11_1_plus_every_proposal(b111):
    prof = load_profile("default")
    b = prof.build
    assert b.version == b111.version and b.package == "v11.1.0-qmpserver"
    assert b.proposals == {
        "mte-version",
        "query-mte-capabilities",
        "cpu-idreg-props",
        "arm-cpu-models",
        "query-arm-cpu-writable-id-regs",
    }
    assert b.recorded_return("query-machines") == b111.recorded_return("query-machines")
    assert "11.1" in b.data["summary"] and "proposal" in b.data["summary"]


# --- compile cache ------------------------------------------------------------------------------


def test_second_load_hits_the_compile_cache(monkeypatch, fresh_cache):
    t0 = time.perf_counter()
    first = load_profile("default")
    cold = time.perf_counter() - t0
    assert os.listdir(fresh_cache), "the compiled profile was written to the cache"

    def no_yaml(path):
        raise AssertionError("YAML parsed on a cached load: %s" % path)

    monkeypatch.setattr(loader, "read_yaml", no_yaml)
    t0 = time.perf_counter()
    second = load_profile("default")
    warm = time.perf_counter() - t0
    assert second.name == first.name and second.host.name == first.host.name
    assert second.build.proposals == first.build.proposals
    assert warm < cold, (warm, cold)


def test_cache_follows_source_changes(monkeypatch, tmp_path):
    user = tmp_path / "store"
    (user / "profiles").mkdir(parents=True)
    prof = user / "profiles" / "mine.yaml"
    prof.write_text(
        "kind: profile\nname: mine\nsummary: first summary of a user profile\nextends: graviton4-v2-6.12\n"
    )
    assert load_profile("mine", [str(user)]).summary == "first summary of a user profile"
    prof.write_text(
        "kind: profile\nname: mine\nsummary: second summary, a longer one this time\n"
        "extends: graviton4-v2-6.12\n"
    )
    assert load_profile("mine", [str(user)]).summary == "second summary, a longer one this time"
