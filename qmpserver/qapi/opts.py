"""QEMU's option syntaxes and their visitors, below both the launcher and the commands.

One owner for the rules every ``-option`` string and every option-shaped QMP
argument follows:

* **QemuOpts** (``util/qemu-option.c``): ``implied,key=value,...`` with ``,,``
  escaping a comma, typed ``bool``/``number``/``size``/``string``
  parameters, a bare flag meaning ``on``;
* **keyval** (``util/keyval.c``): dotted keys building nested dicts;
* **booleans**: QEMU's ``qapi_bool_parse`` (``qapi/qapi-util.c``) accepts
  ``on``/``yes``/``true``/``y`` and ``off``/``no``/``false``/``n``
  (:func:`bool_word`, :func:`parse_bool`) — every boolean read from a string
  goes through here;
* **sizes**: ``qemu_strtosz`` (``util/cutils.c``, :func:`strtosz`);
* **identifiers**: ``id_wellformed`` (``util/id.c``, :func:`id_wellformed`);
* the **visitors** over those strings (``qapi/qobject-input-visitor.c`` in
  keyval mode, ``qapi/opts-visitor.c``) and over JSON option values.

Visiting option values against the build's QAPI schema: QEMU reads structured options three ways, each with its own texts:

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

from ..errors import QMPError
from .model import AlternateType, ArrayType, BuiltinType, EnumType, ObjectType
from .visitor import validate_value

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any

    from ..wire import JSON
    from ..wire.json_stream import JsonError, JsonValue
    from .model import Member, Type


# -chardev backend names of QEMU 7.2 (chardev/char.c, its -chardev help) and
# the legacy names it maps (chardev/char.c: chardev_alias_table)
CHARDEV_BACKENDS = (
    "braille",
    "dbus",
    "file",
    "memory",
    "msmouse",
    "mux",
    "null",
    "parallel",
    "pipe",
    "pty",
    "ringbuf",
    "serial",
    "socket",
    "spiceport",
    "spicevmc",
    "stdio",
    "testdev",
    "tty",
    "udp",
    "vc",
    "wctablet",
)
CHARDEV_ALIASES = {"tty": "serial", "parport": "parallel", "memory": "ringbuf"}


class OptsError(ValueError):
    pass


def split_commas(s: str) -> list[str]:
    """Split on single commas; ``,,`` stands for a literal comma."""
    out: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == ",":
            if i + 1 < len(s) and s[i + 1] == ",":
                cur.append(",")
                i += 2
                continue
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def parse_opts(s: str, implied: str | None = None) -> dict[str, str]:
    """Parse a QemuOpts string into an ordered dict (later keys win, like QEMU)."""
    out: dict[str, str] = {}
    for i, part in enumerate(split_commas(s)):
        if part == "" and i > 0:
            continue
        if "=" in part:
            k, _, v = part.partition("=")
            out[k] = v
        elif i == 0 and implied is not None:
            out[implied] = part
        else:
            # a bare flag means "on" (QemuOpts boolean shorthand)
            out[part] = "on"
    return out


def parse_cpu(s: str) -> tuple[str, dict[str, str]]:
    """``-cpu model,prop=value,+feat,-feat`` -> (model, props).

    QEMU 7.2 ``cpu.c`` ``parse_cpu_option``: the model ends at the first comma (no ``,,``
    escape: ``max,,`` is model ``max``), and the features are cut at every comma with empty
    pieces skipped (``cpu_common_parse_features``/``x86_cpu_parse_featurestr`` use
    ``strtok``)."""
    model, _, rest = s.partition(",")
    props: dict[str, str] = {}
    for p in rest.split(","):
        if not p:
            continue
        if p[0] in "+-" and "=" not in p:
            props[p[1:]] = "on" if p[0] == "+" else "off"
        elif "=" in p:
            k, _, v = p.partition("=")
            props[k] = v
        else:
            props[p] = "on"
    return model, props


# --- QemuOpts (util/qemu-option.c) ------------------------------------------------
#
# The launcher parses most options the way QEMU 7.2 does, with its texts:
# ``Invalid parameter 'x'``, ``Parameter 'x' expects 'on' or 'off'``, the
# short-form boolean deprecation warning, ``Duplicate ID 'x' for <list>``.

SIZE_HINT = (
    "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively."
)


class QemuOptsError(OptsError):
    """An option string QEMU refuses: ``message`` plus optional hint lines."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class OptsList:
    """A ``QemuOptsList``: ``desc`` maps name -> type (string|bool|number|size);
    ``desc=None`` accepts any parameter (as lists with an empty description do)."""

    def __init__(
        self, name: str, implied: str | None = None, desc: dict[str, str] | None = None, merge: bool = False
    ) -> None:
        self.name = name
        self.implied = implied
        self.desc = desc
        self.merge = merge
        self.groups: list[dict[str, Any]] = []  # parsed QemuOpts, each {"id": .., "parsed": Parsed}

    def find(self, id_: str | None) -> dict[str, Any] | None:
        for g in self.groups:
            if g["id"] == id_:
                return g
        return None


# qapi_bool_parse (qapi/qapi-util.c): the only words QEMU reads as booleans
_BOOL_WORDS = {
    "on": True,
    "yes": True,
    "true": True,
    "y": True,
    "off": False,
    "no": False,
    "false": False,
    "n": False,
}


def bool_word(value: object) -> bool | None:
    """``qapi_bool_parse``: True/False for QEMU's boolean words, None for anything else."""
    return _BOOL_WORDS.get(value) if isinstance(value, str) else None


def parse_bool(value: str, name: str) -> bool:
    """A boolean option value, or ``Parameter 'NAME' expects 'on' or 'off'``
    (the text of the keyval, opts and string input visitors alike)."""
    b = _BOOL_WORDS.get(value)
    if b is None:
        raise QemuOptsError("Parameter '%s' expects 'on' or 'off'" % name)
    return b


_SUFFIXES = {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60}


def strtosz(text: str, default_suffix: str = "B") -> int | None:
    """``qemu_strtosz``: a size with an optional suffix; None if malformed, -1 if too large."""
    s = text.strip(" \t\n")
    if s != text.lstrip(" \t\n") or not s:
        return None
    i = 0
    n = len(s)
    if s.startswith(("0x", "0X")):
        j = 2
        while j < n and s[j] in "0123456789abcdefABCDEF":
            j += 1
        if j == 2:
            return None
        val = int(s[2:j], 16)
        frac = 0.0
        i = j
        if i < n and s[i] == ".":
            return None
    else:
        j = 0
        while j < n and s[j].isdigit():
            j += 1
        if j == 0:
            return None
        whole = s[:j]
        i = j
        frac = 0.0
        if i < n and s[i] == ".":
            k = i + 1
            while k < n and s[k].isdigit():
                k += 1
            if k == i + 1:
                return None
            frac = float("0" + s[i:k])
            i = k
        val = int(whole)
    rest = s[i:]
    if rest == "":
        mul = _SUFFIXES[default_suffix]
    elif len(rest) == 1 and rest.upper() in _SUFFIXES:
        mul = _SUFFIXES[rest.upper()]
    else:
        return None
    if frac and mul == 1:
        return None
    total = val * mul + int(frac * mul)
    if total >= 1 << 64:
        return -1
    return total


def _parse_typed(name: str, typ: str, value: str) -> bool | int | str:
    if typ == "bool":
        return parse_bool(value, name)
    v: int | None
    if typ == "number":
        try:
            v = int(value, 0)
        except ValueError:
            v = None
        if v is not None and v >= 1 << 64:  # parse_option_number: ERANGE from qemu_strtou64
            raise QemuOptsError("Value '%s' is too large for parameter '%s'" % (value, name))
        if v is None or v < 0:
            raise QemuOptsError("Parameter '%s' expects a number" % name)
        return v
    if typ == "size":
        v = strtosz(value)
        if v == -1:  # parse_option_size: ERANGE from qemu_strtosz
            raise QemuOptsError("Value '%s' is out of range for parameter '%s'" % (value, name))
        if v is None:
            raise QemuOptsError("Parameter '%s' expects a non-negative number below 2^64" % name, SIZE_HINT)
        return v
    return value


def _get_opt_value(s: str, i: int) -> tuple[str, int]:
    """Read a value up to a single comma (``,,`` is a literal comma)."""
    out: list[str] = []
    n = len(s)
    while i < n:
        c = s[i]
        if c == ",":
            if i + 1 < n and s[i + 1] == ",":
                out.append(",")
                i += 2
                continue
            break
        out.append(c)
        i += 1
    return "".join(out), i


def _name_value(
    s: str, i: int, firstname: str | None, warn_on_flag: bool, warnings: list[tuple[str, str]]
) -> tuple[str, str, int, bool]:
    """``get_opt_name_value``: -> (name, value, next index, is_help)."""
    j = i
    n = len(s)
    while j < n and s[j] not in "=,":
        j += 1
    is_help = False
    if j >= n or s[j] != "=":
        if firstname is not None:
            name = firstname
            value, k = _get_opt_value(s, i)
        else:
            name = s[i:j]
            k = j
            prefix = ""
            if name.startswith("no"):
                name = name[2:]
                value = "off"
                prefix = "no"
            else:
                value = "on"
                is_help = name == "help"
            if not is_help and warn_on_flag:
                hint = (
                    "Please use nodelay=%s instead" % ("on" if prefix else "off")
                    if name == "delay"
                    else "Please use %s=%s instead" % (name, value)
                )
                warnings.append(("short-form boolean option '%s%s' deprecated" % (prefix, name), hint))
    else:
        name = s[i:j]
        value, k = _get_opt_value(s, j + 1)
    if k < n and s[k] == ",":
        k += 1
    return name, value, k, is_help


def id_wellformed(id_: str) -> bool:
    """``id_wellformed`` (util/id.c): a letter, then letters, digits, '-', '.', '_'."""
    if not id_ or not id_[0].isascii() or not id_[0].isalpha():
        return False
    return all(c.isascii() and (c.isalnum() or c in "-._") for c in id_)


class Parsed:
    """One parsed QemuOpts group: ``id``, ``opts`` (name -> typed value, last wins),
    ``raw`` (name -> string), ``order`` (names as given), ``help`` (help was asked)."""

    __slots__ = ("id", "opts", "raw", "order", "help", "warnings")

    def __init__(self, id_: str | None) -> None:
        self.id = id_
        self.opts: dict[str, Any] = {}
        self.raw: dict[str, str] = {}
        self.order: list[str] = []
        self.help = False
        self.warnings: list[tuple[str, str]] = []

    def get(self, name: str, default: Any = None) -> Any:
        return self.opts.get(name, default)


def qemu_opts_parse(
    lst: OptsList,
    params: str,
    permit_abbrev: bool = False,
    warn_on_flag: bool = True,
    store: bool = True,
    warnings: list[tuple[str, str]] | None = None,
) -> Parsed:
    """``qemu_opts_parse_noisily``: raises QemuOptsError.  Warnings (short-form
    booleans) are appended as (text, hint) pairs to ``warnings`` as they occur
    (so they survive an error later in the same string), else to ``.warnings``."""
    # opts_parse_id: the first 'id=' parameter
    id_: str | None = None
    i = 0
    while i < len(params):
        name, value, i, _ = _name_value(params, i, None, False, [])
        if name == "id":
            id_ = value
            break
    if id_ is not None:
        if not id_wellformed(id_):
            raise QemuOptsError(
                "Parameter 'id' expects an identifier",
                "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.",
            )
        old = lst.find(id_)
        if old is not None:
            if not lst.merge:
                raise QemuOptsError("Duplicate ID '%s' for %s" % (id_, lst.name))
            group: Parsed | None = old["parsed"]
        else:
            group = None
    elif lst.merge:
        old = lst.find(None)
        group = old["parsed"] if old is not None else None
    else:
        group = None
    fresh = group is None
    if group is None:
        group = Parsed(id_)
    if warnings is None:
        warnings = group.warnings
    firstname = lst.implied if permit_abbrev else None
    i = 0
    while i < len(params):
        name, value, i, is_help = _name_value(params, i, firstname, warn_on_flag, warnings)
        if is_help:
            group.help = True
            return group
        firstname = None
        if name == "id":
            continue
        if lst.desc is not None:
            typ = lst.desc.get(name)
            if typ is None:
                raise QemuOptsError("Invalid parameter '%s'" % name)
        else:
            typ = "string"
        group.opts[name] = _parse_typed(name, typ, value)
        group.raw[name] = value
        group.order.append(name)
    if fresh and store:
        lst.groups.append({"id": id_, "parsed": group})
    return group


# --- keyval (util/keyval.c) ---------------------------------------------------------


def _qapi_name_len(s: str, i: int) -> int:
    """Length of a QAPI name fragment at s[i:] (letters, digits, '-', '_'; first a letter)."""
    n = len(s)
    if i >= n or not (s[i].isascii() and s[i].isalpha()):
        return 0
    j = i + 1
    while j < n and s[j].isascii() and (s[j].isalnum() or s[j] in "-_"):
        j += 1
    return j - i


def keyval_parse(
    params: str, implied_key: str | None = None, into: dict[str, Any] | None = None
) -> tuple[dict[str, Any], bool]:
    """``keyval_parse``: -> (dict of nested dicts/strings, help wanted).

    Raises QemuOptsError with QEMU's texts (``Expected '=' after parameter 'x'``,
    ``Invalid parameter 'x'``, ``Parameters 'x.*' used inconsistently``)."""
    out: dict[str, Any] = {} if into is None else into
    help_ = False
    i = 0
    n = len(params)
    while i < n:
        j = i
        while j < n and params[j] not in "=,":
            j += 1
        length = j - i
        if length and (j >= n or params[j] != "="):
            frag = params[i:j]
            if frag == "help":
                help_ = True
                i = j + 1 if j < n else j
                implied_key = None
                continue
            if implied_key is not None:
                _keyval_put(out, implied_key.split("."), frag, implied_key)
                i = j + 1 if j < n else j
                implied_key = None
                continue
        implied_key = None
        # key fragments
        k = i
        parts: list[str] = []
        while True:
            ln = _qapi_name_len(params, k)
            if ln == 0 or ln > 127:
                end = k
                while end < n and params[end] not in "=,":
                    end += 1
                # the whole key up to '=' or ',', empty when the item starts with one
                bad = params[i:end]
                raise QemuOptsError("Invalid parameter '%s'" % bad)
            parts.append(params[k : k + ln])
            k += ln
            if k < n and params[k] == ".":
                k += 1
                continue
            break
        if k >= n or params[k] != "=":
            raise QemuOptsError("Expected '=' after parameter '%s'" % params[i:k])
        value, k = _get_opt_value(params, k + 1)
        if k < n and params[k] == ",":
            k += 1
        _keyval_put(out, parts, value, params[i : i + sum(len(p) for p in parts) + len(parts) - 1])
        i = k
    return out, help_


def _keyval_put(d: dict[str, Any], parts: list[str], value: str, key_text: str) -> None:
    cur = d
    for idx, p in enumerate(parts[:-1]):
        nxt = cur.get(p)
        if nxt is None:
            nxt = cur[p] = {}
        elif not isinstance(nxt, dict):
            raise QemuOptsError("Parameters '%s.*' used inconsistently" % ".".join(parts[: idx + 1]))
        cur = nxt
    last = parts[-1]
    old = cur.get(last)
    if isinstance(old, dict):
        raise QemuOptsError("Parameters '%s.*' used inconsistently" % ".".join(parts))
    cur[last] = value


def keyval_merge(dest: dict[str, Any], src: dict[str, Any]) -> dict[str, Any]:
    """``keyval_merge``: nested merge, later values win."""
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dest.get(k), dict):
            keyval_merge(dest[k], v)
        else:
            dest[k] = v
    return dest


# --- visitors ---------------------------------------------------------------------------


_SIZE_NAMES = ("size", "align", "offset")


def _is_size(name: str, t: Type) -> bool:
    ct = getattr(t, "c_type", "")
    if ct == "size":
        return True
    return ct in ("introspected-int", "int", "uint64") and (name in _SIZE_NAMES or name.endswith("-size"))


def _full(path: Sequence[str]) -> str:
    out = ""
    for p in path:
        out = p if not out else out + "." + p
    return out


def _parse_int(text: str) -> int | None:
    try:
        return int(text, 0) if text[:2].lower() in ("0x", "0o", "0b") else int(text, 10)
    except ValueError:
        return None


# --- keyval visitor -------------------------------------------------------------------


def keyval_visit(t: Any, value: Any, path: list[str]) -> Any:
    # ``t`` is Any: the branches dispatch on type(t) identity, which the checker does not narrow
    """Visit a keyval tree (nested dicts of strings) as type ``t``; returns typed value."""
    name = _full(path)
    short = path[-1] if path else ""  # the root is an object (a dict), never a scalar
    tt = type(t)
    if tt is ObjectType:
        if not isinstance(value, dict):
            raise QemuOptsError(
                "Parameter '%s' is missing" % name
                if value is None
                else "Invalid parameter type for '%s', expected: object" % name
            )
        return _keyval_object(t, value, path)
    if isinstance(value, dict):
        raise QemuOptsError(
            "Invalid parameter type for '%s', expected: %s" % (name, "array" if tt is ArrayType else "scalar")
        )
    if tt is EnumType:
        if value not in t.values:
            raise QemuOptsError("Parameter '%s' does not accept value '%s'" % (name, value))
        return value
    if tt is BuiltinType:
        jt = t.json_type
        if jt == "string":
            return value
        if jt == "boolean":
            return parse_bool(value, name)
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


def _keyval_object(t: ObjectType, d: dict[str, Any], path: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    consumed: set[str] = set()

    def members(ms: Iterable[Member]) -> None:
        for m in ms:
            if m.name in d:
                consumed.add(m.name)
                out[m.name] = keyval_visit(m.type, d[m.name], list(path) + [m.name])
            elif not m.optional:
                raise QemuOptsError("Parameter '%s' is missing" % _full(list(path) + [m.name]))

    members(t.members)
    if t.tag is not None:
        tag_value: JSON = out.get(t.tag)  # absent (None) finds no variant
        v = t.variants.get(tag_value)
        if v is not None:
            members(v.members)
    for k in d:
        if k not in consumed:
            raise QemuOptsError("Parameter '%s' is unexpected" % _full(list(path) + [k]))
    return out


# --- opts visitor -----------------------------------------------------------------------


def opts_visit(t: ObjectType, raw: dict[str, str], order: list[str] | None = None) -> dict[str, Any]:
    """Visit a QemuOpts group (name -> string) as object type ``t``."""
    out: dict[str, Any] = {}
    consumed: set[str] = set()

    def members(ms: Iterable[Member]) -> None:
        for m in ms:
            if m.name in raw:
                consumed.add(m.name)
                out[m.name] = _opts_scalar(m.name, m.type, raw[m.name])
            elif not m.optional:
                raise QemuOptsError("Parameter '%s' is missing" % m.name)

    members(t.members)
    if t.tag is not None:
        tag_value: JSON = out.get(t.tag)  # absent (None) finds no variant
        v = t.variants.get(tag_value)
        if v is not None:
            members(v.members)
    for k in order or raw:
        if k not in consumed and k != "id":
            raise QemuOptsError("Invalid parameter '%s'" % k)
    return out


def _opts_scalar(name: str, t: Any, value: str) -> Any:
    # ``t`` is Any: the branches dispatch on type(t) identity, which the checker does not narrow
    tt = type(t)
    if tt is EnumType:
        if value not in t.values:
            raise QemuOptsError("Parameter '%s' does not accept value '%s'" % (name, value))
        return value
    if tt is BuiltinType:
        jt = t.json_type
        if jt == "boolean":
            return parse_bool(value, name)
        if jt == "int":
            if _is_size(name, t):
                v = strtosz(value)
                if v is None or v < 0:
                    raise QemuOptsError("Parameter '%s' expects a size value" % name)
                return v
            v = _parse_int(value)
            if v is None:
                ct = getattr(t, "c_type", "")
                raise QemuOptsError(
                    "Parameter '%s' expects %s"
                    % (name, "a uint64 value" if ct.startswith("uint") else "an int64 value")
                )
            return v
        if jt == "number":
            try:
                return float(value)
            except ValueError:
                raise QemuOptsError("Parameter '%s' expects a number" % name) from None
    return value


# --- JSON ---------------------------------------------------------------------------------


def parse_json_option(text: str) -> JSON:
    """``qobject_from_json`` with QEMU's error texts (the lexer is flushed at the end)."""
    from ..wire import json_stream as J  # lazy: JSON-form options only; keeps -version lean

    s = J.JsonStream()
    s.feed(text.encode("utf-8", "surrogateescape"))
    msgs: list[JsonValue | JsonError] = []
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
    return first.value  # type: ignore[union-attr]  # a JsonError raised above (type() is not narrowed)


def json_visit(t: Type, value: JSON) -> JSON:
    """The QMP input visitor over a parsed JSON option."""
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


# --- -boot -----------------------------------------------------------------------------

_BOOT = (
    ("order", "str"),
    ("once", "str"),
    ("menu", "bool"),
    ("splash", "str"),
    ("splash-time", "int"),
    ("reboot-timeout", "int"),
    ("strict", "bool"),
)


def parse_boot(boot: dict[str, Any]) -> dict[str, Any]:
    """``-machine boot.*`` / ``-boot``: ``BootConfiguration`` through the keyval visitor
    (QEMU 7.2 ``softmmu/vl.c`` qemu_apply_machine_options); raises QMPError."""
    out: dict[str, Any] = {}
    names = [n for n, _ in _BOOT]
    for name, typ in _BOOT:
        if name not in boot:
            continue
        v = boot[name]
        if isinstance(v, dict):
            raise QMPError("Invalid parameter type for 'boot.%s', expected: scalar" % name)
        if typ == "bool":
            b = bool_word(v)
            if b is None:
                raise QMPError("Parameter 'boot.%s' expects 'on' or 'off'" % name)
            v = b
        elif typ == "int":
            try:
                v = int(v, 0)
            except ValueError:
                raise QMPError("Parameter 'boot.%s' expects integer" % name) from None
        out[name] = v
    for k in boot:
        if k not in names:
            raise QMPError("Parameter 'boot.%s' is unexpected" % k)
    for name in ("order", "once"):
        if name in out:
            validate_bootdevices(out[name])
    return out


def validate_bootdevices(devices: str) -> None:
    """QEMU 7.2 ``softmmu/bootdevice.c`` ``validate_bootdevices``, run on ``order`` then
    ``once`` once the machine's boot configuration is set: each letter names a device
    class from ``a`` to ``p`` and appears once; raises QMPError."""
    seen: set[str] = set()
    for c in devices:
        if not "a" <= c <= "p":
            raise QMPError("Invalid boot device '%s'" % c)
        if c in seen:
            raise QMPError("Boot device '%s' was given twice" % c)
        seen.add(c)
