"""``-cpu host`` and feature filtering under KVM from a host's CPUID data (issue 11, the seed
thread "Semantics of -cpu host").

A host is ``models/x86_64/hosts/*.yaml`` (``tools/capture_x86_kvm_cpuid.py``): the leaves of
``KVM_GET_SUPPORTED_CPUID``, the KVM capabilities, the kernel release.  The features a QEMU
version knows, with their CPUID leaf/register/bit, are the ``cpuid`` table of
``models/x86_64/cpu-rules-7.2.yaml`` (measured from the binary).  QEMU 7.2's rules
(``kvm_arch_get_supported_cpuid`` and ``x86_cpu_filter_features``), each checked against the real
binary on the capturing host (``tests/unit/x86_64/test_x86_hostcpu.py``):

* a feature is available when KVM reports its bit **and** this QEMU knows it: a bit of a newer
  CPU that the QEMU version has no name for stays off ("new CPU, new kernel, old QEMU");
* ``x2apic`` and ``kvm-pv-unhalt`` need the in-kernel local APIC: not available with
  ``kernel-irqchip=off``;
* ``kvm-msi-ext-dest-id`` is offered only with ``kernel-irqchip=split`` (QEMU sets it; KVM does
  not report it);
* ``tsc-deadline`` is available when KVM reports it, or with an in-kernel irqchip and
  ``KVM_CAP_TSC_DEADLINE_TIMER``; kernels before the CPUID rework do not report it, so
  there ``kernel-irqchip=off`` drops it, while on the 6.18 capture host it stays.  The rework
  is Linux commit 9be4ec35d668 ("KVM: x86: Advertise TSC_DEADLINE_TIMER in
  KVM_GET_SUPPORTED_CPUID", series of 2024-11-28, ``EMULATED_F(TSC_DEADLINE_TIMER)`` in
  ``kvm_set_cpu_caps`` and api.rst's "may be returned as true"), merged for 6.14
  (:data:`TSC_DEADLINE_REPORTED_SINCE`; the merge release is not checked against a tag);
* ``hypervisor`` is always set; ``topoext`` always counts as supported (QEMU enables it
  whatever ``KVM_GET_SUPPORTED_CPUID`` says, so models that have it stay runnable);
* ``host``/``max`` with ``migratable=on`` (the default) leave out the unmigratable features
  (``invtsc``);
* ``host``/``max`` never turn on ``topoext`` by themselves (QEMU's ``no_autoenable_flags`` of
  CPUID.80000001H:ECX; measured on the AMD capture machine, whose KVM reports it:
  ``tests/unit/x86_64/test_x86_msr_features.py``);
* at realize, every requested feature that is not available is filtered out with
  ``host doesn't support requested feature: CPUID.<leaf>H:<reg>.<name> [bit <n>]`` (``check``,
  on by default) and with ``enforce`` start-up fails with ``Host doesn't support requested
  features``.

Start-up (``-cpu`` on a ``pc``/``q35`` machine under KVM) uses these rules through
:mod:`.startup`; the host profile's CPUID data is found by :func:`host_for`.

Features held in MSR feature words (``IA32_ARCH_CAPABILITIES`` 0x10a, ``IA32_CORE_CAPABILITY``
0xcf, ``IA32_PERF_CAPABILITIES`` 0x345, the VMX capability MSRs 0x480..0x491; the rules'
``msr`` table gives each feature's MSR and bit, measured) are offered when KVM's feature MSR
has the bit (QEMU ``kvm_arch_get_supported_msr_feature``, target/i386/kvm/kvm.c):

* an MSR that ``KVM_GET_MSR_FEATURE_INDEX_LIST`` does not list reads as 0 (nothing offered);
* the VMX control MSRs (``PROCBASED_CTLS2`` 0x48b and the ``TRUE_*_CTLS`` 0x48d-0x490) offer
  the controls that may be 1 but need not be: the allowed-1 half (bits 63:32) minus the
  must-be-1 half (bits 31:0);
* when ``KVM_GET_MSR_INDEX_LIST`` lacks 0x48b (kernels that forgot those bits), QEMU adds the
  exiting controls of ``xsaves``, ``rdrand``, ``invpcid``, ``rdseed`` and ``rdtscp`` itself
  when KVM reports the CPUID feature (:data:`CTLS2_FROM_CPUID`; not seen on a machine here:
  the captured hosts have no nested VMX);
* the other MSRs are the feature word as read.

A host file's MSR data (:func:`msr_offered`), in this order: ``feature-msrs`` (index → value as
``KVM_GET_MSRS`` on ``/dev/kvm`` read it) with ``feature-msrs-complete`` when it is KVM's whole
list (``tools/capture_x86_kvm_cpuid.py``); per feature, ``msr-features`` (a real QEMU's ``host``
expansion on that machine: libvirt's cputestdata); ``host-msrs`` (the host's own MSRs as
libvirt's ``cpu-data.py`` read them, not KVM's: KVM masks and adds bits, so this is an
approximation, used last); a feature none of them gives is *unknown*, and every answer that
needs it says so on the ``qmpserver.cpu`` log.
"""

from __future__ import annotations

import os
from typing import Any

from ...models import MODELS_DIR, read_yaml

IRQCHIP_IN_KERNEL = {"on": True, "split": True, "off": False}
NEEDS_IN_KERNEL_APIC = ("x2apic", "kvm-pv-unhalt")
SPLIT_ONLY = ("kvm-msi-ext-dest-id",)
# set whatever KVM reports: hypervisor; topoext (kvm_arch_get_supported_cpuid keeps the models
# that have it runnable on older kernels; host/max still leave it off: NO_AUTOENABLE)
ALWAYS = ("hypervisor", "topoext")
# features QEMU leaves out of host/max unless migratable=off (seen on the capture host:
# the host expansion with and without migratable differs in invtsc alone)
UNMIGRATABLE = ("invtsc",)
# features host/max leave off even when KVM offers them (see the module docstring)
NO_AUTOENABLE = ("topoext",)
TSC_DEADLINE = "tsc-deadline"
# the first kernel whose KVM_GET_SUPPORTED_CPUID sets CPUID.01H:ECX[24] (see the docstring)
TSC_DEADLINE_REPORTED_SINCE = (6, 14)


def kernel_reports_tsc_deadline(release: str) -> bool:
    """Whether a kernel of this ``uname -r`` lists tsc-deadline in KVM_GET_SUPPORTED_CPUID."""
    major, minor = (int(x) for x in release.split("-")[0].split(".")[:2])
    return (major, minor) >= TSC_DEADLINE_REPORTED_SINCE


def load_host(name: str, host_path: str = "") -> dict[str, Any]:
    """A ``models/x86_64/hosts`` CPUID file by name.  A host profile read from another root
    (``--profile-dir``, ``QMPSERVER_PROFILE_PATH``, a profile given as a file: ROOT/hosts/H.yaml,
    inline in ROOT/profiles/P.yaml, or ROOT/H.yaml) finds it first in that root's ``x86_64/hosts/``, then among the built-ins:
    a machine's own capture can live next to the host file that names it."""
    if host_path:
        here = os.path.dirname(os.path.abspath(host_path))
        root = os.path.dirname(here) if os.path.basename(here) in ("hosts", "profiles") else here
        local = os.path.join(root, "x86_64", "hosts", name + ".yaml")
        if os.path.isfile(local):
            return read_yaml(local)
    return read_yaml(os.path.join(MODELS_DIR, "x86_64", "hosts", name + ".yaml"))


def for_host(host: Any) -> dict[str, Any] | None:
    """The CPUID data a host profile names (``x86_cpuid``), or None (the build's capture
    answers for that host: expansions and definitions replay it)."""
    name = (getattr(host, "data", None) or {}).get("x86_cpuid")
    if not name:
        return None
    cache = host.__dict__.setdefault("_x86_cpuid", {})
    if name not in cache:
        cache[name] = load_host(name, getattr(host, "path", "") or "")
    return cache[name]


def leaf(host: dict[str, Any], function: int, index: int = 0) -> dict[str, int]:
    """One KVM_GET_SUPPORTED_CPUID entry's registers (zeros when KVM does not list it)."""
    return _leaves(host).get((function, index), {"EAX": 0, "EBX": 0, "ECX": 0, "EDX": 0})


CPU_KEYS = ("vendor", "family", "model", "stepping")


def host_for(host: Any) -> dict[str, Any] | None:
    """The CPUID data start-up filters ``-cpu`` with: the file the host profile names
    (:func:`for_host`), else the file (``models/x86_64/hosts/*.yaml``) whose CPU (vendor,
    family, model, stepping) and kernel release are the profile's (the capture host's own
    profile names none); None when nothing matches (the caller says that ``-cpu host`` / the
    filtering is not modelled there)."""
    named = for_host(host)
    if named is not None:
        return named
    host_data = getattr(host, "data", None) or {}
    want_cpu = tuple((host_data.get("cpu") or {}).get(k) for k in CPU_KEYS)
    want_kernel = (host_data.get("kernel") or {}).get("release")
    folder = os.path.join(MODELS_DIR, "x86_64", "hosts")
    for fn in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
        if not fn.endswith(".yaml"):
            continue
        h = load_host(fn[: -len(".yaml")])
        if tuple((h.get("cpu") or {}).get(k) for k in CPU_KEYS) == want_cpu and (
            (h.get("kernel") or {}).get("release") == want_kernel
        ):
            return h
    return None


# parsed KVM_GET_SUPPORTED_CPUID lists, by the list object they were parsed from
_LEAVES: dict[int, tuple[list, dict[tuple[int, int], dict[str, int]]]] = {}


def _leaves(host: dict[str, Any]) -> dict[tuple[int, int], dict[str, int]]:
    entries = host["supported"]
    hit = _LEAVES.get(id(entries))
    if hit is not None and hit[0] is entries:
        return hit[1]
    out: dict[tuple[int, int], dict[str, int]] = {}
    for e in entries:
        out[(int(e[0]), int(e[1]))] = dict(zip(("EAX", "EBX", "ECX", "EDX"), (int(v) for v in e[3:7])))
    if len(_LEAVES) > 64:
        _LEAVES.clear()
    _LEAVES[id(entries)] = (entries, out)
    return out


def reported(host: dict[str, Any], cpuid: dict[str, list]) -> set[str]:
    """The features KVM_GET_SUPPORTED_CPUID sets, among those this QEMU knows."""
    leaves = _leaves(host)
    out = set()
    for name, (leaf, sub, reg, bit) in cpuid.items():
        regs = leaves.get((leaf, sub or 0))
        if regs and regs.get(reg, 0) >> bit & 1:
            out.add(name)
    return out


def available(host: dict[str, Any], cpuid: dict[str, list], irqchip: str = "on") -> set[str]:
    """What KVM + this QEMU offer a vCPU with ``kernel-irqchip=irqchip``."""
    in_kernel = IRQCHIP_IN_KERNEL[irqchip]
    out = reported(host, cpuid)
    if not in_kernel:
        out.difference_update(NEEDS_IN_KERNEL_APIC)
    out.difference_update(SPLIT_ONLY)
    if irqchip == "split":
        out.update(f for f in SPLIT_ONLY if f in cpuid)
    if in_kernel and host.get("kvm-caps", {}).get("KVM_CAP_TSC_DEADLINE_TIMER"):
        out.add(TSC_DEADLINE)
    out.update(f for f in ALWAYS if f in cpuid)
    return out


def host_model(
    host: dict[str, Any], cpuid: dict[str, list], irqchip: str = "on", migratable: bool = True
) -> set[str]:
    """The CPUID features of ``-cpu host`` (before any ``+feat``/``-feat``)."""
    out = available(host, cpuid, irqchip)
    out.difference_update(NO_AUTOENABLE)
    if migratable:
        out.difference_update(UNMIGRATABLE)
    return out


# kvm_arch_get_supported_msr_feature: the VMX control MSRs whose feature word is "may be 1 but
# need not be" (see the module docstring)
VMX_CONTROL_MSRS = (0x48B, 0x48D, 0x48E, 0x48F, 0x490)
VMX_PROCBASED_CTLS2 = 0x48B
# its workaround without 0x48b in KVM_GET_MSR_INDEX_LIST: CPUID feature -> the secondary
# control QEMU then counts as supported
CTLS2_FROM_CPUID = (
    ("xsaves", "vmx-xsaves"), ("rdrand", "vmx-rdrand-exit"), ("invpcid", "vmx-invpcid-exit"),
    ("rdseed", "vmx-rdseed-exit"), ("rdtscp", "vmx-rdtscp-exit"),
)  # fmt: skip


def msr_word(
    host: dict[str, Any], index: int, cpuid: dict[str, list], msr: dict[str, list], key: str = "feature-msrs"
) -> int | None:
    """The MSR feature word ``index`` QEMU reads from ``host``'s ``key`` (``feature-msrs``: KVM's;
    ``host-msrs``: the host's), or None when the data does not have that MSR."""
    values = host.get(key)
    if values is None:
        return None
    v = values.get("0x%x" % index)
    if v is None:
        return 0 if key == "feature-msrs" and host.get("feature-msrs-complete") else None
    v = int(v)
    if index in VMX_CONTROL_MSRS:
        listed = host.get("msr-index-list")
        if index == VMX_PROCBASED_CTLS2 and listed is not None and VMX_PROCBASED_CTLS2 not in listed:
            rep = reported(host, cpuid)
            for feature, control in CTLS2_FROM_CPUID:
                if feature in rep:
                    v |= 1 << (32 + msr[control][0][1])
        v = (v >> 32) & ~v & 0xFFFFFFFF
    return v


def msr_offered(
    host: dict[str, Any], cpuid: dict[str, list], msr: dict[str, list]
) -> tuple[dict[tuple[int, int], bool], list[str]]:
    """Whether KVM on ``host`` offers each MSR feature bit, as ``{(index, bit): offered}``, and
    the features whose bits the data does not say (in the table's order); the sources in the
    module docstring's order."""
    words: dict[tuple[str, int], int | None] = {}

    def word(key: str, index: int) -> int | None:
        if (key, index) not in words:
            words[(key, index)] = msr_word(host, index, cpuid, msr, key)
        return words[(key, index)]

    out: dict[tuple[int, int], bool] = {}
    unknown: list[str] = []
    expansion = host.get("msr-features") or {}
    for f, bits in msr.items():
        for index, bit in bits:
            w = word("feature-msrs", index)
            if w is None and f in expansion:
                out[(index, bit)] = bool(expansion[f])
                continue
            if w is None:
                w = word("host-msrs", index)
            if w is not None:
                out[(index, bit)] = bool(w >> bit & 1)
            elif f not in unknown:
                unknown.append(f)
    return out, unknown


def msr_warning_text(name: str, index: int, bit: int, who: str = "host", why: str | None = None) -> str:
    """``host doesn't support requested feature: MSR(10AH).rdctl-no [bit 0]`` (QEMU's
    ``mark_unavailable_features``: the index in hex, upper case, at least two digits); ``why``
    replaces the prefix (``This feature depends on other features that were not requested``)."""
    prefix = why or "%s doesn't support requested feature" % who
    return "%s: MSR(%02XH).%s [bit %d]" % (prefix, index, name, bit)


def warning_text(name: str, where: list, who: str = "host") -> str:
    leaf, _sub, reg, bit = where
    return "%s doesn't support requested feature: CPUID.%02XH:%s.%s [bit %d]" % (who, leaf, reg, name, bit)


def walk_order(cpuid: dict[str, list], words: list | None) -> list[str]:
    """The CPUID features in the order ``x86_cpu_filter_features`` walks them: feature word by
    feature word (``words``: the rules' ``feature-words``, QEMU's ``FeatureWord`` order), bit
    by bit.  Without ``words``, the table's order."""
    if not words:
        return list(cpuid)
    rank = {(w[0], w[1] or 0, w[2]): i for i, w in enumerate(words)}
    return sorted(
        cpuid, key=lambda f: (rank.get((cpuid[f][0], cpuid[f][1] or 0, cpuid[f][2]), len(rank)), cpuid[f][3])
    )


def filter_features(
    requested: set[str],
    avail: set[str],
    cpuid: dict[str, list],
    who: str = "host",
    check: bool = True,
    enforce: bool = False,
    words: list | None = None,
) -> tuple[set[str], list[str], str | None]:
    """x86_cpu_filter_features for the CPUID features: (features the vCPU gets, warnings, start-up
    error or None).  ``who`` is ``host`` under KVM and ``TCG`` under TCG (QEMU's texts:
    ``TCG doesn't support requested feature: CPUID.01H:ECX.x2apic [bit 21]``, then with
    ``enforce`` ``TCG doesn't support requested features``); the warnings come with ``check``
    (on by default) or ``enforce``."""
    filtered = [f for f in walk_order(cpuid, words) if f in requested and f not in avail]
    warnings = [warning_text(f, cpuid[f], who) for f in filtered] if (check or enforce) else []
    error = None
    if enforce and filtered:
        error = "%s doesn't support requested features" % ("Host" if who == "host" else who)
    return requested - set(filtered), warnings, error


def realize(
    requested: set[str],
    host: dict[str, Any],
    cpuid: dict[str, list],
    irqchip: str = "on",
    check: bool = True,
    enforce: bool = False,
    words: list | None = None,
) -> tuple[set[str], list[str], str | None]:
    """x86_cpu_filter_features under KVM: (features the vCPU gets, warnings, start-up error or
    None), warnings in QEMU's feature-word order when ``words`` is given."""
    avail = available(host, cpuid, irqchip)
    return filter_features(requested, avail, cpuid, "host", check, enforce, words)


def requested(props: dict[str, Any], cpuid: dict[str, list], irqchip: str, user: dict[str, bool]) -> set[str]:
    """The CPUID features a named model's vCPU asks for under KVM: its expansion (KVM default
    properties included) with the irqchip-dependent defaults (``x2apic`` on only with an
    in-kernel irqchip, ``kvm-msi-ext-dest-id`` on with ``split``), then ``user``'s
    ``+feat``/``-feat``/``feat=on|off``."""
    out = {f for f in cpuid if props.get(f) is True}
    if not IRQCHIP_IN_KERNEL[irqchip]:
        out.discard("x2apic")
    if irqchip == "split":
        out.update(f for f in SPLIT_ONLY if f in cpuid)
    for f, on in user.items():
        if on:
            out.add(f)
        else:
            out.discard(f)
    return out
