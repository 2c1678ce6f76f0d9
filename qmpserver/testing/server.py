"""Test-side handles on a qmpserver: in-process (a thread) or external (its HTTP API).

Both kinds offer the same interface, used by the pytest plugin and usable on
their own (unittest, behave, scripts)::

    from qmpserver.testing.server import InProcessServer

    with InProcessServer() as srv:
        vm = srv.create("debian-7.2-tcg", machine="virt", paused=True)
        print(vm.qmp_address)            # a path, or (host, port): QMPClient.connect() takes either
        vm.emit_event("GUEST_PANICKED", {"action": "pause"})
        vm.fault("fail", command="query-status", desc="boom")
        vm.stub("query-status", times=1).respond({"status": "paused", "running": False})
        vm.wait_for_call("query-status", timeout=5)   # a client sent it
        vm.transcript()                  # every message, as the client saw it
        vm.remove()

:class:`InProcessServer` runs :class:`qmpserver.serve.Server` on an event loop
in a daemon thread (so sync tests, async tests on any loop and subprocess
clients all work) with the control plane attached; ``http()`` starts the HTTP
API on that loop when a test wants it.  :class:`ExternalServer` drives an
already running ``qmpserver serve --http`` (a container, another host) with
``urllib``: instances are created through ``POST /api/v1/instances`` and
removed after use.

Unix sockets live in one short private directory (``/tmp/qmXXXXXX``; the
``sun_path`` limit is 108 bytes); TCP listeners use port 0 and read the port
back, so parallel workers (pytest-xdist) never collide.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request

from ..errors import StartupError, UsageError

SUN_PATH_MAX = 107


def short_socket_dir(prefix="qm") -> str:
    """A private directory whose socket paths stay far below the 108-byte limit."""
    bases = [os.environ.get("QMPSERVER_SOCKET_DIR"), "/tmp", tempfile.gettempdir()]
    for base in bases:
        if base and os.path.isdir(base) and os.access(base, os.W_OK) and len(base) < 60:
            return tempfile.mkdtemp(prefix=prefix, dir=base)
    raise UsageError("no short writable directory for unix sockets: set QMPSERVER_SOCKET_DIR")


def _body(profile, options):
    body = dict(options)
    if profile is not None:
        body["profile"] = profile
    return body


class InstanceHandle:
    """One simulated QEMU, as a test sees it."""

    def __init__(self, server, info):
        self.server = server
        self.info = info
        self.id = info["id"]
        self.removed = False
        # a `close` or `oversize` fault was injected: the test broke its connections on purpose
        self.connection_broken = False

    # --- addressing ---------------------------------------------------------------------

    @property
    def profile(self) -> str:
        return self.info["profile"]

    @property
    def address(self) -> str:
        """The first QMP listener: ``unix:PATH`` or ``tcp:HOST:PORT`` (reachable from the test)."""
        return self.server.reachable(self.info["qmp"][0])["address"]

    @property
    def qmp_address(self):
        """What ``QMPClient.connect()`` / ``QEMUMonitorProtocol()`` take: a path or ``(host, port)``."""
        a = self.server.reachable(self.info["qmp"][0])
        if "path" in a:
            return a["path"]
        return (a["host"], a["port"])

    @property
    def addresses(self) -> list:
        return [self.server.reachable(a)["address"] for a in self.info["qmp"]]

    # --- state ------------------------------------------------------------------------------

    def refresh(self) -> dict:
        self.info = self.server.describe(self.id)
        return self.info

    @property
    def runstate(self) -> str:
        return self.refresh()["runstate"]

    @property
    def instance(self):
        """The live :class:`~qmpserver.vm.instance.Instance` (in-process servers only)."""
        return self.server.instance(self.id)

    # --- transcript -----------------------------------------------------------------------------

    def transcript(self, since=0) -> list:
        """Entries ``{seq, time, conn, dir, kind, msg}`` (greeting, commands, replies, events)."""
        return self.server.transcript(self.id, since)

    def replies(self) -> str:
        """The transcript as a libvirt ``.replies`` file."""
        return self.server.replies(self.id)

    def clear_transcript(self) -> None:
        self.server.clear_transcript(self.id)

    def calls(self, command=None) -> list:
        """Requests received (``{"execute": ..., "arguments": ...}``), optionally of one command."""
        out = []
        for e in self.transcript():
            if e["dir"] == "in" and isinstance(e["msg"], dict):
                name = e["msg"].get("execute", e["msg"].get("exec-oob"))
                if command is None or name == command:
                    out.append(e["msg"])
        return out

    def events(self, name=None) -> list:
        return [
            e["msg"]
            for e in self.transcript()
            if e["kind"] == "event" and (name is None or e["msg"].get("event") == name)
        ]

    def assert_called(self, command, times=None, with_args=None) -> list:
        calls = self.calls(command)
        if with_args is not None:
            calls = [c for c in calls if c.get("arguments", {}) == with_args]
        if times is None:
            assert calls, "%s was never called%s" % (
                command,
                "" if with_args is None else " with %r" % (with_args,),
            )
        else:
            assert len(calls) == times, "%s called %d times, expected %d" % (command, len(calls), times)
        return calls

    # --- control ------------------------------------------------------------------------------------

    def emit_event(self, name, data=None) -> dict:
        """Send an event to the instance's clients (data validated against the build's schema)."""
        body = {"event": name}
        if data is not None:
            body["data"] = data
        return self.server.inject_event(self.id, body)

    def fault(self, kind, **params) -> dict:
        """Inject a fault: ``delay`` (seconds=), ``close``, ``fail`` (command=, class_=/desc=), ``oversize`` (bytes=)."""
        body = {"kind": kind}
        for k, v in params.items():
            body["class" if k == "class_" else k] = v
        out = self.server.add_fault(self.id, body)
        if kind in ("close", "oversize"):
            self.connection_broken = True
        return out

    def clear_faults(self) -> None:
        self.server.clear_faults(self.id)

    # --- stubs ----------------------------------------------------------------------------------

    def stub(self, command, args=None, times=None) -> "StubBuilder":
        """Answer ``command`` with a canned reply: ``stub(...).respond(value)`` or
        ``.error(cls, desc)``.  ``args``: a dict the call's arguments must equal, or a
        predicate on them (in-process only); ``None``: every call.  ``times``: that many
        calls, then the stub goes; ``None``: until removed.  Unmatched calls reach the model."""
        return StubBuilder(self, command, args, times)

    def stubs(self) -> list:
        """The stubs still in place (``hits``, ``remaining``, ``satisfied`` ...)."""
        return self.server.stubs(self.id)

    def clear_stubs(self) -> int:
        return self.server.remove_stub(self.id, None)

    def assert_all_stubs_used(self) -> None:
        """Every stub still in place was used as often as asked (``times``; once for a stub
        kept until removed).  Stubs used up have gone and count as used."""
        unused = [s for s in self.stubs() if not s["satisfied"]]
        assert not unused, "stubs not used as expected: " + "; ".join(
            "#%d %s%s: %d of %s call(s)"
            % (
                s["id"],
                s["command"],
                " (predicate)" if s["predicate"] else (" %s" % json.dumps(s["args"]) if s["args"] else ""),
                s["hits"],
                s["times"] if s["times"] is not None else "at least 1",
            )
            for s in unused
        )

    # --- waiting ----------------------------------------------------------------------------------

    def _wait(self, what, pick, timeout, interval=0.02):
        deadline = time.monotonic() + timeout
        since = 0
        while True:
            for e in self.transcript(since):
                since = max(since, e["seq"])
                if pick(e):
                    return e["msg"]
            if time.monotonic() >= deadline:
                raise AssertionError("%s within %gs" % (what, timeout))
            time.sleep(interval)

    def wait_for_call(self, command, args=None, timeout=5.0) -> dict:
        """The first request of ``command`` a client sent (already, or within ``timeout``
        seconds), with arguments equal to ``args`` (a dict) or satisfying it (a predicate)
        when given; raises AssertionError on timeout."""

        def pick(e):
            m = e["msg"]
            if e["dir"] != "in" or type(m) is not dict or m.get("execute", m.get("exec-oob")) != command:
                return False
            got = m.get("arguments", {})
            return args is None or (args(got) if callable(args) else got == args)

        return self._wait(
            "no call of %s%s" % (command, "" if args is None else " with %r" % (args,)), pick, timeout
        )

    def wait_for_event(self, name, timeout=5.0) -> dict:
        """The first event ``name`` the server emitted (already, or within ``timeout``
        seconds); raises AssertionError on timeout."""

        def pick(e):
            return e["kind"] == "event" and type(e["msg"]) is dict and e["msg"].get("event") == name

        return self._wait("no event %s" % name, pick, timeout)

    def broken_on_purpose(self) -> bool:
        """Whether the test itself broke this instance's connections: a ``close`` or ``oversize``
        fault, ``remove()``, or an instance that has exited (``quit``).  Fixtures then accept a
        client that fails to disconnect cleanly."""
        if self.connection_broken or self.removed:
            return True
        try:
            return self.refresh().get("state") == "exited"
        except Exception:
            return True  # gone from the server altogether

    def remove(self, force=False) -> None:
        if not self.removed:
            self.removed = True
            self.server.remove(self.id, force)

    def __repr__(self):
        return "<InstanceHandle #%s %s %s>" % (
            self.id,
            self.info.get("profile"),
            self.info["qmp"][0]["address"],
        )


class StubBuilder:
    """``handle.stub(command, args=, times=)`` before its answer is given."""

    def __init__(self, handle, command, args, times):
        self.handle, self.command, self.args, self.times = handle, command, args, times

    def _add(self, answer) -> "StubHandle":
        body = {"command": self.command, **answer}
        match = None
        if callable(self.args):
            match = self.args
        elif self.args is not None:
            body["args"] = self.args
        if self.times is not None:
            body["times"] = self.times
        return StubHandle(self.handle, self.handle.server.add_stub(self.handle.id, body, match))

    def respond(self, value) -> "StubHandle":
        """Reply ``{"return": value}`` (held to the build's schema when added)."""
        return self._add({"return": value})

    def error(self, cls="GenericError", desc="stubbed error") -> "StubHandle":
        """Reply ``{"error": {"class": cls, "desc": desc}}``."""
        return self._add({"error": {"class": cls, "desc": desc}})


class StubHandle:
    """A stub in place: ``id``, ``info`` (as added), ``hits``, ``remove()``."""

    def __init__(self, handle, info):
        self.handle = handle
        self.info = info
        self.id = info["id"]

    def _now(self):
        for s in self.handle.stubs():
            if s["id"] == self.id:
                return s
        return None

    @property
    def hits(self) -> int:
        """Calls answered so far (a stub used up has answered ``times`` calls)."""
        s = self._now()
        return s["hits"] if s is not None else (self.info["times"] or 0)

    def remove(self) -> bool:
        """Take it away; False when it had gone already (used up, or cleared)."""
        return bool(self.handle.server.remove_stub(self.handle.id, self.id, missing_ok=True))

    def __repr__(self):
        return "<StubHandle #%d %s>" % (self.id, self.info["command"])


class InProcessServer:
    """A :class:`qmpserver.serve.Server` with its control plane, on a loop in a daemon thread."""

    def __init__(self, profile_dirs=(), multi_client=False, transcript_limit=None):
        self.profile_dirs = list(profile_dirs)
        self.multi_client = multi_client
        self.transcript_limit = transcript_limit
        self.loop = None
        self.thread = None
        self.server = None
        self.control = None
        self.socket_dir = None
        self._http = None
        self._n = itertools.count(1)

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> "InProcessServer":
        from ..http.control import DEFAULT_TRANSCRIPT_LIMIT, Control
        from ..serve import Server

        self.socket_dir = short_socket_dir()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="qmpserver", daemon=True)
        self.thread.start()

        async def setup():
            self.server = Server(self.loop, profile_dirs=self.profile_dirs, multi_client=self.multi_client)
            self.control = Control(
                self.server, transcript_limit=self.transcript_limit or DEFAULT_TRANSCRIPT_LIMIT
            )

        self.call(setup())
        return self

    def close(self) -> None:
        if self.loop is None:
            return

        async def teardown():
            if self._http is not None:
                await self._http.close()
            self.server.close()
            await asyncio.sleep(0)

        try:
            self.call(teardown(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
            self.loop = None
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def call(self, coro_or_fn, timeout=30):
        """Run a coroutine or a function on the server's loop and return its result."""
        if asyncio.iscoroutine(coro_or_fn):
            return asyncio.run_coroutine_threadsafe(coro_or_fn, self.loop).result(timeout)

        async def run():
            return coro_or_fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def http(self, address="127.0.0.1:0", token=None):
        """Start the HTTP API on this server (once); returns the handle with ``.url``."""
        if self._http is None:
            from ..http.app import Limits, start_http
            from ..http.control import Policy

            # HTTP clients of a test server may create sockets in its socket directory
            limits = Limits(Policy(socket_dir=self.socket_dir))
            self._http = self.call(
                start_http(self.server, address, token=token, control=self.control, limits=limits)
            )
        return self._http

    @property
    def url(self):
        return self._http.url if self._http is not None else None

    # --- instances ------------------------------------------------------------------------------------

    def create(self, profile=None, transport="unix", **options) -> InstanceHandle:
        """Start an instance; options are the API's (machine, accel, cpu, paused, incoming, qmp, ...).

        Raises :class:`~qmpserver.errors.StartupError` with QEMU's message when QEMU would refuse.
        """
        from ..http.control import Unprocessable

        body = _body(profile, options)
        if "qmp" not in body:
            if transport == "unix":
                body["qmp"] = ["unix:" + os.path.join(self.socket_dir, "i%d.sock" % next(self._n))]
            elif transport == "tcp":
                body["qmp"] = ["tcp:127.0.0.1:0"]
            else:
                raise UsageError("transport: expected 'unix' or 'tcp'")

        async def create():
            try:
                rec = await self.control.create(body)
            except Unprocessable as e:
                if e.detail.get("class") == "StartupError":
                    raise StartupError(e.detail["message"], e.detail.get("warnings")) from None
                raise
            return self.control.describe(rec)

        return InstanceHandle(self, self.call(create()))

    def remove(self, iid, force=False) -> None:
        from ..http.control import NotFound

        def rm():
            try:
                self.control.remove(iid, force=force)
            except NotFound:
                pass

        self.call(rm)

    def reachable(self, addr: dict) -> dict:
        return addr

    def describe(self, iid) -> dict:
        return self.call(lambda: self.control.describe(self.control.record(iid, include_removed=True)))

    def instance(self, iid):
        return self.control.record(iid, include_removed=True).instance

    def transcript(self, iid, since=0) -> list:
        from ..http.transcript import entry_json

        return self.call(
            lambda: [
                entry_json(e) for e in self.control.record(iid, include_removed=True).transcript.since(since)
            ]
        )

    def replies(self, iid) -> str:
        from ..http.transcript import to_replies

        return self.call(
            lambda: to_replies(self.control.record(iid, include_removed=True).transcript.entries)
        )

    def clear_transcript(self, iid) -> None:
        self.call(lambda: self.control.record(iid, include_removed=True).transcript.clear())

    def inject_event(self, iid, body) -> dict:
        return self.call(lambda: self.control.inject_event(iid, body))

    def add_fault(self, iid, body) -> dict:
        return self.call(lambda: self.control.add_fault(iid, body))

    def clear_faults(self, iid) -> None:
        self.call(lambda: self.control.remove_fault(iid))

    def add_stub(self, iid, body, match=None) -> dict:
        return self.call(lambda: self.control.add_stub(iid, body, match))

    def stubs(self, iid) -> list:
        return self.call(lambda: self.control.stubs(iid))

    def remove_stub(self, iid, sid=None, missing_ok=False) -> int:
        from ..http.control import NotFound

        def rm():
            try:
                return self.control.remove_stub(iid, sid)
            except NotFound:
                if not missing_ok:
                    raise
                return 0

        return self.call(rm)


class APIError(Exception):
    def __init__(self, status, error):
        self.status = status
        self.error = error or {}
        super().__init__("HTTP %d: %s" % (status, self.error.get("message", self.error)))


class ExternalServer:
    """A running ``qmpserver serve --http`` driven through its API (``QMPSERVER_EXTERNAL``).

    ``ports``: a range of TCP ports the server may listen on for new instances
    (``QMPSERVER_EXTERNAL_PORTS=4500-4599``, e.g. published by a container);
    without it instances listen on port 0 of the API's host.  Addresses the
    server reports as ``0.0.0.0`` / ``::`` are reached through the API's host.
    """

    def __init__(self, url, token=None, ports=None, timeout=30):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.host = urllib.request.urlparse(self.url).hostname or "127.0.0.1"
        self.ports = ports
        self._port_iter = None
        if ports:
            lo, hi = ports
            worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
            n = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
            k = int(worker[2:]) if worker[2:].isdigit() else 0
            self._port_iter = itertools.cycle([p for p in range(lo, hi + 1) if (p - lo) % n == k])

    @classmethod
    def from_env(cls):
        url = os.environ.get("QMPSERVER_EXTERNAL")
        if not url:
            return None
        ports = os.environ.get("QMPSERVER_EXTERNAL_PORTS")
        rng = None
        if ports:
            lo, _, hi = ports.partition("-")
            rng = (int(lo), int(hi or lo))
        return cls(url, os.environ.get("QMPSERVER_TOKEN") or os.environ.get("QMPSERVER_HTTP_TOKEN"), rng)

    def start(self):
        self.request("GET", "/healthz")
        return self

    def close(self):
        pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def request(self, method, path, body=None, raw=False):
        data = None
        headers = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                payload = r.read()
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                err = json.loads(payload).get("error")
            except ValueError:
                err = {"message": payload.decode(errors="replace")}
            raise APIError(e.code, err) from None
        return payload.decode() if raw else json.loads(payload)

    def reachable(self, addr: dict) -> dict:
        if "host" in addr and addr["host"] in ("0.0.0.0", "::", ""):
            host = self.host
            return {
                "address": "tcp:%s:%d" % ("[%s]" % host if ":" in host else host, addr["port"]),
                "host": host,
                "port": addr["port"],
            }
        return addr

    def create(self, profile=None, transport="tcp", **options) -> InstanceHandle:
        body = _body(profile, options)
        tries = 1
        if "qmp" not in body:
            if transport == "unix":
                tries = 1
            elif self._port_iter is not None:
                tries = 20
            else:
                host = self.host if self.host not in ("localhost",) else "127.0.0.1"
                body["qmp"] = ["tcp:%s:0" % ("[%s]" % host if ":" in host else host)]
        for attempt in range(tries):
            if self._port_iter is not None and "qmp" not in options and transport != "unix":
                body["qmp"] = ["tcp:0.0.0.0:%d" % next(self._port_iter)]
            try:
                return InstanceHandle(self, self.request("POST", "/api/v1/instances", body))
            except APIError as e:
                if e.status == 422 and e.error.get("class") == "StartupError":
                    raise StartupError(e.error["message"], e.error.get("warnings")) from None
                if e.status == 400 and "cannot listen" in e.error.get("message", "") and attempt + 1 < tries:
                    continue
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def remove(self, iid, force=False) -> None:
        try:
            self.request("DELETE", "/api/v1/instances/%d%s" % (iid, "?force=true" if force else ""))
        except APIError as e:
            if e.status != 404:
                raise

    def describe(self, iid) -> dict:
        return self.request("GET", "/api/v1/instances/%d" % iid)

    def instance(self, iid):
        raise UsageError("the Instance object is only available in-process (this server is external)")

    def transcript(self, iid, since=0) -> list:
        return self.request("GET", "/api/v1/instances/%d/transcript?since=%d" % (iid, since))["entries"]

    def replies(self, iid) -> str:
        return self.request("GET", "/api/v1/instances/%d/transcript.replies" % iid, raw=True)

    def clear_transcript(self, iid) -> None:
        self.request("DELETE", "/api/v1/instances/%d/transcript" % iid)

    def inject_event(self, iid, body) -> dict:
        return self.request("POST", "/api/v1/instances/%d/events" % iid, body)

    def add_fault(self, iid, body) -> dict:
        return self.request("POST", "/api/v1/instances/%d/faults" % iid, body)

    def clear_faults(self, iid) -> None:
        self.request("DELETE", "/api/v1/instances/%d/faults" % iid)

    def add_stub(self, iid, body, match=None) -> dict:
        if match is not None:
            raise UsageError("a predicate stub needs an in-process server: give args as a dict")
        try:
            return self.request("POST", "/api/v1/instances/%d/stubs" % iid, body)
        except APIError as e:
            if e.status == 400:  # refused (the build cannot send it ...): as in-process
                raise UsageError(e.error.get("message", str(e))) from None
            raise

    def stubs(self, iid) -> list:
        return self.request("GET", "/api/v1/instances/%d/stubs" % iid)["stubs"]

    def remove_stub(self, iid, sid=None, missing_ok=False) -> int:
        path = "/api/v1/instances/%d/stubs" % iid + ("" if sid is None else "/%d" % sid)
        try:
            return self.request("DELETE", path)["removed"]
        except APIError as e:
            if e.status == 404 and missing_ok and sid is not None:
                return 0
            raise
