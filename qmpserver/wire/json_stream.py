"""QEMU's JSON input stream: lexer, streamer (framing + limits) and parser.

Input is a stream of JSON values with no delimiter; a value is complete when
its braces and brackets balance (or, for a scalar, when its token ends).  The
behaviour reproduced here, including error texts and recovery, is that of
QEMU's ``qobject/json-lexer.c``, ``json-streamer.c`` and ``json-parser.c``
(QEMU 7.2; limits MAX_TOKEN_SIZE, MAX_TOKEN_COUNT and MAX_NESTING in json-streamer.c):

* extensions: single-quoted strings and the ``\\'`` escape; ``%`` is an error
  (interpolation is off on monitors);
* a byte not valid in the current lexer state ends in
  ``JSON parse error, stray '<partial token>'`` and starts *recovery*: bytes are
  skipped until a structural character, a control character or 0xFE/0xFF;
* limits per message: 64 MiB of token text, 2,097,152 tokens, nesting 1024;
* after any error the pending tokens are dropped and the counts reset;
* integers become int64, else uint64, else double.

The byte-by-byte state machine below is the reference.  When the lexer sits
in its start state, a compiled regex consumes runs of complete, well-formed
tokens in C; anything it does not recognise (errors, tokens cut by the end of
the buffer, unusual token endings) is left to the state machine, so both
paths lex identically (checked by property tests).

Usage (sans-IO)::

    p = JsonStream()
    p.feed(data)
    while (msg := p.next_message()) is not None:
        ...  # JsonValue(value) or JsonError(desc)
"""

from __future__ import annotations

import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    from . import JSON

    # a lexed token: (token type, its text)
    Token = tuple[int, bytes]

MAX_TOKEN_SIZE = 64 << 20
MAX_TOKEN_COUNT = 2 << 20
MAX_NESTING = 1 << 10

# Lexer states (values mirror the roles, not QEMU's numbers).
JSON_ERROR = 0
IN_RECOVERY = 1
IN_DQ_STRING_ESCAPE = 2
IN_DQ_STRING = 3
IN_SQ_STRING_ESCAPE = 4
IN_SQ_STRING = 5
IN_ZERO = 6
IN_EXP_DIGITS = 7
IN_EXP_SIGN = 8
IN_EXP_E = 9
IN_MANTISSA = 10
IN_MANTISSA_DIGITS = 11
IN_DIGITS = 12
IN_SIGN = 13
IN_KEYWORD = 14
IN_START = 15
N_STATES = 16

# Token types (>= JSON_MIN are emitted tokens).
JSON_MIN = 100
LCURLY, RCURLY, LSQUARE, RSQUARE, COLON, COMMA, INTEGER, FLOAT, KEYWORD, STRING = range(100, 110)

LOOKAHEAD = 0x80


def _build_table() -> list[list[int]]:
    t = [[JSON_ERROR] * 256 for _ in range(N_STATES)]

    def rng(state: int, lo: int, hi: int, val: int) -> None:
        for c in range(lo, hi + 1):
            t[state][c] = val

    def terminal(state: int, tok: int) -> None:
        rng(state, 0, 0xFF, tok | LOOKAHEAD)

    # error recovery: skip until structural, control (but TAB) or 0xFE/0xFF
    rng(IN_RECOVERY, 0, 0x1F, IN_START | LOOKAHEAD)
    rng(IN_RECOVERY, 0x20, 0xFD, IN_RECOVERY)
    rng(IN_RECOVERY, 0xFE, 0xFF, IN_START | LOOKAHEAD)
    t[IN_RECOVERY][ord("\t")] = IN_RECOVERY
    for ch in b"[]{}:,":
        t[IN_RECOVERY][ch] = IN_START | LOOKAHEAD

    for esc, body, q in ((IN_DQ_STRING_ESCAPE, IN_DQ_STRING, '"'), (IN_SQ_STRING_ESCAPE, IN_SQ_STRING, "'")):
        rng(esc, 0x20, 0xFD, body)
        rng(body, 0x20, 0xFD, body)
        t[body][ord("\\")] = esc
        t[body][ord(q)] = STRING

    terminal(IN_ZERO, INTEGER)
    rng(IN_ZERO, ord("0"), ord("9"), JSON_ERROR)
    t[IN_ZERO][ord(".")] = IN_MANTISSA

    terminal(IN_EXP_DIGITS, FLOAT)
    rng(IN_EXP_DIGITS, ord("0"), ord("9"), IN_EXP_DIGITS)
    rng(IN_EXP_SIGN, ord("0"), ord("9"), IN_EXP_DIGITS)
    t[IN_EXP_E][ord("-")] = IN_EXP_SIGN
    t[IN_EXP_E][ord("+")] = IN_EXP_SIGN
    rng(IN_EXP_E, ord("0"), ord("9"), IN_EXP_DIGITS)

    terminal(IN_MANTISSA_DIGITS, FLOAT)
    rng(IN_MANTISSA_DIGITS, ord("0"), ord("9"), IN_MANTISSA_DIGITS)
    t[IN_MANTISSA_DIGITS][ord("e")] = IN_EXP_E
    t[IN_MANTISSA_DIGITS][ord("E")] = IN_EXP_E
    rng(IN_MANTISSA, ord("0"), ord("9"), IN_MANTISSA_DIGITS)

    terminal(IN_DIGITS, INTEGER)
    rng(IN_DIGITS, ord("0"), ord("9"), IN_DIGITS)
    t[IN_DIGITS][ord("e")] = IN_EXP_E
    t[IN_DIGITS][ord("E")] = IN_EXP_E
    t[IN_DIGITS][ord(".")] = IN_MANTISSA

    t[IN_SIGN][ord("0")] = IN_ZERO
    rng(IN_SIGN, ord("1"), ord("9"), IN_DIGITS)

    terminal(IN_KEYWORD, KEYWORD)
    rng(IN_KEYWORD, ord("a"), ord("z"), IN_KEYWORD)

    s = t[IN_START]
    s[ord('"')] = IN_DQ_STRING
    s[ord("'")] = IN_SQ_STRING
    s[ord("0")] = IN_ZERO
    rng(IN_START, ord("1"), ord("9"), IN_DIGITS)
    s[ord("-")] = IN_SIGN
    s[ord("{")] = LCURLY
    s[ord("}")] = RCURLY
    s[ord("[")] = LSQUARE
    s[ord("]")] = RSQUARE
    s[ord(",")] = COMMA
    s[ord(":")] = COLON
    rng(IN_START, ord("a"), ord("z"), IN_KEYWORD)
    for ch in b" \t\r\n":
        s[ch] = IN_START
    return t


_TABLE = _build_table()

# Fast path: well-formed tokens whose end is certain from the buffer alone.
_FAST_PATTERN = rb"""
    (?P<ws>[ \t\r\n]+)
  | (?P<st>[{}\[\]:,])
  | (?P<str>"(?:[^"\\\x00-\x1f\xfe\xff]|\\[\x20-\xfd])*"
          |'(?:[^'\\\x00-\x1f\xfe\xff]|\\[\x20-\xfd])*')
  | (?P<num>-?(?:0(?P<zfrac>\.[0-9]+(?:[eE][-+]?[0-9]+)?)?|[1-9][0-9]*(?P<frac>(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?))(?=[ \t\r\n,:{}\[\]"']))
  | (?P<kw>[a-z]+(?=[^a-z]))
    """
# _FAST and _SIMPLE are compiled on first use (~1 ms of start-up, before the
# greeting); typed as patterns since every user calls _compile_patterns() first.
if TYPE_CHECKING:
    _FAST: re.Pattern[bytes]
else:
    _FAST = None
# Bulk runs inside string bodies and during recovery (no state change).
_DQ_RUN = re.compile(rb'[^"\\\x00-\x1f\xfe\xff]+')
_SQ_RUN = re.compile(rb"[^'\\\x00-\x1f\xfe\xff]+")
_RECOVERY_RUN = re.compile(rb"[^\x00-\x08\x0a-\x1f\xfe\xff\[\]{}:,]+")
_KEYWORD_RUN = re.compile(rb"[a-z]+")
_DIGIT_RUN = re.compile(rb"[0-9]+")
_STRUCT = {
    ord("{"): LCURLY,
    ord("}"): RCURLY,
    ord("["): LSQUARE,
    ord("]"): RSQUARE,
    ord(":"): COLON,
    ord(","): COMMA,
}


# Whole-message fast path.  A top-level object made only of printable ASCII
# without quotes-in-quotes tricks (no backslash, no single quote, no '%', no
# control or non-ASCII byte) and nested at most four levels (a CPU model's
# props: message, arguments, model, props) is matched by
# brace structure alone: as no brace may appear inside its strings either,
# the structure the regex sees is the real one.  It is then parsed by the C
# json decoder; anything the decoder refuses, and anything QEMU would treat
# differently (duplicate keys, NaN/Infinity, integers beyond uint64), falls
# back to the exact lexer above.
# possessive where supported (3.11+): without it the engine backtracks through
# every byte of a long flat object before giving up on a nested alternative
_INNER = rb"[^\x00-\x1f'\\{}\[\]\x7f-\xff%]*" + (b"+" if sys.version_info >= (3, 11) else b"")
_L1 = rb"(?:\{" + _INNER + rb"\}|\[" + _INNER + rb"\])"
_L2 = rb"(?:\{(?:" + _INNER + _L1 + rb")*" + _INNER + rb"\}|\[(?:" + _INNER + _L1 + rb")*" + _INNER + rb"\])"
_L3 = rb"(?:\{(?:" + _INNER + _L2 + rb")*" + _INNER + rb"\}|\[(?:" + _INNER + _L2 + rb")*" + _INNER + rb"\])"
_SIMPLE_PATTERN = rb"[ \t\r\n]*(\{(?:" + _INNER + _L3 + rb")*" + _INNER + rb"\})"
if TYPE_CHECKING:
    _SIMPLE: re.Pattern[bytes]
else:
    _SIMPLE = None  # compiled on first use


def _compile_patterns() -> None:
    global _FAST, _SIMPLE
    _FAST = re.compile(_FAST_PATTERN, re.X)
    _SIMPLE = re.compile(_SIMPLE_PATTERN)


class _NotSimple(Exception):
    pass


def _pairs(pairs: list[tuple[str, JSON]]) -> dict[str, JSON]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _NotSimple
    return d


def _no_constant(name: str) -> NoReturn:
    raise _NotSimple


def _int(text: str) -> int:
    v = int(text)
    if not (_I64_MIN <= v <= _U64_MAX):
        raise _NotSimple
    return v


_loads: Callable[[bytes], JSON] | None = None


# QEMU's lexer allows no exponent right after a bare 0 ("0e1" is 0 then a keyword),
# JSON does: the C scanner hands every number with a fraction or an exponent to this
# hook, which sends such a message to the exact lexer.  Called only for floats, so a
# message without one pays nothing (a search of the whole text for "0e" cost ~15 us
# per 5 KB on the build VM).
def _float(text: str) -> float:
    t = text[1:] if text[0] == "-" else text
    if t[0] == "0" and t[1] in "eE":
        raise _NotSimple
    return float(text)


# An integer of at most 19 digits always fits int64/uint64; a longer run of digits
# (anywhere, even in a string) sends the message to the exact lexer, which knows
# QEMU's int64 -> uint64 -> double rule.  Cheaper than a Python hook per integer.
_DIGIT_MAP = bytes(48 if 48 <= c <= 57 else 45 if c == 45 else 32 for c in range(256))


def _long_digits(text: bytes) -> bool:
    t = text.translate(_DIGIT_MAP)
    return b"0" * 20 in t or b"-" + b"0" * 19 in t


def _simple_loads(text: bytes) -> JSON:
    global _loads
    if _long_digits(text):
        raise _NotSimple
    if _loads is None:
        import json

        dec = json.JSONDecoder(object_pairs_hook=_pairs, parse_float=_float, parse_constant=_no_constant)
        scan: Callable[[str, int], tuple[JSON, int]]
        try:  # the C scanner directly: the regex already proved the text is one object
            # (json.scanner re-exports _json's scanner as c_make_scanner, or None;
            # typeshed knows it only as make_scanner)
            from json.scanner import c_make_scanner  # type: ignore[attr-defined]

            scan = c_make_scanner(dec)
        except (ImportError, TypeError):  # pragma: no cover - pure-Python json
            scan = dec.scan_once  # type: ignore[attr-defined]  # set by JSONDecoder.__init__, not in typeshed

        def _loads_scan(t: bytes, scan: Callable[[str, int], tuple[JSON, int]] = scan) -> JSON:
            s = t.decode("ascii")
            obj, end = scan(s, 0)
            if end != len(s):
                raise _NotSimple
            return obj

        _loads = _loads_scan
    return _loads(text)


# states whose runs of bytes can be taken in bulk (they only extend the token)
_BULK = {
    IN_DQ_STRING: _DQ_RUN,
    IN_SQ_STRING: _SQ_RUN,
    IN_RECOVERY: _RECOVERY_RUN,
    IN_KEYWORD: _KEYWORD_RUN,
    IN_DIGITS: _DIGIT_RUN,
    IN_MANTISSA_DIGITS: _DIGIT_RUN,
    IN_EXP_DIGITS: _DIGIT_RUN,
}


class JsonValue:
    """A complete JSON value read from the stream."""

    __slots__ = ("value",)

    def __init__(self, value: JSON):
        self.value = value

    def __repr__(self) -> str:
        return "JsonValue(%r)" % (self.value,)


class JsonError:
    """A lexical, syntax or limit error; ``desc`` is QEMU's text."""

    __slots__ = ("desc",)

    def __init__(self, desc: str):
        self.desc = desc

    def __repr__(self) -> str:
        return "JsonError(%r)" % (self.desc,)


class _ParseError(Exception):
    pass


# --- text helpers -------------------------------------------------------------


def _is_valid_codepoint(cp: int) -> bool:
    if cp < 0 or cp > 0x10FFFF:
        return False
    if 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE:
        return False
    return not (0xD800 <= cp <= 0xDFFF)


_MIN_CP = (0x80, 0x800, 0x10000, 0x200000, 0x4000000)


def mod_utf8_codepoint(s: bytes, i: int, n: int = 6) -> tuple[int, int]:
    """QEMU's modified-UTF-8 decoder: (code point or -1, index after it).

    ``s`` is treated as NUL-terminated at its end, like the C string.
    """
    end = len(s)
    if i >= end or s[i] == 0:
        return -1, i
    byte = s[i]
    p = i + 1
    if byte < 0x80:
        return byte, p
    if byte >= 0xFE or not (byte & 0x40):
        return -1, p
    length = 0
    mask = 0x80
    while byte & mask:
        length += 1
        mask >>= 1
    cp = byte & (mask - 1)
    for k in range(1, length):
        b = s[p] if (k < n and p < end) else 0
        if (b & 0xC0) != 0x80:
            return -1, p
        p += 1
        cp = (cp << 6) | (b & 0x3F)
    if not _is_valid_codepoint(cp):
        cp = -1
    elif cp < _MIN_CP[length - 2] and not (cp == 0 and length == 2):
        cp = -1
    return cp, p


def qemu_text(data: bytes) -> str:
    """Bytes of a C string as QEMU's JSON writer would render them.

    The string ends at the first NUL; invalid sequences become U+FFFD.
    """
    nul = data.find(b"\x00")
    if nul >= 0:
        data = data[:nul]
    if data.isascii():
        return data.decode("ascii")
    out = []
    i = 0
    while i < len(data):
        cp, i2 = mod_utf8_codepoint(data, i)
        out.append("\ufffd" if cp < 0 else chr(cp))
        i = i2 if i2 > i else i + 1
    return "".join(out)


_NONCHAR = re.compile(
    "[\ufdd0-\ufdef" + "".join(chr(p << 16 | 0xFFFE) + chr(p << 16 | 0xFFFF) for p in range(17)) + "]"
)

_SIMPLE_ESCAPES = {
    ord('"'): '"',
    ord("'"): "'",
    ord("\\"): "\\",
    ord("/"): "/",
    ord("b"): "\b",
    ord("f"): "\f",
    ord("n"): "\n",
    ord("r"): "\r",
    ord("t"): "\t",
}


def _cvt4hex(s: bytes, i: int) -> int:
    if i + 4 > len(s):
        return -1
    chunk = s[i : i + 4]
    try:
        if not all(c in b"0123456789abcdefABCDEF" for c in chunk):
            return -1
        return int(chunk, 16)
    except ValueError:
        return -1


def parse_string_token(tok: bytes) -> str:
    """Decode a string token (quotes included) like QEMU's ``parse_string``."""
    body = tok[1:-1]
    if b"\\" not in body:
        if body.isascii():
            return body.decode("ascii")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and not _NONCHAR.search(text):
            return text
    quote = tok[0]
    out: list[str] = []
    i = 1
    n = len(tok)
    while tok[i] != quote:
        c = tok[i]
        if c == 0x5C:  # backslash
            beg = i
            e = tok[i + 1]
            i += 2
            simple = _SIMPLE_ESCAPES.get(e)
            if simple is not None:
                out.append(simple)
                continue
            if e != ord("u"):
                raise _ParseError("invalid escape sequence in string")
            cp = _cvt4hex(tok, i)
            i += 4
            if 0xD800 <= cp <= 0xDBFF and tok[i : i + 2] == b"\\u":
                cp = 0x10000 + ((cp & 0x3FF) << 10)
                trailing = _cvt4hex(tok, i + 2)
                if 0xDC00 <= trailing <= 0xDFFF:
                    cp |= trailing & 0x3FF
                    i += 6
                else:
                    cp = -1
            if not _is_valid_codepoint(cp):
                shown = qemu_text(tok[beg : min(i, n)])
                raise _ParseError("%s is not a valid Unicode character" % shown)
            out.append(chr(cp))
            continue
        cp, i2 = mod_utf8_codepoint(tok, i)
        if cp < 0:
            raise _ParseError("invalid UTF-8 sequence in string")
        out.append(chr(cp))
        i = i2
    return "".join(out)


_I64_MIN = -(1 << 63)
_U64_MAX = (1 << 64) - 1


def _parse_number(tok: bytes, kind: int) -> int | float:
    if kind == INTEGER:
        v = int(tok)
        if _I64_MIN <= v <= _U64_MAX:
            return v
        # out of both ranges: QEMU falls back to strtod
    return float(tok)


# --- parser ---------------------------------------------------------------------


# What an open container waits for next (the parser's explicit stack, one frame
# per open array or object).
_IN_ARRAY = 0  # a list: the next element was just parsed
_OBJ_KEY = 1  # a dict: the next key was just parsed
_OBJ_VALUE = 2  # a dict: the value of the pending key was just parsed


def _scalar(tok: Token) -> JSON:
    kind = tok[0]
    if kind == STRING:
        return parse_string_token(tok[1])
    if kind == INTEGER or kind == FLOAT:
        return _parse_number(tok[1], kind)
    if kind == KEYWORD:
        w = tok[1]
        if w == b"true":
            return True
        if w == b"false":
            return False
        if w == b"null":
            return None
        raise _ParseError("invalid keyword '%s'" % qemu_text(w))
    raise _ParseError("expecting value")


def _parse(toks: list[Token]) -> JSON:
    """One value from a message's tokens, with QEMU's parse errors and their order.

    QEMU ``qobject/json-parser.c`` (``parse_value``, ``parse_object``,
    ``parse_pair``, ``parse_array``) recurses once per nesting level; the
    streamer admits up to MAX_NESTING (1024) levels, deeper than Python's
    recursion limit, so the same grammar runs here on an explicit stack of
    open containers.  The errors are QEMU's and come in its order: an object
    key is parsed as a whole value before it is found not to be a string, a
    duplicate key is reported after its value is parsed, and a token missing
    at the end is "premature EOI".
    """
    n = len(toks)
    pos = 0
    stack: list[list[Any]] = []  # [what it waits for, the container, the pending key]
    while True:
        # parse_value: a value starts at toks[pos]
        if pos >= n:
            raise _ParseError("premature EOI")
        kind = toks[pos][0]
        pos += 1
        value: JSON
        if kind == LCURLY or kind == LSQUARE:
            if pos >= n:
                raise _ParseError("premature EOI")
            close = RCURLY if kind == LCURLY else RSQUARE
            if toks[pos][0] == close:
                pos += 1
                value = {} if kind == LCURLY else []
            else:
                stack.append([_OBJ_KEY, {}, None] if kind == LCURLY else [_IN_ARRAY, [], None])
                continue  # its first key or element
        else:
            value = _scalar(toks[pos - 1])
        # hand the value to the innermost open container, closing those that end
        while True:
            if not stack:
                return value
            frame = stack[-1]
            what = frame[0]
            if what == _OBJ_KEY:
                if type(value) is not str:
                    raise _ParseError("key is not a string in object")
                if pos >= n:
                    raise _ParseError("premature EOI")
                if toks[pos][0] != COLON:
                    raise _ParseError("missing : in object pair")
                pos += 1
                frame[0] = _OBJ_VALUE
                frame[2] = value
                break  # the pair's value
            if what == _OBJ_VALUE:
                d = frame[1]
                if frame[2] in d:
                    raise _ParseError("duplicate key")
                d[frame[2]] = value
                sep, close, err = COMMA, RCURLY, "expected separator in dict"
            else:
                frame[1].append(value)
                sep, close, err = COMMA, RSQUARE, "expected separator in list"
            if pos >= n:
                raise _ParseError("premature EOI")
            kind = toks[pos][0]
            pos += 1
            if kind == close:
                value = frame[1]
                stack.pop()
                continue
            if kind != sep:
                raise _ParseError(err)
            if what == _OBJ_VALUE:
                frame[0] = _OBJ_KEY
            break  # the next key or element


def parse_tokens(tokens: list[Token]) -> JsonValue | JsonError:
    """Parse one message's tokens; returns JsonValue or JsonError."""
    try:
        return JsonValue(_parse(tokens))
    except _ParseError as e:
        return JsonError("JSON parse error, " + str(e))


# --- the stream -------------------------------------------------------------------


class JsonStream:
    """Sans-IO JSON message splitter with QEMU's semantics.

    ``feed()`` appends bytes; ``next_message()`` lexes until one message (a
    :class:`JsonValue` or :class:`JsonError`) is complete and returns it, or
    returns None when the buffered input is exhausted.  Nothing is consumed
    beyond the byte that completes a message, so a caller that stops asking
    (QEMU's suspended monitor) leaves the rest unread in ``buffered``.
    """

    def __init__(self, fast: bool = True):
        self.fast = fast  # False: byte state machine only (the reference, for tests)
        self._buf = bytearray()
        self._pos = 0
        self.state = IN_START
        self._token = bytearray()
        self._tokens: list[Token] = []
        self._token_size = 0
        self._brace = 0
        self._bracket = 0
        self._out: list[JsonValue | JsonError] = []

    # input

    def feed(self, data: bytes) -> None:
        if self._pos and self._pos >= len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet lexed."""
        return len(self._buf) - self._pos

    @property
    def pending(self) -> int:
        """Bytes held for the message being assembled (token text)."""
        return self._token_size + len(self._token)

    def mark(self) -> int | None:
        """Where the unread bytes start, when the lexer sits between messages (nothing
        assembled, nothing waiting to be returned), else None.  Valid until ``feed()``."""
        if self.state != IN_START or self._tokens or self._token or self._out:
            return None
        return self._pos

    def unread(self) -> bytes:
        """The bytes not yet lexed."""
        return bytes(self._buf[self._pos :])

    def whole_since(self, mark: int) -> bytes | None:
        """The text read since ``mark`` (from :meth:`mark`) when it is exactly what
        was read (one message) plus the whitespace after it, all of it; else None."""
        if self.mark() is None or self._buf[self._pos :].strip(b" \t\r\n"):
            return None
        return bytes(self._buf[mark:])

    def discard(self, n: int) -> None:
        """Consume ``n`` unread bytes that the caller has answered as whole messages
        and whitespace (the lexer stays between messages)."""
        self._pos += n

    # streamer

    def _reset(self) -> None:
        self._brace = 0
        self._bracket = 0
        self._tokens = []
        self._token_size = 0

    def _process_token(self, kind: int, text: bytes) -> None:
        if kind == LCURLY:
            self._brace += 1
        elif kind == RCURLY:
            self._brace -= 1
        elif kind == LSQUARE:
            self._bracket += 1
        elif kind == RSQUARE:
            self._bracket -= 1
        elif kind == JSON_ERROR:
            self._reset()
            self._out.append(JsonError("JSON parse error, stray '%s'" % qemu_text(bytes(text))))
            return
        if self._token_size + len(text) + 1 > MAX_TOKEN_SIZE:
            self._reset()
            self._out.append(JsonError("JSON token size limit exceeded"))
            return
        if len(self._tokens) + 1 > MAX_TOKEN_COUNT:
            self._reset()
            self._out.append(JsonError("JSON token count limit exceeded"))
            return
        if self._bracket + self._brace > MAX_NESTING:
            self._reset()
            self._out.append(JsonError("JSON nesting depth limit exceeded"))
            return
        self._tokens.append((kind, text))
        self._token_size += len(text)
        if (self._brace > 0 or self._bracket > 0) and self._brace >= 0 and self._bracket >= 0:
            return
        toks = self._tokens
        self._reset()
        self._out.append(parse_tokens(toks))

    # lexer

    def _feed_byte(self, ch: int) -> None:
        table = _TABLE
        token = self._token
        consumed = False
        while not consumed:
            nxt = table[self.state][ch]
            consumed = not (nxt & LOOKAHEAD)
            nxt &= ~LOOKAHEAD
            if consumed:
                token.append(ch)
            if nxt >= JSON_MIN:
                self._process_token(nxt, bytes(token))
                token.clear()
                nxt = IN_START
            elif nxt == IN_START:
                token.clear()
            elif nxt == JSON_ERROR:
                self._process_token(JSON_ERROR, bytes(token))
                token.clear()
                nxt = IN_RECOVERY
            elif nxt == IN_RECOVERY:
                token.clear()
            self.state = nxt
        if len(token) > MAX_TOKEN_SIZE:
            self._process_token(self.state, bytes(token))
            token.clear()
            self.state = IN_START

    def next_message(self) -> JsonValue | JsonError | None:
        out = self._out
        if out:
            return out.pop(0)
        buf = self._buf
        end = len(buf)
        pos = self._pos
        if _FAST is None:
            _compile_patterns()
        fast = _FAST.match
        use_fast = self.fast
        while pos < end:
            if use_fast and self.state == IN_START and not self._tokens:
                sm = _SIMPLE.match(buf, pos)
                if sm is not None:
                    try:
                        value = _simple_loads(sm.group(1))
                    except Exception:  # noqa: BLE001 - any doubt: the exact lexer decides
                        value = _NotSimple
                    if value is not _NotSimple:
                        self._pos = sm.end()
                        return JsonValue(value)
            if use_fast and self.state == IN_START:
                m = fast(buf, pos)
                if m is not None:
                    group = m.lastgroup
                    if group != "ws":
                        text = bytes(m.group())
                        if len(text) > MAX_TOKEN_SIZE:  # let the byte lexer split it
                            self._feed_byte(buf[pos])
                            pos += 1
                            if out:
                                self._pos = pos
                                return out.pop(0)
                            continue
                        if group == "st":
                            self._process_token(_STRUCT[text[0]], text)
                        elif group == "str":
                            self._process_token(STRING, text)
                        elif group == "num":
                            self._process_token(
                                FLOAT if (m.group("frac") or m.group("zfrac")) else INTEGER, text
                            )
                        else:
                            self._process_token(KEYWORD, text)
                    pos = m.end()
                    if out:
                        self._pos = pos
                        return out.pop(0)
                    continue
            state = self.state
            if use_fast and state in _BULK:
                run = _BULK[state].match(buf, pos)
                if run is not None:
                    stop = run.end()
                    if state == IN_RECOVERY:
                        pos = stop
                        continue
                    room = MAX_TOKEN_SIZE + 1 - len(self._token)
                    if stop - pos > room:
                        stop = pos + room
                    self._token += buf[pos:stop]
                    pos = stop
                    if len(self._token) > MAX_TOKEN_SIZE:
                        self._process_token(state, bytes(self._token))
                        self._token.clear()
                        self.state = IN_START
                        if out:
                            self._pos = pos
                            return out.pop(0)
                    continue
            self._feed_byte(buf[pos])
            pos += 1
            if out:
                self._pos = pos
                return out.pop(0)
        self._pos = pos
        return None
