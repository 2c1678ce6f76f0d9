"""Load QAPI schema source (QEMU's ``qapi/*.json`` syntax) into the model.

Supported: ``include``, ``pragma`` (ignored), ``enum``, ``struct`` (with
``base``), flat ``union`` (``base`` + ``discriminator``), ``alternate``,
``command`` (``data``, ``returns``, ``boxed``, ``gen``, ``success-response``,
``allow-oob``, ``allow-preconfig``, ``coroutine``, ``features``) and
``event``; ``'if'`` conditions on definitions, members, enum values,
branches and features, evaluated against a set of symbols that describe one
QEMU build (target, accelerators, version, proposals).

Errors name the file, the line and what is wrong.
"""

from __future__ import annotations

import os
import re

from ..errors import UsageError
from .model import (
    BUILTIN_JSON_TYPES,
    AlternateType,
    ArrayType,
    BuiltinType,
    Command,
    EnumType,
    Event,
    Member,
    ObjectType,
    Schema,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Container, Iterable
    from typing import NoReturn

    from ..wire import JSON, JSONObject
    from .model import Type


class SchemaSourceError(UsageError):
    pass


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+) | (?P<comment>\#[^\n]*) | (?P<punct>[{}\[\],:])
  | (?P<str>'[^'\\\n]*'|"[^"\\\n]*") | (?P<kw>true|false)
""",
    re.X,
)


def parse_expressions(text: str, fname: str) -> list[tuple[JSONObject, int]]:
    """Parse the expressions of one file: [(expr, line)]."""
    pos = 0
    toks: list[tuple[str, JSON, int]] = []  # (kind, scalar value, line)
    line = 1
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SchemaSourceError("%s:%d: stray %r" % (fname, line, text[pos]))
        kind = m.lastgroup
        s = m.group()
        if kind == "punct":
            toks.append((s, s, line))
        elif kind == "str":
            toks.append(("s", s[1:-1], line))
        elif kind == "kw":
            toks.append(("v", s == "true", line))
        line += s.count("\n")
        pos = m.end()

    i = 0

    def value() -> JSON:
        nonlocal i
        if i >= len(toks):
            raise SchemaSourceError("%s: unexpected end of file" % fname)
        kind, v, ln = toks[i]
        i += 1
        if kind in ("s", "v"):
            return v
        if kind == "{":
            d: JSONObject = {}
            if toks[i][0] == "}":
                i += 1
                return d
            while True:
                k, key, kln = toks[i]
                if k != "s":
                    raise SchemaSourceError("%s:%d: expected a string key" % (fname, kln))
                i += 1
                if toks[i][0] != ":":
                    raise SchemaSourceError("%s:%d: expected ':'" % (fname, toks[i][2]))
                i += 1
                if key in d:
                    raise SchemaSourceError("%s:%d: duplicate key '%s'" % (fname, kln, key))
                d[key] = value()
                sep = toks[i][0]
                i += 1
                if sep == "}":
                    return d
                if sep != ",":
                    raise SchemaSourceError("%s:%d: expected ',' or '}'" % (fname, toks[i - 1][2]))
        if kind == "[":
            out: list[JSON] = []
            if toks[i][0] == "]":
                i += 1
                return out
            while True:
                out.append(value())
                sep = toks[i][0]
                i += 1
                if sep == "]":
                    return out
                if sep != ",":
                    raise SchemaSourceError("%s:%d: expected ',' or ']'" % (fname, toks[i - 1][2]))
        raise SchemaSourceError("%s:%d: unexpected %r" % (fname, ln, v))

    exprs: list[tuple[JSONObject, int]] = []
    try:
        while i < len(toks):
            ln = toks[i][2]
            e = value()
            if not isinstance(e, dict):
                raise SchemaSourceError("%s:%d: top-level expression must be an object" % (fname, ln))
            exprs.append((e, ln))
    except IndexError:
        raise SchemaSourceError("%s: unexpected end of file" % fname) from None
    return exprs


def eval_cond(cond: JSON, symbols: Container[str]) -> bool:
    if cond is None:
        return True
    if isinstance(cond, str):
        return cond in symbols
    if isinstance(cond, dict) and len(cond) == 1:
        ((op, arg),) = cond.items()
        if op == "not":
            return not eval_cond(arg, symbols)
        if op == "all":
            return all(eval_cond(c, symbols) for c in arg)
        if op == "any":
            return any(eval_cond(c, symbols) for c in arg)
    raise SchemaSourceError("invalid 'if' condition %r" % (cond,))


def _features(spec: JSON, symbols: Container[str]) -> tuple[str, ...]:
    out: list[str] = []
    for f in spec or ():
        if isinstance(f, str):
            out.append(f)
        elif isinstance(f, dict) and eval_cond(f.get("if"), symbols):
            out.append(f["name"])
    return tuple(out)


class _Builder:
    def __init__(self, symbols: Container[str]):
        self.symbols = symbols
        self.defs: dict[str, tuple[str, JSONObject, str]] = {}  # name -> (meta, expr, where)
        self.types: dict[str, Type] = {}
        for name, jt in BUILTIN_JSON_TYPES.items():
            self.types[name] = BuiltinType(name, jt)
        self.empty = self.types["q_empty"] = ObjectType("q_empty")

    def err(self, where: str, msg: str) -> NoReturn:
        raise SchemaSourceError("%s: %s" % (where, msg))

    def ref(self, spec: JSON, where: str) -> Type:
        """Resolve a type reference: a name or a one-element list."""
        if isinstance(spec, list):
            if len(spec) != 1 or not isinstance(spec[0], str):
                self.err(where, "array type must be a list of one type name")
            elem = self.ref(spec[0], where)
            name = elem.name + "List"
            t = self.types.get(name)
            if t is None:
                t = self.types[name] = ArrayType(name, elem)
            return t
        if not isinstance(spec, str):
            self.err(where, "type reference must be a name, got %r" % (spec,))
        t = self.types.get(spec)
        if t is not None:
            return t
        d = self.defs.get(spec)
        if d is None:
            self.err(where, "unknown type '%s'" % spec)
        return self.build(spec, *d)

    def members(self, data: JSON, owner: str, where: str) -> list[Member]:
        if not isinstance(data, dict):
            self.err(where, "'data' of %s must be an object" % owner)
        out = []
        for key, spec in data.items():
            optional = key.startswith("*")
            name = key[1:] if optional else key
            feats: tuple[str, ...] = ()
            if isinstance(spec, dict):
                if not eval_cond(spec.get("if"), self.symbols):
                    continue
                feats = _features(spec.get("features"), self.symbols)
                spec = spec.get("type")
            out.append(Member(name, self.ref(spec, "%s member '%s'" % (where, name)), optional, feats))
        return out

    def implicit(self, name: str, data: JSON, where: str) -> ObjectType:
        t = ObjectType(name, self.members(data, name, where))
        self.types[name] = t
        return t

    def build(self, name: str, meta: str, expr: JSONObject, where: str) -> Type:
        sym = self.symbols
        feats = _features(expr.get("features"), sym)
        if meta == "enum":
            values: list[str] = []
            mfeats: dict[str, tuple[str, ...]] = {}
            for v in expr.get("data", ()):
                if isinstance(v, dict):
                    if not eval_cond(v.get("if"), sym):
                        continue
                    mfeats[v["name"]] = _features(v.get("features"), sym)
                    v = v["name"]
                values.append(v)
            et = EnumType(name, values, feats, mfeats)
            self.types[name] = et
            return et
        if meta == "alternate":
            at = AlternateType(name, (), feats)
            self.types[name] = at
            alts = []
            for branch, spec in expr.get("data", {}).items():
                if isinstance(spec, dict):
                    if not eval_cond(spec.get("if"), sym):
                        continue
                    spec = spec["type"]
                alts.append(self.ref(spec, "%s branch '%s'" % (where, branch)))
            at.alternatives = tuple(alts)
            return at
        if meta in ("struct", "union"):
            t = ObjectType(name, (), feats)
            self.types[name] = t
            members: list[Member] = []
            base = expr.get("base")
            base_t: Type
            if isinstance(base, dict):
                base_t = self.implicit("q_obj_%s-base" % name, base, where)
                members.extend(base_t.members)
            elif base is not None:
                base_t = self.ref(base, where)
                if not isinstance(base_t, ObjectType):
                    self.err(where, "base '%s' is not a struct" % base)
                members.extend(base_t.members)
            if meta == "struct":
                members.extend(self.members(expr.get("data", {}), name, where))
                t.members = tuple(members)
            else:
                tag = expr.get("discriminator")
                t.members = tuple(members)
                by_name = {m.name: m for m in members}
                tag_type = by_name[tag].type if tag in by_name else None
                if not isinstance(tag_type, EnumType):
                    self.err(
                        where, "union '%s' needs a discriminator naming an enum member of its base" % name
                    )
                variants: dict[str, ObjectType] = {}
                for case, spec in expr.get("data", {}).items():
                    if isinstance(spec, dict):
                        if not eval_cond(spec.get("if"), sym):
                            continue
                        spec = spec["type"]
                    if case not in tag_type.values:
                        continue  # its enum value is compiled out
                    vt = self.ref(spec, "%s branch '%s'" % (where, case))
                    if not isinstance(vt, ObjectType):
                        self.err(where, "branch '%s' must be a struct" % case)
                    variants[case] = vt
                empty = self.empty
                for value in tag_type.members:
                    variants.setdefault(value, empty)
                t.tag = tag
                t.variants = variants
            t.member_map = {m.name: m for m in t.members}
            return t
        self.err(where, "'%s' is not a type" % name)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise SchemaSourceError("cannot read schema file %s: %s" % (path, e.strerror)) from None


def load_source(path: str, symbols: Iterable[str]) -> Schema:
    """Load a QAPI schema tree rooted at ``path`` for a build with ``symbols``."""
    symbols = frozenset(symbols)
    modules: dict[str, list[tuple[JSONObject, str]]] = {}
    seen: set[str] = set()

    def walk(p: str) -> None:
        p = os.path.normpath(p)
        if p in seen:
            return
        seen.add(p)
        modules.setdefault(p, [])
        for expr, line in parse_expressions(_read(p), p):
            if "include" in expr:
                walk(os.path.join(os.path.dirname(p), expr["include"]))
            elif "pragma" in expr:
                continue
            else:
                modules[p].append((expr, "%s:%d" % (p, line)))

    walk(path)
    b = _Builder(symbols)
    entities: list[tuple[str, str, JSONObject, str]] = []
    metas = ("enum", "struct", "union", "alternate", "command", "event")
    for exprs in modules.values():
        for expr, where in exprs:
            meta = next((m for m in metas if m in expr), None)
            if meta is None:
                raise SchemaSourceError("%s: expression has no known meta-type key" % where)
            name = expr[meta]
            if not eval_cond(expr.get("if"), symbols):
                continue
            if meta in ("command", "event"):
                entities.append((meta, name, expr, where))
            else:
                if name in b.defs or name in b.types:
                    raise SchemaSourceError("%s: '%s' is already defined" % (where, name))
                b.defs[name] = (meta, expr, where)

    commands: dict[str, Command] = {}
    events: dict[str, Event] = {}
    empty = b.empty
    for meta, name, expr, where in entities:
        feats = _features(expr.get("features"), symbols)
        data = expr.get("data")
        arg: Type
        if data is None:
            arg = empty
        elif isinstance(data, dict):
            arg = b.implicit("q_obj_%s-arg" % name, data, where)
        else:
            arg = b.ref(data, where)
            if not isinstance(arg, ObjectType):
                b.err(where, "'data' of '%s' must be an object type" % name)
        if meta == "event":
            if name in events:
                b.err(where, "event '%s' is already defined" % name)
            events[name] = Event(name, arg, feats)
            continue
        if name in commands:
            b.err(where, "command '%s' is already defined" % name)
        ret = expr.get("returns")
        commands[name] = Command(
            name,
            arg,
            b.ref(ret, where) if ret is not None else None,
            allow_oob=bool(expr.get("allow-oob")),
            allow_preconfig=bool(expr.get("allow-preconfig")),
            features=feats,
            gen=expr.get("gen", True),
            boxed=bool(expr.get("boxed")),
            success_response=expr.get("success-response", True),
            coroutine=bool(expr.get("coroutine")),
        )
    # entity order for introspection: commands and events interleaved as defined
    order: dict[tuple[str, str], int] = {}
    for meta, name, _e, _w in entities:
        order[(meta, name)] = len(order)
    return Schema(commands, events, b.types, origin=path, entity_order=list(order))
