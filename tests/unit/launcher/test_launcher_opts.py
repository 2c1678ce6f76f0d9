"""QemuOpts and keyval parsing (qapi/opts.py) with QEMU 7.2's semantics and texts."""

from __future__ import annotations

import pytest

from qmpserver.qapi.opts import (
    OptsList,
    QemuOptsError,
    keyval_merge,
    keyval_parse,
    parse_cpu,
    parse_opts,
    qemu_opts_parse,
    split_commas,
    strtosz,
)


def test_existing_helpers_unchanged():
    assert split_commas("a,,b,c") == ["a,b", "c"]
    assert parse_opts("virt,gic-version=3", "type") == {"type": "virt", "gic-version": "3"}
    assert parse_cpu("max,sve=off,+pmu") == ("max", {"sve": "off", "pmu": "on"})


MEM = dict(
    name="memory", implied="size", desc={"size": "size", "slots": "number", "maxmem": "size"}, merge=True
)


def test_implied_and_typed_values():
    g = qemu_opts_parse(OptsList(**MEM), "1G,slots=2,maxmem=4G", permit_abbrev=True)
    assert g.opts == {"size": 1 << 30, "slots": 2, "maxmem": 4 << 30}
    assert g.raw["size"] == "1G"


@pytest.mark.parametrize(
    "text,message,hint",
    [
        (
            "abc",
            "Parameter 'size' expects a non-negative number below 2^64",
            "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.",
        ),
        ("1,foo=1", "Invalid parameter 'foo'", ""),
        ("1,slots=x", "Parameter 'slots' expects a number", ""),
        ("99999999E", "Value '99999999E' is out of range for parameter 'size'", ""),  # parse_option_size
    ],
)
def test_qemu_opts_errors(text, message, hint):
    with pytest.raises(QemuOptsError) as e:
        qemu_opts_parse(OptsList(**MEM), text, permit_abbrev=True)
    assert (e.value.message, e.value.hint) == (message, hint)


def test_short_form_booleans_warn_and_still_fail_when_invalid():
    lst = OptsList("global", None, {"driver": "string", "property": "string", "value": "string"})
    warnings = []
    with pytest.raises(QemuOptsError) as e:
        qemu_opts_parse(lst, "foo", warnings=warnings)
    assert warnings == [("short-form boolean option 'foo' deprecated", "Please use foo=on instead")]
    assert e.value.message == "Invalid parameter 'foo'"


def test_short_form_no_prefix_and_nodelay_hint():
    lst = OptsList(
        "chardev", "backend", {"backend": "string", "wait": "bool", "delay": "bool", "server": "bool"}
    )
    warnings = []
    g = qemu_opts_parse(lst, "socket,id=c,server,nowait,nodelay", permit_abbrev=True, warnings=warnings)
    assert g.opts == {"backend": "socket", "server": True, "wait": False, "delay": False}
    assert warnings[-1] == ("short-form boolean option 'nodelay' deprecated", "Please use nodelay=on instead")


def test_ids_duplicates_and_merge():
    lst = OptsList("object", "qom-type", None)
    qemu_opts_parse(lst, "secret,id=s1", permit_abbrev=True)
    with pytest.raises(QemuOptsError) as e:
        qemu_opts_parse(lst, "secret,id=s1", permit_abbrev=True)
    assert e.value.message == "Duplicate ID 's1' for object"
    with pytest.raises(QemuOptsError) as e:
        qemu_opts_parse(lst, "secret,id=1x", permit_abbrev=True)
    assert e.value.message == "Parameter 'id' expects an identifier"
    merged = OptsList("rtc", None, {"base": "string", "clock": "string"}, merge=True)
    qemu_opts_parse(merged, "base=utc")
    g = qemu_opts_parse(merged, "clock=vm")
    assert g.opts == {"base": "utc", "clock": "vm"}


def test_help_is_detected():
    g = qemu_opts_parse(OptsList("device", "driver", None), "virtio-net-pci,help", permit_abbrev=True)
    assert g.help is True


@pytest.mark.parametrize(
    "text,value",
    [
        ("0", 0),
        ("1024", 1024),
        ("1k", 1024),
        ("1K", 1024),
        ("2M", 2 << 20),
        ("1.5G", 3 << 29),
        ("0x10", 16),
        ("1B", 1),
        ("4E", 4 << 60),
    ],
)
def test_strtosz(text, value):
    assert strtosz(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1x", "-1", "1.", "0x", "1.5"])
def test_strtosz_rejects(text):
    assert strtosz(text) is None


def test_keyval_parse():
    d, h = keyval_parse("virt-7.2,usb=off,gic-version=2", "type")
    assert d == {"type": "virt-7.2", "usb": "off", "gic-version": "2"} and h is False
    d, h = keyval_parse("driver=qcow2,file.driver=file,file.filename=a,,b")
    assert d == {"driver": "qcow2", "file": {"driver": "file", "filename": "a,b"}}
    d, h = keyval_parse("help", "type")
    assert h is True
    with pytest.raises(QemuOptsError) as e:
        keyval_parse("help,foo", "type")
    assert e.value.message == "Expected '=' after parameter 'foo'"
    with pytest.raises(QemuOptsError) as e:
        keyval_parse("virt,1x=2", "type")
    assert e.value.message == "Invalid parameter '1x'"
    with pytest.raises(QemuOptsError) as e:
        keyval_parse("a=1,a.b=2")
    assert e.value.message == "Parameters 'a.*' used inconsistently"


def test_keyval_merge_later_wins():
    d = {}
    keyval_merge(d, keyval_parse("virt,gic-version=2", "type")[0])
    keyval_merge(d, {"smp": {"cpus": "2"}})
    keyval_merge(d, keyval_parse("mte=on,gic-version=3", "type")[0])
    assert d == {"type": "virt", "gic-version": "3", "smp": {"cpus": "2"}, "mte": "on"}
