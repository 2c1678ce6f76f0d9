"""The command table's reply memo (qmp/memo.py) changes no byte on the wire.

Two sessions on two instances of one KVM profile get the same bytes, split the
same way; one table has its memo, the other has none.  The requests come from a
small pool so that they repeat: CPU model computations (pure) with and without
ids of every shape (string, integer, ``-0``, escapes, first member, twice, in the
arguments), whitespace around the id and after the message, invalid values (an
error is never kept), other commands, JSON errors, out-of-band requests, several
messages in one read, and messages cut anywhere.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from qmpserver.profiles.loader import load_profile
from qmpserver.qmp import memo as M
from qmpserver.qmp.session import Session
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig

PROFILE = "ampereone-a-mte-6.18"
_instances: dict = {}


def _instance(memo: bool):
    inst = _instances.get(memo)
    if inst is None:
        inst = _instances[memo] = start(load_profile(PROFILE), InstanceConfig(start_paused=True))
        if not memo:
            inst.command_table.memo = None
    return inst


def _sysreg():
    s = _session(True, b'{"execute":"qmp_capabilities"}')
    s.receive_data(
        b'{"execute":"query-cpu-model-expansion","arguments":{"type":"full","model":{"name":"host"}}}'
    )
    s.pump()
    props = json.loads(s.take_output())["return"]["model"]["props"]
    return {k: v for k, v in props.items() if k.startswith("SYSREG_")}


def _session(memo: bool, negotiate: bytes | None) -> Session:
    s = Session(_instance(memo).add_monitor())
    s.connect()
    if negotiate is not None:
        s.receive_data(negotiate)
        s.pump()
        s.take_output()
    return s


def _enc(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


SYSREG = _sysreg()
AES = "SYSREG_ID_AA64ISAR0_EL1_AES"
_EXP = {"execute": "query-cpu-model-expansion", "arguments": {"type": "full", "model": {"name": "host"}}}


def _exp(props=None, name="host"):
    m = {"name": name}
    if props is not None:
        m["props"] = props
    return {"execute": "query-cpu-model-expansion", "arguments": {"type": "full", "model": m}}


BODIES = [
    _enc(_exp())[:-1],
    _enc(_exp(SYSREG))[:-1],
    _enc(_exp(dict(SYSREG, **{AES: 1})))[:-1],
    _enc(_exp({AES: 0}))[:-1],
    _enc(_exp({AES: 9}))[:-1],  # refused: an error, never kept
    _enc(_exp({AES: True}))[:-1],
    _enc(_exp({"sve": False}))[:-1],
    _enc(_exp(name="max"))[:-1],
    _enc(_exp(name="cortex-a57"))[:-1],  # refused under KVM
    _enc(
        {
            "execute": "query-cpu-model-baseline",
            "arguments": {"modela": {"name": "host"}, "modelb": {"name": "host", "props": {AES: 1}}},
        }
    )[:-1],
    _enc(
        {
            "execute": "query-cpu-model-comparison",
            "arguments": {"modela": {"name": "host"}, "modelb": {"name": "host", "props": {AES: 1}}},
        }
    )[:-1],
    b'{"execute":"query-version"',
    b'{"execute":"query-status"',
    b'{"execute":"qmp_capabilities"',
    b'{"execute":"no-such-command"',
    b'{"execute":"query-cpu-model-expansion","arguments":{"type":"full","model":{"name":"host","id":1}}',
    b'{"execute":"query-cpu-model-expansion","arguments":{"type":"static","model":{"name":"host"}}',
]
IDS = [
    None,
    b'"a"',
    b'"libvirt-12"',
    b'"libvirt-13"',
    b"7",
    b"0",
    b"-0",
    b"-12",
    b"123456789012345678901",
    b'"with \\"quote\\""',
    b'"\\u0041"',
    b'"it\'s/%"',
    b"1.5",
    b"null",
    b"[1]",
    b'{"x":1}',
]
SEP = [b",", b" , ", b",\r\n"]
COLON = [b":", b" : "]
TAIL = [b"", b"\n", b"\r\n", b"  "]


@st.composite
def request(draw):
    body = draw(st.sampled_from(BODIES))
    tid = draw(st.sampled_from(IDS))
    shape = draw(st.sampled_from(["last", "last", "first", "twice", "oob"]))
    tail = draw(st.sampled_from(TAIL))
    if tid is None:
        return body + b"}" + tail
    sep, colon = draw(st.sampled_from(SEP)), draw(st.sampled_from(COLON))
    if shape == "first":
        return b'{"id"' + colon + tid + b"," + body[1:] + b"}" + tail
    if shape == "twice":
        return body + b',"id":"x"' + sep + b'"id"' + colon + tid + b"}" + tail
    if shape == "oob":
        return body.replace(b'"execute"', b'"exec-oob"', 1) + sep + b'"id"' + colon + tid + b"}" + tail
    return body + sep + b'"id"' + colon + tid + b"}" + tail


@settings(max_examples=300, deadline=None)
@given(
    reqs=st.lists(request(), min_size=1, max_size=12),
    mode=st.sampled_from(["one", "all", "cut"]),
    cuts=st.lists(st.integers(0, 100000), max_size=4),
    oob=st.booleans(),
)
def test_memo_changes_no_byte(reqs, mode, cuts, oob):
    neg = (
        b'{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}'
        if oob
        else b'{"execute":"qmp_capabilities"}'
    )
    a, b = _session(True, neg), _session(False, neg)
    if mode == "one":
        chunks = reqs
    else:
        data = b"".join(reqs)
        if mode == "all":
            chunks = [data]
        else:
            pts = sorted({c % (len(data) + 1) for c in cuts})
            chunks = [data[i:j] for i, j in zip([0] + pts, pts + [len(data)])]
    for chunk in chunks:
        for s in (a, b):
            s.receive_data(chunk)
            s.pump()
        assert a.take_output() == b.take_output(), chunk


def test_a_repeated_request_is_answered_from_the_memo():
    s = _session(True, b'{"execute":"qmp_capabilities"}')
    table = s.table
    req = _enc(dict(_exp(SYSREG), id="libvirt-5"))
    s.receive_data(req)
    s.pump()
    first = s.take_output()
    assert json.loads(first)["id"] == "libvirt-5"
    assert len(table.memo._entries) >= 1
    s.receive_data(req.replace(b"libvirt-5", b"libvirt-6"))
    s.pump()
    assert s.take_output() == first.replace(b"libvirt-5", b"libvirt-6")


def test_split_id():
    assert M.split_id(b'{"execute":"x","id":"a"}') == (b'{"execute":"x"', b'"a"')
    assert M.split_id(b'{"execute":"x" ,\n "id" : 12 }\r\n') == (b'{"execute":"x" ', b"12")
    assert M.split_id(b'{"execute":"x","id":-0}') == (b'{"execute":"x","id":-0}', None)
    assert M.split_id(b'{"id":"a"}') == (b'{"id":"a"}', None)
    assert M.split_id(b'{"id":"a","execute":"x"}') == (b'{"id":"a","execute":"x"}', None)
    assert M.split_id(b'{"execute":"x","arguments":{"id":1}}') == (
        b'{"execute":"x","arguments":{"id":1}}',
        None,
    )
    assert M.split_id(b'{"execute":"x","id":"a\\"b"}')[1] is None


def test_memo_is_bounded():
    memo = M.ReplyMemo()
    s = _session(True, b'{"execute":"qmp_capabilities"}')
    entry = s.table.lookup("query-cpu-model-expansion")
    reply = {"return": {"model": {"name": "host"}}}
    for i in range(M.MAX_ENTRIES * 3):
        memo.store(b'{"execute":"query-cpu-model-expansion","x":%d}' % i, entry, {"execute": "x"}, reply, ())
        assert len(memo) <= M.MAX_ENTRIES
    big = {"return": "y" * (M.MAX_BYTES // 3)}
    for i in range(10):
        memo.store(b'{"execute":"query-cpu-model-expansion","y":%d}' % i, entry, {"execute": "x"}, big, ())
        assert memo._bytes <= M.MAX_BYTES
        assert memo._bytes == sum(len(k[0]) + len(v[1]) for k, v in memo._entries.items())
    assert memo.answer(b'{"execute":"query-cpu-model-expansion","y":9}') is not None
    assert memo.answer(b'{"execute":"query-cpu-model-expansion","x":0}') is None  # dropped first
