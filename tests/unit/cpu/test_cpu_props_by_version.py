"""Answers as the emulated QEMU version gives them (issue 15), on real recordings.

* The recorded answer wins: an imported build answers a recorded CPU question from the
  recording, even where today's model would say more.
* Per-version CPU properties (models/arm64/cpu-props-by-version.yaml): libvirt's
  caps_7.0.0.aarch64 recording re-labelled as an older release, its CPU expansions left
  out, gives the property sets libvirt recorded from those releases:
  caps_6.2.0.aarch64.xml (QEMU 6.1.50, same KVM host family): the host expansion is the
  7.0 one without ``pauth``; TCG ``max`` has ``pauth`` and ``pauth-impdef``;
  caps_5.2.0.aarch64.xml (QEMU 5.2.0): TCG ``max`` has neither.
* A computed reply is held to the build's schema: ``deprecated`` of
  ``CpuDefinitionInfo`` is dropped for a build whose introspection lacks it.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from cpu_testutil import Qmp, make_instance

from qmpserver.profiles import replies as R
from qmpserver.profiles.loader import load_profile

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "libvirt-replies"
BUNDLED = Path(__file__).resolve().parents[1] / "profiles" / "data"
REC = "caps_7.0.0.aarch64.replies"
HOST = {"type": "full", "model": {"name": "host"}}
MAX = {"type": "full", "model": {"name": "max"}}


def _text(name):
    p = SHARED / name
    if p.is_file():
        return p.read_text()
    return gzip.decompress((BUNDLED / (name + ".gz")).read_bytes()).decode()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("props-by-version")
    src = root / REC
    src.write_text(_text(REC))
    paths = R.import_replies(src, root)
    return root, paths["build"], paths["host"].stem


def _variant(root, base_dir, host, version, drop=("query-cpu-model-expansion",), schema_edit=None, tag=""):
    """A build like ``base_dir``'s recording but of QEMU ``version``, without the recorded
    answers of ``drop``; a profile on the recording's host (KVM)."""
    name = "v%s-%s%s" % (version.replace(".", ""), "-".join(d.split("-")[-1] for d in drop) or "all", tag)
    d = root / "builds" / name
    d.mkdir(parents=True, exist_ok=True)
    doc = json.loads((base_dir / "replies.json").read_text())
    doc["entries"] = [e for e in doc["entries"] if e["execute"] not in drop]
    (d / "replies.json").write_text(json.dumps(doc))
    schema = json.loads((base_dir / "schema.json").read_text())
    if schema_edit is not None:
        schema_edit(schema)
    (d / "schema.json").write_text(json.dumps(schema))
    import yaml

    meta = yaml.safe_load((base_dir / "build.yaml").read_text())
    meta.update(name=name, version=version, package="v%s" % version)
    (d / "build.yaml").write_text(yaml.safe_dump(meta))
    prof = root / "profiles" / (name + ".yaml")
    prof.write_text(
        "kind: profile\nname: %s\nsummary: t\nhost: %s\nbuild: %s\n"
        "defaults: {accel: kvm, machine: virt, cpu: host}\n" % (name, host, name)
    )
    return load_profile(str(prof), dirs=[str(root)])


def _recorded(base_dir, args, accel):
    for e in json.loads((base_dir / "replies.json").read_text())["entries"]:
        if e["execute"] == "query-cpu-model-expansion" and e.get("arguments") == args:
            if e.get("accel") in (accel, None):
                return e
    raise AssertionError("not recorded: %s" % args)


def _ask(prof, accel, name, args=None):
    return Qmp(make_instance(prof, accel=[accel], machine={"type": "none"})).cmd(name, args)


def test_recorded_host_expansion_wins(store, monkeypatch):
    """The recorded answer is served even where the model would differ (here: the model
    made to believe the host lacks PMU would drop pmu=true)."""
    root, base, host = store
    prof = _variant(root, base, host, "7.0.0", drop=())
    rec = _recorded(base, HOST, "kvm")
    assert _ask(prof, "kvm", "query-cpu-model-expansion", HOST) == {"return": rec["return"]}
    from qmpserver.arch.arm64 import cpu

    real = cpu.Catalog._make

    def no_pmu(self, name):
        c = real(self, name)
        c.pmu = False
        return c

    monkeypatch.setattr(cpu.Catalog, "_make", no_pmu)
    assert _ask(prof, "kvm", "query-cpu-model-expansion", HOST) == {"return": rec["return"]}


def test_host_expansion_of_6_2_has_no_pauth(store):
    root, base, host = store
    rec70 = _recorded(base, HOST, "kvm")["return"]["model"]["props"]
    assert "pauth" in rec70
    got = _ask(_variant(root, base, host, "6.2.0"), "kvm", "query-cpu-model-expansion", HOST)
    want = {k: v for k, v in rec70.items() if k != "pauth"}  # caps_6.2.0.aarch64.xml hostCPU kvm
    assert got["return"]["model"]["props"] == want
    got = _ask(
        _variant(root, base, host, "6.2.0"),
        "kvm",
        "query-cpu-model-expansion",
        {"type": "full", "model": {"name": "host", "props": {"pauth": False}}},
    )
    assert got == {"error": {"class": "GenericError", "desc": "Property 'host-arm-cpu.pauth' not found"}}
    # 7.0 computes it too (the recording left out): same as recorded
    got = _ask(_variant(root, base, host, "7.0.0"), "kvm", "query-cpu-model-expansion", HOST)
    assert got["return"]["model"]["props"] == rec70


@pytest.mark.parametrize(
    "version,present,absent",
    [
        ("5.2.0", ["kvm-steal-time"], ["pauth", "pauth-impdef"]),  # caps_5.2.0.aarch64.xml
        ("5.0.0", ["kvm-no-adjvtime"], ["kvm-steal-time", "pauth"]),
        ("6.2.0", ["pauth", "pauth-impdef"], ["pauth-qarma3"]),  # caps_6.2.0.aarch64.xml
    ],
)
def test_versions(store, version, present, absent):
    root, base, host = store
    prof = _variant(root, base, host, version)
    tcg = _ask(prof, "tcg", "query-cpu-model-expansion", MAX)["return"]["model"]["props"]
    kvm = _ask(prof, "kvm", "query-cpu-model-expansion", HOST)["return"]["model"]["props"]
    both = set(tcg) | set(kvm)
    for p in present:
        assert p in both, (version, p)
    for p in absent:
        assert p not in both, (version, p)


def test_definitions_follow_the_build_schema(store):
    """No recorded query-cpu-definitions: the computed list carries 'deprecated' only
    where the build's CpuDefinitionInfo has that member."""
    root, base, host = store

    def drop_deprecated(schema):
        cmd = next(e for e in schema if e.get("name") == "query-cpu-definitions")
        elem = next(e for e in schema if e["name"] == cmd["ret-type"])["element-type"]
        info = next(e for e in schema if e["name"] == elem)
        info["members"] = [m for m in info["members"] if m["name"] != "deprecated"]

    with_it = _variant(root, base, host, "7.0.0", drop=("query-cpu-definitions",))
    without = _variant(
        root, base, host, "7.0.0", drop=("query-cpu-definitions",), schema_edit=drop_deprecated, tag="-nodep"
    )
    a = _ask(with_it, "kvm", "query-cpu-definitions")["return"]
    b = _ask(without, "kvm", "query-cpu-definitions")["return"]
    assert all("deprecated" in d for d in a)
    assert b and all("deprecated" not in d for d in b)
    assert [{k: v for k, v in d.items() if k != "deprecated"} for d in a] == b


def test_cpu_option_with_properties_is_computed_not_replayed(store):
    """-cpu host,pmu=off applies to every new host object (a QOM global): the recorded
    probe answer (pmu true) is not this instance's answer; the model's is."""
    root, base, host = store
    prof = _variant(root, base, host, "7.0.0", drop=())
    rec = _recorded(base, HOST, "kvm")["return"]["model"]["props"]
    assert rec["pmu"] is True
    c = Qmp(make_instance(prof, accel=["kvm"], cpu="host", cpu_props={"pmu": "off"}))
    got = c.cmd("query-cpu-model-expansion", HOST)["return"]["model"]["props"]
    assert got == dict(rec, pmu=False)
    # without properties on -cpu the recorded answer stands
    c = Qmp(make_instance(prof, accel=["kvm"], cpu="host"))
    assert c.cmd("query-cpu-model-expansion", HOST)["return"]["model"]["props"] == rec
