"""tools/capture_migration.py on its own committed output (tests/data/migration/qemu-7.2-tcg).

No QEMU is started: the stream decoder reads the recorded streams and the README's generated
part must be what the tool builds from the recordings (so neither goes stale by hand-editing).
"""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "migration" / "qemu-7.2-tcg"

_spec = importlib.util.spec_from_file_location("capture_migration", ROOT / "tools" / "capture_migration.py")
cap = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = cap  # dataclasses look their module up there
_spec.loader.exec_module(cap)

DEVICES_VIRT_72_A57 = [
    ("timer", 0, 2),
    ("pflash_cfi01", 0, 1),
    ("pflash_cfi01", 1, 1),
    ("cpu_common", 0, 1),
    ("cpu", 0, 22),
    ("arm_gic", 0, 12),
    ("pl011", 0, 2),
    ("pl031", 0, 1),
    ("0000:00:00.0/gpex_root", 0, 1),
    ("PCIHost", 0, 1),
    ("PCIBUS", 0, 1),
    ("pl061", 0, 4),
    ("gpio-key", 0, 1),
    ("fw_cfg", 0, 2),
    ("virt_acpi_build", 0, 1),
    ("globalstate", 0, 1),
]


def _decode(name):
    return cap.decode_stream(cap.load_stream(str(DATA / f"{name}.bin.gz")))


@pytest.mark.parametrize(
    "name, machine",
    [("stream-virt-7.2", "virt-7.2"), ("stream-virt", "virt-7.2"), ("stream-virt-7.1", "virt-7.1")],
)
def test_stream_layout(name, machine):
    info = _decode(name)
    assert (info["magic"], info["version"]) == ("0x5145564d", 3)
    secs = info["sections"]
    assert secs[0]["type"] == "CONFIGURATION"
    assert secs[0]["machine"] == machine  # the alias `virt` is sent as its versioned name
    assert secs[0]["subsections"] == [{"name": "configuration/target-page-bits", "version": 1, "value": 12}]
    assert [(s["type"], s.get("idstr")) for s in secs[1:4]] == [
        ("START", "ram"),
        ("PART", "ram"),
        ("END", "ram"),
    ]
    assert secs[1]["version"] == 4
    full = [(s["idstr"], s["instance"], s["version"]) for s in secs if s["type"] == "FULL"]
    assert full == DEVICES_VIRT_72_A57
    assert [s["type"] for s in secs[-2:]] == ["EOF", "VMDESCRIPTION"]
    assert info["vmdesc_matches_full_sections"] is True


def test_readme_generated_part_is_current():
    text = (DATA / "README.md").read_text()
    start = text.index(cap.GEN_BEGIN)
    end = text.index(cap.GEN_END) + len(cap.GEN_END)
    assert text[start:end] == cap.build_readme(str(DATA))


def test_recordings_are_json_lines_with_a_header():
    files = sorted(DATA.glob("*.json"))
    assert {f.stem for f in files} == {sc.name for sc in cap.SCENARIOS}
    for f in files:
        lines = f.read_text().splitlines()
        head = json.loads(lines[0])["header"]
        assert head["scenario"] == f.stem and head["package"].startswith("qemu-system-arm 1:7.2")
        for line in lines[1:]:
            rec = json.loads(line)
            assert rec["run"] in head["runs"] and rec["side"] in ("src", "dst", "script")
