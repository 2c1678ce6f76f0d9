"""Request checking from the OpenAPI schemas: the one copy of the API's input rules.

:mod:`qmpserver.http.routes` declares every route with its parameters and body
schema; the OpenAPI document (:mod:`qmpserver.http.openapi`) is rendered from the
same declarations, and this module checks requests against them, so the
document and the server cannot disagree about what is accepted.

The checker understands the subset of OpenAPI 3.0 schemas the API uses:
``type`` (``boolean`` is never an ``integer``; ``integer`` and ``number`` refuse
NaN and infinities), ``nullable``, ``enum``, ``minimum``/``maximum`` (with
3.0's boolean ``exclusiveMinimum``), ``minLength``/``maxLength``, ``pattern``
(a search, ``$`` only at the very end, as in ECMA-262), ``properties``/``required``/
``additionalProperties``, ``items``/``maxItems``, ``oneOf`` and ``$ref``.  A
schema may carry ``x-expected``: the words used after "expected" when a value
does not fit (otherwise they are derived from the schema).

Errors are :class:`ValidationError` (HTTP 400) naming the field path:
``cpu.props.sve: expected a string, a number or a boolean``.

Query parameters arrive as strings and are converted by the schema's type:
booleans are exactly ``true`` or ``false``, integers ASCII digits (an optional
``-``): ``?force=banana`` and ``?since=²`` are errors, not defaults.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .control import BodyError

MAX_INT_DIGITS = 18  # path and query integers: ids and sequence numbers fit in 63 bits


class ValidationError(BodyError):
    """A request that does not fit its schema (HTTP 400)."""


_INT = re.compile(r"-?[0-9]{1,%d}" % MAX_INT_DIGITS)
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "an array",
}


def _deref(schema: dict, schemas: dict) -> dict:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def expected(schema: dict, schemas: dict) -> str:
    """What a value of ``schema`` is, in words (for the error message)."""
    schema = _deref(schema, schemas)
    if "x-expected" in schema:
        return schema["x-expected"]
    if "enum" in schema:
        vals = [v for v in schema["enum"] if v is not None]
        return "one of " + ", ".join(str(v) if type(v) is not str else v for v in vals)
    if "oneOf" in schema:
        words = [expected(s, schemas) for s in schema["oneOf"]]
        return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else words[0]
    t = schema.get("type")
    word = _TYPE_WORDS.get(t or "", "a value")
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if t in ("integer", "number") and (lo is not None or hi is not None):
        parts = []
        if lo is not None:
            parts.append(("> %s" if schema.get("exclusiveMinimum") else ">= %s") % lo)
        if hi is not None:
            parts.append("<= %s" % hi)
        word += " " + " and ".join(parts)
    if t == "string" and "pattern" in schema:
        word += " matching %s" % schema["pattern"]
    return word


def _fail(where: str, schema: dict, schemas: dict) -> ValidationError:
    return ValidationError("%s: expected %s" % (where or "the body", expected(schema, schemas)))


def check(schema: dict, value: Any, schemas: dict, where: str = "") -> None:
    """Raise ValidationError unless ``value`` fits ``schema`` (recursive: bodies reach it
    depth-limited by :func:`qmpserver.http.app.json_body`)."""
    schema = _deref(schema, schemas)
    if value is None:
        if schema.get("nullable") or (None in schema.get("enum", ())):
            return
        raise _fail(where, schema, schemas)
    if "oneOf" in schema:
        fits = 0
        for alt in schema["oneOf"]:
            try:
                check(alt, value, schemas, where)
            except ValidationError:
                continue
            fits += 1
        if fits != 1:
            # one alternative of the value's JSON type: its own, more precise message
            same = [a for a in schema["oneOf"] if _json_type_fits(_deref(a, schemas).get("type"), value)]
            if fits == 0 and len(same) == 1:
                check(same[0], value, schemas, where)
            raise _fail(where, schema, schemas)
        return
    t = schema.get("type")
    ok = {
        None: True,
        "string": type(value) is str,
        "integer": type(value) is int,
        "number": type(value) in (int, float) and math.isfinite(value),
        "boolean": type(value) is bool,
        "object": type(value) is dict,
        "array": type(value) is list,
    }.get(t, False)
    if not ok:
        raise _fail(where, schema, schemas)
    if "enum" in schema and value not in schema["enum"]:
        raise _fail(where, schema, schemas)
    if t in ("integer", "number"):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None and (value <= lo if schema.get("exclusiveMinimum") else value < lo):
            raise _fail(where, schema, schemas)
        if hi is not None and value > hi:
            raise _fail(where, schema, schemas)
    elif t == "string":
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            raise _fail(where, schema, schemas)
        if "pattern" in schema and not _pattern_matches(schema["pattern"], value):
            raise _fail(where, schema, schemas)
    elif t == "array":
        if len(value) > schema.get("maxItems", len(value)):
            raise ValidationError("%s: at most %d items" % (where, schema["maxItems"]))
        if "items" in schema:
            for i, item in enumerate(value):
                check(schema["items"], item, schemas, "%s[%d]" % (where, i))
    elif t == "object":
        props = schema.get("properties", {})
        for k in schema.get("required", ()):
            if k not in value:
                raise ValidationError("%s: required" % _join(where, k))
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                check(props[k], v, schemas, _join(where, k))
            elif extra is False:
                raise ValidationError(
                    "%sunknown field '%s' (expected one of: %s)"
                    % (where + ": " if where else "", k, ", ".join(props))
                )
            elif type(extra) is dict:
                check(extra, v, schemas, _join(where, k))


def _json_type_fits(t, value) -> bool:
    return {"object": dict, "array": list, "string": str, "boolean": bool}.get(t) is type(value) or (
        t in ("integer", "number") and type(value) in (int, float)
    )


def _pattern_matches(pattern: str, value: str) -> bool:
    """JSON Schema's ``pattern``: an ECMA-262 search, where ``$`` (no multiline flag) matches
    only at the very end; Python's ``$`` also matches before a final newline ('a\\n')."""
    m = re.search(pattern, value)
    return m is not None and not (pattern.endswith("$") and value.endswith("\n") and m.end() != len(value))


def _join(where: str, key: str) -> str:
    return "%s.%s" % (where, key) if where else key


def convert(schema: dict, raw: str, schemas: dict, where: str) -> Any:
    """A query or path string -> the value its schema describes (ValidationError if it is not one)."""
    schema = _deref(schema, schemas)
    t = schema.get("type")
    if t == "boolean":
        if raw not in ("true", "false"):
            raise _fail(where, schema, schemas)
        value: Any = raw == "true"
    elif t == "integer":
        if not _INT.fullmatch(raw):  # ASCII digits only: int() also takes '²', '٣' and '1_0'
            raise _fail(where, schema, schemas)
        value = int(raw)
    else:
        value = raw
    check(schema, value, schemas, where)
    return value
