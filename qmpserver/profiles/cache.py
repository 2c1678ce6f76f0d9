"""Compile cache: a start-up loads a pickled, fully resolved profile.

An entry records every source file it was compiled from (with mtime and
size); it is used only while all of them are unchanged.  The cache lives in
``$QMPSERVER_CACHE_DIR``, ``$XDG_CACHE_HOME/qmpserver`` or
``~/.cache/qmpserver``, falling back to a private ``/tmp`` directory; only a
directory owned by the current user and not writable by others is used (a
pickle is code).  Without a usable directory, profiles are compiled on every
start (correct, only slower).
"""

from __future__ import annotations

import os
import sys
import zlib

try:  # the C module alone: the pure-Python pickle module costs ~2.5 ms more to import
    import _pickle as pickle
except ImportError:  # pragma: no cover
    import pickle

from .. import __version__

_FORMAT = 3


def _safe_dir(path: str) -> bool:
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not (st.st_mode & 0o022) and os.access(path, os.W_OK)


def cache_dir() -> str | None:
    cands = []
    if os.environ.get("QMPSERVER_CACHE_DIR"):
        if os.environ["QMPSERVER_CACHE_DIR"] == "off":
            return None
        cands.append(os.environ["QMPSERVER_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        cands.append(os.path.join(os.environ["XDG_CACHE_HOME"], "qmpserver"))
    home = os.environ.get("HOME")
    if home:
        cands.append(os.path.join(home, ".cache", "qmpserver"))
    tmp = os.environ.get("TMPDIR") or "/tmp"
    cands.append(os.path.join(tmp, "qmpserver-cache-%d" % os.getuid()))
    for c in cands:
        if _safe_dir(c):
            return c
    return None


def _stamp(paths) -> dict:
    out = {}
    for p in paths:
        try:
            st = os.stat(p)
            out[p] = (st.st_mtime_ns, st.st_size)
        except OSError:
            out[p] = None
    return out


def _fresh(stamps: dict) -> bool:
    for p, st in stamps.items():
        try:
            s = os.stat(p)
        except OSError:
            if st is not None:
                return False
            continue
        if st is None or st != (s.st_mtime_ns, s.st_size):
            return False
    return True


def entry_key(path: str, roots) -> str:
    key = "\0".join([__version__, sys.version, str(_FORMAT), path] + list(roots)).encode()
    base = os.path.splitext(os.path.basename(path))[0][:40]
    return "%s-%08x%08x" % (base, zlib.crc32(key), zlib.adler32(key))


def load_file(path: str):
    """A compiled profile file (as written by ``save_file``) if still fresh."""
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != _FORMAT or entry.get("version") != __version__:
        return None
    if not _fresh(entry["deps"]):
        return None
    return entry["profile"]


def save_file(path: str, profile, deps) -> None:
    entry = {"format": _FORMAT, "version": __version__, "deps": _stamp(sorted(deps)), "profile": profile}
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            pickle.dump(entry, f, protocol=5)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def compile_code() -> set:
    """The code a compiled profile depends on (its classes and everything that derives it).

    A changed compiler must not meet an old pickle; stamping these files costs a few
    dozen stat calls per start (well under a millisecond).
    """
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = set()
    for sub in ("qapi", "profiles", os.path.join("arch", "arm64")):
        d = os.path.join(pkg, sub)
        try:
            names = os.listdir(d)
        except OSError:
            continue
        out.update(os.path.join(d, n) for n in names if n.endswith(".py"))
    return out


def cached_compile(path: str, roots):
    from .loader import compile_profile
    d = cache_dir()
    file = os.path.join(d, entry_key(path, roots) + ".pickle") if d else None
    if file:
        prof = load_file(file)
        if prof is not None:
            return prof
    prof, deps = compile_profile(path, roots)
    deps = set(deps) | {path} | compile_code()
    # touching the schema's introspection now makes the cached copy carry the encoded bytes
    prof.build.schema.encoded_introspection(False)
    if file:
        save_file(file, prof, deps)
    return prof
