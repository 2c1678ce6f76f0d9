"""virt properties, /machine QOM, introspection overlays and the machine commands,
in-process on the built-in profiles (7.2 as recorded, 11.1 upstream, 11.1 with
the proposals)."""

from __future__ import annotations

import pytest
from machine_testutil import Qmp, start

from qmpserver.arch.arm64 import mte
from qmpserver.commands import machine as machine_cmds
from qmpserver.errors import StartupError
from qmpserver.vm import virt


def q(profile="qmpserver-tcg", machine="virt", accel=None, cpu="max", **cfg):
    inst = start(profile, machine, accel, cpu, **cfg)
    assert not isinstance(inst, StartupError), inst
    return Qmp(inst)


# --- -machine properties --------------------------------------------------------------------


@pytest.mark.parametrize(
    "profile,machine,want",
    [
        ("qmpserver-tcg", "virt,foo=bar", "Property 'virt-11.1-machine.foo' not found"),
        ("qemu-11.1-tcg", "virt,mte-version=2", "Property 'virt-11.1-machine.mte-version' not found"),
        ("debian-7.2-tcg", "virt-6.2,mte-version=2", "Property 'virt-6.2-machine.mte-version' not found"),
        (
            "qmpserver-tcg",
            "virt,mte-version=4",
            "Invalid mte-version value\nValid values are none, 2, 3, host, max.",
        ),
        ("qmpserver-tcg", "virt,mte=maybe", "Parameter 'mte' expects 'on' or 'off'"),
        (
            "qmpserver-tcg",
            "virt,gic-version=9",
            "Invalid gic-version value\nValid values are 3, 2, host, max.",
        ),
        (
            "debian-7.2-tcg",
            "virt,gic-version=x-5",
            "Invalid gic-version value\nValid values are 3, 2, host, max.",
        ),
        ("qmpserver-tcg", "virt,acpi=maybe", "Parameter 'acpi' does not accept value 'maybe'"),
        ("qmpserver-tcg", "virt,phandle-start=x", "Parameter 'phandle-start' expects integer"),
        ("qmpserver-tcg", "virt,iommu=x", "Invalid iommu value\nValid values are none, smmuv3."),
        ("qmpserver-tcg", "virt,nvdimm-persistence=x", "-machine nvdimm-persistence=x: unsupported option"),
        # QDict order decides which bad property is reported
        ("qmpserver-tcg", "virt,foo=1,bar=2", "Property 'virt-11.1-machine.bar' not found"),
        (
            "qmpserver-tcg",
            "virt,mte=x,mte-version=y",
            "Invalid mte-version value\nValid values are none, 2, 3, host, max.",
        ),
    ],
)
def test_property_errors(profile, machine, want):
    e = start(profile, machine, "tcg", "max")
    assert isinstance(e, StartupError) and e.message == want


def test_property_errors_come_before_the_accelerator():
    e = start("debian-7.2-tcg", "virt,mte-version=3", "kvm", "max")
    assert e.message == "Property 'virt-7.2-machine.mte-version' not found"


def test_deprecation_warning_is_printed_once_and_first():
    e = start("qmpserver-tcg", "virt,mte=on,gic-version=host", "tcg", "max")
    assert (e.message, e.warnings) == ("gic-version=host requires KVM", [mte.DEPRECATED])


def test_legacy_underscore_keys_and_accel_options():
    inst = q("qmpserver-tcg", "virt,dump_guest_core=off,kernel-irqchip=on").instance
    assert inst.machine.props["dump-guest-core"] is False
    assert inst.machine.accel_opts == {"kernel-irqchip": "on"}


def test_kernel_irqchip_off_limits_kvm_to_gicv2():
    e = start("default", "virt,kernel-irqchip=off,gic-version=3", "kvm", "host")
    assert e.message == "KVM with kernel-irqchip=off does not support GICv3 emulation"


# --- /machine ---------------------------------------------------------------------------------


def test_qom_answers_with_the_proposal():
    c = q("default", "virt,mte-version=3", "kvm", "host")
    assert c.cmd("qom-get", path="/machine", property="mte-version") == "3"
    assert c.cmd("qom-get", path="/machine", property="mte") is True
    assert c.cmd("qom-get", path="/machine", property="gic-version") == "3"
    names = [p["name"] for p in c.cmd("qom-list", path="/machine")]
    assert names.index("mte-version") == names.index("mte") + 1
    assert {"name": "mte-version", "type": "string"} in c.cmd("qom-list", path="/machine")
    # no tag memory region under KVM
    assert "tag-memory[0]" not in names


def test_qom_tcg_tag_memory_and_smp():
    c = q("qmpserver-tcg", "virt,mte-version=2,secure=on", "tcg", "max", smp={"cpus": 2})
    names = [p["name"] for p in c.cmd("qom-list", path="/machine")]
    assert "tag-memory[0]" in names and "secure-tag-memory[0]" in names
    assert c.cmd("qom-get", path="/machine", property="secure") is True
    smp = c.cmd("qom-get", path="/machine", property="smp")
    assert smp["cpus"] == 2 and smp["maxcpus"] == 2
    assert c.cmd("qom-get", path="/machine", property="memory") == {"size": 128 << 20}


def test_qom_without_the_proposal():
    c = q("qemu-11.1-tcg", "virt,mte=on")
    assert c.cmd("qom-get", path="/machine", property="mte") is True
    assert (
        c.send("qom-get", path="/machine", property="mte-version")["error"]["desc"]
        == "Property 'virt-11.1-machine.mte-version' not found"
    )
    assert "mte-version" not in [p["name"] for p in c.cmd("qom-list", path="/machine")]


def test_qom_list_get_is_qom_list_with_the_values_of_qom_get():
    """11.1's qom-list-get (QEMU 10.1+): one qom-list per path, each property with its qom-get
    value; an unknown path fails the whole command as qom-list does; 7.2 has no such command."""
    c = q("qemu-11.1-tcg", "virt")
    machine, objects = c.cmd("qom-list-get", paths=["/machine", "/objects"])
    listed = c.cmd("qom-list", path="/machine")
    assert [{"name": p["name"], "type": p["type"]} for p in machine["properties"]] == listed
    assert machine["properties"][0] == {"name": "type", "type": "string", "value": "virt-11.1-machine"}
    for p in machine["properties"]:
        got = c.send("qom-get", path="/machine", property=p["name"])
        if "value" in p:
            assert got == {"return": p["value"]}, p["name"]
        else:  # a value the model does not know (qom-get says {}) or cannot read: none given
            assert got.get("return") == {} or "error" in got, (p["name"], got)
    assert any("value" not in p for p in machine["properties"])  # e.g. smp-cache
    assert c.cmd("qom-get", path="/machine", property="gic-version") in [
        p.get("value") for p in machine["properties"]
    ]
    assert objects == {"properties": [{"name": "type", "type": "string", "value": "container"}]}
    err = c.send("qom-list-get", paths=["/machine", "/nope"])["error"]
    assert err == {"class": "DeviceNotFound", "desc": "Device '/nope' not found"}
    assert q("debian-7.2-tcg", "virt").send("qom-list-get", paths=["/machine"])["error"]["class"] == (
        "CommandNotFound"
    )


def test_monitor_objects_are_refused_as_not_modelled():
    """11.1's object-add monitor-qmp/monitor-hmp would put a monitor on a chardev: not
    simulated, so an error naming the type instead of an object that does nothing."""
    c = q("qemu-11.1-tcg", "virt")
    for t in ("monitor-qmp", "monitor-hmp"):
        err = c.send("object-add", **{"qom-type": t, "id": "m", "chardev": "c"})["error"]
        assert err["desc"] == "qmpserver: object type '%s' is not modelled (its effect is not simulated)" % t
    assert c.cmd("object-add", **{"qom-type": "iothread", "id": "io0"}) == {}


@pytest.mark.parametrize(
    "profile,typename,present",
    [
        ("qmpserver-tcg", "virt-11.1-machine", True),
        ("qemu-11.1-tcg", "virt-11.1-machine", False),
        ("debian-7.2-tcg", "virt-7.2-machine", False),
        ("qmpserver-tcg", "none-machine", False),
    ],
)
def test_qom_list_properties_overlay(profile, typename, present):
    props = q(profile).cmd("qom-list-properties", typename=typename)
    names = [p["name"] for p in props]
    assert ("mte-version" in names) is present
    if present:
        assert names.index("mte-version") == names.index("mte") + 1
        p = props[names.index("mte-version")]
        assert p == {"name": "mte-version", "type": "string", "description": mte.DESCRIPTION}
        assert names.index("gic-version") > 0


def test_command_line_options_overlay():
    c = q("qmpserver-tcg")
    machine = [o for o in c.cmd("query-command-line-options") if o["option"] == "machine"][0]
    names = [p["name"] for p in machine["parameters"]]
    assert names.index("mte-version") == names.index("mte") + 1
    only = c.cmd("query-command-line-options", option="machine")
    assert len(only) == 1 and "mte-version" in [p["name"] for p in only[0]["parameters"]]
    assert c.send("query-command-line-options", option="nope")["error"]["desc"] == "invalid option name: nope"
    upstream = q("qemu-11.1-tcg").cmd("query-command-line-options", option="machine")
    assert "mte-version" not in [p["name"] for p in upstream[0]["parameters"]]
    # the recording itself is never modified
    again = q("qemu-11.1-tcg").cmd("query-command-line-options", option="machine")
    assert again == upstream


def test_introspection_lists_the_command_only_with_the_proposal():
    def has(profile):
        c = q(profile)
        schema = c.cmd("query-qmp-schema")
        return (
            "query-mte-capabilities" in [x["name"] for x in c.cmd("query-commands")],
            any(e["name"] == "query-mte-capabilities" for e in schema),
        )

    assert has("qmpserver-tcg") == (True, True)
    assert has("qemu-11.1-tcg") == (False, False)
    assert has("debian-7.2-tcg") == (False, False)


# --- machine commands ----------------------------------------------------------------------


def test_hotpluggable_cpus_texts():
    assert (
        q("debian-7.2-tcg").send("query-hotpluggable-cpus")["error"]["desc"]
        == "The feature 'query-hotpluggable-cpus' is not enabled"
    )
    assert (
        q("qemu-11.1-tcg").send("query-hotpluggable-cpus")["error"]["desc"]
        == "machine does not support hot-plugging CPUs"
    )


def test_cpus_fast_shape_follows_the_schema():
    old = q("debian-7.2-tcg", smp={"cpus": 4, "cores": 2, "sockets": 2}).cmd("query-cpus-fast")
    assert [e["props"] for e in old] == [
        {"socket-id": s, "cluster-id": 0, "core-id": c, "thread-id": 0} for s in (0, 1) for c in (0, 1)
    ]
    assert all("qom-type" not in e for e in old)
    assert [e["qom-path"] for e in old] == ["/machine/unattached/device[%d]" % i for i in range(4)]
    new = q("qemu-11.1-tcg").cmd("query-cpus-fast")
    assert new[0]["qom-type"] == "max-arm-cpu" and new[0]["target"] == "aarch64"
    assert sorted(new[0]) == sorted(["cpu-index", "qom-type", "qom-path", "thread-id", "props", "target"])


def test_hmp_info_cpus_names_the_vcpu_threads_of_query_cpus_fast():
    """hmp_info_cpus (monitor/hmp-cmds.c, 7.2) prints query-cpus-fast's thread-id per vCPU, the
    monitor's current CPU (0) starred; lines end in CRLF, as the monitor writes them."""
    c = q("debian-7.2-tcg", smp={"cpus": 3})
    tids = [e["thread-id"] for e in c.cmd("query-cpus-fast")]
    text = c.cmd("human-monitor-command", **{"command-line": "info cpus"})
    assert text == "".join(
        "%s CPU #%d: thread_id=%d\r\n" % ("*" if i == 0 else " ", i, t) for i, t in enumerate(tids)
    )
    assert len(set(tids)) == 3


def test_memory_and_current_machine():
    c = q("qemu-11.1-tcg", memory=256 << 20)
    assert c.cmd("query-memory-size-summary") == {"base-memory": 256 << 20, "plugged-memory": 0}
    assert c.cmd("query-current-machine") == {"wakeup-suspend-support": False}


def test_query_machines_is_the_recording():
    c = q("qemu-11.1-tcg")
    virt11 = [m for m in c.cmd("query-machines") if m["name"] == "virt-11.1"][0]
    assert virt11["alias"] == "virt" and virt11["cpu-max"] == 512


# --- memory hotplug (for device_add) -------------------------------------------------------


@pytest.mark.parametrize(
    "profile,machine,accel,cpu,want",
    [
        ("qmpserver-tcg", "virt", "tcg", "max", "memory hotplug is not enabled: missing acpi-ged device"),
        ("qmpserver-tcg", "virt,firmware=QEMU_EFI.fd", "tcg", "max", None),
        (
            "qmpserver-tcg",
            "virt,firmware=QEMU_EFI.fd,mte-version=3",
            "tcg",
            "max",
            "memory hotplug is not enabled: MTE is enabled",
        ),
        (
            "qmpserver-tcg",
            "virt,pflash0=fw,acpi=off,mte-version=3",
            "tcg",
            "max",
            "memory hotplug is not enabled: missing acpi-ged device",
        ),
        ("default", "virt,pflash0=fw,mte=on", "kvm", "host", "memory hotplug is not enabled: MTE is enabled"),
        (
            "qemu-11.1-tcg",
            "virt,firmware=x,mte=on",
            "tcg",
            "max",
            "memory hotplug is not enabled: MTE is enabled",
        ),
    ],
)
def test_memory_hotplug_verdict(profile, machine, accel, cpu, want):
    inst = start(profile, machine, accel, cpu)
    assert machine_cmds.memory_hotplug_error(inst) == want
    assert machine_cmds.memory_hotplug_allowed(inst) is (want is None)
    if want:
        with pytest.raises(Exception) as e:
            machine_cmds.check_memory_hotplug(inst)
        assert e.value.desc == want


def test_non_virt_machines_are_left_alone():
    inst = start("qemu-11.1-tcg", "none", "tcg", None)
    assert not isinstance(inst, StartupError)
    assert virt.memory_hotplug_error(inst) is None
    assert inst.board is None


def test_unrecorded_virt_versions_have_virt_machine_properties():
    c = q("qmpserver-tcg", "virt-10.0,highmem-redists=off,mte-version=2", "tcg")
    assert c.cmd("qom-get", path="/machine", property="mte-version") == "2"
    names = [p["name"] for p in c.cmd("qom-list-properties", typename="virt-10.0-machine")]
    assert "highmem-redists" in names and names.index("mte-version") == names.index("mte") + 1
    assert c.send("qom-list-properties", typename="virt-99.0-machine")["error"]["class"] == "DeviceNotFound"
    e = start("qmpserver-tcg", "virt-10.0,nope=1", "tcg", "max")
    assert e.message == "Property 'virt-10.0-machine.nope' not found"


def test_pre_6_0_required_members_are_given():
    """QEMU before 6.0 requires CpuInfoFast 'arch' (CpuInfoArch of the target) and 6.0 alone
    requires MigrationInfo 'blocked': the handlers give both, the build's schema keeps them only
    where it has them (libvirt 9.0's 4.2 .. 6.0 recordings; tests/conformance)."""
    from types import SimpleNamespace

    from qmpserver.commands import migration as migration_cmds

    c = q("debian-7.2-tcg", smp={"cpus": 2})
    ctx = SimpleNamespace(instance=c.instance)
    raw = machine_cmds.query_cpus_fast(ctx, {})
    assert [(e["arch"], e["target"]) for e in raw] == [("other", "aarch64")] * 2
    assert list(raw[0])[-2:] == ["arch", "target"]
    assert all("arch" not in e for e in c.cmd("query-cpus-fast"))  # 7.2's schema has no 'arch'
    assert migration_cmds.query_migrate(ctx, {})["blocked"] is False
    assert "blocked" not in c.cmd("query-migrate")
    assert machine_cmds.CPUINFO_ARCH["x86_64"] == "x86" and "aarch64" not in machine_cmds.CPUINFO_ARCH
