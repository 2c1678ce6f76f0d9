"""CPU objects in the QOM tree, qom-list-properties of CPU types, and `qmpserver cpu`."""

from __future__ import annotations

import io

import pytest
from cpu_testutil import Qmp, make_instance, profile_for

from qmpserver.errors import UsageError


def test_cpu_objects_7_2():
    """The values real QEMU 7.2 reports for -cpu max -smp 2 (observed 2026-11-21)."""
    c = Qmp(make_instance("debian-7.2-tcg", cpu="max", smp={"cpus": "2"}))
    d0 = "/machine/unattached/device[0]"
    d1 = "/machine/unattached/device[1]"
    assert c.ok("qom-get", {"path": d0, "property": "type"}) == "max-arm-cpu"
    listing = c.ok("qom-list", {"path": d0})
    rec = c.ok("qom-list-properties", {"typename": "max-arm-cpu"})
    assert [p["name"] for p in listing] == [p["name"] for p in rec]
    want = {
        "midr": 984336,
        "mp-affinity": 0,
        "start-powered-off": False,
        "core-count": 2,
        "node-id": -1,
        "sve": True,
        "sve2048": True,
        "sve-max-vq": 16,
        "pauth": True,
        "pauth-impdef": False,
        "pmu": True,
        "aarch64": True,
        "realized": True,
        "hotpluggable": True,
        "cntfrq": 62500000,
        "sme": True,
        "lpa2": True,
        "psci-conduit": 2,
        "reset-cbar": 134217728,
    }
    for k, v in want.items():
        assert c.ok("qom-get", {"path": d0, "property": k}) == v, k
    assert c.ok("qom-get", {"path": d1, "property": "mp-affinity"}) == 1
    assert c.ok("qom-get", {"path": d1, "property": "start-powered-off"}) is True
    assert (
        c.cmd("qom-get", {"path": d0, "property": "legacy-memory"})["error"]["desc"]
        == "Property 'max-arm-cpu.legacy-memory' is not readable"
    )
    assert (
        c.cmd("qom-get", {"path": d0, "property": "nope"})["error"]["desc"]
        == "Property 'max-arm-cpu.nope' not found"
    )


def test_cpu_object_reflects_cpu_option():
    c = Qmp(make_instance("debian-7.2-tcg", cpu="max", cpu_props={"sve-max-vq": "4", "pmu": "off"}))
    d0 = "/machine/unattached/device[0]"
    assert c.ok("qom-get", {"path": d0, "property": "sve-max-vq"}) == 4
    assert c.ok("qom-get", {"path": d0, "property": "sve512"}) is True
    assert c.ok("qom-get", {"path": d0, "property": "sve640"}) is False
    assert c.ok("qom-get", {"path": d0, "property": "pmu"}) is False


def test_cpu_object_kvm_host_sysreg():
    c = Qmp(
        make_instance(
            profile_for("cix-p1-a720-mte3-6.12"), cpu="host", cpu_props={"SYSREG_ID_AA64ISAR0_EL1_AES": "1"}
        )
    )
    d0 = "/machine/unattached/device[0]"
    assert c.ok("qom-get", {"path": d0, "property": "type"}) == "host-arm-cpu"
    assert c.ok("qom-get", {"path": d0, "property": "SYSREG_ID_AA64ISAR0_EL1_AES"}) == 1
    assert c.ok("qom-get", {"path": d0, "property": "midr"}) == 0x410FD811
    assert c.ok("qom-get", {"path": d0, "property": "kvm-steal-time"}) is True


def test_machine_none_has_no_cpu():
    c = Qmp(make_instance("debian-7.2-tcg", machine={"type": "none"}))
    assert (
        c.cmd("qom-get", {"path": "/machine/unattached/device[0]", "property": "type"})["error"]["class"]
        == "DeviceNotFound"
    )


def test_qom_list_properties_unrecorded_type():
    """qemu-11.1 recorded max-arm-cpu only; other CPU types get the modelled list."""
    c = Qmp(make_instance("qemu-11.1-tcg"))
    names = {p["name"]: p["type"] for p in c.ok("qom-list-properties", {"typename": "a64fx-arm-cpu"})}
    assert names["sve512"] == "bool" and names["aarch64"] == "bool" and names["type"] == "string"
    assert "pauth" not in names
    assert (
        c.cmd("qom-list-properties", {"typename": "nonexistent-arm-cpu"})["error"]["class"]
        == "DeviceNotFound"
    )


# --- CLI ------------------------------------------------------------------------------------------


def run_cli(argv):
    from qmpserver.cli import build_parser

    args = build_parser().parse_args(argv)
    out = io.StringIO()
    rc = args.func(args, out=out)
    return rc, out.getvalue()


def test_cli_expand_tcg():
    rc, out = run_cli(["cpu", "expand", "--profile", "debian-7.2-tcg", "max,sve-max-vq=4"])
    assert rc == 0
    assert "model max (max-arm-cpu), -cpu max,sve-max-vq=4" in out
    rows = dict(line.split()[:2] for line in out.splitlines()[5:] if line.strip())
    assert rows["sve512"] == "on" and rows["sve640"] == "off" and rows["pauth"] == "on"


def test_cli_expand_kvm_sysreg():
    rc, out = run_cli(["cpu", "expand", "--profile", "default", "host"])
    assert rc == 0
    line = [l for l in out.splitlines() if l.startswith("SYSREG_ID_AA64ISAR0_EL1_AES ")][0]
    assert line.split()[1:3] == ["2", "PMULL"] and "KVM accepts 0-2" in line


def test_cli_expand_errors():
    with pytest.raises(UsageError, match="cannot disable sve128"):
        run_cli(["cpu", "expand", "--profile", "debian-7.2-tcg", "max,sve128=off"])
    with pytest.raises(UsageError, match="unable to find CPU model 'foo'"):
        run_cli(["cpu", "expand", "--profile", "debian-7.2-tcg", "foo"])
    with pytest.raises(UsageError, match="has no KVM"):
        run_cli(["cpu", "expand", "--profile", "debian-7.2-tcg", "--accel", "kvm", "host"])


def test_cli_baseline():
    rc, out = run_cli(["cpu", "baseline", "--profile", "grace-v2-6.8", "--profile", "graviton4-v2-6.8"])
    assert rc == 0
    assert "comparison A vs B: incompatible" in out
    assert any(l.startswith("pauth ") and l.split()[1:4] == ["off", "on", "off"] for l in out.splitlines())
    rc, out = run_cli(["cpu", "baseline", "--profile", "grace-v2-6.8", "--profile", "graviton4-v2-6.12"])
    assert rc == 2  # a negative answer (1 is bad input), as migration plan and profiles diff
    assert "no common model: SYSREG_ID_AA64PFR1_EL1_BT cannot be bridged" in out
    with pytest.raises(UsageError, match="one or two --profile"):
        run_cli(["cpu", "baseline"])
    with pytest.raises(UsageError, match="one or two --profile"):
        run_cli(["cpu", "baseline", "--profile", "a", "--profile", "b", "--profile", "c"])


def test_cli_profile_defaults_as_for_serve(monkeypatch):
    monkeypatch.delenv("QMPSERVER_PROFILE", raising=False)
    rc, out = run_cli(["cpu", "expand", "host"])
    assert rc == 0 and out.startswith("profile default: "), out
    rc, out = run_cli(["cpu", "baseline", "--profile", "cix-p1-a720-mte3-6.12"])
    assert out.startswith("A: default ("), out
    monkeypatch.setenv("QMPSERVER_PROFILE", "debian-7.2-tcg")
    rc, out = run_cli(["cpu", "expand", "max"])
    assert rc == 0 and out.startswith("profile debian-7.2-tcg: "), out


def test_cli_main_entry(capsys):
    from qmpserver.cli import main

    assert main(["cpu", "expand", "--profile", "debian-7.2-tcg", "cortex-a15"]) == 0
    assert "pmu" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["cpu", "expand", "--profile", "debian-7.2-tcg", "max,pmu=maybe"])
    assert e.value.code == 1
    assert "Parameter 'pmu' expects 'on' or 'off'" in capsys.readouterr().err
