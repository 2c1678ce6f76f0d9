"""Property tests of the sans-IO session (hypothesis), in the style of tests/unit/wire.

``Session.pump`` takes an in-band item straight from the stream when nothing is
queued, held or gated (the fast path) and from the head of the in-band queue
otherwise (the slow path; an in-band gate that never holds forces it).  Both
must answer alike, whatever the messages and however the bytes are split.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.profiles.loader import load_profile
from qmpserver.qmp.session import CLOSE, PAUSED, READ, WAIT, Session
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig
from qmpserver.vm.instance import Instance

OOB_NEG = b'{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}'

# in-band items carry ids "i..", out-of-band ones "o.."; JSON errors have no id (in-band)
_INBAND = [
    b'{"execute":"query-name","id":"i%d"}',
    b'{"execute":"query-version","id":"i%d"}',
    b'{"execute":"query-status","id":"i%d"}',
    b'{"execute":"no-such-command","id":"i%d"}',
    b'{"execute":"qmp_capabilities","id":"i%d"}',
    b'{"execute":"query-name","arguments":[],"id":"i%d"}',
    b'{"execute":"query-name","bogus":1,"id":"i%d"}',
    b'{"execute":"query-name","exec-oob":"query-name","id":"i%d"}',
    b'{"arguments":{},"id":"i%d"}',
    b'{"execute":"query-name","id":"i%d"}\r\n',
    b"[1, 2, %d]",
]
_OOB = [
    b'{"exec-oob":"migrate-pause","id":"o%d"}',
    b'{"exec-oob":"query-name","id":"o%d"}',
    b'{"exec-oob":"no-such-command","id":"o%d"}',
]
_GARBAGE = [b"}", b"{'a':", b"\x01", b'"unterminated', b"]]", b'{"execute": nul}']

_inst = None


def _instance() -> Instance:
    global _inst
    if _inst is None:
        _inst = start(load_profile("debian-7.2-tcg"), InstanceConfig(start_paused=True))
    return _inst


def _never_hold(session, item):
    return 0


def _session(negotiate: bytes | None, slow: bool) -> Session:
    s = Session(_instance().add_monitor())
    if slow:
        s.gate_inband(_never_hold)
    s.connect()
    if negotiate is not None:
        s.receive_data(negotiate)
        assert s.pump() == READ
        s.take_output()
    return s


@st.composite
def streams(draw):
    """Messages as bytes and a random split of them into chunks."""
    parts = []
    for n in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(("inband", "inband", "oob", "garbage")))
        if kind == "inband":
            parts.append(draw(st.sampled_from(_INBAND)) % n)
        elif kind == "oob":
            parts.append(draw(st.sampled_from(_OOB)) % n)
        else:
            parts.append(draw(st.sampled_from(_GARBAGE)))
    data = b"".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
    return [data[i:j] for i, j in zip([0] + cuts, cuts + [len(data)])]


def _run(s: Session, chunks: list[bytes]) -> tuple[list[bytes], list[int]]:
    out, wants = [], []
    for c in chunks:
        s.receive_data(c)
        wants.append(s.pump())
        out.append(s.take_output())
    s.disconnect()
    return out, wants


def _lines(out: list[bytes]) -> list[dict]:
    return [json.loads(line) for line in b"".join(out).split(b"\r\n") if line]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.sampled_from((None, b'{"execute":"qmp_capabilities"}')))
def test_fast_path_answers_like_the_queue_without_oob(chunks, negotiate):
    fast = _run(_session(negotiate, slow=False), chunks)
    slow = _run(_session(negotiate, slow=True), chunks)
    assert fast == slow  # the same bytes after each chunk, the same wants


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_with_oob_both_paths_keep_each_order(chunks):
    """With OOB the slow path parses ahead, so OOB replies may overtake in-band ones;
    each kind keeps its order and nothing is lost or added."""
    fast, fast_wants = _run(_session(OOB_NEG, slow=False), chunks)
    slow, slow_wants = _run(_session(OOB_NEG, slow=True), chunks)

    def split(out):
        oob, inband = [], []
        for m in _lines(out):
            (oob if str(m.get("id", "")).startswith("o") else inband).append(m)
        return oob, inband

    assert split(fast) == split(slow)
    assert fast_wants == slow_wants == [READ] * len(chunks)


def test_a_hold_says_wait_once_and_oob_still_runs():
    s = _session(OOB_NEG, slow=False)
    held = []

    def gate(session, item):
        if isinstance(item, dict) and item.get("id") == "slow" and not held:
            held.append(item)
            return 0.5
        return 0

    s.gate_inband(gate)
    s.receive_data(b'{"execute":"query-name","id":"slow"}{"execute":"query-name","id":"next"}')
    assert s.pump() == WAIT
    assert s.wait_seconds == 0.5
    assert s.take_output() == b""
    s.receive_data(b'{"exec-oob":"migrate-pause","id":"oob"}')
    assert s.pump() == READ  # held, not again WAIT: one timer per hold
    assert [m["id"] for m in _lines([s.take_output()])] == ["oob"]
    s.resume()
    assert s.pump() == READ
    assert [m["id"] for m in _lines([s.take_output()])] == ["slow", "next"]


def test_without_oob_a_held_request_pauses_input():
    s = _session(b'{"execute":"qmp_capabilities"}', slow=False)
    s.gate_inband(lambda session, item: 1.0 if s.queue else 0)
    s.receive_data(b'{"execute":"query-name","id":1}{"execute":"query-name","id":2}')
    assert s.pump() == WAIT | PAUSED
    assert s.pump() == PAUSED
    s.gate_inband(None)
    s.resume()
    assert s.pump() == READ
    assert [m["id"] for m in _lines([s.take_output()])] == [1, 2]


def test_close_is_wanted_after_the_pending_output():
    woken = []
    s = Session(_instance().add_monitor(), wakeup=lambda: woken.append(1))
    s.connect()
    s.close()
    assert woken == [1]
    s.receive_data(b'{"execute":"qmp_capabilities"}')
    assert s.pump() == CLOSE
    assert s.take_output() == b""
    s.disconnect()
