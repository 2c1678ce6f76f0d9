"""Per-instance QMP transcript: a bounded log of every message, and its exports.

An entry is a tuple ``(seq, time, conn, direction, message)``: ``direction``
is ``"in"`` (a request as parsed) or ``"out"`` (greeting, reply or event as
sent); ``conn`` numbers the instance's connections from 1.  Messages are kept
by reference (the session builds a fresh object for each one), so recording
costs one tuple per message; the bound (``limit``) keeps memory flat.

Exports:

* :func:`entry_json` - a JSON-able dict per entry, with the message in the
  member order the client received (QEMU's QDict order) and big pre-encoded
  replies (``query-qmp-schema``) decoded;
* :func:`to_replies` - a libvirt ``tests/qemucapabilitiesdata`` ``.replies``
  file: pretty-printed objects (2-space indent) separated by a blank line,
  strictly alternating command and reply, no greeting and no events, ids
  renumbered ``libvirt-N`` from 1 at every ``qmp_capabilities``.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque


class Transcript:
    __slots__ = ("entries", "seq", "limit", "dropped")

    def __init__(self, limit):
        self.limit = limit
        self.entries: deque = deque(maxlen=limit or 1)
        self.seq = itertools.count(1)
        self.dropped = 0

    def add(self, conn, direction, obj):
        entry = (next(self.seq), time.time(), conn, direction, obj)
        if self.limit:
            if len(self.entries) == self.limit:
                self.dropped += 1
            self.entries.append(entry)
        return entry

    def clear(self):
        self.dropped += len(self.entries)
        self.entries.clear()

    def since(self, seq=0):
        return [e for e in self.entries if e[0] > seq]


def kind_of(direction, obj) -> str:
    if direction == "in":
        return "command"
    if type(obj) is dict:
        if "QMP" in obj:
            return "greeting"
        if "event" in obj:
            return "event"
        if "return" in obj or "error" in obj:
            return "reply"
    return "other"


def wire_value(obj):
    """The message as the client received it: QDict member order, RawJSON decoded."""
    from ..wire.encode import dumps
    if _has_raw(obj):
        return _decode_raw(obj)
    return json.loads(dumps(obj))


def _has_raw(obj):
    from ..wire.encode import RawJSON
    return type(obj) is dict and type(obj.get("return")) is RawJSON


def _decode_raw(obj):
    from ..wire.encode import dumps
    out = {"return": json.loads(obj["return"])}
    if "id" in obj:
        out["id"] = json.loads(dumps(obj["id"]))
    return out


def wire_text(obj, limit=None) -> str:
    """The exact text sent or received (without CRLF), optionally cut at ``limit`` characters."""
    from ..wire.encode import dumps
    if _has_raw(obj):
        raw = obj["return"]
        if limit is not None and len(raw) > limit:
            return '{"return": ' + raw[:limit]
        text = '{"return": ' + raw + ("" if "id" not in obj else ', "id": ' + dumps(obj["id"])) + "}"
    else:
        try:
            text = dumps(obj)
        except TypeError:
            text = json.dumps(obj, default=str)
    if limit is not None and len(text) > limit:
        return text[:limit]
    return text


def entry_json(entry) -> dict:
    seq, t, conn, direction, obj = entry
    try:
        msg = wire_value(obj)
    except (TypeError, ValueError):
        msg = obj
    return {"seq": seq, "time": t, "conn": conn, "dir": direction, "kind": kind_of(direction, obj),
            "msg": msg}


def pairs(entries):
    """(command, reply) pairs in the order commands ran, per connection, matched by id."""
    pending: dict = {}          # (conn, id-json) -> command; in-band replies come in order
    order: list = []
    for seq, t, conn, direction, obj in entries:
        if direction == "in":
            if type(obj) is not dict:
                continue
            key = (conn, json.dumps(obj.get("id"), sort_keys=True))
            slot = [obj, None]
            pending.setdefault(key, deque()).append(slot)
            order.append(slot)
        elif kind_of(direction, obj) == "reply":
            key = (conn, json.dumps(obj.get("id"), sort_keys=True))
            q = pending.get(key)
            if q:
                q.popleft()[1] = obj
    return [(c, r) for c, r in order if r is not None]


def to_replies(entries) -> str:
    """A libvirt ``.replies`` file from transcript entries."""
    chunks = []
    n = 0
    for cmd, reply in pairs(entries):
        name = cmd.get("execute", cmd.get("exec-oob"))
        if name == "qmp_capabilities":
            n = 0
        n += 1
        rid = "libvirt-%d" % n
        c = {}
        for k in ("execute", "exec-oob"):
            if k in cmd:
                c[k] = cmd[k]
        if "arguments" in cmd:
            c["arguments"] = cmd["arguments"]
        c["id"] = rid
        r = wire_value(reply)
        r.pop("id", None)
        r["id"] = rid
        chunks.append(json.dumps(c, indent=2))
        chunks.append(json.dumps(r, indent=2))
    return "\n\n".join(chunks) + ("\n" if chunks else "")
