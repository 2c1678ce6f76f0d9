"""Profiles of THIS machine under KVM, for the x86_64 differential tests.

The committed x86_64 capture profiles (``qemu-7.2-debian-x86_64``, ``qemu-10.0-debian-x86_64``)
describe the machine each was captured on; on any other machine real QEMU's ``-cpu host``,
KVM-vendor named models and start-up warnings are this machine's.  :func:`live_profiles` records
this machine's KVM facts the way ``models/x86_64/hosts/capture-amd-epyc-6.18.yaml`` was recorded
(``tools/capture_x86_kvm_cpuid.py``: KVM_GET_SUPPORTED_CPUID, the feature MSRs ... from
``/dev/kvm``), writes a host file naming them (the layout of
``models/hosts/x86-capture-amd-epyc-6.18.yaml``) and one profile per build under test (the
layout of ``models/profiles/x86-capture-amd-epyc-6.18.yaml``) into a temporary profile root:

    ROOT/x86_64/hosts/live-kvm.yaml     the tool's output
    ROOT/hosts/live-kvm.yaml            kind: host, x86_cpuid: live-kvm
    ROOT/profiles/live-kvm-<build>.yaml kind: profile, host: live-kvm, build: <build>

A profile is used by its file path (``load_profile`` then finds host and CPUID file next to it)
or by name with ``--profile-dir ROOT`` / ``QMPSERVER_PROFILE_PATH=ROOT``.  Nothing is written
under ``models/``; the root is removed when the test session ends.
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import pytest

from .peers import REQUIRE

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, "tools", "capture_x86_kvm_cpuid.py")
HOST = "live-kvm"
# the builds the x86_64 differential tests run (profile name -> its build)
BUILDS = {
    "qemu-7.2-debian-x86_64": "qemu-7.2-debian-x86_64",
    "qemu-10.0-debian-x86_64": "qemu-10.0-debian-x86_64",
}
KVM_GET_API_VERSION = 0xAE00  # _IO(KVMIO, 0x00)
# the caps the host files of models/hosts carry (the tool also records KVM_CAP_X86_DISABLE_EXITS)
HOST_CAPS = ("KVM_CAP_IRQCHIP", "KVM_CAP_TSC_DEADLINE_TIMER", "KVM_CAP_SPLIT_IRQCHIP", "KVM_CAP_X2APIC_API")


def kvm_usable() -> bool:
    return platform.machine() == "x86_64" and os.access("/dev/kvm", os.R_OK | os.W_OK)


def live_name(build: str) -> str:
    return "live-kvm-" + build


def _api_version() -> int:
    fd = os.open("/dev/kvm", os.O_RDWR)
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION, 0)
    finally:
        os.close(fd)


def write_live_root(root: str) -> dict[str, str]:
    """Capture this machine's KVM facts into ``root``; {build: profile file}."""
    cpuid_file = os.path.join(root, "x86_64", "hosts", HOST + ".yaml")
    subprocess.run(
        [sys.executable, TOOL, "-o", cpuid_file, "--name", HOST], check=True, capture_output=True, text=True
    )
    import yaml

    with open(cpuid_file, encoding="utf-8") as f:
        cap = yaml.safe_load(f)
    cpu = dict(cap["cpu"], count=os.cpu_count() or 1)
    host = {
        "kind": "host",
        "name": HOST,
        "summary": "this machine under KVM (%s family %s model %s, Linux %s), recorded from /dev/kvm by "
        "tests/support/livehost.py for this test session"
        % (cpu.get("vendor"), cpu.get("family"), cpu.get("model"), cap["kernel"]["release"]),
        "arch": "x86_64",
        "targets": {"x86_64": {"accels": ["kvm", "tcg"]}},
        "cpu": cpu,
        "kernel": cap["kernel"],
        "kvm": {
            "present": True,
            "api_version": _api_version(),
            "caps": {k: cap["kvm-caps"][k] for k in HOST_CAPS if k in cap["kvm-caps"]},
        },
        "x86_cpuid": HOST,
        "sources": {
            "refs": {
                "capture": "python3 tools/capture_x86_kvm_cpuid.py -o %s --name %s (tests/support/livehost.py), "
                "/proc/cpuinfo, uname -r, os.cpu_count(), KVM_GET_API_VERSION" % (cpuid_file, HOST)
            },
            "fields": {"cpu": "capture", "kernel": "capture", "kvm": "capture", "x86_cpuid": "capture"},
        },
    }
    os.makedirs(os.path.join(root, "hosts"), exist_ok=True)
    os.makedirs(os.path.join(root, "profiles"), exist_ok=True)
    with open(os.path.join(root, "hosts", HOST + ".yaml"), "w", encoding="utf-8") as f:
        json.dump(host, f, indent=1)  # JSON is YAML
    out = {}
    for build in BUILDS.values():
        prof = {
            "kind": "profile",
            "name": live_name(build),
            "summary": "%s under KVM on this machine (%s)" % (build, host["summary"]),
            "host": HOST,
            "build": build,
            "defaults": {"accel": "kvm", "machine": "pc", "cpu": "host"},
        }
        path = os.path.join(root, "profiles", live_name(build) + ".yaml")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(prof, f, indent=1)
        out[build] = path
    return out


@functools.lru_cache(maxsize=1)
def _live_root() -> tuple[str, dict[str, str]] | str:
    if not kvm_usable():
        return "this machine has no usable /dev/kvm (x86_64)"
    root = tempfile.mkdtemp(prefix="qs-livekvm-", dir="/tmp")
    atexit.register(shutil.rmtree, root, True)
    try:
        return root, write_live_root(root)
    except (OSError, subprocess.CalledProcessError) as e:
        return "capturing this machine's KVM data failed: %s" % (getattr(e, "stderr", None) or e)


def live_profiles() -> tuple[str, dict[str, str]]:
    """(root, {build: profile file}) of this machine; skips (fails under
    QMPSERVER_REQUIRE_REAL_PEERS=1) where /dev/kvm is not usable."""
    got = _live_root()
    if isinstance(got, str):
        if REQUIRE:
            pytest.fail(got + " (QMPSERVER_REQUIRE_REAL_PEERS=1)")
        pytest.skip(got)
    return got
