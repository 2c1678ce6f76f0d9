"""``qmp_dispatch``: from a parsed request to a reply object.

The checks run in QEMU's order (QEMU ``qapi/qmp-dispatch.c``: ``qmp_dispatch``):

1. not an object -> ``QMP input must be a JSON object`` (no id);
2. ``id`` is taken and echoed verbatim from here on;
3. members, in QDict order: ``execute``/``exec-oob`` must be strings and
   must not clash, ``arguments`` must be an object, nothing else allowed;
   no command key -> ``QMP input lacks member 'execute'``;
4. command lookup (CommandNotFound), compat policy, disabled, OOB support,
   preconfig;
5. arguments through the schema engine, then the handler.

The negotiation-mode rewrite of CommandNotFound is the session's job.
"""

from __future__ import annotations

from .. import log as _log
from ..errors import COMMAND_NOT_FOUND, QMPError
from ..qapi.conform import conformer
from ..qapi.defaults import NOT_MODELLED, STRICT_MISSING, default_value, has_effects
from ..qapi.visitor import DEFAULT_POLICY, validate_arguments
from ..wire.qdict import wire_order
from .memo import ReplyMemo

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: the launcher's start-up path avoids it
    from typing import Any, Callable, Collection, Protocol, Sequence, Union

    from ..qapi.model import Command, Schema
    from ..qapi.visitor import Policy
    from .session import Session

    #: a handler: (context, validated arguments) -> the "return" value (None means {})
    Handler = Callable[["Context", dict[str, Any]], Any]
    #: recorded replies of the build: (command name, arguments) -> reply dict or None
    Recorded = Callable[[str, dict[str, Any]], Union[dict[str, Any], None]]
    #: when a handler's command answers from the build's recording first: always (None)
    #: or when ``fn(context, arguments)`` says the recorded question is this one
    Replay = Union[Callable[["Context", dict[str, Any]], bool], None]

    class Instance(Protocol):
        """What dispatch needs of the instance a table serves (``qmpserver.vm.instance.Instance``;
        named here, not imported: qmp/ sits below vm/)."""

        preconfig: bool

    class Table(Protocol):
        """What dispatch needs of a command table (:class:`CommandTable`,
        :class:`NegotiationTable`, the fault layer's wrapper)."""

        @property
        def instance(self) -> Instance | None: ...
        @property
        def policy(self) -> Policy | None: ...
        def lookup(self, name: str) -> Entry | None: ...
        def names(self) -> list[str]: ...
        def unmodelled(self, cmd: Command, args: dict[str, Any]) -> Any: ...


default_log = _log.get("qmpserver.default")

_NO_ID = object()


class Context:
    """What a handler sees: the instance, the session, and a way to defer work."""

    __slots__ = ("instance", "session", "request", "after", "oob")

    def __init__(
        self, instance: Any, session: Session | None, request: dict[str, Any], oob: bool = False
    ) -> None:
        self.instance = instance
        self.session = session
        self.request = request
        self.after: list[Callable[[], None]] = []
        self.oob = oob

    def defer(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after the reply is queued (QEMU's main loop work)."""
        self.after.append(fn)


def _check_envelope(req: dict[str, Any], oob_enabled: bool) -> tuple[str, bool]:
    """Step 3; returns (command name, is_oob)."""
    # the usual shapes (execute [+ arguments] [+ id], right types) cannot fail
    ex = req.get("execute")
    if type(ex) is str:
        args = req.get("arguments", _NO_ID)
        if args is _NO_ID or type(args) is dict:
            if len(req) == 1 + (args is not _NO_ID) + ("id" in req):
                return ex, False
    exec_key = None
    for key in wire_order(tuple(req)):
        v = req[key]
        if key == "execute" or (key == "exec-oob" and oob_enabled):
            if type(v) is not str:
                raise QMPError("QMP input member '%s' must be a string" % key)
            if exec_key is not None:
                raise QMPError("QMP input member '%s' clashes with '%s'" % (key, exec_key))
            exec_key = key
        elif key == "arguments":
            if type(v) is not dict:
                raise QMPError("QMP input member 'arguments' must be an object")
        elif key != "id":
            raise QMPError("QMP input member '%s' is unexpected" % key)
    if exec_key is None:
        raise QMPError("QMP input lacks member 'execute'")
    cmd: str | None = req.get("execute")
    if cmd is None:
        oob_cmd: str = req["exec-oob"]
        return oob_cmd, True
    return cmd, False


def dispatch(
    table: Table, request: Any, session: Session | None, oob_enabled: bool
) -> tuple[dict[str, Any] | None, Sequence[Callable[[], None]]]:
    """Run one request against a command table; returns (reply | None, deferred)."""
    if type(request) is not dict:
        return {"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}, ()
    rid = request.get("id", _NO_ID)
    ctx: Context | None = None
    reply: dict[str, Any]
    try:
        name, oob = _check_envelope(request, oob_enabled)
        entry = table.lookup(name)
        if entry is None:
            raise QMPError("The command %s has not been found" % name, COMMAND_NOT_FOUND)
        cmd = entry.command
        if cmd.features and table.policy is not None:
            table.policy.input_ok(cmd.features, "command", name, COMMAND_NOT_FOUND)
        if entry.disabled is not None:
            raise QMPError(
                "Command %s has been disabled%s" % (name, (": " + entry.disabled) if entry.disabled else ""),
                COMMAND_NOT_FOUND,
            )
        if oob and not cmd.allow_oob:
            raise QMPError("The command %s does not support OOB" % name)
        instance = table.instance
        if instance is not None and instance.preconfig and not cmd.allow_preconfig:
            raise QMPError(
                "The command '%s' is permitted only after machine initialization has completed" % name
            )
        args = request.get("arguments")
        if args is None:
            args = {}
        validate_arguments(cmd, args, table.policy if table.policy is not None else DEFAULT_POLICY)
        ctx = Context(instance, session, request, oob)
        handler = entry.handler
        try:
            if handler is None:
                result = table.unmodelled(cmd, args)
            else:
                result = handler(ctx, args)
        except QMPError:
            raise
        except Exception as e:  # noqa: BLE001 - a bug must not take the emulated QEMU down
            _log.get("qmpserver.dispatch").exception("internal error in %s", name)
            raise QMPError("internal error in qmpserver: %s: %s" % (type(e).__name__, e)) from None
        if not cmd.success_response:
            return None, ctx.after
        reply = {"return": {} if result is None else result}
    except QMPError as e:
        reply = {"error": {"class": e.cls, "desc": e.desc}}
    if rid is not _NO_ID:
        reply["id"] = rid
    return reply, (ctx.after if ctx is not None else ())


class Entry:
    """A command of a table: its schema definition, its handler (None: unmodelled),
    when disabled, the reason (``""`` for none given), and whether it is pure (its
    reply may be replayed for the same request text, :mod:`qmpserver.qmp.memo`)."""

    __slots__ = ("command", "handler", "disabled", "pure")

    def __init__(
        self, command: Command, handler: Handler | None, disabled: str | None = None, pure: bool = False
    ) -> None:
        self.command = command
        self.handler = handler
        self.disabled = disabled
        self.pure = pure


class CommandTable:
    """The commands one monitor can run: schema commands bound to handlers."""

    def __init__(
        self,
        schema: Schema,
        handlers: dict[str, Handler],
        instance: Instance | None = None,
        policy: Policy | None = None,
        recorded: Recorded | None = None,
        pure: Collection[str] = (),
        replay: dict[str, Replay] | None = None,
        strict: bool = False,
        build: str = "",
        on_default: Callable[[str], object] | None = None,
    ) -> None:
        self.schema = schema
        self.instance = instance
        self.policy = policy
        self.recorded = recorded  # the build's recorded replies (owned by profiles)
        conform = conformer(schema)
        replay = replay or {}
        self.entries = {
            name: Entry(
                cmd,
                _answering(
                    name, handlers.get(name), conform.reply, recorded, name in replay, replay.get(name)
                ),
                pure=name in pure,
            )
            for name, cmd in schema.commands.items()
        }
        self.unmodelled_seen: set[str] = set()
        #: strict mode: a command no model and no recording answers is a GenericError
        #: (:data:`qmpserver.qapi.defaults.STRICT_MISSING`) instead of its type's default
        self.strict = strict
        self.build = build  # the build's name, for the log and the strict error
        #: type-default answers given, by command (the log says so once per command)
        self.defaulted: dict[str, int] = {}
        self.on_default = on_default  # called with the command's name at each default answer
        #: replies of pure commands by request text (the session asks it first)
        self.memo: ReplyMemo | None = ReplyMemo() if pure else None

    def lookup(self, name: str) -> Entry | None:
        return self.entries.get(name)

    def names(self) -> list[str]:
        return [n for n, e in self.entries.items() if e.disabled is None]

    def unmodelled(self, cmd: Command, args: dict[str, Any]) -> Any:
        """A command without a handler: the build's recorded reply for these arguments (the
        lookup, accelerator included, is the profile's), else a GenericError naming it when
        it has effects (``qapi.defaults.has_effects``) or the table is strict, else the
        default of its return type (counted in :attr:`defaulted`, ``on_default`` told)."""
        if self.recorded is not None:
            rec = self.recorded(cmd.name, args)
            if rec is not None:
                if "error" in rec:
                    raise QMPError(rec["error"].get("desc", ""), rec["error"].get("class", "GenericError"))
                return rec.get("return")
        name = cmd.name
        if has_effects(name):
            self._log_once(name, "answering an error (it has effects)")
            raise QMPError(NOT_MODELLED % name)
        if self.strict:
            self._log_once(name, "answering an error (strict mode)")
            raise QMPError(STRICT_MISSING % (name, _arguments_text(args), self.build or "?"))
        n = self.defaulted.get(name, 0) + 1
        self.defaulted[name] = n
        if n == 1:
            self._log_once(name, "answering the default of its return type")
        if self.on_default is not None:
            self.on_default(name)
        return default_value(cmd.ret_type)

    def _log_once(self, name: str, answer: str) -> None:
        """One warning per command and table (one table per instance): the command, the
        instance, the build, and which answer it got."""
        if name in self.unmodelled_seen:
            return
        self.unmodelled_seen.add(name)
        inst = self.instance
        default_log.warning(
            "command %s is not modelled and was not recorded for build %s: %s (instance %s)",
            name,
            self.build or "?",
            answer,
            _instance_label(inst),
        )


def _arguments_text(args: dict[str, Any]) -> str:
    """The arguments as the strict error shows them: ``no arguments`` or ``arguments {...}``."""
    if not args:
        return "no arguments"
    from ..wire.encode import dumps

    return "arguments " + dumps(args)


def _instance_label(inst: Any) -> str:
    """An instance as a log line names it: its number, and its -name when it has one."""
    if inst is None:
        return "-"
    iid, name = getattr(inst, "id", None), getattr(inst, "name", None)
    return "%s%s" % (iid if iid is not None else "?", " (%s)" % name if name else "")


def _answering(
    name: str,
    handler: Handler | None,
    conform: Callable[[str, Any], Any],
    recorded: Recorded | None,
    replays: bool,
    when: Replay,
) -> Handler | None:
    """The handler as the table runs it: the build's recorded answer to this very question
    first for a command registered with ``replay`` (the recording is the build's own
    answer; the model only fills what was not asked), else the handler's value held to
    the build's schema (:mod:`qmpserver.qapi.conform`: members the build lacks dropped,
    unknown enum values removed, a missing required member an error, never invented)."""
    if handler is None:
        return None
    fn: Handler = handler

    def answer(ctx: Context, args: dict[str, Any]) -> Any:
        if replays and recorded is not None and (when is None or when(ctx, args)):
            rec = recorded(name, args)
            if rec is not None:
                if "error" in rec:
                    raise QMPError(rec["error"].get("desc", ""), rec["error"].get("class", "GenericError"))
                return rec.get("return")
        result = fn(ctx, args)
        return conform(name, {} if result is None else result)

    return answer


class NegotiationTable:
    """Capabilities-negotiation mode: only ``qmp_capabilities`` exists.

    The full table is built on the first request, not before the greeting: QEMU sends the
    greeting as soon as the client connects (monitor/qmp.c, monitor_qmp_event CHR_EVENT_OPENED),
    and building a table (the build's schema, every handler module) is most of a launcher's
    start-up.  ``make`` returns the full table (the monitor's ``command_table``).
    """

    def __init__(self, make: Callable[[], Table]) -> None:
        self._full: Table | None = None
        self._make: Callable[[], Table] | None = make
        self._entry: Entry | None = None
        self._looked_up = False

    @property
    def full(self) -> Table:
        if self._full is None:
            assert self._make is not None
            self._full = self._make()
            self._make = None
        return self._full

    @full.setter
    def full(self, table: Table) -> None:
        self._full, self._make, self._looked_up = table, None, False

    @property
    def instance(self) -> Instance | None:
        return self.full.instance

    @property
    def policy(self) -> Policy | None:
        return self.full.policy

    @property
    def built(self) -> bool:
        """Whether the full table exists yet (``replace_table`` need not build it)."""
        return self._full is not None

    def lookup(self, name: str) -> Entry | None:
        if name != "qmp_capabilities":
            return None
        if not self._looked_up:
            self._entry, self._looked_up = self.full.lookup("qmp_capabilities"), True
        return self._entry

    def names(self) -> list[str]:
        return ["qmp_capabilities"]

    def unmodelled(self, cmd: Command, args: dict[str, Any]) -> Any:
        return self.full.unmodelled(cmd, args)
