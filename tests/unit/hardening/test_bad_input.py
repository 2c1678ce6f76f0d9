"""Issue 16: every bad input a clean error (the non-HTTP items)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qmpserver.cli import socket_mode
from qmpserver.errors import UsageError
from qmpserver.profiles.store import StoreError, check_name


@pytest.mark.parametrize("name", ["a\n", "a\n\n", "\na", "a\r", "a b", "../x", "a/b", ".a", ""])
def test_d13_profile_names_are_matched_whole(name):
    """D13: "$" matched before a trailing newline, so "a\\n" passed and wrote "a\\n.yaml"."""
    with pytest.raises(StoreError):
        check_name(name)


@pytest.mark.parametrize("name", ["a", "x.yaml", "A-1_b.c", "z" * 128])
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
