"""scripts/test.sh leaves a quick-start .venv alone (scripts/test-venv.sh picks the venv)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def checkout(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "test-venv.sh", tmp_path / "scripts")
    return tmp_path


def _venv_with_qmpserver(checkout, direct_url):
    venv = checkout / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    if direct_url is not None:
        rel = os.path.relpath(sysconfig.get_paths()["purelib"], sysconfig.get_paths()["data"])
        site = venv / rel
        dist = site / "qmpserver-0.1.0.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: qmpserver\nVersion: 0.1.0\n")
        if direct_url:
            (dist / "direct_url.json").write_text(json.dumps(direct_url))
    return venv


def choose(checkout, **env):
    e = {k: v for k, v in os.environ.items() if k != "QMPSERVER_VENV"}
    e.update(env)
    r = subprocess.run(
        ["bash", str(checkout / "scripts" / "test-venv.sh")], capture_output=True, text=True, env=e
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_fresh_clone_uses_dot_venv(checkout):  # CI: a fresh clone, no venv yet
    assert choose(checkout) == ".venv"


def test_quick_start_install_is_left_alone(checkout):
    # `pip install .` records the source directory, not editable
    _venv_with_qmpserver(checkout, {"url": checkout.as_uri(), "dir_info": {}})
    assert choose(checkout) == ".venv-test"


def test_wheel_install_is_left_alone(checkout):
    _venv_with_qmpserver(checkout, {})  # installed from a wheel or an index: no direct_url.json
    assert choose(checkout) == ".venv-test"


def test_editable_install_of_another_checkout_is_left_alone(checkout, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    _venv_with_qmpserver(checkout, {"url": other.as_uri(), "dir_info": {"editable": True}})
    assert choose(checkout) == ".venv-test"


def test_the_test_venv_itself_is_reused(checkout):
    # what scripts/test.sh made before: an editable install of this very checkout
    _venv_with_qmpserver(checkout, {"url": checkout.as_uri(), "dir_info": {"editable": True}})
    assert choose(checkout) == ".venv"


def test_a_venv_without_qmpserver_is_used(checkout):
    _venv_with_qmpserver(checkout, None)
    assert choose(checkout) == ".venv"


def test_override(checkout):
    _venv_with_qmpserver(checkout, {})
    assert choose(checkout, QMPSERVER_VENV="/opt/v") == "/opt/v"


def test_test_sh_installs_only_into_the_chosen_venv():
    text = (ROOT / "scripts" / "test.sh").read_text()
    assert "scripts/test-venv.sh" in text
    code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if ".venv/bin" in line], "test.sh still writes into .venv directly"
