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


def _opt_value(v):
    """A machine/CPU property from JSON (schema-checked: string, integer or boolean) as the
    string QEMU's option parser would see."""
    if v is True:
        return "on"
    if v is False:
        return "off"
    return str(v)


def check_body(schema_name: str, body: Any) -> dict:
    """Check a request body against its component schema (the OpenAPI document's): the API's
    rules live in :mod:`qmpserver.http.openapi`, not here.  Python callers (the pytest plugin)
    get the same checks as HTTP requests."""
    from .openapi import SCHEMAS
    from .validate import check

    if body is None:
        body = {}
    if type(body) is not dict:
        raise BodyError("the body must be a JSON object")
    check(SCHEMAS[schema_name], body, SCHEMAS)
    return body


def config_from_body(body):
    """An API body -> (profile spec, InstanceConfig, [QMP address strings], transcript limit).

    The body is checked against ``InstanceCreate`` first (:func:`check_body`); then string
    forms are parsed exactly like the command line (``-machine``, ``-accel`` fallback lists,
    ``-cpu``); object forms are turned into the same option strings first, so the instance
    sees what QEMU would.
    """
    from ..qapi.opts import parse_cpu, parse_opts
    from ..vm.config import InstanceConfig, parse_uuid

    body = check_body("InstanceCreate", body)
    cfg = InstanceConfig()
    profile = body.get("profile")
    cfg.name = body.get("name")
    if body.get("uuid") is not None:
        try:
            cfg.uuid = parse_uuid(body["uuid"])
        except ValueError as e:
            raise BodyError("uuid: %s" % e) from None
    m = body.get("machine")
    if type(m) is str:
        cfg.machine.update(parse_opts(m, "type"))
    elif m is not None:
        for k, v in m.items():
            cfg.machine[k] = _opt_value(v)
    a = body.get("accel")
    if type(a) is str:
        cfg.accel = [x for x in a.split(":") if x]
    elif a is not None:
        cfg.accel = list(a)
    c = body.get("cpu")
    if type(c) is str:
        cfg.cpu, cfg.cpu_props = parse_cpu(c)
    elif c is not None:
        cfg.cpu = c["model"]
        cfg.cpu_props = {k: _opt_value(v) for k, v in (c.get("props") or {}).items()}
    smp = body.get("smp")
    if type(smp) is int:
        cfg.smp = {"cpus": str(smp)}
    elif smp is not None:
        cfg.smp = parse_opts(smp, "cpus")
    if "memory" in body:
        cfg.memory = body["memory"]
    cfg.start_paused = body.get("paused", False)
    cfg.no_shutdown = body.get("no_shutdown", False)
    cfg.preconfig = body.get("preconfig", False)
    cfg.incoming = body.get("incoming")
    cfg.strict = body.get("strict", False)
    qmp = list(body.get("qmp") or [])
    for addr in qmp:
        if "\0" in addr:
            raise BodyError(
                "qmp: '%s': an address cannot contain a NUL character" % addr.replace("\0", "\\0")
            )
    limit = body.get("transcript", DEFAULT_TRANSCRIPT_LIMIT)
    return profile, cfg, qmp, limit


# the HTTP API's limits (serve --http-max-*; docs/security.md); here, not in app.py,
# so that the command line can show them without importing aiohttp
DEFAULT_MAX_INSTANCES = 64  # instances running at a time (POST /api/v1/instances: 429 beyond)
DEFAULT_MAX_CONNECTIONS = 256  # open HTTP connections, WebSockets included (503 beyond)
DEFAULT_MAX_WEBSOCKETS = 32  # open WebSockets (503 beyond)
DEFAULT_WS_AUTH_TIMEOUT = 10.0  # seconds an unauthenticated WebSocket may stay silent


class Busy(UsageError):
    """A limit of the server is reached (HTTP 429)."""


class Forbidden(UsageError):
    """Not allowed by the server's configuration (HTTP 403)."""


class Policy:
    """What a request of the HTTP API may reach, as the operator configured it at start-up.

    * **profiles**: names from the store and the built-ins only; a name is looked up,
      never taken as a path, and a symbolic link in the store is refused (the store does
      not follow links).  ``allow_profile_paths`` (``--http-allow-profile-paths``) lets
      API clients name profile files of the server's machine.
    * **unix sockets**: created only in ``socket_dir`` (``--http-socket-dir``; default the
      server's own socket directory, :func:`qmpserver.serve.default_socket_dir`), and only
      where nothing exists yet: the API never replaces a file, so removing an instance
      removes only what the server created.  A relative path is taken in ``socket_dir``.
    * **instances**: at most ``max_instances`` at a time (``--http-max-instances``).

    Python callers of :class:`Control` (the pytest plugin) are the operator and have no policy.
    """

    def __init__(self, allow_profile_paths=False, socket_dir=None, max_instances=DEFAULT_MAX_INSTANCES):
        self.allow_profile_paths = allow_profile_paths
        self._socket_dir = socket_dir
        self.max_instances = max_instances

    def socket_dir(self) -> str:
        if self._socket_dir is None:
            from ..serve import default_socket_dir

            self._socket_dir = default_socket_dir()
        return self._socket_dir

    def addresses(self, qmp) -> list:
        import os

        out = []
        for a in qmp:
            if not a.startswith("unix:"):
                out.append(a)
                continue
            base = os.path.realpath(self.socket_dir())
            path = os.path.normpath(os.path.join(base, a[5:]))
            if os.path.realpath(os.path.dirname(path)) != base:
                raise Forbidden(
                    "qmp: '%s': unix sockets created through the API live in %s "
                    "(the server's --http-socket-dir)" % (a, base)
                )
            if os.path.lexists(path):
                raise BodyError(
                    "qmp: '%s': %s exists; the API creates new sockets only and never replaces a file"
                    % (a, path)
                )
            out.append("unix:" + path)
        return out


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
        inst.default_listeners.append(self.metrics.defaulted)
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

        if not NAME_RE.fullmatch(spec) or ".." in spec:
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

    def profile_path(self, name) -> str:
        """The file a profile *name* resolves to (store first, then built-ins), never through a
        symbolic link: the store refuses links for writing, and reading one would compile a
        file outside the store (NotFound, Forbidden)."""
        import os

        from ..profiles.store import check_name

        check_name(name)
        if name.endswith((".yaml", ".yml")):  # the loader would take it as a file path
            raise NotFound("no profile '%s' (a name, without .yaml)" % name)
        path = self.store.find("profile", name)
        if path is None:
            raise NotFound("no profile '%s'" % name)
        # the file itself, not a directory above it: an image links its models directory into
        # the installed package (docker/Dockerfile), which is the operator's layout, not a link
        # a client could have placed
        if os.path.islink(path) or os.path.dirname(os.path.realpath(path)) != os.path.realpath(
            os.path.dirname(path)
        ):
            raise Forbidden("profile '%s' is a symbolic link (%s); links are never followed" % (name, path))
        return path

    def check_profile(self, spec, policy) -> None:
        """D5: under a policy, the profile of a request is a name, not a file of the server."""
        if spec is None or policy.allow_profile_paths:
            return
        from ..profiles.store import NAME_RE

        if not NAME_RE.fullmatch(spec) or ".." in spec:
            raise BodyError(
                "profile: %r is not a profile name; the HTTP API starts profiles of the store and "
                "built-ins (the server's --http-allow-profile-paths lets it read files)" % spec
            )
        self.profile_path(spec)

    def prepare(self, body, policy=None):
        """Check a create request (what can block on files runs here: call it off the loop)
        and compile its profile; returns what :meth:`create` needs."""
        spec, cfg, qmp, limit = config_from_body(body)
        if policy is not None:
            self.check_profile(spec, policy)
            qmp = policy.addresses(qmp)
        return spec, cfg, qmp, limit, self.profile(spec)

    async def create(self, body, policy=None, prepared=None):
        spec, cfg, qmp, limit, profile = prepared or self.prepare(body, policy)
        if policy is not None and len(self.server.instances) >= policy.max_instances:
            raise Busy(
                "%d instances are running, the limit of this server (--http-max-instances)"
                % len(self.server.instances)
            )
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
            "strict": inst.config.strict,
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
        """Emit an event (checked against ``EventInjection``, its data against the build's QAPI
        schema).  The answer adds ``delivered``: how many clients received it (connected and
        past ``qmp_capabilities``, as QEMU sends events to no one else).  An event nobody
        received is recorded in the transcript under connection 0, so it is seen somewhere."""
        from ..wire.encode import message

        rec = self.record(iid)
        body = check_body("EventInjection", body)
        name = body["event"]
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
                except RecursionError:
                    raise BodyError("data: nested too deeply") from None
        delivered = sum(1 for m in inst.monitors for sess in m.sessions if sess.negotiated and sess.connected)
        out = inst.emit(name, data)
        if not delivered:
            entry = rec.transcript.add(0, "out", "event", message(out))
            for fn in list(rec.subscribers):
                fn(rec, entry)
        return dict(out, delivered=delivered)

    # --- faults -------------------------------------------------------------------------------

    def add_fault(self, iid, body) -> dict:
        rec = self.record(iid)
        check_body("FaultCreate", body)
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

    # --- stubs (canned answers; they share the fault layer's command-table hook) ---------------

    def add_stub(self, iid, body, match=None) -> dict:
        """``match``: a predicate on the call's arguments instead of ``args`` (in-process only)."""
        rec = self.record(iid)
        check_body("StubCreate", body)
        try:
            return rec.faults.add_stub(body, match).describe()
        except FaultError as e:
            raise BodyError(str(e)) from None

    def stubs(self, iid) -> builtins.list:
        return self.record(iid).faults.describe_stubs()

    def remove_stub(self, iid, sid=None) -> int:
        rec = self.record(iid)
        n = rec.faults.remove_stub(sid)
        if sid is not None and not n:
            raise NotFound("no stub %s on instance %s" % (sid, iid))
        return n

    # --- status -------------------------------------------------------------------------------

    def health(self) -> dict:
        return {
            "status": "ok",
            "instances": len(self.records),
            "uptime": round(time.time() - self.started, 3),
        }
