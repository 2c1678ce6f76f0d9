"""Computed replies held to the emulated build's own schema.

A handler computes its answer from today's model; the build it emulates (QEMU 7.2,
an imported 4.2 recording, 11.1 ...) may not be able to say all of it.  QEMU's
generated output visitors write exactly the members of the command's return type, in
member order (QEMU ``scripts/qapi/visit.py``: ``visit_type_T_members`` visits the base
members, then the branch of the tag value), and an enum member can only hold a value
of the enum (``visit_type_enum`` fails on anything else).  The same rules, applied to a
computed value against the build's schema (its ``query-qmp-schema`` for a captured or
imported build, ``schemas/qapi`` for a native one):

* a member the build's type does not have is **dropped** (logged once per command and
  member at info level: e.g. ``deprecated`` of ``CpuDefinitionInfo`` before QEMU 4.2);
* an enum value (or a union tag) the build does not know cannot be written: the value
  is removed at the nearest place where removing is legal (an array element, an
  optional member), logged once at warning level;
* a required member that is absent, or a value of the wrong JSON type, is a modelling
  gap: never invented, the reply is a ``GenericError`` naming the command, the member
  path and what the build's schema expects, and the log says so at error level;
* members are put in member order (QEMU inserts them in that order, and insertion
  order decides the wire order of keys that share a QDict bucket,
  :mod:`qmpserver.wire.qdict`); ``any`` values are left exactly as they are.

:func:`conformer` gives the one :class:`Conformer` of a schema; it compiles one checker
per type on first use (closures over frozensets and tuples, copy-on-write: a value that
already conforms is returned as the same object, nothing is copied).  Pre-encoded
replies (:class:`~qmpserver.wire.encode.RawJSON`) are decoded and checked once per
distinct text, and a big list or object found conforming is not walked again while the
same object is returned (a handler passing recorded data on; a value found wanting is
copied, never cached, so a later change of the object is checked again).  Recorded answers are QEMU's own output and are not passed through here.
"""

from __future__ import annotations

import json

from .. import log as _log
from ..errors import QMPError
from ..wire.encode import RawJSON, dumps
from ..wire.qdict import to_insertion_order
from .model import AlternateType, ArrayType, BuiltinType, EnumType, ObjectType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from .model import Schema, Type

    Check = Callable[[Any], Any]

conform_log = _log.get("qmpserver.conform")

# Python types a JSON value of each QAPI json-type may have ('value' = any: unchecked)
_PY_TYPES: dict[str, frozenset[type]] = {
    "string": frozenset((str,)),
    "int": frozenset((int,)),
    "number": frozenset((int, float)),
    "boolean": frozenset((bool,)),
    "null": frozenset((type(None),)),
}
_JSON_NAMES = {
    str: "string",
    int: "int",
    float: "number",
    bool: "boolean",
    type(None): "null",
    dict: "object",
    list: "array",
}

RAW_CACHE_MAX = 512
SAME_MIN, SAME_MAX = 8, 256
# commands whose answer is the schema itself (generated from, or recorded with, the very
# introspection it would be checked against): never shaped; a 200 KB text is not hashed per call
SELF_DESCRIBING = frozenset({"query-qmp-schema"})
NOT_MODELLED = " (not modelled for this build)"


class _Unfit(Exception):
    """A value the build cannot express.  ``removable``: an unknown enum value or union
    tag (the enclosing array element or optional member goes); otherwise a modelling gap
    (missing required member, wrong JSON type): the reply becomes an error."""

    def __init__(self, why: str, removable: bool) -> None:
        super().__init__(why)
        self.why = why
        self.removable = removable
        self.path: list[str | int] = []


def _path(parts: list[str | int]) -> str:
    out = "return"
    for p in parts:
        out += "[%d]" % p if isinstance(p, int) else "." + p
    return out


def _what(v: Any) -> str:
    return _JSON_NAMES.get(type(v), type(v).__name__)


class Conformer:
    """The compiled checkers of one schema (one per type and per command, built on first use)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._types: dict[int, Check] = {}
        self._commands: dict[str, Check | None] = {}
        self._raw: dict[str, RawJSON] = {}  # checked RawJSON text -> the text to send
        # big lists/dicts found conforming, by identity (recorded data a handler passes on,
        # e.g. 1100 qom-list-types entries): the object itself is kept, so its id stays its own
        self._same: dict[int, Any] = {}
        self._logged: set[tuple[str, str]] = set()
        self._command = ""  # the command being checked (log lines name it)
        self._strict = False  # strict(): nothing dropped, nothing logged (set only while it runs)

    # ---- entry points -----------------------------------------------------------

    def reply(self, command: str, value: Any) -> Any:
        """``value`` as the build's ``command`` can return it; raises ``QMPError`` for a gap."""
        if command in self._commands:
            check = self._commands[command]
        else:
            cmd = None if command in SELF_DESCRIBING else self.schema.commands.get(command)
            check = self._commands[command] = (
                self.compile(cmd.ret_type) if cmd is not None and cmd.ret_type is not None else None
            )
        if check is None:
            return value
        if type(value) is RawJSON:
            return self._raw_reply(command, check, value)
        big = type(value) in (list, dict) and len(value) >= SAME_MIN
        if big and self._same.get(id(value)) is value:
            return value
        self._command = command
        try:
            out = check(value)
        except _Unfit as e:
            raise self._gap(command, e) from None
        if big and out is value:
            if len(self._same) >= SAME_MAX:
                self._same.clear()
            self._same[id(value)] = value
        return out

    def strict(self, command: str, value: Any) -> tuple[Any, str | None]:
        """For an answer a person wrote (a test's stub), not one the model computed: the
        same rules, but nothing is dropped or logged.  ``(value in the build's member
        order, None)`` when the build's ``command`` can return exactly ``value``; else
        ``(None, why)``: the member path and what the build's schema expects.  A command
        without ``returns`` answers ``{}`` (QEMU's marshaller sends an empty dict)."""
        cmd = self.schema.commands.get(command)
        if cmd is None:
            return None, "%s is not a command of this build" % command
        if cmd.ret_type is None or command in SELF_DESCRIBING:
            if cmd.ret_type is None and value != {}:
                return None, "return: %s returns nothing in this build: expected {}" % command
            return value, None
        check = self.compile(cmd.ret_type)
        self._strict, self._command = True, command
        try:
            out = check(value)
        except _Unfit as e:
            return None, "%s: %s" % (_path(e.path), e.why.replace(NOT_MODELLED, ""))
        finally:
            self._strict = False
        if out != value:  # unreachable while every reshaping above raises in strict mode
            return None, "return: this build cannot send it as given"
        return out, None

    def _raw_reply(self, command: str, check: Check, text: RawJSON) -> RawJSON:
        got = self._raw.get(text)
        if got is not None:
            return got
        value = to_insertion_order(json.loads(text))
        self._command = command
        try:
            fitted = check(value)
        except _Unfit as e:
            raise self._gap(command, e) from None
        out = text if fitted is value else RawJSON(dumps(fitted))
        if len(self._raw) >= RAW_CACHE_MAX:
            self._raw.clear()
        self._raw[text] = out
        return out

    def _gap(self, command: str, e: _Unfit) -> QMPError:
        where = _path(e.path)
        conform_log.error(
            "%s: %s of the computed reply cannot be given by this build (%s): %s",
            command,
            where,
            self.schema.origin or "its schema",
            e.why,
        )
        return QMPError("qmpserver cannot give this build's answer to %s: %s: %s" % (command, where, e.why))

    def _note(self, level: str, parts: list[str | int], what: str) -> None:
        if self._strict:
            return
        key = (self._command, "%s %s" % (_path(parts), what))
        if key in self._logged:
            return
        self._logged.add(key)
        getattr(conform_log, level)("%s: %s: %s", self._command, _path(parts), what)

    # ---- compilation --------------------------------------------------------------

    def compile(self, t: Type) -> Check:
        """The checker of type ``t`` (memoised; recursive types go through a forwarder)."""
        got = self._types.get(id(t))
        if got is not None:
            return got
        cell: list[Check] = []

        def forward(v: Any) -> Any:
            return cell[0](v)

        self._types[id(t)] = forward
        fn = self._build(t)
        cell.append(fn)
        self._types[id(t)] = fn
        return fn

    def _build(self, t: Type) -> Check:
        if isinstance(t, BuiltinType):
            return self._builtin(t.json_type)
        if isinstance(t, EnumType):
            return self._enum(t)
        if isinstance(t, ArrayType):
            return self._array(t)
        if isinstance(t, ObjectType):
            return self._object(t)
        if isinstance(t, AlternateType):
            return self._alternate(t)
        return _identity

    @staticmethod
    def _builtin(json_type: str) -> Check:
        ok = _PY_TYPES.get(json_type)
        if ok is None:
            return _identity

        def builtin(v: Any) -> Any:
            if type(v) not in ok:
                raise _Unfit("expected %s, got %s" % (json_type, _what(v)), False)
            return v

        return builtin

    @staticmethod
    def _enum(t: EnumType) -> Check:
        values = t.values

        def enum(v: Any) -> Any:
            if type(v) is not str:
                raise _Unfit("expected an enum string, got %s" % _what(v), False)
            if v not in values:
                raise _Unfit("'%s' is not a value of this build's enum" % v, True)
            return v

        return enum

    def _array(self, t: ArrayType) -> Check:
        elem = self.compile(t.element)
        note = self._note

        def array(v: Any) -> Any:
            if type(v) is not list:
                raise _Unfit("expected array, got %s" % _what(v), False)
            out = None
            for i, x in enumerate(v):
                try:
                    y = elem(x)
                except _Unfit as e:
                    if not e.removable or self._strict:
                        e.path.insert(0, i)
                        raise
                    note("warning", [], "element dropped: " + e.why)
                    if out is None:
                        out = v[:i]
                    continue
                if out is not None:
                    out.append(y)
                elif y is not x:
                    out = v[:i]
                    out.append(y)
            return v if out is None else out

        return array

    def _layout(self, members: tuple[Any, ...]) -> tuple[Any, ...]:
        """(member order, allowed names, required names, [(name, optional, checker)]) for
        the members of a struct or of a union branch; builtin members checked inline."""
        order = tuple(m.name for m in members)
        required = frozenset(m.name for m in members if not m.optional)
        checks: list[tuple[str, bool, frozenset[type] | None, Check | None]] = []
        for m in members:
            t = m.type
            if isinstance(t, BuiltinType):
                if t.json_type == "value":
                    continue
                checks.append((m.name, m.optional, _PY_TYPES.get(t.json_type), None))
            else:
                checks.append((m.name, m.optional, None, self.compile(t)))
        return order, frozenset(order), required, tuple(checks)

    def _object(self, t: ObjectType) -> Check:
        base = self._layout(t.members)
        tag = t.tag
        branches: dict[str, tuple[Any, ...]] = {}
        if tag is not None:
            tag_type = t.member_map[tag].type if tag in t.member_map else None
            tag_values = getattr(tag_type, "values", None)
            for case, vt in t.variants.items():
                extra = tuple(m for m in vt.members if m.name not in t.member_map)
                branches[case] = self._layout(t.members + extra)
        in_order: set[tuple[str, ...]] = set()
        note = self._note

        def obj(v: Any) -> Any:
            if type(v) is not dict:
                raise _Unfit("expected object, got %s" % _what(v), False)
            layout: tuple[Any, ...] | None = base
            if tag is not None:
                tv = v.get(tag)
                layout = branches.get(tv) if type(tv) is str else None
                if layout is None:
                    if type(tv) is str and tag_values is not None and tv not in tag_values:
                        raise _Unfit(
                            "'%s' is not a value of this build's enum (member '%s')" % (tv, tag), True
                        )
                    layout = base
            order, allowed, required, checks = layout  # type: ignore[misc]  # set just above
            out = v
            if not v.keys() <= allowed:
                extra = [k for k in v if k not in allowed]
                if self._strict:
                    e = _Unfit("the build's type has no such member", False)
                    e.path.insert(0, extra[0])
                    raise e
                out = {k: x for k, x in v.items() if k in allowed}
                for k in extra:
                    note("info", [k], "member dropped: the build's type has no such member")
            if not required <= out.keys():
                missing = [n for n in order if n in required and n not in out]
                e = _Unfit("required member '%s' is missing%s" % (missing[0], NOT_MODELLED), False)
                raise e
            for name, optional, ok, check in checks:
                if name not in out:
                    continue
                x = out[name]
                if check is None:
                    if ok is not None and type(x) not in ok:
                        e = _Unfit("expected %s, got %s" % (_JSON_NAMES.get(next(iter(ok))), _what(x)), False)
                        e.path.insert(0, name)
                        raise e
                    continue
                try:
                    y = check(x)
                except _Unfit as e:
                    if e.removable and optional and not self._strict:
                        note("warning", [name], "optional member dropped: " + e.why)
                        if out is v:
                            out = dict(v)
                        del out[name]
                        continue
                    e.path.insert(0, name)
                    raise
                if y is not x:
                    if out is v:
                        out = dict(v)
                    out[name] = y
            keys = tuple(out)
            if keys not in in_order:
                want = tuple(n for n in order if n in out)
                if want != keys:
                    return {n: out[n] for n in want}
                if len(in_order) < 4096:
                    in_order.add(keys)
            return out

        return obj

    def _alternate(self, t: AlternateType) -> Check:
        by_py: dict[type, Check] = {}
        for a in t.alternatives:
            jt = a.json_type
            fn = self.compile(a)
            pys = {"object": (dict,), "array": (list,)}.get(jt) or tuple(_PY_TYPES.get(jt, ()))
            for p in pys:
                by_py.setdefault(p, fn)

        def alternate(v: Any) -> Any:
            fn = by_py.get(type(v))
            if fn is None:
                raise _Unfit("no alternative of this build takes %s" % _what(v), False)
            return fn(v)

        return alternate


def _identity(v: Any) -> Any:
    return v


def conformer(schema: Schema) -> Conformer:
    """The schema's one :class:`Conformer` (kept on the schema object, not pickled)."""
    c: Conformer | None = schema.__dict__.get("_conformer")
    if c is None:
        c = schema.__dict__["_conformer"] = Conformer(schema)
    return c
