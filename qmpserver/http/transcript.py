"""Per-instance QMP transcript: a bounded log of every message, and its exports.

An entry is a tuple ``(seq, time, conn, direction, kind, data)``:
``direction`` is ``"in"`` (a request) or ``"out"`` (greeting, reply or
event); ``kind`` is ``command``, ``reply``, ``event``, ``greeting`` or
``other``; ``conn`` numbers the instance's connections from 1; ``data`` is
the message as JSON text (bytes).  Outgoing messages are kept as the exact
bytes the client received (CRLF included): the recorder takes them from the
session's outbox right after the session queued them, so recording costs no
second encoding and a shared pre-encoded reply (``query-qmp-schema``) is not
copied.  Requests are encoded once, compactly, in the client's member order.

Memory is bounded twice: ``limit`` entries per instance, and a byte budget
shared by all instances of a :class:`Budget` (default 32 MiB): when the total
is over budget, the instance that is recording gives back its oldest entries
down to its fair share (budget / instances).  Idle transcripts keep what they
have, so the total may exceed the budget by what idle instances hold.

Exports:

* :func:`entry_json` - a JSON-able dict per entry, with the message decoded in
  the member order the client received (QEMU's QDict order);
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

DEFAULT_BUDGET = 32 * 1024 * 1024


class Budget:
    """A byte budget shared by the transcripts of one control plane."""

    __slots__ = ("limit", "used", "members")

    def __init__(self, limit=DEFAULT_BUDGET):
        self.limit = limit
        self.used = 0
        self.members = 0

    def fair_share(self) -> int:
        return self.limit // max(1, self.members)


class Transcript:
    __slots__ = ("entries", "seq", "limit", "dropped", "bytes", "budget")

    def __init__(self, limit, budget=None):
        self.limit = limit
        self.entries: deque = deque()
        self.seq = itertools.count(1)
        self.dropped = 0
        self.bytes = 0
        self.budget = budget if budget is not None else Budget()
        self.budget.members += 1

    def add(self, conn, direction, kind, data: bytes):
        entry = (next(self.seq), time.time(), conn, direction, kind, data)
        if not self.limit:
            self.dropped += 1
            return entry
        entries = self.entries
        entries.append(entry)
        n = len(data)
        self.bytes += n
        b = self.budget
        b.used += n
        if len(entries) > self.limit:
            self._drop()
        if b.used > b.limit:
            share = b.fair_share()
            while self.bytes > share and len(entries) > 1:
                self._drop()
        return entry

    def _drop(self):
        old = self.entries.popleft()
        n = len(old[5])
        self.bytes -= n
        self.budget.used -= n
        self.dropped += 1

    def clear(self):
        self.dropped += len(self.entries)
        self.budget.used -= self.bytes
        self.bytes = 0
        self.entries.clear()

    def release(self):
        """The instance is gone for good: give the bytes back to the budget."""
        self.clear()
        self.budget.members -= 1

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


def encode_request(obj) -> bytes:
    """A request as compact JSON, members in the order the client sent them."""
    try:
        return json.dumps(obj, separators=(", ", ": ")).encode("ascii")
    except (TypeError, ValueError):
        return json.dumps(obj, default=str).encode()


def decode(data: bytes):
    return json.loads(data)


def text_of(data: bytes, limit=None) -> str:
    """The message text without the line ending, optionally cut at ``limit`` characters."""
    if limit is not None and len(data) > limit + 2:
        return data[:limit].decode("ascii", "replace")
    return data.decode("ascii", "replace").rstrip("\r\n")


def entry_json(entry) -> dict:
    seq, t, conn, direction, kind, data = entry
    try:
        msg = decode(data)
    except ValueError:
        msg = text_of(data)
    return {"seq": seq, "time": t, "conn": conn, "dir": direction, "kind": kind, "msg": msg}


def pairs(entries):
    """(command, reply) pairs in the order commands ran, per connection, matched by id."""
    pending: dict = {}
    order: list = []
    for seq, t, conn, direction, kind, data in entries:
        if kind == "command":
            obj = decode(data)
            if type(obj) is not dict:
                continue
            key = (conn, json.dumps(obj.get("id"), sort_keys=True))
            slot = [obj, None]
            pending.setdefault(key, deque()).append(slot)
            order.append(slot)
        elif kind == "reply":
            obj = decode(data)
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
        r = dict(reply)
        r.pop("id", None)
        r["id"] = rid
        chunks.append(json.dumps(c, indent=2))
        chunks.append(json.dumps(r, indent=2))
    return "\n\n".join(chunks) + ("\n" if chunks else "")
