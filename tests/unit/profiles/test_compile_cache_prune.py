"""The compile cache stays bounded: the newest entries are kept, the rest pruned on each write."""

from __future__ import annotations

import os
import time

from qmpserver import models
from qmpserver.profiles.loader import load_profile


def _entries(d, n, size=100, age=1000.0):
    """n fake entries, the first one oldest; returns their paths."""
    now = time.time()
    paths = []
    for i in range(n):
        p = os.path.join(d, "p%03d-0123456789abcdef.pickle" % i)
        with open(p, "wb") as f:
            f.write(b"x" * size)
        t = now - age + i  # later index = newer
        os.utime(p, (t, t))
        paths.append(p)
    return paths


def _left(d):
    return sorted(n for n in os.listdir(d))


def test_keeps_the_newest_entries(tmp_path):
    d = str(tmp_path)
    paths = _entries(d, 10)
    assert models.prune_cache(d, max_entries=4) == 6
    assert _left(d) == sorted(os.path.basename(p) for p in paths[-4:])


def test_size_cap(tmp_path):
    d = str(tmp_path)
    paths = _entries(d, 10, size=1000)
    models.prune_cache(d, max_bytes=3500)
    assert _left(d) == sorted(os.path.basename(p) for p in paths[-3:])


def test_the_entry_just_written_stays(tmp_path):
    d = str(tmp_path)
    paths = _entries(d, 5)
    oldest = paths[0]
    models.prune_cache(d, keep=oldest, max_entries=2)
    assert _left(d) == sorted(os.path.basename(p) for p in (oldest, paths[-1]))


def test_stale_temporary_files_go_fresh_ones_stay(tmp_path):
    d = str(tmp_path)
    stale = os.path.join(d, "a.pickle.123.tmp")
    fresh = os.path.join(d, "b.pickle.456.tmp")
    other = os.path.join(d, "README")
    for p in (stale, fresh, other):
        open(p, "w").close()
    t = time.time() - 2 * models.CACHE_TMP_AGE
    os.utime(stale, (t, t))
    models.prune_cache(d)
    assert _left(d) == ["README", "b.pickle.456.tmp"]


def test_loading_a_profile_prunes_the_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("QMPSERVER_CACHE_DIR", str(cache))
    _entries(str(cache), models.CACHE_MAX_ENTRIES + 50)
    extra = tmp_path / "profiles"  # a new search root: a new cache key, so a compile and a write
    extra.mkdir()
    prof = load_profile("debian-7.2-tcg", [str(extra)])
    assert prof.name == "debian-7.2-tcg"
    names = os.listdir(cache)
    assert len(names) == models.CACHE_MAX_ENTRIES
    assert any(n.startswith("debian-7.2-tcg-") for n in names)  # the new entry is among them
    assert "p000-0123456789abcdef.pickle" not in names  # the oldest went first


def test_a_cache_hit_counts_as_recent(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    monkeypatch.setenv("QMPSERVER_CACHE_DIR", str(cache))
    load_profile("debian-7.2-tcg")
    (entry,) = os.listdir(cache)
    old = time.time() - 10000
    os.utime(cache / entry, (old, old))
    _entries(str(cache), models.CACHE_MAX_ENTRIES - 1, age=100)  # all newer than the entry
    load_profile("debian-7.2-tcg")  # a hit: the entry becomes the most recent
    extra = tmp_path / "profiles"
    extra.mkdir()
    load_profile("debian-7.2-tcg", [str(extra)])  # a write: prunes one entry
    names = os.listdir(cache)
    assert entry in names and "p000-0123456789abcdef.pickle" not in names
