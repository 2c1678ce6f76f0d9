"""Property-based tests of the wire layer (hypothesis)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.wire.encode import dumps, dumps_reference, message
from qmpserver.wire.json_stream import JsonError, JsonStream, JsonValue

ALPHABET = b"{}[]:,\"'\\ \t\r\nabcdeflnrstu0123456789.-+eE%\x00\x01\x1f\x7f\xc3\xa9\xfe\xff"


def messages(data: bytes, fast=True, chunks=None):
    s = JsonStream(fast=fast)
    out = []
    pieces = chunks or [data]
    for p in pieces:
        s.feed(p)
        while (m := s.next_message()) is not None:
            out.append(("v", m.value) if isinstance(m, JsonValue) else ("e", m.desc))
    return out


def _same(a, b):
    # NaN never equals itself; compare through repr for values
    return repr(a) == repr(b)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list(ALPHABET)), max_size=120).map(bytes))
def test_fast_path_lexes_like_the_state_machine(data):
    assert _same(messages(data, fast=True), messages(data, fast=False))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.randoms())
def test_chunking_does_not_matter(data, rnd):
    cuts = sorted(rnd.sample(range(len(data) + 1), min(len(data), 5)))
    chunks = [data[i:j] for i, j in zip([0] + cuts, cuts + [len(data)])]
    assert _same(messages(data), messages(data, chunks=chunks))


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_garbage_never_crashes_and_a_control_byte_resynchronises(data):
    req = b'{"execute":"query-name","id":"after"}'
    out = messages(data + b"\x01" + req)
    assert out[-1] == ("v", {"execute": "query-name", "id": "after"})
    for kind, v in out:
        assert kind in ("v", "e")
        if kind == "e":
            assert v.startswith("JSON ")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_encoder_fast_path_equals_reference_and_round_trips(v):
    text = dumps(v)
    assert text == dumps_reference(v)
    assert all(ord(c) < 0x80 for c in text)
    parsed = messages(text.encode() + b" ")
    # strings made of surrogates or noncharacters are not valid QEMU input; everything else round-trips
    if parsed and parsed[0][0] == "v":
        assert _same(json.loads(text), parsed[0][1]) or isinstance(v, float)


@settings(max_examples=200)
@given(st.dictionaries(st.text(min_size=1, max_size=6), st.integers(0, 9), min_size=1, max_size=8))
def test_message_is_one_crlf_terminated_line(d):
    m = message({"return": d, "id": 1})
    assert m.endswith(b"\r\n") and m.count(b"\n") == 1


def test_stream_memory_is_bounded_by_the_token_limit():
    s = JsonStream()
    chunk = b"a" * (1 << 20)
    s.feed(b'{"x": "')
    errors = []
    for _ in range(100):  # 100 MiB in an unterminated string
        s.feed(chunk)
        while (m := s.next_message()) is not None:
            errors.append(m)
        assert s.buffered == 0
        assert s.pending <= (64 << 20) + 2
    assert any(isinstance(e, JsonError) and e.desc == "JSON token size limit exceeded" for e in errors)


@pytest.mark.timeout(600)  # 4 MB through the exact lexer: ~15 s of CPU, a minute on a loaded machine
def test_token_count_limit():
    s = JsonStream()
    s.feed(b"[" + b"1," * ((2 << 20) + 1))
    out = []
    while (m := s.next_message()) is not None:
        out.append(m)
    assert out and out[0].desc == "JSON token count limit exceeded"


def test_random_streams_then_valid_request_in_random_chunks():
    rnd = random.Random(1234)
    for _ in range(200):
        junk = bytes(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 60)))
        data = junk + b"\x1f" + b'{"execute":"x"}'
        cuts = sorted(rnd.sample(range(len(data)), 4))
        chunks = [data[i:j] for i, j in zip([0] + cuts, cuts + [len(data)])]
        assert messages(data, chunks=chunks)[-1] == ("v", {"execute": "x"})


def test_no_exponent_after_a_bare_zero():
    """QEMU lexes 0e1 as 0 followed by the keyword e1 (found by hypothesis on 0e0{)."""
    for data in (
        b"0e0{",
        b'{"a":0e1}',
        b'{"a":-0E1}',
        b"[0e0]",
        b'{"a":"0e1"}',
        b'{"a":[1,{"b":0e+5}]}',
        b'{"a":0.5e1,"b":-0.0E-1,"c":10e1,"d":100E2}',
    ):
        assert _same(messages(data + b" "), messages(data + b" ", fast=False)), data
    assert messages(b'{"a":0e1}') == [("e", "JSON parse error, expected separator in dict")]


# --- nesting: QEMU admits brace + bracket depth up to 1024 (json-streamer.c MAX_NESTING) ---


def _nested(kind: str, depth: int) -> bytes:
    if kind == "array":
        return b"[" * depth + b"1" + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("kind", ["array", "object"])
def test_nesting_up_to_1024_parses_without_recursion(kind):
    import sys

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(150)  # the parser must not recurse per level (a recursive one fails at ~330)
    try:
        got = {d: messages(_nested(kind, d)) for d in (1023, 1024, 1025)}
    finally:
        sys.setrecursionlimit(old)
    for d in (1023, 1024):
        ((tag, v),) = got[d]
        assert tag == "v"
        depth = 0
        while v != 1:
            v = v[0] if kind == "array" else v["a"]
            depth += 1
        assert depth == d
    assert got[1025][0] == ("e", "JSON nesting depth limit exceeded")


_containers = st.recursive(
    st.integers(-5, 5) | st.text(max_size=3) | st.booleans() | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=40,
)


@given(_containers, st.integers(0, 300))
def test_iterative_parser_equals_json_loads(v, extra):
    """The explicit-stack parser builds what json.loads builds, at any depth (wrapped
    ``extra`` levels deeper); the slow path (byte lexer + parser) equals the fast path."""
    text = b"[" * extra + json.dumps(v).encode() + b"]" * extra + b"\n"  # a scalar ends at a delimiter
    want = json.loads(text)
    for fast in (True, False):
        assert messages(text, fast=fast) == [("v", want)]


@pytest.mark.parametrize(
    "text,desc",
    [
        (b"{[1]:2}", "key is not a string in object"),
        (b"{[}:2}", "expecting value"),  # the key is parsed as a value first, as QEMU does
        (b'{"a" 1}', "missing : in object pair"),
        (b'{"a":1 "b":2}', "expected separator in dict"),
        (b"[1 2]", "expected separator in list"),
        (b'{"a":[1,2,}]}', "expecting value"),
        (b'{"a":1,"a":{"x":nope}}', "invalid keyword 'nope'"),  # the value before the duplicate
        (b'{"a":1,"a":2}', "duplicate key"),
        (b"[1,]", "expecting value"),
    ],
)
def test_parse_errors_and_their_order(text, desc):
    assert messages(text)[0] == ("e", "JSON parse error, " + desc)
