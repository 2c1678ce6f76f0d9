"""The guest-ABI description (vm/abi.py, arch/arm64/abi.py): consistent with what
qom-get and query-cpu-model-expansion answer, round trip, diff."""

from __future__ import annotations

import json

import pytest

from qmpserver.profiles.loader import load_profile
from qmpserver.qmp.session import Session
from qmpserver.startup import start
from qmpserver.vm import abi
from qmpserver.vm.config import InstanceConfig


class Client:
    def __init__(self, inst):
        self.s = Session(inst.add_monitor())
        self.s.connect()
        self.cmd("qmp_capabilities")

    def cmd(self, name, args=None):
        msg = {"execute": name, **({"arguments": args} if args is not None else {})}
        self.s.receive_data((json.dumps(msg) + "\r\n").encode())
        self.s.pump()
        for line in self.s.take_output().split(b"\r\n"):
            if line and b'"event"' not in line[:12]:
                reply = json.loads(line)
                if "QMP" not in reply:
                    return reply
        return None


def instance(profile, **cfg):
    cfg.setdefault("start_paused", True)
    return start(load_profile(profile), InstanceConfig(**cfg))


PROFILES = ["default", "graviton4-v2-6.12", "debian-7.2-tcg"]


@pytest.mark.parametrize("profile", PROFILES)
def test_abi_matches_qom_and_expansion(profile):
    inst = instance(profile)
    a = inst.abi
    c = Client(inst)
    assert a.target == inst.build.target == "aarch64"
    assert (
        a.machine == inst.machine.type
        and a.machine
        == c.cmd("qom-get", {"path": "/machine", "property": "type"})["return"][: -len("-machine")]
    )
    assert a.machine_version == a.machine.split("-", 1)[1]
    assert a.accel == inst.accel
    # GIC and MTE: what qom-get /machine reports
    assert str(a.gic) == c.cmd("qom-get", {"path": "/machine", "property": "gic-version"})["return"]
    mte = c.cmd("qom-get", {"path": "/machine", "property": "mte"})["return"]
    assert (a.mte != "none") is mte
    if inst.build.has_proposal("mte-version"):
        assert a.mte == c.cmd("qom-get", {"path": "/machine", "property": "mte-version"})["return"]
    # CPU: the model the vCPUs are, and the expansion of that model
    cpus = c.cmd("query-cpus-fast")["return"]
    assert cpus and all(
        c.cmd("qom-get", {"path": x["qom-path"], "property": "type"})["return"] == a.cpu_model + "-arm-cpu"
        for x in cpus
    )
    props = c.cmd("query-cpu-model-expansion", {"type": "full", "model": {"name": a.cpu_model}})["return"][
        "model"
    ].get("props", {})
    if "pmu" in props:
        assert a.pmu is props["pmu"]
    # vector lengths are sve128 ... sve2048 (multiples of 128); 'sve2' is a named feature
    sve = sorted(
        int(k[3:])
        for k, v in props.items()
        if k.startswith("sve") and k[3:].isdigit() and int(k[3:]) % 128 == 0 and v
    )
    if "sve" in props:
        assert a.sve_vector_lengths == sve
    sysreg = {k: v for k, v in props.items() if k.startswith("SYSREG_")}
    if sysreg:
        entries = inst.cpu.realized.cls.sysreg
        for k, v in sysreg.items():
            assert a.idregs["%s.%s" % (entries[k]["reg"], entries[k]["field"])] == v, k
    midr = c.cmd("qom-get", {"path": cpus[0]["qom-path"], "property": "midr"})["return"]
    if a.midr is not None:
        assert a.midr == midr


def test_kvm_host_abi_has_host_registers_and_firmware():
    inst = instance("graviton4-v2-6.12")
    a = inst.abi
    assert (a.accel, a.cpu_model, a.gic, a.gic_in_kernel) == ("kvm", "host", 3, True)
    host = inst.host.data["idregs"]
    assert a.midr == host["MIDR_EL1"]
    assert a.idregs["ID_AA64PFR0_EL1.SVE"] == (host["ID_AA64PFR0_EL1"] >> 32) & 0xF
    assert a.sve_vector_lengths == inst.host.data["kvm"]["sve_vector_lengths"]
    assert a.firmware["KVM_REG_ARM_PSCI_VERSION"] == 0x10001
    assert a.psci_version == "1.1"


def test_lowered_sysreg_field_is_what_the_guest_sees():
    inst = instance("graviton4-v2-6.12")
    if not inst.build.has_proposal("cpu-idreg-props"):
        pytest.skip("build without the cpu-idreg-props proposal")
    field = next(k for k in inst.abi.idregs if k == "ID_AA64PFR0_EL1.CSV3")
    lowered = instance("graviton4-v2-6.12", cpu_props={"SYSREG_ID_AA64PFR0_EL1_CSV3": "0"})
    assert inst.abi.idregs[field] == 1 and lowered.abi.idregs[field] == 0
    assert abi.diff(inst.abi, lowered.abi) == [("cpu.idregs." + field, 1, 0)]


def test_tcg_model_registers_are_absent_not_invented():
    a = instance("debian-7.2-tcg").abi
    assert a.accel == "tcg" and a.idregs is None and a.firmware is None and a.psci_version is None
    assert a.to_dict()["cpu"]["idregs"] is None


@pytest.mark.parametrize("profile", PROFILES)
def test_round_trip(profile):
    a = instance(profile).abi
    d = a.to_dict()
    assert d["format"] == abi.FORMAT
    b = abi.GuestABI.from_dict(json.loads(json.dumps(d)))
    assert b.to_dict() == d and b == a and abi.diff(a, b) == []


def test_from_dict_refuses_another_format():
    d = instance("default").abi.to_dict()
    d["format"] = abi.FORMAT + 1
    with pytest.raises(abi.ABIFormatError):
        abi.GuestABI.from_dict(d)


def test_diff_of_two_hosts():
    g4 = instance("graviton4-v2-6.12").abi
    tcg = instance("debian-7.2-tcg").abi
    d = dict((k, (x, y)) for k, x, y in abi.diff(g4, tcg))
    assert d["accel"] == ("kvm", "tcg")
    assert d["cpu.model"] == ("host", tcg.cpu_model)
    assert d["firmware.KVM_REG_ARM_PSCI_VERSION"] == (0x10001, None)
    assert "cpu.idregs.ID_AA64PFR0_EL1.SVE" in d
    assert "target" not in d
