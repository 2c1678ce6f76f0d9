"""The capture tool against Debian's real QEMU 7.2, and the committed build against a fresh capture.

Skipped when the binaries are absent, unless QMPSERVER_REQUIRE_REAL_PEERS=1 (then they fail).
"""

import datetime
import json
import os
import re
import subprocess

import pytest
import yaml
from capture_testutil import REPO, need, real_binary

from qmpserver.profiles import capture as C
from qmpserver.profiles import replies as R
from tests.support.oracle_env import require_recorded_packages

pytestmark = pytest.mark.realqemu

AARCH64 = "/usr/bin/qemu-system-aarch64"
X86_64 = "/usr/bin/qemu-system-x86_64"
COMMITTED = REPO / "models" / "builds" / "qemu-7.2-debian"
DAY = datetime.date(2026, 11, 21)


def capture(binary, out, name, accel):
    result = C.run_capture(binary, accel, timeout=60)
    paths = C.write_capture(result, out, name, "test", today=DAY)
    doc = R.load_replies_json(paths["build"] / "replies.json")
    build = yaml.safe_load((paths["build"] / "build.yaml").read_text())
    schema = json.loads((paths["build"] / "schema.json").read_text())
    return result, paths, build, schema, doc


@pytest.fixture(scope="module")
def aarch64(tmp_path_factory):
    real_binary(AARCH64)
    return capture(AARCH64, tmp_path_factory.mktemp("models"), "qemu-7.2-debian", "tcg")


def test_aarch64_capture_values(aarch64):
    result, paths, build, schema, doc = aarch64
    banner = subprocess.run([AARCH64, "-version"], capture_output=True, text=True).stdout
    m = re.search(r"QEMU emulator version (\d+\.\d+\.\d+) \((.*)\)", banner)
    assert build["version"] == m.group(1) and build["package"] == m.group(2)
    assert build["target"] == "aarch64" and "tcg" in build["accelerators"]
    assert build["sources"]["passes"] == ["tcg"]
    q = doc["greeting"]["QMP"]["version"]["qemu"]
    assert f"{q['major']}.{q['minor']}.{q['micro']}" == build["version"]
    assert {e["name"] for e in schema} >= {"query-cpu-model-expansion", "query-gic-capabilities"}
    ents = doc["entries"]
    f = lambda *a, **k: R.find_entry(ents, *a, **k)  # noqa: E731
    assert f("device-list-properties", {"typename": "virtio-net-ccw"})["error"] == {
        "class": "DeviceNotFound",
        "desc": "Device 'virtio-net-ccw' not found",
    }
    assert f("query-cpu-model-expansion", {"type": "full", "model": {"name": "host"}})["error"] == {
        "class": "GenericError",
        "desc": "The CPU type 'host' requires KVM",
    }
    assert f("query-cpu-model-expansion", {"type": "static", "model": {"name": "max"}})["error"] == {
        "class": "GenericError",
        "desc": "The requested expansion type is not supported",
    }
    assert (
        f("query-cpu-model-expansion", {"type": "full", "model": {"name": "max", "props": R.HV_PROPS}})[
            "error"
        ]["desc"]
        == "Parameter 'hv-passthrough' is unexpected"
    )
    mx = f("query-cpu-model-expansion", {"type": "full", "model": {"name": "max"}})["return"]["model"]
    assert mx["props"]["sve"] is True and mx["props"]["sve2048"] is True
    a57 = f("query-cpu-model-expansion", {"type": "full", "model": {"name": "cortex-a57"}})
    assert a57["return"] == {"model": {"name": "cortex-a57", "props": {"aarch64": True, "pmu": True}}}
    machines = f("query-machines")["return"]
    virt = [m for m in machines if m.get("alias") == "virt"]
    assert virt and virt[0]["name"] == "virt-7.2"
    virt_props = f("qom-list-properties", {"typename": "virt-7.2-machine"})["return"]
    assert {"gic-version", "mte"} <= {p["name"] for p in virt_props}
    assert f("query-gic-capabilities")["return"] == [
        {"emulated": True, "version": 3, "kernel": False},
        {"emulated": True, "version": 2, "kernel": False},
    ]
    assert f("query-kvm")["return"] == {"enabled": False, "present": False}
    assert f("query-status")["return"]["status"] == "prelaunch"
    # the virt instance
    (inst,) = doc["instances"]
    assert (inst["machine"], inst["accel"], inst["cpu"]) == ("virt", "tcg", "max")
    g = lambda *a: R.find_entry(inst["entries"], *a)  # noqa: E731
    assert g("qom-get", {"path": "/machine", "property": "gic-version"})["return"] == "2"
    assert g("qom-get", {"path": "/machine", "property": "mte"})["return"] is False
    assert g("query-memory-size-summary")["return"] == {"base-memory": 134217728, "plugged-memory": 0}
    assert g("query-hotpluggable-cpus")["error"]["class"] == "GenericError"
    # no KVM for aarch64 guests here: this machine as a TCG-only host, and a profile that starts
    host = yaml.safe_load(paths["host"].read_text())
    assert host["kvm"] == {"present": False} and host["targets"] == {"aarch64": {"accels": ["tcg"]}}


def test_aarch64_capture_profile_starts(aarch64):
    """Issue 14 item 8: what a TCG capture wrote is usable with --profile as it is."""
    from capture_testutil import start_profile

    result, paths, build, schema, doc = aarch64
    version, gic = start_profile(
        paths["profile"], "query-version", ("qom-get", {"path": "/machine", "property": "gic-version"})
    )
    assert version["return"] == R.find_entry(doc["entries"], "query-version")["return"]
    assert gic == {"return": "2"}  # as the captured virt instance answered


# ---- the committed build ------------------------------------------------------------------------


def normalize(entries):
    """Drop what differs between two captures of the same binary."""
    out = []
    for e in entries:
        e = json.loads(json.dumps(e))
        if e["execute"] == "query-chardev" and isinstance(e.get("return"), list):
            for c in e["return"]:
                c["filename"] = re.sub(r"unix:.*/qmp\.monitor", "unix:<dir>/qmp.monitor", c["filename"])
        if e["execute"] in ("query-cpus-fast", "query-iothreads") and isinstance(e.get("return"), list):
            for c in e["return"]:
                c.pop("thread-id", None)
        if e["execute"] == "qom-get" and e["arguments"].get("property") == "rtc-time":
            e.pop("return", None)
        out.append(e)
    return out


def test_committed_build_matches_fresh_capture(aarch64):
    _, _, build, schema, doc = aarch64
    assert COMMITTED.is_dir(), "models/builds/qemu-7.2-debian is missing"
    committed = yaml.safe_load((COMMITTED / "build.yaml").read_text())
    if committed["package"] != build["package"] or committed["version"] != build["version"]:
        msg = (
            f"installed QEMU is {build['version']} ({build['package']}), the committed build "
            f"{committed['version']} ({committed['package']}); recapture with: "
            f"{committed['sources']['refs']['capture'].rsplit(',', 1)[0]} --force"
        )
        if os.environ.get("QMPSERVER_REQUIRE_REAL_PEERS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    require_recorded_packages(COMMITTED, what="models/builds/qemu-7.2-debian")
    for key in (
        "kind",
        "name",
        "summary",
        "version",
        "package",
        "target",
        "accelerators",
        "schema",
        "replies",
        "proposals",
    ):
        assert committed[key] == build[key], key
    assert committed["sources"]["passes"] == build["sources"]["passes"]
    assert committed["sources"]["fields"] == {"*": "capture"}
    assert "--emulator /usr/bin/qemu-system-aarch64 --accel tcg" in committed["sources"]["refs"]["capture"]
    assert json.loads((COMMITTED / "schema.json").read_text()) == schema
    old = R.load_replies_json(COMMITTED / "replies.json")
    assert old["greeting"] == doc["greeting"]
    a, b = normalize(old["entries"]), normalize(doc["entries"])
    assert [(e["execute"], e.get("arguments"), e.get("accel")) for e in a] == [
        (e["execute"], e.get("arguments"), e.get("accel")) for e in b
    ]
    for x, y in zip(a, b):
        assert x == y, x["execute"]
    assert len(old["instances"]) == len(doc["instances"])
    for i, j in zip(old["instances"], doc["instances"]):
        assert {k: v for k, v in i.items() if k != "entries"} == {
            k: v for k, v in j.items() if k != "entries"
        }
        assert normalize(i["entries"]) == normalize(j["entries"])


def test_committed_build_follows_the_build_schema():
    """build.yaml against schemas/build.schema.json (the loader's contract), when it exists."""
    schema_file = REPO / "schemas" / "build.schema.json"
    if not schema_file.exists() or not COMMITTED.is_dir():
        pytest.skip("no build schema or no committed build")
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(
        yaml.safe_load((COMMITTED / "build.yaml").read_text()), json.loads(schema_file.read_text())
    )


# ---- x86_64 with KVM (written to a temp dir only) -----------------------------------------------


def test_x86_64_kvm_capture(tmp_path):
    real_binary(X86_64)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        need("/dev/kvm (read/write)")
    result, paths, build, schema, doc = capture(X86_64, tmp_path, "x86", "kvm")
    assert build["sources"]["passes"] == ["kvm", "tcg"]
    assert "kvm" in build["accelerators"] and build["target"] == "x86_64"
    ents = doc["entries"]
    assert R.find_entry(ents, "query-kvm", accel="kvm")["return"] == {"enabled": True, "present": True}
    assert R.find_entry(ents, "query-kvm", accel="tcg")["return"] == {"enabled": False, "present": True}
    host_exp = R.find_entry(
        ents, "query-cpu-model-expansion", {"type": "full", "model": {"name": "host"}}, accel="kvm"
    )
    assert host_exp["accel"] == "kvm" and "props" in host_exp["return"]["model"]
    host = yaml.safe_load(paths["host"].read_text())
    assert host["arch"] == "x86_64" and host["kvm"]["present"] is True
    assert host["kernel"]["release"] == os.uname().release
    cpuinfo = open("/proc/cpuinfo").read()
    vendor = re.search(r"^vendor_id\s*:\s*(\S+)", cpuinfo, re.M)
    if vendor:
        assert host["cpu"]["vendor"] == vendor.group(1)
    prof = yaml.safe_load(paths["profile"].read_text())
    assert prof["defaults"] == {"accel": "kvm", "machine": "pc", "cpu": "host"}
    # both passes started an instance (with -cpu host or, if that cannot start, the default CPU)
    assert [i["accel"] for i in doc["instances"]] == ["kvm", "tcg"]
