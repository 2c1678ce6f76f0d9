"""The complete example of docs/testing.md runs, as written, in a pytest of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_docs_example_passes(tmp_path):
    text = open(os.path.join(ROOT, "docs", "testing.md")).read()
    block = re.search(r"## A complete example.*?```python\n(.*?)```", text, re.S).group(1)
    (tmp_path / "test_qmp_client.py").write_text(block)
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
            "-p",
            "no:randomly",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            str(tmp_path / "test_qmp_client.py"),
        ],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert re.search(r"\b8 passed\b", r.stdout), r.stdout[-2000:]
