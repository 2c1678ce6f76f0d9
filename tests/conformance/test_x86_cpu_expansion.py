"""Differential conformance for the x86_64 CPU commands (issue 11): the same bytes to Debian's
real ``qemu-system-x86_64`` 7.2 (``-machine none``, KVM when /dev/kvm is usable, and TCG) and to
qmpserver on the profile captured from it (``qemu-7.2-debian-x86_64``); replies must be
byte-identical.

Named models do not depend on the host (an expansion does not filter features), so they are
compared on any machine.  ``host`` and ``max`` under KVM are the capturing machine's: they are
compared only when the live binary's ``host`` expansion equals the recorded one (the same host),
and skipped with that reason elsewhere.  Nothing is recaptured here: the model answers from the
committed capture and ``models/x86_64/cpu-rules-7.2.yaml``; the full case sweep is
``bench/x86_cpu_sweep.py``.
"""

from __future__ import annotations

import json
import os

import pytest

from qmpserver.vm.config import InstanceConfig
from tests.support.client import RawClient
from tests.support.mock import MockServer
from tests.support.peers import REQUIRE, RealQemu

PROFILE = "qemu-7.2-debian-x86_64"

MODELS = [
    "base",
    "qemu64",
    "Skylake-Client",
    "Skylake-Client-v4",
    "EPYC-Rome",
    "Cascadelake-Server-v1",
    "phenom",
    "no-such-cpu",
    "",
    "Skylake-Client-x86_64-cpu",
]
PROPS = [
    None,
    {},
    5,
    {"avx512f": True},
    {"sse4.1": False},
    {"sse4_1": False, "sse4.1": True},
    {"vmx": False},
    {"svm": True},
    {"foo": 1},
    {"avx2": 1},
    {"family": 300},
    {"family": "x"},
    {"model": 256},
    {"stepping": -1},
    {"vendor": "abc"},
    {"vendor": "AuthenticAMD"},
    {"model-id": 5},
    {"model-id": "x"},
    {"level": 3},
    {"min-level": 3},
    {"level": -1},
    {"level": "x"},
    {"xlevel": 2147483649},
    {"full-cpuid-auto-level": False, "avx512f": True},
    {"kvm": False},
    {"migratable": False},
    {"hv-passthrough": True},
    {"lm": False},
    {"xsave": False},
    {"avx-vnni": True},
    {"xstore": True},
    {"x2apic": False},
    {"foo": 1, "bar": 2, "avx2": False},
    {"vmx": True},
    {"vmx": True, "vmx-ept": False},
    {"svm": True, "npt": False},
]
HOSTMAX_PROPS = [
    None,
    {"migratable": False},
    {"migratable": True},
    {"migratable": False, "hv-passthrough": True},
    {"avx2": False},
    {"foo": 1},
    {"vmx": False},
    {"level": 7},
]


def _req(kind, name, props):
    model = {"name": name}
    if props is not None:
        model["props"] = props
    return {"execute": "query-cpu-model-expansion", "arguments": {"type": kind, "model": model}}


def named_requests():
    out = [{"execute": "query-cpu-definitions"}]
    for i, p in enumerate(PROPS):
        for m in MODELS[:7] if i < 3 else MODELS[1 + i % 6 : 3 + i % 6]:
            for kind in ("full", "static"):
                out.append(_req(kind, m, p))
    for m in MODELS[7:]:
        out.append(_req("full", m, None))
        out.append(_req("static", m, {"foo": 1}))
    return [dict(r, id=i) for i, r in enumerate(out)]


def hostmax_requests():
    out = [_req(kind, m, p) for m in ("host", "max") for p in HOSTMAX_PROPS for kind in ("full", "static")]
    return [dict(r, id=i) for i, r in enumerate(out)]


def transcript(path, reqs) -> list:
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


def accels():
    out = ["tcg"]
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        out.insert(0, "kvm")
    elif REQUIRE:
        out.insert(0, "kvm")  # CI: fail loudly rather than skip the KVM half
    return out


@pytest.fixture(scope="module")
def mock():
    with MockServer() as m:
        yield m


def real(accel):
    return RealQemu(("-S", "-nodefaults", "-machine", "none", "-accel", accel), binary="qemu-system-x86_64")


def compare(mock, accel, reqs):
    with real(accel) as q:
        theirs = transcript(q.path, reqs)
    _, path = mock.instance(
        PROFILE, config=InstanceConfig(accel=[accel], machine={"type": "none"}, start_paused=True)
    )
    ours = transcript(path, reqs)
    diffs = [
        "%s\n  real %s\n  ours %s" % (json.dumps(r), a[:300], b[:300])
        for r, a, b in zip(reqs, theirs, ours)
        if a != b
    ]
    return diffs, theirs


@pytest.mark.realqemu
@pytest.mark.parametrize("accel", accels())
def test_named_models_bytes_identical(mock, accel):
    reqs = named_requests()
    diffs, _ = compare(mock, accel, reqs)
    if accel == "kvm":
        # query-cpu-definitions under KVM lists unavailable-features of this machine's CPU
        diffs = [d for d in diffs if not d.startswith('{"execute": "query-cpu-definitions"')]
    assert not diffs, "%d of %d replies differ:\n%s" % (len(diffs), len(reqs), "\n".join(diffs[:8]))


@pytest.mark.realqemu
@pytest.mark.parametrize("accel", accels())
def test_host_and_max_bytes_identical(mock, accel):
    reqs = hostmax_requests()
    diffs, theirs = compare(mock, accel, reqs)
    if accel == "kvm" and diffs and any(d.startswith(json.dumps(reqs[0])) for d in diffs):
        pytest.skip("this machine's CPU is not the captured host's: KVM host/max are that host's")
    assert not diffs, "%d of %d replies differ:\n%s" % (len(diffs), len(reqs), "\n".join(diffs[:8]))


def recorded_pairs(accel):
    """Every question of the committed capture answered under ``accel`` (or untagged), with the
    recorded answer (``qom-get`` of a running machine and other instance answers excluded: the
    probe conversation runs on ``-machine none``)."""
    from qmpserver.profiles.loader import load_profile
    from qmpserver.wire.encode import dumps

    build = load_profile(PROFILE).build
    out = []
    for by_accel in build._replies.values():
        e = by_accel.get(accel) or by_accel.get(None)
        if e is None:
            continue
        req = {"execute": e["execute"]}
        if "arguments" in e:
            req["arguments"] = e["arguments"]
        want = {k: e[k] for k in ("return", "error") if k in e}
        out.append((req, dumps(want)))
    return out


@pytest.mark.parametrize("accel", ["kvm", "tcg"])
def test_capture_replayed_through_the_model(mock, accel):
    """The probe conversation of the capture (every recorded question of the pass, CPU
    expansions now computed by the model) gives the recorded bytes (volatile answers aside)."""
    # query-chardev: the capture's probe socket path; query-uuid: the in-process server
    # (qmpserver/serve.py) gives every instance a uuid, as libvirt's -uuid would
    volatile = {"query-chardev", "query-uuid"}
    pairs = [(r, w) for r, w in recorded_pairs(accel) if r["execute"] not in volatile]
    _, path = mock.instance(
        PROFILE, config=InstanceConfig(accel=[accel], machine={"type": "none"}, start_paused=True)
    )
    got = transcript(path, [r for r, _ in pairs])
    diffs = []
    for (r, want), line in zip(pairs, got):
        if line.decode() != want:
            diffs.append("%s\n  want %s\n  got  %s" % (json.dumps(r)[:200], want[:200], line[:200]))
    assert len(pairs) > 200
    assert not diffs, "%d of %d differ:\n%s" % (len(diffs), len(pairs), "\n".join(diffs[:8]))
