"""qmpserver.models: the one reader below profiles/ and arch/, and what the loader does with it."""

import ast
import os

import pytest

import qmpserver
from qmpserver import models
from qmpserver.profiles.loader import ProfileError, load_profile

PKG = os.path.dirname(qmpserver.__file__)


def _imports(path):
    """Every module a file imports, function-level imports included, as absolute names."""
    pkg = os.path.relpath(os.path.dirname(path), os.path.dirname(PKG)).replace(os.sep, ".")
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.add(mod)
            out.update(mod + "." + a.name for a in node.names)
    return out


def _files(sub):
    for d, _dirs, files in os.walk(os.path.join(PKG, sub)):
        for f in files:
            if f.endswith(".py"):
                yield os.path.join(d, f)


@pytest.mark.parametrize("path", sorted(_files("arch")), ids=lambda p: os.path.relpath(p, PKG))
def test_arch_never_imports_profiles(path):
    assert not [m for m in _imports(path) if m.startswith("qmpserver.profiles")]


def test_models_imports_neither_profiles_nor_arch():
    mods = _imports(os.path.join(PKG, "models.py"))
    assert not [m for m in mods if m.startswith(("qmpserver.profiles", "qmpserver.arch"))]


def test_pick_recorded_never_crosses_accelerators_for_accel_dependent_answers():
    only_kvm = {"kvm": {"return": "k"}}
    assert models.pick_recorded("query-cpu-model-expansion", only_kvm, "tcg") is None
    assert models.pick_recorded("query-cpu-model-expansion", only_kvm, "kvm") == {"return": "k"}
    assert models.pick_recorded("query-cpu-model-expansion", only_kvm, None) == {"return": "k"}
    assert models.pick_recorded("query-version", only_kvm, "tcg") == {"return": "k"}
    both = {"kvm": {"return": "k"}, None: {"return": "u"}}
    assert models.pick_recorded("query-kvm", both, "tcg") == {"return": "u"}


def test_reply_key_ignores_member_order_and_absent_arguments():
    assert models.reply_key("q", {"b": 1, "a": 2}) == models.reply_key("q", {"a": 2, "b": 1})
    assert models.reply_key("q", None) == models.reply_key("q", {}) == "q {}"


HOST = """kind: host
name: odd
summary: a host whose kernel is too old for one of its capabilities
arch: aarch64
cpu: {midr: 0, implementer: unknown, part: unknown, count: 1}
kernel: {release: '5.10'}
kvm: {present: true, caps: {KVM_CAP_ARM_EL2: 1}, sve_vector_lengths: [], gic: {v2: false, v3: true}}
idregs: {}
sources: {refs: {r: invented}, fields: {cpu: synthetic, kernel: synthetic, kvm: r, idregs: synthetic}}
"""


def test_loader_checks_host_files_semantically(tmp_path, monkeypatch):
    monkeypatch.setenv("QMPSERVER_CACHE_DIR", "off")
    (tmp_path / "hosts").mkdir()
    (tmp_path / "profiles").mkdir()
    (tmp_path / "hosts" / "odd.yaml").write_text(HOST)
    (tmp_path / "profiles" / "odd.yaml").write_text(
        "kind: profile\nname: odd\nsummary: a profile on a host with an impossible capability\n"
        "host: odd\nbuild: qemu-11.1\ndefaults: {accel: kvm, machine: virt, cpu: host}\n"
    )
    with pytest.raises(ProfileError) as ei:
        load_profile("odd", [str(tmp_path)])
    assert ei.value.file == str(tmp_path / "hosts" / "odd.yaml")
    assert ei.value.path == "kvm.caps.KVM_CAP_ARM_EL2"
    assert "does not know this capability" in str(ei.value)
