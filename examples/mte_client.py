#!/usr/bin/env python3
"""A client written against the proposed MTE interface.

Given the QMP socket of a running instance (any qmpserver profile whose build
has the ``mte-version`` / ``query-mte-capabilities`` proposals), it:

1. asks ``query-mte-capabilities`` which MTE versions this host and QEMU can
   give a guest, and how (``kernel``: KVM, ``emulated``: TCG);
2. chooses a version (the highest, preferring KVM; or the one given with
   ``--version``) and the accelerator that provides it;
3. starts a second instance of the same profile with
   ``-machine virt,mte-version=N`` (``qmpserver serve`` as a subprocess);
4. proves with ``qom-get /machine mte-version`` that the guest has exactly N
   (or shows the start-up error: asking for N gives N or an error, never a
   different version).

    qmpserver serve --profile default --qmp unix:/tmp/a.sock &
    python3 examples/mte_client.py /tmp/a.sock --profile default

Without a socket the example starts the first instance itself.  Exit status:
0 proven, 1 the second instance refused to start or answered otherwise,
2 the first instance does not offer the proposal (upstream QEMU),
3 what the example needs (qemu.qmp, qmpserver) is not installed for this Python:
it says so in one line.  From a checkout, the README's quick start installs both:

    python3 -m venv .venv && .venv/bin/pip install '.[examples]'
    .venv/bin/python examples/mte_client.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

try:
    from qemu.qmp import ExecuteError, QMPClient
except ImportError:  # main() says what to install, in one line
    ExecuteError = QMPClient = None  # type: ignore[assignment,misc]


def log(msg: str) -> None:
    print(msg, flush=True)


async def capabilities(path: str):
    """``query-mte-capabilities`` of the instance at ``path`` (None: not offered)."""
    qmp = QMPClient("mte-client")
    await qmp.connect(path)
    try:
        version = await qmp.execute("query-version")
        log(
            "connected to %s (QEMU %d.%d.%d, %s)"
            % (
                path,
                version["qemu"]["major"],
                version["qemu"]["minor"],
                version["qemu"]["micro"],
                version["package"],
            )
        )
        try:
            return await qmp.execute("query-mte-capabilities")
        except ExecuteError as e:
            log("query-mte-capabilities: %s: %s" % (e.error_class, e))
            return None
    finally:
        await qmp.disconnect()


def choose(caps, wanted=None, accel=None):
    """(version, accelerator) to ask for, or None.  The highest version KVM
    provides first (what a management layer wants on a host that can do it),
    then the highest TCG emulates."""
    for how, acc in (("kernel", "kvm"), ("emulated", "tcg")):
        if accel not in (None, acc):
            continue
        for entry in caps:
            if entry[how] and wanted in (None, entry["version"]):
                return entry["version"], acc
    if wanted is not None and accel is not None:
        return wanted, accel  # let the second instance say why not
    return None


def serve_command(profile, machine, accel, qmp_path):
    cmd = [
        sys.executable,
        "-m",
        "qmpserver.cli",
        "serve",
        "--qmp",
        "unix:" + qmp_path,
        "--machine",
        machine,
        "--accel",
        accel,
        "--cpu",
        "host" if accel == "kvm" else "max",
    ]
    if profile:
        cmd[4:4] = ["--profile", profile]
    return cmd


def start_instance(cmd, qmp_path, timeout=30.0):
    """Start ``qmpserver serve``; (process, None) once its socket listens, or
    (process, stderr) when it refused to start."""
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return proc, proc.stderr.read()
        if os.path.exists(qmp_path):
            probe = socket.socket(socket.AF_UNIX)
            try:
                probe.connect(qmp_path)  # bound is not yet listening
                return proc, None
            except OSError:
                pass
            finally:
                probe.close()
        time.sleep(0.01)
    proc.kill()
    raise RuntimeError("qmpserver serve did not start: %s" % " ".join(cmd))


async def prove(path: str, version: int) -> bool:
    qmp = QMPClient("mte-client-check")
    await qmp.connect(path)
    try:
        got = await qmp.execute("qom-get", {"path": "/machine", "property": "mte-version"})
        mte = await qmp.execute("qom-get", {"path": "/machine", "property": "mte"})
    finally:
        await qmp.disconnect()
    log("qom-get /machine mte-version -> %r, mte -> %r" % (got, mte))
    return got == str(version) and mte is True


def missing_modules() -> list:
    """What this example needs and this Python lacks: qemu.qmp (the client), qmpserver (the server)."""
    import importlib.util

    missing = [] if QMPClient is not None else ["qemu.qmp"]
    if importlib.util.find_spec("qmpserver") is None:
        missing.append("qmpserver")
    return missing


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("socket", nargs="?", help="QMP unix socket of a running instance (default: start one)")
    p.add_argument(
        "--profile", help="profile of that instance, used for the second one (default: embedded default)"
    )
    p.add_argument(
        "--version", type=int, choices=(2, 3), help="MTE version to ask for (default: the best offered)"
    )
    p.add_argument(
        "--accel", choices=("kvm", "tcg"), help="accelerator of the second instance (default: chosen)"
    )
    args = p.parse_args(argv)
    missing = missing_modules()
    if missing:
        sys.stderr.write(
            "mte_client.py: %s not installed for %s; from the qmpserver checkout run: "
            "%s -m pip install '.[examples]' (or use the quick start's .venv/bin/python)\n"
            % (" and ".join(missing), sys.executable, sys.executable)
        )
        return 3

    tmp = tempfile.mkdtemp(prefix="mte-client-", dir="/tmp")
    first = None
    try:
        path = args.socket
        if path is None:
            path = os.path.join(tmp, "first.sock")
            first, err = start_instance(
                [sys.executable, "-m", "qmpserver.cli", "serve", "--qmp", "unix:" + path]
                + (["--profile", args.profile] if args.profile else []),
                path,
            )
            if err is not None:
                log("the first instance did not start: %s" % err.strip())
                return 1
        caps = asyncio.run(capabilities(path))
        if caps is None:
            log("this QEMU does not offer the MTE proposal (upstream behaviour): nothing to choose from")
            return 2
        for c in caps:
            log("  MTE%d: emulated=%s kernel=%s" % (c["version"], c["emulated"], c["kernel"]))
        pick = choose(caps, args.version, args.accel)
        if pick is None:
            log(
                "no MTE version to offer a guest%s"
                % ("" if args.version is None else " as MTE%d" % args.version)
            )
            return 1
        version, accel = pick
        machine = "virt,mte-version=%d" % version
        second = os.path.join(tmp, "second.sock")
        cmd = serve_command(args.profile, machine, accel, second)
        log(
            "starting: qmpserver serve%s --machine %s --accel %s"
            % (" --profile " + args.profile if args.profile else "", machine, accel)
        )
        proc, err = start_instance(cmd, second)
        if err is not None:
            log("refused (exit %d): %s" % (proc.returncode, err.strip()))
            return 1
        try:
            ok = asyncio.run(prove(second, version))
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log(("proven: the guest has exactly MTE%d" if ok else "NOT the requested MTE%d") % version)
        return 0 if ok else 1
    finally:
        if first is not None:
            first.terminate()
            first.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
