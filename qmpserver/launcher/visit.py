"""Visit command-line option values against the build's QAPI schema.

QEMU reads structured options three ways, each with its own texts:

* **JSON** (``-object '{...}'``, ``-device '{...}'``, ``-blockdev '{...}'``):
  the QMP input visitor, shared with :mod:`qmpserver.qapi.visitor`;
* **keyval** (``-blockdev driver=...``, ``-display``, ``-compat``,
  ``-audiodev``, ``-smp`` / ``-boot`` inside ``-machine``): strings visited
  with ``qobject_input_visitor_new_keyval`` — ``Parameter 'x' expects integer``,
  ``Parameter 'x' expects 'on' or 'off'``, ``Parameter 'x' is unexpected``;
* **QemuOpts** (``-object qom-type,...``, legacy ``-netdev``, ``-mon``): the
  opts visitor — ``Parameter 'x' expects a size value``, ``Invalid parameter 'x'``.

A recorded (introspected) schema does not say which ``int`` members are
sizes; members named ``size``, ``align``, ``offset`` or ``*-size`` are read
as sizes (what QEMU declares them as).
"""

from __future__ import annotations

import re

from ..qapi.model import AlternateType, ArrayType, BuiltinType, EnumType, ObjectType
from .opts import QemuOptsError, strtosz

_SIZE_NAMES = ("size", "align", "offset")


def _is_size(name, t) -> bool:
    ct = getattr(t, "c_type", "")
    if ct == "size":
        return True
    return ct in ("introspected-int", "int", "uint64") and (name in _SIZE_NAMES or name.endswith("-size"))


def _full(path):
    out = ""
    for p in path:
        out = p if not out else out + "." + p
    return out


def _parse_int(text):
    try:
        return int(text, 0) if text[:2].lower() in ("0x", "0o", "0b") else int(text, 10)
    except ValueError:
        return None


# --- keyval visitor -------------------------------------------------------------------

def keyval_visit(t, value, path):
    """Visit a keyval tree (nested dicts of strings) as type ``t``; returns typed value."""
    name = _full(path)
    short = path[-1] if path else None
    tt = type(t)
    if tt is ObjectType:
        if not isinstance(value, dict):
            raise QemuOptsError("Parameter '%s' is missing" % name if value is None
                                else "Invalid parameter type for '%s', expected: object" % name)
        return _keyval_object(t, value, path)
    if isinstance(value, dict):
        raise QemuOptsError("Invalid parameter type for '%s', expected: %s" % (
            name, "array" if tt is ArrayType else "scalar"))
    if tt is EnumType:
        if value not in t.values:
            raise QemuOptsError("Parameter '%s' does not accept value '%s'" % (name, value))
        return value
    if tt is BuiltinType:
        jt = t.json_type
        if jt == "string":
            return value
        if jt == "boolean":
            if value in ("on", "yes", "true", "y"):
                return True
            if value in ("off", "no", "false", "n"):
                return False
            raise QemuOptsError("Parameter '%s' expects 'on' or 'off'" % name)
        if jt == "int":
            if _is_size(short, t):
                v = strtosz(value)
                if v is None or v < 0:
                    raise QemuOptsError("Parameter '%s' expects size" % name)
                return v
            v = _parse_int(value)
            if v is None:
                raise QemuOptsError("Parameter '%s' expects integer" % name)
            return v
        if jt == "number":
            try:
                return float(value)
            except ValueError:
                raise QemuOptsError("Parameter '%s' expects number" % name) from None
        return value
    if tt is AlternateType:
        for alt in t.alternatives:
            if type(alt) is BuiltinType and alt.json_type == "string":
                return value
        try:
            return keyval_visit(t.alternatives[0], value, path)
        except QemuOptsError:
            return value
    return value


def _keyval_object(t, d, path):
    out = {}
    consumed = set()

    def members(ms):
        for m in ms:
            if m.name in d:
                consumed.add(m.name)
                out[m.name] = keyval_visit(m.type, d[m.name], list(path) + [m.name])
            elif not m.optional:
                raise QemuOptsError("Parameter '%s' is missing" % _full(list(path) + [m.name]))

    members(t.members)
    if t.tag is not None:
        v = t.variants.get(out.get(t.tag))
        if v is not None:
            members(v.members)
    for k in d:
        if k not in consumed:
            raise QemuOptsError("Parameter '%s' is unexpected" % _full(list(path) + [k]))
    return out


# --- opts visitor -----------------------------------------------------------------------

def opts_visit(t: ObjectType, raw: dict, order=None):
    """Visit a QemuOpts group (name -> string) as object type ``t``."""
    out = {}
    consumed = set()

    def members(ms):
        for m in ms:
            if m.name in raw:
                consumed.add(m.name)
                out[m.name] = _opts_scalar(m.name, m.type, raw[m.name])
            elif not m.optional:
                raise QemuOptsError("Parameter '%s' is missing" % m.name)

    members(t.members)
    if t.tag is not None:
        v = t.variants.get(out.get(t.tag))
        if v is not None:
            members(v.members)
    for k in (order or raw):
        if k not in consumed and k != "id":
            raise QemuOptsError("Invalid parameter '%s'" % k)
    return out


def _opts_scalar(name, t, value):
    tt = type(t)
    if tt is EnumType:
        if value not in t.values:
            raise QemuOptsError("Parameter '%s' does not accept value '%s'" % (name, value))
        return value
    if tt is BuiltinType:
        jt = t.json_type
        if jt == "boolean":
            if value in ("on", "yes", "true", "y"):
                return True
            if value in ("off", "no", "false", "n"):
                return False
            raise QemuOptsError("Parameter '%s' expects 'on' or 'off'" % name)
        if jt == "int":
            if _is_size(name, t):
                v = strtosz(value)
                if v is None or v < 0:
                    raise QemuOptsError("Parameter '%s' expects a size value" % name)
                return v
            v = _parse_int(value)
            if v is None:
                ct = getattr(t, "c_type", "")
                raise QemuOptsError("Parameter '%s' expects %s" % (
                    name, "a uint64 value" if ct.startswith("uint") else "an int64 value"))
            return v
        if jt == "number":
            try:
                return float(value)
            except ValueError:
                raise QemuOptsError("Parameter '%s' expects a number" % name) from None
    return value


# --- JSON ---------------------------------------------------------------------------------

def parse_json_option(text: str):
    """``qobject_from_json`` with QEMU's error texts (the lexer is flushed at the end)."""
    from ..wire import json_stream as J
    s = J.JsonStream()
    s.feed(text.encode("utf-8", "surrogateescape"))
    msgs = []
    while True:
        m = s.next_message()
        if m is None:
            break
        msgs.append(m)
    # json_lexer_flush: finish a token cut by the end, then parse what is pending
    if s.state in (J.IN_KEYWORD, J.IN_DIGITS, J.IN_ZERO, J.IN_MANTISSA_DIGITS, J.IN_EXP_DIGITS):
        s.feed(b" ")
        m = s.next_message()
        if m is not None:
            msgs.append(m)
    if s._tokens:
        msgs.append(J.parse_tokens(s._tokens))
    if not msgs:
        raise QemuOptsError("JSON parse error, expecting value")
    first = msgs[0]
    if type(first) is J.JsonError:
        raise QemuOptsError(first.desc)
    if len(msgs) > 1:
        raise QemuOptsError("Expecting at most one JSON value")
    return first.value


def json_visit(t, value):
    """The QMP input visitor over a parsed JSON option."""
    from ..errors import QMPError
    from ..qapi.visitor import validate_value
    try:
        validate_value(t, value)
    except QMPError as e:
        desc = e.desc
        # a recorded schema only says 'int'; QEMU's size members say uint64
        m = re.match(r"Invalid parameter type for '((?:[^.']+\.)*([^.']+))', expected: integer$", desc)
        if m and (m.group(2) in _SIZE_NAMES or m.group(2).endswith("-size")):
            desc = "Parameter '%s' expects uint64" % m.group(1)
        raise QemuOptsError(desc) from None
    return value
