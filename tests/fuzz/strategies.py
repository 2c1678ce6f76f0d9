"""Byte-stream generators shared by the wire fuzz tests.

Fragments are the pieces a hostile or buggy QMP client sends: valid requests,
stray braces, strings with good and bad escapes, invalid UTF-8, numbers far
beyond 64 bits, nesting on both sides of QEMU's limit of 1024 (MAX_NESTING,
json-streamer.c) and random bytes.  A stream is fragments joined, and a split
of it into chunks at random points.
"""

from __future__ import annotations

import os

from hypothesis import strategies as st

#: QMPSERVER_FUZZ_SCALE=N runs N times the examples of every fuzz test (a longer local
#: hunt; CI runs the default, derandomized, so it cannot flake)
SCALE = max(1, int(os.environ.get("QMPSERVER_FUZZ_SCALE", "1") or 1))


def examples(n: int) -> int:
    return n * SCALE


REQUESTS = [
    b'{"execute":"qmp_capabilities"}',
    b'{"execute":"query-status","id":%d}',
    b'{"execute":"query-name","id":"n%d"}',
    b'{"execute":"query-version","arguments":{},"id":[%d]}',
    b'{"execute":"no-such-command","id":%d}',
    b'{"execute":"query-status","arguments":[%d]}',
    b'{"exec-oob":"query-name","id":%d}',
]
PUNCT = [b"{", b"}", b"[", b"]", b",", b":", b" ", b"\r\n", b"'", b'"', b"\\"]
STRINGS = [
    b'"plain"',
    b'"esc \\n \\t \\" \\\\ \\/ \\b \\f \\r"',
    b'"\\u00e9\\u0000\\uffff"',
    b'"\\ud800"',  # lone surrogate
    b'"\\ud83d\\ude00"',
    b'"\\x41"',  # invalid escape
    b'"\\u12"',  # short \u escape
    b"'single'",
    b'"\xc3\xa9"',  # valid UTF-8
]
BAD_UTF8 = [
    b"\xff",
    b"\xfe",
    b"\xc3",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x80",
    b"\xe2\x82",
]
NUMBERS = [
    b"18446744073709551615",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1" * 400,
    b"1e99999",
    b"-0.0",
    b"1.5e-400",
    b"0x10",
    b"01",
    b"NaN",
    b"-",
]


@st.composite
def nesting(draw) -> bytes:
    depth = draw(st.sampled_from((2, 64, 1023, 1024, 1025, 1100)))
    opener = draw(st.sampled_from((b"[", b'{"a":')))
    closer = b"]" if opener == b"[" else b"}"
    closed = draw(st.booleans())
    return opener * depth + b"1" + (closer * depth if closed else b"")


@st.composite
def fragment(draw) -> bytes:
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return draw(st.sampled_from(REQUESTS)).replace(b"%d", b"%d" % draw(st.integers(0, 99)))
    if kind == 1:
        return draw(st.sampled_from(PUNCT))
    if kind == 2:
        return draw(st.sampled_from(STRINGS))
    if kind == 3:
        return draw(st.sampled_from(BAD_UTF8))
    if kind == 4:
        return draw(st.sampled_from(NUMBERS))
    if kind == 5:
        return draw(nesting())
    if kind == 6:
        return draw(st.binary(max_size=24))
    return draw(st.sampled_from((b"true", b"false", b"null", b"tru", b"nul", b"{}", b"[]", b'""')))


@st.composite
def stream(draw, max_fragments: int = 12) -> bytes:
    return b"".join(draw(st.lists(fragment(), max_size=max_fragments)))


@st.composite
def split(draw, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    return [data[i:j] for i, j in zip([0] + cuts, cuts + [len(data)])]
