"""OOB, in-band queueing and flow control (QEMU monitor/qmp.c: QMP_REQ_QUEUE_LEN_MAX, monitor suspend/resume).

A slow in-band command is made by delaying ``query-iothreads`` with the
session's in-band gate (``Session.gate_inband``, the hook fault injection uses).
"""

from __future__ import annotations

import time

import pytest

from tests.support.client import RawClient
from tests.support.mock import MockServer

OOB_NEG = b'{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}'


@pytest.fixture
def mock():
    with MockServer() as m:
        yield m


def _slow(mock, inst, seconds=0.3, command="query-iothreads"):
    def hook(session, req):
        return seconds if isinstance(req, dict) and req.get("execute") == command else 0

    def install():
        for m in inst.monitors:
            for s in m.sessions:
                s.gate_inband(hook)

    return install


def test_oob_overtakes_queued_inband(mock):
    inst, path = mock.instance()
    c = RawClient(path)
    c.read()
    c.send(OOB_NEG)
    assert c.read() == {"return": {}}
    mock.call(_slow(mock, inst))
    t0 = time.time()
    c.send(
        b'{"execute":"query-iothreads","id":"ib-blocks-1"}'
        b'{"execute":"query-name","id":"ib-quick-1"}'
        b'{"exec-oob":"migrate-pause","id":"oob-1"}'
    )
    first = c.read()
    assert first["id"] == "oob-1"
    assert time.time() - t0 < 0.25, "the OOB reply must not wait for the slow in-band command"
    rest = c.read_n(2)
    assert [m["id"] for m in rest] == ["ib-blocks-1", "ib-quick-1"]


def test_malformed_request_stays_in_band(mock):
    inst, path = mock.instance()
    c = RawClient(path)
    c.read()
    c.send(OOB_NEG)
    c.read()
    mock.call(_slow(mock, inst))
    c.send(b'{"execute":"query-iothreads","id":"blocks-2"}{"id":"err-2"}')
    msgs = c.read_n(2)
    assert [m["id"] for m in msgs] == ["blocks-2", "err-2"]
    assert msgs[1]["error"] == {"class": "GenericError", "desc": "QMP input lacks member 'execute'"}


def test_exec_oob_rejected_for_non_oob_command(mock):
    _, path = mock.instance()
    c = RawClient(path)
    c.read()
    c.send(OOB_NEG)
    c.read()
    c.send(b'{"exec-oob":"query-name","id":1}')
    assert c.read() == {
        "error": {"class": "GenericError", "desc": "The command query-name does not support OOB"},
        "id": 1,
    }
    c.send(b'{"exec-oob":"query-cpus-fast"}')
    assert "error" in c.read()


def test_schema_marks_oob_commands(mock):
    _, path = mock.instance()
    c = RawClient(path)
    c.negotiate()
    schema = c.cmd("query-qmp-schema")["return"]
    oob = sorted(e["name"] for e in schema if e.get("allow-oob"))
    assert oob == ["migrate-pause", "migrate-recover", "query-yank", "yank"]
    assert all(
        e["name"].isdigit() or e["name"].startswith("[") or e["meta-type"] in ("command", "event", "builtin")
        for e in schema
    )


def test_pipelined_fifo(mock):
    _, path = mock.instance()
    c = RawClient(path)
    c.read()
    c.send(
        b'{"execute":"qmp_capabilities","id":0}'
        + b"".join(b'{"execute":"query-name","id":%d}' % i for i in range(1, 50))
    )
    assert [m["id"] for m in c.read_n(50)] == list(range(50))


def test_inband_queue_limit_without_oob_reads_one_at_a_time(mock):
    """Without OOB the session stops reading once one request is queued."""
    inst, path = mock.instance()
    c = RawClient(path)
    c.negotiate()
    mock.call(_slow(mock, inst, 0.2))
    sessions = mock.call(lambda: [s for m in inst.monitors for s in m.sessions])
    c.send(b'{"execute":"query-iothreads","id":1}' + b'{"execute":"query-name"}' * 20)
    time.sleep(0.1)
    queued = mock.call(lambda: len(sessions[0].queue))
    assert queued == 1
    assert len(c.read_n(21)) == 21


def test_inband_queue_limit_with_oob_is_eight(mock):
    inst, path = mock.instance()
    c = RawClient(path)
    c.read()
    c.send(OOB_NEG)
    c.read()
    mock.call(_slow(mock, inst, 0.3))
    sessions = mock.call(lambda: [s for m in inst.monitors for s in m.sessions])
    c.send(
        b'{"execute":"query-iothreads","id":0}'
        + b"".join(b'{"execute":"query-name","id":%d}' % i for i in range(1, 20))
    )
    time.sleep(0.15)
    assert mock.call(lambda: len(sessions[0].queue)) == 8
    assert [m["id"] for m in c.read_n(20)] == list(range(20))


def test_second_client_waits_for_the_first(mock):
    _, path = mock.instance()
    a = RawClient(path)
    assert "QMP" in a.read()
    b = RawClient(path)
    assert b.read(timeout=0.3) is None, "QEMU serves one client per monitor"
    a.close()
    assert "QMP" in b.read()
    b.negotiate_done = b.cmd("qmp_capabilities")
    assert b.negotiate_done == {"return": {}}


def test_multi_client_option():
    with MockServer(multi_client=True) as m:
        _, path = m.instance()
        a, b = RawClient(path), RawClient(path)
        assert "QMP" in a.read() and "QMP" in b.read()
