"""Differential conformance for the x86_64 CPU commands (issue 11): the same bytes to a real
``qemu-system-x86_64`` (``-machine none``, KVM when /dev/kvm is usable, and TCG) and to qmpserver
on the profile captured from it; replies must be byte-identical.  Two builds: Debian's 7.2 (the
system's binary, ``qemu-7.2-debian-x86_64``) and Debian's 10.0 from bookworm-backports
(``tests.support.peers.need_qemu10``, ``qemu-10.0-debian-x86_64``), each with its own rules file.

Named models do not depend on the host (an expansion does not filter features), so they are
compared on any machine.  ``host`` and ``max`` under KVM are the capturing machine's: they are
compared only when the live binary's ``host`` expansion equals the recorded one (the same host),
and elsewhere (and the KVM named models on a machine of another vendor) against a profile of
THIS machine recorded for the session (``tests/support/livehost.py``), so that the KVM half
runs on any machine with /dev/kvm.  Nothing is recaptured here: the model answers from the
committed capture and ``models/x86_64/cpu-rules-<version>.yaml``; the full case sweep is
``bench/bench_x86_cpu_sweep.py``.
"""

from __future__ import annotations

import json
import os

import pytest

from qmpserver.vm.config import InstanceConfig
from tests.support.client import RawClient
from tests.support.livehost import live_profiles
from tests.support.mock import MockServer
from tests.support.peers import REQUIRE, RealQemu, need_binary, need_qemu10

PROFILE = "qemu-7.2-debian-x86_64"
PROFILE_10 = "qemu-10.0-debian-x86_64"
# profile -> the real binary it was captured from
BINARIES = {PROFILE: lambda: need_binary("qemu-system-x86_64"), PROFILE_10: lambda: need_qemu10("x86_64")}
PROFILES = tuple(BINARIES)

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
# models 7.2 does not have (asked of 10.0 only): new models, their versions and aliases
MODELS_10 = [
    "SapphireRapids",
    "SapphireRapids-v3",
    "GraniteRapids",
    "GraniteRapids-v2",
    "SierraForest",
    "EPYC-Genoa",
    "EPYC-Genoa-v1",
    "EPYC-Milan-v2",
    "EPYC-Rome-v4",
    "SierraForest-v2",
    "ClearwaterForest",
    "YongFeng-v2",
    "Icelake-Server-v7",
    "EPYC-v4",
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


def live_vendor():
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    return None


def profile_vendor(profile):
    from qmpserver.profiles.loader import load_profile

    return (load_profile(profile).host.data.get("cpu") or {}).get("vendor")


def _req(kind, name, props):
    model = {"name": name}
    if props is not None:
        model["props"] = props
    return {"execute": "query-cpu-model-expansion", "arguments": {"type": kind, "model": model}}


def named_requests(profile=PROFILE):
    out = [{"execute": "query-cpu-definitions"}]
    for i, p in enumerate(PROPS):
        for m in MODELS[:7] if i < 3 else MODELS[1 + i % 6 : 3 + i % 6]:
            for kind in ("full", "static"):
                out.append(_req(kind, m, p))
    for m in MODELS[7:]:
        out.append(_req("full", m, None))
        out.append(_req("static", m, {"foo": 1}))
    if profile != PROFILE:
        for i, p in enumerate(PROPS):
            for m in MODELS_10[i % len(MODELS_10) :: 5]:
                for kind in ("full", "static"):
                    out.append(_req(kind, m, p))
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


def real(accel, profile=PROFILE):
    return RealQemu(("-S", "-nodefaults", "-machine", "none", "-accel", accel), command=[BINARIES[profile]()])


def compare(mock, accel, reqs, profile=PROFILE, spec=None):
    """Real binary of ``profile``'s build vs qmpserver on ``spec`` (default: ``profile``)."""
    with real(accel, profile) as q:
        theirs = transcript(q.path, reqs)
    _, path = mock.instance(
        spec or profile, config=InstanceConfig(accel=[accel], machine={"type": "none"}, start_paused=True)
    )
    ours = transcript(path, reqs)
    diffs = [
        "%s\n  real %s\n  ours %s" % (json.dumps(r), a[:300], b[:300])
        for r, a, b in zip(reqs, theirs, ours)
        if a != b
    ]
    return diffs, theirs


@pytest.mark.realqemu
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("accel", accels())
def test_named_models_bytes_identical(mock, accel, profile):
    if accel == "kvm" and live_vendor() != profile_vendor(profile):
        # host_cpu_instance_init: under KVM a named model takes the host's vendor, so on
        # another machine than the capture's the comparison is on this machine's profile
        named_models_live_kvm(mock, live_profiles()[1][profile], profile)
        return
    reqs = named_requests(profile)
    diffs, _ = compare(mock, accel, reqs, profile)
    if accel == "kvm":
        # query-cpu-definitions under KVM lists unavailable-features of this machine's CPU
        diffs = [d for d in diffs if not d.startswith('{"execute": "query-cpu-definitions"')]
    assert not diffs, "%d of %d replies differ:\n%s" % (len(diffs), len(reqs), "\n".join(diffs[:8]))


# What the live comparison shows qmpserver does not model (per build: the expansion property
# or unavailable feature -> why).  These are compared apart from the rest; a difference in them
# xfails the test naming them, any other difference fails it.
# 10.0 reads some host CPUID bits with the CPUID instruction itself (host_cpuid in
# kvm_arch_get_supported_cpuid: ERMS/FSRM of leaf 7, 0x80000007 EBX's overflow-recov/succor),
# which /dev/kvm's KVM_GET_SUPPORTED_CPUID (the host file) does not hold; and on an AMD host it
# reports IA32_ARCH_CAPABILITIES bits the feature-MSR data does not give.
LIVE_UNMODELLED = {
    PROFILE_10: {
        f: "10.0 takes %s from the host's own CPUID instruction, which the KVM CPUID host file does not hold"
        % f
        for f in ("erms", "fsrm", "overflow-recov", "succor")
    }
    | {
        f: "10.0's rules have no measured MSR table (its TCG gives no IA32_ARCH_CAPABILITIES warning to "
        "measure the bits with), so a host's raw feature MSRs are not read: %s is the capture host's" % f
        for f in (
            "rdctl-no",
            "ibrs-all",
            "rsba",
            "skip-l1dfl-vmentry",
            "ssb-no",
            "mds-no",
            "pschange-mc-no",
            "tsx-ctrl",
            "taa-no",
            "sbdr-ssdp-no",
            "fbsdp-no",
            "psdp-no",
            "fb-clear",
            "pbrsb-no",
            "bhi-no",
            "gds-no",
            "rfds-no",
            "rfds-clear",
        )
    },
}
LIVE_UNMODELLED_DEFS = {
    PROFILE_10: "10.0's query-cpu-definitions unavailable-features under KVM differ on this machine: erms/fsrm "
    "(host CPUID instruction), the IA32_ARCH_CAPABILITIES bits (mds-no, rdctl-no, skip-l1dfl-vmentry, "
    "pschange-mc-no, bhi-no, fbsdp-no, pbrsb-no, psdp-no, sbdr-ssdp-no) 10.0 derives on this host, and on an "
    "Intel host with CPUID leaf 0x24 GraniteRapids-v2's avx10/avx10-128/-256/-512 (10.0's AVX10 version check); "
    "under TCG the capture host's recording is replayed, though 10.0's TCG answer depends on the machine too "
    "(YongFeng's pku listed twice on the AMD capture host, once on an Intel one)",
}


def _split_known(diff_pairs, known):
    """(unexplained diffs, explained property names) of (request, real, ours) triples."""
    other, explained = [], set()
    for r, a, b in diff_pairs:
        ja, jb = json.loads(a), json.loads(b)
        pa = ((ja.get("return") or {}).get("model") or {}).get("props") or {}
        pb = ((jb.get("return") or {}).get("model") or {}).get("props") or {}
        keys = {k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k)}
        rest_a = {k: v for k, v in pa.items() if k not in known}
        rest_b = {k: v for k, v in pb.items() if k not in known}
        if keys and keys <= set(known) and rest_a == rest_b and set(ja) == set(jb):
            explained |= keys
        else:
            shown = {k: (pa.get(k), pb.get(k)) for k in sorted(keys)[:12]}
            other.append(
                "%s\n  props differing (real, ours): %s\n  real %s\n  ours %s"
                % (json.dumps(r), shown, a[:300], b[:300])
            )
    return other, explained


def compare_live(mock, reqs, profile, spec):
    with real("kvm", profile) as q:
        theirs = transcript(q.path, reqs)
    _, path = mock.instance(
        spec, config=InstanceConfig(accel=["kvm"], machine={"type": "none"}, start_paused=True)
    )
    ours = transcript(path, reqs)
    return [(r, a.decode(), b.decode()) for r, a, b in zip(reqs, theirs, ours) if a != b]


def named_models_live_kvm(mock, spec, profile):
    """Under KVM on THIS machine: qmpserver on the session's live profile ``spec`` (this
    machine's /dev/kvm data, tests/support/livehost.py, with the build under test) answers every
    named expansion and ``query-cpu-definitions`` (its ``unavailable-features`` computed from
    this machine's CPUID) as the real binary does."""
    reqs = named_requests(profile)
    pairs = compare_live(mock, reqs, profile, spec)
    defs = [p for p in pairs if p[0]["execute"] == "query-cpu-definitions"]
    other, _ = _split_known([p for p in pairs if p not in defs], {})
    assert not other, "%d of %d replies differ:\n%s" % (len(other), len(reqs), "\n".join(other[:8]))
    if defs:
        assert profile in LIVE_UNMODELLED_DEFS, "query-cpu-definitions differs:\n%s" % (defs[0],)
        pytest.xfail(LIVE_UNMODELLED_DEFS[profile])


def host_and_max_live_kvm(mock, spec, profile):
    """``host`` and ``max`` under KVM on THIS machine, against its live profile ``spec``."""
    reqs = hostmax_requests()
    known = LIVE_UNMODELLED.get(profile, {})
    other, explained = _split_known(compare_live(mock, reqs, profile, spec), known)
    assert not other, "%d of %d replies differ:\n%s" % (len(other), len(reqs), "\n".join(other[:8]))
    if explained:
        pytest.xfail("; ".join(sorted({known[k] for k in explained})))


@pytest.mark.realqemu
@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("accel", accels())
def test_host_and_max_bytes_identical(mock, accel, profile):
    reqs = hostmax_requests()
    diffs, theirs = compare(mock, accel, reqs, profile)
    if accel == "kvm" and diffs and any(d.startswith(json.dumps(reqs[0])) for d in diffs):
        # this machine's CPU is not the captured host's (KVM host/max are that host's): the
        # comparison is on this machine's profile
        host_and_max_live_kvm(mock, live_profiles()[1][profile], profile)
        return
    assert not diffs, "%d of %d replies differ:\n%s" % (len(diffs), len(reqs), "\n".join(diffs[:8]))


def recorded_pairs(accel, profile=PROFILE):
    """Every question of the committed capture answered under ``accel`` (or untagged), with the
    recorded answer (``qom-get`` of a running machine and other instance answers excluded: the
    probe conversation runs on ``-machine none``)."""
    from qmpserver.profiles.loader import load_profile
    from qmpserver.wire.encode import dumps

    build = load_profile(profile).build
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


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("accel", ["kvm", "tcg"])
def test_capture_replayed_through_the_model(mock, accel, profile):
    """The probe conversation of the capture (every recorded question of the pass, CPU
    expansions now computed by the model) gives the recorded bytes (volatile answers aside)."""
    # query-chardev: the capture's probe socket path; query-uuid: the in-process server
    # (qmpserver/serve.py) gives every instance a uuid, as libvirt's -uuid would
    volatile = {"query-chardev", "query-uuid"}
    pairs = [(r, w) for r, w in recorded_pairs(accel, profile) if r["execute"] not in volatile]
    _, path = mock.instance(
        profile, config=InstanceConfig(accel=[accel], machine={"type": "none"}, start_paused=True)
    )
    got = transcript(path, [r for r, _ in pairs])
    diffs = []
    for (r, want), line in zip(pairs, got):
        if line.decode() != want:
            diffs.append("%s\n  want %s\n  got  %s" % (json.dumps(r)[:200], want[:200], line[:200]))
    assert len(pairs) > 200
    assert not diffs, "%d of %d differ:\n%s" % (len(diffs), len(pairs), "\n".join(diffs[:8]))
