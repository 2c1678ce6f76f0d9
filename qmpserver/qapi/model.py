"""In-memory QAPI schema: the one model both schema sources load into.

A schema comes either from QAPI source (``schemas/qapi/*.json``, see
:mod:`qmpserver.qapi.source`) or from a recorded ``query-qmp-schema`` reply
(:mod:`qmpserver.qapi.introspect`).  Validation, introspection output and
default return values all work on this model.

Types carry ``json_type`` (QEMU's introspection json-type) and, for
built-ins, ``c_type`` (``int32``, ``uint64``, ``size`` ...) which drives range
checks.  A schema loaded from introspection only knows ``int``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..wire import JSON

# json types of the built-in QAPI types
BUILTIN_JSON_TYPES = {
    "str": "string",
    "number": "number",
    "int": "int",
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "int",
    "uint8": "int",
    "uint16": "int",
    "uint32": "int",
    "uint64": "int",
    "size": "int",
    "bool": "boolean",
    "null": "null",
    "any": "value",
    "QType": "string",
}


class Type:
    __slots__ = ("name", "json_type", "features")
    kind = "type"

    def __init__(self, name: str, json_type: str, features: Iterable[str] = ()):
        self.name = name
        self.json_type = json_type
        self.features = tuple(features)

    def __repr__(self) -> str:
        return "<%s %s>" % (type(self).__name__, self.name)


class BuiltinType(Type):
    __slots__ = ("c_type",)
    kind = "builtin"

    def __init__(self, name: str, json_type: str, c_type: str | None = None):
        super().__init__(name, json_type)
        self.c_type = c_type or name


class EnumType(Type):
    __slots__ = ("members", "values", "member_features")
    kind = "enum"

    def __init__(
        self,
        name: str,
        members: Iterable[str],
        features: Iterable[str] = (),
        member_features: dict[str, tuple[str, ...]] | None = None,
    ):
        super().__init__(name, "string", features)
        self.members = tuple(members)
        self.values = frozenset(self.members)
        self.member_features = member_features or {}  # value -> tuple of features


class ArrayType(Type):
    __slots__ = ("element",)
    kind = "array"

    def __init__(self, name: str, element: Type):
        super().__init__(name, "array")
        self.element = element


class Member:
    __slots__ = ("name", "type", "optional", "features")

    def __init__(self, name: str, type_: Type, optional: bool = False, features: Iterable[str] = ()):
        self.name = name
        self.type = type_
        self.optional = optional
        self.features = tuple(features)

    def __repr__(self) -> str:
        return "<Member %s%s: %s>" % ("*" if self.optional else "", self.name, self.type.name)


class ObjectType(Type):
    """A struct, a flat union (``tag`` + ``variants``) or an implicit type.

    ``members`` are flat (base members first).  ``variants`` maps each tag
    value to an ObjectType whose members are visited after the base's.
    """

    __slots__ = ("members", "tag", "variants", "member_map")
    kind = "object"

    def __init__(
        self,
        name: str,
        members: Iterable[Member] = (),
        features: Iterable[str] = (),
        tag: str | None = None,
        variants: dict[str, ObjectType] | None = None,
    ):
        super().__init__(name, "object", features)
        self.members = tuple(members)
        self.tag = tag
        self.variants = variants or {}
        self.member_map = {m.name: m for m in self.members}


class AlternateType(Type):
    __slots__ = ("alternatives",)
    kind = "alternate"

    def __init__(self, name: str, alternatives: Iterable[Type], features: Iterable[str] = ()):
        super().__init__(name, "value", features)
        self.alternatives = tuple(alternatives)


class Command:
    __slots__ = (
        "name",
        "arg_type",
        "ret_type",
        "allow_oob",
        "allow_preconfig",
        "features",
        "gen",
        "boxed",
        "success_response",
        "coroutine",
    )

    def __init__(
        self,
        name: str,
        arg_type: ObjectType | None,
        ret_type: Type | None,
        allow_oob: bool = False,
        allow_preconfig: bool = False,
        features: Iterable[str] = (),
        gen: bool = True,
        boxed: bool = False,
        success_response: bool = True,
        coroutine: bool = False,
    ):
        self.name = name
        self.arg_type = arg_type  # ObjectType (possibly empty)
        self.ret_type = ret_type  # Type or None (no 'returns')
        self.allow_oob = allow_oob
        self.allow_preconfig = allow_preconfig
        self.features = tuple(features)
        self.gen = gen
        self.boxed = boxed
        self.success_response = success_response
        self.coroutine = coroutine

    def __repr__(self) -> str:
        return "<Command %s>" % self.name


class Event:
    __slots__ = ("name", "arg_type", "features")

    def __init__(self, name: str, arg_type: ObjectType | None, features: Iterable[str] = ()):
        self.name = name
        self.arg_type = arg_type
        self.features = tuple(features)

    def __repr__(self) -> str:
        return "<Event %s>" % self.name


if TYPE_CHECKING:
    # what a compiled profile pickles of a Schema (see Schema.__getstate__)
    _SchemaState = tuple[
        dict[str, Command],
        dict[str, Event],
        dict[str, Type],
        list[JSON] | None,
        str,
        dict[bool, str],
        list[tuple[str, str]],
    ]


class Schema:
    """Commands and events in definition order, plus the types they use.

    ``introspection`` holds the ``query-qmp-schema`` return value: recorded
    verbatim for a recorded schema, generated for a source schema.
    """

    def __init__(
        self,
        commands: dict[str, Command],
        events: dict[str, Event],
        types: dict[str, Type],
        introspection: list[JSON] | None = None,
        origin: str = "",
        entity_order: list[tuple[str, str]] | None = None,
    ):
        self.commands = commands
        self.events = events
        self.types = types
        self.origin = origin
        # ("command"|"event", name) in definition order (introspection order)
        self.entity_order = entity_order or (
            [("command", n) for n in commands] + [("event", n) for n in events]
        )
        self._introspection = introspection
        self._encoded: dict[bool, str] = {}  # hide_deprecated -> encoded introspection

    @property
    def introspection(self) -> list[JSON]:
        if self._introspection is None:
            text = self._encoded.get(False)
            if text is not None:  # cheaper than keeping the list in the compiled profile
                import json

                from ..wire.qdict import to_insertion_order

                self._introspection = to_insertion_order(json.loads(text))
            else:
                from .introspect import generate

                self._introspection = generate(self)
        return self._introspection

    def command(self, name: str) -> Command | None:
        return self.commands.get(name)

    def encoded_introspection(self, hide_deprecated: bool = False) -> str:
        """The introspection list as QEMU-style JSON text, encoded once."""
        text = self._encoded.get(hide_deprecated)
        if text is None:
            from ..wire.encode import dumps

            value = self.introspection
            if hide_deprecated:
                from .introspect import zap_deprecated

                value = zap_deprecated(value)
            text = self._encoded[hide_deprecated] = dumps(value)
        return text

    def __getstate__(self) -> _SchemaState:
        intro = None if False in self._encoded else self._introspection
        return (self.commands, self.events, self.types, intro, self.origin, self._encoded, self.entity_order)

    def __setstate__(self, state: _SchemaState) -> None:
        (
            self.commands,
            self.events,
            self.types,
            self._introspection,
            self.origin,
            self._encoded,
            self.entity_order,
        ) = state
