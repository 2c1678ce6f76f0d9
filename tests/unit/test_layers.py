"""The package layering of docs/architecture.md, checked from the code's own imports.

Every ``import``/``from … import`` in ``qmpserver/`` is read with :mod:`ast`, wherever it
appears (module top, function bodies, ``TYPE_CHECKING`` blocks), and mapped to the layer of the
importing and the imported module.  A module may import from its own layer or a lower one.
Layers are listed bottom-up; modules in one layer may import each other, but no two
*packages* may import each other (no cycle between packages).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "qmpserver"

# bottom-up; each entry is a package (directory) or a top-level module of qmpserver
LAYERS: list[tuple[str, ...]] = [
    # completion: argparse tree -> shell scripts; complete_as() tags arguments of every layer
    ("errors", "log", "__init__", "completion"),
    ("wire",),
    ("qapi",),
    ("qmp",),
    ("models",),
    ("arch",),
    ("profiles",),
    ("vm",),
    ("migration",),
    ("commands",),
    ("startup", "planner"),
    ("net",),
    ("launcher", "serve"),
    ("http",),
    # fleet: manifests and status of simulated-host containers (a command line's back end)
    ("testing", "cli", "__main__", "fleet"),  # __main__: python -m qmpserver runs the cli
]
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def unit_of(module: str) -> str:
    """'qmpserver.wire.encode' -> 'wire'; 'qmpserver' -> '__init__'.

    A package's ``cli`` module (``profiles/cli.py``, ``arch/arm64/cli.py``) is that package's
    command-line front end and belongs to the top layer with ``qmpserver/cli.py``.
    """
    parts = module.split(".")
    if len(parts) > 2 and parts[-1] == "cli":
        return "cli"
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (ROOT / rel).is_dir() or (ROOT / rel).with_suffix(".py").is_file()


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every qmpserver import in the file, relative ones resolved."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "qmpserver"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "qmpserver":
                continue
            # `from pkg import name`: the name may itself be a module (`from . import hooks`)
            found += [
                (node.lineno, sub if is_module(sub) else target)
                for sub in (target + "." + a.name for a in node.names)
            ]
    return found


def all_imports():
    for path in sorted(ROOT.rglob("*.py")):
        src = module_name(path)
        for line, target in imports_of(path):
            yield path.relative_to(ROOT.parent), line, src, target


def test_every_unit_has_a_layer():
    units = {unit_of(module_name(p)) for p in ROOT.rglob("*.py")}
    assert sorted(units - set(RANK)) == [], "add the new package to LAYERS (and docs/architecture.md)"


def test_no_import_goes_up_a_layer():
    bad = []
    for path, line, src, target in all_imports():
        a, b = unit_of(src), unit_of(target)
        if b in RANK and a in RANK and RANK[b] > RANK[a]:
            bad.append(f"{path}:{line}: {src} ({a}) imports {target} ({b})")
    assert bad == []


def test_no_cycle_between_packages():
    edges = defaultdict(set)
    for _, _, src, target in all_imports():
        a, b = unit_of(src), unit_of(target)
        if a != b:
            edges[a].add(b)
    cycles = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, ()))
    assert cycles == []


@pytest.mark.parametrize(
    "code,expected",
    [
        ("from ..wire import encode", ["qmpserver.wire.encode"]),
        ("from ..wire.encode import dumps", ["qmpserver.wire.encode"]),
        ("from qmpserver import __version__", ["qmpserver"]),
        ("from . import hooks", ["qmpserver.vm.hooks"]),
        ("def f():\n    import qmpserver.profiles.loader\n", ["qmpserver.profiles.loader"]),
        ("import os\nfrom qmpserver.qapi.visitor import Policy", ["qmpserver.qapi.visitor"]),
    ],
)
def test_imports_are_found_everywhere(tmp_path, monkeypatch, code, expected):
    pkg = tmp_path / "qmpserver" / "vm"
    pkg.mkdir(parents=True)
    (tmp_path / "qmpserver" / "wire").mkdir()
    (tmp_path / "qmpserver" / "wire" / "encode.py").write_text("")
    (pkg / "hooks.py").write_text("")
    f = pkg / "x.py"
    f.write_text(code)
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path / "qmpserver")
    assert [t for _, t in imports_of(f)] == expected
