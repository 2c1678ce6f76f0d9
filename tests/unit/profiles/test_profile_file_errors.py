"""Bad profile files give ``file: field path: expectation``, never a traceback (issue 16:
D18 encodings and malformed replies, D19 host ``extends``, duplicate keys, names, D13, D14)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from qmpserver.errors import UsageError
from qmpserver.models import MODELS_DIR
from qmpserver.profiles import loader
from qmpserver.profiles.store import Store, StoreError


def _store(tmp_path):
    for sub in ("profiles", "hosts", "builds"):
        (tmp_path / sub).mkdir()
    return tmp_path


def _compile(root, name):
    roots = loader.search_roots([str(root)])
    path = loader.resolve_spec(name, roots)
    return loader.compile_profile(path, roots)


# --- D18: encodings and malformed replies ----------------------------------------------------


def test_latin1_profile_is_a_clean_error(tmp_path):
    root = _store(tmp_path)
    p = root / "profiles" / "lat.yaml"
    p.write_bytes(
        'kind: profile\nname: lat\nsummary: "caf\xe9"\nhost: tcg-only\nbuild: qmpserver\n'.encode("latin-1")
    )
    with pytest.raises(loader.ProfileError) as ei:
        _compile(root, "lat")
    assert str(p) in str(ei.value) and "UTF-8" in str(ei.value)


def test_latin1_profile_in_store_read_and_list(tmp_path):
    root = _store(tmp_path)
    p = root / "profiles" / "lat.yaml"
    p.write_bytes(b"kind: profile\nname: lat\nsummary: caf\xe9\n")
    st = Store(str(root))
    with pytest.raises(UsageError) as ei:
        st.read("profile", "lat")
    assert "lat.yaml" in str(ei.value) and "UTF-8" in str(ei.value)
    rows = {r["name"]: r for r in st.list("profile")}
    assert rows["lat"]["valid"] is False and "UTF-8" in rows["lat"]["summary"]


def _build_with_replies(root, entries):
    src = os.path.join(MODELS_DIR, "builds", "qemu-7.2-debian")
    dst = root / "builds" / "qemu-7.2-debian"  # searched before the built-in of that name
    shutil.copytree(src, dst)
    doc = json.loads((dst / "replies.json").read_text())
    doc["entries"] = entries
    (dst / "replies.json").write_text(json.dumps(doc))
    (root / "profiles" / "p.yaml").write_text(
        "kind: profile\nname: p\nsummary: s\nhost: tcg-only\nbuild: qemu-7.2-debian\n"
    )
    return dst / "replies.json"


@pytest.mark.parametrize(
    "entries, where, what",
    [
        ([{"return": {}}], "entries[0]", "'execute' is a required property"),
        ([{"execute": 5, "return": {}}], "entries[0].execute", "string"),
        ([{"execute": "query-version", "return": {}}, "x"], "entries[1]", "object"),
        ([{"execute": "query-version", "arguments": [1]}], "entries[0].arguments", "object"),
        ([{"execute": "query-version", "accel": 3}], "entries[0].accel", "string"),
    ],
)
def test_malformed_replies_entry_names_file_and_field(tmp_path, entries, where, what):
    root = _store(tmp_path)
    replies = _build_with_replies(root, entries)
    with pytest.raises(loader.ProfileError) as ei:
        _compile(root, "p")
    msg = str(ei.value)
    assert msg.startswith("%s: %s: " % (replies, where)), msg
    assert what in msg


# --- D19: host extends ---------------------------------------------------------------------


def test_host_extends_resolves(tmp_path):
    root = _store(tmp_path)
    (root / "hosts" / "child.yaml").write_text(
        "kind: host\nname: child\nextends: graviton3-v1-6.1\nsummary: a child host\n"
    )
    (root / "profiles" / "p.yaml").write_text(
        "kind: profile\nname: p\nsummary: s\nhost: child\nbuild: qmpserver\n"
    )
    prof, _deps = _compile(root, "p")
    assert prof.host.name == "child"
    assert prof.host.data["summary"] == "a child host"
    assert prof.host.data["cpu"]["part"] == "Neoverse V1"


def test_host_extends_cycle_names_files(tmp_path):
    root = _store(tmp_path)
    (root / "hosts" / "ha.yaml").write_text("kind: host\nname: ha\nextends: hb\nsummary: a\n")
    (root / "hosts" / "hb.yaml").write_text("kind: host\nname: hb\nextends: ha\nsummary: b\n")
    (root / "profiles" / "p.yaml").write_text(
        "kind: profile\nname: p\nsummary: s\nhost: ha\nbuild: qmpserver\n"
    )
    with pytest.raises(loader.ProfileError) as ei:
        _compile(root, "p")
    msg = str(ei.value)
    assert "cycle" in msg and "ha.yaml" in msg and "hb.yaml" in msg, msg


def test_host_extends_child_still_checked(tmp_path):
    root = _store(tmp_path)
    (root / "hosts" / "child.yaml").write_text(
        "kind: host\nname: child\nextends: graviton3-v1-6.1\nsummary: s\nbogus: 1\n"
    )
    (root / "profiles" / "p.yaml").write_text(
        "kind: profile\nname: p\nsummary: s\nhost: child\nbuild: qmpserver\n"
    )
    with pytest.raises(loader.ProfileError) as ei:
        _compile(root, "p")
    assert "child.yaml" in str(ei.value) and "bogus" in str(ei.value)


@pytest.mark.parametrize("how", ["file", "inline"])
def test_build_extends_replaces_the_schema_source(tmp_path, how):
    """A build's schema is one source or the other: a child's ``schema`` replaces the parent's
    (qemu-11.1's recorded introspection) instead of merging into an invalid pair."""
    root = _store(tmp_path)
    native = "{extends: qemu-11.1, name: native, schema: {qapi: schemas/qapi/qemu.json}}"
    if how == "file":
        (root / "builds" / "native").mkdir()
        (root / "builds" / "native" / "build.yaml").write_text(
            "kind: qemu-build\nname: native\nextends: qemu-11.1\nschema: {qapi: schemas/qapi/qemu.json}\n"
        )
        native = "native"
    (root / "profiles" / "p.yaml").write_text(
        "kind: profile\nname: p\nsummary: s\nhost: tcg-only\nbuild: %s\n" % native
    )
    prof, _deps = _compile(root, "p")
    assert prof.build.data["schema"] == {
        "qapi": os.path.join(os.path.dirname(MODELS_DIR), "schemas", "qapi", "qemu.json")
    }
    assert prof.build.schema.origin.endswith("qemu.json")
    assert "send-key" not in prof.build.schema.commands  # the native source's subset
    full, _deps = _compile(root, "qemu-11.1-tcg")
    assert "send-key" in full.build.schema.commands


def test_host_extends_via_store(tmp_path):
    st = Store(str(_store(tmp_path)))
    st.put("host", "child", "kind: host\nname: child\nextends: graviton3-v1-6.1\nsummary: s\n")
    assert (tmp_path / "hosts" / "child.yaml").exists()


# --- duplicate keys, name vs file name --------------------------------------------------------


def test_duplicate_key_names_file_key_and_lines(tmp_path):
    root = _store(tmp_path)
    p = root / "profiles" / "d.yaml"
    p.write_text(
        "kind: profile\nname: d\nsummary: s\nhost: tcg-only\nbuild: qmpserver\nhost: graviton3-v1-6.1\n"
    )
    with pytest.raises(loader.ProfileError) as ei:
        _compile(root, "d")
    msg = str(ei.value)
    assert (
        msg.startswith(str(p) + ": line 6, column 1: ") and "duplicate key 'host' (first on line 4)" in msg
    ), msg


def test_duplicate_nested_key_and_store_put(tmp_path):
    st = Store(str(_store(tmp_path)))
    with pytest.raises(StoreError) as ei:
        st.put("profile", "d", "kind: profile\nname: d\ndefaults:\n  accel: kvm\n  accel: tcg\n")
    assert "d.yaml: line 5, column 3" in str(ei.value) and "duplicate key 'accel'" in str(ei.value)


def test_yaml_merge_keys_are_not_duplicates():
    from qmpserver.models import parse_yaml

    doc = parse_yaml("a: &x {k: 1, j: 2}\nb:\n  <<: *x\n  k: 3\n", "f.yaml")
    assert doc["b"] == {"k": 3, "j": 2}


@pytest.mark.parametrize("sub, kind", [("profiles", "profile"), ("hosts", "host")])
def test_name_differing_from_file_name(tmp_path, sub, kind):
    root = _store(tmp_path)
    if kind == "host":
        (root / "hosts" / "h.yaml").write_text(
            "kind: host\nextends: graviton3-v1-6.1\nsummary: s\nname: other\n"
        )
        (root / "profiles" / "p.yaml").write_text(
            "kind: profile\nname: p\nsummary: s\nhost: h\nbuild: qmpserver\n"
        )
        bad = root / "hosts" / "h.yaml"
    else:
        (root / "profiles" / "p.yaml").write_text(
            "kind: profile\nsummary: s\nname: q\nhost: tcg-only\nbuild: qmpserver\n"
        )
        bad = root / "profiles" / "p.yaml"
    with pytest.raises(loader.ProfileError) as ei:
        _compile(root, "p")
    msg = str(ei.value)
    assert msg.startswith("%s: name (line 4): " % bad) or msg.startswith("%s: name (line 3): " % bad), msg
    assert "differs from the file name" in msg


# --- D14: temp files of a writer killed during a PUT -------------------------------------------

_HANG_IN_PUT = """
import sys, time
from qmpserver.profiles.store import Store
Store._checked_compile = lambda self, kind, name, tmp: time.sleep(600)
Store(sys.argv[1]).put("profile", "k", "kind: profile\\nname: k\\nsummary: s\\nhost: tcg-only\\nbuild: qmpserver\\n")
"""


def test_store_removes_temp_files_of_a_killed_writer(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    root = _store(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", _HANG_IN_PUT, str(root)])
    try:
        deadline = time.monotonic() + 20
        while not list((root / "profiles").glob(".k.*.tmp")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        (tmp,) = (root / "profiles").glob(".k.*.tmp")
        os.utime(tmp, (time.time() - 3600,) * 2)
        assert Store(str(root)).removed_stale == [] and tmp.exists()  # a live writer's: kept
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        fresh = root / "hosts" / ".h.new.tmp"
        fresh.write_text("x")  # unlocked but recent: maybe a writer between mkstemp and flock
        st = Store(str(root))
        assert st.removed_stale == [str(tmp)] and not tmp.exists() and fresh.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_put_leaves_no_temp_file(tmp_path):
    st = Store(str(_store(tmp_path)))
    st.put("profile", "k", "kind: profile\nname: k\nsummary: s\nhost: tcg-only\nbuild: qmpserver\n")
    with pytest.raises(StoreError):
        st.put("profile", "k", "kind: profile\nname: k\nsummary: s\nhost: nope\nbuild: qmpserver\n")
    assert sorted(p.name for p in (tmp_path / "profiles").iterdir()) == ["k.yaml"]


# --- D13: a name that the loader would take as a file path ------------------------------------


@pytest.mark.parametrize("name", ["x.yaml", "x.yml", "a.b.yaml"])
@pytest.mark.parametrize("kind", ["profile", "host"])
def test_names_ending_in_yaml_are_refused(tmp_path, name, kind):
    st = Store(str(_store(tmp_path)))
    body = "kind: profile\nsummary: s\nhost: tcg-only\nbuild: qmpserver\n"
    with pytest.raises(StoreError) as ei:
        st.put(kind, name, body)
    assert ei.value.reason == "invalid-name" and "file path" in str(ei.value)
    assert not any((tmp_path / "profiles").iterdir()) and not any((tmp_path / "hosts").iterdir())


def test_dotted_names_round_trip(tmp_path):
    st = Store(str(_store(tmp_path)))
    body = "kind: profile\nsummary: s\nhost: tcg-only\nbuild: qmpserver\n"
    st.put("profile", "x.v2", body)
    roots = st.roots()
    assert loader.compile_profile(loader.resolve_spec("x.v2", roots), roots)[0].name == "x.v2"
    assert st.read("profile", "x.v2")[1]["name"] == "x.v2"
