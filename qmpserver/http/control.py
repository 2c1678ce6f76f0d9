"""The control plane without HTTP: what the API, the dashboard and the pytest plugin share.

:class:`Control` attaches to a :class:`qmpserver.serve.Server` (as one of its
``hooks`` and ``on_change`` callbacks) and keeps, per instance:

* a bounded **transcript** of every QMP message (greeting, commands, replies,
  events) with its connection number and time, exportable as JSON or as a
  libvirt ``.replies`` file (:mod:`qmpserver.http.transcript`);
* the **faults** injected into it (:mod:`qmpserver.http.faults`);
* live **subscribers** (the dashboard's WebSocket);

and, for the whole server, the Prometheus **metrics**
(:mod:`qmpserver.http.metrics`).  It also owns the translation of an API body
into an :class:`~qmpserver.vm.config.InstanceConfig` (same option parsing as
the command line, so the instance refuses to start with QEMU's own message)
and event injection validated against the build's schema.

Nothing here imports aiohttp; everything runs on the server's event loop.
"""

from __future__ import annotations

import collections
import itertools
import time
from typing import TYPE_CHECKING, Any

from ..errors import QMPError, StartupError, UsageError
from .faults import FaultError, Faults
from .metrics import Metrics
from .transcript import DEFAULT_BUDGET, Budget, Transcript, encode_request, kind_of

if TYPE_CHECKING:
    import builtins

    from ..qmp.session import Session

DEFAULT_TRANSCRIPT_LIMIT = 500  # messages kept per instance
GRAVEYARD = 64  # removed instances whose records stay readable


class BodyError(UsageError):
    """A request body that does not describe what it should (HTTP 400)."""


class NotFound(UsageError):
    """No such instance / event / fault (HTTP 404)."""


class Unprocessable(UsageError):
    """Well-formed but refused (HTTP 422); ``detail`` goes into the answer."""

    def __init__(self, message, detail=None):
        super().__init__(message)
        self.detail = detail or {}


class InstanceRecord:
    """What the control plane knows about one instance."""

    __slots__ = ("instance", "transcript", "faults", "conn_ids", "subscribers", "created", "removed")

    def __init__(self, instance, limit, budget=None):
        self.instance = instance
        self.transcript = Transcript(limit, budget)
        self.faults = Faults(instance)
        self.conn_ids = itertools.count(1)
        self.subscribers: list = []  # fn(record, entry) for live views
        self.created = time.time()
        self.removed = None


class Recorder:
    """Session observer: transcript, metrics and the 'close after the next command' fault."""

    __slots__ = ("record", "conn", "session", "metrics", "started", "name", "close_after")

    def __init__(self, record, conn, session, metrics):
        self.record = record
        self.conn = conn
        self.session = session
        self.metrics = metrics
        self.started = 0.0
        self.name = None
        self.close_after = False

    def __call__(self, direction: str, obj: Any, data: bytes | None) -> None:
        rec = self.record
        if direction == "in":
            self.started = time.perf_counter()
            name = None
            if type(obj) is dict:
                name = obj.get("execute", obj.get("exec-oob"))
            self.name = name if type(name) is str else None
            if rec.faults.active and rec.faults.take_close(self.name):
                self.close_after = True
            kind = "command"
            data = encode_request(obj)
        else:
            kind = kind_of(direction, obj)
            # ``data`` is the exact bytes queued (no second encoding; shared pre-encoded
            # replies stay shared)
            if kind == "reply":
                self.metrics.command(
                    rec.instance,
                    self.name,
                    obj.get("error"),
                    time.perf_counter() - self.started if self.started else None,
                )
                self.started = 0.0
                self.name = None
                if self.close_after:
                    self.close_after = False
                    self.session.close()
        entry = rec.transcript.add(self.conn, direction, kind, data)
        if rec.subscribers:
            for fn in list(rec.subscribers):
                fn(rec, entry)


def _opt_string(body, key, where=None):
    v = body.get(key)
    if v is not None and type(v) is not str:
        raise BodyError("%s: expected a string" % (where or key))
    return v


def _opt_bool(body, key):
    v = body.get(key, False)
    if type(v) is not bool:
        raise BodyError("%s: expected true or false" % key)
    return v


def _opt_value(v, where):
    """A machine/CPU property from JSON as the string QEMU's option parser would see."""
    if v is True:
        return "on"
    if v is False:
        return "off"
    if type(v) is int:
        return str(v)
    if type(v) is str:
        return v
    raise BodyError("%s: expected a string, a number or a boolean" % where)


INSTANCE_FIELDS = (
    "profile",
    "name",
    "uuid",
    "machine",
    "accel",
    "cpu",
    "smp",
    "memory",
    "paused",
    "no_shutdown",
    "preconfig",
    "incoming",
    "qmp",
    "transcript",
)


def config_from_body(body):
    """An API body -> (profile spec, InstanceConfig, [QMP address strings], transcript limit).

    String forms are parsed exactly like the command line (``-machine``,
    ``-accel`` fallback lists, ``-cpu``); object forms are turned into the
    same option strings first, so the instance sees what QEMU would.
    """
    from ..qapi.opts import parse_cpu, parse_opts
    from ..vm.config import InstanceConfig

    if body is None:
        body = {}
    if type(body) is not dict:
        raise BodyError("the body must be a JSON object")
    for k, v in body.items():
        if k not in INSTANCE_FIELDS:
            raise BodyError("unknown field '%s' (expected one of: %s)" % (k, ", ".join(INSTANCE_FIELDS)))
        if v is None:
            raise BodyError("%s: null is not a value; leave the field out for the default" % k)
    cfg = InstanceConfig()
    profile = _opt_string(body, "profile")
    if profile == "":
        raise BodyError("profile: expected a profile name (leave the field out for the default)")
    cfg.name = _opt_string(body, "name")
    cfg.uuid = _opt_string(body, "uuid")
    m = body.get("machine")
    if type(m) is str:
        cfg.machine.update(parse_opts(m, "type"))
    elif type(m) is dict:
        for k, v in m.items():
            cfg.machine[k] = _opt_value(v, "machine.%s" % k)
    elif m is not None:
        raise BodyError("machine: expected an option string ('virt,gic-version=3') or an object")
    a = body.get("accel")
    if type(a) is str:
        cfg.accel = [x for x in a.split(":") if x]
    elif type(a) is list and all(type(x) is str for x in a):
        cfg.accel = list(a)
    elif a is not None:
        raise BodyError("accel: expected 'kvm', 'tcg', a fallback list 'kvm:tcg' or an array of names")
    c = body.get("cpu")
    if type(c) is str:
        cfg.cpu, cfg.cpu_props = parse_cpu(c)
    elif type(c) is dict:
        for k in c:
            if k not in ("model", "props"):
                raise BodyError("cpu: unknown field '%s' (expected model, props)" % k)
        model = c.get("model")
        if type(model) is not str:
            raise BodyError("cpu.model: expected a string")
        props = c.get("props") or {}
        if type(props) is not dict:
            raise BodyError("cpu.props: expected an object")
        cfg.cpu = model
        cfg.cpu_props = {k: _opt_value(v, "cpu.props.%s" % k) for k, v in props.items()}
    elif c is not None:
        raise BodyError("cpu: expected 'MODEL[,PROP=VALUE...]' or {model, props}")
    smp = body.get("smp")
    if type(smp) is int:
        cfg.smp = {"cpus": str(smp)}
    elif type(smp) is str:
        cfg.smp = parse_opts(smp, "cpus")
    elif smp is not None:
        raise BodyError("smp: expected a number of CPUs or an option string")
    mem = body.get("memory")
    if mem is not None:
        if type(mem) is not int or mem <= 0:
            raise BodyError("memory: expected a size in bytes")
        cfg.memory = mem
    cfg.start_paused = _opt_bool(body, "paused")
    cfg.no_shutdown = _opt_bool(body, "no_shutdown")
    cfg.preconfig = _opt_bool(body, "preconfig")
    cfg.incoming = _opt_string(body, "incoming")
    qmp = body.get("qmp") or []
    if type(qmp) is str:
        qmp = [qmp]
    if type(qmp) is not list or not all(type(x) is str for x in qmp):
        raise BodyError("qmp: expected an array of addresses (unix:PATH, tcp:HOST:PORT)")
    for a in qmp:
        if not a.startswith(("unix:", "tcp:")):
            raise BodyError(
                "qmp: '%s': only unix:PATH and tcp:HOST:PORT listeners can be created through the API" % a
            )
    limit = body.get("transcript", DEFAULT_TRANSCRIPT_LIMIT)
    if type(limit) is not int or limit < 0:
        raise BodyError("transcript: expected the number of messages to keep (0 = none)")
    return profile, cfg, qmp, limit


def emulator_name(profile) -> str:
    return "qemu-system-%s" % profile.build.target


def startup_detail(e: StartupError, profile=None) -> dict:
    prog = emulator_name(profile) if profile is not None else "qemu-system-aarch64"
    lines = ["%s: warning: %s" % (prog, w) for w in e.warnings]
    lines.append("%s: %s" % (prog, e.message))
    return {
        "class": "StartupError",
        "message": e.message,
        "warnings": list(e.warnings),
        "stderr": "\n".join(lines) + "\n",
    }


def address_info(addr: str) -> dict:
    out: dict[str, Any] = {"address": addr}
    if addr.startswith("unix:"):
        out["path"] = addr[5:]
    elif addr.startswith("tcp:"):
        host, _, port = addr[4:].rpartition(":")
        out["host"] = host.strip("[]")
        out["port"] = int(port)
    return out


class Control:
    def __init__(
        self, server, transcript_limit=DEFAULT_TRANSCRIPT_LIMIT, store=None, transcript_budget=DEFAULT_BUDGET
    ):
        self.server = server
        self.transcript_limit = transcript_limit
        self.budget = Budget(transcript_budget)
        self.records: dict = {}  # id -> InstanceRecord
        self.graveyard: collections.OrderedDict = collections.OrderedDict()
        self.metrics = Metrics(self)
        self.watchers: list = []  # fn(kind, record) created/removed
        self.started = time.time()
        self._profiles: dict = {}
        self._store = store
        self._next_limit = None
        server.hooks.append(self)
        server.on_change.append(self._changed)
        for iid, (inst, _eps) in list(server.instances.items()):
            self._adopt(inst)

    # --- server callbacks ---------------------------------------------------------

    def _adopt(self, inst, limit=None):
        rec = InstanceRecord(inst, self.transcript_limit if limit is None else limit, self.budget)
        self.records[inst.id] = rec
        self.metrics.created += 1
        inst.listeners.append(self.metrics.event)
        return rec

    def _changed(self, kind, inst):
        if kind == "created":
            limit, self._next_limit = self._next_limit, None
            rec = self.records.get(inst.id) or self._adopt(inst, limit)
        else:
            rec = self.records.pop(inst.id, None)
            if rec is None:
                return
            rec.removed = time.time()
            self.graveyard[inst.id] = rec
            while len(self.graveyard) > GRAVEYARD:
                self.graveyard.popitem(last=False)[1].transcript.release()
        for fn in list(self.watchers):
            fn(kind, rec)

    def on_session(self, session: Session) -> None:
        """Server hook: a new QMP connection."""
        rec = self.records.get(session.monitor.instance.id)  # type: ignore[attr-defined]  # the server's monitors are vm.instance.Monitor
        if rec is None:
            return
        session.observe(Recorder(rec, next(rec.conn_ids), session, self.metrics))
        rec.faults.attach(session)

    # --- profiles -------------------------------------------------------------------

    @property
    def store(self):
        if self._store is None:
            from ..profiles.store import Store

            self._store = Store.for_server(self.server)
        return self._store

    def profile(self, spec):
        """The compiled profile of a name: shared with the server (one copy in memory), except
        for profiles of the user store, which can change under a running server."""
        key = spec or ""
        p = self._profiles.get(key)
        if p is not None:
            return p
        if spec and self._in_store(spec):
            from ..profiles.loader import load_profile

            p = self._profiles[key] = load_profile(spec, self.server.profile_dirs)
            return p
        return self.server.profile(spec)

    def _in_store(self, spec) -> bool:
        import os

        from ..profiles.store import NAME_RE

        if not NAME_RE.match(spec) or ".." in spec:
            return False
        return os.path.isfile(self.store.path("profile", spec))

    def forget_profiles(self):
        """A stored profile changed: resolve names again on next use."""
        self._profiles.clear()

    # --- instances --------------------------------------------------------------------

    def record(self, iid, include_removed=False) -> InstanceRecord:
        rec = self.records.get(iid)
        if rec is None and include_removed:
            rec = self.graveyard.get(iid)
        if rec is None:
            raise NotFound("no instance %s" % iid)
        return rec

    async def create(self, body):
        spec, cfg, qmp, limit = config_from_body(body)
        profile = self.profile(spec)
        self._next_limit = limit
        try:
            inst = await self.server.create_instance(spec, cfg, qmp, profile=profile)
        except StartupError as e:
            raise Unprocessable(e.message, startup_detail(e, profile)) from None
        finally:
            self._next_limit = None
        return self.records.get(inst.id) or self._adopt(inst, limit)

    def remove(self, iid, force=False):
        rec = self.record(iid)
        inst = rec.instance
        if not force and inst.terminated is None:
            inst.shutdown("host-signal", force_exit=True)  # SIGTERM: SHUTDOWN, then exit
        self.server.remove_instance(iid)
        return rec

    def describe(self, rec, abi: bool = False) -> dict:
        """The ``Instance`` of the API.  ``abi``: with ``guest-abi`` (answers about one
        instance; lists and WebSocket messages leave it out, ~12 KB each under KVM)."""
        inst = rec.instance
        prof = inst.profile
        m = inst.machine
        conns = sum(len(mon.sessions) for mon in inst.monitors)
        out = {
            "id": inst.id,
            "name": inst.name,
            "uuid": inst.uuid,
            "profile": prof.name,
            "qemu": ".".join(map(str, inst.build.version)),
            "target": inst.build.target,
            "host": inst.host.name,
            "accel": m.accel,
            "machine": {"type": m.type, "alias": m.alias, "props": dict(m.props)},
            "cpu": {"model": m.cpu_model, "props": dict(m.cpu_props)},
            "runstate": inst.runstate,
            "qmp": [address_info(mon.address) for mon in inst.monitors if mon.address],
            "connections": conns,
            "warnings": list(inst.config.warnings),
            "created": rec.created,
            "state": "exited" if rec.removed else "running",
        }
        if inst.terminated is not None:
            out["exit"] = inst.terminated
        if abi:
            out["guest-abi"] = None if inst.abi is None else inst.abi.to_dict()
        return out

    def list(self) -> list:
        return [self.describe(r) for r in self.records.values()]

    # --- events ---------------------------------------------------------------------------

    def inject_event(self, iid, body) -> dict:
        rec = self.record(iid)
        if type(body) is not dict:
            raise BodyError('the body must be a JSON object {"event": NAME, "data": {...}}')
        for k in body:
            if k not in ("event", "data"):
                raise BodyError("unknown field '%s' (expected event, data)" % k)
        name = body.get("event")
        if type(name) is not str:
            raise BodyError("event: expected the event name")
        inst = rec.instance
        ev = inst.build.schema.events.get(name)
        if ev is None:
            raise Unprocessable(
                "event %s is not in the schema of QEMU %s (%s)"
                % (name, ".".join(map(str, inst.build.version)), inst.build.name)
            )
        data = body.get("data")
        t = ev.arg_type
        has_members = t is not None and (getattr(t, "members", None) or getattr(t, "tag", None))
        if data is None and has_members:
            data = {}
        if data is not None:
            if not has_members:
                if data != {}:
                    raise Unprocessable("event %s carries no data" % name)
                data = None
            else:
                from ..qapi.visitor import validate_value

                try:
                    validate_value(t, data)
                except QMPError as e:
                    raise Unprocessable(e.desc, {"class": e.cls, "desc": e.desc}) from None
        return inst.emit(name, data)

    # --- faults -------------------------------------------------------------------------------

    def add_fault(self, iid, body) -> dict:
        rec = self.record(iid)
        try:
            return rec.faults.add(body).describe()
        except FaultError as e:
            raise BodyError(str(e)) from None

    def faults(self, iid) -> builtins.list:  # builtins: the method list() shadows the type here
        return self.record(iid).faults.describe()

    def remove_fault(self, iid, fid=None) -> int:
        rec = self.record(iid)
        n = rec.faults.remove(fid)
        if fid is not None and not n:
            raise NotFound("no fault %s on instance %s" % (fid, iid))
        return n

    # --- status -------------------------------------------------------------------------------

    def health(self) -> dict:
        return {
            "status": "ok",
            "instances": len(self.records),
            "uptime": round(time.time() - self.started, 3),
        }
