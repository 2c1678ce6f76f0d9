"""Every TCG configuration pair measured with real QEMU 7.2 (the ``matrix`` of
models/arm64/tcg-cpregs-7.2.yaml: 126 real stream loads between CPU models,
CPU counts, mte=on, sve=off and pauth=off), migrated between two in-process
instances on the ``debian-7.2-tcg`` profile: the destination must end the same
way (completed, or the same errno) at the same section (cpu, cpu_common, ram)."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "machine"))
from machine_testutil import Qmp, start  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
with open(os.path.join(ROOT, "models", "arm64", "tcg-cpregs-7.2.yaml")) as f:
    ROWS = yaml.safe_load(f)["matrix"]

ERRNO = {"Invalid argument": "EINVAL", "Operation not permitted": "EPERM"}


def _config(key):
    """'max,sve=off/smp1[/mte=on]' -> start() arguments."""
    parts = key.split("/")
    cpu, _, opts = parts[0].partition(",")
    props = dict(o.split("=") for o in opts.split(",")) if opts else {}
    machine = "virt-7.2" + (",mte=on" if "mte=on" in parts[2:] else "")
    smp = int(parts[1][3:])
    return dict(machine=machine, cpu=cpu, cpu_props=props, smp={"cpus": smp})


def _start(key, **kw):
    c = _config(key)
    inst = start(
        "debian-7.2-tcg", c["machine"], "tcg", c["cpu"], cpu_props=c["cpu_props"], smp=c["smp"], **kw
    )
    assert not hasattr(inst, "message"), inst  # a StartupError
    return inst


def _stage(lines):
    for line in lines:
        m = re.search(r"of device '([^']+)'", line) or re.search(
            r"Unknown savevm section or instance '([^']+)'", line
        )
        if m:
            return m.group(1)
        if "ramblock" in line:
            return "ram"
    return "?"


@pytest.mark.parametrize("row", ROWS, ids=["%s->%s" % (r["src"], r["dst"]) for r in ROWS])
def test_pair_ends_as_with_real_qemu(row):
    src = Qmp(_start(row["src"]))
    dst = Qmp(_start(row["dst"], incoming="defer"))
    path = os.path.join(tempfile.mkdtemp(prefix="qtm", dir="/tmp"), "m.sock")
    dst.cmd("migrate-incoming", uri="unix:" + path)
    src.cmd("migrate", uri="unix:" + path)
    m = dst.instance.migration
    end = time.monotonic() + 10
    while time.monotonic() < end:
        for c in (src, dst):
            c.instance.scheduler.run_due()
        if dst.instance.terminated is not None or m.incoming_status in ("completed", "failed"):
            break
        time.sleep(0.001)
    lines = list(dst.instance.stderr)
    if row["real"] == "completed":
        assert m.incoming_status == "completed", lines
        return
    assert lines, "the destination accepted what QEMU 7.2 refused"
    final = lines[-1]
    assert final.startswith("load of migration failed: "), lines
    assert ERRNO.get(final.split(": ", 1)[1]) == row["real"], lines
    assert _stage(lines) == row["stage"], lines
