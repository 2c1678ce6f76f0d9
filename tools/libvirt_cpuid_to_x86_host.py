#!/usr/bin/env python3
"""Turn one CPU of libvirt's ``tests/cputestdata`` into a qmpserver x86 KVM host.

libvirt keeps, per real machine, ``x86_64-cpuid-<CPU>.xml`` (the raw CPUID leaves and
feature MSRs that ``cpu-data.py`` read on that host) and ``x86_64-cpuid-<CPU>.json`` (the QEMU
of that machine answering ``query-cpu-model-expansion`` of ``host`` under KVM, and for newer
files ``query-cpu-definitions``).  Neither is ``KVM_GET_SUPPORTED_CPUID``: the raw leaves are
the *host's*, the expansion is what *that* QEMU and kernel made of them.  So the KVM leaves
written here are derived, and every derived bit is listed in the output's ``derived`` block
with its rule:

* ``from-expansion``: a feature QEMU 7.2 knows (``cpuid`` table of
  ``models/x86_64/cpu-rules-7.2.yaml``) that the expansion names takes the expansion's value
  (KVM reported it to that QEMU, or did not);
* ``host-bit``: a feature the expansion does not name (its QEMU predates the feature) keeps the
  host's raw bit, i.e. KVM is assumed to pass it through; ``intel-pt`` is cleared instead
  (KVM offers it only with ``kvm_intel.pt_mode=1``, not the default);
* ``kernel-rule``: ``tsc-deadline`` is set only when the (synthetic) kernel reports it
  (:func:`qmpserver.arch.x86_64.hostcpu.kernel_reports_tsc_deadline`); ``invtsc`` keeps the host
  bit (libvirt's expansion is the migratable one, which never shows it);
* ``kvm-leaf``: KVM's own leaves 0x40000000/0x40000001: the expansion's ``kvm-*`` values, and
  for those it does not name the 6.18 capture host's bits (every kernel >= 5.10 has them);
* ``xsave-component``: a CPUID.0DH:EAX component bit (XCR0) whose feature the expansion shows
  off is cleared (KVM offers only the components the host kernel enabled);
* host MSRs (``host-msrs``): libvirt's ``<msr index=… eax=… edx=…>`` elements
  (``cpu-data.py`` reads IA32_ARCH_CAPABILITIES 0x10a and, in newer libvirt,
  IA32_CORE_CAPABILITY 0xcf): the host's own MSR, not KVM's feature MSR (Sapphire Rapids' file
  has TAA_NO set where that machine's QEMU under KVM shows ``taa-no`` off: KVM clears it on a
  host without RTM, Linux ``arch/x86/kvm/x86.c`` ``kvm_get_arch_capabilities``); the model
  uses it only for a feature the expansion does not name (synthetic there); the other feature
  MSRs (VMX, PERF_CAPABILITIES …) are not in the data;
* MSR-based features (``arch-capabilities`` bits, ``vmx-*`` …: ``msr-features``): the
  expansion's value where it names them; the others are listed under ``msr-unknown`` and have
  no value (unknown, not off: :func:`qmpserver.arch.x86_64.hostcpu.msr_offered` says so);
  ``lmce`` (KVM's MCE capabilities) is the expansion's.

The kernel release and the KVM capabilities are not in libvirt's data: ``--kernel`` chooses
the release (marked synthetic); the capabilities are those every kernel since 4.x answers.
Usage::

    python3 tools/libvirt_cpuid_to_x86_host.py --xml DIR/x86_64-cpuid-CPU.xml \\
        --json DIR/x86_64-cpuid-CPU.json --kernel 6.1.0 --name NAME \\
        --source "libvirt 9.0.0 tests/cputestdata/x86_64-cpuid-CPU.{xml,json} (…)" \\
        --summary "…" [--models models]

writes ``models/x86_64/hosts/NAME.yaml`` (the CPUID data), ``models/hosts/NAME.yaml`` (the host
profile naming it) and ``models/profiles/NAME.yaml`` (that host on the qemu-7.2-debian-x86_64
build, KVM).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from qmpserver.arch.x86_64 import hostcpu  # noqa: E402
from qmpserver.models import MODELS_DIR, read_yaml  # noqa: E402

RULES = "x86_64/cpu-rules-7.2.yaml"
CAPTURE_HOST = "capture-host-6.18"
BUILD = "qemu-7.2-debian-x86_64"
KVM_LEAF = 0x40000001
NOT_BY_DEFAULT = ("intel-pt",)
HOST_BIT = ("invtsc",)
# the expansion's non-feature members the tests compare
IDENTITY = ("vendor", "family", "model", "stepping", "model-id", "min-level", "min-xlevel", "lmce")
# answered by every kernel this tool is used for (4.x and later); not in libvirt's data
KVM_CAPS = {
    "KVM_CAP_IRQCHIP": 1,
    "KVM_CAP_TSC_DEADLINE_TIMER": 1,
    "KVM_CAP_SPLIT_IRQCHIP": 1,
    "KVM_CAP_X2APIC_API": 3,
    "KVM_CAP_X86_DISABLE_EXITS": 15,
}
REGS = ("EAX", "EBX", "ECX", "EDX")
# leaves whose ECX input selects a subleaf (KVM_CPUID_FLAG_SIGNIFCANT_INDEX)
INDEXED = {4, 7, 0xB, 0xD, 0xF, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1B, 0x1D, 0x1E, 0x1F, 0x8000001D, 0x80000020}
_CPUID = re.compile(
    r"<cpuid eax_in='(0x[0-9a-f]+)' ecx_in='(0x[0-9a-f]+)' eax='(0x[0-9a-f]+)' ebx='(0x[0-9a-f]+)'"
    r" ecx='(0x[0-9a-f]+)' edx='(0x[0-9a-f]+)'/>"
)
_MSR = re.compile(r"<msr index='(0x[0-9a-f]+)' edx='(0x[0-9a-f]+)' eax='(0x[0-9a-f]+)'/>")


def read_cpuid_xml(path: str) -> tuple[dict[tuple[int, int], list[int]], dict[int, int], str]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    leaves = {
        (int(m[1], 16), int(m[2], 16)): [int(v, 16) for v in m.groups()[2:]] for m in _CPUID.finditer(text)
    }
    msrs = {int(m[1], 16): int(m[2], 16) << 32 | int(m[3], 16) for m in _MSR.finditer(text)}
    title = re.match(r"\s*<!--\s*(.*?)\s*-->", text)
    return leaves, msrs, title[1] if title else ""


def read_json_objects(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    dec, out, i = json.JSONDecoder(), [], 0
    while True:
        m = re.compile(r"\S").search(text, i)
        if not m:
            return out
        obj, i = dec.raw_decode(text, m.start())
        out.append(obj)


def brand(leaves: dict[tuple[int, int], list[int]]) -> str:
    raw = b"".join(
        v.to_bytes(4, "little")
        for f in (0x80000002, 0x80000003, 0x80000004)
        for v in leaves.get((f, 0), [0] * 4)
    )
    # as QEMU's model-id: up to the first NUL, padding spaces kept
    return raw.split(b"\0")[0].decode("ascii", "replace")


def convert(leaves, msrs, props, kernel, rules, capture):
    """(supported entries, derived lists, msr features, msr-unknown, reference expansion)."""
    cpuid, aliases = rules["cpuid"], rules["aliases"]

    def named(f):
        for a in aliases.get(f, [f]):
            if a in props:
                return props[a]
        return None

    out = {k: list(v) for k, v in leaves.items()}
    cap_leaves = {(int(e[0]), int(e[1])): [int(v) for v in e[3:7]] for e in capture["supported"]}
    for fn in (0x40000000, KVM_LEAF):
        out[(fn, 0)] = [0, 0, 0, 0]
    out[(0x40000000, 0)] = list(cap_leaves[(0x40000000, 0)])
    derived: dict[str, list[str]] = {"from-expansion": [], "host-bit": [], "kernel-rule": [], "kvm-leaf": []}
    reference: dict[str, list[str]] = {"on": [], "off": []}
    for f, (fn, sub, reg, bit) in cpuid.items():
        key = (fn, sub or 0)
        regs = out.setdefault(key, [0, 0, 0, 0])
        r = REGS.index(reg)
        v = named(f)
        if v is not None:
            reference["on" if v else "off"].append(f)
        if f == hostcpu.TSC_DEADLINE:
            on, why = hostcpu.kernel_reports_tsc_deadline(kernel), "kernel-rule"
        elif f in HOST_BIT:
            on, why = bool(regs[r] >> bit & 1), "kernel-rule"
        elif fn == KVM_LEAF:
            on = bool(v) if v is not None else bool(cap_leaves[(fn, 0)][r] >> bit & 1)
            why = "kvm-leaf"
        elif v is not None:
            on, why = bool(v), "from-expansion"
        elif f in NOT_BY_DEFAULT:
            on, why = False, "host-bit"
        else:
            on, why = bool(regs[r] >> bit & 1), "host-bit"
        regs[r] = regs[r] | 1 << bit if on else regs[r] & ~(1 << bit)
        derived[why].append(f)
    # KVM offers an XSAVE component only when the host kernel enabled it (PKRU needs the
    # kernel's protection keys): a component whose feature the expansion shows off is cleared
    from qmpserver.arch.x86_64.cpu import XSAVE_COMPONENTS

    derived["xsave-component"] = []
    xcr0 = out.setdefault((0xD, 0), [0, 0, 0, 0])
    for bit, f in XSAVE_COMPONENTS:
        if named(f) is False and xcr0[0] >> bit & 1:
            xcr0[0] &= ~(1 << bit)
            derived["xsave-component"].append("%s (bit %d)" % (f, bit))
    feature_names = {a for f in cpuid for a in aliases.get(f, [f])}
    msr_features, unknown = {}, []
    for k in rules["msr-features"]:
        if k in feature_names:
            continue
        v = named(k)
        if v is None:
            unknown.append(k)
        else:
            msr_features[k] = bool(v)
            reference["on" if v else "off"].append(k)
    return out, derived, msr_features, unknown, reference


def flow(items) -> str:
    return "[%s]" % ", ".join(items)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xml", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--kernel", required=True, help="the synthetic kernel release, e.g. 6.1.0")
    ap.add_argument("--name", required=True)
    ap.add_argument("--source", required=True, help="which libvirt file and version the data is")
    ap.add_argument("--summary", required=True)
    ap.add_argument("--distro", default="")
    ap.add_argument("--models", default=MODELS_DIR, help="where the rules and the capture host are read")
    ap.add_argument("-o", "--output-dir", help="where the three files go (default: --models)")
    a = ap.parse_args(argv)
    rules = read_yaml(os.path.join(a.models, RULES))
    rules["msr-features"] = msr_feature_names(rules["cpuid"])
    capture = read_yaml(os.path.join(a.models, "x86_64", "hosts", CAPTURE_HOST + ".yaml"))
    try:
        leaves, msrs, title = read_cpuid_xml(a.xml)
        props = read_json_objects(a.json)[0]["return"]["model"]["props"]
        if (0, 0) not in leaves or (1, 0) not in leaves:
            raise ValueError("%s: no CPUID leaves 0 and 1" % a.xml)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        print("%s: error: %s" % (sys.argv[0], e), file=sys.stderr)
        return 1
    out_dir = a.output_dir or a.models
    supported, derived, msr_features, unknown, reference = convert(
        leaves, msrs, props, a.kernel, rules, capture
    )
    vendor = b"".join(leaves[(0, 0)][i].to_bytes(4, "little") for i in (1, 3, 2)).decode()
    sig = leaves[(1, 0)][0]
    family = (sig >> 8 & 0xF) + (sig >> 20 & 0xFF if (sig >> 8 & 0xF) == 0xF else 0)
    model = (sig >> 4 & 0xF) | ((sig >> 16 & 0xF) << 4 if (sig >> 8 & 0xF) in (6, 0xF) else 0)
    cpu = {
        "vendor": vendor,
        "family": family,
        "model": model,
        "stepping": sig & 0xF,
        "model_name": brand(leaves),  # the brand string exactly (QEMU's model-id; empty on samples)
    }
    rel = {
        "x86": os.path.join(out_dir, "x86_64", "hosts", a.name + ".yaml"),
        "host": os.path.join(out_dir, "hosts", a.name + ".yaml"),
        "profile": os.path.join(out_dir, "profiles", a.name + ".yaml"),
    }
    tsc = hostcpu.kernel_reports_tsc_deadline(a.kernel)
    lines = [
        "# Converted by tools/libvirt_cpuid_to_x86_host.py from libvirt's cputestdata; regenerate, do not edit by hand.",
        "# supported: the host's raw CPUID with QEMU-named feature bits derived as listed under derived (synthetic).",
        "kind: x86-kvm-cpuid",
        "name: %s" % a.name,
        "cpu: %s" % json.dumps(cpu),
        "kernel: %s" % json.dumps({"release": a.kernel}),
        "kvm-caps: %s" % json.dumps(KVM_CAPS),
        "# [function, index, flags, eax, ebx, ecx, edx]",
        "supported:",
    ]
    for (fn, idx), regs in sorted(supported.items()):
        flags = 1 if fn in INDEXED else 0
        lines.append("  - [%s]" % ", ".join("0x%08x" % v for v in (fn, idx, flags, *regs)))
    lines += [
        "emulated: []",
        "# libvirt's <msr> elements: the host's MSRs (not KVM's feature MSRs); the other feature MSRs are not in the data",
        "host-msrs: {%s}" % ", ".join('"0x%x": 0x%x' % kv for kv in sorted(msrs.items())),
        "# MSR-based features (IA32_ARCH_CAPABILITIES bits, VMX controls ...): libvirt's expansion where it names them;",
        "# msr-unknown: the ones it does not name (no value: unknown)",
        "msr-features: {%s}" % ", ".join("%s: %s" % (k, str(v).lower()) for k, v in msr_features.items()),
        "msr-unknown: %s" % flow(unknown),
        "# KVM_X86_GET_MCE_CAP_SUPPORTED has MCG_LMCE_P (QEMU's host model sets lmce then): libvirt's expansion",
        "lmce: %s" % str(bool(props.get("lmce"))).lower(),
        "# which rule set each QEMU 7.2 CPUID feature bit (tools/libvirt_cpuid_to_x86_host.py docstring)",
        "derived:",
    ]
    lines += ["  %s: %s" % (k, flow(v)) for k, v in derived.items()]
    lines += [
        "# the real QEMU's expansion of host under KVM on that machine (features QEMU 7.2 knows), for tests",
        "reference-expansion:",
        "  enabled: %s" % flow(sorted(reference["on"])),
        "  disabled: %s" % flow(sorted(reference["off"])),
        "  identity: %s" % json.dumps({k: props[k] for k in IDENTITY if k in props}),
        "sources:",
        "  refs:",
        "    libvirt: %s" % json.dumps(a.source),
        "    convert: %s"
        % json.dumps(
            "python3 tools/libvirt_cpuid_to_x86_host.py --kernel %s --name %s (rules in its docstring)"
            % (a.kernel, a.name)
        ),
        "  fields: {cpu: libvirt, host-msrs: libvirt, reference-expansion: libvirt, lmce: libvirt, supported: [libvirt, synthetic],"
        " msr-features: [libvirt, synthetic], kernel: synthetic, kvm-caps: synthetic}",
        "  notes:",
        "    kernel: %s"
        % json.dumps(
            "libvirt's data does not say the kernel; %s is chosen so that hosts differ in TSC-deadline reporting"
            " (this kernel %s CPUID.01H:ECX.tsc-deadline in KVM_GET_SUPPORTED_CPUID)"
            % (a.kernel, "reports" if tsc else "does not report")
        ),
    ]
    write(rel["x86"], lines)
    host_lines = [
        "# Written by tools/libvirt_cpuid_to_x86_host.py; regenerate, do not edit by hand.",
        "kind: host",
        "name: %s" % a.name,
        "summary: %s" % json.dumps(a.summary),
        "arch: x86_64",
        "targets: {x86_64: {accels: [kvm, tcg]}}",
        "cpu: %s"
        % json.dumps(
            {k: cpu[k] for k in ("vendor", "family", "model", "stepping")}
            | {"model_name": cpu["model_name"].strip() or title, "count": 2}
        ),
        "kernel: %s" % json.dumps({"release": a.kernel} | ({"distro": a.distro} if a.distro else {})),
        "kvm:",
        "  present: true",
        "  api_version: 12",
        # the host profile lists the capabilities models/arm64/kvm-caps.yaml names (its table)
        "  caps: %s" % json.dumps({k: v for k, v in KVM_CAPS.items() if k != "KVM_CAP_X86_DISABLE_EXITS"}),
        "x86_cpuid: %s" % a.name,
        "sources:",
        "  refs:",
        "    libvirt: %s" % json.dumps(a.source),
        "  fields: {cpu: libvirt, cpu.count: synthetic, kernel: synthetic, kvm: synthetic, x86_cpuid: libvirt}",
        "  notes:",
        '    kvm: "KVM capabilities every kernel since 4.x answers; not in libvirt\'s data"',
        '    x86_cpuid: "models/x86_64/hosts/%s.yaml: KVM leaves derived from libvirt\'s raw CPUID and QEMU expansion"'
        % a.name,
    ]
    write(rel["host"], host_lines)
    profile_lines = [
        "# Written by tools/libvirt_cpuid_to_x86_host.py; regenerate, do not edit by hand.",
        "kind: profile",
        "name: %s" % a.name,
        "summary: %s" % json.dumps("Debian's QEMU 7.2 (qemu-7.2-debian-x86_64) under KVM on " + a.summary),
        "host: %s" % a.name,
        "build: %s" % BUILD,
        "defaults:",
        "  accel: kvm",
        "  machine: pc",
        "  cpu: host",
    ]
    write(rel["profile"], profile_lines)
    print(
        "%s: %d leaves; %s"
        % (rel["x86"], len(supported), ", ".join("%s %d" % (k, len(v)) for k, v in derived.items()))
    )
    return 0


def msr_feature_names(cpuid: dict) -> list[str]:
    """QEMU 7.2's features held in MSRs rather than CPUID (``vmx-*``, the
    IA32_ARCH_CAPABILITIES / CORE_CAPABILITY / PERF_CAPABILITIES bits): the members of the
    build's static expansion (one name per feature) that are neither a static property nor in
    the rules' ``cpuid`` table."""
    from qmpserver.arch.x86_64 import cpu
    from qmpserver.profiles.loader import load_profile

    cat = cpu.catalog(load_profile(BUILD).build, "kvm")
    return [k for k in cat.static_keys if k not in cpu.STATIC_PROPS and k not in cpuid]


def write(path: str, lines: list[str]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
