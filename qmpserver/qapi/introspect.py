"""``query-qmp-schema`` in QEMU's form, in both directions.

:func:`generate` turns a model into the SchemaInfo list the way QEMU's
generator does: commands and events first in definition order, then every
type they use in order of first use (the list of used types grows while it
is being walked), type names masked to decimal strings in order of first
mention, built-in names literal, every integer type shown as ``int``, arrays
named ``[element]``, optional members with ``"default": null``, union
branches listed for every tag value (``q_empty`` for those without one).

:func:`from_introspection` builds a model from a recorded SchemaInfo list, so
a schema recorded from a real QEMU validates arguments with the same engine.
"""

from __future__ import annotations

from ..errors import UsageError
from .model import AlternateType, ArrayType, BuiltinType, Command, EnumType, Event, Member, ObjectType, Schema

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ..wire import JSON, JSONObject
    from .model import Type


# commands QEMU declares with 'gen': false (hand-written marshallers that take
# more than their declared members, e.g. device_add's device properties);
# introspection does not say so
HAND_WRITTEN = frozenset(("device_add",))


def generate(schema: Schema) -> list[JSON]:
    trees: list[JSON] = []
    used: list[Type] = []
    used_ids: set[str] = set()
    names: dict[str, str] = {}  # type name -> its mask
    int_type = schema.types.get("int") or BuiltinType("int", "int")
    int_list = ArrayType("intList", int_type)

    def mask(name: str) -> str:
        n = names.get(name)
        if n is None:
            n = names[name] = "%d" % len(names)
        return n

    def use(t: Type) -> str:
        if t.json_type == "int" and isinstance(t, BuiltinType):
            t = int_type
        elif isinstance(t, ArrayType) and t.element.json_type == "int" and isinstance(t.element, BuiltinType):
            t = int_list
        key = ("[%s]" % t.element.name) if isinstance(t, ArrayType) else t.name
        if key not in used_ids:
            used_ids.add(key)
            used.append(t)
        if isinstance(t, BuiltinType):
            return t.name
        if isinstance(t, ArrayType):
            return "[" + use(t.element) + "]"
        return mask(t.name)

    def tree(name: str, meta: str, obj: JSONObject, features: Iterable[str] = ()) -> None:
        if meta not in ("command", "event", "builtin", "array"):
            name = mask(name)
        obj["name"] = name
        obj["meta-type"] = meta
        if features:
            obj["features"] = list(features)
        # QEMU inserts the keys of its literal in sorted order
        trees.append({k: obj[k] for k in sorted(obj)})

    empty = schema.types.get("q_empty") or ObjectType("q_empty")
    for meta, name in schema.entity_order:
        if meta == "command":
            c = schema.commands[name]
            obj: JSONObject = {"arg-type": use(c.arg_type or empty), "ret-type": use(c.ret_type or empty)}
            if c.allow_oob:
                obj["allow-oob"] = True
            tree(name, "command", obj, c.features)
        else:
            e = schema.events[name]
            tree(name, "event", {"arg-type": use(e.arg_type or empty)}, e.features)

    i = 0
    while i < len(used):
        t = used[i]
        i += 1
        if isinstance(t, BuiltinType):
            tree(t.name, "builtin", {"json-type": t.json_type})
        elif isinstance(t, EnumType):
            members: list[JSONObject] = []
            for v in t.members:
                mo: JSONObject = {"name": v}
                f = t.member_features.get(v)
                if f:
                    mo["features"] = list(f)
                members.append({k: mo[k] for k in sorted(mo)})
            tree(t.name, "enum", {"members": members, "values": list(t.members)}, t.features)
        elif isinstance(t, ArrayType):
            elem = use(t.element)
            tree("[" + elem + "]", "array", {"element-type": elem})
        elif isinstance(t, ObjectType):
            members = []
            for m in t.members:
                o: JSONObject = {"name": m.name, "type": use(m.type)}
                if m.optional:
                    o["default"] = None
                if m.features:
                    o["features"] = list(m.features)
                members.append({k: o[k] for k in sorted(o)})
            obj = {"members": members}
            if t.tag is not None:
                obj["tag"] = t.tag
                obj["variants"] = [{"case": c, "type": use(vt)} for c, vt in t.variants.items()]
            tree(t.name, "object", obj, t.features)
        elif isinstance(t, AlternateType):
            tree(t.name, "alternate", {"members": [{"type": use(a)} for a in t.alternatives]}, t.features)
    return trees


def zap_deprecated(info: list[JSON]) -> list[JSON]:
    """What ``-compat deprecated-output=hide`` leaves of an introspection list."""
    out: list[JSON] = []
    for ent in info:
        if "deprecated" in ent.get("features", ()):
            continue
        if ent.get("meta-type") == "object":
            ent = dict(ent)
            ent["members"] = [m for m in ent["members"] if "deprecated" not in m.get("features", ())]
        out.append(ent)
    return out


class IntrospectionError(UsageError):
    pass


def from_introspection(info: JSON, origin: str = "recorded introspection") -> Schema:
    """Build a model from a ``query-qmp-schema`` return value."""
    if not isinstance(info, list):
        raise IntrospectionError("%s: expected a list of SchemaInfo objects" % origin)
    by_name: dict[str, JSONObject] = {}
    for i, ent in enumerate(info):
        if not isinstance(ent, dict) or not isinstance(ent.get("name"), str) or "meta-type" not in ent:
            raise IntrospectionError("%s: entry %d is not a SchemaInfo object" % (origin, i))
        if ent["meta-type"] not in ("command", "event"):
            by_name[ent["name"]] = ent
    types: dict[str, Type] = {}

    # Returns a model Type, typed Any: which one the recorded meta-type says, and
    # the checker cannot know that an arg-type or a union branch is an ObjectType
    # (QEMU qapi/introspect.json: they name object types).
    def get(name: str) -> Any:
        t = types.get(name)
        if t is not None:
            return t
        if name.startswith("[") and name.endswith("]") and name not in by_name:
            t = types[name] = ArrayType(name, get(name[1:-1]))
            return t
        ent = by_name.get(name)
        if ent is None:
            raise IntrospectionError("%s: unknown type '%s'" % (origin, name))
        meta = ent["meta-type"]
        feats = tuple(ent.get("features", ()))
        if meta == "builtin":
            t = BuiltinType(
                name, ent.get("json-type", "value"), c_type="introspected-" + ent.get("json-type", "value")
            )
            types[name] = t
        elif meta == "enum":
            vals = [m["name"] for m in ent["members"]] if "members" in ent else list(ent.get("values", ()))
            mf = {m["name"]: tuple(m["features"]) for m in ent.get("members", ()) if m.get("features")}
            t = types[name] = EnumType(name, vals, feats, mf)
        elif meta == "array":
            # registered before its element is resolved, which may refer back to it
            t = types[name] = ArrayType(name, None)  # type: ignore[arg-type]  # element set just below
            t.element = get(ent["element-type"])
        elif meta == "alternate":
            t = types[name] = AlternateType(name, (), feats)
            t.alternatives = tuple(get(m["type"]) for m in ent.get("members", ()))
        elif meta == "object":
            t = types[name] = ObjectType(name, (), feats)
            t.members = tuple(
                Member(m["name"], get(m["type"]), "default" in m, tuple(m.get("features", ())))
                for m in ent.get("members", ())
            )
            t.member_map = {m.name: m for m in t.members}
            if "tag" in ent:
                t.tag = ent["tag"]
                t.variants = {v["case"]: get(v["type"]) for v in ent.get("variants", ())}
        else:
            raise IntrospectionError("%s: type '%s' has unknown meta-type '%s'" % (origin, name, meta))
        return t

    commands: dict[str, Command] = {}
    events: dict[str, Event] = {}
    order: list[tuple[str, str]] = []
    for ent in info:
        meta = ent["meta-type"]
        feats = tuple(ent.get("features", ()))
        if meta == "command":
            arg = get(ent["arg-type"])
            ret = get(ent["ret-type"])
            commands[ent["name"]] = Command(
                ent["name"],
                arg,
                ret,
                allow_oob=bool(ent.get("allow-oob")),
                allow_preconfig=True,
                features=feats,
                gen=ent["name"] not in HAND_WRITTEN,
            )
            order.append(("command", ent["name"]))
        elif meta == "event":
            events[ent["name"]] = Event(ent["name"], get(ent["arg-type"]), feats)
            order.append(("event", ent["name"]))
        else:
            get(ent["name"])
    return Schema(commands, events, types, introspection=info, origin=origin, entity_order=order)


def refine_int_widths(schema: Schema, source: Schema) -> int:
    """Give the ``int`` members of a recorded schema the C width its QAPI source declares.

    QEMU's introspection (``qapi/introspect.json``) folds every integer type (``int``,
    ``int32``, ``uint64``, ``size`` ...) into the one built-in ``int``, but its input visitor
    (``qapi/qobject-input-visitor.c``) still reads each member with its declared width:
    ``balloon``'s ``value`` (``int``) refuses 2^64-1 as ``Invalid parameter type ...,
    expected: integer`` while a ``size`` member refuses a string as ``Parameter 'size'
    expects uint64``.  Walking the commands' argument types of both schemas by member and
    branch name, each member that is an introspected ``int`` here and a built-in integer in
    ``source`` gets the source's C type; anything the two do not both have keeps the
    introspected, width-unknown ``int``.  Changes ``schema`` in place; returns the count.
    """
    kinds: dict[str, BuiltinType] = {}
    seen: set[int] = set()
    count = 0

    def refined(t: Any, s: Any) -> Any:
        if type(t) is BuiltinType and t.c_type == "introspected-int":
            if type(s) is BuiltinType and s.json_type == "int":
                k = kinds.get(s.c_type)
                if k is None:
                    k = kinds[s.c_type] = BuiltinType(t.name, "int", s.c_type)
                return k
            return None
        if type(t) is ArrayType and type(s) is ArrayType:
            e = refined(t.element, s.element)
            return ArrayType(t.name, e) if e is not None else None
        walk(t, s)
        return None

    def walk(t: Any, s: Any) -> None:
        nonlocal count
        if type(t) is not ObjectType or type(s) is not ObjectType or id(t) in seen:
            return
        seen.add(id(t))
        for m in t.members:
            sm = s.member_map.get(m.name)
            if sm is None:
                continue
            r = refined(m.type, sm.type)
            if r is not None:
                m.type = r
                count += 1
        for case, v in t.variants.items():
            sv = s.variants.get(case)
            if sv is not None:
                walk(v, sv)

    for name, cmd in schema.commands.items():
        scmd = source.commands.get(name)
        if scmd is not None:
            walk(cmd.arg_type, scmd.arg_type)
    return count
