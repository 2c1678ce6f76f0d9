"""Wire fuzzing of the sans-IO session (hypothesis, derandomized: CI cannot flake).

Hostile byte streams (see :mod:`tests.fuzz.strategies`) go to
:class:`qmpserver.qmp.session.Session` whole and split into random chunks:

* the output is byte-identical however the input is split (QEMU's monitor reads
  a byte at a time; chunk boundaries carry no meaning);
* nothing raises;
* the session never wedges: after any garbage, a 0xFF byte resets the JSON
  lexer (QEMU json-lexer.c: 0xFE/0xFF are invalid in every lexer state, so the
  streamer drops what it holds), and a following query-status is answered
  (with its return once negotiated, with the negotiation error before).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.profiles.loader import load_profile
from qmpserver.qmp.session import CLOSE, WAIT, Session
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig
from qmpserver.vm.instance import Instance

from .strategies import examples, split, stream

FUZZ = settings(
    max_examples=examples(300),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROBE = b'\xff{"execute":"query-status","id":"__probe__"}'
_inst: Instance | None = None


def _instance() -> Instance:
    global _inst
    if _inst is None:
        _inst = start(load_profile("debian-7.2-tcg"), InstanceConfig(start_paused=True))
    return _inst


def _settle(s: Session, out: list[bytes]) -> int:
    """pump() until it has nothing more to do (a driver honouring PAUSED/FLUSH/WAIT)."""
    want = 0
    for _ in range(10_000):
        want = s.pump()
        data = s.take_output()
        out.append(data)
        if want & WAIT:
            s.resume()
            continue
        if not data:
            return want
    raise AssertionError("the session never settles (still producing output after 10,000 pumps)")


def _run(chunks: list[bytes], negotiate: bool) -> tuple[bytes, int]:
    s = Session(_instance().add_monitor())
    out = [s.connect()]
    if negotiate:
        s.receive_data(b'{"execute":"qmp_capabilities"}')
        _settle(s, out)
    want = 0
    for c in chunks:
        s.receive_data(c)
        want = _settle(s, out)
    s.disconnect()
    return b"".join(out), want


def _messages(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.split(b"\r\n") if line.strip()]


@settings(FUZZ)
@given(st.data(), stream(), st.booleans())
def test_chunking_does_not_change_the_replies(data, raw, negotiate):
    whole, want_whole = _run([raw], negotiate)
    chunks = data.draw(split(raw))
    pieces, want_pieces = _run(chunks, negotiate)
    assert pieces == whole
    assert want_pieces == want_whole
    for m in _messages(whole):  # every message is one well-formed JSON line
        assert isinstance(m, dict)


@settings(FUZZ)
@given(st.data(), stream(), st.booleans())
def test_never_wedges_after_garbage(data, raw, negotiate):
    chunks = data.draw(split(raw + PROBE))
    out, want = _run(chunks, negotiate)
    assert not want & CLOSE
    replies = [m for m in _messages(out) if m.get("id") == "__probe__"]
    assert len(replies) == 1, "query-status after 0xFF got %d answers" % len(replies)
    reply = replies[0]
    ran_caps = negotiate or any(m.get("return") == {} and "id" not in m for m in _messages(out))
    if "return" in reply:
        assert ran_caps and set(reply["return"]) >= {"status", "running"}
    else:
        assert reply["error"]["desc"] == "Expecting capabilities negotiation with 'qmp_capabilities'"
