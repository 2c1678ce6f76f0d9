"""A test that breaks its connection on purpose (a ``close`` or ``oversize`` fault, ``quit``)
passes, and the fixtures' teardown accepts the broken client instead of erroring."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

INNER = """
import pytest

PROFILE = "debian-7.2-tcg"


@pytest.mark.qmp_profile(PROFILE)
def test_close_sync(qmp_instance, qmp_sync):
    qmp_instance.fault("close")            # the reply comes, then the connection is closed
    assert qmp_sync.cmd("query-status")["status"] == "running"


@pytest.mark.qmp_profile(PROFILE)
def test_oversize_sync(qmp_instance, qmp_sync):
    qmp_instance.fault("oversize")         # one byte over qemu.qmp's 10 MiB line limit
    with pytest.raises(Exception):
        qmp_sync.cmd("query-status")


@pytest.mark.qmp_profile(PROFILE)
def test_quit_sync(qmp_instance, qmp_sync):
    qmp_sync.cmd("quit")


@pytest.mark.asyncio
@pytest.mark.qmp_profile(PROFILE)
async def test_close_async(qmp_instance, qmp_client):
    qmp_instance.fault("close")
    await qmp_client.execute("query-status")


@pytest.mark.asyncio
@pytest.mark.qmp_profile(PROFILE)
async def test_oversize_async(qmp_instance, qmp_client):
    qmp_instance.fault("oversize")
    with pytest.raises(Exception):
        await qmp_client.execute("query-status")
"""


def test_teardown_accepts_a_connection_the_test_broke(tmp_path):
    (tmp_path / "test_faults.py").write_text(INNER)
    env = dict(os.environ)
    for k in ("QMPSERVER_EXTERNAL", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        env.pop(k, None)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            str(tmp_path / "test_faults.py"),
        ],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = r.stdout[-4000:] + r.stderr[-2000:]
    assert "error" not in r.stdout.splitlines()[-1], tail
    assert re.search(r"\b5 passed\b", r.stdout), tail
    assert r.returncode == 0, tail
