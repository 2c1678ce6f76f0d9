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
limited (``max_body``, 4 MiB by default): larger ones get 413.  Routes, their
parameters and bodies are declared once in :mod:`qmpserver.http.routes`: the
router, request checking and the OpenAPI document derive from that table.
Limits and what requests may reach: :class:`Limits` (docs/security.md).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import os
from typing import Any

from aiohttp import WSMsgType, web

from ..commands.registry import coverage
from ..errors import UsageError
from ..profiles.loader import ProfileError
from ..profiles.model import describe
from .control import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_WEBSOCKETS,
    DEFAULT_WS_AUTH_TIMEOUT,
    BodyError,
    Busy,
    Control,
    Forbidden,
    NotFound,
    Policy,
    Unprocessable,
)
from .openapi import SCHEMAS
from .routes import PUBLIC, ROUTES
from .transcript import entry_json, text_of, to_replies
from .validate import ValidationError, check, convert

DEFAULT_MAX_BODY = 4 * 1024 * 1024
WS_TEXT_LIMIT = 64 * 1024  # longer messages are cut in the live view
WS_QUEUE = 2000  # per WebSocket; beyond it traffic is dropped (counted)
MAX_JSON_DEPTH = 64  # request bodies and WebSocket messages nest no deeper than this


class Limits:
    """The HTTP server's limits and what requests may reach (``serve --http-*`` options).

    ``policy`` (:class:`qmpserver.http.control.Policy`): profiles, socket directory and the
    instance cap; ``max_connections``: open HTTP connections, beyond which a new one is
    answered 503 and closed; ``max_websockets``: live views (beyond: 503 before the upgrade);
    ``ws_auth_timeout``: seconds an unauthenticated WebSocket may stay silent (then closed 4401).
    """

    def __init__(
        self,
        policy=None,
        max_connections=DEFAULT_MAX_CONNECTIONS,
        max_websockets=DEFAULT_MAX_WEBSOCKETS,
        ws_auth_timeout=DEFAULT_WS_AUTH_TIMEOUT,
    ):
        self.policy = policy if policy is not None else Policy()
        self.max_connections = max_connections
        self.max_websockets = max_websockets
        self.ws_auth_timeout = ws_auth_timeout
        self.websockets = 0


CONTROL = web.AppKey("control", Control)
TOKEN = web.AppKey("token", object)
LIMITS = web.AppKey("limits", Limits)
# what guarded() leaves for the handler (RequestKey: aiohttp >= 3.13; plain strings before)
_RequestKey = getattr(web, "RequestKey", None)
PARAMS: Any = _RequestKey("params", dict) if _RequestKey else "params"
BODY: Any = _RequestKey("body", object) if _RequestKey else "body"


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
    429: "LimitReached",
    503: "LimitReached",
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
    except Forbidden as e:
        return error_response(403, "Forbidden", str(e))
    except Busy as e:
        return error_response(429, "LimitReached", str(e))
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
    except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a bug: logged with its traceback, the client gets one line
        from ..log import get

        get("qmpserver.http").exception("%s %s failed", request.method, request.path)
        return error_response(500, "InternalError", "%s (logged by the server)" % type(e).__name__)


def token_matches(given, token) -> bool:
    """Constant-time comparison of a token from a header or a WebSocket message.  Any text
    compares (header bytes that are not UTF-8 arrive as surrogate escapes, JSON may carry
    lone surrogates): a token that cannot be encoded is simply wrong, never an error."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass"))


@web.middleware
async def auth_middleware(request, handler):
    token = request.app[TOKEN]
    if token is None or request.path in PUBLIC:
        return await handler(request)
    got = request.headers.get("Authorization", "")
    if not (got.startswith("Bearer ") and token_matches(got[7:], token)):
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
    value = parse_json(data, "the body")
    if type(value) is not dict:
        raise BodyError("the body must be a JSON object")
    return value


def parse_json(data, what):
    """JSON text -> value nesting at most MAX_JSON_DEPTH levels (BodyError otherwise): a body
    of 100,000 '[' is an error from the decoder's recursion guard, a body of 500 levels one
    from :func:`json_depth`, before anything recursive (the schema check, QAPI's visitor)
    sees it."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        if isinstance(e, RecursionError):
            raise BodyError("%s nests deeper than %d levels" % (what, MAX_JSON_DEPTH)) from None
        raise BodyError("%s is not valid JSON: %s" % (what, e)) from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise BodyError("%s nests deeper than %d levels" % (what, MAX_JSON_DEPTH))
    return value


def json_depth(value) -> int:
    """The deepest nesting of arrays and objects in a decoded value (iterative)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if type(v) is dict:
            v = list(v.values())
        elif type(v) is not list:
            continue
        if d > deepest:
            deepest = d
            if deepest > MAX_JSON_DEPTH:
                return deepest
        stack.extend((x, d + 1) for x in v)
    return deepest


def instance_id(request) -> int:
    return request[PARAMS]["id"]


async def off_loop(fn, *args):
    """Blocking file work (profile files, the store) in a worker thread: the event loop keeps
    answering /healthz and QMP while a slow disk, a huge file or a FIFO is being dealt with."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
    except RecursionError:  # a profile body nesting thousands of levels (YAML flow collections)
        raise BodyError("the profile nests too deeply") from None


def control(request) -> Control:
    return request.app[CONTROL]


def profile_name(request):
    from ..profiles.store import check_name

    return check_name(request[PARAMS]["name"])


def limits(request) -> Limits:
    return request.app[LIMITS]


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
    c = control(request)
    policy = limits(request).policy
    if len(c.server.instances) >= policy.max_instances:  # before any file is read
        raise Busy(
            "%d instances are running, the limit of this server (--http-max-instances)"
            % len(c.server.instances)
        )
    body = request[BODY]
    prepared = await off_loop(c.prepare, body, policy)  # profile files: off the event loop
    rec = await c.create(body, policy, prepared)
    d = c.describe(rec, abi=True)
    return web.json_response(d, status=201, headers={"Location": "/api/v1/instances/%d" % d["id"]})


async def show_instance(request):
    c = control(request)
    return web.json_response(c.describe(c.record(instance_id(request), include_removed=True), abi=True))


async def delete_instance(request):
    c = control(request)
    rec = c.remove(instance_id(request), force=request[PARAMS]["force"])
    return web.json_response(c.describe(rec, abi=True))


async def transcript(request):
    c = control(request)
    rec = c.record(instance_id(request), include_removed=True)
    entries = [entry_json(e) for e in rec.transcript.since(request[PARAMS]["since"])]
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
    ev = control(request).inject_event(instance_id(request), request[BODY])
    return web.json_response(ev, status=202)


async def list_faults(request):
    return web.json_response({"faults": control(request).faults(instance_id(request))})


async def add_fault(request):
    return web.json_response(control(request).add_fault(instance_id(request), request[BODY]), status=201)


async def clear_faults(request):
    return web.json_response({"removed": control(request).remove_fault(instance_id(request))})


async def delete_fault(request):
    fid = request[PARAMS]["fault"]
    return web.json_response({"removed": control(request).remove_fault(instance_id(request), fid)})


async def list_stubs(request):
    return web.json_response({"stubs": control(request).stubs(instance_id(request))})


async def add_stub(request):
    return web.json_response(control(request).add_stub(instance_id(request), request[BODY]), status=201)


async def clear_stubs(request):
    return web.json_response({"removed": control(request).remove_stub(instance_id(request))})


async def delete_stub(request):
    sid = request[PARAMS]["stub"]
    return web.json_response({"removed": control(request).remove_stub(instance_id(request), sid)})


# --- handlers: profiles (file work in a worker thread: off_loop) ---------------------------------


async def list_profiles(request):
    c = control(request)
    rows = await off_loop(c.store.list, "profile")
    return web.json_response({"store": c.store.root, "profiles": rows})


async def show_profile(request):
    c = control(request)
    name = profile_name(request)

    def work():
        from ..models import read_text

        path = c.profile_path(name)
        text = read_text(path, ProfileError)
        prof = c.profile(name)
        d = describe(prof, coverage(prof.build))
        d["builtin"] = c.store.is_builtin("profile", name) and os.path.dirname(path) != c.store._dir(
            "profile"
        )
        d["writable"] = os.path.dirname(path) == c.store._dir("profile")
        d["source"] = text
        return d

    return web.json_response(await off_loop(work), dumps=lambda o: json.dumps(o, default=str))


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

    def work():
        existed = os.path.exists(c.store.path("profile", name))
        return existed, c.store.put("profile", name, content)

    existed, path = await off_loop(work)
    c.forget_profiles()
    return web.json_response(
        {"name": name, "path": path, "created": not existed}, status=200 if existed else 201
    )


async def delete_profile(request):
    c = control(request)
    name = profile_name(request)
    path = await off_loop(c.store.delete, "profile", name)
    c.forget_profiles()
    return web.json_response({"name": name, "path": path, "deleted": True})


async def validate_profile(request):
    c = control(request)
    name = profile_name(request)
    content = await _profile_content(request, required=False)

    def work():
        if content is None:
            from ..profiles.loader import compile_profile

            return compile_profile(c.profile_path(name), c.store.roots())[0]  # never through a link
        return c.store.validate("profile", name, content)

    prof = await off_loop(work)
    return web.json_response(
        {"name": name, "valid": True, "profile": describe(prof, coverage(prof.build))},
        dumps=lambda o: json.dumps(o, default=str),
    )


# --- migration: plans and the host-pair matrix ---------------------------------------------------


def _plan_profile(c, request, key):
    name = request[PARAMS][key]
    c.profile_path(name)  # a name of the store or a built-in, never a path or a link
    return c.profile(name)


async def migration_plan(request):
    """The plan for source -> destination, proved by migrating (qmpserver.planner)."""
    from ..planner import plan

    c = control(request)
    a = await off_loop(_plan_profile, c, request, "source")
    b = await off_loop(_plan_profile, c, request, "destination")
    result = await off_loop(plan, a, b, request[PARAMS]["both-ways"])
    return web.json_response(result, dumps=lambda o: json.dumps(o, default=str))


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


async def migration_matrix(request):
    """Every ordered pair of hosts of a target (one profile each) for a configuration.

    A matrix runs one migration (``passthrough``) or one plan (``planned``) per
    pair: seconds, not milliseconds.  The first request starts it in a worker
    thread and answers 202 with the progress; later requests answer 202 until
    it is done, then 200 with the matrix.  Cached per target, configuration and set
    of profiles (profiles of the store can change)."""
    import asyncio

    from ..planner import matrix, one_per_host

    c = control(request)
    config, target = request[PARAMS]["config"], request[PARAMS]["target"]
    rows = [r for r in await off_loop(c.store.list, "profile") if r["valid"]]
    key = (target, config, tuple((r["name"], r["path"], _mtime(r["path"])) for r in rows))
    jobs = c.__dict__.setdefault("_matrix_jobs", {})
    job = jobs.get(key)
    if job is None:
        for k in [k for k in jobs if k[:2] == (target, config)]:
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
            chosen = one_per_host(profiles, target)
            job["total"] = len(chosen) * (len(chosen) - 1)
            try:
                job["result"] = matrix(chosen, config, progress, target)
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
    """The live view.  Limits: ``max_websockets`` at a time (503 before the upgrade), messages
    of 64 KiB nesting at most MAX_JSON_DEPTH, and with a token ``ws_auth_timeout`` seconds to
    send it (then, like a wrong token, close code 4401)."""
    c = control(request)
    lim = limits(request)
    if lim.websockets >= lim.max_websockets:
        return error_response(
            503, "LimitReached", "%d WebSockets are open, the limit of this server" % lim.websockets
        )
    lim.websockets += 1
    try:
        return await _websocket(request, c, lim)
    finally:
        lim.websockets -= 1


async def _websocket(request, c, lim):
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
    deadline = None
    if authed:
        ready()
    else:

        def expire():
            if not authed and not ws.closed:
                asyncio.ensure_future(ws.close(code=4401, message=b"authentication timed out"))

        deadline = asyncio.get_running_loop().call_later(lim.ws_auth_timeout, expire)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                req = parse_json(msg.data, "the message")
            except BodyError as e:
                if not authed:
                    await ws.close(code=4401, message=b"unauthorized")
                    break
                push(("raw", {"type": "error", "message": str(e)}))
                continue
            if type(req) is not dict:
                if not authed:
                    await ws.close(code=4401, message=b"unauthorized")
                    break
                push(("raw", {"type": "error", "message": "expected a JSON object"}))
                continue
            if not authed:
                t = req.get("auth")
                if type(t) is str and token_matches(t, token):
                    authed = True
                    if deadline is not None:
                        deadline.cancel()
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
        if deadline is not None:
            deadline.cancel()
        for iid in list(state["subs"]):
            unsubscribe(iid)
        if on_change in c.watchers:
            c.watchers.remove(on_change)
        task.cancel()
    return ws


# --- application ------------------------------------------------------------------------------


def guarded(route, fn):
    """The handler of a route behind its declaration (:mod:`qmpserver.http.routes`): path and
    query parameters converted and checked into ``request[PARAMS]``, a JSON body parsed and
    checked into ``request[BODY]``.  A path id that is not an id names nothing: 404."""

    async def handler(request):
        params = {}
        for p in route.params:
            if p.where == "path":
                raw = request.match_info[p.name]
                try:
                    params[p.name] = convert(p.schema, raw, SCHEMAS, p.name)
                except ValidationError:
                    if p.schema.get("type") == "integer":
                        raise NotFound("no %s %s" % ("instance" if p.name == "id" else p.name, raw)) from None
                    raise
            else:
                raw = request.query.get(p.name)
                if raw is None:
                    if p.required:
                        raise ValidationError("%s: required" % p.name)
                    params[p.name] = p.schema.get("default")
                else:
                    params[p.name] = convert(p.schema, raw, SCHEMAS, p.name)
        request[PARAMS] = params
        if route.body is not None:
            body = await json_body(request, required=route.body_required)
            if body is not None:
                check(route.body, body, SCHEMAS)
            request[BODY] = body
        return await fn(request)

    handler.__name__ = fn.__name__
    return handler


def make_app(
    control_obj: Control, token=None, max_body=DEFAULT_MAX_BODY, limits: Limits | None = None
) -> web.Application:
    app = web.Application(
        client_max_size=max_body, middlewares=[headers_middleware, errors_middleware, auth_middleware]
    )
    app[CONTROL] = control_obj
    app[TOKEN] = token
    app[LIMITS] = limits if limits is not None else Limits()
    handlers = globals()
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route, handlers[route.handler]))
    return app


class LimitedSite(web.TCPSite):
    """A TCP site that answers 503 and closes when ``max_connections`` are open (aiohttp has no
    connection limit of its own; without one, every client costs a descriptor until the
    process runs out)."""

    def __init__(self, runner, host, port, max_connections):
        super().__init__(runner, host, port, reuse_address=True)
        self.max_connections = max_connections
        self.refused = 0

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None

        def factory():
            if len(server.connections) >= self.max_connections:
                self.refused += 1
                return _Refuse(self.max_connections)
            return server()

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            factory, self._host, self._port, backlog=self._backlog, reuse_address=True
        )


class _Refuse(asyncio.Protocol):
    """503 to a connection over the limit: the answer, then EOF; the socket is closed when the
    client closes or after 2 s (closing at once with unread input would reset the connection
    and the client would never see the answer)."""

    def __init__(self, limit):
        self.limit = limit
        self.timer = None

    def connection_made(self, transport):
        body = json.dumps(
            {
                "error": {
                    "class": "LimitReached",
                    "message": "%d HTTP connections are open, the limit of this server" % self.limit,
                }
            }
        ).encode()
        transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nRetry-After: 1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        if transport.can_write_eof():
            transport.write_eof()
        self.timer = asyncio.get_running_loop().call_later(2.0, transport.close)

    def data_received(self, data):
        pass  # the request is not read: the answer is the same for any

    def eof_received(self):
        return False  # close

    def connection_lost(self, exc):
        if self.timer is not None:
            self.timer.cancel()


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
    limits: Limits | None = None,
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
    limits = limits if limits is not None else Limits()
    app = make_app(control, token, max_body, limits)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = LimitedSite(runner, host, port, limits.max_connections)
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
