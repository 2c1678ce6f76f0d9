"""Fault injection: make an instance misbehave on purpose to test client robustness.

A fault applies to the next request(s) of any connection of its instance,
optionally only to one command name, once (default), ``count`` times, or
until removed (``permanent``).  Kinds:

``delay``     hold the request ``seconds`` before running it (in-band requests;
              the reply, and every later in-band reply, comes that much later,
              like a slow QEMU main loop).  The session's in-band gate
              (``Session.gate_inband``) asks :meth:`Faults.gate` before each
              in-band request; the session answers ``WAIT`` and the driver
              resumes it after the delay (the sans-IO core has no timers).
``close``     run the request, send its reply, then close the connection (a
              QEMU that exits or crashes right after a command).
``fail``      answer the command with ``{"error": {"class": C, "desc": D}}``
              instead of running it (arguments are still validated first, as
              a failing handler would see them).
``oversize``  answer with a reply of exactly ``bytes`` bytes (CRLF included;
              default 10 MiB + 1, one byte over qemu.qmp's and libvirt's
              limit): ``{"return": "xxxx..."}``.

``fail`` and ``oversize`` wrap each monitor's command table
(``Monitor.wrap_command_table``) in a :class:`FaultTable` that answers lookups
of a faulted command with a substitute entry (installed on first use, never
removed; without matching faults it returns the original entries).

The layer takes part in the driver contract of :mod:`qmpserver.qmp.session`
as an endpoint hook: the control plane hands it each new session
(:meth:`Faults.attach`), and it acts only through the session's and the
monitor's methods.
"""

from __future__ import annotations

import itertools
import weakref
from typing import TYPE_CHECKING, Any

from ..errors import QMPError
from ..qmp.dispatch import Context, Entry
from ..wire.encode import RawJSON, dumps

if TYPE_CHECKING:
    from ..qmp.dispatch import Table
    from ..qmp.session import Session
    from ..vm.instance import Instance

KINDS = ("delay", "close", "fail", "oversize")
DEFAULT_OVERSIZE = 10 * 1024 * 1024 + 2
MAX_OVERSIZE = 256 * 1024 * 1024
MAX_DELAY = 3600.0

_ids = itertools.count(1)


class FaultError(ValueError):
    pass


class Fault:
    __slots__ = ("id", "kind", "command", "remaining", "seconds", "cls", "desc", "size", "hits")

    def __init__(
        self,
        kind: str,
        command: str | None = None,
        count: int | None = 1,
        seconds: float = 0.0,
        cls: str = "GenericError",
        desc: str = "",
        size: int = 0,
    ) -> None:
        self.id = next(_ids)
        self.kind = kind
        self.command = command
        self.remaining = count  # None: permanent
        self.seconds = seconds
        self.cls = cls
        self.desc = desc
        self.size = size
        self.hits = 0

    def matches(self, name: str | None) -> bool:
        return self.command is None or self.command == name

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "command": self.command,
            "remaining": self.remaining,
            "permanent": self.remaining is None,
            "hits": self.hits,
        }
        if self.kind == "delay":
            d["seconds"] = self.seconds
        elif self.kind == "fail":
            d["class"] = self.cls
            d["desc"] = self.desc
        elif self.kind == "oversize":
            d["bytes"] = self.size
        return d


def parse_fault(body: dict[str, Any], schema: Any) -> Fault:
    """A fault from an API body already checked against the ``FaultCreate`` schema
    (:func:`qmpserver.http.control.check_body`: types, ranges, known fields); here the rules
    a schema does not say.  FaultError names the field and what was expected."""
    kind = body["kind"]
    command = body.get("command")
    if command is not None:
        if schema is not None and command not in schema.commands:
            raise FaultError("command: '%s' is not a command of this instance's QEMU" % command)
    elif kind == "fail":
        raise FaultError("command: a 'fail' fault needs the name of the command to fail")
    for k, only in (("seconds", "delay"), ("class", "fail"), ("desc", "fail"), ("bytes", "oversize")):
        if k in body and kind != only:
            raise FaultError("%s: not a parameter of a '%s' fault" % (k, kind))
    f = Fault(kind, command, None if body.get("permanent", False) else body.get("count", 1))
    if kind == "delay":
        if "seconds" not in body:
            raise FaultError("seconds: expected a delay in seconds (0 < seconds <= %d)" % MAX_DELAY)
        f.seconds = float(body["seconds"])
    elif kind == "fail":
        f.cls, f.desc = body.get("class", "GenericError"), body.get("desc", "injected failure")
    elif kind == "oversize":
        f.size = body.get("bytes", DEFAULT_OVERSIZE)
    return f


class Faults:
    """The faults of one instance and the hooks that apply them."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.list: list[Fault] = []
        self.sessions: weakref.WeakSet[Session] = weakref.WeakSet()
        self.delay_hooked = False
        self.table_hooked = False

    @property
    def active(self) -> bool:
        return bool(self.list)

    # --- management ----------------------------------------------------------------

    def add(self, body: Any) -> Fault:
        f = parse_fault(body, self.instance.build.schema)
        self.list.append(f)
        if f.kind == "delay":
            self._hook_delay()
        elif f.kind in ("fail", "oversize"):
            self._hook_table()
        return f

    def remove(self, fid: int | None = None) -> int:
        before = len(self.list)
        self.list = [f for f in self.list if fid is not None and f.id != fid]
        return before - len(self.list)

    def describe(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self.list]

    def _take(self, kinds: tuple[str, ...], name: str | None) -> Fault | None:
        for f in self.list:
            if f.kind in kinds and f.matches(name):
                f.hits += 1
                if f.remaining is not None:
                    f.remaining -= 1
                    if f.remaining <= 0:
                        self.list.remove(f)
                return f
        return None

    def _has(self, kinds: tuple[str, ...], name: str) -> bool:
        for f in self.list:
            if f.kind in kinds and f.matches(name):
                return True
        return False

    # --- sessions --------------------------------------------------------------------

    def attach(self, session: Session) -> None:
        """A new connection of the instance."""
        self.sessions.add(session)
        if self.delay_hooked:
            session.gate_inband(self.gate)

    def _hook_delay(self) -> None:
        # sessions get the gate only once a delay fault exists: without a gate the
        # session answers straight from the stream (its fast path)
        if not self.delay_hooked:
            self.delay_hooked = True
            for s in list(self.sessions):
                s.gate_inband(self.gate)

    def gate(self, session: Session, item: Any) -> float:
        """The in-band gate: seconds to hold ``item`` (0: run it now)."""
        if not self.list:
            return 0
        name = item.get("execute", item.get("exec-oob")) if type(item) is dict else None
        f = self._take(("delay",), name)
        return f.seconds if f is not None else 0

    def take_close(self, name: str | None) -> bool:
        return self._take(("close",), name) is not None

    # --- command table -----------------------------------------------------------------

    def _hook_table(self) -> None:
        if self.table_hooked:
            return
        self.table_hooked = True
        for mon in self.instance.monitors:
            mon.wrap_command_table(lambda table: FaultTable(table, self))


class FaultTable:
    """A command table that substitutes faulted commands; everything else is delegated."""

    def __init__(self, table: Table, faults: Faults) -> None:
        self._table = table
        self._faults = faults
        self._subs: dict[str, Entry] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def lookup(self, name: str) -> Entry | None:
        entry = self._table.lookup(name)
        if entry is None or not self._faults.list or not self._faults._has(("fail", "oversize"), name):
            return entry
        sub = self._subs.get(name)
        if sub is None:
            sub = self._subs[name] = self._substitute(name, entry)
        return sub

    def _substitute(self, name: str, entry: Entry) -> Entry:
        faults, table = self._faults, self._table

        def handler(ctx: Context, args: dict[str, Any]) -> Any:
            f = faults._take(("fail", "oversize"), name)
            if f is None:  # consumed in the meantime: behave normally
                if entry.handler is not None:
                    return entry.handler(ctx, args)
                return table.unmodelled(entry.command, args)
            if f.kind == "fail":
                raise QMPError(f.desc, f.cls)
            return oversize_value(f.size, ctx.request)

        return Entry(entry.command, handler, entry.disabled)


def oversize_value(size: int, request: Any) -> RawJSON:
    """A ``return`` value (pre-encoded) making the whole reply line exactly ``size`` bytes."""
    overhead = len('{"return": ""}\r\n')
    if type(request) is dict and "id" in request:
        overhead += len(', "id": ') + len(dumps(request["id"]))
    return RawJSON('"' + "x" * max(0, size - overhead) + '"')
