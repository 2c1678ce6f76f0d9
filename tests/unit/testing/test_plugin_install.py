"""The pytest plugin installs lean: the `pytest` extra carries what its fixtures import, and only that."""

from __future__ import annotations

import ast
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HEAVY = {"schemathesis", "hypothesis", "testcontainers", "docker", "rich", "pytest-xdist"}
# import name -> distribution name, where they differ
DIST_OF = {"yaml": "pyyaml", "pytest_asyncio": "pytest-asyncio", "qemu": "qemu.qmp"}


def _project():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _names(reqs):
    return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in reqs}


def _third_party_imports(path):
    tree = ast.parse(open(path).read())
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            mods.add(node.module.split(".")[0])
    return {m for m in mods if m not in sys.stdlib_module_names and m != "qmpserver"}


def test_pytest_extra_is_lean_and_complete():
    project = _project()
    extra = _names(project["optional-dependencies"]["pytest"])
    assert not extra & HEAVY, extra & HEAVY
    available = extra | _names(project["dependencies"])
    for mod in ("plugin.py", "server.py"):
        for name in _third_party_imports(os.path.join(ROOT, "qmpserver", "testing", mod)):
            assert DIST_OF.get(name, name) in available, "%s imports %s, not in the pytest extra" % (
                mod,
                name,
            )


def test_docs_say_how_to_install_the_plugin():
    project = _project()
    text = open(os.path.join(ROOT, "docs", "testing.md")).read()
    assert "qmpserver[test]" not in text  # not on any index, and the heavy stack of our own suite
    extras = re.findall(r"pip install [^\n]*?\[([\w,-]+)\]", text)
    assert "pytest" in extras
    for group in extras:
        for e in group.split(","):
            assert e in project["optional-dependencies"], e
    assert re.search(r"pip install [^\n]*\.whl\[pytest\]", text), "no install from a built wheel"
    assert re.search(r"pip install [^\n]*checkout[^\n]*\[pytest\]|pip install '\.\[pytest\]'", text)
