"""docker/entrypoint.sh warns when the socket volume cannot take sockets (issue 14 item 10)."""

import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_entrypoint(tmp_path, sockdir):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    fake = bindir / "qmpserver"
    fake.write_text('#!/bin/sh\necho "ran qmpserver $*"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "QMPSERVER_HTTP_SOCKET_DIR": str(sockdir),
        "QMPSERVER_HTTP_TOKEN": "t",
    }
    return subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), "--qmp", "tcp:0.0.0.0:4444"],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )


def test_missing_socket_directory_is_named(tmp_path):
    p = run_entrypoint(tmp_path, tmp_path / "no-such-dir")
    assert p.returncode == 0
    assert (
        p.stdout == f"ran qmpserver serve --http-socket-dir {tmp_path}/no-such-dir --qmp tcp:0.0.0.0:4444\n"
    )
    assert p.stderr.startswith(
        f"qmpserver: warning: the socket directory {tmp_path}/no-such-dir is not writable by UID {os.getuid()}"
    )
    assert "Permission denied" in p.stderr and "chown" in p.stderr


def test_writable_socket_directory_is_quiet(tmp_path):
    (tmp_path / "socks").mkdir()
    p = run_entrypoint(tmp_path, tmp_path / "socks")
    assert p.returncode == 0 and p.stderr == ""
