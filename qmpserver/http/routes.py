"""The route table of the HTTP API: one declaration per operation.

Each :class:`Route` names its method, path, handler (a function of
:mod:`qmpserver.http.app`), parameters, request body and answers.  Three
things derive from this table and nothing else:

* the aiohttp router (:func:`qmpserver.http.app.make_app` registers every route);
* request checking (:mod:`qmpserver.http.validate`: path and query parameters are
  converted and checked, JSON bodies checked against their schema before the
  handler runs; the handler finds them in ``request["params"]`` / ``request["body"]``);
* the OpenAPI document (:func:`qmpserver.http.openapi.document`).

Rules a schema cannot say (a ``fail`` fault needs ``command``; an event's data
is checked against the build's QAPI schema; options are parsed like QEMU's
command line) stay in :mod:`qmpserver.http.control` / :mod:`qmpserver.http.faults`
and are named in the schema's descriptions.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..planner import MATRIX_TARGETS
from .openapi import SCHEMAS, _err, _json, _ref

MAX_ID = 10**18 - 1  # 18 ASCII digits (validate.MAX_INT_DIGITS)


class Param(NamedTuple):
    name: str
    where: str  # "path" or "query"
    schema: dict
    required: bool = False
    description: str = ""

    def openapi(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "in": self.where, "schema": self.schema}
        if self.required or self.where == "path":
            d["required"] = True
        if self.description:
            d["description"] = self.description
        return d


class Route(NamedTuple):
    method: str
    path: str
    handler: str
    op: str | None  # operationId; None: not in the OpenAPI document (pages, WebSocket)
    summary: str = ""
    params: tuple = ()
    body: dict | None = None  # JSON body schema (checked) ...
    body_required: bool = False
    yaml_body: bool = False  # ... or a profile file (YAML/JSON text, checked by the store)
    responses: dict | None = None
    public: bool = False  # no bearer token needed


def _profile_name_pattern() -> str:
    from ..profiles.store import NAME_RE

    return NAME_RE.pattern


ID = Param("id", "path", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, description="instance id")
FAULT = Param("fault", "path", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, description="fault id")
STUB = Param("stub", "path", {"type": "integer", "minimum": 0, "maximum": MAX_ID}, description="stub id")
NAME = Param(
    "name",
    "path",
    {"type": "string", "pattern": _profile_name_pattern(), "x-expected": "a profile name"},
    description="profile name: letters, digits, '.', '_', '-' (no '..'), at most 128",
)
FORCE = Param(
    "force",
    "query",
    {"type": "boolean", "default": False},
    description="true: like SIGKILL (no SHUTDOWN event)",
)
SINCE = Param(
    "since",
    "query",
    {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0},
    description="only entries after this sequence number",
)
PROFILE_Q = Param("source", "query", {"type": "string", "minLength": 1}, required=True)
DEST_Q = Param("destination", "query", {"type": "string", "minLength": 1}, required=True)
BOTH_Q = Param("both-ways", "query", {"type": "boolean", "default": False})
CONFIG_Q = Param(
    "config", "query", {"type": "string", "enum": ["passthrough", "planned"], "default": "passthrough"}
)
TARGET_Q = Param(
    "target",
    "query",
    {"type": "string", "enum": sorted(MATRIX_TARGETS), "default": "aarch64"},
    description="the QEMU target whose hosts the matrix covers",
)

NOT_FOUND = _err("no such instance")
BAD = _err("malformed request (the message names the field and what was expected)")
TOO_LARGE = _err("body too large")
NOT_JSON = _err("not JSON")
BUSY = _err("a limit of the server is reached (instances, connections, WebSockets)")

ROUTES: tuple[Route, ...] = (
    Route("GET", "/", "dashboard", None, public=True),
    Route("GET", "/dashboard", "dashboard", None, public=True),
    Route("GET", "/api/v1/ws", "websocket", None, public=True),  # authenticates with its first message
    Route(
        "GET",
        "/healthz",
        "healthz",
        "health",
        "Liveness (no token needed)",
        public=True,
        responses={"200": _json(_ref("Health"))},
    ),
    Route(
        "GET",
        "/metrics",
        "metrics",
        "metrics",
        "Prometheus metrics (text format 0.0.4)",
        responses={
            "200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}
        },
    ),
    Route(
        "GET",
        "/api/v1/openapi.json",
        "openapi",
        "openapi",
        "This document",
        public=True,
        responses={"200": _json({"type": "object"})},
    ),
    Route(
        "GET",
        "/api/v1/instances",
        "list_instances",
        "listInstances",
        "Running instances",
        responses={"200": _json(_ref("InstanceList"))},
    ),
    Route(
        "POST",
        "/api/v1/instances",
        "create_instance",
        "createInstance",
        "Start an instance (QEMU's start-up checks and messages)",
        body=_ref("InstanceCreate"),
        responses={
            "201": _json(_ref("Instance"), "started; Location names it"),
            "400": _err("bad body, unusable address or a profile path the server does not allow"),
            "404": _err("no such profile (in the store or built in)"),
            "413": TOO_LARGE,
            "415": NOT_JSON,
            "422": _err(
                "QEMU would refuse to start (class StartupError: message, warnings, stderr) "
                "or a broken profile file"
            ),
            "429": BUSY,
        },
    ),
    Route(
        "GET",
        "/api/v1/instances/{id}",
        "show_instance",
        "showInstance",
        params=(ID,),
        responses={"200": _json(_ref("Instance")), "404": NOT_FOUND},
    ),
    Route(
        "DELETE",
        "/api/v1/instances/{id}",
        "delete_instance",
        "deleteInstance",
        "Stop it like SIGTERM (SHUTDOWN event, then exit); ?force=true: like SIGKILL",
        params=(ID, FORCE),
        responses={"200": _json(_ref("Instance")), "400": BAD, "404": NOT_FOUND},
    ),
    Route(
        "GET",
        "/api/v1/instances/{id}/transcript",
        "transcript",
        "transcript",
        "Every QMP message, as the client saw it (conn 0: an injected event no client received)",
        params=(ID, SINCE),
        responses={"200": _json(_ref("Transcript")), "400": BAD, "404": NOT_FOUND},
    ),
    Route(
        "DELETE",
        "/api/v1/instances/{id}/transcript",
        "clear_transcript",
        "clearTranscript",
        params=(ID,),
        responses={
            "200": _json(
                {"type": "object", "required": ["cleared"], "properties": {"cleared": {"type": "integer"}}}
            ),
            "404": NOT_FOUND,
        },
    ),
    Route(
        "GET",
        "/api/v1/instances/{id}/transcript.replies",
        "transcript_replies",
        "transcriptReplies",
        "The transcript as a libvirt .replies file",
        params=(ID,),
        responses={
            "200": {
                "description": "command/reply pairs, ids libvirt-N",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "404": NOT_FOUND,
        },
    ),
    Route(
        "POST",
        "/api/v1/instances/{id}/events",
        "inject_event",
        "injectEvent",
        "Emit an event to the instance's clients (data checked against the schema); "
        "the answer says how many clients received it",
        params=(ID,),
        body=_ref("EventInjection"),
        body_required=True,
        responses={
            "202": _json(_ref("InjectedEvent"), "emitted"),
            "400": BAD,
            "404": NOT_FOUND,
            "413": TOO_LARGE,
            "415": NOT_JSON,
            "422": _err("unknown event or invalid data (QEMU's visitor message)"),
        },
    ),
    Route(
        "GET",
        "/api/v1/instances/{id}/faults",
        "list_faults",
        "listFaults",
        params=(ID,),
        responses={"200": _json(_ref("FaultList")), "404": NOT_FOUND},
    ),
    Route(
        "POST",
        "/api/v1/instances/{id}/faults",
        "add_fault",
        "addFault",
        "Inject a fault (delay, close, fail, oversize)",
        params=(ID,),
        body=_ref("FaultCreate"),
        body_required=True,
        responses={
            "201": _json(_ref("Fault")),
            "400": BAD,
            "404": NOT_FOUND,
            "413": TOO_LARGE,
            "415": NOT_JSON,
        },
    ),
    Route(
        "DELETE",
        "/api/v1/instances/{id}/faults",
        "clear_faults",
        "clearFaults",
        params=(ID,),
        responses={"200": _json(_ref("Removed")), "404": NOT_FOUND},
    ),
    Route(
        "DELETE",
        "/api/v1/instances/{id}/faults/{fault}",
        "delete_fault",
        "deleteFault",
        params=(ID, FAULT),
        responses={"200": _json(_ref("Removed")), "404": _err("no such instance or fault")},
    ),
    Route(
        "GET",
        "/api/v1/instances/{id}/stubs",
        "list_stubs",
        "listStubs",
        params=(ID,),
        responses={"200": _json(_ref("StubList")), "404": NOT_FOUND},
    ),
    Route(
        "POST",
        "/api/v1/instances/{id}/stubs",
        "add_stub",
        "addStub",
        "Stub a command's answer (a reply or an error, for matching arguments)",
        params=(ID,),
        body=_ref("StubCreate"),
        body_required=True,
        responses={
            "201": _json(_ref("Stub")),
            "400": BAD,
            "404": NOT_FOUND,
            "413": TOO_LARGE,
            "415": NOT_JSON,
        },
    ),
    Route(
        "DELETE",
        "/api/v1/instances/{id}/stubs",
        "clear_stubs",
        "clearStubs",
        params=(ID,),
        responses={"200": _json(_ref("Removed")), "404": NOT_FOUND},
    ),
    Route(
        "DELETE",
        "/api/v1/instances/{id}/stubs/{stub}",
        "delete_stub",
        "deleteStub",
        params=(ID, STUB),
        responses={"200": _json(_ref("Removed")), "404": _err("no such instance or stub")},
    ),
    Route(
        "GET",
        "/api/v1/profiles",
        "list_profiles",
        "listProfiles",
        "Profiles: the store first, then built-ins",
        responses={"200": _json(_ref("ProfileList"))},
    ),
    Route(
        "GET",
        "/api/v1/profiles/{name}",
        "show_profile",
        "showProfile",
        params=(NAME,),
        responses={
            "200": _json(_ref("Profile")),
            "400": _err("invalid name"),
            "403": _err("a symbolic link (never followed)"),
            "404": _err("no such profile"),
            "422": _err("broken profile file"),
        },
    ),
    Route(
        "PUT",
        "/api/v1/profiles/{name}",
        "put_profile",
        "storeProfile",
        "Validate, then store atomically in the user store",
        params=(NAME,),
        yaml_body=True,
        body_required=True,
        responses={
            "200": _json(_ref("ProfileStored"), "replaced"),
            "201": _json(_ref("ProfileStored"), "created"),
            "400": _err("invalid name or body"),
            "403": _err("built-in profiles are read-only"),
            "413": TOO_LARGE,
            "422": _err("invalid profile (file, path, message)"),
        },
    ),
    Route(
        "DELETE",
        "/api/v1/profiles/{name}",
        "delete_profile",
        "deleteProfile",
        "Delete a stored (user) profile",
        params=(NAME,),
        responses={
            "200": _json(_ref("ProfileStored")),
            "400": _err("invalid name"),
            "403": _err("built-in or outside the store"),
            "404": _err("no such profile"),
        },
    ),
    Route(
        "POST",
        "/api/v1/profiles/{name}/validate",
        "validate_profile",
        "validateProfile",
        "Validate a body (or, without one, the existing file) as profile NAME",
        params=(NAME,),
        yaml_body=True,
        responses={
            "200": _json(_ref("ProfileValidation")),
            "400": _err("invalid name or body"),
            "403": _err("a symbolic link (never followed)"),
            "404": _err("no such profile"),
            "413": TOO_LARGE,
            "422": _err("invalid profile (file, path, message)"),
        },
    ),
    Route(
        "GET",
        "/api/v1/migration/plan",
        "migration_plan",
        "migrationPlan",
        "The configuration that lets a guest start on SOURCE and move to DESTINATION, "
        "proved by migrating between instances on both (docs/migration.md)",
        params=(PROFILE_Q, DEST_Q, BOTH_Q),
        responses={
            "200": _json(_ref("MigrationPlan")),
            "400": BAD,
            "404": _err("no such profile"),
            "422": _err("a stored profile that does not compile"),
        },
    ),
    Route(
        "GET",
        "/api/v1/migration/matrix",
        "migration_matrix",
        "migrationMatrix",
        "Every ordered pair of hosts of a target (one profile each): migratable or not, the first "
        "blocker. The first request starts the computation: 202 with the progress until it is done, then 200",
        params=(CONFIG_Q, TARGET_Q),
        responses={
            "200": _json(_ref("MigrationMatrix")),
            "202": _json(_ref("MigrationMatrixProgress")),
            "400": BAD,
        },
    ),
)

PUBLIC = frozenset(r.path for r in ROUTES if r.public)

YAML_BODY = {
    "description": "the profile file: YAML (or JSON, a subset)",
    "content": {
        "application/yaml": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object"}},
        "text/plain": {"schema": {"type": "string"}},
    },
}


def openapi_paths() -> dict:
    """The ``paths`` of the OpenAPI document, from :data:`ROUTES`."""
    paths: dict = {}
    for r in ROUTES:
        if r.op is None:
            continue
        op: dict[str, Any] = {"operationId": r.op}
        if r.summary:
            op["summary"] = r.summary
        if r.public:
            op["security"] = []
        if r.params:
            op["parameters"] = [p.openapi() for p in r.params]
        if r.body is not None:
            op["requestBody"] = {
                "required": r.body_required,
                "content": {"application/json": {"schema": r.body}},
            }
        elif r.yaml_body:
            op["requestBody"] = dict(YAML_BODY, required=r.body_required)
        op["responses"] = dict(r.responses or {})
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return paths


def schemas() -> dict:
    return SCHEMAS
