"""Issue 16: every bad input a clean error (the non-HTTP items)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qmpserver.cli import socket_mode
from qmpserver.errors import UsageError
from qmpserver.profiles.store import StoreError, check_name


@pytest.mark.parametrize(
    "name", ["a\n", "a\n\n", "\na", "a\r", "a b", "../x", "a/b", ".a", "", "x.yaml", "x.yml"]
)
def test_d13_profile_names_are_matched_whole(name):
    """D13: "$" matched before a trailing newline, so "a\\n" passed and wrote "a\\n.yaml"."""
    with pytest.raises(StoreError):
        check_name(name)


@pytest.mark.parametrize("name", ["a", "x.v2", "A-1_b.c", "z" * 128])
def test_d13_good_names_pass(name):
    assert check_name(name) == name


@pytest.mark.parametrize("text,mode", [("600", 0o600), ("0660", 0o660), ("0", 0), ("777", 0o777)])
def test_d15_socket_mode_permission_bits(text, mode):
    assert socket_mode(text) == mode


@pytest.mark.parametrize("text", ["abc", "7777", "1000", "4755", "-1", "", "8", "0x1ff"])
def test_d15_socket_mode_refused(text):
    """D15: 'abc' was a ValueError traceback, 7777 created a setuid/sticky socket."""
    with pytest.raises(UsageError, match="invalid --socket-mode"):
        socket_mode(text)


def test_d15_serve_reports_a_bad_socket_mode_in_one_line():
    p = subprocess.run(
        [sys.executable, "-m", "qmpserver.cli", "serve", "--socket-mode", "abc"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 1
    assert p.stderr.strip() == (
        "qmpserver: invalid --socket-mode 'abc' (expected octal permission bits 0 to 777, e.g. 600)"
    )


def _socket_dir_error(monkeypatch, **env):
    from qmpserver.serve import default_socket_dir

    for k in ("XDG_RUNTIME_DIR", "TMPDIR"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    with pytest.raises(UsageError) as e:
        default_socket_dir()
    return str(e.value)


def test_d7_shared_socket_dir_open_to_others_is_refused(tmp_path, monkeypatch):
    import os

    d = tmp_path / ("qmpserver-%d" % os.getuid())
    d.mkdir()
    d.chmod(0o777)
    msg = _socket_dir_error(monkeypatch, TMPDIR=str(tmp_path))
    assert msg == (
        "unsafe socket directory %s: mode 0777 lets other users in (expected 0700); chmod 700 it or remove it"
        % d
    )


def test_d7_socket_dir_owned_by_another_user_is_refused(tmp_path, monkeypatch):
    import os

    if os.getuid() != 0:
        pytest.skip("making a directory owned by another user needs root")
    d = tmp_path / "qmpserver-0"
    d.mkdir(mode=0o700)
    os.chown(d, 65534, 65534)
    msg = _socket_dir_error(monkeypatch, TMPDIR=str(tmp_path))
    assert msg.startswith("unsafe socket directory %s: owned by uid 65534, not by you" % d)


def test_d7_socket_dir_symlink_is_refused(tmp_path, monkeypatch):
    import os

    (tmp_path / "elsewhere").mkdir(mode=0o700)
    os.symlink(tmp_path / "elsewhere", tmp_path / ("qmpserver-%d" % os.getuid()))
    msg = _socket_dir_error(monkeypatch, TMPDIR=str(tmp_path))
    assert "not a directory (a symlink or a file)" in msg


def test_d16_unusable_runtime_dir_is_a_clean_error(tmp_path):
    """D16: a runtime directory that cannot hold ours was a raw OSError traceback from serve."""
    import os

    f = tmp_path / "not-a-dir"
    f.write_text("")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(f))
    p = subprocess.run(
        [sys.executable, "-m", "qmpserver.cli", "serve"], capture_output=True, text=True, timeout=30, env=env
    )
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    assert "qmpserver: cannot create the socket directory %s/qmpserver: Not a directory" % f in p.stderr
