#!/usr/bin/env python3
"""Record what a Debian QEMU binary prints for each launcher test input.

    python3 tests/unit/launcher/launcher_record_cases.py [--emulator PATH]
    python3 tests/unit/launcher/launcher_record_cases.py --emulator /usr/bin/qemu-system-ppc64 \
        --inputs launcher_ppc64_inputs -o tests/unit/launcher/launcher_ppc64_cases.py
    python3 tests/unit/launcher/launcher_record_cases.py --emulator /usr/bin/qemu-system-x86_64 \
        --inputs tests/unit/x86_64/x86_cmdline_inputs.py -o tests/unit/x86_64/x86_cmdline_cases.py

Writes ``launcher_cmdline_cases.py`` (or ``-o``) next to this file: per case the exit
status (or ``"started"``) and stderr, normalised by :func:`normalise`, and for an
input with ``/machine`` properties to read (a third tuple member) their ``qom-get``
answers in ``"qom"``.  The tests use it as the oracle for the launcher, and re-check
it against the real binary when one is installed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pprint
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z ", re.M)


def normalise(text: str, tmp: str) -> str:
    text = text.replace(tmp, "{tmp}")
    text = _TS.sub("{ts} ", text)
    # Debian's packaging makes -display help look for a module that does not exist
    # ("qemu: module ui-ui-none not found, do you want to install qemu-system-gui
    # package?"): a packaging accident, not QEMU's behaviour
    lines = [
        ln
        for ln in text.splitlines()
        if "terminating on signal" not in ln and not ln.startswith("qemu: module ")
    ]
    return "\n".join(lines) + ("\n" if lines else "")


def expand(argv, tmp):
    return [a.replace("{tmp}", tmp) for a in argv]


def run_case(cmd, argv, timeout=2.0, env=None, stdout=False):
    """-> (rc | "started", stderr[, stdout]) for one command line, in a fresh short temp dir."""
    tmp = tempfile.mkdtemp(prefix="qc", dir="/tmp")
    try:
        args = expand(argv, tmp)
        p = subprocess.Popen(
            cmd + args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        try:
            out, err = p.communicate(timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            rc = "started"
        result = (rc, normalise(err.decode("utf-8", "replace"), tmp))
        if stdout:
            result += (out.decode("utf-8", "replace").replace(tmp, "{tmp}"),)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _qom_get(path, props):
    """``qom-get /machine P`` for each P over a fresh QMP connection: {P: return or error}."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    f = s.makefile("rwb")

    def ask(cmd, args=None):
        f.write(json.dumps({"execute": cmd, **({"arguments": args} if args else {})}).encode() + b"\n")
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "event" not in r:
                return r

    json.loads(f.readline())  # greeting
    ask("qmp_capabilities")
    out = {}
    for p in props:
        r = ask("qom-get", {"path": "/machine", "property": p})
        out[p] = r["return"] if "return" in r else {"error": r["error"]["class"]}
    s.close()
    return out


def run_started(cmd, argv, env=None, timeout=10.0, qom=None):
    """Run with -daemonize -pidfile appended: -> (rc, stderr); the daemon is killed.
    With ``qom`` (property names), a QMP monitor is added and the answers of
    ``qom-get /machine`` to them come third: -> (rc, stderr, {prop: answer})."""
    tmp = tempfile.mkdtemp(prefix="qd", dir="/tmp")
    answers = None
    try:
        pid = os.path.join(tmp, "daemon.pid")
        args = expand(argv, tmp) + ["-daemonize", "-pidfile", pid]
        if qom:
            args += ["-qmp", "unix:%s,server=on,wait=off" % os.path.join(tmp, "qom.sock")]
        p = subprocess.run(
            cmd + args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            timeout=timeout,
        )
        if qom and p.returncode == 0:
            answers = _qom_get(os.path.join(tmp, "qom.sock"), qom)
        if os.path.exists(pid):
            try:
                n = int(open(pid).read())
                os.kill(n, signal.SIGKILL)
                for _ in range(200):
                    try:
                        os.kill(n, 0)
                    except ProcessLookupError:
                        break
                    time.sleep(0.01)
            except (ValueError, OSError):
                pass
        rc = "started" if p.returncode == 0 else p.returncode
        result = (rc, normalise(p.stderr.decode("utf-8", "replace"), tmp))
        return result + (answers,) if qom else result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emulator", default="/usr/bin/qemu-system-aarch64")
    ap.add_argument(
        "--inputs",
        default="launcher_cmdline_inputs",
        help="where INPUTS is: a module next to this file, or a Python file's path (*.py)",
    )
    ap.add_argument("-o", default=os.path.join(HERE, "launcher_cmdline_cases.py"))
    a = ap.parse_args()
    if a.inputs.endswith(".py"):
        inputs = runpy.run_path(a.inputs)["INPUTS"]
    else:
        inputs = importlib.import_module(a.inputs).INPUTS
    version = subprocess.run([a.emulator, "-version"], capture_output=True, text=True).stdout
    cases = {}
    for cid, argv, *qom in inputs:
        if qom:
            rc, err, answers = run_started([a.emulator], argv, qom=qom[0])
            cases[cid] = {"rc": rc, "stderr": err, **({"qom": answers} if answers is not None else {})}
            print("%-32s %s (qom)" % (cid, rc), file=sys.stderr)
            continue
        rc, err, out = run_case([a.emulator], argv, stdout=True)
        if rc == 0 and out:
            cases[cid] = {"rc": rc, "stderr": err, "stdout": out}
            print("%-32s %s (stdout)" % (cid, rc), file=sys.stderr)
            continue
        if rc == "started":
            rc2, err2 = run_started([a.emulator], argv)
            # -sandbox spawn=deny kills a daemonizing QEMU (SIGSYS at fork): keep
            # what the foreground run showed
            if not (isinstance(rc2, int) and rc2 < 0):
                rc, err = rc2, err2
        cases[cid] = {"rc": rc, "stderr": err}
        print("%-32s %s" % (cid, rc), file=sys.stderr)
    with open(a.o, "w") as f:
        f.write('"""Recorded by launcher_record_cases.py from:\n%s"""\n\n' % version.strip())
        f.write("# flake8: noqa\nCASES = ")
        f.write(pprint.pformat(cases, width=110, sort_dicts=False))
        f.write("\n")


if __name__ == "__main__":
    main()
