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

**Stubs** (:class:`Stub`) are canned answers of one command, the way
pytest-httpserver's ``expect_request(...).respond_with_json(...)`` works: a reply
(``return``) or an error (``error``: class and desc), for calls whose arguments equal
``args`` (or satisfy a predicate, in-process only), ``times`` times or until removed.
They ride the same :class:`FaultTable` substitute entry as ``fail``/``oversize``: a
faulted call is answered by its fault first, then by the first matching stub, and an
unmatched call by the model as usual.  Arguments are validated before either (the
dispatcher does it).  A stub is held to the build when it is added, not when it
answers: the command must be in the build's schema, ``args`` must be valid arguments
of it (the QAPI visitor's rules), and ``return`` must be exactly what the build's
output visitor could write (:mod:`qmpserver.qapi.conform`: a member the build's type
lacks, an unknown enum value, a missing required member or a wrong JSON type is
refused, naming the member path; only the member order may differ, and the build's
order is sent).  Each stubbed answer is logged (``qmpserver.stub``) at warning level,
the level of the server's other answers that are not the model's (type defaults): shown
by default, never silent.

The layer takes part in the driver contract of :mod:`qmpserver.qmp.session`
as an endpoint hook: the control plane hands it each new session
(:meth:`Faults.attach`), and it acts only through the session's and the
monitor's methods.
"""

from __future__ import annotations

import itertools
import weakref
from typing import TYPE_CHECKING, Any, Callable

from .. import log as _log
from ..errors import ERROR_CLASSES, GENERIC_ERROR, QMPError
from ..qapi.conform import conformer
from ..qapi.visitor import validate_arguments
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
_stub_ids = itertools.count(1)
stub_log = _log.get("qmpserver.stub")


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


class Stub:
    """A canned answer of one command (see the module docstring)."""

    __slots__ = ("id", "command", "args", "match", "remaining", "times", "value", "cls", "desc", "hits")

    def __init__(
        self,
        command: str,
        args: dict[str, Any] | None = None,
        match: Callable[[dict[str, Any]], bool] | None = None,
        times: int | None = None,
        value: Any = None,
        cls: str | None = None,
        desc: str = "",
    ) -> None:
        self.id = next(_stub_ids)
        self.command = command
        self.args = args
        self.match = match
        self.times = times
        self.remaining = times  # None: until removed
        self.value = value
        self.cls = cls  # None: a reply (value); else an error
        self.desc = desc
        self.hits = 0

    def matches(self, name: str, args: dict[str, Any]) -> bool:
        if name != self.command:
            return False
        if self.match is not None:
            return bool(self.match(args))
        return self.args is None or self.args == args

    @property
    def satisfied(self) -> bool:
        """Used as often as asked: ``times`` calls, or (until removed) at least one."""
        return self.hits >= (self.times or 1)

    def answer(self) -> Any:
        if self.cls is not None:
            raise QMPError(self.desc, self.cls)
        return self.value

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "command": self.command,
            "args": self.args,
            "predicate": self.match is not None,
            "times": self.times,
            "remaining": self.remaining,
            "hits": self.hits,
            "satisfied": self.satisfied,
        }
        if self.cls is not None:
            d["error"] = {"class": self.cls, "desc": self.desc}
        else:
            d["return"] = self.value
        return d


def parse_stub(body: dict[str, Any], schema: Any, match: Any = None) -> Stub:
    """A stub from an API body already checked against ``StubCreate``; here what the build's
    schema says (module docstring).  FaultError names the field and what was expected."""
    name = body["command"]
    cmd = schema.commands.get(name) if schema is not None else None
    if cmd is None:
        raise FaultError("command: '%s' is not a command of this instance's QEMU" % name)
    if not cmd.success_response:
        raise FaultError("command: '%s' sends no reply to stub" % name)
    if ("return" in body) == ("error" in body):
        raise FaultError("return, error: expected exactly one of them (a reply, or an error)")
    args = body.get("args")
    if args is not None:
        if match is not None:
            raise FaultError("args: expected either args or a predicate, not both")
        try:
            validate_arguments(cmd, dict(args))
        except QMPError as e:
            raise FaultError("args: not valid arguments of %s: %s" % (name, e.desc)) from None
    stub = Stub(name, args, match, body.get("times"))
    if "error" in body:
        stub.cls = body["error"].get("class", GENERIC_ERROR)
        stub.desc = body["error"]["desc"]
        if stub.cls not in ERROR_CLASSES:
            raise FaultError("error.class: expected one of %s" % ", ".join(ERROR_CLASSES))
        return stub
    stub.value, why = conformer(schema).strict(name, body["return"])
    if why is not None:
        raise FaultError(why)
    return stub


class Faults:
    """The faults of one instance and the hooks that apply them."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.list: list[Fault] = []
        self.stubs: list[Stub] = []
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

    def add_stub(self, body: Any, match: Any = None) -> Stub:
        st = parse_stub(body, self.instance.build.schema, match)
        self.stubs.append(st)
        self._hook_table()
        return st

    def remove_stub(self, sid: int | None = None) -> int:
        before = len(self.stubs)
        self.stubs = [s for s in self.stubs if sid is not None and s.id != sid]
        return before - len(self.stubs)

    def describe_stubs(self) -> list[dict[str, Any]]:
        return [s.describe() for s in self.stubs]

    def take_stub(self, name: str, args: dict[str, Any]) -> Stub | None:
        """The first stub answering this call (counted, and dropped when used up)."""
        for st in self.stubs:
            if st.matches(name, args):
                st.hits += 1
                if st.remaining is not None:
                    st.remaining -= 1
                    if st.remaining <= 0:
                        self.stubs.remove(st)
                stub_log.warning(
                    "instance %s: %s answered by stub #%d (%s, %s)",
                    getattr(self.instance, "id", "?"),
                    name,
                    st.id,
                    "error %s" % st.cls if st.cls is not None else "reply",
                    "%d left" % st.remaining if st.remaining is not None else "until removed",
                )
                return st
        return None

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
        faults = self._faults
        if entry is None or not (
            (faults.list and faults._has(("fail", "oversize"), name))
            or any(st.command == name for st in faults.stubs)
        ):
            return entry
        sub = self._subs.get(name)
        if sub is None:
            sub = self._subs[name] = self._substitute(name, entry)
        return sub

    def _substitute(self, name: str, entry: Entry) -> Entry:
        faults, table = self._faults, self._table

        def handler(ctx: Context, args: dict[str, Any]) -> Any:
            f = faults._take(("fail", "oversize"), name)
            if f is None:
                st = faults.take_stub(name, args)
                if st is not None:
                    return st.answer()
                # not for us (other arguments, or consumed in the meantime): behave normally
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
