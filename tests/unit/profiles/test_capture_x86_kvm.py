"""``qmpserver profiles capture --accel kvm`` on an x86_64 KVM machine writes a complete host
profile in one command: the build, the host, the profile and the host's KVM CPUID file
(``x86_64/hosts/<host>.yaml``, :mod:`qmpserver.arch.x86_64.kvmprobe`), so that the profile's
``host`` CPU model is computed from this machine's ``/dev/kvm`` data, not replayed.

Judged by the real binary: the captured profile's ``query-cpu-model-expansion`` of ``host``
(static and full, with the properties libvirt and clients pass) is byte-identical to Debian's
real ``qemu-system-x86_64`` 7.2 under KVM on this machine.  Needs the binary and /dev/kvm
(skips without them, fails under QMPSERVER_REQUIRE_REAL_PEERS=1); about 3 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from qmpserver.profiles.replies import HV_PROPS
from qmpserver.vm.config import InstanceConfig
from tests.support.client import RawClient
from tests.support.mock import MockServer
from tests.support.peers import RealQemu, need_binary, need_kvm

pytestmark = pytest.mark.realqemu

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NAME = "kvmcap"
# host under KVM: the expansion types and the property sets clients pass (libvirt's probe asks
# the first three; the rest exercise the computed model: migratable, a feature, an unknown one)
PROPS = [
    None,
    {"migratable": False},
    HV_PROPS,
    {"migratable": True},
    {"avx2": False},
    {"vmx": False},
    {"level": 7},
]
PROPS += [{"migratable": False, "avx2": False}, {"foo": 1}]


def _req(kind, props):
    model = {"name": "host"}
    if props is not None:
        model["props"] = props
    return {"execute": "query-cpu-model-expansion", "arguments": {"type": kind, "model": model}}


REQUESTS = [
    dict(_req(kind, p), id=i) for i, (kind, p) in enumerate((k, p) for p in PROPS for k in ("static", "full"))
]


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    binary = need_binary("qemu-system-x86_64")
    need_kvm()
    out = tmp_path_factory.mktemp("kvmcap")
    run = subprocess.run(
        [sys.executable, "-m", "qmpserver", "profiles", "capture", "--emulator", binary, "--accel", "kvm"]
        + ["-o", str(out), "--name", NAME, "-q"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return binary, out, run


def transcript(path, reqs):
    c = RawClient(path, timeout=30)
    c.negotiate()
    out = []
    for r in reqs:
        c.send(json.dumps(r))
        while True:
            line = c.read_line(timeout=30)
            assert line is not None, "no answer to %r" % (r,)
            if b'"event"' not in line:
                break
        out.append(line)
    c.close()
    return out


def test_capture_writes_the_cpuid_file_the_host_names(captured):
    _, out, run = captured
    host = yaml.safe_load((out / "hosts" / f"{NAME}.yaml").read_text())
    cpuid_path = out / "x86_64" / "hosts" / f"{NAME}.yaml"
    assert host["x86_cpuid"] == NAME and cpuid_path.is_file()
    assert "x86_cpuid: %s" % cpuid_path in run.stdout
    cpuid = yaml.safe_load(cpuid_path.read_text())
    assert cpuid["kind"] == "x86-kvm-cpuid" and cpuid["supported"] and cpuid["feature-msrs-complete"] is True
    assert cpuid["kernel"]["release"] == host["kernel"]["release"] == os.uname().release
    assert cpuid["sources"]["refs"]["capture"].startswith("qmpserver profiles capture ")
    # measured figures carry their source, none is marked synthetic
    fields = host["sources"]["fields"]
    assert fields["x86_cpuid"] == fields["kvm.caps"] == fields["kvm.api_version"] == "kvm-cpuid"
    assert "synthetic" not in json.dumps(fields)
    assert "kernel " + os.uname().release in host["sources"]["refs"]["kvm-cpuid"]
    assert host["kvm"]["api_version"] == 12 and host["kvm"]["caps"]["KVM_CAP_IRQCHIP"] == 1
    assert "x86_cpuid" not in host["sources"].get("notes", {})
    assert "CPUID data was not recorded" not in run.stderr


def test_host_expansion_equals_the_real_binary(captured):
    """The captured profile's ``host`` (computed from the CPUID file) against real 7.2 under KVM."""
    binary, out, _ = captured
    with RealQemu(("-S", "-nodefaults", "-machine", "none", "-accel", "kvm"), command=[binary]) as q:
        theirs = transcript(q.path, REQUESTS)
    with MockServer() as mock:
        _, path = mock.instance(
            str(out / "profiles" / f"{NAME}.yaml"),
            config=InstanceConfig(accel=["kvm"], machine={"type": "none"}, start_paused=True),
        )
        ours = transcript(path, REQUESTS)
    diffs = [
        "%s\n  real %s\n  ours %s" % (json.dumps(r), a[:300], b[:300])
        for r, a, b in zip(REQUESTS, theirs, ours)
        if a != b
    ]
    assert not diffs, "%d of %d replies differ:\n%s" % (len(diffs), len(REQUESTS), "\n".join(diffs[:4]))
    answers = [json.loads(a) for a in theirs]
    assert sum("return" in a for a in answers) == len(REQUESTS) - 2  # expansions, not errors
    assert len(answers[0]["return"]["model"]["props"]) > 50
