"""JSON output exactly as QEMU's QMP monitor writes it.

* compact form: ``", "`` between elements, ``": "`` after keys;
* object members in QDict hash order (:mod:`qmpserver.wire.qdict`);
* ASCII only: code points below 0x20 and from 0x7F up become ``\\uXXXX``
  with UPPERCASE hex (surrogate pairs beyond the BMP); ``\\b \\f \\n \\r \\t
  \\" \\\\`` use short escapes; ``/`` is not escaped;
* integers in decimal, doubles as C's ``%.17g``;
* every message ends in CRLF; ``pretty`` mode (``-mon pretty=on``) indents
  by 4 and ends every line in CRLF.

The fast path reorders dicts and hands the result to the C ``json`` encoder,
fixing up its two differences (lowercase hex escapes, DEL not escaped).  The
pure-Python writer is the reference and handles floats and pretty output.
"""

from __future__ import annotations

import re

from .qdict import wire_order

TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import JSON

try:  # the C encoder directly: importing the json package costs ~1.5 ms at start-up
    import _json

    # default=None: no fallback hook (values are JSON); typeshed wants a callable
    _make = _json.make_encoder(
        None,
        None,  # type: ignore[arg-type]
        _json.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )

    def _c_encoder(value: JSON, /) -> str:
        if type(value) is str:
            return _json.encode_basestring_ascii(value)
        return "".join(_make(value, 0))
except (ImportError, AttributeError, TypeError):  # pragma: no cover - pure-Python builds
    import json

    _c_encoder = json.JSONEncoder(
        ensure_ascii=True, check_circular=False, allow_nan=True, separators=(", ", ": ")
    ).encode

_HEX_ESCAPE = re.compile(r"(\\+)u([0-9a-f]{4})")


def _upper_hex(m: re.Match[str]) -> str:
    slashes = m.group(1)
    if len(slashes) % 2:  # an escape, not an escaped backslash followed by 'u'
        return slashes + "u" + m.group(2).upper()
    return m.group(0)


class _HasFloat(Exception):
    pass


def _reorder(value: JSON) -> JSON:
    """Copy of ``value`` with every dict in wire order; raises on floats."""
    t = type(value)
    if t is dict:
        keys = tuple(value)
        order = wire_order(keys)
        out: dict[str, JSON] = {}
        for k in order:
            v = value[k]
            tv = type(v)
            if tv is dict or tv is list:
                v = _reorder(v)
            elif tv is float:
                raise _HasFloat
            out[k] = v
        return out
    if t is list:
        items: list[JSON] = []
        for v in value:
            tv = type(v)
            if tv is dict or tv is list:
                v = _reorder(v)
            elif tv is float:
                raise _HasFloat
            items.append(v)
        return items
    if t is float:
        raise _HasFloat
    return value


def dumps(value: JSON) -> str:
    """Compact QEMU-style JSON text for ``value`` (no line ending)."""
    try:
        text = _c_encoder(_reorder(value))
    except _HasFloat:
        return _write(value, None)
    if "\\u" in text:
        text = _HEX_ESCAPE.sub(_upper_hex, text)
    if "\x7f" in text:
        text = text.replace("\x7f", "\\u007F")
    return text


class RawJSON(str):
    """Already-encoded JSON text (a big reply encoded once, e.g. the schema)."""

    __slots__ = ()


def message(value: JSON, pretty: bool = False) -> bytes:
    """One QMP message on the wire: JSON text plus CRLF line ending(s)."""
    if type(value) is dict and type(value.get("return")) is RawJSON:
        if pretty:
            import json

            from .qdict import to_insertion_order

            value = dict(value)
            value["return"] = to_insertion_order(json.loads(value["return"]))
        else:
            text: str = '{"return": ' + value["return"]
            if "id" in value:
                text += ', "id": ' + dumps(value["id"])
            return (text + "}\r\n").encode("ascii")
    if pretty:
        return (_write(value, 0).replace("\n", "\r\n") + "\r\n").encode("ascii")
    return (dumps(value) + "\r\n").encode("ascii")


# --- reference writer -------------------------------------------------------

_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _escape_char(m: re.Match[str]) -> str:
    ch = m.group(0)
    s = _SHORT.get(ch)
    if s is not None:
        return s
    cp = ord(ch)
    if 0xD800 <= cp <= 0xDFFF:  # cannot come from valid input; QEMU would print U+FFFD
        cp = 0xFFFD
    if cp > 0xFFFF:
        cp -= 0x10000
        return "\\u%04X\\u%04X" % (0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF))
    return "\\u%04X" % cp


def quote(s: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, s) + '"'


def format_number(v: float) -> str:
    if type(v) is float:
        return "%.17g" % v
    return str(int(v))


def _write(value: JSON, indent: int | None) -> str:
    """Pure-Python writer; ``indent`` None = compact, else the current depth."""
    t = type(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if t is str:
        return quote(value)
    if t is int or t is float:
        return format_number(value)
    if t is dict or isinstance(value, dict):
        if not value:  # QEMU's pretty writer still breaks the line
            return "{}" if indent is None else "{\n" + " " * (4 * indent) + "}"
        keys = wire_order(tuple(value))
        if indent is None:
            return "{" + ", ".join(quote(k) + ": " + _write(value[k], None) for k in keys) + "}"
        pad = "\n" + " " * (4 * (indent + 1))
        body = ("," + pad).join(quote(k) + ": " + _write(value[k], indent + 1) for k in keys)
        return "{" + pad + body + "\n" + " " * (4 * indent) + "}"
    if t is list or isinstance(value, (list, tuple)):
        if not value:
            return "[]" if indent is None else "[\n" + " " * (4 * indent) + "]"
        if indent is None:
            return "[" + ", ".join(_write(v, None) for v in value) + "]"
        pad = "\n" + " " * (4 * (indent + 1))
        body = ("," + pad).join(_write(v, indent + 1) for v in value)
        return "[" + pad + body + "\n" + " " * (4 * indent) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return "%.17g" % value
    if isinstance(value, str):
        return quote(str(value))
    raise TypeError("cannot encode %r" % (value,))


def dumps_reference(value: JSON) -> str:
    """The pure-Python compact writer (used by tests to check the fast path)."""
    return _write(value, None)
