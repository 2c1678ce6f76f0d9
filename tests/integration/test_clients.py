"""Real clients against qmpserver: qemu.qmp (async and legacy), qmp-shell, libvirt-style readers."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys

import pytest

from tests.support.client import RawClient
from tests.support.mock import MockServer


@pytest.fixture(scope="module")
def mock():
    with MockServer() as m:
        yield m


def test_qemu_qmp_async_client(mock):
    from qemu.qmp import ExecuteError, QMPClient

    inst, path = mock.instance()

    async def main():
        qmp = QMPClient("test")
        await qmp.connect(path)
        assert qmp.greeting.QMP.version["qemu"]["major"] == 7
        status = await qmp.execute("query-status")
        assert status["status"] == "prelaunch"
        # concurrent executions are routed back by id
        results = await asyncio.gather(*(qmp.execute("query-name") for _ in range(20)))
        assert results == [{}] * 20
        with pytest.raises(ExecuteError) as ei:
            await qmp.execute("no-such-command")
        assert ei.value.error_class == "CommandNotFound"
        # events reach the client
        await qmp.execute("cont")
        ev = await asyncio.wait_for(qmp.events.get(), 2)
        assert ev["event"] == "RESUME"
        # OOB was negotiated because the greeting offered it
        with pytest.raises(ExecuteError):
            await qmp.execute("query-name", oob=True)
        await qmp.disconnect()

    asyncio.run(main())


def test_qemu_qmp_legacy_client(mock):
    from qemu.qmp.legacy import QEMUMonitorProtocol

    _, path = mock.instance()
    qmp = QEMUMonitorProtocol(path)
    greeting = qmp.connect(negotiate=True)
    assert "QMP" in greeting
    assert qmp.cmd("query-target") == {"arch": "aarch64"}
    assert qmp.cmd_obj({"execute": "query-name", "id": "x"}) == {"return": {}, "id": "x"}
    qmp.close()


def test_qmp_shell_non_interactive(mock):
    exe = shutil.which("qmp-shell") or os.path.join(os.path.dirname(sys.executable), "qmp-shell")
    if not os.path.exists(exe):
        pytest.skip("qmp-shell (qemu.qmp) not installed")
    _, path = mock.instance()
    script = "query-version\nquery-status\nquery-name\n"
    p = subprocess.run([exe, path], input=script, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "Welcome to the QMP low-level shell" in p.stdout
    assert "Connected to QEMU 7.2.22" in p.stdout
    assert '"status": "prelaunch"' in p.stdout
    assert '{"return": {}}' in p.stdout


def test_qmp_shell_hmp_mode(mock):
    exe = shutil.which("qmp-shell") or os.path.join(os.path.dirname(sys.executable), "qmp-shell")
    if not os.path.exists(exe):
        pytest.skip("qmp-shell (qemu.qmp) not installed")
    _, path = mock.instance()
    p = subprocess.run(
        [exe, "-H", path], input="info version\ninfo status\n", capture_output=True, text=True, timeout=30
    )
    assert p.returncode == 0, p.stderr
    assert "7.2.22Debian" in p.stdout
    assert "VM status: paused (prelaunch)" in p.stdout


def test_raw_client_without_newlines(mock):
    _, path = mock.instance()
    c = RawClient(path)
    c.read()
    c.send(b'{"execute":"qmp_capabilities"}')
    assert c.read() == {"return": {}}
    # byte by byte, no delimiter anywhere
    for b in b'{"execute":"query-name","id":"slow"}':
        c.send(bytes([b]))
    assert c.read() == {"return": {}, "id": "slow"}


def test_libvirt_style_crlf_reader(mock):
    """libvirt splits on CRLF and sends each command followed by CRLF, without waiting for the greeting."""
    _, path = mock.instance()
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(
        b'{"execute":"qmp_capabilities","id":"libvirt-1"}\r\n{"execute":"query-version","id":"libvirt-2"}\r\n'
    )
    buf = b""
    s.settimeout(5)
    while buf.count(b"\r\n") < 3:
        buf += s.recv(65536)
    lines = buf.split(b"\r\n")
    assert lines[0].startswith(b'{"QMP": ')
    assert lines[1] == b'{"return": {}, "id": "libvirt-1"}'
    assert lines[2].startswith(b'{"return": {"qemu": {"micro": 22, "minor": 2, "major": 7}')
    assert b"\n" not in lines[1]
    s.close()


def test_capabilities_before_greeting(mock):
    """systemd's client sends qmp_capabilities before reading the greeting."""
    _, path = mock.instance()
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b'{"execute":"qmp_capabilities"}')
    c = RawClient(s)
    assert "QMP" in c.read()
    assert c.read() == {"return": {}}


def test_output_is_ascii_crlf_compact(mock):
    _, path = mock.instance()
    c = RawClient(path)
    c.negotiate()
    c.send('{"execute":"query-name","id":"h\u00e9\u2603\U0001f600\\u007f"}'.encode())
    line = c.read_line()
    assert line == b'{"return": {}, "id": "h\\u00E9\\u2603\\uD83D\\uDE00\\u007F"}'
    assert all(b < 0x80 for b in line)
    assert c.raw_lines[-1].endswith(b"\r\n")
