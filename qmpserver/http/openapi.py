"""The OpenAPI 3.0 document of the HTTP API (served at ``/api/v1/openapi.json``).

Kept next to the handlers and checked against the running app by
``tests/integration/http/test_http_openapi.py`` (schemathesis).
"""

from __future__ import annotations

import copy

from .. import __version__
from ..vm.abi import FORMAT as ABI_FORMAT
from .faults import DEFAULT_OVERSIZE, KINDS, MAX_DELAY, MAX_OVERSIZE

ERROR_CLASSES = ["GenericError", "CommandNotFound", "DeviceNotActive", "DeviceNotFound", "KVMMissingCap"]


def _ref(name):
    return {"$ref": "#/components/schemas/%s" % name}


def _json(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description):
    return _json(_ref("Error"), description)


NULLABLE_STRING = {"type": "string", "nullable": True}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["class", "message"],
                "properties": {
                    "class": {
                        "type": "string",
                        "description": "BadRequest, NotFound, StartupError, ProfileError, ...",
                    },
                    "message": {"type": "string"},
                    "warnings": {"type": "array", "items": {"type": "string"}},
                    "stderr": {"type": "string", "description": "what qemu-system-<arch> would print"},
                    "desc": {"type": "string"},
                    "file": {"type": "string"},
                    "path": {"type": "string"},
                },
            }
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "instances", "uptime"],
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "instances": {"type": "integer"},
            "uptime": {"type": "number"},
        },
    },
    "Address": {
        "type": "object",
        "required": ["address"],
        "properties": {
            "address": {"type": "string", "example": "unix:/run/qmpserver/qmp-1-1.sock"},
            "path": {"type": "string"},
            "host": {"type": "string"},
            "port": {"type": "integer"},
        },
    },
    "Instance": {
        "type": "object",
        "required": [
            "id",
            "profile",
            "qemu",
            "target",
            "accel",
            "machine",
            "cpu",
            "runstate",
            "qmp",
            "connections",
            "warnings",
            "created",
            "state",
        ],
        "properties": {
            "id": {"type": "integer"},
            "name": NULLABLE_STRING,
            "uuid": NULLABLE_STRING,
            "profile": {"type": "string"},
            "qemu": {"type": "string", "example": "7.2.22"},
            "target": {"type": "string", "example": "aarch64"},
            "host": {"type": "string"},
            "accel": {"type": "string"},
            "machine": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"type": "string"},
                    "alias": NULLABLE_STRING,
                    "props": {"type": "object", "additionalProperties": True},
                },
            },
            "cpu": {
                "type": "object",
                "properties": {
                    "model": NULLABLE_STRING,
                    "props": {"type": "object", "additionalProperties": True},
                },
            },
            "runstate": {"type": "string", "example": "running"},
            "qmp": {"type": "array", "items": _ref("Address")},
            "connections": {"type": "integer"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "created": {"type": "number"},
            "state": {"type": "string", "enum": ["running", "exited"]},
            "exit": {"type": "string", "description": "shutdown cause once the instance has exited"},
            "guest-abi": _ref("GuestABI"),
        },
    },
    "GuestABI": {
        "type": "object",
        "nullable": True,
        "description": "What the guest sees (qmpserver.vm.abi.GuestABI.to_dict()): in answers about one "
        "instance (GET, POST, DELETE), not in lists or WebSocket messages. A value the models do not "
        "know is null, never invented. null: no machine yet",
        "required": ["format", "target", "machine", "accel", "cpu", "mte", "gic", "firmware", "psci-version"],
        "properties": {
            "format": {"type": "integer", "enum": [ABI_FORMAT]},
            "target": {"type": "string", "example": "aarch64"},
            "machine": {
                "type": "object",
                "required": ["type", "version"],
                "properties": {
                    "type": {"type": "string", "example": "virt-11.1"},
                    "version": NULLABLE_STRING,
                },
            },
            "accel": {"type": "string"},
            "cpu": {
                "type": "object",
                "required": ["model", "midr", "idregs", "sve-vector-lengths", "pmu"],
                "properties": {
                    "model": NULLABLE_STRING,
                    "midr": {"type": "integer", "nullable": True, "description": "MIDR_EL1"},
                    "idregs": {
                        "type": "object",
                        "nullable": True,
                        "additionalProperties": {"type": "integer"},
                        "description": "REG.FIELD -> value of every ID-register field the guest sees",
                        "example": {"ID_AA64PFR1_EL1.MTE": 0},
                    },
                    "sve-vector-lengths": {
                        "type": "array",
                        "nullable": True,
                        "items": {"type": "integer"},
                        "description": "bits; [] SVE off, null no SVE in the model",
                    },
                    "pmu": {"type": "boolean", "nullable": True},
                },
            },
            "mte": {"type": "string", "nullable": True, "enum": ["none", "2", "3", None]},
            "gic": {
                "type": "object",
                "required": ["version", "in-kernel"],
                "properties": {
                    "version": {"type": "integer", "nullable": True},
                    "in-kernel": {"type": "boolean", "nullable": True},
                },
            },
            "firmware": {
                "type": "object",
                "nullable": True,
                "additionalProperties": {"type": "integer"},
                "description": "KVM firmware pseudo-registers (KVM only)",
            },
            "psci-version": {"type": "string", "nullable": True, "example": "1.1"},
        },
    },
    "InstanceList": {
        "type": "object",
        "required": ["instances"],
        "properties": {"instances": {"type": "array", "items": _ref("Instance")}},
    },
    "InstanceCreate": {
        "type": "object",
        "additionalProperties": False,
        "description": "Everything optional: an empty body starts the default profile on a private unix socket.",
        "properties": {
            "profile": {"type": "string", "description": "profile name (default: the default profile)"},
            "name": {"type": "string", "description": "-name"},
            "uuid": {"type": "string", "description": "-uuid"},
            "machine": {
                "description": "-machine: 'virt,mte-version=3' or {type: virt, mte-version: 3}",
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "additionalProperties": {
                            "oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]
                        },
                    },
                ],
            },
            "accel": {
                "description": "'kvm', 'tcg', a fallback list 'kvm:tcg' or an array",
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            },
            "cpu": {
                "description": "-cpu: 'max,sve=off' or {model, props}",
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "required": ["model"],
                        "additionalProperties": False,
                        "properties": {
                            "model": {"type": "string"},
                            "props": {
                                "type": "object",
                                "additionalProperties": {
                                    "oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]
                                },
                            },
                        },
                    },
                ],
            },
            "smp": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
            "memory": {"type": "integer", "minimum": 1},
            "paused": {"type": "boolean", "description": "-S: start in prelaunch"},
            "no_shutdown": {"type": "boolean", "description": "-no-shutdown"},
            "preconfig": {"type": "boolean", "description": "--preconfig"},
            "incoming": {"type": "string", "description": "-incoming URI (e.g. defer): start in inmigrate"},
            "qmp": {
                "type": "array",
                "items": {"type": "string", "pattern": "^(unix|tcp):"},
                "description": "listeners, unix:PATH or tcp:HOST:PORT (PORT 0 = any); default: a private unix socket",
            },
            "transcript": {"type": "integer", "minimum": 0, "description": "messages kept in the transcript"},
        },
    },
    "Message": {
        "description": "a QMP message (request, reply, event or greeting)",
        "type": "object",
        "additionalProperties": True,
    },
    "TranscriptEntry": {
        "type": "object",
        "required": ["seq", "time", "conn", "dir", "kind", "msg"],
        "properties": {
            "seq": {"type": "integer"},
            "time": {"type": "number"},
            "conn": {"type": "integer"},
            "dir": {"type": "string", "enum": ["in", "out"]},
            "kind": {"type": "string", "enum": ["command", "reply", "event", "greeting", "other"]},
            "msg": {},
        },
    },
    "Transcript": {
        "type": "object",
        "required": ["instance", "dropped", "limit", "entries"],
        "properties": {
            "instance": {"type": "integer"},
            "dropped": {"type": "integer"},
            "limit": {"type": "integer"},
            "bytes": {"type": "integer"},
            "entries": {"type": "array", "items": _ref("TranscriptEntry")},
        },
    },
    "EventInjection": {
        "type": "object",
        "required": ["event"],
        "additionalProperties": False,
        "properties": {
            "event": {"type": "string", "example": "GUEST_PANICKED"},
            "data": {
                "type": "object",
                "additionalProperties": True,
                "description": "validated against the event's type in the build's schema",
            },
        },
    },
    "Event": {
        "type": "object",
        "required": ["timestamp", "event"],
        "properties": {
            "timestamp": {
                "type": "object",
                "properties": {"seconds": {"type": "integer"}, "microseconds": {"type": "integer"}},
            },
            "event": {"type": "string"},
            "data": {},
        },
    },
    "FaultCreate": {
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {
            "kind": {"type": "string", "enum": list(KINDS)},
            "command": {"type": "string", "description": "only this command (required for 'fail')"},
            "count": {"type": "integer", "minimum": 1, "default": 1},
            "permanent": {"type": "boolean", "default": False},
            "seconds": {
                "type": "number",
                "exclusiveMinimum": True,
                "minimum": 0,
                "maximum": MAX_DELAY,
                "description": "delay",
            },
            "class": {"type": "string", "enum": ERROR_CLASSES, "description": "fail"},
            "desc": {"type": "string", "description": "fail"},
            "bytes": {
                "type": "integer",
                "minimum": 64,
                "maximum": MAX_OVERSIZE,
                "default": DEFAULT_OVERSIZE,
                "description": "oversize: total reply size",
            },
        },
    },
    "Fault": {
        "type": "object",
        "required": ["id", "kind", "command", "remaining", "permanent", "hits"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": list(KINDS)},
            "command": NULLABLE_STRING,
            "remaining": {"type": "integer", "nullable": True},
            "permanent": {"type": "boolean"},
            "hits": {"type": "integer"},
            "seconds": {"type": "number"},
            "class": {"type": "string"},
            "desc": {"type": "string"},
            "bytes": {"type": "integer"},
        },
    },
    "FaultList": {
        "type": "object",
        "required": ["faults"],
        "properties": {"faults": {"type": "array", "items": _ref("Fault")}},
    },
    "Removed": {"type": "object", "required": ["removed"], "properties": {"removed": {"type": "integer"}}},
    "ProfileList": {
        "type": "object",
        "required": ["store", "profiles"],
        "properties": {
            "store": {"type": "string"},
            "profiles": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "summary", "builtin", "path", "writable", "valid"],
                    "properties": {
                        "name": {"type": "string"},
                        "summary": {"type": "string"},
                        "builtin": {"type": "boolean"},
                        "path": {"type": "string"},
                        "writable": {"type": "boolean"},
                        "valid": {"type": "boolean"},
                    },
                },
            },
        },
    },
    "Profile": {
        "type": "object",
        "required": ["name", "build", "host"],
        "properties": {
            "name": {"type": "string"},
            "summary": {"type": "string"},
            "build": {"type": "object"},
            "host": {"type": "object"},
            "defaults": {"type": "object"},
            "builtin": {"type": "boolean"},
            "writable": {"type": "boolean"},
            "source": {"type": "string"},
        },
        "additionalProperties": True,
    },
    "ProfileStored": {
        "type": "object",
        "required": ["name", "path"],
        "properties": {
            "name": {"type": "string"},
            "path": {"type": "string"},
            "created": {"type": "boolean"},
            "deleted": {"type": "boolean"},
        },
    },
    "ProfileValidation": {
        "type": "object",
        "required": ["name", "valid", "profile"],
        "properties": {"name": {"type": "string"}, "valid": {"type": "boolean"}, "profile": _ref("Profile")},
    },
    "MigrationPlan": {
        "type": "object",
        "required": [
            "source",
            "destination",
            "both-ways",
            "migratable",
            "configuration",
            "blockers",
            "notes",
            "tried",
        ],
        "properties": {
            "source": {"type": "string"},
            "destination": {"type": "string"},
            "both-ways": {"type": "boolean"},
            "migratable": {"type": "boolean"},
            "configuration": {
                "type": "object",
                "nullable": True,
                "description": "qemu-args: the command-line arguments for both hosts; machine/accel/cpu/cpu_props",
                "properties": {"qemu-args": {"type": "array", "items": {"type": "string"}}},
            },
            "blockers": {"type": "array", "items": {"type": "string"}, "description": "the first decides"},
            "notes": {"type": "array", "items": {"type": "string"}},
            "tried": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "qemu-args": {"type": "array", "items": {"type": "string"}},
                        "trials": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    },
    "MigrationMatrixProgress": {
        "type": "object",
        "required": ["config", "state", "done", "total"],
        "properties": {
            "config": {"type": "string"},
            "state": {"type": "string", "enum": ["computing"]},
            "done": {"type": "integer", "description": "pairs finished"},
            "total": {"type": "integer"},
        },
    },
    "MigrationMatrix": {
        "type": "object",
        "required": ["config", "profiles", "cells"],
        "properties": {
            "config": {"type": "string"},
            "profiles": {"type": "array", "items": {"type": "object"}},
            "cells": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["source", "destination", "migratable", "first-blocker"],
                    "properties": {
                        "source": {"type": "string"},
                        "destination": {"type": "string"},
                        "migratable": {"type": "boolean"},
                        "first-blocker": {"type": "string", "nullable": True},
                    },
                },
            },
        },
    },
}

ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
    "description": "instance id",
}
NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"},
}
YAML_BODY = {
    "required": True,
    "description": "the profile file: YAML (or JSON, a subset)",
    "content": {
        "application/yaml": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object"}},
        "text/plain": {"schema": {"type": "string"}},
    },
}

NOT_FOUND = _err("no such instance")
BAD = _err("malformed request")


def _paths():
    return {
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Liveness (no token needed)",
                "security": [],
                "responses": {"200": _json(_ref("Health"))},
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text format 0.0.4)",
                "responses": {
                    "200": {
                        "description": "metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"})},
            }
        },
        "/api/v1/instances": {
            "get": {
                "operationId": "listInstances",
                "summary": "Running instances",
                "responses": {"200": _json(_ref("InstanceList"))},
            },
            "post": {
                "operationId": "createInstance",
                "summary": "Start an instance (QEMU's start-up checks and messages)",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("InstanceCreate")}},
                },
                "responses": {
                    "201": _json(_ref("Instance"), "started; Location names it"),
                    "400": _err("bad body, unknown profile or unusable address"),
                    "413": _err("body too large"),
                    "415": _err("not JSON"),
                    "422": _err(
                        "QEMU would refuse to start (class StartupError: message, "
                        "warnings, stderr) or a broken profile file"
                    ),
                },
            },
        },
        "/api/v1/instances/{id}": {
            "parameters": [ID],
            "get": {
                "operationId": "showInstance",
                "responses": {"200": _json(_ref("Instance")), "404": NOT_FOUND},
            },
            "delete": {
                "operationId": "deleteInstance",
                "summary": "Stop it like SIGTERM (SHUTDOWN event, then exit); ?force=true: like SIGKILL",
                "parameters": [{"name": "force", "in": "query", "schema": {"type": "boolean"}}],
                "responses": {"200": _json(_ref("Instance")), "404": NOT_FOUND},
            },
        },
        "/api/v1/instances/{id}/transcript": {
            "parameters": [ID],
            "get": {
                "operationId": "transcript",
                "summary": "Every QMP message, as the client saw it",
                "parameters": [
                    {
                        "name": "since",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0},
                        "description": "only entries after this sequence number",
                    }
                ],
                "responses": {"200": _json(_ref("Transcript")), "400": BAD, "404": NOT_FOUND},
            },
            "delete": {
                "operationId": "clearTranscript",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["cleared"],
                            "properties": {"cleared": {"type": "integer"}},
                        }
                    ),
                    "404": NOT_FOUND,
                },
            },
        },
        "/api/v1/instances/{id}/transcript.replies": {
            "parameters": [ID],
            "get": {
                "operationId": "transcriptReplies",
                "summary": "The transcript as a libvirt .replies file",
                "responses": {
                    "200": {
                        "description": "command/reply pairs, ids libvirt-N",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "404": NOT_FOUND,
                },
            },
        },
        "/api/v1/instances/{id}/events": {
            "parameters": [ID],
            "post": {
                "operationId": "injectEvent",
                "summary": "Emit an event to the instance's clients (data checked against the schema)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("EventInjection")}},
                },
                "responses": {
                    "202": _json(_ref("Event"), "sent"),
                    "400": BAD,
                    "404": NOT_FOUND,
                    "413": _err("body too large"),
                    "415": _err("not JSON"),
                    "422": _err("unknown event or invalid data (QEMU's visitor message)"),
                },
            },
        },
        "/api/v1/instances/{id}/faults": {
            "parameters": [ID],
            "get": {
                "operationId": "listFaults",
                "responses": {"200": _json(_ref("FaultList")), "404": NOT_FOUND},
            },
            "post": {
                "operationId": "addFault",
                "summary": "Inject a fault (delay, close, fail, oversize)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("FaultCreate")}},
                },
                "responses": {
                    "201": _json(_ref("Fault")),
                    "400": BAD,
                    "404": NOT_FOUND,
                    "413": _err("body too large"),
                    "415": _err("not JSON"),
                },
            },
            "delete": {
                "operationId": "clearFaults",
                "responses": {"200": _json(_ref("Removed")), "404": NOT_FOUND},
            },
        },
        "/api/v1/instances/{id}/faults/{fault}": {
            "parameters": [
                ID,
                {
                    "name": "fault",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                },
            ],
            "delete": {
                "operationId": "deleteFault",
                "responses": {"200": _json(_ref("Removed")), "404": _err("no such instance or fault")},
            },
        },
        "/api/v1/profiles": {
            "get": {
                "operationId": "listProfiles",
                "summary": "Profiles: the store first, then built-ins",
                "responses": {"200": _json(_ref("ProfileList"))},
            },
        },
        "/api/v1/profiles/{name}": {
            "parameters": [NAME],
            "get": {
                "operationId": "showProfile",
                "responses": {
                    "200": _json(_ref("Profile")),
                    "400": _err("invalid name"),
                    "404": _err("no such profile"),
                    "422": _err("broken profile file"),
                },
            },
            "put": {
                "operationId": "storeProfile",
                "summary": "Validate, then store atomically in the user store",
                "requestBody": YAML_BODY,
                "responses": {
                    "200": _json(_ref("ProfileStored"), "replaced"),
                    "201": _json(_ref("ProfileStored"), "created"),
                    "400": _err("invalid name or body"),
                    "403": _err("built-in profiles are read-only"),
                    "413": _err("body too large"),
                    "422": _err("invalid profile (file, path, message)"),
                },
            },
            "delete": {
                "operationId": "deleteProfile",
                "summary": "Delete a stored (user) profile",
                "responses": {
                    "200": _json(_ref("ProfileStored")),
                    "400": _err("invalid name"),
                    "403": _err("built-in or outside the store"),
                    "404": _err("no such profile"),
                },
            },
        },
        "/api/v1/profiles/{name}/validate": {
            "parameters": [NAME],
            "post": {
                "operationId": "validateProfile",
                "summary": "Validate a body (or, without one, the existing file) as profile NAME",
                "requestBody": dict(YAML_BODY, required=False),
                "responses": {
                    "200": _json(_ref("ProfileValidation")),
                    "400": _err("invalid name or body"),
                    "404": _err("no such profile"),
                    "413": _err("body too large"),
                    "422": _err("invalid profile (file, path, message)"),
                },
            },
        },
        "/api/v1/migration/plan": {
            "get": {
                "operationId": "migrationPlan",
                "summary": "The configuration that lets a guest start on SOURCE and move to DESTINATION, "
                "proved by migrating between instances on both (docs/migration.md)",
                "parameters": [
                    {"name": "source", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "destination", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "both-ways", "in": "query", "schema": {"type": "boolean"}},
                ],
                "responses": {
                    "200": _json(_ref("MigrationPlan")),
                    "400": BAD,
                    "404": _err("no such profile"),
                    "422": _err("a stored profile that does not compile"),
                },
            }
        },
        "/api/v1/migration/matrix": {
            "get": {
                "operationId": "migrationMatrix",
                "summary": "Every ordered pair of hosts (one profile each): migratable or not, the first blocker. "
                "The first request starts the computation: 202 with the progress until it is done, then 200",
                "parameters": [
                    {
                        "name": "config",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["passthrough", "planned"]},
                    }
                ],
                "responses": {
                    "200": _json(_ref("MigrationMatrix")),
                    "202": _json(_ref("MigrationMatrixProgress")),
                    "400": BAD,
                },
            }
        },
    }


def document(auth: bool = False) -> dict:
    doc = {
        "openapi": "3.0.3",
        "info": {
            "title": "qmpserver control plane",
            "version": __version__,
            "description": "Instances, profiles, transcripts, event and fault injection of a "
            "qmpserver process. See docs/http-api.md.",
        },
        "paths": copy.deepcopy(_paths()),
        "components": {"schemas": copy.deepcopy(SCHEMAS)},
    }
    if auth:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
        for path in doc["paths"].values():
            for op in path.values():
                if isinstance(op, dict) and "responses" in op and op.get("security") != []:
                    op["responses"]["401"] = _err("missing or wrong bearer token")
    else:
        for path in doc["paths"].values():
            for op in path.values():
                if isinstance(op, dict):
                    op.pop("security", None)
    return doc
