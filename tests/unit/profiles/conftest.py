"""Fixtures for the capture/import tests: the shared libvirt recordings, a fake QEMU, real peers."""

import copy
import gzip
import json
import os
import shlex
import sys

import pytest

# the helpers module next to this file, importable whatever pytest's --import-mode
if os.path.dirname(__file__) not in sys.path:
    sys.path.insert(0, os.path.dirname(__file__))
from capture_testutil import HERE, REPLIES  # noqa: E402

DATA = HERE / "data"


@pytest.fixture(scope="session")
def replies_dir(tmp_path_factory):
    """The bundled libvirt recordings (data/*.replies.gz), decompressed, original names kept."""
    d = tmp_path_factory.mktemp("libvirt-replies")
    for name in REPLIES:
        (d / name).write_bytes(gzip.decompress((DATA / f"{name}.gz").read_bytes()))
    return d


# ---- fake QEMU --------------------------------------------------------------------------------

CPU_PROPS = {
    "aarch64": True,
    "pmu": True,
    "sve": True,
    "sve128": True,
    "sve256": False,
    "pauth": True,
    "kvm-no-adjvtime": False,
    "kvm-steal-time": True,
}

BASE_CONFIG = {
    "banner": "QEMU emulator version 9.0.0 (fake)",
    "accel": {"kvm:tcg": "kvm", "tcg": "tcg"},
    "answers": {
        "query-version": {"qemu": {"micro": 0, "minor": 0, "major": 9}, "package": "fake-1"},
        "query-target": {"arch": "aarch64"},
        "query-qmp-schema": [
            {"name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "1"},
            {"name": "0", "meta-type": "object", "members": []},
            {"name": "1", "meta-type": "object", "members": []},
            {"name": "qmp_capabilities", "meta-type": "command", "arg-type": "0", "ret-type": "1"},
            {"name": "query-version", "meta-type": "command", "arg-type": "0", "ret-type": "2"},
            {
                "name": "2",
                "meta-type": "object",
                "members": [{"name": "qemu", "type": "3"}, {"name": "package", "type": "str"}],
            },
            {
                "name": "3",
                "meta-type": "object",
                "members": [{"name": n, "type": "int"} for n in ("major", "minor", "micro")],
            },
            {"name": "int", "meta-type": "builtin", "json-type": "int"},
            {"name": "str", "meta-type": "builtin", "json-type": "string"},
        ],
        "query-commands": [
            {"name": n}
            for n in (
                "qmp_capabilities",
                "query-version",
                "query-target",
                "query-qmp-schema",
                "query-commands",
                "query-kvm",
                "qom-list-types",
                "query-machines",
                "query-cpu-definitions",
                "query-cpu-model-expansion",
                "query-gic-capabilities",
                "query-status",
                "qom-get",
                "qom-list",
                "device-list-properties",
                "qom-list-properties",
                "query-tpm-models",
            )
        ],
        "qom-list-types": [
            {"name": "tcg-accel", "parent": "accel"},
            {"name": "kvm-accel", "parent": "accel"},
            {"name": "virt-9.0-machine", "parent": "virt-machine"},
            {"name": "none-machine", "parent": "machine"},
            {"name": "max-arm-cpu", "parent": "arm-cpu"},
        ],
        "query-machines": [
            {
                "name": "virt-9.0",
                "alias": "virt",
                "cpu-max": 512,
                "hotpluggable-cpus": False,
                "numa-mem-supported": True,
                "deprecated": False,
                "acpi": True,
                "default-ram-id": "mach-virt.ram",
            },
            {
                "name": "none",
                "cpu-max": 1,
                "hotpluggable-cpus": False,
                "numa-mem-supported": False,
                "deprecated": False,
                "acpi": False,
            },
        ],
        "query-cpu-definitions": [
            {"name": "max", "typename": "max-arm-cpu", "static": False, "deprecated": False},
            {"name": "host", "typename": "host-arm-cpu", "static": False, "deprecated": False},
            {"name": "cortex-a57", "typename": "cortex-a57-arm-cpu", "static": False, "deprecated": False},
        ],
        "query-gic-capabilities": [
            {"emulated": True, "version": 3, "kernel": True},
            {"emulated": True, "version": 2, "kernel": False},
        ],
        "query-tpm-models": ["tpm-tis"],
    },
    "by_arg": {
        "device-list-properties": {"virtio-blk-pci": [{"name": "drive", "type": "str"}]},
        "qom-list-properties": {
            "virt-9.0-machine": [{"name": "gic-version", "type": "string"}, {"name": "mte", "type": "bool"}],
            "none-machine": [{"name": "usb", "type": "bool"}],
            "max-arm-cpu": [{"name": "sve", "type": "bool"}],
            "host-arm-cpu": [{"name": "sve", "type": "bool"}],
            "cortex-a57-arm-cpu": [{"name": "pmu", "type": "bool"}],
        },
    },
    "expansions": {
        "host": CPU_PROPS,
        "max": {**CPU_PROPS, "sve256": True},
        "cortex-a57": {"aarch64": True, "pmu": True},
    },
    "machine_props": {"gic-version": "3", "mte": False},
}


@pytest.fixture
def fake_qemu(tmp_path):
    """Factory: fake_qemu(**overrides) -> path of an executable that behaves like QEMU."""
    count = [0]

    def make(**overrides):
        config = copy.deepcopy(BASE_CONFIG)
        for k, v in overrides.items():
            if isinstance(v, dict) and isinstance(config.get(k), dict):
                config[k].update(v)
            else:
                config[k] = v
        count[0] += 1
        d = tmp_path / f"fake{count[0]}"
        d.mkdir()
        cfg = d / "config.json"
        cfg.write_text(json.dumps(config))
        exe = d / "qemu-system-aarch64"
        exe.write_text(
            f"#!/bin/sh\nexec {shlex.quote(sys.executable)} "
            f'{shlex.quote(str(HERE / "fake_qemu.py"))} {shlex.quote(str(cfg))} "$@"\n'
        )
        exe.chmod(0o755)
        return str(exe)

    return make
