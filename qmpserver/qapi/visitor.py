"""Argument validation with QEMU's input-visitor semantics and texts.

Members are visited in schema order (base members, then the union branch);
leftover keys are checked after all members; errors name the dotted path
(``model.name``, ``enable[0]``) except where QEMU uses the short name (enum
values, sized integers).  Texts (``qapi/qobject-input-visitor.c``):

* ``Parameter 'X' is missing``
* ``Parameter 'X' is unexpected``
* ``Invalid parameter type for 'X', expected: T``
* ``Parameter 'X' does not accept value 'V'``
* ``Parameter 'X' expects uint64`` / ``... expects int32_t`` ...

The same helpers serve handlers that visit an ``any`` argument themselves
(Arm's ``model.props``).
"""

from __future__ import annotations

from ..errors import QMPError
from ..wire.qdict import wire_order
from .ghash import first_leftover
from .model import AlternateType, ArrayType, BuiltinType, EnumType, ObjectType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Sequence
    from typing import Any

    from ..wire import JSON, JSONObject
    from .model import Command, Member, Type

    # where a visitor stands: member names and list indexes from the top
    PathItem = str | int

_I64_MIN, _I64_MAX, _U64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1

_SIZED = {
    "int8": (-128, 127, "int8_t"),
    "int16": (-32768, 32767, "int16_t"),
    "int32": (-(1 << 31), (1 << 31) - 1, "int32_t"),
    "uint8": (0, 255, "uint8_t"),
    "uint16": (0, 65535, "uint16_t"),
    "uint32": (0, (1 << 32) - 1, "uint32_t"),
}


def full_name(path: Iterable[PathItem]) -> str:
    """Render a visitor path: names joined by '.', list indexes as [N]."""
    out = ""
    p: Any  # str or int: the checker does not narrow the else branch of `type(p) is int`
    for p in path:
        if type(p) is int:
            out += "[%d]" % p
        elif out:
            out += "." + p
        else:
            out = p
    return out or "<anonymous>"


def type_error(path: Iterable[PathItem], expected: str) -> QMPError:
    return QMPError("Invalid parameter type for '%s', expected: %s" % (full_name(path), expected))


def missing(path: Iterable[PathItem]) -> QMPError:
    return QMPError("Parameter '%s' is missing" % full_name(path))


def unexpected(path: Iterable[PathItem]) -> QMPError:
    return QMPError("Parameter '%s' is unexpected" % full_name(path))


def check_leftover(d: JSONObject, consumed: list[str], path: Iterable[PathItem]) -> None:
    """``visit_check_struct``: fail on the key QEMU would report first."""
    if len(consumed) >= len(d):
        return
    key = first_leftover(wire_order(tuple(d)), consumed)
    if key is not None:
        raise unexpected(list(path) + [key])


class Policy:
    """``-compat`` settings: accept|reject (|crash) input, accept|hide output."""

    __slots__ = ("deprecated_input", "deprecated_output", "unstable_input", "unstable_output")

    def __init__(
        self,
        deprecated_input: str = "accept",
        deprecated_output: str = "accept",
        unstable_input: str = "accept",
        unstable_output: str = "accept",
    ):
        self.deprecated_input = deprecated_input
        self.deprecated_output = deprecated_output
        self.unstable_input = unstable_input
        self.unstable_output = unstable_output

    def input_ok(self, features: Collection[str], kind: str, name: str, cls: str = "GenericError") -> None:
        """Raise if ``features`` are refused; ``kind`` is command/parameter/value."""
        if self.deprecated_input != "accept" and "deprecated" in features:
            raise QMPError("Deprecated %s %s disabled by policy" % (kind, name), cls)
        if self.unstable_input != "accept" and "unstable" in features:
            raise QMPError("Unstable %s %s disabled by policy" % (kind, name), cls)


DEFAULT_POLICY = Policy()


def _visit(t: Any, v: JSON, name: PathItem | None, path: list[PathItem], policy: Policy) -> None:
    """Visit value ``v`` of type ``t``; ``name`` is the short member name.

    ``t`` is a model :class:`Type`, typed ``Any`` because the dispatch below
    tests its exact class once (``tt``) and the checker cannot narrow ``t``
    through that alias.
    """
    tt = type(t)
    if tt is BuiltinType:
        jt = t.json_type
        if jt == "string":
            if type(v) is not str:
                raise type_error(path, "string")
            if t.c_type == "QType" and v not in (
                "none",
                "qnull",
                "qnum",
                "qstring",
                "qdict",
                "qlist",
                "qbool",
            ):
                raise QMPError("Parameter '%s' does not accept value '%s'" % (name or "null", v))
            return
        if jt == "int":
            ctype = t.c_type
            if type(v) is not int:
                raise (
                    type_error(path, "integer")
                    if ctype not in ("uint64", "size")
                    else QMPError("Parameter '%s' expects uint64" % full_name(path))
                )
            if ctype == "uint64" or ctype == "size":
                return  # negative values are accepted for compatibility
            if ctype == "introspected-int":
                return  # width unknown in a recorded schema
            if not (_I64_MIN <= v <= _I64_MAX):
                raise type_error(path, "integer")
            r = _SIZED.get(ctype)
            if r is not None and not (r[0] <= v <= r[1]):
                raise QMPError("Parameter '%s' expects %s" % (name or "null", r[2]))
            return
        if jt == "boolean":
            if type(v) is not bool:
                raise type_error(path, "boolean")
            return
        if jt == "number":
            if type(v) is not int and type(v) is not float:
                raise type_error(path, "number")
            return
        if jt == "null":
            if v is not None:
                raise type_error(path, "null")
            return
        return  # any
    if tt is EnumType:
        if type(v) is not str:
            raise type_error(path, "string")
        if v not in t.values:
            raise QMPError("Parameter '%s' does not accept value '%s'" % (name or "null", v))
        if t.member_features:
            f = t.member_features.get(v)
            if f:
                policy.input_ok(f, "value", v)
        return
    if tt is ObjectType:
        if type(v) is not dict:
            raise type_error(path, "object")
        visit_object(t, v, path, policy)
        return
    if tt is ArrayType:
        if type(v) is not list:
            raise type_error(path, "array")
        et = t.element
        for i, item in enumerate(v):
            _visit(et, item, None, path + [i], policy)
        return
    if tt is AlternateType:
        _visit_alternate(t, v, name, path, policy)
        return
    raise AssertionError("unknown type %r" % (t,))


def _qtype_matches(t: Type, v: JSON) -> bool:
    jt = t.json_type
    tv = type(v)
    if jt == "string":
        return tv is str
    if jt in ("int", "number"):
        return (tv is int) or (tv is float and jt == "number")
    if jt == "boolean":
        return tv is bool
    if jt == "null":
        return v is None
    if jt == "object":
        return tv is dict
    if jt == "array":
        return tv is list
    return True


def _visit_alternate(
    t: AlternateType, v: JSON, name: PathItem | None, path: list[PathItem], policy: Policy
) -> None:
    for alt in t.alternatives:
        if _qtype_matches(alt, v):
            _visit(alt, v, name, path, policy)
            return
    if type(v) is int and any(a.json_type == "number" for a in t.alternatives):
        return
    raise QMPError("Invalid parameter type for '%s', expected: %s" % (name or "null", t.name))


def visit_object(t: ObjectType, d: JSONObject, path: list[PathItem], policy: Policy = DEFAULT_POLICY) -> None:
    """Visit ``d`` as members of ``t`` (start_struct already done)."""
    consumed: list[str] = []
    _visit_members(t.members, d, path, policy, consumed)
    if t.tag is not None:
        tag_value: JSON = d.get(t.tag)  # absent (None) or any JSON; a non-string finds no variant
        variant = t.variants.get(tag_value)
        if variant is not None and variant.members:
            _visit_members(variant.members, d, path, policy, consumed)
    if len(consumed) < len(d):
        check_leftover(d, consumed, path)


def _visit_members(
    members: Iterable[Member], d: JSONObject, path: list[PathItem], policy: Policy, consumed: list[str]
) -> None:
    for m in members:
        name = m.name
        if name in d:
            if m.features:
                policy.input_ok(m.features, "parameter", name)
            consumed.append(name)
            _visit(m.type, d[name], name, path + [name], policy)
        elif not m.optional:
            raise missing(path + [name])


def validate_arguments(cmd: Command, args: JSONObject, policy: Policy = DEFAULT_POLICY) -> JSONObject:
    """Validate the ``arguments`` of a command like its QAPI marshaller."""
    if not cmd.gen:  # hand-written marshaller: the handler checks its input
        return args
    t = cmd.arg_type
    if t is None or not t.members and t.tag is None:
        if args:
            check_leftover(args, [], [])
        return args
    visit_object(t, args, [], policy)
    return args


def validate_value(
    t: Type, value: JSON, path: Sequence[PathItem] = (), policy: Policy = DEFAULT_POLICY
) -> None:
    """Validate any value against a type (event data, injected replies)."""
    _visit(t, value, path[-1] if path else None, list(path), policy)
