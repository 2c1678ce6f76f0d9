"""The migration matrix (tests/data/migration-matrix.yaml), in-process: two instances on
two profiles, a real stream over a unix socket, the destination's checks."""

from __future__ import annotations

import os
import re
import tempfile

import pytest
import yaml
from test_machine_migration import pump, q

from qmpserver.qapi.opts import parse_cpu

MATRIX = os.path.join(os.path.dirname(__file__), "..", "..", "data", "migration-matrix.yaml")


def rows():
    with open(MATRIX) as f:
        m = yaml.safe_load(f)
    out = []
    for r in m["rows"]:
        out.append({**m["defaults"], **r})
    return out


def run_row(r):
    tmp = tempfile.mkdtemp(prefix="qmx", dir="/tmp")
    uri = "unix:" + os.path.join(tmp, "m.sock")
    # -cpu MODEL,props as the launcher splits it (qapi/opts.py parse_cpu)
    scpu, sprops = parse_cpu(r["cpu"])
    dcpu, dprops = parse_cpu(r.get("dst_cpu", r["cpu"]))
    src = q(r["src"], r["machine"], r["accel"], scpu, cpu_props=sprops)
    dst = q(r["dst"], r.get("dst_machine", r["machine"]), r["accel"], dcpu, incoming=uri, cpu_props=dprops)
    rp = {"capabilities": [{"capability": "return-path", "state": True}]}
    src.cmd("migrate-set-capabilities", **rp)
    reply = src.send("migrate", uri=uri)
    if "error" in reply:
        return "blocked", reply["error"]["desc"], src, dst
    sm, dm = src.instance.migration, dst.instance.migration
    pump(
        src,
        dst,
        until=lambda: (
            sm.status in ("completed", "failed")
            and (dst.instance.terminated is not None or dm.incoming_status in ("completed", "failed"))
        ),
    )
    return sm.status, None, src, dst


@pytest.mark.parametrize("row", rows(), ids=lambda r: "%s->%s:%s" % (r["src"], r["dst"], r["expect"]))
def test_matrix_row(row):
    outcome, error, src, dst = run_row(row)
    assert outcome == row["expect"], (outcome, list(dst.instance.stderr), dst.instance.migration.refused)
    if outcome == "blocked":
        assert error == row["error"]
        return
    if outcome == "completed":
        # the destination continues with exactly the source's guest ABI
        assert dst.instance.abi == src.instance.abi
        assert dst.instance.exit_code == 0 and dst.instance.terminated is None
        assert src.cmd("query-status")["status"] == "postmigrate"
        return
    lines = list(dst.instance.stderr)
    assert len(lines) == len(row["stderr"]), lines
    for got, pattern in zip(lines, row["stderr"]):
        m = re.fullmatch(pattern, got)
        assert m, (got, pattern)
        if pattern.startswith("Invalid value"):
            assert int(m.group(1)) > int(m.group(2))
    assert dst.instance.exit_code == 1
    if row.get("first"):
        assert dst.instance.migration.refused[0].startswith(row["first"]), dst.instance.migration.refused
    # the source is left running, as QEMU leaves it
    assert src.cmd("query-status")["status"] == "running"


def test_gtse_travels_with_the_guest():
    """CAS happened on the source: a guest told GTSE=0 there (spapr-gtse proposal) runs on an
    upstream GTSE-off L1 after migrating (no tlbie crash), and the proposal's x-ov5-gtse of a
    destination shows what the guest was told, not what that destination would tell."""
    row = {"machine": "pseries", "accel": "kvm", "cpu": "host", "expect": "completed"}
    outcome, _, src, dst = run_row(
        {**row, "src": "power9-nested-l1-gtse-off-proposal", "dst": "power9-nested-l1-gtse-off"}
    )
    assert outcome == "completed"
    assert dst.instance.abi.cas_ov5 == {"radix": True, "gtse": False}
    dst.cmd("cont")
    pump(src, dst, until=lambda: False, timeout=0.3)  # the run hooks (a tlbie crash) get their turn
    assert dst.cmd("query-status")["status"] == "running"
    outcome, _, src, dst = run_row(
        {**row, "src": "power9-nested-l1-gtse-off-proposal", "dst": "power9-nested-l1-gtse-off-proposal"}
    )
    assert outcome == "completed"
    assert dst.cmd("qom-get", path="/machine", property="x-ov5-gtse") is False
