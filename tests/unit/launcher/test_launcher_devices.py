"""commands/{device,netdev,fd,display,balloon}.py, vm/smp.py and -boot, sans-IO on an in-process instance."""

from __future__ import annotations

import json
import time

import pytest

from qmpserver.commands import device, netdev
from qmpserver.commands.registry import load_all
from qmpserver.errors import QMPError
from qmpserver.profiles.loader import load_profile
from qmpserver.qapi.opts import parse_boot
from qmpserver.qmp.session import Session
from qmpserver.startup import start
from qmpserver.vm import smp as vm_smp
from qmpserver.vm.config import InstanceConfig


class Harness:
    def __init__(self, profile="debian-7.2-tcg", **cfg):
        load_all()
        cfg.setdefault("machine", {"type": "virt"})
        cfg.setdefault("accel", ["tcg"])
        cfg.setdefault("cpu", "max")
        self.inst = start(load_profile(profile), InstanceConfig(**cfg))
        self.mon = self.inst.add_monitor()
        self.s = Session(self.mon)
        self.s.connect()
        self.events = []
        assert self.cmd("qmp_capabilities") == {"return": {}}

    def _drain(self):
        out = []
        for line in self.s.take_output().split(b"\r\n"):
            if line:
                out.append(json.loads(line))
        return out

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        self.s.receive_data((json.dumps(msg) + "\r\n").encode())
        self.s.pump()
        reply = None
        for m in self._drain():
            if "event" in m:
                self.events.append(m)
            else:
                reply = m
        return reply

    def run_timers(self, seconds=1.0):
        self.inst.scheduler.run_due(time.monotonic() + seconds)
        for m in self._drain():
            if "event" in m:
                self.events.append(m)

    def event_names(self):
        return [e["event"] for e in self.events]


@pytest.fixture
def h():
    return Harness()


def err(reply):
    return reply["error"]["class"], reply["error"]["desc"]


def test_device_add_lists_under_peripheral_and_del_emits_device_deleted(h):
    # a root port from the command line (cold plug); hotplug goes below it
    device.add_device(h.inst, {"driver": "pcie-root-port", "id": "rp1", "chassis": "1"}, cli=True)
    assert err(h.cmd("device_add", {"driver": "pcie-root-port", "id": "rp2", "chassis": 2})) == (
        "GenericError",
        "Bus 'pcie.0' does not support hotplugging",
    )
    assert h.cmd("device_add", {"driver": "virtio-rng-pci", "id": "rng0", "bus": "rp1"}) == {"return": {}}
    names = [p["name"] for p in h.cmd("qom-list", {"path": "/machine/peripheral"})["return"]]
    assert "rng0" in names and "rp1" in names
    assert (
        h.cmd("qom-get", {"path": "/machine/peripheral/rng0", "property": "type"})["return"]
        == "virtio-rng-pci"
    )
    assert err(h.cmd("device_add", {"driver": "virtio-rng-pci", "id": "rng0", "bus": "rp1"})) == (
        "GenericError",
        "Duplicate ID 'rng0' for device",
    )
    h.cmd("cont")
    assert h.cmd("device_del", {"id": "rng0"}) == {"return": {}}
    assert err(h.cmd("device_del", {"id": "rng0"})) == (
        "GenericError",
        "Device rng0 is already in the process of unplug",
    )
    h.run_timers()
    deleted = [e["data"] for e in h.events if e["event"] == "DEVICE_DELETED"]
    assert deleted == [
        {"path": "/machine/peripheral/rng0/virtio-backend"},
        {"device": "rng0", "path": "/machine/peripheral/rng0"},
    ]
    assert err(h.cmd("device_del", {"id": "rng0"})) == ("DeviceNotFound", "Device 'rng0' not found")


def test_device_add_errors_in_qemu_order(h):
    assert err(h.cmd("device_add", {"driver": "nosuch"})) == (
        "GenericError",
        "'nosuch' is not a valid device model name",
    )
    assert err(h.cmd("device_add", {"driver": "virtio-pci"})) == (
        "GenericError",
        "Parameter 'driver' expects a non-abstract device type",
    )
    assert err(h.cmd("device_add", {"driver": "pl011"})) == (
        "GenericError",
        "Parameter 'driver' expects a pluggable device type",
    )
    assert err(h.cmd("device_add", {"driver": "usb-tablet"})) == (
        "GenericError",
        "No 'usb-bus' bus found for device 'usb-tablet'",
    )
    assert err(h.cmd("device_add", {"driver": "virtio-net-pci", "bus": "pci.9"})) == (
        "GenericError",
        "Bus 'pci.9' not found",
    )
    device.add_device(h.inst, {"driver": "pcie-root-port", "id": "rp1", "chassis": "1"}, cli=True)
    assert err(h.cmd("device_add", {"driver": "virtio-net-pci", "bus": "rp1", "foo": "bar"})) == (
        "GenericError",
        "Property 'virtio-net-pci.foo' not found",
    )
    assert err(h.cmd("device_add", {"driver": "virtio-net-pci", "bus": "rp1", "netdev": "nosuch"})) == (
        "GenericError",
        "Property 'virtio-net-device.netdev' can't find value 'nosuch'",
    )
    assert err(h.cmd("device_add", {"driver": "virtio-blk-pci", "bus": "rp1"})) == (
        "GenericError",
        "drive property not set",
    )


def test_device_on_root_bus_cannot_be_unplugged(h):
    device.add_device(h.inst, {"driver": "virtio-rng-pci", "id": "r0"}, cli=True)
    assert err(h.cmd("device_add", {"driver": "virtio-rng-pci", "id": "r1"})) == (
        "GenericError",
        "Bus 'pcie.0' does not support hotplugging",
    )
    assert err(h.cmd("device_del", {"id": "r0"})) == (
        "GenericError",
        "Bus 'pcie.0' does not support hotplugging",
    )


def test_netdev_and_nic(h):
    assert h.cmd("netdev_add", {"type": "user", "id": "n1"}) == {"return": {}}
    assert err(h.cmd("netdev_add", {"type": "user", "id": "n1"})) == (
        "GenericError",
        "Duplicate ID 'n1' for netdev",
    )
    assert netdev.net_check_clients(h.inst) == ["netdev n1 has no peer"]
    for i in (1, 2):
        device.add_device(h.inst, {"driver": "pcie-root-port", "id": "rp%d" % i, "chassis": str(i)}, cli=True)
    assert h.cmd("device_add", {"driver": "virtio-net-pci", "netdev": "n1", "id": "net0", "bus": "rp1"}) == {
        "return": {}
    }
    assert err(
        h.cmd("device_add", {"driver": "virtio-net-pci", "netdev": "n1", "id": "net1", "bus": "rp2"})
    ) == ("GenericError", "Property 'virtio-net-device.netdev' can't take value 'n1', it's in use")
    assert netdev.net_check_clients(h.inst) == []
    assert h.cmd("set_link", {"name": "net0", "up": False}) == {"return": {}}
    assert h.cmd("netdev_del", {"id": "n1"}) == {"return": {}}
    assert err(h.cmd("netdev_del", {"id": "n1"})) == ("DeviceNotFound", "Device 'n1' not found")


def test_objects_iothreads_memdev(h):
    assert h.cmd("object-add", {"qom-type": "iothread", "id": "io1"}) == {"return": {}}
    assert h.cmd("object-add", {"qom-type": "iothread", "id": "io2"}) == {"return": {}}
    assert err(h.cmd("object-add", {"qom-type": "iothread", "id": "io1"})) == (
        "GenericError",
        "attempt to add duplicate property 'io1' to object (type 'container')",
    )
    threads = h.cmd("query-iothreads")["return"]
    assert sorted(t["id"] for t in threads) == ["io1", "io2"]
    assert set(threads[0]) == {"id", "thread-id", "poll-max-ns", "poll-grow", "poll-shrink", "aio-max-batch"}
    assert threads[0]["poll-max-ns"] == 32768
    assert h.cmd("query-memdev")["return"] == [
        {
            "id": "mach-virt.ram",
            "size": 134217728,
            "merge": True,
            "dump": True,
            "prealloc": False,
            "share": False,
            "reserve": True,
            "host-nodes": [],
            "policy": "default",
        }
    ]
    assert h.cmd("object-del", {"id": "io1"}) == {"return": {}}
    assert err(h.cmd("object-del", {"id": "io1"})) == ("GenericError", "object 'io1' not found")
    assert h.cmd("qom-list", {"path": "/objects"})["return"][0] == {"name": "type", "type": "string"}


def test_blockdev_nodes_and_query_block(h):
    assert h.cmd("query-named-block-nodes", {"flat": True}) == {"return": []}
    assert h.cmd("blockdev-add", {"driver": "null-co", "node-name": "disk0"}) == {"return": {}}
    assert err(h.cmd("blockdev-add", {"driver": "null-co", "node-name": "disk0"})) == (
        "GenericError",
        "Duplicate nodes with node-name='disk0'",
    )
    nodes = h.cmd("query-named-block-nodes", {"flat": True})["return"]
    assert [n["node-name"] for n in nodes] == ["disk0"]
    assert nodes[0]["drv"] == "null-co" and nodes[0]["image"]["virtual-size"] == 1 << 30
    device.add_device(h.inst, {"driver": "pcie-root-port", "id": "rp1", "chassis": "1"}, cli=True)
    assert h.cmd("device_add", {"driver": "virtio-blk-pci", "drive": "disk0", "id": "vd0", "bus": "rp1"}) == {
        "return": {}
    }
    blk = h.cmd("query-block")["return"]
    assert blk[0]["qdev"] == "/machine/peripheral/vd0/virtio-backend"
    assert blk[0]["inserted"]["node-name"] == "disk0"
    assert err(h.cmd("blockdev-del", {"node-name": "disk0"})) == ("GenericError", "Node disk0 is in use")
    assert err(h.cmd("blockdev-del", {"node-name": "nope"})) == (
        "GenericError",
        "Failed to find node with node-name='nope'",
    )


@pytest.mark.parametrize("profile", ["debian-7.2-tcg", "qemu-11.1-tcg"])
def test_block_nodes_children_and_active_follow_the_build(profile):
    """11.x's BlockDeviceInfo requires ``children`` and ``active`` (libvirt 9.0 starting a
    domain with a disk on an 11.1 profile failed on the missing member); 7.2's has neither."""
    h = Harness(profile)
    for opts in (
        {"driver": "file", "node-name": "f1", "filename": "/nonexistent/base.qcow2"},
        {"driver": "qcow2", "node-name": "q1", "file": "f1"},
        {"driver": "file", "node-name": "f2", "filename": "/nonexistent/top.qcow2"},
        {"driver": "qcow2", "node-name": "q2", "file": "f2", "backing": "q1"},
    ):
        assert h.cmd("blockdev-add", opts) == {"return": {}}
    nodes = {n["node-name"]: n for n in h.cmd("query-named-block-nodes")["return"]}
    if profile == "debian-7.2-tcg":
        assert not any("children" in n or "active" in n for n in nodes.values())
        return
    assert nodes["q2"]["children"] == [
        {"child": "backing", "node-name": "q1"},
        {"child": "file", "node-name": "f2"},
    ]
    assert nodes["q1"]["children"] == [{"child": "file", "node-name": "f1"}]
    assert nodes["f1"]["children"] == [] and all(n["active"] for n in nodes.values())
    device.add_device(h.inst, {"driver": "pcie-root-port", "id": "rp1", "chassis": "1"}, cli=True)
    assert h.cmd("device_add", {"driver": "virtio-blk-pci", "drive": "q2", "id": "vd0", "bus": "rp1"}) == {
        "return": {}
    }
    (blk,) = h.cmd("query-block")["return"]
    assert blk["inserted"]["children"] == nodes["q2"]["children"] and blk["inserted"]["active"] is True


def test_chardevs(h):
    assert h.cmd("query-chardev") == {"return": []}
    r = h.cmd("chardev-add", {"id": "c1", "backend": {"type": "null", "data": {}}})
    assert r == {"return": {}}
    assert err(h.cmd("chardev-add", {"id": "c1", "backend": {"type": "null", "data": {}}})) == (
        "GenericError",
        "Chardev 'c1' already exists",
    )
    assert h.cmd("query-chardev")["return"] == [{"frontend-open": False, "filename": "null", "label": "c1"}]
    assert h.cmd("chardev-remove", {"id": "c1"}) == {"return": {}}
    assert err(h.cmd("chardev-remove", {"id": "c1"})) == ("GenericError", "Chardev 'c1' not found")


def test_fds_and_display(h):
    assert err(h.cmd("getfd", {"fdname": "x"})) == (
        "GenericError",
        "No file descriptor supplied via SCM_RIGHTS",
    )
    assert err(h.cmd("closefd", {"fdname": "x"})) == ("GenericError", "File descriptor named 'x' not found")
    assert h.cmd("query-fdsets") == {"return": []}
    assert h.cmd("query-display-options") == {"return": {"type": "none"}}
    assert err(h.cmd("set_password", {"protocol": "vnc", "password": "x"})) == (
        "GenericError",
        "Could not set password",
    )


def test_query_cpus_fast_follows_smp():
    h = Harness(
        smp=vm_smp.parse_smp(
            {"name": "virt-7.2", "cpu-max": 512}, {"cpus": "4", "sockets": "1", "clusters": "2", "cores": "2"}
        )
    )
    cpus = h.cmd("query-cpus-fast")["return"]
    assert [c["cpu-index"] for c in cpus] == [0, 1, 2, 3]
    assert [c["qom-path"] for c in cpus] == ["/machine/unattached/device[%d]" % i for i in range(4)]
    assert [c["props"] for c in cpus] == [
        {"socket-id": 0, "cluster-id": 0, "core-id": 0, "thread-id": 0},
        {"socket-id": 0, "cluster-id": 0, "core-id": 1, "thread-id": 0},
        {"socket-id": 0, "cluster-id": 1, "core-id": 0, "thread-id": 0},
        {"socket-id": 0, "cluster-id": 1, "core-id": 1, "thread-id": 0},
    ]
    assert all(c["target"] == "aarch64" for c in cpus)
    assert len({c["thread-id"] for c in cpus}) == 4


def test_memory_summary_and_balloon(h):
    assert h.cmd("query-memory-size-summary")["return"] == {"base-memory": 128 << 20, "plugged-memory": 0}
    assert err(h.cmd("query-balloon")) == ("DeviceNotActive", "No balloon device has been activated")


# --- -smp and -boot (machine-smp.c / BootConfiguration) ------------------------------------

VIRT = {"name": "virt-7.2", "cpu-max": 512}


@pytest.mark.parametrize(
    "smp,expected",
    [
        ({}, (1, 1, 1, 1, 1, 1)),
        ({"cpus": "4"}, (4, 1, 1, 4, 1, 4)),
        ({"cpus": "8", "sockets": "2"}, (8, 2, 1, 4, 1, 8)),
        ({"sockets": "2", "cores": "2", "threads": "2"}, (8, 2, 1, 2, 2, 8)),
        ({"cpus": "2", "maxcpus": "8"}, (2, 1, 1, 8, 1, 8)),
        ({"cpus": "4", "clusters": "2"}, (4, 1, 2, 2, 1, 4)),
    ],
)
def test_parse_smp_completes_topology(smp, expected):
    r = vm_smp.parse_smp(VIRT, smp)
    assert (r["cpus"], r["sockets"], r["clusters"], r["cores"], r["threads"], r["maxcpus"]) == expected


@pytest.mark.parametrize(
    "smp,text",
    [
        ({"cpus": "abc"}, "Parameter 'smp.cpus' expects integer"),
        ({"foo": "1"}, "Parameter 'smp.foo' is unexpected"),
        (
            {"cpus": "1", "sockets": "2"},
            "Invalid CPU topology: product of the hierarchy must match maxcpus: "
            "sockets (2) * clusters (1) * cores (0) * threads (1) != maxcpus (1)",
        ),
        (
            {"cpus": "4", "maxcpus": "2"},
            "Invalid CPU topology: maxcpus must be equal to or greater than smp: "
            "sockets (1) * clusters (1) * cores (2) * threads (1) == maxcpus (2) "
            "< smp_cpus (4)",
        ),
        ({"cpus": "4", "dies": "2"}, "dies not supported by this machine's CPU topology"),
        ({"cpus": "600"}, "Invalid SMP CPUs 600. The max CPUs supported by machine 'virt-7.2' is 512"),
    ],
)
def test_parse_smp_errors(smp, text):
    with pytest.raises(QMPError) as e:
        vm_smp.parse_smp(VIRT, smp)
    assert e.value.desc == text


def test_parse_smp_zero_warns():
    warnings = []
    vm_smp.parse_smp(VIRT, {"cpus": "0"}, warn=warnings.append)
    assert warnings == [
        "Deprecated CPU topology (considered invalid): CPU topology parameters must be greater than zero"
    ]


def test_parse_boot():
    assert parse_boot({"strict": "on", "order": "c", "splash-time": "5"}) == {
        "strict": True,
        "order": "c",
        "splash-time": 5,
    }
    with pytest.raises(QMPError) as e:
        parse_boot({"strict": "maybe"})
    assert e.value.desc == "Parameter 'boot.strict' expects 'on' or 'off'"
    with pytest.raises(QMPError) as e:
        parse_boot({"foo": "1"})
    assert e.value.desc == "Parameter 'boot.foo' is unexpected"
