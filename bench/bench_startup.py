#!/usr/bin/env python3
"""Start-up benchmark: qmpserver's launcher vs real QEMU, in one run.

    python bench/bench_startup.py [--starts N] [--profile P] [--qemu BIN] [--mock-cmd LAUNCHER] [--json FILE]

Measures, for real ``qemu-system-aarch64 -S -nodefaults -machine virt -cpu max
-accel tcg -display none`` and for the launcher ``qmpserver install-launcher``
writes for the profile captured from that binary (``python -I -S``, the frozen
compiled profile: what libvirt runs):

* process start to QMP greeting (wall time, as a client sees it);
* ``-version`` (process start to exit, wall time, and the child's CPU time);
* a bare ``python -I -S -c pass`` of the launcher's interpreter, for scale.

Method as in ``bench/bench_core.py``: the sides are measured alternately
(QEMU, qmpserver, QEMU, ...) and every figure is the median of its samples,
so that load changes hit both sides alike.  The ratio mock/QEMU of
start-to-greeting is the figure the issue sets a target for (<= 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU_ARGS = ["-S", "-nodefaults", "-machine", "virt", "-cpu", "max", "-accel", "tcg", "-display", "none"]


def greeting_ms(cmd: list[str], path: str) -> float:
    """Start ``cmd`` with a QMP socket; milliseconds until its greeting arrived."""
    t0 = time.perf_counter()
    p = subprocess.Popen(
        cmd + ["-qmp", "unix:%s,server=on,wait=off" % path],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                break
            except OSError:
                s.close()
                if p.poll() is not None:
                    raise RuntimeError("%s exited: %s" % (cmd[0], p.stderr.read().decode())) from None
                time.sleep(0.0005)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("%s closed before its greeting" % cmd[0])
            buf += chunk
        ms = (time.perf_counter() - t0) * 1000
        s.close()
    finally:
        p.kill()
        p.wait()
        if p.stderr is not None:
            p.stderr.close()
    return ms


def run_ms(cmd: list[str]) -> tuple[float, float]:
    """(wall ms, child CPU ms) of a command run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    wall = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    return wall, cpu


def install_launcher(profile: str, where: str) -> list[str]:
    """The launcher libvirt would run for ``profile`` (written into ``where``)."""
    exe = shutil.which("qmpserver")
    cmd = [exe] if exe else [sys.executable, "-c", "from qmpserver.cli import main; main()"]
    subprocess.run(
        cmd + ["install-launcher", "--profile", profile, "--dir", where, "--name", "qemu-mock"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return [os.path.join(where, "qemu-mock")]


def interpreter_of(launcher: str) -> str:
    with open(launcher, "rb") as f:
        first = f.readline().decode()
    return first[2:].split()[0] if first.startswith("#!") else sys.executable


def run(sides: dict[str, list[str]], starts: int, python: str) -> dict[str, dict[str, list[float]]]:
    d = tempfile.mkdtemp(prefix="bs", dir="/tmp")
    samples: dict[str, dict[str, list[float]]] = {
        s: {"start_to_greeting_ms": [], "version_ms": [], "version_cpu_ms": []} for s in sides
    }
    samples["python -I -S"] = {"version_ms": [], "version_cpu_ms": []}
    try:
        for i in range(starts):
            for s, cmd in sides.items():
                samples[s]["start_to_greeting_ms"].append(
                    greeting_ms(cmd + QEMU_ARGS, os.path.join(d, "%s%d.sock" % (s, i)))
                )
                wall, cpu = run_ms(cmd + ["-version"])
                samples[s]["version_ms"].append(wall)
                samples[s]["version_cpu_ms"].append(cpu)
            wall, cpu = run_ms([python, "-I", "-S", "-c", "pass"])
            samples["python -I -S"]["version_ms"].append(wall)
            samples["python -I -S"]["version_cpu_ms"].append(cpu)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return samples


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--starts", type=int, default=30, help="samples per side (default 30)")
    ap.add_argument("--profile", default="debian-7.2-tcg")
    ap.add_argument("--qemu", default=shutil.which("qemu-system-aarch64") or "qemu-system-aarch64")
    ap.add_argument(
        "--mock-cmd",
        help="the mock executable (and leading arguments); default: a launcher "
        "written by 'qmpserver install-launcher' into a temporary directory",
    )
    ap.add_argument("--json", help="write the samples here")
    a = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="bsl", dir="/tmp")
    try:
        mock = a.mock_cmd.split() if a.mock_cmd else install_launcher(a.profile, tmp)
        python = interpreter_of(mock[0]) if not a.mock_cmd else sys.executable
        samples = run({"qemu": [a.qemu], "mock": mock}, a.starts, python)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {s: {k: statistics.median(v) for k, v in m.items() if v} for s, m in samples.items()}
    print("%-22s %10s %10s %14s" % ("", "greeting", "-version", "-version CPU"))
    for s, m in med.items():
        print(
            "%-22s %10s %10s %14s"
            % (
                s,
                "%.1f ms" % m["start_to_greeting_ms"] if "start_to_greeting_ms" in m else "-",
                "%.1f ms" % m["version_ms"],
                "%.1f ms" % m["version_cpu_ms"],
            )
        )
    ratio = med["mock"]["start_to_greeting_ms"] / med["qemu"]["start_to_greeting_ms"]
    print("start-to-greeting mock/QEMU: %.2fx (target <= 1.0x)" % ratio)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"medians": med, "samples": samples}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
