#!/usr/bin/env python3
"""A libvirt-like ``host-model`` for Arm, written against the ``arm-cpu-models`` proposal.

For a set of hosts (qmpserver profiles) it:

1. starts ``qmpserver serve --accel kvm`` on each and asks
   ``query-cpu-model-expansion`` ``static`` of ``host``: the named model (plus
   deltas) a ``host-model`` CPU would be on that host;
2. reads ``query-cpu-definitions`` on each: the versioned models whose
   ``unavailable-features`` is empty are usable there; the one that fits all
   hosts is the last (most specific) versioned model usable on every host;
3. starts an instance on each host with ``--cpu MODEL`` and shows that it runs,
   with the MIDR and the feature count the guest gets there.

    python3 examples/arm_host_model.py                       # the built-in KVM hosts
    python3 examples/arm_host_model.py graviton4-v2-6.12 axion-v2-6.17

Exit status: 0 a common model was found and started everywhere, 1 none fits
all hosts (or one refused to start), 2 a profile's build lacks the proposal,
3 qemu.qmp or qmpserver is not installed for this Python.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mte_client import QMPClient, log, missing_modules, start_instance  # noqa: E402

DEFAULT_HOSTS = ["graviton4-v2-6.12", "axion-v2-6.17", "cix-p1-a720-mte3-6.12", "ampereone-a-mte-6.18"]


def serve(profile: str, qmp_path: str, cpu: str):
    cmd = [
        sys.executable,
        "-m",
        "qmpserver.cli",
        "serve",
        "--profile",
        profile,
        "--qmp",
        "unix:" + qmp_path,
        "--machine",
        "virt",
        "--accel",
        "kvm",
        "--cpu",
        cpu,
    ]
    return start_instance(cmd, qmp_path)


async def ask(path: str, *calls):
    qmp = QMPClient("arm-host-model")
    await qmp.connect(path)
    try:
        return [await qmp.execute(name, args or None) for name, args in calls]
    finally:
        await qmp.disconnect()


def main(argv=None) -> int:
    hosts = list((argv if argv is not None else sys.argv[1:]) or DEFAULT_HOSTS)
    missing = missing_modules()
    if missing:
        print(
            "arm_host_model.py: %s not installed for %s; run: pip install '.[examples]'"
            % (" and ".join(missing), sys.executable)
        )
        return 3
    tmp = tempfile.mkdtemp(prefix="armhm")
    procs = []
    try:
        usable: dict[str, list[str]] = {}
        order: list[str] = []
        for h in hosts:
            path = os.path.join(tmp, h + ".sock")
            proc, err = serve(h, path, "host")
            procs.append(proc)
            if err:
                log("%s: cannot start: %s" % (h, err.strip()))
                return 1
            try:
                static, defs = asyncio.run(
                    ask(
                        path,
                        ("query-cpu-model-expansion", {"type": "static", "model": {"name": "host"}}),
                        ("query-cpu-definitions", None),
                    )
                )
            except Exception as e:  # the proposal is off: upstream's error text
                log("%s: no named models (%s)" % (h, e))
                return 2
            m = static["model"]
            log(
                "%s: host-model = %s%s"
                % (h, m["name"], " + %d deltas" % len(m["props"]) if m.get("props") else "")
            )
            named = [d for d in defs if "unavailable-features" in d and "alias-of" not in d]
            order = order or [d["name"] for d in named]
            usable[h] = [d["name"] for d in named if not d["unavailable-features"]]
        common = [n for n in order if all(n in usable[h] for h in hosts)]
        if not common:
            log("no named model fits all hosts")
            return 1
        pick = common[-1]
        log("fits all %d hosts: %s (also: %s)" % (len(hosts), pick, ", ".join(common[:-1][-4:]) or "-"))
        for h in hosts:
            path = os.path.join(tmp, h + "-guest.sock")
            proc, err = serve(h, path, pick)
            procs.append(proc)
            if err:
                log("%s: refused -cpu %s: %s" % (h, pick, err.strip()))
                return 1
            (exp, midr) = asyncio.run(
                ask(
                    path,
                    ("query-cpu-model-expansion", {"type": "full", "model": {"name": pick}}),
                    ("qom-get", {"path": "/machine/unattached/device[0]", "property": "midr"}),
                )
            )
            on = sum(1 for v in exp["model"]["props"].values() if v is True)
            log("%s: started with -cpu %s (MIDR %#x, %d properties on)" % (h, pick, midr, on))
        return 0
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
