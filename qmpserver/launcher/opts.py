"""QEMU option-string syntax: ``implied,key=value,key2=value2`` (``,,`` escapes a comma).

Shared by ``qmpserver serve --machine/--cpu`` and the QEMU-compatible launcher.
"""

from __future__ import annotations


class OptsError(ValueError):
    pass


def split_commas(s: str) -> list:
    """Split on single commas; ``,,`` stands for a literal comma."""
    out, cur, i = [], [], 0
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


def parse_opts(s: str, implied: str | None = None) -> dict:
    """Parse a QemuOpts string into an ordered dict (later keys win, like QEMU)."""
    out: dict = {}
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


def parse_bool(value: str, name: str) -> bool:
    if value in ("on", "yes", "true", "y"):
        return True
    if value in ("off", "no", "false", "n"):
        return False
    raise OptsError("Parameter '%s' expects 'on' or 'off'" % name)


def parse_cpu(s: str):
    """``-cpu model,prop=value,+feat,-feat`` -> (model, props)."""
    parts = split_commas(s)
    model = parts[0]
    props: dict = {}
    for p in parts[1:]:
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

SIZE_HINT = ("Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
             "and exabytes, respectively.")


class QemuOptsError(OptsError):
    """An option string QEMU refuses: ``message`` plus optional hint lines."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint


class OptsList:
    """A ``QemuOptsList``: ``desc`` maps name -> type (string|bool|number|size);
    ``desc=None`` accepts any parameter (as lists with an empty description do)."""

    def __init__(self, name, implied=None, desc=None, merge=False):
        self.name = name
        self.implied = implied
        self.desc = desc
        self.merge = merge
        self.groups: list = []          # parsed QemuOpts, each {"id": .., "opts": {..}}

    def find(self, id_):
        for g in self.groups:
            if g["id"] == id_:
                return g
        return None


_BOOL_ON = ("on", "yes", "true", "y")
_BOOL_OFF = ("off", "no", "false", "n")


def qapi_bool(value: str, name: str) -> bool:
    if value in _BOOL_ON:
        return True
    if value in _BOOL_OFF:
        return False
    raise QemuOptsError("Parameter '%s' expects 'on' or 'off'" % name)


_SUFFIXES = {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60}


def strtosz(text: str, default_suffix: str = "B"):
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


def _parse_typed(name, typ, value):
    if typ == "bool":
        return qapi_bool(value, name)
    if typ == "number":
        try:
            v = int(value, 0)
        except ValueError:
            v = None
        if v is None or v < 0 or v >= 1 << 64:
            raise QemuOptsError("Parameter '%s' expects a number" % name)
        return v
    if typ == "size":
        v = strtosz(value)
        if v == -1:
            raise QemuOptsError("Value '%s' is too large for parameter '%s'" % (value, name))
        if v is None:
            raise QemuOptsError("Parameter '%s' expects a non-negative number below 2^64" % name,
                                SIZE_HINT)
        return v
    return value


def _get_opt_value(s: str, i: int):
    """Read a value up to a single comma (``,,`` is a literal comma)."""
    out = []
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


def _name_value(s: str, i: int, firstname, warn_on_flag, warnings):
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
                hint = ("Please use nodelay=%s instead" % ("on" if prefix else "off")
                        if name == "delay" else "Please use %s=%s instead" % (name, value))
                warnings.append(("short-form boolean option '%s%s' deprecated" % (prefix, name), hint))
    else:
        name = s[i:j]
        value, k = _get_opt_value(s, j + 1)
    if k < n and s[k] == ",":
        k += 1
    return name, value, k, is_help


def _id_wellformed(id_: str) -> bool:
    if not id_ or not id_[0].isascii() or not id_[0].isalpha():
        return False
    return all(c.isascii() and (c.isalnum() or c in "-._") for c in id_)


class Parsed:
    """One parsed QemuOpts group: ``id``, ``opts`` (name -> typed value, last wins),
    ``raw`` (name -> string), ``order`` (names as given), ``help`` (help was asked)."""

    __slots__ = ("id", "opts", "raw", "order", "help", "warnings")

    def __init__(self, id_):
        self.id = id_
        self.opts: dict = {}
        self.raw: dict = {}
        self.order: list = []
        self.help = False
        self.warnings: list = []

    def get(self, name, default=None):
        return self.opts.get(name, default)


def qemu_opts_parse(lst: OptsList, params: str, permit_abbrev: bool = False,
                    warn_on_flag: bool = True, store: bool = True, warnings=None) -> Parsed:
    """``qemu_opts_parse_noisily``: raises QemuOptsError.  Warnings (short-form
    booleans) are appended as (text, hint) pairs to ``warnings`` as they occur
    (so they survive an error later in the same string), else to ``.warnings``."""
    # opts_parse_id: the first 'id=' parameter
    id_ = None
    i = 0
    while i < len(params):
        name, value, i, _ = _name_value(params, i, None, False, [])
        if name == "id":
            id_ = value
            break
    if id_ is not None:
        if not _id_wellformed(id_):
            raise QemuOptsError("Parameter 'id' expects an identifier",
                                "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter.")
        old = lst.find(id_)
        if old is not None:
            if not lst.merge:
                raise QemuOptsError("Duplicate ID '%s' for %s" % (id_, lst.name))
            group = old["parsed"]
        else:
            group = None
    elif lst.merge:
        old = lst.find(None)
        group = old["parsed"] if old is not None else None
    else:
        group = None
    fresh = group is None
    if fresh:
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


def keyval_parse(params: str, implied_key=None, into=None):
    """``keyval_parse``: -> (dict of nested dicts/strings, help wanted).

    Raises QemuOptsError with QEMU's texts (``Expected '=' after parameter 'x'``,
    ``Invalid parameter 'x'``, ``Parameters 'x.*' used inconsistently``)."""
    out = {} if into is None else into
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
        parts = []
        while True:
            ln = _qapi_name_len(params, k)
            if ln == 0 or ln > 127:
                end = k
                while end < n and params[end] not in "=,":
                    end += 1
                bad = params[i:end] if end > i else params[i:i + 1]
                raise QemuOptsError("Invalid parameter '%s'" % bad)
            parts.append(params[k:k + ln])
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
        _keyval_put(out, parts, value, params[i:i + sum(len(p) for p in parts) + len(parts) - 1])
        i = k
    return out, help_


def _keyval_put(d, parts, value, key_text):
    cur = d
    for idx, p in enumerate(parts[:-1]):
        nxt = cur.get(p)
        if nxt is None:
            nxt = cur[p] = {}
        elif not isinstance(nxt, dict):
            raise QemuOptsError("Parameters '%s.*' used inconsistently" % ".".join(parts[:idx + 1]))
        cur = nxt
    last = parts[-1]
    old = cur.get(last)
    if isinstance(old, dict):
        raise QemuOptsError("Parameters '%s.*' used inconsistently" % ".".join(parts))
    cur[last] = value


def keyval_merge(dest: dict, src: dict) -> dict:
    """``keyval_merge``: nested merge, later values win."""
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dest.get(k), dict):
            keyval_merge(dest[k], v)
        else:
            dest[k] = v
    return dest
