#!/usr/bin/env python3
"""libvirt's capability probe, side by side: the launcher vs Debian's real QEMU.

    sudo python3 bench/bench_libvirt_probe.py [--rounds N] [--profile P] [--uri URI]
                                              [--json FILE]

Times ``virsh domcapabilities --emulatorbin E --arch aarch64 --machine virt
--virttype qemu`` with a fresh capabilities cache each round: both emulators
are private paths (the launcher installed with ``qmpserver install-launcher``
on the profile captured from the real binary, and a symlink to
``/usr/bin/qemu-system-aarch64`` — a copy would not find QEMU's modules), and
each round changes their ctime first (atime and mtime are kept), which makes
libvirt re-probe (``virQEMUCapsIsValid``).  Rounds alternate
between the two.  Reported: median and min wall time per emulator and the
launcher/QEMU ratio (target <= 1.0).

With ``--detail`` (needs ``virt-admin``) the libvirtd debug log is used to
split each probe into launch (exec to monitor connect), conversation (first to
last QMP message) and teardown (kill to reply to virsh).

Needs a running libvirtd (tests/integration/libvirt/setup-libvirt.sh) and,
for qemu:///system, root.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
REAL = "/usr/bin/qemu-system-aarch64"


def touch_ctime(path):
    """Change the ctime only (same atime/mtime): libvirt's cached capabilities are stale."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def probe_once(uri, emulator):
    touch_ctime(emulator)
    t0 = time.perf_counter()
    p = subprocess.run(
        [
            "virsh",
            "-c",
            uri,
            "domcapabilities",
            "--emulatorbin",
            emulator,
            "--arch",
            "aarch64",
            "--machine",
            "virt",
            "--virttype",
            "qemu",
        ],
        capture_output=True,
        text=True,
    )
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit("domcapabilities failed for %s: %s" % (emulator, p.stderr.strip()))
    return dt, p.stdout


_TS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})")


def _ts(line):
    m = _TS.match(line)
    if not m:
        return None
    import datetime

    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()


def split_log(path, offset=0):
    """(launch, conversation, teardown) seconds of the last probe in a libvirtd log
    (read from ``offset``: libvirtd keeps the file open, it is never truncated)."""
    with open(path, "rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    start = connect = first = last = kill = end = None
    for ln in lines:
        t = _ts(ln)
        if t is None:
            continue
        if "qemuProcessQMPLaunch" in ln:
            start, connect, first, last, kill, end = t, None, None, None, None, None
        elif "qemuProcessQMPConnectMonitor" in ln and start is not None:
            connect = t
        elif ("QEMU_MONITOR_SEND_MSG" in ln or "QEMU_MONITOR_RECV_REPLY" in ln) and start is not None:
            first = first or t
            last = t
        elif "qemuProcessQMPStop" in ln and start is not None:
            kill = kill or t
        elif "virQEMUCapsSaveFile" in ln and start is not None:
            end = t
    if None in (start, connect, first, last, kill, end):
        return None
    return connect - start, last - first, end - kill


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--profile", default="debian-7.2-tcg")
    ap.add_argument("--uri", default="qemu:///system")
    ap.add_argument("--real", default=REAL)
    ap.add_argument("--detail", action="store_true", help="split each probe using libvirtd's log")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args(argv)
    if not os.path.exists(a.real):
        raise SystemExit("%s is not installed" % a.real)
    from qmpserver.launcher.install import install

    work = tempfile.mkdtemp(prefix="qmps-bench-", dir="/tmp")
    os.chmod(work, 0o755)
    log = os.path.join(work, "libvirtd.log")
    adm = ["virt-admin", "-c", "libvirtd:///system"]
    old = None
    try:
        launcher, _, notes = install(a.profile, os.path.join(work, "mock"))
        for n in notes:
            print("note:", n, file=sys.stderr)
        os.makedirs(os.path.join(work, "real"))
        real = os.path.join(work, "real", "qemu-system-aarch64")
        os.symlink(a.real, real)
        os.chmod(os.path.join(work, "real"), 0o755)
        os.chmod(os.path.join(work, "mock"), 0o755)
        if a.detail:
            old = [
                subprocess.run(adm + [c], capture_output=True, text=True).stdout
                for c in ("daemon-log-filters", "daemon-log-outputs")
            ]
            subprocess.run(adm + ["daemon-log-outputs", "1:file:%s" % log], check=True)
            subprocess.run(
                adm
                + [
                    "daemon-log-filters",
                    "1:qemu.qemu_monitor 1:qemu.qemu_process 1:qemu.qemu_capabilities 1:util.process 3:*",
                ],
                check=True,
            )
        # one warm-up probe each (page cache, libvirt's own lazy init)
        probe_once(a.uri, launcher)
        probe_once(a.uri, real)
        times = {"qemu": [], "launcher": []}
        parts = {"qemu": [], "launcher": []}
        xml = {}
        for _ in range(a.rounds):
            for key, exe in (("qemu", real), ("launcher", launcher)):
                offset = os.path.getsize(log) if a.detail and os.path.exists(log) else 0
                dt, out = probe_once(a.uri, exe)
                times[key].append(dt)
                xml[key] = out.replace(exe, "EMULATOR")
                if a.detail:
                    s = split_log(log, offset)
                    if s:
                        parts[key].append(s)
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = med["launcher"] / med["qemu"]
        print(
            "libvirt %s, domcapabilities with a fresh cache, %d rounds"
            % (subprocess.run(["virsh", "-v"], capture_output=True, text=True).stdout.strip(), a.rounds)
        )
        print("%-24s %10s %10s" % ("", "median s", "min s"))
        for k, label in (("qemu", "real QEMU"), ("launcher", "launcher (%s)" % a.profile)):
            print("%-24s %10.3f %10.3f" % (label, med[k], min(times[k])))
        print(
            "ratio launcher/QEMU      %10.3f   target <= 1.0 %s" % (ratio, "ok" if ratio <= 1.0 else "MISS")
        )
        print("same domcapabilities XML (path aside): %s" % (xml["qemu"] == xml["launcher"]))
        result = {
            "rounds": a.rounds,
            "seconds": times,
            "median": med,
            "ratio": ratio,
            "same_xml": xml["qemu"] == xml["launcher"],
        }
        if a.detail and parts["qemu"] and parts["launcher"]:
            print("%-24s %10s %13s %10s" % ("median parts (s)", "launch", "conversation", "teardown"))
            busy = {}
            for k in ("qemu", "launcher"):
                cols = list(zip(*parts[k]))
                print("%-24s %10.3f %13.3f %10.3f" % (k, *(statistics.median(c) for c in cols)))
                busy[k] = statistics.median(p[0] + p[1] for p in parts[k])
            # teardown is libvirt polling (200 ms steps) until the killed process is reaped,
            # which the host's init decides: the emulator's own part is launch + conversation
            print("ratio launch+conversation %9.3f" % (busy["launcher"] / busy["qemu"]))
            result["parts"] = parts
            result["ratio_launch_conversation"] = busy["launcher"] / busy["qemu"]
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=2)
    finally:
        if old is not None:
            for cmd, text in zip(("daemon-log-filters", "daemon-log-outputs"), old):
                m = re.search(r":\s*(.*)$", text.strip())
                subprocess.run(adm + [cmd, m.group(1).strip() if m else ""], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
