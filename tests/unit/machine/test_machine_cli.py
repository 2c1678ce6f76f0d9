"""The MTE matrix through the command lines, in subprocesses: ``qmpserver serve``
and the QEMU-style launcher ``qmpserver-qemu`` (exit status, stderr, and for
machines that start, ``qom-get /machine mte-version`` over their QMP socket).

One profile per distinct set of rows of tests/data/mte-matrix.yaml, the row of
its default accelerator and CPU, every column; plus the TCG cortex-a57 row of
the default profile (the guest-CPU texts).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from machine_testutil import matrix, parse_cell, profile, store


def _selected():
    m = matrix()
    seen, out = set(), []
    for name, spec in m["profiles"].items():
        key = json.dumps({k: spec[k] for k in ("proposal", "capabilities", "tcg", "kvm")}, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        d = profile(name).defaults
        accel, cpu = d.get("accel", "tcg"), d.get("cpu", "max")
        for col, cell in zip(m["columns"], spec[accel][cpu]):
            out.append((name, accel, cpu, col, cell))
    for col, cell in zip(m["columns"], m["profiles"]["default"]["tcg"]["cortex-a57"]):
        out.append(("default", "tcg", "cortex-a57", col, cell))
    return out


CASES = _selected()
IDS = ["%s-%s-%s-%s" % c[:4] for c in CASES]


def _expected(cell, prefix):
    m = matrix()
    kind, value, warned = parse_cell(cell)
    warnings = [m["warning"]] if warned else []
    if kind == "fail":
        err = m["errors"][value]
        warnings += list(err.get("warnings") or ())
        lines = ["%s: warning: %s\n" % (prefix, w) for w in warnings]
        return 1, "".join(lines) + "%s: %s\n" % (prefix, err["text"]), None
    return 0, "".join("%s: warning: %s\n" % (prefix, w) for w in warnings), value


def _qmp(path, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s.makefile("rwb", buffering=0)
        except OSError:
            time.sleep(0.01)
    raise AssertionError("no QMP socket at %s" % path)


def _ask(f, name, **args):
    msg = {"execute": name}
    if args:
        msg["arguments"] = args
    f.write(json.dumps(msg).encode() + b"\n")
    while True:
        m = json.loads(f.readline())
        if "event" not in m:
            return m


def _run(argv, sock, env):
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    answers = None
    deadline = time.time() + 30
    while proc.poll() is None and time.time() < deadline:
        if os.path.exists(sock):
            f = _qmp(sock)
            f.readline()  # greeting
            _ask(f, "qmp_capabilities")
            answers = (
                _ask(f, "qom-get", path="/machine", property="mte"),
                _ask(f, "qom-get", path="/machine", property="mte-version"),
            )
            _ask(f, "quit")
            break
        time.sleep(0.01)
    try:
        rc = proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return rc, proc.stderr.read().decode(), answers


def _check(rc, err, answers, want, proposal):
    want_rc, want_err, version = want
    assert (rc, err) == (want_rc, want_err)
    if version is not None:
        assert answers is not None
        assert answers[0] == {"return": version > 0}
        if proposal:
            assert answers[1] == {"return": "none" if version == 0 else str(version)}
        else:
            assert "error" in answers[1]


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="qsc", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _env():
    env = dict(os.environ)
    env.pop("QMPSERVER_PROFILE", None)
    env["QMPSERVER_PROFILE_PATH"] = store()
    return env


@pytest.mark.parametrize("name,accel,cpu,column,cell", CASES, ids=IDS)
def test_serve(workdir, name, accel, cpu, column, cell):
    sock = os.path.join(workdir, "q.sock")
    argv = [
        sys.executable,
        "-m",
        "qmpserver.cli",
        "serve",
        "--profile",
        name,
        "--qmp",
        "unix:" + sock,
        "--machine",
        "virt," + column,
        "--accel",
        accel,
        "--cpu",
        cpu,
    ]
    rc, err, answers = _run(argv, sock, _env())
    _check(rc, err, answers, _expected(cell, "qmpserver"), matrix()["profiles"][name]["proposal"])


@pytest.mark.parametrize("name,accel,cpu,column,cell", CASES, ids=IDS)
def test_launcher(workdir, name, accel, cpu, column, cell):
    sock = os.path.join(workdir, "q.sock")
    env = _env()
    env["QMPSERVER_PROFILE"] = name
    argv = [
        sys.executable,
        "-m",
        "qmpserver.launcher.main",
        "-S",
        "-nodefaults",
        "-display",
        "none",
        "-machine",
        "virt," + column,
        "-accel",
        accel,
        "-cpu",
        cpu,
        "-qmp",
        "unix:%s,server=on,wait=off" % sock,
    ]
    rc, err, answers = _run(argv, sock, env)
    _check(rc, err, answers, _expected(cell, "qemu-system-aarch64"), matrix()["profiles"][name]["proposal"])
