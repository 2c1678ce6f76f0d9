"""pty chardevs are real pseudo-terminals, reported the way QEMU 7.2 reports them
(``chardev/char-pty.c``): the ``char device redirected to`` line on stdout,
``pty:/dev/pts/N`` in ``query-chardev``, ``ChardevReturn.pty`` from ``chardev-add``;
the first ``-serial`` port is the virt machine's UART (frontend open), a second has
no frontend. Differential values were read from Debian's QEMU 7.2 (see the docstrings)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import termios

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import launcher_testutil as lu  # noqa: E402

ARGS = ["-S", "-M", "virt", "-display", "none", "-nodefaults"]


@pytest.fixture
def tmpd():
    d = lu.short_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _lines(p):
    """The stdout lines written so far (one per chardev) without blocking for more."""
    out = []
    while True:
        line = p.stdout.readline().decode()
        out.append(line)
        if len(out) == 2:
            return out


def test_pty_chardevs_are_real_and_reported_like_qemu(tmpd):
    sock = os.path.join(tmpd, "m.sock")
    p = lu.spawn(
        ARGS
        + ["-chardev", "pty,id=charserial0", "-serial", "chardev:charserial0", "-serial", "pty"]
        + ["-qmp", "unix:%s,server=on,wait=off" % sock]
    )
    try:
        first, second = _lines(p)
        m0 = re.fullmatch(r"char device redirected to (/dev/pts/\d+) \(label charserial0\)\n", first)
        m1 = re.fullmatch(r"char device redirected to (/dev/pts/\d+) \(label serial1\)\n", second)
        assert m0 and m1, (first, second)
        pts0, pts1 = m0.group(1), m1.group(1)
        assert lu.wait_for(lambda: os.path.exists(sock))
        q = lu.QMP(sock)
        q.cmd("qmp_capabilities")
        got = {c["label"]: c for c in q.cmd("query-chardev")["return"]}
        # real 7.2: serial1 has no frontend (virt has one UART), charserial0 has the pl011
        assert got["charserial0"] == {
            "label": "charserial0",
            "filename": "pty:" + pts0,
            "frontend-open": True,
        }
        assert got["serial1"] == {"label": "serial1", "filename": "pty:" + pts1, "frontend-open": False}
        # a real terminal, raw (cfmakeraw: no echo, no canonical mode), silent
        fd = os.open(pts0, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            assert os.isatty(fd)
            lflag = termios.tcgetattr(fd)[3]
            assert lflag & (termios.ECHO | termios.ICANON) == 0
            os.write(fd, b"hello\r")
            with pytest.raises(BlockingIOError):
                os.read(fd, 64)  # no echo, no guest output
        finally:
            os.close(fd)
        r = q.cmd("chardev-add", {"id": "p2", "backend": {"type": "pty", "data": {}}})
        pts2 = r["return"]["pty"]
        assert re.fullmatch(r"/dev/pts/\d+", pts2) and os.path.exists(pts2)
        got = {c["label"]: c for c in q.cmd("query-chardev")["return"]}
        assert got["p2"] == {"label": "p2", "filename": "pty:" + pts2, "frontend-open": False}
        assert q.cmd("chardev-remove", {"id": "charserial0"})["error"] == {
            "class": "GenericError",
            "desc": "Chardev 'charserial0' is busy",
        }
        assert q.cmd("chardev-remove", {"id": "p2"}) == {"return": {}}
        q.cmd("quit")
        assert p.wait(timeout=10) == 0
        assert p.stdout.read() == b""  # chardev-add prints nothing (qemu_printf to a QMP monitor)
    finally:
        p.kill()
        p.wait()


def test_serial_on_a_missing_chardev_is_an_error():
    p = lu.run(ARGS + ["-serial", "chardev:nosuch"])
    assert p.returncode == 1
    assert p.stderr == (
        "qemu-system-aarch64: -serial chardev:nosuch: "
        "could not connect serial device to character backend 'chardev:nosuch'\n"
    )


def test_inherited_listening_fd_is_named_by_its_path(tmpd):
    """Real 7.2 with ``-chardev socket,id=inh,fd=N,server=on,wait=off`` on a listening unix
    socket: ``disconnected:unix:PATH,server=on``, not ``disconnected:fd:N``."""
    import socket

    path, sock = os.path.join(tmpd, "inh.sock"), os.path.join(tmpd, "m.sock")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(1)
    fd = ls.fileno()
    p = lu.spawn(
        ARGS
        + ["-chardev", "socket,id=inh,fd=%d,server=on,wait=off" % fd]
        + ["-qmp", "unix:%s,server=on,wait=off" % sock],
        pass_fds=[fd],
    )
    try:
        assert lu.wait_for(lambda: os.path.exists(sock))
        q = lu.QMP(sock)
        q.cmd("qmp_capabilities")
        got = {c["label"]: c for c in q.cmd("query-chardev")["return"]}
        assert got["inh"] == {
            "label": "inh",
            "filename": "disconnected:unix:%s,server=on" % path,
            "frontend-open": False,
        }
    finally:
        p.kill()
        p.wait()
        ls.close()
