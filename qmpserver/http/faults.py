"""Fault injection: make an instance misbehave on purpose to test client robustness.

A fault applies to the next request(s) of any connection of its instance,
optionally only to one command name, once (default), ``count`` times, or
until removed (``permanent``).  Kinds:

``delay``     hold the request ``seconds`` before running it (in-band requests;
              the reply, and every later in-band reply, comes that much later,
              like a slow QEMU main loop).  Uses the session's
              ``before_inband`` hook, which the asyncio driver honours with a
              timer; the sans-IO core stays free of timers.
``close``     run the request, send its reply, then close the connection (a
              QEMU that exits or crashes right after a command).
``fail``      answer the command with ``{"error": {"class": C, "desc": D}}``
              instead of running it (arguments are still validated first, as
              a failing handler would see them).
``oversize``  answer with a reply of exactly ``bytes`` bytes (CRLF included;
              default 10 MiB + 1, one byte over qemu.qmp's and libvirt's
              limit): ``{"return": "xxxx..."}``.

``fail`` and ``oversize`` wrap the instance's command table: the monitor's
``command_table()`` returns a :class:`FaultTable` that answers lookups of a
faulted command with a substitute entry (installed on first use, never
removed; without matching faults it returns the original entries).
"""

from __future__ import annotations

import itertools
import weakref

from ..errors import ERROR_CLASSES, QMPError

KINDS = ("delay", "close", "fail", "oversize")
DEFAULT_OVERSIZE = 10 * 1024 * 1024 + 2
MAX_OVERSIZE = 256 * 1024 * 1024
MAX_DELAY = 3600.0

_ids = itertools.count(1)


class FaultError(ValueError):
    pass


class Fault:
    __slots__ = ("id", "kind", "command", "remaining", "seconds", "cls", "desc", "size", "hits")

    def __init__(self, kind, command=None, count=1, seconds=0.0, cls="GenericError", desc="", size=0):
        self.id = next(_ids)
        self.kind = kind
        self.command = command
        self.remaining = count          # None: permanent
        self.seconds = seconds
        self.cls = cls
        self.desc = desc
        self.size = size
        self.hits = 0

    def matches(self, name) -> bool:
        return self.command is None or self.command == name

    def describe(self) -> dict:
        d = {"id": self.id, "kind": self.kind, "command": self.command,
             "remaining": self.remaining, "permanent": self.remaining is None, "hits": self.hits}
        if self.kind == "delay":
            d["seconds"] = self.seconds
        elif self.kind == "fail":
            d["class"] = self.cls
            d["desc"] = self.desc
        elif self.kind == "oversize":
            d["bytes"] = self.size
        return d


def parse_fault(body, schema) -> Fault:
    """Check an API body; FaultError names the field and what was expected."""
    if type(body) is not dict:
        raise FaultError("the body must be a JSON object with a 'kind'")
    allowed = {"kind", "command", "count", "permanent", "seconds", "class", "desc", "bytes"}
    for k in body:
        if k not in allowed:
            raise FaultError("unknown field '%s' (expected one of: %s)" % (k, ", ".join(sorted(allowed))))
    kind = body.get("kind")
    if kind not in KINDS:
        raise FaultError("kind: expected one of %s" % ", ".join(KINDS))
    command = body.get("command")
    if command is not None:
        if type(command) is not str:
            raise FaultError("command: expected a command name")
        if schema is not None and command not in schema.commands:
            raise FaultError("command: '%s' is not a command of this instance's QEMU" % command)
    elif kind == "fail":
        raise FaultError("command: a 'fail' fault needs the name of the command to fail")
    permanent = body.get("permanent", False)
    if type(permanent) is not bool:
        raise FaultError("permanent: expected true or false")
    count = body.get("count", 1)
    if type(count) is not int or count < 1:
        raise FaultError("count: expected a positive integer")
    f = Fault(kind, command, None if permanent else count)
    if kind == "delay":
        s = body.get("seconds")
        if type(s) not in (int, float) or not 0 < s <= MAX_DELAY:
            raise FaultError("seconds: expected a delay in seconds (0 < seconds <= %d)" % MAX_DELAY)
        f.seconds = float(s)
    elif kind == "fail":
        cls = body.get("class", "GenericError")
        if cls not in ERROR_CLASSES:
            raise FaultError("class: expected one of %s" % ", ".join(ERROR_CLASSES))
        desc = body.get("desc", "injected failure")
        if type(desc) is not str:
            raise FaultError("desc: expected a string")
        f.cls, f.desc = cls, desc
    elif kind == "oversize":
        n = body.get("bytes", DEFAULT_OVERSIZE)
        if type(n) is not int or not 64 <= n <= MAX_OVERSIZE:
            raise FaultError("bytes: expected a reply size in bytes (64 to %d)" % MAX_OVERSIZE)
        f.size = n
    for k in ("seconds", "class", "desc", "bytes"):
        if k in body and not (k == "seconds" and kind == "delay" or k in ("class", "desc") and kind == "fail"
                              or k == "bytes" and kind == "oversize"):
            raise FaultError("%s: not a parameter of a '%s' fault" % (k, kind))
    return f


class Faults:
    """The faults of one instance and the hooks that apply them."""

    def __init__(self, instance):
        self.instance = instance
        self.list: list = []
        self.sessions = weakref.WeakSet()
        self.delay_hooked = False
        self.table_hooked = False

    @property
    def active(self) -> bool:
        return bool(self.list)

    # --- management ----------------------------------------------------------------

    def add(self, body) -> Fault:
        f = parse_fault(body, self.instance.build.schema)
        self.list.append(f)
        if f.kind == "delay":
            self._hook_delay()
        elif f.kind in ("fail", "oversize"):
            self._hook_table()
        return f

    def remove(self, fid=None) -> int:
        before = len(self.list)
        self.list = [f for f in self.list if fid is not None and f.id != fid]
        return before - len(self.list)

    def describe(self) -> list:
        return [f.describe() for f in self.list]

    def _take(self, kinds, name):
        for f in self.list:
            if f.kind in kinds and f.matches(name):
                f.hits += 1
                if f.remaining is not None:
                    f.remaining -= 1
                    if f.remaining <= 0:
                        self.list.remove(f)
                return f
        return None

    def _has(self, kinds, name) -> bool:
        for f in self.list:
            if f.kind in kinds and f.matches(name):
                return True
        return False

    # --- sessions --------------------------------------------------------------------

    def attach(self, session) -> None:
        """A new connection of the instance."""
        self.sessions.add(session)
        if self.delay_hooked:
            self._hook_session(session)

    def _hook_session(self, session):
        if hasattr(session, "before_inband"):
            session.before_inband = self._before_inband

    def _hook_delay(self):
        if not self.delay_hooked:
            self.delay_hooked = True
            for s in list(self.sessions):
                self._hook_session(s)

    def _before_inband(self, session, item):
        if not self.list:
            return 0
        name = item.get("execute", item.get("exec-oob")) if type(item) is dict else None
        f = self._take(("delay",), name)
        return f.seconds if f is not None else 0

    def take_close(self, name) -> bool:
        return self._take(("close",), name) is not None

    # --- command table -----------------------------------------------------------------

    def _hook_table(self):
        if self.table_hooked:
            return
        self.table_hooked = True
        from ..qmp.dispatch import NegotiationTable
        for mon in self.instance.monitors:
            orig = mon.command_table()
            proxy = FaultTable(orig, self)
            mon.command_table = (lambda p=proxy: p)
            for s in list(self.sessions):
                if s.monitor is not mon:
                    continue
                if s.table is orig:
                    s.table = proxy
                elif type(s.table) is NegotiationTable and s.table.full is orig:
                    s.table.full = proxy


class FaultTable:
    """A command table that substitutes faulted commands; everything else is delegated."""

    def __init__(self, table, faults):
        self._table = table
        self._faults = faults
        self._subs: dict = {}

    def __getattr__(self, name):
        return getattr(self._table, name)

    def lookup(self, name):
        entry = self._table.lookup(name)
        if entry is None or not self._faults.list or not self._faults._has(("fail", "oversize"), name):
            return entry
        sub = self._subs.get(name)
        if sub is None:
            sub = self._subs[name] = self._substitute(name, entry)
        return sub

    def _substitute(self, name, entry):
        from ..qmp.dispatch import Entry
        faults, table = self._faults, self._table

        def handler(ctx, args):
            f = faults._take(("fail", "oversize"), name)
            if f is None:    # consumed in the meantime: behave normally
                if entry.handler is not None:
                    return entry.handler(ctx, args)
                return table.unmodelled(entry.command, args)
            if f.kind == "fail":
                raise QMPError(f.desc, f.cls)
            return oversize_value(f.size, ctx.request)

        return Entry(entry.command, handler, entry.disabled)


def oversize_value(size, request):
    """A ``return`` value (pre-encoded) making the whole reply line exactly ``size`` bytes."""
    from ..wire.encode import RawJSON, dumps
    overhead = len('{"return": ""}\r\n')
    if type(request) is dict and "id" in request:
        overhead += len(', "id": ') + len(dumps(request["id"]))
    return RawJSON('"' + "x" * max(0, size - overhead) + '"')
