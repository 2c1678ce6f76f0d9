"""examples/mte_client.py: runnable, and right on the built-in profiles."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "mte_client.py"


def _load():
    spec = importlib.util.spec_from_file_location("mte_client_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(*args, timeout=60):
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


CAPS = [{"version": 3, "emulated": True, "kernel": True}, {"version": 2, "emulated": True, "kernel": False}]


@pytest.mark.parametrize(
    "caps,wanted,accel,want",
    [
        (CAPS, None, None, (3, "kvm")),
        (CAPS, 2, None, (2, "tcg")),
        (CAPS, 2, "kvm", (2, "kvm")),  # asked explicitly: let QEMU refuse
        (
            [
                {"version": 3, "emulated": True, "kernel": False},
                {"version": 2, "emulated": True, "kernel": True},
            ],
            None,
            None,
            (2, "kvm"),
        ),
        (
            [
                {"version": 3, "emulated": False, "kernel": False},
                {"version": 2, "emulated": False, "kernel": False},
            ],
            None,
            None,
            None,
        ),
    ],
)
def test_choose(caps, wanted, accel, want):
    assert _load().choose(caps, wanted, accel) == want


@pytest.mark.parametrize(
    "args,rc,lines",
    [
        (
            (),
            0,
            [
                "starting: qmpserver serve --machine virt,mte-version=3 --accel kvm",
                "qom-get /machine mte-version -> '3', mte -> True",
                "proven: the guest has exactly MTE3",
            ],
        ),
        (
            ("--profile", "ampereone-a-mte-6.18"),
            0,
            ["--machine virt,mte-version=2 --accel kvm", "proven: the guest has exactly MTE2"],
        ),
        (
            ("--profile", "qmpserver-tcg"),
            0,
            ["--machine virt,mte-version=3 --accel tcg", "proven: the guest has exactly MTE3"],
        ),
        (
            ("--version", "2"),
            0,
            ["--machine virt,mte-version=2 --accel tcg", "proven: the guest has exactly MTE2"],
        ),
        (
            ("--version", "2", "--accel", "kvm"),
            1,
            [
                "refused (exit 1): qmpserver: MTE version 2 requested, but not supported by KVM (the host provides "
                "MTE3 and Linux 6.12 does not let userspace lower ID_AA64PFR1_EL1.MTE)"
            ],
        ),
        (("--profile", "graviton4-v2-6.12", "--accel", "kvm"), 1, ["no MTE version to offer a guest"]),
        (
            ("--profile", "qemu-11.1-tcg"),
            2,
            [
                "query-mte-capabilities: CommandNotFound: The command query-mte-capabilities has not been found",
                "this QEMU does not offer the MTE proposal",
            ],
        ),
    ],
)
def test_runs(args, rc, lines):
    code, out, err = run(*args)
    assert code == rc, (out, err)
    assert "Traceback" not in err
    for line in lines:
        assert line in out, out


def test_given_a_socket():
    d = tempfile.mkdtemp(prefix="mc", dir="/tmp")
    sock = os.path.join(d, "a.sock")
    first = subprocess.Popen(
        [sys.executable, "-m", "qmpserver.cli", "serve", "--profile", "default", "--qmp", "unix:" + sock],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 30
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.01)
        code, out, err = run(sock, "--profile", "default")
        assert code == 0, (out, err)
        assert "connected to %s (QEMU 11.1.0, v11.1.0-qmpserver)" % sock in out
        assert "proven: the guest has exactly MTE3" in out
        assert first.poll() is None  # the example leaves a given instance alone
    finally:
        first.terminate()
        first.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def test_without_qemu_qmp_says_what_to_install():
    """`python3 examples/mte_client.py` in a Python without qemu.qmp: one line, exit 3."""
    code = (
        "import sys, runpy; sys.modules['qemu'] = None; sys.modules['qemu.qmp'] = None; "
        "sys.argv = [%r]; runpy.run_path(%r, run_name='__main__')" % (str(EXAMPLE), str(EXAMPLE))
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 3, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "qemu.qmp not installed" in lines[0], p.stderr
    assert "pip install '.[examples]'" in lines[0]


def test_readme_quick_start_installs_what_the_examples_need():
    import re

    tomllib = pytest.importorskip("tomllib")
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    spec = re.search(r"pip install '?\.(\[[^\]]*\])?'?", quick)
    assert spec, quick
    extras = [e.strip() for e in (spec.group(1) or "[]")[1:-1].split(",") if e.strip()]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for e in extras:
        reqs += project["optional-dependencies"][e]
    assert any(r.lower().startswith("qemu.qmp") for r in reqs), (extras, reqs)
    # and the flagship example is run with that venv's Python, not the system's
    runs = re.findall(r"^\s*(\S+) examples/mte_client\.py", readme, re.M)
    assert runs and set(runs) == {".venv/bin/python"}, runs
