"""The schema engine's reply shaping (qmpserver/qapi/conform.py) on small introspected schemas."""

from __future__ import annotations

import json

import pytest

from qmpserver.errors import QMPError
from qmpserver.qapi.conform import conformer
from qmpserver.qapi.introspect import from_introspection
from qmpserver.wire.encode import RawJSON

B = [
    {"name": "int", "meta-type": "builtin", "json-type": "int"},
    {"name": "str", "meta-type": "builtin", "json-type": "string"},
    {"name": "bool", "meta-type": "builtin", "json-type": "boolean"},
    {"name": "any", "meta-type": "builtin", "json-type": "value"},
    {"name": "0", "meta-type": "object", "members": []},
]


def schema(ret: str, *types):
    info = [{"name": "q", "meta-type": "command", "arg-type": "0", "ret-type": ret}, *B, *types]
    return conformer(from_introspection(info))


ENUM = {"name": "e", "meta-type": "enum", "values": ["a", "b"], "members": [{"name": "a"}, {"name": "b"}]}
INFO = {
    "name": "s",
    "meta-type": "object",
    "members": [
        {"name": "name", "type": "str"},
        {"name": "kind", "type": "e", "default": None},
        {"name": "props", "type": "any", "default": None},
    ],
}
LIST = {"name": "[s]", "meta-type": "array", "element-type": "s"}


def test_member_the_build_lacks_is_dropped_and_conforming_value_is_kept_as_is():
    c = schema("[s]", INFO, LIST, ENUM)
    v = [{"name": "x", "kind": "a"}, {"name": "y"}]
    assert c.reply("q", v) is v
    got = c.reply("q", [{"name": "x", "deprecated": False}])
    assert got == [{"name": "x"}]


def test_unknown_enum_value_is_removed_where_removal_is_legal():
    c = schema("[s]", INFO, LIST, ENUM)
    # optional member: dropped
    assert c.reply("q", [{"name": "x", "kind": "zz"}]) == [{"name": "x"}]
    # array of enums: the element goes
    c2 = schema("[e]", ENUM, {"name": "[e]", "meta-type": "array", "element-type": "e"})
    assert c2.reply("q", ["a", "zz", "b"]) == ["a", "b"]


def test_required_unknown_enum_drops_the_array_element():
    req = dict(INFO, members=[{"name": "name", "type": "str"}, {"name": "kind", "type": "e"}])
    c = schema("[s]", req, LIST, ENUM)
    assert c.reply("q", [{"name": "x", "kind": "a"}, {"name": "y", "kind": "new"}]) == [
        {"name": "x", "kind": "a"}
    ]


def test_missing_required_member_is_an_error_never_invented():
    c = schema("[s]", INFO, LIST, ENUM)
    with pytest.raises(QMPError) as e:
        c.reply("q", [{"name": "x"}, {"kind": "a"}])
    assert "return[1]" in e.value.desc and "'name'" in e.value.desc and "q" in e.value.desc


def test_wrong_json_type_is_an_error_with_its_path():
    c = schema("s", INFO, ENUM)
    with pytest.raises(QMPError) as e:
        c.reply("q", {"name": 3})
    assert "return.name" in e.value.desc and "expected string" in e.value.desc
    with pytest.raises(QMPError):
        c.reply("q", {"name": True, "kind": "a"})


def test_any_is_untouched_and_members_follow_member_order():
    c = schema("s", INFO, ENUM)
    props = {"z": 1, "a": {"deep": [1]}}
    got = c.reply("q", {"props": props, "name": "n"})
    assert list(got) == ["name", "props"] and got["props"] is props


def test_union_branch_members_and_unknown_tag():
    u = {
        "name": "u",
        "meta-type": "object",
        "members": [{"name": "type", "type": "e"}],
        "tag": "type",
        "variants": [{"case": "a", "type": "va"}, {"case": "b", "type": "0"}],
    }
    va = {"name": "va", "meta-type": "object", "members": [{"name": "x", "type": "int"}]}
    arr = {"name": "[u]", "meta-type": "array", "element-type": "u"}
    c = schema("[u]", u, va, arr, ENUM)
    assert c.reply("q", [{"type": "a", "x": 1}, {"type": "b", "x": 1}, {"type": "c"}]) == [
        {"type": "a", "x": 1},
        {"type": "b"},
    ]
    with pytest.raises(QMPError):
        c.reply("q", [{"type": "a"}])  # branch member x required


def test_alternate():
    alt = {"name": "alt", "meta-type": "alternate", "members": [{"type": "int"}, {"type": "e"}]}
    c = schema("alt", alt, ENUM)
    assert c.reply("q", 3) == 3 and c.reply("q", "a") == "a"
    with pytest.raises(QMPError):
        c.reply("q", "zz")  # the top level cannot drop it
    with pytest.raises(QMPError):
        c.reply("q", [1])


def test_raw_json_checked_once_per_text():
    c = schema("[s]", INFO, LIST, ENUM)
    ok = RawJSON(json.dumps([{"name": "x"}]))
    assert c.reply("q", ok) is ok
    bad = RawJSON(json.dumps([{"name": "x", "deprecated": False}]))
    got = c.reply("q", bad)
    assert type(got) is RawJSON and json.loads(got) == [{"name": "x"}]
    assert c.reply("q", bad) is got


def test_recursive_type():
    node = {
        "name": "n",
        "meta-type": "object",
        "members": [{"name": "v", "type": "int"}, {"name": "kids", "type": "[n]", "default": None}],
    }
    arr = {"name": "[n]", "meta-type": "array", "element-type": "n"}
    c = schema("n", node, arr)
    assert c.reply("q", {"v": 1, "kids": [{"v": 2, "junk": 1, "kids": []}]}) == {
        "v": 1,
        "kids": [{"v": 2, "kids": []}],
    }


def test_strict_refuses_what_reply_would_reshape_and_logs_nothing(caplog):
    """strict(): for answers a person wrote (stubs): drop nothing, say where and why."""
    c = schema("[s]", INFO, LIST, ENUM)
    caplog.set_level("DEBUG", logger="qmpserver.conform")
    assert c.strict("q", [{"kind": "a", "name": "x"}]) == ([{"name": "x", "kind": "a"}], None)
    assert c.strict("q", [{"name": "x", "extra": 1}]) == (
        None,
        "return[0].extra: the build's type has no such member",
    )
    assert c.strict("q", [{"name": "x"}, {"name": "y", "kind": "z"}]) == (
        None,
        "return[1].kind: 'z' is not a value of this build's enum",
    )
    assert c.strict("q", [{"kind": "a"}]) == (None, "return[0]: required member 'name' is missing")
    assert c.strict("q", [{"name": 1}]) == (None, "return[0].name: expected string, got int")
    assert c.strict("nope", []) == (None, "nope is not a command of this build")
    assert not caplog.records
    # the computed-reply path still drops and logs as before
    assert c.reply("q", [{"name": "x", "extra": 1}]) == [{"name": "x"}]
    assert caplog.records
