"""The shared driver logic (qmpserver.net.endpoint) against a fake transport.

Both real drivers (asyncio, epoll) only add transport primitives to
``net.endpoint.Connection``; these tests drive it directly: chunking does not
change the bytes, write pressure and paused input stop reading, a hold is
resumed by a timer, a closing session closes after its output, a second
client waits for the first.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmpserver.net.endpoint import Address, Connection, Listener
from qmpserver.profiles.loader import load_profile
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig


class FakeConn(Connection):
    def __init__(self, endpoint, loop):
        self.loop = loop
        self.written = bytearray()
        self.reading_log = []
        self.open = True
        self.close_requested = False
        super().__init__(endpoint)
        self.opened()

    def _write(self, data):
        self.written += data

    def _set_reading(self, on):
        self.reading_log.append(on)

    def _close_when_flushed(self):
        self.close_requested = True
        self.open = False
        self.lost()

    def _is_open(self):
        return self.open

    def _call_soon(self, fn):
        self.loop.append((0.0, fn))

    def _call_later(self, delay, fn):
        self.loop.append((delay, fn))

    def run_loop(self):
        while self.loop:
            _, fn = self.loop.pop(0)
            fn()

    def lines(self):
        out = [json.loads(line) for line in bytes(self.written).split(b"\r\n") if line]
        self.written.clear()
        return out


def _endpoint(**kw):
    inst = start(load_profile("debian-7.2-tcg"), InstanceConfig(start_paused=True))
    return inst, Listener(inst.add_monitor(**kw), Address("unix", path="/nonexistent"))


REQUESTS = (
    b'{"execute":"qmp_capabilities"}'
    b'{"execute":"query-name","id":1}{"execute":"query-status","id":2}'
    b'{"execute":"no-such","id":3}}{"execute":"query-version","id":4}'
)


_shared = []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, len(REQUESTS)), max_size=8))
def test_chunking_does_not_change_the_bytes(cuts):
    if not _shared:
        _shared.append(_endpoint()[0])
    ep = Listener(_shared[0].add_monitor(), Address("unix", path="/nonexistent"))
    whole = FakeConn(ep, [])
    whole.data_in(REQUESTS)
    expected = bytes(whole.written)
    whole.lost()
    cuts = sorted(cuts)
    c = FakeConn(ep, [])
    for i, j in zip([0] + cuts, cuts + [len(REQUESTS)]):
        c.data_in(REQUESTS[i:j])
    assert bytes(c.written) == expected
    c.lost()


def test_write_pressure_stops_reading_until_writable():
    inst, ep = _endpoint()
    c = FakeConn(ep, [])
    c.write_blocked = True
    c.data_in(b'{"execute":"qmp_capabilities"}')
    assert c.reading_log == [False]
    c.writable()
    assert c.reading_log == [False, True]


def test_event_wakes_the_driver_and_a_hold_is_resumed_by_a_timer():
    inst, ep = _endpoint()
    loop = []
    c = FakeConn(ep, loop)
    c.data_in(b'{"execute":"qmp_capabilities"}')
    c.lines()
    inst.emit("STOP")
    assert [fn for _, fn in loop] == [c._woken]
    c.run_loop()
    assert [m.get("event") for m in c.lines()] == ["STOP"]

    c.session.gate_inband(lambda s, item: 0.25 if isinstance(item, dict) and item.get("id") == 1 else 0)
    c.data_in(b'{"execute":"query-name","id":1}')
    assert c.lines() == []
    assert c.reading_log == [False]  # without OOB a queued request suspends input
    assert [d for d, _ in loop] == [0.25]
    c.run_loop()
    assert [m["id"] for m in c.lines()] == [1]
    assert c.reading_log == [False, True]


def test_terminate_closes_after_the_output_and_admits_nobody():
    inst, ep = _endpoint()
    loop = []
    first = FakeConn(ep, loop)
    second = FakeConn(ep, loop)
    assert first.active and not second.active
    first.data_in(b'{"execute":"qmp_capabilities"}{"execute":"quit"}')
    first.run_loop()
    # 7.2 sends the event before the reply (quirk main-loop-events-before-reply)
    assert [m.get("event", "reply") for m in first.lines()[1:]] == ["reply", "SHUTDOWN", "reply"]
    assert first.close_requested
    assert not second.active  # the emulated process has exited


def test_second_client_is_greeted_when_the_first_leaves():
    inst, ep = _endpoint()
    first = FakeConn(ep, [])
    second = FakeConn(ep, [])
    second.data_in(b'{"execute":"qmp_capabilities"}')
    assert second.written == b""
    first.lost()
    assert [list(m) for m in second.lines()] == [["QMP"], ["return"]]


def test_waiting_client_is_not_read_beyond_a_bound():
    """D1: a client waiting for the monitor is buffered up to WAITING_INPUT_MAX, then not read
    (QEMU does not accept it: its sends block); admitted, it is read again and answered."""
    from qmpserver.net.endpoint import WAITING_INPUT_MAX

    inst, ep = _endpoint()
    first = FakeConn(ep, [])
    second = FakeConn(ep, [])
    req = b'{"execute":"qmp_capabilities"}' + b'{"execute":"query-name"}' * (WAITING_INPUT_MAX // 24 + 1)
    second.data_in(req[: WAITING_INPUT_MAX // 2])
    assert second.reading_log == []  # a little is read: a waiting client that hangs up is noticed
    second.data_in(req[WAITING_INPUT_MAX // 2 :])
    assert second.reading_log == [False]
    assert len(second.pending) <= len(req)
    first.lost()
    assert second.reading_log == [False, True]
    msgs = second.lines()
    assert list(msgs[0]) == ["QMP"] and msgs[1] == {"return": {}}
    assert msgs[2:] == [{"return": {}}] * (len(msgs) - 2) and len(msgs) > 100


def test_output_high_water_stops_answering_until_written():
    """D2: pipelined requests of a client that does not read are answered only up to
    OUTPUT_HIGH_WATER of output; the rest stays unparsed and input is not read until the
    output is written, so a never-reading client costs a bounded amount of memory."""
    from qmpserver.qmp.session import OUTPUT_HIGH_WATER

    inst, ep = _endpoint()
    loop = []
    c = FakeConn(ep, loop)
    c.data_in(b'{"execute":"qmp_capabilities"}')
    c.lines()
    n = 200
    c.write_blocked = True  # the client does not read: the transport is above its mark
    c.data_in(b'{"execute":"query-qmp-schema"}' * n)
    first = c.lines()
    assert 0 < len(first) < n, "answered %d of %d while the output was backed up" % (len(first), n)
    assert c.session.outbytes == 0 and c.reading_log == [False]
    one = len(json.dumps(first[0]))
    assert len(first) * one <= OUTPUT_HIGH_WATER + 2 * one
    assert loop == []  # nothing more until the transport drains
    got = len(first)
    for _ in range(n):
        c.writable()  # the transport drained below its mark
        c.run_loop()
        got += len(c.lines())
        if got == n:
            break
    assert got == n
    assert c.reading_log[-1] is True
