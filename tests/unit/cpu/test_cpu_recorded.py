"""Recorded oracles for the CPU commands.

The command table answers a question the build recorded from the recording
(``replay`` in :mod:`qmpserver.commands.registry`); these tests switch that off
(``model_only``) so that the CPU model, not the recording, answers and is compared.

* Every aarch64 build of models/builds that recorded query-cpu-model-expansion /
  query-cpu-definitions answers: the model (not the recording) gives the same answers.
* Every aarch64 recording of shared/data/libvirt-replies: imported with
  ``python -m qmpserver.profiles.replies FILE -o DIR``, each pass's CPU commands replayed on
  an instance with that pass's accelerator give the recorded replies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cpu_testutil import Qmp, make_instance

from qmpserver.profiles.loader import MODELS_DIR, load_profile
from tests.support.recordings import CAPSDATA, capsdata_path, split_passes

CPU_CMDS = (
    "query-cpu-model-expansion",
    "query-cpu-definitions",
    "query-cpu-model-baseline",
    "query-cpu-model-comparison",
)
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "libvirt-replies"
BUNDLED = Path(__file__).resolve().parents[1] / "profiles" / "data"
AARCH64 = ("caps_7.0.0.aarch64.replies", "caps_8.2.0_aarch64.replies", "caps_9.2.0_aarch64+hvf.replies")
# libvirt 9.0's own aarch64 recordings of older QEMUs (scripts/fetch-libvirt-capsdata.sh; git-ignored)
CAPSDATA_AARCH64 = tuple("caps_%s.aarch64.replies" % v for v in ("4.2.0", "5.0.0", "5.2.0", "6.0.0", "6.2.0"))


@pytest.fixture(autouse=True)
def model_only(monkeypatch):
    """The model answers every CPU question (no recorded answer served first)."""
    from qmpserver.commands import registry

    monkeypatch.setattr(registry, "REPLAY", {})


def builds():
    out = []
    for d in sorted(os.listdir(os.path.join(MODELS_DIR, "builds"))):
        if os.path.exists(os.path.join(MODELS_DIR, "builds", d, "replies.json")):
            out.append(d)
    return out


def _profile_for_build(build, accel, tmp):
    path = tmp / ("rec-%s-%s.yaml" % (build, accel))
    path.write_text(
        "kind: profile\nname: rec-%s-%s\nsummary: recorded oracle\nhost: tcg-only\nbuild: %s\n"
        "defaults: {accel: tcg, machine: virt, cpu: max}\n" % (build, accel, build)
    )
    return load_profile(str(path))


@pytest.mark.parametrize("build", builds())
def test_build_recordings(build, tmp_path):
    prof = _profile_for_build(build, "tcg", tmp_path)
    if prof.build.target != "aarch64":
        pytest.skip("not aarch64")
    entries = [
        e for name in CPU_CMDS for e in prof.build.recorded_calls(name) if e.get("accel") in ("tcg", None)
    ]
    if not entries:
        pytest.skip("no recorded CPU answers")
    c = Qmp(make_instance(prof, accel=["tcg"], machine={"type": "none"}))
    bad = []
    for e in entries:
        got = c.cmd(e["execute"], e.get("arguments"))
        want = {k: e[k] for k in ("return", "error") if k in e}
        if got != want:
            bad.append(
                "%s %s: recorded %s, got %s"
                % (
                    e["execute"],
                    json.dumps(e.get("arguments")),
                    json.dumps(want)[:200],
                    json.dumps(got)[:200],
                )
            )
    assert not bad, "\n".join(bad)


def _recording(name):
    if name in CAPSDATA_AARCH64:
        return capsdata_path(name).read_text()
    p = SHARED / name
    if p.is_file():
        return p.read_text()
    import gzip

    return gzip.decompress((BUNDLED / (name + ".gz")).read_bytes()).decode()


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("cpu-replies")
    out = {}
    for name in AARCH64 + CAPSDATA_AARCH64:
        if name in CAPSDATA_AARCH64 and not (CAPSDATA / name).is_file():
            continue  # the test of that recording skips (fails under REQUIRE) in _recording()
        src = root / "src" / name
        src.parent.mkdir(exist_ok=True)
        src.write_text(_recording(name))
        r = subprocess.run(
            [sys.executable, "-m", "qmpserver.profiles.replies", str(src), "-o", str(root)],
            capture_output=True,
            text=True,
            cwd=str(Path(__file__).resolve().parents[3]),
        )
        assert r.returncode == 0, r.stderr
        out[name] = src
    return root, out


@pytest.mark.parametrize("name", AARCH64 + CAPSDATA_AARCH64)
def test_libvirt_recordings_cpu_commands(imported, name, monkeypatch):
    import yaml

    root, srcs = imported
    if name not in srcs:
        _recording(name)  # skips, or fails under QMPSERVER_REQUIRE_REAL_PEERS=1
    monkeypatch.setenv("QMPSERVER_PROFILE_PATH", str(root))
    passes = split_passes(srcs[name].read_text())
    builds_dir = root / "builds"
    stem = None
    for d in builds_dir.iterdir():
        meta = yaml.safe_load((d / "build.yaml").read_text())
        if name in json.dumps(meta.get("sources", {})):
            stem, accels = d.name, meta["sources"]["passes"]
    assert stem is not None
    prof_path = root / "profiles" / (stem + ".yaml")
    if not prof_path.exists():
        prof_path.write_text(
            "kind: profile\nname: %s\nsummary: replay\nhost: tcg-only\nbuild: %s\n"
            "defaults: {accel: tcg, machine: virt, cpu: max}\n" % (stem, stem)
        )
    prof = load_profile(str(prof_path))
    checked = 0
    bad = []
    for accel, pairs in zip(accels, passes):
        c = Qmp(make_instance(prof, accel=[accel], machine={"type": "none"}))
        for cmd, rec in pairs:
            if cmd["execute"] not in CPU_CMDS:
                continue
            got = c.cmd(cmd["execute"], cmd.get("arguments"))
            want = {k: rec[k] for k in ("return", "error") if k in rec}
            checked += 1
            if got != want:
                bad.append(
                    "%s %s %s: recorded %s, got %s"
                    % (
                        accel,
                        cmd["execute"],
                        json.dumps(cmd.get("arguments")),
                        json.dumps(want)[:200],
                        json.dumps(got)[:200],
                    )
                )
    assert checked >= 4
    assert not bad, "\n".join(bad)
