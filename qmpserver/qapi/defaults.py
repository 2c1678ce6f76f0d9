"""Type-correct default return values for commands that have no handler.

A schema (in particular one recorded from a real QEMU) can list hundreds of
commands qmpserver does not model.  Rather than answering CommandNotFound,
which no real QEMU would, such a command returns the smallest value of its
return type:

=============  ==============================================
return type    default
=============  ==============================================
none           ``{}`` (as QEMU for commands without returns)
str            ``""``
int / size     ``0``
number         ``0.0``
bool           ``false``
null           ``null``
any            ``{}``
enum           its first value
array          ``[]``
struct         required members filled recursively, optional ones omitted
union          the first tag value and that branch's required members
alternate      the default of its first alternative
=============  ==============================================

Each such answer is logged (logger ``qmpserver.default``) and the list of
unmodelled commands of a profile is shown by ``qmpserver profiles show``.
"""

from __future__ import annotations

from .model import AlternateType, ArrayType, BuiltinType, EnumType, ObjectType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..wire import JSON
    from .model import Type

_BUILTIN: dict[str, JSON] = {"string": "", "int": 0, "number": 0.0, "boolean": False, "null": None}


def default_value(t: Type | None, _depth: int = 0) -> JSON:
    if t is None:
        return {}
    if _depth > 32:  # recursive types always have a way out through arrays/optionals
        return None
    if isinstance(t, BuiltinType):
        return _BUILTIN.get(t.json_type, {})
    if isinstance(t, EnumType):
        return t.members[0] if t.members else ""
    if isinstance(t, ArrayType):
        return []
    if isinstance(t, AlternateType):
        return default_value(t.alternatives[0], _depth + 1) if t.alternatives else None
    if isinstance(t, ObjectType):
        out: dict[str, JSON] = {}
        for m in t.members:
            if not m.optional:
                out[m.name] = default_value(m.type, _depth + 1)
        if t.tag is not None and t.tag in out:
            variant = t.variants.get(out[t.tag])
            if variant is not None:
                for m in variant.members:
                    if not m.optional and m.name not in out:
                        out[m.name] = default_value(m.type, _depth + 1)
        return out
    return {}
