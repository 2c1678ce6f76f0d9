"""The HTTP control plane (aiohttp): REST API under ``/api/v1``, dashboard, metrics.

Only imported when HTTP is asked for (``qmpserver serve --http``, or the
pytest plugin's ``qmpserver_http`` fixture): aiohttp costs ~200 ms and ~16 MB.
The API is a thin layer over :class:`qmpserver.http.control.Control`; routes
and shapes are documented in ``docs/http-api.md`` and served as OpenAPI at
``/api/v1/openapi.json``.

Security: the default bind is 127.0.0.1; a bearer token (``--http-token`` or
``$QMPSERVER_HTTP_TOKEN``) is optional on loopback and required otherwise.
With a token every route needs ``Authorization: Bearer TOKEN`` except
``/healthz``, the dashboard page (static, no data) and the OpenAPI document;
the WebSocket authenticates with its first message.  Request bodies are
limited (``max_body``, 4 MiB by default): larger ones get 413.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import os

from aiohttp import WSMsgType, web

from ..commands.registry import unmodelled
from ..errors import UsageError
from ..profiles.loader import ProfileError
from ..profiles.model import describe
from .control import BodyError, Control, NotFound, Unprocessable
from .transcript import entry_json, text_of, to_replies

DEFAULT_MAX_BODY = 4 * 1024 * 1024
WS_TEXT_LIMIT = 64 * 1024  # longer messages are cut in the live view
WS_QUEUE = 2000  # per WebSocket; beyond it traffic is dropped (counted)
PUBLIC = ("/healthz", "/", "/dashboard", "/api/v1/openapi.json", "/api/v1/ws")

CONTROL = web.AppKey("control", Control)
TOKEN = web.AppKey("token", object)


# --- errors ---------------------------------------------------------------------------


def error_response(status, cls, message, **extra):
    err = {"class": cls, "message": message}
    err.update(extra)
    return web.json_response({"error": err}, status=status)


_HTTP_CLASSES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "Unprocessable",
}


@web.middleware
async def errors_middleware(request, handler):
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        resp = error_response(
            e.status,
            _HTTP_CLASSES.get(e.status, "HTTPError"),
            e.text if e.text and not e.text.startswith(str(e.status)) else e.reason,
        )
        for h in ("Allow", "WWW-Authenticate"):
            if h in e.headers:
                resp.headers[h] = e.headers[h]
        return resp
    except BodyError as e:
        return error_response(400, "BadRequest", str(e))
    except NotFound as e:
        return error_response(404, "NotFound", str(e))
    except Unprocessable as e:
        detail = dict(e.detail)
        cls = detail.pop("class", "Unprocessable")
        detail.pop("message", None)
        return error_response(422, cls, str(e), **detail)
    except ProfileError as e:
        return error_response(422, "ProfileError", str(e), file=str(e.file), path=e.path)
    except UsageError as e:
        from ..profiles.store import StoreError

        if isinstance(e, StoreError):
            status = {"invalid-name": 400, "not-found": 404, "read-only": 403, "invalid": 422, "io": 500}[
                e.reason
            ]
            extra = {}
            if e.reason == "invalid":
                extra = {"file": getattr(e, "file", ""), "path": getattr(e, "path", "")}
            cls = {"invalid": "ProfileError", "io": "StoreError"}.get(e.reason) or _HTTP_CLASSES[status]
            return error_response(status, cls, str(e), **extra)
        return error_response(400, "BadRequest", str(e))


@web.middleware
async def auth_middleware(request, handler):
    token = request.app[TOKEN]
    if token is None or request.path in PUBLIC:
        return await handler(request)
    got = request.headers.get("Authorization", "")
    if not (got.startswith("Bearer ") and hmac.compare_digest(got[7:].encode(), token.encode())):
        resp = error_response(401, "Unauthorized", "a bearer token is required (Authorization: Bearer TOKEN)")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="qmpserver"'
        return resp
    return await handler(request)


@web.middleware
async def headers_middleware(request, handler):
    resp = await handler(request)
    resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    return resp


# --- helpers --------------------------------------------------------------------------------


async def json_body(request, required=False):
    data = await request.read()
    if not data.strip():
        if required:
            raise BodyError("a JSON body is required")
        return None
    ctype = request.content_type
    if ctype not in ("application/json", "application/octet-stream", "text/plain", "") and not ctype.endswith(
        "+json"
    ):
        raise web.HTTPUnsupportedMediaType(text="expected application/json, got %s" % ctype)
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise BodyError("the body is not valid JSON: %s" % e) from None
    if type(value) is not dict:
        raise BodyError("the body must be a JSON object")
    return value


def instance_id(request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("no instance %s" % raw)
    return int(raw)


def control(request) -> Control:
    return request.app[CONTROL]


def profile_name(request):
    from ..profiles.store import check_name

    return check_name(request.match_info["name"])


# --- handlers: status ---------------------------------------------------------------------------


async def healthz(request):
    return web.json_response(control(request).health())


async def metrics(request):
    return web.Response(
        text=control(request).metrics.render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Prometheus-Format": "0.0.4"},
    )


async def openapi(request):
    from .openapi import document

    return web.json_response(document(request.app[TOKEN] is not None))


async def dashboard(request):
    from .dashboard import PAGE

    return web.Response(text=PAGE, content_type="text/html", charset="utf-8")


# --- handlers: instances -----------------------------------------------------------------------


async def list_instances(request):
    return web.json_response({"instances": control(request).list()})


async def create_instance(request):
    body = await json_body(request)
    c = control(request)
    rec = await c.create(body)
    d = c.describe(rec, abi=True)
    return web.json_response(d, status=201, headers={"Location": "/api/v1/instances/%d" % d["id"]})


async def show_instance(request):
    c = control(request)
    return web.json_response(c.describe(c.record(instance_id(request), include_removed=True), abi=True))


async def delete_instance(request):
    c = control(request)
    force = request.query.get("force", "false").lower() in ("1", "true", "yes")
    rec = c.remove(instance_id(request), force=force)
    return web.json_response(c.describe(rec, abi=True))


async def transcript(request):
    c = control(request)
    rec = c.record(instance_id(request), include_removed=True)
    since = request.query.get("since", "0")
    if not since.isdigit():
        raise BodyError("since: expected a sequence number")
    entries = [entry_json(e) for e in rec.transcript.since(int(since))]
    return web.json_response(
        {
            "instance": rec.instance.id,
            "dropped": rec.transcript.dropped,
            "limit": rec.transcript.limit,
            "bytes": rec.transcript.bytes,
            "entries": entries,
        }
    )


async def clear_transcript(request):
    rec = control(request).record(instance_id(request), include_removed=True)
    n = len(rec.transcript.entries)
    rec.transcript.clear()
    return web.json_response({"cleared": n})


async def transcript_replies(request):
    rec = control(request).record(instance_id(request), include_removed=True)
    b = rec.instance.build
    fname = "caps_%s_%s.replies" % (".".join(map(str, b.version)), b.target)
    return web.Response(
        text=to_replies(rec.transcript.entries),
        content_type="text/plain",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="%s"' % fname},
    )


async def inject_event(request):
    body = await json_body(request, required=True)
    ev = control(request).inject_event(instance_id(request), body)
    return web.json_response(ev, status=202)


async def list_faults(request):
    return web.json_response({"faults": control(request).faults(instance_id(request))})


async def add_fault(request):
    body = await json_body(request, required=True)
    return web.json_response(control(request).add_fault(instance_id(request), body), status=201)


async def clear_faults(request):
    return web.json_response({"removed": control(request).remove_fault(instance_id(request))})


async def delete_fault(request):
    raw = request.match_info["fault"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("no fault %s" % raw)
    return web.json_response({"removed": control(request).remove_fault(instance_id(request), int(raw))})


# --- handlers: profiles ---------------------------------------------------------------------------


async def list_profiles(request):
    return web.json_response(
        {"store": control(request).store.root, "profiles": control(request).store.list("profile")}
    )


async def show_profile(request):
    c = control(request)
    name = profile_name(request)
    path, _data, text = c.store.read("profile", name)
    prof = c.profile(name)
    d = describe(prof, unmodelled(prof.build))
    d["builtin"] = c.store.is_builtin("profile", name) and os.path.dirname(path) != c.store._dir("profile")
    d["writable"] = os.path.dirname(path) == c.store._dir("profile")
    d["source"] = text
    return web.json_response(d, dumps=lambda o: json.dumps(o, default=str))


async def _profile_content(request, required=True):
    data = await request.read()
    if not data.strip():
        if required:
            raise BodyError("a profile (YAML or JSON) is required as the body")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("the profile must be UTF-8 text") from None


async def put_profile(request):
    c = control(request)
    name = profile_name(request)
    content = await _profile_content(request)
    existed = os.path.exists(c.store.path("profile", name))
    path = c.store.put("profile", name, content)
    c.forget_profiles()
    return web.json_response(
        {"name": name, "path": path, "created": not existed}, status=200 if existed else 201
    )


async def delete_profile(request):
    c = control(request)
    name = profile_name(request)
    path = c.store.delete("profile", name)
    c.forget_profiles()
    return web.json_response({"name": name, "path": path, "deleted": True})


async def validate_profile(request):
    c = control(request)
    name = profile_name(request)
    content = await _profile_content(request, required=False)
    if content is None:
        from ..profiles.loader import compile_profile

        path = c.store.find("profile", name)
        if path is None:
            raise NotFound("no profile '%s'" % name)
        prof = compile_profile(path, c.store.roots())[0]
    else:
        prof = c.store.validate("profile", name, content)
    return web.json_response(
        {"name": name, "valid": True, "profile": describe(prof, unmodelled(prof.build))},
        dumps=lambda o: json.dumps(o, default=str),
    )


# --- migration: plans and the host-pair matrix ---------------------------------------------------


def _flag(request, name):
    v = request.query.get(name, "false").lower()
    if v not in ("1", "true", "yes", "0", "false", "no"):
        raise BodyError("%s: expected true or false" % name)
    return v in ("1", "true", "yes")


def _plan_profile(c, request, key):
    name = request.query.get(key)
    if not name:
        raise BodyError("%s: a profile name is required" % key)
    if c.store.find("profile", name) is None:
        raise NotFound("no profile '%s'" % name)
    return c.profile(name)


async def migration_plan(request):
    """The plan for source -> destination, proved by migrating (qmpserver.planner)."""
    import asyncio

    from ..planner import plan

    c = control(request)
    a = _plan_profile(c, request, "source")
    b = _plan_profile(c, request, "destination")
    both = _flag(request, "both-ways")
    result = await asyncio.get_running_loop().run_in_executor(None, plan, a, b, both)
    return web.json_response(result, dumps=lambda o: json.dumps(o, default=str))


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


async def migration_matrix(request):
    """Every ordered pair of hosts (one profile each) for a configuration.

    A matrix runs one migration (``passthrough``) or one plan (``planned``) per
    pair: seconds, not milliseconds.  The first request starts it in a worker
    thread and answers 202 with the progress; later requests answer 202 until
    it is done, then 200 with the matrix.  Cached per configuration and set of
    profiles (profiles of the store can change)."""
    import asyncio

    from ..planner import matrix, one_per_host

    c = control(request)
    config = request.query.get("config", "passthrough")
    if config not in ("passthrough", "planned"):
        raise BodyError("config: expected passthrough or planned")
    rows = [r for r in c.store.list("profile") if r["valid"]]
    key = (config, tuple((r["name"], r["path"], _mtime(r["path"])) for r in rows))
    jobs = c.__dict__.setdefault("_matrix_jobs", {})
    job = jobs.get(key)
    if job is None:
        for k in [k for k in jobs if k[0] == config]:
            del jobs[k]  # a profile changed: the old matrix is stale
        job = jobs[key] = {"done": 0, "total": None, "result": None, "error": None}

        def progress(done, total):
            job["done"], job["total"] = done, total

        def run():
            # compiling the profiles takes seconds too: off the event loop
            profiles = []
            for r in rows:
                try:
                    profiles.append(c.profile(r["name"]))
                except Exception:  # a stored profile that no longer compiles is listed as invalid elsewhere
                    continue
            chosen = one_per_host(profiles)
            job["total"] = len(chosen) * (len(chosen) - 1)
            try:
                job["result"] = matrix(chosen, config, progress)
            except Exception as e:  # reported to the client, not swallowed
                job["error"] = "%s: %s" % (type(e).__name__, e)
            job["done"] = job["total"]

        job["future"] = asyncio.get_running_loop().run_in_executor(None, run)
    if job["result"] is not None:
        return web.json_response(job["result"], dumps=lambda o: json.dumps(o, default=str))
    if job["error"] is not None:
        del jobs[key]
        return error_response(500, "InternalError", job["error"])
    total = job["total"] if job["total"] is not None else len(rows) * (len(rows) - 1)  # an upper bound
    body = {"config": config, "state": "computing", "done": job["done"], "total": total}
    return web.json_response(body, status=202, headers={"Retry-After": "1"})


# --- WebSocket: live traffic ------------------------------------------------------------------


def _traffic_message(rec, entry):
    seq, t, conn, direction, kind, data = entry
    msg = {
        "type": "traffic",
        "instance": rec.instance.id,
        "seq": seq,
        "time": t,
        "conn": conn,
        "dir": direction,
        "kind": kind,
        "text": text_of(data, WS_TEXT_LIMIT),
    }
    if len(data) > WS_TEXT_LIMIT + 2:
        msg["truncated"] = True
        msg["size"] = len(data)
    return msg


async def websocket(request):
    c = control(request)
    token = request.app[TOKEN]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
    await ws.prepare(request)
    queue: asyncio.Queue = asyncio.Queue(maxsize=WS_QUEUE)
    state = {"dropped": 0, "subs": {}}

    def push(item):
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            state["dropped"] += 1

    def on_traffic(rec, entry):
        push(("traffic", rec, entry))

    def on_change(kind, rec):
        push(("instance", kind, rec))

    async def sender():
        try:
            await send_loop()
        except (ConnectionError, RuntimeError):
            pass  # the browser went away; the receiving side cleans up

    async def send_loop():
        while True:
            item = await queue.get()
            if item[0] == "traffic":
                msg = _traffic_message(item[1], item[2])
                if state["dropped"]:
                    msg["dropped"] = state["dropped"]
                    state["dropped"] = 0
            elif item[0] == "instance":
                msg = {"type": "instance", "event": item[1], "instance": c.describe(item[2])}
            else:
                msg = item[1]
            await ws.send_str(json.dumps(msg, default=str))

    def subscribe(iid, backlog):
        rec = c.records.get(iid) or c.graveyard.get(iid)
        if rec is None:
            push(("raw", {"type": "error", "message": "no instance %s" % iid}))
            return
        if iid in state["subs"]:
            return
        for e in list(rec.transcript.entries)[-backlog:] if backlog else ():
            on_traffic(rec, e)
        rec.subscribers.append(on_traffic)
        state["subs"][iid] = rec
        push(("raw", {"type": "subscribed", "instance": iid}))

    def unsubscribe(iid):
        rec = state["subs"].pop(iid, None)
        if rec is not None and on_traffic in rec.subscribers:
            rec.subscribers.remove(on_traffic)

    authed = token is None
    task = asyncio.ensure_future(sender())

    def ready():
        c.watchers.append(on_change)
        push(("raw", {"type": "ready", "instances": c.list()}))

    push(("raw", {"type": "hello", "auth_required": not authed}))
    if authed:
        ready()
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                req = json.loads(msg.data)
            except ValueError:
                push(("raw", {"type": "error", "message": "expected a JSON object"}))
                continue
            if type(req) is not dict:
                push(("raw", {"type": "error", "message": "expected a JSON object"}))
                continue
            if not authed:
                t = req.get("auth")
                if type(t) is str and hmac.compare_digest(t.encode(), token.encode()):
                    authed = True
                    ready()
                    continue
                await ws.close(code=4401, message=b"unauthorized")
                break
            if "subscribe" in req:
                iid = req["subscribe"]
                backlog = req.get("backlog", 200)
                if type(iid) is int and type(backlog) is int and backlog >= 0:
                    subscribe(iid, min(backlog, 1000))
                else:
                    push(("raw", {"type": "error", "message": "subscribe: expected an instance id"}))
            elif "unsubscribe" in req:
                unsubscribe(req["unsubscribe"])
            else:
                push(("raw", {"type": "error", "message": "expected subscribe, unsubscribe or auth"}))
    finally:
        for iid in list(state["subs"]):
            unsubscribe(iid)
        if on_change in c.watchers:
            c.watchers.remove(on_change)
        task.cancel()
    return ws


# --- application ------------------------------------------------------------------------------


def make_app(control_obj: Control, token=None, max_body=DEFAULT_MAX_BODY) -> web.Application:
    app = web.Application(
        client_max_size=max_body, middlewares=[headers_middleware, errors_middleware, auth_middleware]
    )
    app[CONTROL] = control_obj
    app[TOKEN] = token
    r = app.router
    r.add_get("/", dashboard)
    r.add_get("/dashboard", dashboard)
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics)
    r.add_get("/api/v1/openapi.json", openapi)
    r.add_get("/api/v1/ws", websocket)
    r.add_get("/api/v1/instances", list_instances)
    r.add_post("/api/v1/instances", create_instance)
    r.add_get("/api/v1/instances/{id}", show_instance)
    r.add_delete("/api/v1/instances/{id}", delete_instance)
    r.add_get("/api/v1/instances/{id}/transcript", transcript)
    r.add_delete("/api/v1/instances/{id}/transcript", clear_transcript)
    r.add_get("/api/v1/instances/{id}/transcript.replies", transcript_replies)
    r.add_post("/api/v1/instances/{id}/events", inject_event)
    r.add_get("/api/v1/instances/{id}/faults", list_faults)
    r.add_post("/api/v1/instances/{id}/faults", add_fault)
    r.add_delete("/api/v1/instances/{id}/faults", clear_faults)
    r.add_delete("/api/v1/instances/{id}/faults/{fault}", delete_fault)
    r.add_get("/api/v1/profiles", list_profiles)
    r.add_get("/api/v1/profiles/{name}", show_profile)
    r.add_put("/api/v1/profiles/{name}", put_profile)
    r.add_delete("/api/v1/profiles/{name}", delete_profile)
    r.add_post("/api/v1/profiles/{name}/validate", validate_profile)
    r.add_get("/api/v1/migration/plan", migration_plan)
    r.add_get("/api/v1/migration/matrix", migration_matrix)
    return app


def parse_bind(address: str):
    """``HOST:PORT``, ``[V6]:PORT`` or ``:PORT`` (127.0.0.1) -> (host, port)."""
    if address.startswith("["):
        host, sep, port = address[1:].partition("]:")
        if not sep:
            raise UsageError("invalid HTTP address '%s' (expected HOST:PORT)" % address)
    else:
        host, sep, port = address.rpartition(":")
        if not sep:
            host, port = "", address
    if not port.isdigit() or int(port) > 65535:
        raise UsageError("invalid HTTP port in '%s' (expected HOST:PORT)" % address)
    return host or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HTTPHandle:
    """What :func:`start_http` returns: ``url``, ``port``, ``control`` and ``close()``."""

    def __init__(self, runner, site, host, port, control_obj):
        self.runner = runner
        self.site = site
        self.host = host
        self.port = port
        self.control = control_obj
        h = "[%s]" % host if ":" in host else host
        self.url = "http://%s:%d" % (h, port)

    async def close(self):
        await self.runner.cleanup()


async def start_http(
    server,
    address="127.0.0.1:8080",
    token=None,
    *,
    control=None,
    max_body=DEFAULT_MAX_BODY,
    transcript_limit=None,
) -> HTTPHandle:
    """Serve the control plane of ``server`` on ``address`` (in the running loop)."""
    host, port = parse_bind(address)
    if token is None:
        token = os.environ.get("QMPSERVER_HTTP_TOKEN") or None
    if token is not None and (not token.strip() or len(token) < 8):
        raise UsageError("the HTTP bearer token must be at least 8 characters")
    if token is None and not is_loopback(host):
        raise UsageError(
            "HTTP on %s is reachable beyond this machine: give a bearer token "
            "(--http-token or QMPSERVER_HTTP_TOKEN), or bind 127.0.0.1" % host
        )
    if control is None:
        kw = {} if transcript_limit is None else {"transcript_limit": transcript_limit}
        control = Control(server, **kw)
    app = make_app(control, token, max_body)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise UsageError("cannot listen on %s:%d for HTTP: %s" % (host, port, e.strerror or e)) from None
    real_port = port
    for s in getattr(site._server, "sockets", None) or ():
        real_port = s.getsockname()[1]
        break
    return HTTPHandle(runner, site, host, real_port, control)
