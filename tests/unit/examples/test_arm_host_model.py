"""examples/arm_host_model.py: runs over the built-in KVM hosts (proposal arm-cpu-models)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "arm_host_model.py"


def run(*args, timeout=90):
    env = dict(os.environ)
    env.pop("QMPSERVER_PROFILE", None)
    p = subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )
    return p.returncode, p.stdout, p.stderr


def test_builtin_hosts_get_a_common_model_and_start_it():
    code, out, err = run()
    assert code == 0, out + err
    lines = out.splitlines()
    assert "graviton4-v2-6.12: host-model = neoverse-v2-v2" in lines
    assert "ampereone-a-mte-6.18: host-model = ampereone-a-v1" in lines
    assert any(x.startswith("fits all 4 hosts: armv8.3-a-v1") for x in lines)
    assert sum(" started with -cpu armv8.3-a-v1 " in x for x in lines) == 4


def test_one_host_is_its_own_vendor_model():
    code, out, _ = run("graviton3-v1-6.1")
    assert code == 0
    assert "fits all 1 hosts: neoverse-v1-v1" in out


def test_upstream_build_has_no_named_models():
    code, out, _ = run("graviton4-v2-6.12-qemu-11.1")
    assert code == 2, out
    assert "no named models (The requested expansion type is not supported)" in out
