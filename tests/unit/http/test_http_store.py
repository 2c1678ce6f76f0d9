"""The user profile store: validation before writing, atomic replace, names that cannot escape."""

from __future__ import annotations

import os

import pytest

from qmpserver.profiles.store import Store, StoreError

GOOD = """\
kind: profile
name: mine
summary: a user profile on the Debian build
host: tcg-only
build: qemu-7.2-debian
defaults: {accel: tcg, machine: virt, cpu: max}
"""


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "store"))


def test_put_read_list_delete(store):
    path = store.put("profile", "mine", GOOD)
    assert path == os.path.join(store.root, "profiles", "mine.yaml")
    assert open(path).read() == GOOD  # the text as given (comments kept)
    rows = {r["name"]: r for r in store.list("profile")}
    assert rows["mine"]["writable"] and not rows["mine"]["builtin"]
    assert rows["debian-7.2-tcg"]["builtin"] and not rows["debian-7.2-tcg"]["writable"]
    p, data, text = store.read("profile", "mine")
    assert data["host"] == "tcg-only"
    assert store.delete("profile", "mine") == path and not os.path.exists(path)
    with pytest.raises(StoreError) as ei:
        store.delete("profile", "mine")
    assert ei.value.reason == "not-found"


def test_name_and_kind_are_completed_or_checked(store):
    body = "host: tcg-only\nbuild: qemu-7.2-debian\n"
    path = store.put("profile", "completed", body)
    text = open(path).read()
    assert text.startswith("kind: profile\nname: completed\n")
    with pytest.raises(StoreError) as ei:
        store.put("profile", "other", GOOD)
    assert ei.value.reason == "invalid" and "differs from the name" in str(ei.value)


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "", "x" * 200, "a..b", "nul\0", "sp ace"])
def test_names_cannot_escape(store, name):
    with pytest.raises(StoreError) as ei:
        store.put("profile", name, GOOD)
    assert ei.value.reason == "invalid-name"
    assert not os.path.exists(os.path.join(store.root, "escape.yaml"))


def test_symlinks_are_refused(store, tmp_path):
    d = os.path.join(store.root, "profiles")
    os.makedirs(d)
    target = tmp_path / "outside.yaml"
    target.write_text(GOOD)
    os.symlink(target, os.path.join(d, "mine.yaml"))
    with pytest.raises(StoreError) as ei:
        store.put("profile", "mine", GOOD)
    assert ei.value.reason in ("read-only", "invalid-name")
    assert target.read_text() == GOOD


def test_invalid_content_never_lands(store):
    store.put("profile", "mine", GOOD)
    before = open(os.path.join(store.root, "profiles", "mine.yaml")).read()
    with pytest.raises(StoreError) as ei:
        store.put("profile", "mine", GOOD.replace("host: tcg-only", "host: no-such-host"))
    assert ei.value.reason == "invalid"
    assert "mine.yaml" in str(ei.value) and "unknown host 'no-such-host'" in str(ei.value)
    assert ei.value.path == "host"
    with pytest.raises(Exception) as ei:
        store.put("profile", "mine", GOOD + "bogus_field: 1\n")
    assert "unknown field" in str(ei.value)
    with pytest.raises(Exception) as ei:
        store.put("profile", "mine", "kind: profile\nname: [unclosed\n")
    assert "invalid YAML" in str(ei.value)
    assert open(os.path.join(store.root, "profiles", "mine.yaml")).read() == before
    assert sorted(os.listdir(os.path.join(store.root, "profiles"))) == ["mine.yaml"]  # no temp files left


def test_builtins_are_read_only(store):
    with pytest.raises(StoreError) as ei:
        store.put("profile", "debian-7.2-tcg", GOOD.replace("mine", "debian-7.2-tcg"))
    assert ei.value.reason == "read-only"
    with pytest.raises(StoreError) as ei:
        store.delete("profile", "debian-7.2-tcg")
    assert ei.value.reason == "read-only"


def test_validate_keeps_nothing(store):
    prof = store.validate("profile", "probe", GOOD.replace("mine", "probe"))
    assert prof.name == "probe" and prof.build.version[0] == 7
    assert not os.path.exists(os.path.join(store.root, "profiles", "probe.yaml"))
    assert os.listdir(os.path.join(store.root, "profiles")) == []


def test_atomic_replace_keeps_readers_consistent(store, monkeypatch):
    """A crash between writing and renaming leaves the old file in place."""
    store.put("profile", "mine", GOOD)
    import qmpserver.profiles.store as mod

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mod.os, "replace", boom)
    with pytest.raises(StoreError, match="No space left on device") as ei:
        store.put("profile", "mine", GOOD.replace("a user profile", "changed"))
    assert ei.value.reason == "io"
    assert "a user profile" in open(os.path.join(store.root, "profiles", "mine.yaml")).read()
    assert sorted(os.listdir(os.path.join(store.root, "profiles"))) == ["mine.yaml"]


def test_for_server_writes_to_the_first_search_root(tmp_path, monkeypatch):
    """The store is searched first by every command (loader.search_roots), not only by the
    server that touched it: the server's roots are left alone."""

    class S:
        profile_dirs = []

    monkeypatch.setenv("QMPSERVER_PROFILE_STORE", str(tmp_path / "s"))
    s = Store.for_server(S)
    assert S.profile_dirs == [] and s.root == str(tmp_path / "s")
    s.put("profile", "mine", GOOD)
    from qmpserver.profiles.loader import load_profile

    assert load_profile("mine", (), use_cache=False).summary.startswith("a user profile")


def test_profile_path_names_the_store(tmp_path, monkeypatch):
    """In the container the store is $QMPSERVER_PROFILE_PATH: already searched, roots unchanged."""

    class S:
        profile_dirs = []

    monkeypatch.delenv("QMPSERVER_PROFILE_STORE", raising=False)
    monkeypatch.setenv("QMPSERVER_PROFILE_PATH", str(tmp_path / "p"))
    s = Store.for_server(S)
    assert s.root == str(tmp_path / "p") and S.profile_dirs == []
