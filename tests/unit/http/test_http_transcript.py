"""Transcript exports, metrics text and fault parsing (no sockets)."""

from __future__ import annotations

import json

import pytest

from qmpserver.http.faults import DEFAULT_OVERSIZE, FaultError, oversize_value, parse_fault
from qmpserver.http.metrics import Metrics
from qmpserver.http.transcript import (
    Budget,
    Transcript,
    encode_request,
    entry_json,
    kind_of,
    pairs,
    text_of,
    to_replies,
)
from qmpserver.wire.encode import RawJSON, message


def make(entries, limit=100, budget=None):
    t = Transcript(limit, budget)
    for conn, d, obj in entries:
        t.add(conn, d, kind_of(d, obj), encode_request(obj) if d == "in" else message(obj))
    return t


def test_replies_renumber_per_qmp_capabilities_and_skip_events_and_greeting():
    t = make(
        [
            (1, "out", {"QMP": {"version": {}, "capabilities": []}}),
            (1, "in", {"execute": "qmp_capabilities", "id": 17}),
            (1, "out", {"return": {}, "id": 17}),
            (1, "in", {"execute": "query-kvm"}),
            (1, "out", {"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}),
            (1, "out", {"return": {"enabled": False, "present": False}}),
            (2, "out", {"QMP": {}}),
            (2, "in", {"execute": "qmp_capabilities", "id": "x"}),
            (2, "out", {"return": {}, "id": "x"}),
            (2, "in", {"execute": "query-target", "arguments": {}, "id": "y"}),
            (2, "out", {"error": {"class": "GenericError", "desc": "no"}, "id": "y"}),
        ]
    )
    text = to_replies(t.entries)
    objs = [json.loads(c) for c in text.rstrip("\n").split("\n\n")]
    assert [o["id"] for o in objs] == ["libvirt-1"] * 2 + ["libvirt-2"] * 2 + ["libvirt-1"] * 2 + [
        "libvirt-2"
    ] * 2
    assert objs[3] == {"return": {"enabled": False, "present": False}, "id": "libvirt-2"}
    assert objs[6] == {"execute": "query-target", "arguments": {}, "id": "libvirt-2"}
    assert text.endswith("}\n") and "\n\n\n" not in text


def test_replies_wire_order_and_raw_json():
    # members in QDict order as sent (query-version prints micro, minor, major)
    reply = {"return": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""}, "id": "a"}
    sent = json.loads(message(reply))
    t = make(
        [
            (1, "in", {"execute": "query-version", "id": "a"}),
            (1, "out", reply),
            (1, "in", {"execute": "query-qmp-schema", "id": "b"}),
            (1, "out", {"return": RawJSON('[{"name": "x", "meta-type": "builtin"}]'), "id": "b"}),
        ]
    )
    objs = [json.loads(c) for c in to_replies(t.entries).split("\n\n")]
    assert list(objs[1]["return"]["qemu"]) == list(sent["return"]["qemu"])
    assert objs[3]["return"] == [{"name": "x", "meta-type": "builtin"}]
    e = entry_json(t.entries[3])
    assert e["kind"] == "reply" and e["msg"]["return"][0]["name"] == "x" and e["msg"]["id"] == "b"


def test_pairs_match_by_id_across_oob_overtaking():
    t = make(
        [
            (1, "in", {"execute": "a", "id": 1}),
            (1, "in", {"exec-oob": "b", "id": 2}),
            (1, "out", {"return": {}, "id": 2}),
            (1, "out", {"return": {}, "id": 1}),
        ]
    )
    assert [(c["id"], r["id"]) for c, r in pairs(t.entries)] == [(1, 1), (2, 2)]


def test_text_limits():
    big = message({"return": RawJSON('"' + "x" * 1000 + '"'), "id": "z"})
    assert text_of(big) == '{"return": "' + "x" * 1000 + '", "id": "z"}'
    assert len(text_of(big, 50)) == 50
    assert text_of(message({"event": "X", "timestamp": {"seconds": 1, "microseconds": 0}})).startswith("{")


def test_transcript_bound_and_disabled():
    t = make([(1, "in", {"execute": "x%d" % i}) for i in range(5)], limit=2)
    assert [entry_json(e)["msg"]["execute"] for e in t.entries] == ["x3", "x4"] and t.dropped == 3
    off = Transcript(0)
    off.add(1, "in", "command", b"{}")
    assert len(off.entries) == 0 and off.dropped == 1


def test_shared_byte_budget():
    budget = Budget(10000)
    a = make([(1, "in", {"execute": "a", "arguments": {"pad": "x" * 900}}) for _ in range(5)], budget=budget)
    b = Transcript(100, budget)
    assert budget.used == a.bytes and budget.members == 2
    for _ in range(20):
        b.add(1, "in", "command", b"y" * 1000)
    # over budget: the recording transcript shrinks to its fair share (10000 / 2)
    assert b.bytes <= 5000 and budget.used == a.bytes + b.bytes
    assert len(a.entries) == 5
    b.release()
    assert budget.used == a.bytes and budget.members == 1
    a.clear()
    assert budget.used == 0


def test_metrics_text_format():
    class B:
        class build:
            class schema:
                commands = {"query-status": 1}

    m = Metrics()
    m.command(B, "query-status", None, 0.0002)
    m.command(B, "query-status", {"class": "GenericError"}, 0.02)
    m.command(B, 'evil"name\n', None, None)
    m.command(B, None, {"class": "GenericError"}, None)
    m.event({"event": "STOP"})
    text = m.render()
    assert 'qmpserver_commands_total{command="query-status"} 2' in text
    assert 'qmpserver_commands_total{command="(unknown)"} 1' in text
    assert 'qmpserver_command_errors_total{command="(invalid)",class="GenericError"} 1' in text
    assert 'qmpserver_command_duration_seconds_bucket{le="0.00025"} 1' in text
    assert 'qmpserver_command_duration_seconds_bucket{le="+Inf"} 2' in text
    assert 'qmpserver_events_total{event="STOP"} 1' in text
    assert text.endswith("\n")


def test_oversize_value_is_exact():
    for rid in (None, "libvirt-12", 7):
        req = {"execute": "x"} if rid is None else {"execute": "x", "id": rid}
        reply = {"return": oversize_value(1000, req)}
        if rid is not None:
            reply["id"] = rid
        assert len(message(reply)) == 1000
    assert DEFAULT_OVERSIZE == 10 * 1024 * 1024 + 2


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"kind": "delay", "seconds": -1},
        {"kind": "delay", "seconds": True},
        {"kind": "fail", "command": 5},
        {"kind": "close", "permanent": "yes"},
        {"kind": "close", "extra": 1},
        {"kind": "close", "seconds": 1},
        {"kind": "fail"},
        {"kind": "delay"},
        {"kind": "oversize", "bytes": 63},
    ],
)
def test_fault_bodies_rejected(body):
    """Types and ranges from the FaultCreate schema, kind-specific rules from parse_fault."""
    from qmpserver.http.control import BodyError, check_body

    with pytest.raises((FaultError, BodyError)):
        parse_fault(check_body("FaultCreate", body), None)
