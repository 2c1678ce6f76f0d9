"""qmpserver migration plan: candidates proved by running the migration."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qmpserver.planner import format_plan, plan
from qmpserver.profiles.loader import load_profile


def P(name):
    return load_profile(name)


def test_same_host_plans_passthrough_and_proves_it():
    p = plan(P("graviton3-v1-6.1"), P("graviton3-v1-6.1"), both_ways=True)
    assert p["migratable"] and p["blockers"] == []
    args = p["configuration"]["qemu-args"]
    assert args[:2] == ["-machine", "virt-11.1,gic-version=3,mte-version=none"]
    # proposal arm-cpu-models: the named model Graviton3 presents exactly (Neoverse V1)
    # comes first, and the plan proves it; it is portable where plain `host` is not
    assert args[2:4] == ["-accel", "kvm"] and args[4:6] == ["-cpu", "neoverse-v1-v1"]
    assert [t["result"] for t in p["tried"][-1]["trials"]] == ["completed", "completed"]


def test_invariant_midr_blocks_graviton3_to_graviton4():
    p = plan(P("graviton3-v1-6.1"), P("graviton4-v2-6.12"))
    assert not p["migratable"] and p["configuration"] is None
    assert p["blockers"][0].startswith("MIDR_EL1: 0x411fd401 differs from this host's 0x410fd4f1")
    assert "not migratable" in format_plan(p).lower()


def test_rollback_to_an_older_kernel_is_the_list_length():
    p = plan(P("altra-n1-6.8"), P("graviton2-n1-5.10"))
    assert not p["migratable"]
    assert p["blockers"][0].startswith("the source lists")
    t = p["tried"][0]["trials"][0]
    assert t["destination-stderr"][-1] == "load of migration failed: Invalid argument"


def test_tcg_profiles_on_one_qemu_version():
    p = plan(P("qmpserver-tcg"), P("qemu-11.1-tcg"), both_ways=True)
    assert p["migratable"]
    assert p["configuration"]["qemu-args"] == ["-machine", "virt-11.1", "-accel", "tcg", "-cpu", "cortex-a57"]


def test_tcg_and_kvm_never_exchange_guests():
    p = plan(P("qmpserver-tcg"), P("graviton4-v2-6.12"))
    assert not p["migratable"] and p["tried"] == []
    assert "runs KVM" in p["blockers"][0]


def test_newest_common_machine_type_across_qemu_versions():
    # QEMU 7.2 and 11.1 share virt-7.2 (the plan never relies on the unversioned alias)
    p = plan(P("debian-7.2-tcg"), P("qemu-11.1-tcg"))
    assert p["configuration"]["qemu-args"][1] == "virt-7.2"
    assert p["migratable"]


@pytest.mark.parametrize(
    "args,code",
    [(["graviton3-v1-6.1", "graviton3-v1-6.1"], 0), (["graviton3-v1-6.1", "graviton4-v2-6.12"], 2)],
)
def test_cli_json_and_exit_status(args, code):
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "from qmpserver.cli import main; raise SystemExit(main())",
            "migration",
            "plan",
            *args,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == code, r.stderr
    assert json.loads(r.stdout)["migratable"] is (code == 0)
