"""The OpenAPI 3.0 document of the HTTP API (served at ``/api/v1/openapi.json``).

The paths come from the route table (:data:`qmpserver.http.routes.ROUTES`), the
component schemas from :data:`SCHEMAS` below; requests are checked against the
same schemas (:mod:`qmpserver.http.validate`), so the document is the rule.
``tests/integration/http/test_http_openapi.py`` runs schemathesis against the
live app, ``tests/integration/http/test_http_fuzz.py`` hostile requests.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import __version__
from ..errors import ERROR_CLASSES
from ..vm.abi import FORMAT as ABI_FORMAT
from .faults import DEFAULT_OVERSIZE, KINDS, MAX_DELAY, MAX_OVERSIZE


def _ref(name):
    return {"$ref": "#/components/schemas/%s" % name}


def _json(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description):
    return _json(_ref("Error"), description)


NULLABLE_STRING = {"type": "string", "nullable": True}
OPTION_VALUE = {
    "x-expected": "a string, a number or a boolean",
    "oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}],
}

SCHEMAS: dict[str, Any] = {
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
            "strict": {
                "type": "boolean",
                "description": "strict mode: a read-only command neither modelled nor recorded answers a "
                "GenericError instead of its return type's default",
            },
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
            "spapr-caps": {
                "type": "object",
                "description": "ppc64 pseries only: every cap-* machine property's value (as qom-get "
                "answers it); absent on other targets",
                "additionalProperties": {},
            },
            "cas-ov5": {
                "type": "object",
                "description": "ppc64 pseries only: what client-architecture-support tells the guest "
                "(ibm,architecture-vec-5): radix and GTSE; travels with a migrating guest; absent on other targets",
                "properties": {"radix": {"type": "boolean"}, "gtse": {"type": "boolean"}},
            },
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
            "profile": {
                "type": "string",
                "minLength": 1,
                "x-expected": "a profile name (leave the field out for the default)",
                "description": "profile name, from the store or built in (default: the default profile); "
                "a file path only when the server runs with --http-allow-profile-paths",
            },
            "name": {"type": "string", "description": "-name"},
            "uuid": {"type": "string", "description": "-uuid"},
            "machine": {
                "description": "-machine: 'virt,mte-version=3' or {type: virt, mte-version: 3}",
                "x-expected": "an option string ('virt,gic-version=3') or an object",
                "oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": OPTION_VALUE}],
            },
            "accel": {
                "description": "'kvm', 'tcg', a fallback list 'kvm:tcg' or an array",
                "x-expected": "'kvm', 'tcg', a fallback list 'kvm:tcg' or an array of names",
                "oneOf": [{"type": "string"}, {"type": "array", "maxItems": 8, "items": {"type": "string"}}],
            },
            "cpu": {
                "description": "-cpu: 'max,sve=off' or {model, props}",
                "x-expected": "'MODEL[,PROP=VALUE...]' or {model, props}",
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "required": ["model"],
                        "additionalProperties": False,
                        "properties": {
                            "model": {"type": "string"},
                            "props": {"type": "object", "additionalProperties": OPTION_VALUE},
                        },
                    },
                ],
            },
            "smp": {
                "x-expected": "a number of CPUs or an option string",
                "oneOf": [{"type": "integer"}, {"type": "string"}],
            },
            "memory": {"type": "integer", "minimum": 1, "x-expected": "a size in bytes"},
            "paused": {"type": "boolean", "description": "-S: start in prelaunch"},
            "no_shutdown": {"type": "boolean", "description": "-no-shutdown"},
            "preconfig": {"type": "boolean", "description": "--preconfig"},
            "strict": {
                "type": "boolean",
                "description": "a read-only command neither modelled nor recorded for the build answers a "
                "GenericError naming it instead of its return type's default (serve --strict; default false)",
            },
            "incoming": {"type": "string", "description": "-incoming URI (e.g. defer): start in inmigrate"},
            "qmp": {
                "type": "array",
                "maxItems": 8,
                "items": {
                    "type": "string",
                    "pattern": "^(unix|tcp):",
                    "x-expected": "unix:PATH or tcp:HOST:PORT",
                },
                "x-expected": "an array of addresses (unix:PATH, tcp:HOST:PORT)",
                "description": "listeners, unix:PATH or tcp:HOST:PORT (PORT 0 = any); default: a private unix "
                "socket. A unix PATH must be new and in the server's socket directory (relative paths are "
                "taken there); --http-socket-dir chooses that directory",
            },
            "transcript": {
                "type": "integer",
                "minimum": 0,
                "maximum": 1000000,
                "x-expected": "the number of messages to keep (0 = none)",
                "description": "messages kept in the transcript",
            },
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
            "event": {"type": "string", "example": "GUEST_PANICKED", "x-expected": "the event name"},
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
    "InjectedEvent": {
        "type": "object",
        "required": ["timestamp", "event", "delivered"],
        "properties": {
            "timestamp": {
                "type": "object",
                "properties": {"seconds": {"type": "integer"}, "microseconds": {"type": "integer"}},
            },
            "event": {"type": "string"},
            "data": {},
            "delivered": {
                "type": "integer",
                "description": "clients that received it (connected and past qmp_capabilities); 0: "
                "nobody did, and the transcript records it with conn 0",
            },
        },
    },
    "FaultCreate": {
        "type": "object",
        "required": ["kind"],
        "additionalProperties": False,
        "properties": {
            "kind": {"type": "string", "enum": list(KINDS)},
            "command": {
                "type": "string",
                "x-expected": "a command name",
                "description": "only this command (required for 'fail'; must be in the build's schema)",
            },
            "count": {"type": "integer", "minimum": 1, "default": 1, "x-expected": "a positive integer"},
            "permanent": {"type": "boolean", "default": False},
            "seconds": {
                "type": "number",
                "exclusiveMinimum": True,
                "minimum": 0,
                "maximum": MAX_DELAY,
                "x-expected": "a delay in seconds (0 < seconds <= %d)" % MAX_DELAY,
                "description": "delay (only for kind delay, required there)",
            },
            "class": {
                "type": "string",
                "enum": list(ERROR_CLASSES),
                "description": "fail (only for kind fail)",
            },
            "desc": {"type": "string", "description": "fail (only for kind fail)"},
            "bytes": {
                "type": "integer",
                "minimum": 64,
                "maximum": MAX_OVERSIZE,
                "default": DEFAULT_OVERSIZE,
                "x-expected": "a reply size in bytes (64 to %d)" % MAX_OVERSIZE,
                "description": "oversize: total reply size (only for kind oversize)",
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
    "StubCreate": {
        "type": "object",
        "required": ["command"],
        "additionalProperties": False,
        "properties": {
            "command": {
                "type": "string",
                "x-expected": "a command name",
                "description": "the command to answer (must be in the build's schema)",
            },
            "args": {
                "type": "object",
                "additionalProperties": True,
                "description": "answer only calls whose arguments equal these (valid arguments of the "
                "command); absent: every call",
            },
            "times": {
                "type": "integer",
                "minimum": 1,
                "x-expected": "a positive integer",
                "description": "answer this many calls, then go; absent: until removed",
            },
            "return": {
                "description": "the reply's 'return' value: exactly what the build's schema lets the "
                "command return (member order aside); exactly one of return and error",
            },
            "error": {
                "type": "object",
                "required": ["desc"],
                "additionalProperties": False,
                "properties": {
                    "class": {"type": "string", "enum": list(ERROR_CLASSES), "default": "GenericError"},
                    "desc": {"type": "string"},
                },
            },
        },
    },
    "Stub": {
        "type": "object",
        "required": ["id", "command", "args", "predicate", "times", "remaining", "hits", "satisfied"],
        "properties": {
            "id": {"type": "integer"},
            "command": {"type": "string"},
            "args": {"type": "object", "nullable": True},
            "predicate": {"type": "boolean", "description": "matched by an in-process predicate"},
            "times": {"type": "integer", "nullable": True},
            "remaining": {"type": "integer", "nullable": True},
            "hits": {"type": "integer"},
            "satisfied": {"type": "boolean", "description": "used 'times' times (or, until removed, once)"},
            "return": {},
            "error": {
                "type": "object",
                "properties": {"class": {"type": "string"}, "desc": {"type": "string"}},
            },
        },
    },
    "StubList": {
        "type": "object",
        "required": ["stubs"],
        "properties": {"stubs": {"type": "array", "items": _ref("Stub")}},
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
            "notes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "what a migratable cell does not prove for this target (x86_64 "
                "passthrough: the guest's CPUID is not carried); absent when there is nothing to say",
            },
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


def document(auth: bool = False) -> dict:
    """The document: paths from the route table (:mod:`qmpserver.http.routes`), schemas from here."""
    from .routes import openapi_paths

    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "qmpserver control plane",
            "version": __version__,
            "description": "Instances, profiles, transcripts, event and fault injection of a "
            "qmpserver process. See docs/http-api.md.",
        },
        "paths": copy.deepcopy(openapi_paths()),
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
