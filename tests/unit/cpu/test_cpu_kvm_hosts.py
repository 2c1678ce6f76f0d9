"""KVM: the 'host' model of every built-in aarch64 host, with QEMU 11.1 upstream
(qemu-11.1) and with the proposals on (qmpserver).  Snapshot files under snapshots/
(regenerate with QMPSERVER_UPDATE_SNAPSHOTS=1 and review the diff), plus cross-checks
that the host profile's facts show through."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cpu_testutil import KVM_HOSTS, Qmp, make_instance, profile_for

from qmpserver.arch.arm64 import sysreg as sr

SNAP = Path(__file__).resolve().parent / "snapshots"
SVE = ["sve%d" % (128 * vq) for vq in range(1, 17)]
BUILDS = ("qemu-11.1", "qmpserver")


def host_data(name):
    return sr.load_yaml(Path(sr.models_dir()) / "hosts" / (name + ".yaml"))


@pytest.fixture(scope="module")
def clients():
    cache = {}

    def get(host, build="qmpserver", **cfg):
        key = (host, build, tuple(sorted(cfg.items())))
        if key not in cache:
            cache[key] = Qmp(make_instance(profile_for(host, build), **cfg))
        return cache[key]

    return get


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("host", KVM_HOSTS)
def test_host_expansion_snapshot(clients, host, build):
    c = clients(host, build)
    got = c.ok("query-cpu-model-expansion", {"type": "full", "model": {"name": "host"}})
    path = SNAP / ("%s.%s.json" % (host, build))
    if os.environ.get("QMPSERVER_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        SNAP.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1) + "\n")
    assert got == json.loads(path.read_text())


@pytest.mark.parametrize("host", KVM_HOSTS)
def test_host_facts_show_through(clients, host):
    h = host_data(host)
    caps = h["kvm"]["caps"]
    c = clients(host, "qemu-11.1")
    p = c.props("host")
    # upstream 11.1 list: aarch64, pmu?, sve, 16 lengths, kvm-*, pauth; never pauth-impdef/qarma*
    assert p["aarch64"] is True
    assert ("pmu" in p) == bool(caps.get("KVM_CAP_ARM_PMU_V3"))
    assert p["kvm-no-adjvtime"] is False
    assert p["kvm-steal-time"] is bool(caps.get("KVM_CAP_STEAL_TIME"))
    assert not any(k.startswith(("pauth-", "SYSREG_")) for k in p)
    lengths = set(h["kvm"].get("sve_vector_lengths") or ())
    has_sve = bool(caps.get("KVM_CAP_ARM_SVE")) and sr.sve_present(h) and bool(lengths)
    assert p["sve"] is has_sve
    for n in SVE:
        assert p[n] is (has_sve and int(n[3:]) in lengths), n
    if not has_sve:
        assert not any(p[n] for n in SVE)
    assert p["pauth"] is (bool(caps.get("KVM_CAP_ARM_PTRAUTH_ADDRESS")) and sr.pauth_present(h))
    # max under KVM is the host model (no SYSREG)
    assert c.props("max") == p


def test_grace_has_no_pauth(clients):
    assert clients("grace-v2-6.8", "qemu-11.1").props("host")["pauth"] is False
    assert clients("grace-v2-6.8").props("host")["pauth"] is False
    assert (
        clients("grace-v2-6.8").err("host", {"pauth": True})
        == "'pauth' feature not supported by KVM on this host"
    )


def test_hosts_without_sve(clients):
    for host in ("altra-n1-6.8", "ampereone-a-mte-6.18", "graviton2-n1-5.10"):
        c = clients(host)
        p = c.props("host")
        assert p["sve"] is False and not any(p[n] for n in SVE)
        assert c.err("host", {"sve": True}) == "'sve' feature not supported by KVM on this host"
        assert c.err("host", {"sve128": True}) == "cannot enable sve128"
        assert c.props("host", {"sve": False})["sve"] is False


def test_kvm_sve_rules(clients):
    c = clients("graviton3-v1-6.1")  # SVE 128+256
    assert [n for n in SVE if c.props("host")[n]] == ["sve128", "sve256"]
    assert c.err("host", {"sve512": True}) == "cannot enable sve512"
    assert c.err("host", {"sve128": False}) == "cannot disable sve128"
    p = c.props("host", {"sve256": False})
    assert [n for n in SVE if p[n]] == ["sve128"]
    p = c.props("host", {"sve256": True})
    assert [n for n in SVE if p[n]] == ["sve128", "sve256"]
    p = c.props("host", {"sve": False})
    assert not any(p[n] for n in SVE)


def test_kvm_checks(clients):
    c = clients("graviton4-v2-6.12", "qemu-11.1")
    assert c.err("cortex-a57") == "We cannot guarantee the CPU type 'cortex-a57' works with KVM on this host"
    assert c.err("foo") == "The CPU type 'foo' is not a recognized ARM CPU type"
    assert c.err("host", {"pauth-impdef": True}) == "Property 'host-arm-cpu.pauth-impdef' not found"
    assert c.err("max", {"pauth-impdef": True}) == "Property 'max-arm-cpu.pauth-impdef' not found"
    assert (
        c.err("host", {"aarch64": False})
        == "'aarch64' feature cannot be disabled unless KVM is enabled and 32-bit EL1 is supported"
    )
    assert (
        c.err("host", {"migratable": False, "hv-passthrough": True})
        == "Parameter 'model.props.hv-passthrough' is unexpected"
    )
    assert c.props("host", {"kvm-steal-time": False})["kvm-steal-time"] is False
    assert c.props("host", {"kvm-no-adjvtime": True})["kvm-no-adjvtime"] is True
    defs = [d["name"] for d in c.ok("query-cpu-definitions")]
    assert "host" in defs and "max" in defs


def test_running_model_allowed_under_kvm():
    """Check 4: the model the machine was started with passes under KVM."""
    from qmpserver.arch.arm64.cpu import Catalog

    prof = profile_for("graviton4-v2-6.12", "qemu-11.1")
    cat = Catalog(prof.build, prof.host, "kvm", "cortex-a57", {})
    cat.check_model("cortex-a57")
    props = cat.expand_default("cortex-a57")
    assert props["aarch64"] and props["pmu"] and "kvm-steal-time" in props


def test_aarch64_off_with_el1_32bit():
    """A host whose KVM runs AArch32 EL1: aarch64=off is allowed, steal time then refused."""
    from qmpserver.arch.arm64.cpu import Catalog

    prof = profile_for("graviton2-n1-5.10", "qemu-11.1")
    cat = Catalog(prof.build, prof.host, "kvm", "host", {})
    cat.cls("host").kvm_el1_32 = True
    p = cat.expand("host", {"aarch64": False})
    assert p["aarch64"] is False and p["kvm-steal-time"] is False
    from qmpserver.errors import QMPError

    with pytest.raises(QMPError, match="^'kvm-steal-time' cannot be enabled for AArch32 guests$"):
        cat.expand("host", {"aarch64": False, "kvm-steal-time": True})


def test_steal_time_unavailable():
    from qmpserver.arch.arm64.cpu import Catalog
    from qmpserver.errors import QMPError

    prof = profile_for("graviton2-n1-5.10", "qemu-11.1")
    cat = Catalog(prof.build, prof.host, "kvm", "host", {})
    cat.cls("host").kvm_steal = False
    assert cat.expand("host", {})["kvm-steal-time"] is False
    with pytest.raises(QMPError, match="^'kvm-steal-time' cannot be enabled on this host$"):
        cat.expand("host", {"kvm-steal-time": True})


def test_pmu_unavailable():
    from qmpserver.arch.arm64.cpu import Catalog
    from qmpserver.errors import QMPError

    prof = profile_for("graviton2-n1-5.10", "qemu-11.1")
    hd = prof.host.derived["arm_cpu"]
    saved = hd["kvm"]["pmu"]
    hd["kvm"]["pmu"] = False
    try:
        cat = Catalog(prof.build, prof.host, "kvm", "cortex-a57", {})
        assert "pmu" not in cat.expand_default("host")
        with pytest.raises(QMPError, match="^Property 'host-arm-cpu.pmu' not found$"):
            cat.expand("host", {"pmu": True})
        with pytest.raises(QMPError, match="^'pmu' feature not supported by KVM on this host$"):
            cat.expand("cortex-a57", {"pmu": True})
    finally:
        hd["kvm"]["pmu"] = saved


@pytest.mark.parametrize("host", KVM_HOSTS)
def test_kvm_startup(host):
    """-cpu host under KVM starts; -cpu host under TCG is refused like QEMU."""
    from qmpserver.errors import StartupError

    make_instance(profile_for(host, "qemu-11.1"), cpu="host")
    make_instance(profile_for(host, "qemu-11.1"), cpu="host", cpu_props={"sve": "off", "pauth": "off"})
    with pytest.raises(StartupError) as e:
        make_instance(profile_for(host, "qemu-11.1"), cpu="host", accel=["tcg"])
    assert e.value.message == "The 'host' CPU type can only be used with KVM or HVF"
    with pytest.raises(StartupError) as e:
        make_instance(profile_for(host, "qemu-11.1"), cpu="host", accel=["tcg"], cpu_props={"sve": "off"})
    assert e.value.message == "can't apply global host-arm-cpu.sve=off: Property 'host-arm-cpu.sve' not found"
    with pytest.raises(StartupError) as e:
        make_instance(profile_for(host, "qemu-11.1"), cpu="cortex-a15")
    assert e.value.message.startswith(
        "Invalid CPU model: cortex-a15\nThe valid models are: cortex-a53, cortex-a57, host, max"
    )


def test_kvm_startup_texts():
    from qmpserver.errors import StartupError

    prof = profile_for("altra-n1-6.8", "qemu-11.1")
    for props, want in [
        (
            {"sve": "on"},
            "can't apply global host-arm-cpu.sve=on: 'sve' feature not supported by KVM on this host",
        ),
        ({"pauth": "on"}, "'pauth' feature not supported by KVM on this host"),
        (
            {"sve-max-vq": "2"},
            "can't apply global host-arm-cpu.sve-max-vq=2: Property 'host-arm-cpu.sve-max-vq' not found",
        ),
        ({"sve128": "on"}, "cannot enable sve128\nSVE not supported by KVM on this host"),
    ]:
        with pytest.raises(StartupError) as e:
            make_instance(prof, cpu="host", cpu_props=props)
        assert e.value.message == want
    # the running -cpu globals apply to later expansions of the same type
    c = Qmp(
        make_instance(
            profile_for("graviton3-v1-6.1", "qemu-11.1"),
            cpu="host",
            cpu_props={"sve256": "off", "kvm-steal-time": "off"},
        )
    )
    p = c.props("host")
    assert p["sve256"] is False and p["sve128"] is True and p["kvm-steal-time"] is False
    assert c.props("max")["sve256"] is True


def test_default_cpu_of_virt():
    """Without -cpu, virt 11.x uses max under KVM and cortex-a15 under TCG (virt_get_default_cpu_type)."""
    kvm = make_instance(profile_for("graviton4-v2-6.12", "qemu-11.1", cpu=None))
    assert kvm.machine.cpu_model == "max"
    tcg = make_instance(profile_for("graviton4-v2-6.12", "qemu-11.1", accel="tcg", cpu=None))
    assert tcg.machine.cpu_model == "cortex-a15"
    c = Qmp(tcg)
    assert (
        c.ok("qom-get", {"path": "/machine/unattached/device[0]", "property": "type"}) == "cortex-a15-arm-cpu"
    )
    old = make_instance("debian-7.2-tcg", cpu=None)
    assert old.machine.cpu_model in ("max", "cortex-a15")  # the profile's default (max) wins
