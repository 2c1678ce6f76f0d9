"""Add commands and events from QAPI source to a recorded schema.

Used when a build recorded from a real QEMU enables a qmpserver proposal:
the recorded introspection is kept byte for byte and the proposal's entities
are appended, their types masked with numbers after the recording's highest.
"""

from __future__ import annotations

from .introspect import generate
from .model import Schema

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..wire import JSON, JSONObject


def _max_number(info: list[JSON]) -> int:
    best = -1
    for e in info:
        n = e["name"]
        if n.isdigit():
            best = max(best, int(n))
    return best


def overlay(base: Schema, extra: Schema) -> Schema:
    info = list(base.introspection)
    names = {e["name"] for e in info}
    offset = _max_number(info) + 1
    empty: str | None = next(
        (
            e["name"]
            for e in info
            if e.get("meta-type") == "object" and not e.get("members") and "tag" not in e
        ),
        None,
    )
    gen = generate(extra)
    gen_empty: str | None = next(
        (
            e["name"]
            for e in gen
            if e.get("meta-type") == "object" and not e.get("members") and "tag" not in e
        ),
        None,
    )

    def rename(n: str) -> str:
        if n == gen_empty and empty is not None:
            return empty
        if n.isdigit():
            return str(int(n) + offset)
        if n.startswith("[") and n.endswith("]"):
            return "[" + rename(n[1:-1]) + "]"
        return n

    def fix(e: JSONObject) -> JSONObject:
        e = dict(e)
        if e["meta-type"] not in ("command", "event"):
            e["name"] = rename(e["name"])
        for k in ("arg-type", "ret-type", "element-type"):
            if k in e:
                e[k] = rename(e[k])
        if "members" in e:
            e["members"] = [dict(m, type=rename(m["type"])) if "type" in m else m for m in e["members"]]
        if "variants" in e:
            e["variants"] = [dict(v, type=rename(v["type"])) for v in e["variants"]]
        return e

    # new commands/events go after the recorded ones, new types at the end
    split = max((i + 1 for i, e in enumerate(info) if e["meta-type"] in ("command", "event")), default=0)
    entities: list[JSON] = []
    new_types: list[JSON] = []
    for e in gen:
        e = fix(e)
        if e["name"] in names:
            continue
        names.add(e["name"])
        (entities if e["meta-type"] in ("command", "event") else new_types).append(e)
    info = info[:split] + entities + info[split:] + new_types
    commands = dict(base.commands)
    commands.update(extra.commands)
    events = dict(base.events)
    events.update(extra.events)
    types = dict(base.types)
    for k, t in extra.types.items():
        types.setdefault("overlay:" + k, t)
    order = list(base.entity_order) + [x for x in extra.entity_order if x not in base.entity_order]
    return Schema(
        commands,
        events,
        types,
        introspection=info,
        origin=base.origin + " + " + extra.origin,
        entity_order=order,
    )
