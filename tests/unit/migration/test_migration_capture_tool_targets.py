"""tools/capture_migration.py's ppc64 and x86_64 recordings (tests/data/migration/qemu-7.2-ppc64-tcg,
qemu-7.2-x86_64) on their own: the recorded streams' layout (what arch/ppc64/migrate.py and
arch/x86_64/migrate.py take from them), the README's generated part, the file format."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

_spec = importlib.util.spec_from_file_location("capture_migration", ROOT / "tools" / "capture_migration.py")
cap = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = cap  # dataclasses look their module up there
_spec.loader.exec_module(cap)

TARGETS = ("ppc64", "x86_64")


def _dir(target):
    return ROOT / cap.TARGETS[target].out


def _decode(target, name):
    return cap.decode_stream(cap.load_stream(str(_dir(target) / f"{name}.bin.gz")))


def _full(info):
    return [(s["idstr"], s["instance"], s["version"]) for s in info["sections"] if s["type"] == "FULL"]


def test_pseries_stream():
    info = _decode("ppc64", "stream-pseries-7.2")
    secs = info["sections"]
    assert secs[0]["type"] == "CONFIGURATION" and secs[0]["machine"] == "pseries-7.2"
    assert secs[0]["subsections"] == []  # no target-page-bits on ppc64
    ram = next(s for s in secs if s.get("idstr") == "ram")
    assert [b["idstr"] for b in ram["ram"]["blocks"]] == ["ppc_spapr.ram"]
    full = [x[0] for x in _full(info)]
    # the order arch/ppc64/migrate.py keeps: spapr-xive before the vCPUs, spapr after them
    assert full.index("spapr-xive") < full.index("cpu") < full.index("spapr")
    assert ("cpu", 0, 5) in _full(info) and ("spapr", 0, 3) in _full(info)


@pytest.mark.parametrize(
    "name, machine", [("stream-pc-7.2", "pc-i440fx-7.2"), ("stream-q35-7.2", "pc-q35-7.2")]
)
def test_x86_streams(name, machine):
    info = _decode("x86_64", name)
    secs = info["sections"]
    assert secs[0]["machine"] == machine and secs[0]["subsections"] == []
    ram = next(s for s in secs if s.get("idstr") == "ram")
    blocks = [(b["idstr"], b["used_length"]) for b in ram["ram"]["blocks"]]
    from qmpserver.arch.x86_64.migrate import FIXED_BLOCKS

    assert blocks == [("pc.ram", 128 << 20), *FIXED_BLOCKS]
    assert ("cpu", 0, 12) in _full(info)
    assert "kvmclock" not in [x[0] for x in _full(info)]  # TCG


def test_kvm_stream_has_kvmclock():
    assert ("kvmclock", 0, 1) in _full(_decode("x86_64", "stream-pc-7.2-kvm"))


@pytest.mark.parametrize("target", TARGETS)
def test_readme_generated_part_is_current(target):
    text = (_dir(target) / "README.md").read_text()
    start = text.index(cap.GEN_BEGIN)
    end = text.index(cap.GEN_END) + len(cap.GEN_END)
    assert text[start:end] == cap.build_readme(str(_dir(target)))


@pytest.mark.parametrize("target", TARGETS)
def test_recordings_are_json_lines_with_a_header(target):
    files = sorted(_dir(target).glob("*.json"))
    assert {f.stem for f in files} == {sc.name for sc in cap.BY_TARGET[target]}
    for f in files:
        lines = f.read_text().splitlines()
        head = json.loads(lines[0])["header"]
        assert head["scenario"] == f.stem and head["target"] == target
        assert head["package"].startswith(cap.TARGETS[target].package + " 1:7.2")
        for line in lines[1:]:
            rec = json.loads(line)
            assert rec["run"] in head["runs"] and rec["side"] in ("src", "dst", "script")


def _vmdesc(target, name):
    data = cap.load_stream(str(_dir(target) / f"{name}.bin.gz"))
    i = data.rfind(b'{"page_size"')
    return json.JSONDecoder().raw_decode(data[i:].decode("latin-1"))[0]


def test_spapr_cap_subsections_are_what_the_model_sends():
    """The real source sends spapr/cap/<name> for exactly the caps set away from their
    defaults (cap-htm=off is the default: not sent) plus hpt_maxpagesize, under the names
    arch/ppc64/migrate.py uses, in the model's order."""
    sys.path.insert(0, str(ROOT / "tests" / "unit" / "machine"))
    from machine_testutil import start

    from qmpserver.arch.ppc64 import migrate as ppc

    head = json.loads((_dir("ppc64") / "stream-pseries-7.2-caps.json").read_text().splitlines()[0])["header"]
    machine = head["command_lines"]["src"].split(" -machine ")[1].split(" ")[0]
    spapr = next(d for d in _vmdesc("ppc64", "stream-pseries-7.2-caps")["devices"] if d["name"] == "spapr")
    recorded = [
        s["vmsd_name"][len("spapr/cap/") :]
        for s in spapr["subsections"]
        if s["vmsd_name"].startswith("spapr/cap/")
    ]
    inst = start("qemu-7.2-debian-ppc64", machine, "tcg", "power9", memory=512 << 20)
    assert list(ppc.Machine(inst).sent_caps()) == recorded
    assert "htm" not in recorded and "spapr_option_vector_ov5_cas" in [
        s["vmsd_name"] for s in spapr["subsections"]
    ]
