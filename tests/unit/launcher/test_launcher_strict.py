"""Strict mode in the launcher: not a QEMU option (the command line stays QEMU's), but
``QMPSERVER_STRICT=1`` or ``"strict": true`` in the launcher's config (docs/launcher.md)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import launcher_testutil as lu  # noqa: E402

STRICT_DESC = (
    "qmpserver: no model and no recording for 'x-query-roms' (no arguments) on build qemu-7.2-debian"
)


@pytest.fixture
def tmpd():
    d = lu.short_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _ask(tmpd, extra_env):
    sock = os.path.join(tmpd, "m.sock")
    p = lu.spawn(lu.BASE + ["-qmp", "unix:%s,server=on,wait=off" % sock], extra_env=extra_env)
    try:
        q = lu.QMP(sock)
        assert q.cmd("qmp_capabilities") == {"return": {}}
        r = q.cmd("x-query-roms")
        q.close()
        return r
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)


def test_default_mode_answers_the_default(tmpd):
    assert _ask(tmpd, {"QMPSERVER_STRICT": ""}) == {"return": {"human-readable-text": ""}}


def test_strict_from_the_environment(tmpd):
    assert _ask(tmpd, {"QMPSERVER_STRICT": "1"}) == {"error": {"class": "GenericError", "desc": STRICT_DESC}}


def test_strict_from_the_launcher_config(tmpd):
    """libvirt strips the environment: the config keyed on the executable's path says it."""
    main = os.path.realpath(os.path.join(lu.ROOT, "qmpserver", "launcher", "main.py"))
    conf = os.path.join(tmpd, "conf")
    os.makedirs(os.path.join(conf, "qmpserver"))
    with open(os.path.join(conf, "qmpserver", "launchers.json"), "w") as f:
        json.dump({main: {"strict": True}}, f)
    r = _ask(tmpd, {"QMPSERVER_STRICT": "", "XDG_CONFIG_HOME": conf})
    assert r == {"error": {"class": "GenericError", "desc": STRICT_DESC}}


def _refused(extra_env):
    p = lu.spawn(lu.BASE, extra_env=extra_env)
    _out, err = p.communicate(timeout=30)
    return p.returncode, err.decode() if isinstance(err, bytes) else err


def test_a_strict_value_that_is_no_boolean_is_refused(tmpd):
    """A typo must not leave strict mode silently off: one line, exit 1, nothing started."""
    rc, err = _refused({"QMPSERVER_STRICT": "maybe"})
    assert rc == 1 and err.count("\n") == 1, err
    assert "$QMPSERVER_STRICT='maybe': expected 1, yes, on, true (strict) or 0, no, off, false" in err
    main = os.path.realpath(os.path.join(lu.ROOT, "qmpserver", "launcher", "main.py"))
    conf = os.path.join(tmpd, "conf")
    os.makedirs(os.path.join(conf, "qmpserver"))
    with open(os.path.join(conf, "qmpserver", "launchers.json"), "w") as f:
        json.dump({main: {"strict": "yes"}}, f)
    rc, err = _refused({"QMPSERVER_STRICT": "", "XDG_CONFIG_HOME": conf})
    assert rc == 1 and err.endswith(
        'qmpserver: launcher config: strict: expected true or false, not "yes"\n'
    ), err


def test_serve_refuses_a_strict_value_that_is_no_boolean():
    import subprocess

    p = subprocess.run(
        [sys.executable, "-m", "qmpserver", "serve", "--profile", "debian-7.2-tcg"],
        env=dict(os.environ, QMPSERVER_STRICT="maybe"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 1 and "$QMPSERVER_STRICT='maybe': expected" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and p.stderr.count("\n") == 1, p.stderr
