"""Proposal cpu-idreg-props: SYSREG_<REG>_<FIELD> properties on the KVM 'host' model
(docs/proposals/cpu-idreg-props.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cpu_testutil import KVM_HOSTS, Qmp, make_instance, profile_for

from qmpserver.arch.arm64 import kvm as K
from qmpserver.arch.arm64 import sysreg as sr
from qmpserver.errors import StartupError


def host_data(name):
    return sr.load_yaml(Path(sr.models_dir()) / "hosts" / (name + ".yaml"))


@pytest.fixture(scope="module")
def c6():
    return Qmp(make_instance(profile_for("ampereone-a-mte-6.18")))


def sysreg_props(props):
    return {k: v for k, v in props.items() if k.startswith("SYSREG_")}


@pytest.mark.parametrize("host", KVM_HOSTS)
def test_props_are_the_writable_fields_with_host_values(host):
    h = host_data(host)
    props = sysreg_props(Qmp(make_instance(profile_for(host))).props("host"))
    rel = K.parse_release(h)
    if rel < (6, 7, 0):
        assert props == {}
        return
    assert set(props) == set(K.writable_properties(host=h))
    for p, v in props.items():
        reg, field = sr.parse_property_name(p)
        assert v == sr.get_field(reg, sr.idreg(h, reg), field), p


@pytest.mark.parametrize("host", KVM_HOSTS)
def test_upstream_and_tcg_have_none(host):
    assert sysreg_props(Qmp(make_instance(profile_for(host, "qemu-11.1"))).props("host")) == {}
    # max under KVM never carries them
    assert sysreg_props(Qmp(make_instance(profile_for(host))).props("max")) == {}


def test_proposal_under_tcg_has_none():
    c = Qmp(make_instance("qmpserver-tcg"))
    assert c.err("host") == "The CPU type 'host' requires KVM"
    assert sysreg_props(c.props("max")) == {}


def test_unsigned_lower_safe(c6):
    p = "SYSREG_ID_AA64ISAR0_EL1_AES"
    host = c6.props("host")[p]
    assert host == 2
    assert c6.props("host", {p: 1})[p] == 1
    assert c6.props("host", {p: 0})[p] == 0
    assert (
        c6.err("host", {p: 3})
        == "Property '%s' cannot be set to 3: KVM on this host only accepts values up to the host value 2" % p
    )


def test_signed_order(c6):
    p = "SYSREG_ID_AA64MMFR0_EL1_TGRAN64"  # signed: 0xF = not implemented
    assert c6.props("host")[p] == 0
    assert c6.props("host", {p: 15})[p] == 15
    assert c6.err("host", {p: 1}) == (
        "Property '%s' cannot be set to 1: KVM on this host only accepts values up "
        "to the host value 0 in signed order (15 means not implemented)" % p
    )


def test_exact_fields(c6):
    p = "SYSREG_CLIDR_EL1_LoC"
    host = c6.props("host")[p]
    assert c6.props("host", {p: host})[p] == host
    other = (host + 1) % 8
    assert c6.err(
        "host", {p: other}
    ) == "Property '%s' cannot be set to %d: KVM on this host only accepts the host value %d" % (
        p,
        other,
        host,
    )


def test_special_rule_text(c6):
    p = "SYSREG_ID_AA64DFR0_EL1_DebugVer"
    assert c6.err("host", {p: 5}).startswith(
        "Property '%s' cannot be set to 5: KVM on this host refuses it (ID_AA64DFR0_EL1.DebugVer: 5 is below "
        "the minimum 6 KVM accepts)" % p
    )


def test_width_and_types(c6):
    p = "SYSREG_ID_AA64ISAR0_EL1_AES"
    assert (
        c6.err("host", {p: 16})
        == "Property '%s' cannot be set to 16: the field is 4 bits wide (host value 2)" % p
    )
    assert c6.err("host", {p: True}) == "Invalid parameter type for 'model.props.%s', expected: uint64" % p
    assert c6.err("host", {p: "1"}) == "Invalid parameter type for 'model.props.%s', expected: uint64" % p
    assert c6.err("host", {p: 1.0}) == "Invalid parameter type for 'model.props.%s', expected: uint64" % p
    # negative numbers are uint64 for QEMU's visitor (compatibility), hence out of range here
    assert "cannot be set to 18446744073709551615" in c6.err("host", {p: -1})


def test_not_writable_is_unexpected(c6):
    assert (
        c6.err("host", {"SYSREG_ID_AA64PFR1_EL1_MTE": 2})
        == "Parameter 'model.props.SYSREG_ID_AA64PFR1_EL1_MTE' is unexpected"
    )
    assert (
        c6.err("host", {"SYSREG_NOT_A_REG_X": 0})
        == "Parameter 'model.props.SYSREG_NOT_A_REG_X' is unexpected"
    )
    assert (
        c6.err("max", {"SYSREG_ID_AA64ISAR0_EL1_AES": 1})
        == "Parameter 'model.props.SYSREG_ID_AA64ISAR0_EL1_AES' is unexpected"
    )


def test_kernel_6_8_vs_6_12():
    """PFR1.BT is writable from 6.12: a property on graviton4 6.12, none on the same CPU with 6.8."""
    p = "SYSREG_ID_AA64PFR1_EL1_BT"
    assert p in Qmp(make_instance(profile_for("graviton4-v2-6.12"))).props("host")
    c = Qmp(make_instance("graviton4-v2-6.8"))
    assert p not in c.props("host")
    assert c.err("host", {p: 0}) == "Parameter 'model.props.%s' is unexpected" % p


def test_startup_sysreg():
    prof = profile_for("cix-p1-a720-mte3-6.12")
    p = "SYSREG_ID_AA64ISAR0_EL1_AES"
    c = Qmp(make_instance(prof, cpu="host", cpu_props={p: "1"}))
    assert c.props("host")[p] == 1  # the -cpu global applies to later expansions
    assert c.props("host", {p: 2})[p] == 2  # and can be raised back up to the host value
    cases = [
        (
            {p: "3"},
            "can't apply global host-arm-cpu.%s=3: Property '%s' cannot be set to 3: KVM on this host only "
            "accepts values up to the host value 2" % (p, p),
        ),
        ({p: "x"}, "can't apply global host-arm-cpu.%s=x: Parameter '%s' expects uint64" % (p, p)),
        (
            {"SYSREG_ID_AA64PFR1_EL1_MTE": "2"},
            "can't apply global host-arm-cpu.SYSREG_ID_AA64PFR1_EL1_MTE=2: "
            "Property 'host-arm-cpu.SYSREG_ID_AA64PFR1_EL1_MTE' not found",
        ),
    ]
    for props, want in cases:
        with pytest.raises(StartupError) as e:
            make_instance(prof, cpu="host", cpu_props=props)
        assert e.value.message == want
    # without the proposal the property does not exist
    with pytest.raises(StartupError) as e:
        make_instance(profile_for("cix-p1-a720-mte3-6.12", "qemu-11.1"), cpu="host", cpu_props={p: "1"})
    assert e.value.message == (
        "can't apply global host-arm-cpu.%s=1: Property 'host-arm-cpu.%s' not found" % (p, p)
    )


def test_mte_cannot_be_lowered_on_mte3_host():
    """PFR1.MTE is never writable: an MTE3 host cannot offer MTE2 through SYSREG props."""
    props = Qmp(make_instance(profile_for("cix-p1-a720-mte3-6.12"))).props("host")
    assert "SYSREG_ID_AA64PFR1_EL1_MTE" not in props


def test_qom_host_type_lists_sysreg():
    c = Qmp(make_instance(profile_for("cix-p1-a720-mte3-6.12")))
    names = {p["name"]: p["type"] for p in c.ok("qom-list-properties", {"typename": "host-arm-cpu"})}
    assert names["SYSREG_ID_AA64ISAR0_EL1_AES"] == "uint64"
    c = Qmp(make_instance(profile_for("cix-p1-a720-mte3-6.12", "qemu-11.1")))
    names = {p["name"] for p in c.ok("qom-list-properties", {"typename": "host-arm-cpu"})}
    assert not any(n.startswith("SYSREG_") for n in names)
