"""The ``qmpserver`` command line as a new user meets it: install, first commands, errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def qmpserver(*args, pre="", timeout=60, env=None):
    """Run ``qmpserver ARGS`` from this checkout; ``pre`` is Python run before main()."""
    code = "import sys\n%s\nfrom qmpserver.cli import main\nsys.exit(main(sys.argv[1:]))" % pre
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, env=e
    )


def _pyproject():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _names(reqs):
    import re

    return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in reqs}


# --- item: `serve --http` after the README's install ---------------------------------------------


def test_http_needs_no_extra():
    """`pip install .` (the README's quick start) is enough for `serve --http`."""
    assert "aiohttp" in _names(_pyproject()["dependencies"])


def test_http_without_aiohttp_is_one_line(tmp_path):
    r = qmpserver(
        "serve",
        "--qmp",
        "unix:%s/q.sock" % tmp_path,
        "--http",
        "127.0.0.1:0",
        pre="import importlib.util as u; _f = u.find_spec\n"
        "u.find_spec = lambda n, *a: None if n.split('.')[0] == 'aiohttp' else _f(n, *a)\n"
        "sys.modules['aiohttp'] = None",
    )
    assert r.returncode == 1, r
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qmpserver: --http needs aiohttp"), r.stderr
    assert "pip install" in lines[0]
    assert not os.path.exists(tmp_path / "q.sock")
