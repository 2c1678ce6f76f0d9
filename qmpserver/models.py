"""The models directory: where qmpserver's data lives and how it is read.

This module sits below both :mod:`qmpserver.profiles` and :mod:`qmpserver.arch`
(either may import it; it imports neither, only the standard library and
:mod:`qmpserver.errors`).  It owns:

* **where**: :data:`MODELS_DIR` (``hosts/``, ``builds/``, ``profiles/``,
  ``cpus/``, ``arm64/`` ...) and :data:`SCHEMAS_DIR` (QAPI source and the JSON
  Schemas of profile files), found next to the package in a source tree or in
  ``qmpserver/_data/`` of an installed wheel; ``$QMPSERVER_MODELS`` names
  another models directory (the container image points it at the wheel's copy);
* **reading**: :func:`read_yaml` (PyYAML's safe loader, imported on first use
  so that a start from the compiled cache never loads it), :func:`read_json`,
  :func:`check_schema` against ``schemas/<kind>.schema.json``, and
  :func:`data` for a models file parsed once per process; every failure is a
  :class:`DataFileError` naming the file, the field path and what was expected;
* **precompiled data**: the compile cache (:func:`compiled_file`,
  :func:`load_compiled`, :func:`save_compiled`): a pickle of something derived
  from models files, used only while every source file is unchanged;
* **recorded replies**: how ``builds/<name>/replies.json`` entries are looked
  up (:func:`reply_key`, :func:`pick_recorded`, :data:`ACCEL_DEPENDENT`), shared
  by the writers (capture, libvirt import) and the running server.

It is on the launcher's start-up path (the profile search and the cache
lookup), so it imports nothing beyond what that path already has.
"""

from __future__ import annotations

import json
import os
import sys
import zlib

from . import __version__
from .errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not otherwise imported on the launcher's path (annotations only)
    from collections.abc import Iterable, Mapping
    from typing import Any

    Stamps = dict[str, "tuple[int, int] | None"]

__all__ = [
    "MODELS_DIR",
    "SCHEMAS_DIR",
    "DataFileError",
    "parse_yaml",
    "read_yaml",
    "read_json",
    "json_path",
    "check_schema",
    "data",
    "cache_dir",
    "compiled_file",
    "stamp",
    "load_compiled",
    "save_compiled",
    "prune_cache",
    "ACCEL_DEPENDENT",
    "arguments_key",
    "reply_key",
    "pick_recorded",
]

_PKG_ROOT = os.path.dirname(os.path.abspath(__file__))
_REPO_ROOT = os.path.dirname(_PKG_ROOT)


def _data_root(sub: str) -> str:
    """``models`` / ``schemas``: next to the package (source tree) or inside it (wheel)."""
    for base in (_REPO_ROOT, os.path.join(_PKG_ROOT, "_data")):
        p = os.path.join(base, sub)
        if os.path.isdir(p):
            return p
    return os.path.join(_REPO_ROOT, sub)


MODELS_DIR: str = os.environ.get("QMPSERVER_MODELS") or _data_root("models")
SCHEMAS_DIR: str = _data_root("schemas")


class DataFileError(UsageError, ValueError):
    """A data file (or an in-memory mapping standing for one) is wrong.

    The message is ``file: path: expectation``, e.g.
    ``models/hosts/x.yaml: idregs.ID_AA64PFR0_EL1: expected an integer, got 'abc'``
    (``path`` left out when empty).
    """

    def __init__(self, file: str | os.PathLike[str] | None, path: str, expectation: str) -> None:
        self.file = str(file) if file is not None else "<data>"
        self.path = path
        self.expectation = expectation
        where = "%s: %s" % (self.file, path) if path else self.file
        super().__init__("%s: %s" % (where, expectation))


# --- reading --------------------------------------------------------------------


_yaml_loader: Any = None


def _strict_loader() -> Any:
    """PyYAML's safe loader (the C parser when built) refusing duplicate keys.

    YAML 1.2 requires the keys of a mapping to be unique; PyYAML keeps the last value
    silently, so a repeated ``idregs:`` would drop the first block unseen.  Merge keys
    (``<<``) are not duplicates: explicit keys override merged ones by design."""
    global _yaml_loader
    if _yaml_loader is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is an optional build

        class StrictLoader(base):  # type: ignore[misc,valid-type]
            def construct_mapping(self, node: Any, deep: bool = False) -> Any:
                seen: dict[Any, int] = {}
                for key_node, _value in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        first = seen.setdefault(key, key_node.start_mark.line + 1)
                    except TypeError:  # an unhashable key: the base class reports it
                        continue
                    if first != key_node.start_mark.line + 1:
                        raise yaml.constructor.ConstructorError(
                            None,
                            None,
                            "duplicate key %r (first on line %d)" % (key, first),
                            key_node.start_mark,
                        )
                return super().construct_mapping(node, deep)

        _yaml_loader = StrictLoader
    return _yaml_loader


def parse_yaml(text: str, file: str, error: type[DataFileError] = DataFileError) -> dict[str, Any]:
    """YAML text whose top level is a mapping (PyYAML's safe loader, C version when built,
    refusing duplicate keys: :func:`_strict_loader`); ``file`` names it in errors: bad YAML
    (with line and column), a top level that is not a mapping."""
    import yaml  # lazy: a start from the compiled cache never parses YAML (~10 ms to import)

    try:
        doc = yaml.load(text, Loader=_strict_loader())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)  # only MarkedYAMLError has a position
        where = "line %d, column %d" % (mark.line + 1, mark.column + 1) if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise error(file, where, "invalid YAML: %s" % problem) from None
    if not isinstance(doc, dict):
        raise error(file, "", "expected a mapping at the top level")
    return doc


MAX_DATA_FILE = 64 * 1024 * 1024  # a data file larger than this is refused (the biggest is ~0.5 MB)


def read_text(path: str | os.PathLike[str], error: type[DataFileError] = DataFileError) -> str:
    """The UTF-8 text of a data file.  Only a regular file of at most :data:`MAX_DATA_FILE`
    bytes is read: a profile naming ``/dev/zero`` or a FIFO gets ``error(file, "", ...)``
    instead of filling memory or blocking (the FIFO is opened non-blocking, then refused)."""
    import stat

    p = os.fspath(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise error(p, "", "cannot read: %s" % e.strerror) from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(p, "", "cannot read: not a regular file")
        try:
            data = f.read(MAX_DATA_FILE + 1)
        except OSError as e:
            raise error(p, "", "cannot read: %s" % e.strerror) from None
    if len(data) > MAX_DATA_FILE:
        raise error(p, "", "cannot read: larger than %d bytes" % MAX_DATA_FILE)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(p, "", "not UTF-8 text (byte %d)" % e.start) from None


def read_yaml(path: str | os.PathLike[str], error: type[DataFileError] = DataFileError) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (:func:`parse_yaml`); an unreadable file
    raises ``error(file, "", "cannot read: ...")`` (:func:`read_text`)."""
    p = os.fspath(path)
    return parse_yaml(read_text(p, error), p, error)


def read_json(path: str | os.PathLike[str], error: type[DataFileError] = DataFileError) -> Any:
    p = os.fspath(path)
    text = read_text(p, error)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise error(
            p, "", "invalid JSON: %s" % (e if isinstance(e, ValueError) else "nested too deeply")
        ) from None


def json_path(parts: Iterable[str | int]) -> str:
    """``["a", 0, "b"]`` -> ``a[0].b`` (``(top level)`` when empty)."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += "[%d]" % p
        else:
            out += ("." if out else "") + str(p)
    return out or "(top level)"


_validators: dict[str, Any] = {}


def check_schema(kind: str, doc: Any, file: str, error: type[DataFileError] = DataFileError) -> None:
    """Check ``doc`` against ``schemas/<kind>.schema.json`` (no such file: no check).

    The error names the deepest, most specific failure: ``unknown field: X`` for
    a member the schema does not allow, else jsonschema's text, followed by
    the schema's ``description`` of the value as ``(expected: ...)``.
    """
    v = _validators.get(kind)
    if v is None:
        schema_file = os.path.join(SCHEMAS_DIR, "%s.schema.json" % kind)
        if not os.path.exists(schema_file):
            return
        import jsonschema  # lazy: only compiling a profile validates (jsonschema costs ~50 ms)

        schema = read_json(schema_file)
        cls = jsonschema.validators.validator_for(schema)
        v = _validators[kind] = cls(schema)
    import jsonschema  # already imported above (a cached validator means it is)

    errors = sorted(v.iter_errors(doc), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors)
    while err.context:
        err = jsonschema.exceptions.best_match(err.context)
    msg = err.message
    if err.validator == "additionalProperties":
        msg = "unknown field: " + msg.split("(")[-1].rstrip(")")
    desc = err.schema.get("description") if isinstance(err.schema, dict) else None
    if desc and err.validator in ("type", "enum", "pattern", "const", "minimum", "required"):
        msg += " (expected: %s)" % desc
    raise error(file, json_path(err.absolute_path), msg)


_data: dict[str, dict[str, Any]] = {}


def data(relpath: str) -> dict[str, Any]:
    """``MODELS_DIR/relpath`` parsed once per process (e.g. ``arm64/sysreg-fields.yaml``)."""
    got = _data.get(relpath)
    if got is None:
        got = _data[relpath] = read_yaml(os.path.join(MODELS_DIR, relpath))
    return got


def clear_data() -> None:
    """Forget what :func:`data` has parsed (tests that change files)."""
    _data.clear()


# --- precompiled data -------------------------------------------------------------

_FORMAT = 4  # 4: a recorded schema's int members carry their QAPI source width (refine_int_widths)


def _safe_dir(path: str) -> bool:
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid == os.getuid() and not (st.st_mode & 0o022) and os.access(path, os.W_OK)


def cache_dir() -> str | None:
    """``$QMPSERVER_CACHE_DIR`` (``off``: no cache), ``$XDG_CACHE_HOME/qmpserver``,
    ``~/.cache/qmpserver`` or a private ``/tmp`` directory: the first one owned by
    the current user and not writable by others (a pickle is code)."""
    cands = []
    env = os.environ.get("QMPSERVER_CACHE_DIR")
    if env:
        if env == "off":
            return None
        cands.append(env)
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


def entry_key(path: str, roots: Iterable[str]) -> str:
    """The cache file name of what was compiled from ``path`` searching ``roots``."""
    key = "\0".join([__version__, sys.version, str(_FORMAT), path] + list(roots)).encode()
    base = os.path.splitext(os.path.basename(path))[0][:40]
    return "%s-%08x%08x" % (base, zlib.crc32(key), zlib.adler32(key))


def compiled_file(path: str, roots: Iterable[str]) -> str | None:
    """Where the compiled form of ``path`` is cached (``None``: no usable cache directory)."""
    d = cache_dir()
    return os.path.join(d, entry_key(path, roots) + ".pickle") if d else None


def stamp(paths: Iterable[str]) -> Stamps:
    """``{path: (mtime_ns, size)}`` (``None`` for a file that does not exist)."""
    out: Stamps = {}
    for p in paths:
        try:
            st = os.stat(p)
            out[p] = (st.st_mtime_ns, st.st_size)
        except OSError:
            out[p] = None
    return out


def _fresh(stamps: Stamps) -> bool:
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


def load_compiled(path: str) -> Any:
    """What :func:`save_compiled` wrote to ``path`` if all its sources are unchanged, else ``None``."""
    import _pickle  # the C module alone: the pure-Python pickle module costs ~2.5 ms more to import

    try:
        with open(path, "rb") as f:
            entry = _pickle.load(f)
    except (OSError, _pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != _FORMAT or entry.get("version") != __version__:
        return None
    if not _fresh(entry["deps"]):
        return None
    return entry["profile"]


def save_compiled(path: str, obj: Any, deps: Iterable[str]) -> None:
    """Write ``obj`` atomically, stamped with its source files (none: always fresh)."""
    import _pickle

    entry = {"format": _FORMAT, "version": __version__, "deps": stamp(sorted(deps)), "profile": obj}
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            _pickle.dump(entry, f, protocol=5)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


# The compile cache keeps the newest entries only: keys include the search roots, so test suites
# with temporary profile directories, several checkouts and qmpserver upgrades each add entries
# (~0.5-0.9 MB each) that nothing reads again; unpruned, 25 minutes of tests left 250 (127 MB).
CACHE_MAX_ENTRIES = 128
CACHE_MAX_BYTES = 128 << 20
CACHE_TMP_AGE = 3600.0  # a writer's temporary file older than this was left by a crash


def prune_cache(
    directory: str,
    keep: str | None = None,
    max_entries: int = CACHE_MAX_ENTRIES,
    max_bytes: int = CACHE_MAX_BYTES,
) -> int:
    """Remove the oldest compiled entries (by modification time, i.e. by when they were
    written) beyond ``max_entries`` or ``max_bytes``, and temporary files left by crashed
    writers; ``keep`` (the entry just written) stays.  Returns how many files were removed.
    Called after each write to the cache; races with other processes are harmless (a reader
    that loses its entry recompiles)."""
    import time

    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    now = time.time()
    removed = 0
    entries = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if name.endswith(".tmp"):
            if now - st.st_mtime > CACHE_TMP_AGE:
                removed += _unlink(path)
        elif name.endswith(".pickle"):
            entries.append((path == keep, st.st_mtime_ns, st.st_size, path))
    entries.sort(reverse=True)  # ``keep`` first, then newest first
    count = total = 0
    for is_keep, _mtime, size, path in entries:
        count += 1
        total += size
        if not is_keep and (count > max_entries or total > max_bytes):
            removed += _unlink(path)
    return removed


def _unlink(path: str) -> int:
    try:
        os.unlink(path)
        return 1
    except OSError:
        return 0


# --- recorded replies (builds/<name>/replies.json, docs/capture-and-import.md) -----

# Answers that may change with the accelerator in use.  An entry for one of these recorded in
# one pass only keeps that pass's ``accel`` tag, and is never served for another accelerator:
# e.g. a ``host`` expansion recorded under KVM is an error under TCG in QEMU
# (QEMU qmp_query_cpu_model_expansion(), target/arm/arm-qmp-cmds.c, target/arm/monitor.c
# before 8.0: "The CPU type 'host' requires KVM").
ACCEL_DEPENDENT: frozenset[str] = frozenset(
    {
        "query-kvm",
        "query-accelerators",
        "query-cpu-definitions",
        "query-cpu-model-expansion",
        "query-cpu-model-baseline",
        "query-cpu-model-comparison",
        "query-machines",
        "query-cpus-fast",
        "query-hotpluggable-cpus",
        "qom-get",
    }
)


def arguments_key(arguments: Mapping[str, Any] | None) -> str:
    """Recorded arguments as compared: member order does not matter, and no arguments equals
    ``{}`` (QEMU's qmp_dispatch() in qapi/qmp-dispatch.c visits a missing "arguments" as an
    empty dict)."""
    return json.dumps(arguments or {}, sort_keys=True, separators=(",", ":"))


def reply_key(execute: str, arguments: Mapping[str, Any] | None) -> str:
    """The lookup key of a recorded request (command and :func:`arguments_key`)."""
    return execute + " " + arguments_key(arguments)


def pick_recorded(execute: str, by_accel: Mapping[str | None, Any], accel: str | None) -> Any:
    """The entry to serve from the entries of one request, keyed by their ``accel`` tag.

    The one tagged ``accel``, else the untagged one; else, unless the answer depends on the
    accelerator (:data:`ACCEL_DEPENDENT`), one recorded under another accelerator.  With
    ``accel`` None (a caller that names no accelerator) any recorded entry will do.
    """
    if accel in by_accel:
        return by_accel[accel]
    if None in by_accel:
        return by_accel[None]
    if by_accel and (accel is None or execute not in ACCEL_DEPENDENT):
        return next(iter(by_accel.values()))
    return None
