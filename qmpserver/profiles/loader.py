"""Read, validate and resolve profile files into compiled objects.

Store layout (built-ins in the repository's ``models/``; the user directories,
``--profile-dir``, the user store and ``QMPSERVER_PROFILE_PATH``, are searched
first, with the same layout or with files directly inside; the whole lookup
rule is :func:`search_roots`'s docstring)::

    hosts/<name>.yaml
    builds/<name>/build.yaml   (+ schema.json, replies.json)
    profiles/<name>.yaml

Every error names the file, the field path and what was expected; files are
read by :mod:`qmpserver.models`; ``extends`` cycles are detected.

The compile pipeline, in order: resolve the profile and its host and build
(``extends``, inline parts; JSON Schema of every file), check the host with its
architecture's semantic rules, derive the host's facts, load the build's schema
and recorded replies, derive the build's facts.  The host checks and derivations are
the rows of :mod:`qmpserver.arch.steps` (per host architecture); the build's are the
``derive`` part of its target (:data:`qmpserver.arch.targets.TARGETS`).  It runs once per set of
source files: :func:`load_profile` keeps the result in the compile cache of
:mod:`qmpserver.models`, and a start-up only loads that pickle.
"""

from __future__ import annotations

import os
import re

from .. import models
from ..errors import UsageError
from ..models import MODELS_DIR, SCHEMAS_DIR, json_path
from .model import PROPOSALS, Build, Host, Profile, index_replies, proposal_symbol

TYPE_CHECKING = False
if TYPE_CHECKING:  # this module is on the launcher's path, which does not import typing
    from collections.abc import Iterable, Iterator
    from types import ModuleType
    from typing import Any

    Doc = dict[str, Any]

__all__ = [
    "MODELS_DIR",
    "SCHEMAS_DIR",
    "DEFAULT_PROFILE",
    "ProfileError",
    "read_yaml",
    "read_json",
    "json_path",
    "validate",
    "store_root",
    "search_roots",
    "user_roots",
    "is_name",
    "declared_kind",
    "find",
    "list_names",
    "deep_merge",
    "build_symbols",
    "compile_build",
    "compile_host",
    "resolve_spec",
    "compile_profile",
    "compile_code",
    "load_profile",
]

DEFAULT_PROFILE = "default"


class ProfileError(models.DataFileError):
    """A bad profile file: ``file: path: what was expected``."""

    def __init__(self, file: str, path: str, message: str) -> None:
        super().__init__(file, path, message)
        self.file = file


# --- reading (qmpserver.models reads; errors here are ProfileErrors) ----------------


def read_yaml(path: str) -> Doc:
    return models.read_yaml(path, error=ProfileError)


def read_json(path: str) -> Any:
    return models.read_json(path, error=ProfileError)


def validate(kind: str, data: Any, file: str) -> None:
    """Validate against ``schemas/<kind>.schema.json``; raise ProfileError."""
    models.check_schema(kind, data, file, error=ProfileError)


def name_of_file(path: str) -> str | None:
    """The name a file is found by (:func:`find`): ``builds/N/build.yaml`` -> N,
    ``.../N.yaml`` -> N; None for a hidden file (the store's temporary files, which
    :mod:`qmpserver.profiles.store` checks against the name being written)."""
    base = os.path.basename(path)
    if base.startswith("."):
        return None
    if base == "build.yaml":
        return os.path.basename(os.path.dirname(os.path.abspath(path)))
    stem, ext = os.path.splitext(base)
    return stem if ext in (".yaml", ".yml") else None


def check_file_name(data: Doc, path: str, text: str) -> None:
    """A file's ``name:`` must be the name it is found by: otherwise ``host: X`` would load
    a host that calls itself Y.  The error names the file, the key and its line."""
    want = name_of_file(path)
    name = data.get("name")
    if want is None or name is None or name == want:
        return
    m = re.search(r"^name[ \t]*:", text, re.MULTILINE)
    where = "name (line %d)" % (text.count("\n", 0, m.start()) + 1) if m else "name"
    raise ProfileError(path, where, "'%s' differs from the file name ('%s')" % (name, want))


# --- the store: lookup (the one owner) ----------------------------------------------


NAME_SUFFIXES = (".yaml", ".yml")  # a spec ending so is a file path (resolve_spec), never a name
_DIRS = {"host": "hosts", "build": "builds", "profile": "profiles"}
_DECLARED = {"host": "host", "build": "qemu-build", "profile": "profile"}  # the ``kind:`` of each kind
# a top-level block-style ``kind:`` line; a pattern, not compiled at import (the launcher's path)
_KIND_LINE = r"^kind[ \t]*:[ \t]*(?:\"([\w.-]*)\"|'([\w.-]*)'|([\w.-]+))[ \t]*(?:#[^\n]*)?$"


def store_root() -> str:
    """The user store: ``$QMPSERVER_PROFILE_STORE``, else the first directory of
    ``$QMPSERVER_PROFILE_PATH``, else ``$XDG_DATA_HOME/qmpserver`` (default
    ``~/.local/share/qmpserver``).  See :func:`search_roots`."""
    env = os.environ.get("QMPSERVER_PROFILE_STORE")
    if env:
        return os.path.abspath(env)
    path = [p for p in os.environ.get("QMPSERVER_PROFILE_PATH", "").split(os.pathsep) if p]
    if path:
        return os.path.abspath(path[0])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(os.path.abspath(base), "qmpserver")


def search_roots(extra: Iterable[str] = ()) -> list[str]:
    """Where profiles, hosts and builds are looked up by name: the one rule.

    Every entry point resolves names through these roots with :func:`find` and lists them
    with :func:`list_names` (``profiles list/show/validate/diff``, ``serve --profile``, the
    launcher, ``cpu expand/baseline``, ``migration plan``, ``launcher install``, the HTTP
    API's store), so a name means the same file everywhere under the same settings.

    Roots, in order, first match wins, a directory listed twice counts at its first place:

    1. each ``--profile-dir`` (``extra``);
    2. the user store, :func:`store_root` (``$QMPSERVER_PROFILE_STORE``, else the first
       directory of ``$QMPSERVER_PROFILE_PATH``, else ``$XDG_DATA_HOME/qmpserver``): the
       HTTP API writes to the first root of this list (the first ``--profile-dir``, else
       the store), so what ``PUT /api/v1/profiles/N`` wrote is what N means to every
       command run with the same ``--profile-dir`` and environment;
    3. each directory of ``$QMPSERVER_PROFILE_PATH``;
    4. the built-ins, ``models/`` (read-only).

    Within a root, the candidates of a NAME, in order: ``profiles/NAME.yaml``;
    ``hosts/NAME.yaml``; ``builds/NAME/build.yaml`` then ``builds/NAME.yaml``; then
    ``NAME.yaml`` directly in the root, which counts for a kind unless its top-level
    ``kind:`` names another kind (``profile``, ``host``, ``qemu-build``): a flat root can
    hold a host and a profile, and a file that cannot be read still counts, so that its
    error is reported.  A candidate counts only if it is a regular file (``os.path.isfile``:
    a symbolic link to one counts here; the HTTP API refuses to read through links).
    A NAME is a store name (:func:`is_name`); anything else is not looked up by name.
    """
    roots: list[str] = []
    env = os.environ.get("QMPSERVER_PROFILE_PATH")
    path = [p for p in env.split(os.pathsep) if p] if env else []
    for r in [*extra, store_root(), *path, MODELS_DIR]:
        r = os.path.abspath(r)
        if r not in roots:
            roots.append(r)
    return roots


def user_roots(extra: Iterable[str] = ()) -> list[str]:
    return [r for r in search_roots(extra) if os.path.abspath(r) != os.path.abspath(MODELS_DIR)]


def is_name(name: object) -> bool:
    """A name of the store: ``[A-Za-z0-9][A-Za-z0-9._-]*``, at most 128 characters, no
    ``..``, not ending in ``.yaml`` or ``.yml`` (such a spec is read as a file path).  Files
    whose name is not one are not found or listed by name (a path still opens them).

    String methods, not a regular expression: compiling one costs the launcher ~0.15 ms
    (``store.NAME_RE`` is the pattern; a test checks they agree)."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= 128
        and name.isascii()
        and name[0].isalnum()
        and name.replace(".", "a").replace("_", "a").replace("-", "a").isalnum()
        and ".." not in name
        and not name.endswith(NAME_SUFFIXES)
    )


def _candidates(kind: str, name: str, root: str) -> Iterator[str]:
    if kind == "build":
        yield os.path.join(root, "builds", name, "build.yaml")
    yield os.path.join(root, _DIRS[kind], name + ".yaml")


def declared_kind(path: str) -> str | None:
    """The top-level ``kind:`` of a file (None: none, or unreadable).  A block-style
    ``kind: WORD`` line (quoted or not) is read without a YAML parser (the launcher's
    path); anything else (JSON, flow style, another value) is parsed."""
    try:
        text = models.read_text(path, ProfileError)
    except models.DataFileError:
        return None
    m = re.search(_KIND_LINE, text, re.MULTILINE)
    if m is not None:
        return next(g for g in m.groups() if g is not None)
    if "kind" not in text:
        return None
    try:
        data = models.parse_yaml(text, path, ProfileError)
    except models.DataFileError:
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def _find(kind: str, name: str, roots: Iterable[str]) -> tuple[str, str] | None:
    """(path, root) of a name: see :func:`search_roots`."""
    if kind not in _DIRS or not is_name(name):
        return None
    for root in roots:
        for p in _candidates(kind, name, root):
            if os.path.isfile(p):
                return p, root
        p = os.path.join(root, name + ".yaml")
        if os.path.isfile(p) and declared_kind(p) in (None, _DECLARED[kind]):
            return p, root
    return None


def find(kind: str, name: str, roots: Iterable[str]) -> str | None:
    """The file a name of a kind resolves to in ``roots`` (rule: :func:`search_roots`)."""
    hit = _find(kind, name, roots)
    return hit[0] if hit else None


def list_names(kind: str, roots: Iterable[str]) -> list[tuple[str, str, bool]]:
    """(name, path, builtin) of every name of a kind, sorted: exactly the names :func:`find`
    resolves, each to the file find returns (it is asked for every file name seen)."""
    roots = list(roots)
    seen: set[str] = set()
    for root in roots:
        for d in (os.path.join(root, _DIRS[kind]), root):
            try:
                entries = os.listdir(d)
            except OSError:
                continue
            for entry in entries:
                seen.add(entry[:-5] if entry.endswith(".yaml") else entry)
    rows = []
    builtin = os.path.abspath(MODELS_DIR)
    for name in sorted(seen):
        hit = _find(kind, name, roots)
        if hit is not None:
            rows.append((name, hit[0], os.path.abspath(hit[1]) == builtin))
    return rows


# --- resolution -------------------------------------------------------------------


def deep_merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base[k], v) if k in base else v
        return out
    return over


#: fields a child replaces whole instead of merging into its parent's, by kind: a build's
#: ``schema`` names one source or the other (``introspection`` | ``qapi``), never both
REPLACED_WHOLE = {"build": ("schema",)}


def merge_over(kind: str, base: Doc, over: Doc) -> Doc:
    """``over`` deep-merged over ``base`` (``extends``, inline parts), except the
    :data:`REPLACED_WHOLE` fields ``over`` sets, which replace the parent's."""
    merged = deep_merge(base, over)
    for k in REPLACED_WHOLE.get(kind, ()):
        if k in over:
            merged[k] = over[k]
    return merged


class _Resolver:
    def __init__(self, roots: list[str]) -> None:
        self.roots = roots
        self.deps: set[str] = set()
        # kind -> the file the last resolved part of that kind came from (error messages)
        self.origin: dict[str, str] = {}

    def _read(self, path: str, kind: str) -> Doc:
        self.deps.add(os.path.abspath(path))
        text = models.read_text(path, ProfileError)
        data = models.parse_yaml(text, path, ProfileError)
        check_file_name(data, path, text)
        if data.get("kind") not in (None, kind, "qemu-build" if kind == "build" else kind):
            raise ProfileError(
                path,
                "kind",
                "expected '%s', found '%s'" % ("qemu-build" if kind == "build" else kind, data.get("kind")),
            )
        return data

    def named(self, kind: str, name: str, referrer: str, field: str, chain: tuple[str, ...] = ()) -> Doc:
        path = find(kind, name, self.roots)
        if path is None:
            raise ProfileError(
                referrer, field, "unknown %s '%s' (searched: %s)" % (kind, name, ", ".join(self.roots))
            )
        return self.file(kind, path, chain)

    def file(self, kind: str, path: str, chain: tuple[str, ...] = ()) -> Doc:
        path = os.path.abspath(path)
        if path in chain:
            cycle = " -> ".join(os.path.basename(p) for p in chain + (path,))
            raise ProfileError(path, "extends", "cycle in 'extends': %s" % cycle)
        data = self._read(path, kind)
        data = self._absolutize(kind, data, path)
        data = self.inherit(kind, data, path, chain + (path,))
        self.origin[kind] = path
        return data

    def _absolutize(self, kind: str, data: Doc, path: str) -> Doc:
        """Make build file references absolute (they are relative to their build.yaml)."""
        if kind != "build":
            return data
        base = os.path.dirname(path)
        data = dict(data)
        if isinstance(data.get("schema"), dict):
            sch = dict(data["schema"])
            for k in ("introspection", "qapi"):
                if isinstance(sch.get(k), str):  # anything else is the schema check's to report
                    sch[k] = self._resolve_ref(base, sch[k])
            data["schema"] = sch
        if isinstance(data.get("replies"), str):
            data["replies"] = self._resolve_ref(base, data["replies"])
        return data

    @staticmethod
    def _resolve_ref(base: str, ref: str) -> str:
        if os.path.isabs(ref):
            return ref
        if ref.startswith("schemas/"):
            return os.path.join(os.path.dirname(SCHEMAS_DIR), ref)
        return os.path.normpath(os.path.join(base, ref))

    def inherit(self, kind: str, data: Doc, path: str, chain: tuple[str, ...]) -> Doc:
        """``data`` merged over the file it ``extends``, checked against the schema.

        A file that extends another holds only what it changes, so its required fields
        come from the parent: the schema checks the merged mapping (errors still name
        this file), and a cycle is found before anything is checked."""
        parent = data.get("extends")
        if parent is None:
            validate(kind, data, path)
            return data
        if not isinstance(parent, str):
            raise ProfileError(path, "extends", "expected the name of a %s" % kind)
        base = self.named(kind, parent, path, "extends", chain)
        merged = merge_over(kind, base, {k: v for k, v in data.items() if k != "extends"})
        validate(kind, merged, path)
        return merged

    def part(self, kind: str, spec: Any, referrer: str, field: str) -> Doc:
        """A profile's host/build: a name, or an inline mapping (may ``extends`` a name)."""
        if spec is None:
            raise ProfileError(referrer, field, "missing: a profile needs a %s" % kind)
        if isinstance(spec, str):
            return self.named(kind, spec, referrer, field)
        if not isinstance(spec, dict):
            raise ProfileError(referrer, field, "expected a %s name or a mapping" % kind)
        spec = dict(spec)
        base_name = spec.pop("extends", None)
        base = self.named(kind, base_name, referrer, field + ".extends") if base_name else {}
        spec = self._absolutize(kind, spec, referrer)
        merged = merge_over(kind, base, spec)
        merged.setdefault("kind", "qemu-build" if kind == "build" else kind)
        merged.setdefault("name", "%s-inline" % os.path.splitext(os.path.basename(referrer))[0])
        validate(kind, merged, referrer)
        self.origin[kind] = referrer
        return merged

    def profile(self, path: str, chain: tuple[str, ...] = ()) -> Doc:
        path = os.path.abspath(path)
        if path in chain:
            cycle = " -> ".join(os.path.basename(p) for p in chain + (path,))
            raise ProfileError(path, "extends", "cycle in 'extends': %s" % cycle)
        data = self._read(path, "profile")
        validate("profile", data, path)
        parent = None
        if "extends" in data:
            ppath = find("profile", data["extends"], self.roots)
            if ppath is None:
                raise ProfileError(path, "extends", "unknown profile '%s'" % data["extends"])
            parent = self.profile(ppath, chain + (path,))
        merged = deep_merge(parent or {}, {k: v for k, v in data.items() if k != "extends"})
        # host/build merge against the parent's (already resolved) parts
        merged["host"] = self._merge_part("host", data.get("host"), parent, path)
        merged["build"] = self._merge_part("build", data.get("build"), parent, path)
        merged["_path"] = path
        return merged

    def _merge_part(self, kind: str, spec: Any, parent: Doc | None, path: str) -> Doc:
        if parent is None:
            return self.part(kind, spec, path, kind)
        pres = parent[kind]
        if spec is None:
            return pres
        if isinstance(spec, str) or "extends" in spec:
            return self.part(kind, spec, path, kind)
        spec = self._absolutize(kind, spec, path)
        merged = merge_over(kind, pres, spec)
        validate(kind, merged, path)
        self.origin[kind] = path
        return merged


# --- compilation --------------------------------------------------------------------


def _load_quirks(version: tuple[int, ...], deps: set[str]) -> list[str]:
    path = os.path.join(MODELS_DIR, "qemu-quirks.yaml")
    if not os.path.exists(path):
        return []
    deps.add(path)
    data = read_yaml(path)
    v = tuple(version)
    out = []

    def parse(s: Any) -> tuple[int, ...]:
        parts = [int(x) for x in str(s).split(".")]
        return tuple((parts + [0, 0])[:3])

    for name, q in (data.get("quirks") or {}).items():
        lo = parse(q["since"]) if "since" in q else (0, 0, 0)
        hi = parse(q["before"]) if "before" in q else (1 << 30, 0, 0)
        if lo <= v < hi:
            out.append(name)
    return out


def build_symbols(data: Doc, version: tuple[int, ...]) -> set[str]:
    target = data["target"]
    syms = {"TARGET_" + target.upper()}
    if target == "aarch64":
        syms.add("TARGET_ARM")
    if target == "x86_64":
        syms.add("TARGET_I386")
    for acc in data.get("accelerators", ()):
        syms.add("CONFIG_" + acc.upper())
    major, minor = version[0], version[1]
    for x in range(2, major + 1):
        for y in range(0, 3):
            if (x, y) <= (major, minor):
                syms.add("QEMU_%d_%d" % (x, y))
    for p in data.get("proposals", ()):
        syms.add(proposal_symbol(p))
    return syms


def _steps() -> ModuleType:
    """The per-architecture compile steps (:mod:`qmpserver.arch.steps`).

    Imported here, not at the top: this module is on the launcher's start-up path
    (``load_profile``), which loads the compiled cache and must not import the arm64
    derivation (derive, kvm, sysreg, pathlib, typing: ~6 ms measured)."""
    from ..arch import steps

    return steps


def compile_build(data: Doc, deps: set[str]) -> Build:
    # lazy like _steps(): the QAPI source/introspection readers are compile-time only
    from ..qapi.introspect import from_introspection
    from ..qapi.source import load_source

    path = data.get("_path", "")
    name = data["name"]
    for key in ("version", "target"):
        if key not in data:
            raise ProfileError(path, key, "missing (a build needs a version and a target)")
    version = tuple(int(x) for x in (str(data["version"]).split(".") + ["0", "0"])[:3])
    sch = data.get("schema") or {"qapi": os.path.join(SCHEMAS_DIR, "qapi", "qemu.json")}
    symbols = build_symbols(data, version)
    if "introspection" in sch:
        deps.add(sch["introspection"])
        schema = from_introspection(read_json(sch["introspection"]), origin=sch["introspection"])
        enabled = [p for p in data.get("proposals", ()) if p in PROPOSALS]
        if enabled:
            from ..qapi.overlay import overlay

            prop_src = os.path.join(SCHEMAS_DIR, "qapi", "proposals.json")
            deps.add(prop_src)
            # the proposals file references upstream types only through its own definitions
            schema = overlay(schema, load_source(prop_src, symbols))
        src = sch.get("qapi") or os.path.join(SCHEMAS_DIR, "qapi", "qemu.json")
        if os.path.exists(src):
            from ..qapi.introspect import refine_int_widths

            _add_tree_deps(src, deps)
            refine_int_widths(schema, load_source(src, symbols))
    else:
        src = sch["qapi"]
        _add_tree_deps(src, deps)
        schema = load_source(src, symbols)
    replies = {}
    if data.get("replies"):
        deps.add(data["replies"])
        doc = read_json(data["replies"])
        # the envelope and every entry (schemas/replies.schema.json): an entry without
        # "execute" is "file: entries[N]: ..." here, not a KeyError in index_replies
        validate("replies", doc, data["replies"])
        replies = index_replies(doc)
    quirks = _load_quirks(version, deps)
    build = Build(name, data, schema, replies, quirks, path)
    if data.get("replies"):
        build.qom_orders = qom_orders(doc, build)
    from ..arch import targets

    step = targets.part(build.target, "derive", "build_derived")
    build.derived = step(build, deps) if step is not None else {}
    return build


def qom_orders(doc: Doc, build: Build) -> dict[str, list[str]]:
    """canonical machine type -> the names ``qom-list /machine`` listed, in the order a
    recorded instance of it answered.

    QEMU lists an object's properties in the iteration order of glib hash tables (its own
    properties, then each class's, ``object_property_iter_init``, reversed by
    ``qmp_qom_list``'s list prepend): a function of the build, not of anything qmpserver
    models, so the recording is the oracle for it."""
    out: dict[str, list[str]] = {}
    for inst in doc.get("instances") or ():
        canonical = build.canonical_machine(str(inst.get("machine", "")))
        for e in inst.get("entries") or ():
            ret = e.get("return")
            if (
                canonical
                and e.get("execute") == "qom-list"
                and (e.get("arguments") or {}).get("path") == "/machine"
                and isinstance(ret, list)
            ):
                out.setdefault(canonical, [p["name"] for p in ret if isinstance(p, dict) and "name" in p])
    return out


def _add_tree_deps(src: str, deps: set[str]) -> None:
    """Every file of a QAPI source tree (for cache invalidation)."""
    d = os.path.dirname(src)
    for f in os.listdir(d):
        if f.endswith(".json"):
            deps.add(os.path.join(d, f))


def compile_host(data: Doc, file: str | None = None) -> Host:
    """A resolved host mapping -> Host: the architecture's semantic checks (errors name
    ``file``, default the mapping's ``_path``), then its derived facts."""
    arch = data.get("arch", "aarch64")
    file = file or data.get("_path") or data.get("name", "host")
    steps = _steps()
    check = steps.HOST_CHECKS.get(arch)
    if check is not None:
        try:
            check({k: v for k, v in data.items() if k != "_path"}, file)
        except models.DataFileError as e:
            raise ProfileError(e.file, e.path, e.expectation) from None
    step = steps.HOST_STEPS.get(arch)
    derived = step(data) if step is not None else {}
    data = dict(data)
    data["derived"] = derived
    # the host's file (a named host's, else the file that holds it inline): files it names by
    # name relative to its root (x86_64's x86_cpuid) are looked up there first
    origin = file if file and os.path.isabs(file) else ""
    return Host(data["name"], data, data.get("_path") or origin)


def resolve_spec(spec: str, roots: Iterable[str]) -> str:
    """A profile name or a path to a profile file -> absolute path."""
    if os.sep in spec or spec.endswith((".yaml", ".yml")):
        if not os.path.isfile(spec):
            raise ProfileError(spec, "", "no such profile file")
        return os.path.abspath(spec)
    path = find("profile", spec, roots)
    if path is None:
        if not is_name(spec):
            raise UsageError(
                "'%s' is not a profile name (letters, digits, '.', '_', '-'); give a file as a path" % spec
            )
        raise UsageError("unknown profile '%s' (see 'qmpserver profiles list')" % spec)
    return path


def compile_profile(path: str, roots: list[str]) -> tuple[Profile, set[str]]:
    r = _Resolver(roots)
    data = r.profile(path)
    deps = r.deps
    host_data = data["host"]
    build_data = data["build"]
    host = compile_host(host_data, r.origin.get("host"))
    build = compile_build(build_data, deps)
    defaults = dict(data.get("defaults") or {})
    prof = Profile(
        data["name"],
        data.get("summary", ""),
        host,
        build,
        defaults,
        path,
        {k: v for k, v in data.items() if k not in ("host", "build", "_path")},
    )
    return prof, deps


def load_profile(spec: str | None = None, dirs: Iterable[str] = (), use_cache: bool = True) -> Profile:
    """The compiled profile for a name or file (cached)."""
    roots = search_roots(dirs)
    path = resolve_spec(spec or os.environ.get("QMPSERVER_PROFILE") or DEFAULT_PROFILE, roots)
    if spec and (os.sep in spec or spec.endswith((".yaml", ".yml"))):
        # a profile given as a file finds its host and build next to it (the layout
        # written by capture/import: DIR/profiles/P.yaml, DIR/hosts, DIR/builds)
        here = os.path.dirname(path)
        local = os.path.dirname(here) if os.path.basename(here) == "profiles" else here
        roots = [local] + [r for r in roots if r != local]
    if not use_cache:
        return compile_profile(path, roots)[0]
    file = models.compiled_file(path, roots)
    if file:
        prof = models.load_compiled(file)
        if prof is not None:
            try:
                os.utime(file)  # used now: pruning (models.prune_cache) keeps recently used entries
            except OSError:
                pass
            return prof
    prof, deps = compile_profile(path, roots)
    # touching the schema's introspection now makes the cached copy carry the encoded bytes
    prof.build.schema.encoded_introspection(False)
    if file:
        models.save_compiled(file, prof, set(deps) | {path} | compile_code())
        models.prune_cache(os.path.dirname(file), keep=file)
    return prof


def compile_code() -> set[str]:
    """The code a compiled profile depends on (its classes and everything that derives it).

    A changed compiler must not meet an old pickle; stamping these files costs a few
    dozen stat calls per start (well under a millisecond).
    """
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = {os.path.join(pkg, "models.py")}
    for sub in ("qapi", "profiles", "arch", os.path.join("arch", "arm64"), os.path.join("arch", "ppc64")):
        d = os.path.join(pkg, sub)
        try:
            names = os.listdir(d)
        except OSError:
            continue
        out.update(os.path.join(d, n) for n in names if n.endswith(".py"))
    return out
