"""The incoming side against bad input: garbage, a bad header, a truncated stream, a
newer guest-ABI format, an unknown section, a peer that is not a qmpserver.  The
destination reports QEMU's lines and exits 1 (or stays up with 10.0's
``exit-on-error: false``); nothing hangs.  Also the stream layout itself (round trip)."""

from __future__ import annotations

import socket
import struct

import pytest
from test_machine_migration import EVENTS, free_port, pump, q

from qmpserver.migration import engine
from qmpserver.migration import stream as st


def _dest(profile="qmpserver-tcg", **kw):
    d = q(profile, "virt", None, "max", incoming="defer", **kw)
    d.cmd("migrate-set-capabilities", **EVENTS)
    port = free_port()
    d.cmd("migrate-incoming", uri="tcp:127.0.0.1:%d" % port)
    return d, port


def _feed(d, port, data, close=True):
    s = socket.create_connection(("127.0.0.1", port))
    try:
        s.sendall(data)
        if close:
            s.shutdown(socket.SHUT_WR)
    except OSError:  # the destination refused early and closed: the rest is unread, as with QEMU
        pass
    pump(
        d, until=lambda: d.instance.terminated is not None or d.instance.migration.incoming_status == "failed"
    )
    try:
        rest = s.recv(100)
    except ConnectionResetError:  # the destination closed with our bytes unread
        rest = b""
    s.close()
    return rest


def _good_stream(profile="qmpserver-tcg"):
    src = q(profile, "virt", None, "max")
    head, tail = engine.outgoing(engine.Snapshot(src.instance), return_path=False)
    return head, tail


@pytest.mark.parametrize(
    "data,lines",
    [
        (b"hello\n", ["Not a migration stream"]),
        (struct.pack(">II", st.MAGIC, 2), ["SaveVM v2 format is obsolete and don't work anymore"]),
        (struct.pack(">II", st.MAGIC, 4), ["Unsupported migration stream version"]),
        (struct.pack(">II", st.MAGIC, 3) + b"\x04", ["Configuration section missing"]),
        # cut in the magic: QEMUFile reads zeros after the end, so the magic is wrong
        (b"QEV", ["Not a migration stream"]),
    ],
)
def test_bad_headers(data, lines):
    d, port = _dest()
    _feed(d, port, data)
    errno_text = {
        "Not a migration stream": "Invalid argument",
        "Configuration section missing": "Invalid argument",
    }
    final = "load of migration failed: " + (
        errno_text.get(lines[0], "Operation not supported") if lines else "Input/output error"
    )
    assert list(d.instance.stderr) == lines + [final]
    assert d.instance.exit_code == 1 and d.instance.terminated == "migration-failed"


def test_machine_type_mismatch():
    d, port = _dest()
    bad = st.header("virt-7.2", 12)
    _feed(d, port, bad)
    assert list(d.instance.stderr) == [
        "Machine type received is 'virt-7.2' and local is 'virt-11.1'",
        "load of migration failed: Invalid argument",
    ]


def test_truncated_after_header():
    head, tail = _good_stream()
    d, port = _dest()
    _feed(d, port, head + tail[:20])
    assert list(d.instance.stderr) == ["load of migration failed: Input/output error"]


def test_newer_abi_format_is_a_newer_section_version():
    head, tail = _good_stream()
    snap = engine.Snapshot(q("qmpserver-tcg", "virt", None, "max").instance)
    newer = st.ram_complete(0) + st.abi_section(1, snap.abi, version=2)
    d, port = _dest()
    _feed(d, port, head + newer)
    assert list(d.instance.stderr) == [
        "savevm: unsupported version 2 for 'qmpserver/guest-abi' v1",
        "load of migration failed: Invalid argument",
    ]


def test_unknown_device_section():
    head, _ = _good_stream()
    d, port = _dest()
    _feed(d, port, head + st.footer(0) + st.device_section(7, "virtio-net", 0, 11))
    assert list(d.instance.stderr) == [
        "Unknown savevm section or instance 'virtio-net' 0. Make sure that your current VM setup matches "
        "your saved VM setup, including any hotplugged devices",
        "load of migration failed: Invalid argument",
    ]


def test_ram_size_mismatch():
    src = q("qmpserver-tcg", "virt", None, "max", memory=256 << 20)
    head, _ = engine.outgoing(engine.Snapshot(src.instance), return_path=False)
    d, port = _dest()
    _feed(d, port, head)
    assert list(d.instance.stderr) == [
        "Size mismatch: mach-virt.ram: 0x10000000 != 0x8000000: Invalid argument",
        "error while loading state for instance 0x0 of device 'ram'",
        "load of migration failed: Invalid argument",
    ]


def test_stream_cut_while_active_fails_in_the_footer():
    """A source cancelled (or gone) while active: the RAM iteration's footer never
    comes (QEMU 7.2 recording cancel-active)."""
    head, _ = _good_stream()
    d, port = _dest()
    _feed(d, port, head)
    assert list(d.instance.stderr) == [
        "check_section_footer: Read section footer failed: -5",
        "load of migration failed: Invalid argument",
    ]


def test_stream_cut_in_the_ram_block_list():
    """QEMUFile reads zeros past the end: the block's size reads as 0 (QEMU 7.2
    recording inject-truncated-100)."""
    head, _ = _good_stream()
    cut = head.index(b"mach-virt.ram") + len(b"mach-virt.ram") + 3
    d, port = _dest()
    _feed(d, port, head[:cut])
    assert list(d.instance.stderr) == [
        "Size mismatch: mach-virt.ram: 0x0 != 0x8000000: Invalid argument",
        "error while loading state for instance 0x0 of device 'ram'",
        "load of migration failed: Invalid argument",
    ]


def test_exit_on_error_false_keeps_the_destination_up():
    d = q("qemu-11.1-tcg", "virt", None, "max", incoming="defer")
    port = free_port()
    d.cmd("migrate-incoming", uri="tcp:127.0.0.1:%d" % port, **{"exit-on-error": False})
    _feed(d, port, b"garbage!")
    assert d.instance.terminated is None
    assert d.cmd("query-migrate") == {
        "status": "failed",
        "error-desc": "load of migration failed: Invalid argument",
    }
    assert list(d.instance.stderr) == ["Not a migration stream"]


def test_return_path_gets_shut_on_failure_from_10():
    d, port = _dest()
    rp = _feed(d, port, st.header("virt-11.1", 12) + st.command(st.CMD_OPEN_RETURN_PATH) + b"\x63")
    # PING was not sent; the unknown section type fails the load; SHUT(1) goes back
    assert rp == st.rp_message(st.RP_SHUT, 1)
    assert list(d.instance.stderr)[0] == "Unknown savevm section type 99"


def test_round_trip_layout():
    head, tail = _good_stream()
    r = st.Reader(iter([head + tail]).__next__)
    assert head.startswith(b"QEVM\x00\x00\x00\x03\x07\x00\x00\x00\x09virt-11.1")
    seen = []

    class Dest(engine.Destination):
        def handlers(self):
            h = super().handlers()
            for key, handler in h.items():
                orig = handler.load
                handler.load = lambda r, s, orig=orig, key=key: (seen.append(key), orig(r, s))
            return h

    snap = engine.Snapshot(q("qmpserver-tcg", "virt", None, "max").instance)
    dest = Dest(snap)
    buf = head + tail
    pos = [0]

    def read(n):
        chunk = buf[pos[0] : pos[0] + n]
        pos[0] += len(chunk)
        return chunk

    dest.load(st.Reader(read), lambda c, d: None)
    assert seen == [("ram", 0), (st.ABI_IDSTR, 0), ("cpu_common", 0), ("cpu", 0), ("arm_gic", 0)]
    assert dest.abi == snap.abi
    del r
