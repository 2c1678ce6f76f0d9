"""The ``qmpserver`` command line as a new user meets it: install, first commands, errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def qmpserver(*args, pre="", timeout=60, env=None):
    """Run ``qmpserver ARGS`` from this checkout; ``pre`` is Python run before main()."""
    code = "import sys\n%s\nfrom qmpserver.cli import main\nsys.exit(main(sys.argv[1:]))" % pre
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, env=e
    )


def _pyproject():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _names(reqs):
    import re

    return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in reqs}


# --- item: `serve --http` after the README's install ---------------------------------------------


def test_http_needs_no_extra():
    """`pip install .` (the README's quick start) is enough for `serve --http`."""
    assert "aiohttp" in _names(_pyproject()["dependencies"])


def test_http_without_aiohttp_is_one_line(tmp_path):
    r = qmpserver(
        "serve",
        "--qmp",
        "unix:%s/q.sock" % tmp_path,
        "--http",
        "127.0.0.1:0",
        pre="import importlib.util as u; _f = u.find_spec\n"
        "u.find_spec = lambda n, *a: None if n.split('.')[0] == 'aiohttp' else _f(n, *a)\n"
        "sys.modules['aiohttp'] = None",
    )
    assert r.returncode == 1, r
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qmpserver: --http needs aiohttp"), r.stderr
    assert "pip install" in lines[0]
    assert not os.path.exists(tmp_path / "q.sock")


# --- item: the basics (--version, python -m, help texts, debug traffic, ready file) ---------------


def _env():
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("QMPSERVER_PROFILE", None)
    return e


def test_version_and_python_m(tmp_path):
    from qmpserver import __version__

    for argv in (
        ["-m", "qmpserver", "--version"],
        ["-m", "qmpserver", "-V"],
        ["-m", "qmpserver.cli", "--version"],
    ):
        r = subprocess.run(
            [sys.executable, *argv], capture_output=True, text=True, timeout=60, env=_env(), cwd=tmp_path
        )
        assert r.returncode == 0, r
        assert r.stdout.strip() == "qmpserver %s" % __version__
    r = subprocess.run(
        [sys.executable, "-m", "qmpserver", "profiles", "list", "--kind", "build"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd=tmp_path,
    )
    assert r.returncode == 0 and "qemu-7.2-debian" in r.stdout, r


def test_every_option_has_help():
    import argparse

    from qmpserver.cli import build_parser

    blank = []

    def walk(p, path):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    walk(sp, path + [name])
            elif not a.help:
                blank.append("%s %s" % (" ".join(path), "/".join(a.option_strings) or a.dest))

    walk(build_parser(), ["qmpserver"])
    assert not blank, blank


def _serve(tmp_path, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "qmpserver", "serve", "--profile", "debian-7.2-tcg", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )


def _wait_for(path, proc, timeout=30):
    import time

    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "no ready file"
        time.sleep(0.02)


def _quit(path):
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rwb")
    assert f.readline().startswith(b'{"QMP"')
    f.write(b'{"execute": "qmp_capabilities"}\r\n{"execute": "quit"}\r\n')
    f.flush()
    out = f.read()
    s.close()
    return out


def test_ready_file_and_debug_traffic(tmp_path):
    import json

    ready = str(tmp_path / "ready.json")
    sock = "/tmp/qmcli-%d.sock" % os.getpid()
    p = _serve(
        tmp_path,
        "--qmp",
        "unix:" + sock,
        "--qmp",
        "tcp:127.0.0.1:0",
        "--ready-file",
        ready,
        "--log-level",
        "debug",
    )
    try:
        _wait_for(ready, p)
        info = json.load(open(ready))
        assert info["pid"] == p.pid and info["profile"] == "debian-7.2-tcg" and info["http"] is None
        assert info["qmp"][0] == {"address": "unix:" + sock, "path": sock}
        assert info["qmp"][1]["host"] == "127.0.0.1" and info["qmp"][1]["port"] > 0
        assert b'"return": {}' in _quit(info["qmp"][0]["path"])
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err
    assert not os.path.exists(ready)  # removed at exit, like the sockets
    assert 'qmpserver.qmp: conn 1 <- {"execute":"qmp_capabilities"}' in err, err
    assert 'qmpserver.qmp: conn 1 -> {"QMP": ' in err
    assert "Traceback" not in err


def test_ready_line_on_stdout(tmp_path):
    import json

    sock = "/tmp/qmcli2-%d.sock" % os.getpid()
    p = _serve(tmp_path, "--qmp", "unix:" + sock, "--ready-file", "-")
    try:
        line = ""
        for line in p.stdout:
            if line.startswith("{"):
                break
        info = json.loads(line)
        assert info["qmp"] == [{"address": "unix:" + sock, "path": sock}]
        _quit(sock)
        p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0


def test_docs_cli_md_shows_the_help_as_it_is(monkeypatch):
    """Each ``## `qmpserver ...` `` section of docs/cli.md holds that command's --help (100 columns)."""
    import argparse
    import re

    from qmpserver.cli import build_parser

    monkeypatch.setenv("COLUMNS", "100")
    root = build_parser()
    text = open(os.path.join(ROOT, "docs", "cli.md")).read()
    sections = re.findall(r"## `(qmpserver [^`]*)`\n\n```\n(.*?)```\n", text, re.S)
    assert len(sections) >= 10
    for title, block in sections:
        p = root
        for word in title.split()[1:]:
            sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
            p = sub.choices[word]
        assert block == p.format_help(), "docs/cli.md: the block of `%s` is not its --help" % title


# --- item: exit statuses agree: 0 yes, 2 a negative answer, 1 bad input ---------------------------


def test_negative_answers_exit_2(capsys):
    from qmpserver.cli import main

    # profiles diff: a guest can move in neither direction
    assert main(["profiles", "diff", "cix-p1-a720-mte3-6.12", "ampereone-a-mte-6.18"]) == 2
    assert "verdict: neither" in capsys.readouterr().out
    assert main(["profiles", "diff", "debian-7.2-tcg", "qemu-11.1-tcg"]) == 0  # A->B possible
    assert main(["profiles", "diff", "default", "default"]) == 0
    # cpu baseline: the hosts cannot be bridged (was 1, the status of bad input)
    assert main(["cpu", "baseline", "--profile", "grace-v2-6.8", "--profile", "graviton4-v2-6.12"]) == 2
    capsys.readouterr()
    # bad input stays 1, with one line
    with pytest.raises(SystemExit) as e:
        main(["cpu", "baseline", "--profile", "no-such-profile", "--profile", "default"])
    assert e.value.code == 1
    with pytest.raises(SystemExit) as e:
        main(["profiles", "diff", "no-such-profile", "default"])
    assert e.value.code == 1
