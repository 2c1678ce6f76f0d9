"""A small differential sample of the wire fuzz: real QEMU 7.2 vs the mock.

The same generated streams (tests/fuzz/strategies) go to Debian's
``qemu-system-aarch64`` and to qmpserver on the profile captured from it, through
the differential machinery of tests/conformance/test_qmp_protocol.py
(``run_scenario``: a sentinel request after each chunk).  Each stream ends in a
0xFF byte, which resets QEMU's JSON lexer (json-lexer.c), so the sentinel is
always parsed on its own and the transcripts are comparable message by message.
One QEMU and one mock instance serve every example (each example is a new
connection, so negotiation starts afresh); derandomized, 40 examples.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance.test_qmp_protocol import NEG, run_scenario
from tests.support.mock import MockServer
from tests.support.peers import RealQemu

from .strategies import examples, stream

pytestmark = pytest.mark.realqemu


@pytest.fixture(scope="module")
def peers():
    with RealQemu() as q, MockServer() as m:
        _, path = m.instance("debian-7.2-tcg")
        yield q.path, path


@settings(
    max_examples=examples(40),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(stream(max_fragments=8), st.booleans())
def test_mock_answers_garbage_like_qemu(peers, raw, negotiate):
    real_path, mock_path = peers
    chunks = ([NEG] if negotiate else []) + [raw + b"\xff"]
    g_real, real, raw_real = run_scenario(real_path, chunks, quit_at_end=False)
    g_mock, ours, raw_mock = run_scenario(mock_path, chunks, quit_at_end=False)
    assert g_mock == g_real
    assert ours == real
    assert raw_mock == raw_real  # byte for byte (no events: nothing here emits one)
