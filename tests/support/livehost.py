"""Profiles of THIS machine under KVM, for the x86_64 differential tests.

The committed x86_64 capture profiles (``qemu-7.2-debian-x86_64``, ``qemu-10.0-debian-x86_64``)
describe the machine each was captured on; on any other machine real QEMU's ``-cpu host``,
KVM-vendor named models and start-up warnings are this machine's.  :func:`live_profiles` reads
this machine's KVM facts with :mod:`qmpserver.arch.x86_64.kvmprobe` (the probe
``qmpserver profiles capture --accel kvm`` and ``tools/capture_x86_kvm_cpuid.py`` use:
KVM_GET_SUPPORTED_CPUID, the feature MSRs ... from ``/dev/kvm``) and writes, into a temporary
profile root, its CPUID file, a host file naming it (``x86_cpuid``, ``kvm`` from the same
reading, as a capture writes them) and one profile per committed build under test (a capture
would record a new build; these tests judge the committed ones):

    ROOT/x86_64/hosts/live-kvm.yaml     the probe's CPUID file
    ROOT/hosts/live-kvm.yaml            kind: host, x86_cpuid: live-kvm
    ROOT/profiles/live-kvm-<build>.yaml kind: profile, host: live-kvm, build: <build>

A profile is used by its file path (``load_profile`` then finds host and CPUID file next to it)
or by name with ``--profile-dir ROOT`` / ``QMPSERVER_PROFILE_PATH=ROOT``.  Nothing is written
under ``models/``; the root is removed when the test session ends.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import platform
import shutil
import tempfile
import time

import pytest

from qmpserver.arch.x86_64 import kvmprobe

from .peers import REQUIRE

HOST = "live-kvm"
# the builds the x86_64 differential tests run (profile name -> its build)
BUILDS = {
    "qemu-7.2-debian-x86_64": "qemu-7.2-debian-x86_64",
    "qemu-10.0-debian-x86_64": "qemu-10.0-debian-x86_64",
}


def kvm_usable() -> bool:
    return kvmprobe.unavailable() is None


def live_name(build: str) -> str:
    return "live-kvm-" + build


def write_live_root(root: str) -> dict[str, str]:
    """Capture this machine's KVM facts into ``root``; {build: profile file}."""
    cap = kvmprobe.probe()
    cpuid_file = os.path.join(root, "x86_64", "hosts", HOST + ".yaml")
    how = "qmpserver.arch.x86_64.kvmprobe (tests/support/livehost.py)"
    os.makedirs(os.path.dirname(cpuid_file), exist_ok=True)
    with open(cpuid_file, "w", encoding="utf-8") as f:
        f.write(kvmprobe.render(cap, HOST, how, "%s, %s" % (how, time.strftime("%Y-%m-%d"))))
    cpu = dict(cap.cpu, count=os.cpu_count() or 1)
    host = {
        "kind": "host",
        "name": HOST,
        "summary": "this machine under KVM (%s family %s model %s, Linux %s), recorded from /dev/kvm by "
        "tests/support/livehost.py for this test session"
        % (cpu.get("vendor"), cpu.get("family"), cpu.get("model"), cap.release),
        "arch": "x86_64",
        "targets": {"x86_64": {"accels": ["kvm", "tcg"]}},
        "cpu": cpu,
        "kernel": {"release": cap.release},
        "kvm": kvmprobe.host_kvm(cap),
        "x86_cpuid": HOST,
        "sources": {
            "refs": {
                "capture": "%s into %s, /proc/cpuinfo, uname -r, os.cpu_count(), KVM_GET_API_VERSION, on %s"
                % (how, cpuid_file, platform.node() or "?")
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
    why = kvmprobe.unavailable()
    if why:
        return "this machine has no usable /dev/kvm (x86_64): %s" % why
    root = tempfile.mkdtemp(prefix="qs-livekvm-", dir="/tmp")
    atexit.register(shutil.rmtree, root, True)
    try:
        return root, write_live_root(root)
    except (OSError, kvmprobe.KvmProbeError) as e:
        return "capturing this machine's KVM data failed: %s" % e


def live_profiles() -> tuple[str, dict[str, str]]:
    """(root, {build: profile file}) of this machine; skips (fails under
    QMPSERVER_REQUIRE_REAL_PEERS=1) where /dev/kvm is not usable."""
    got = _live_root()
    if isinstance(got, str):
        if REQUIRE:
            pytest.fail(got + " (QMPSERVER_REQUIRE_REAL_PEERS=1)")
        pytest.skip(got)
    return got
