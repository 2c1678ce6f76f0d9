"""MTE of the ``virt`` machine: the one place that owns the MTE rules.

Everything that decides which Memory Tagging Extension version a guest
gets (the launcher, ``qmpserver serve``, the HTTP API, migration checks,
``query-mte-capabilities``) calls the pure functions here, whose inputs are
the host profile, the QEMU build, the accelerator, the CPU model and the
machine options.  Failures raise :class:`MteError` carrying the text QEMU
prints after ``qemu-system-aarch64: ``.

Upstream (build without the ``mte-version`` proposal; ``hw/arm/virt.c``):

* ``mte`` is a bool; TCG needs a guest CPU with the ``tag-memory`` link
  (FEAT_MTE2 or later) -> ``MTE requested, but not supported by the guest
  CPU``; the guest sees the CPU model's level (``max``: MTE3);
* KVM (QEMU 8.1+) needs ``KVM_CAP_ARM_MTE`` -> ``MTE requested, but not
  supported by KVM``; the guest sees the host's level.  Before 8.1 (build
  quirk ``virt-mte-no-kvm``): ``mach-virt: KVM does not support providing
  MTE to the guest CPU``;
* HVF: ``mach-virt: HVF does not support providing MTE to the guest CPU``;
  any other accelerator: ``MTE requested, but not supported `` (sic).

The proposal (``mte-version=none|2|3|host|max``; see docs/proposals/mte.md):

* ``mte`` becomes a deprecated alias: off -> none, on -> max under TCG and
  host under KVM; using it prints a deprecation warning; giving both with
  different meanings is an error;
* ``host`` needs KVM; ``max`` is the highest version available; an explicit
  version is provided exactly or the machine does not start;
* TCG: the versions the build's TCG emulates (``tcg.mte_versions`` in
  build.yaml, default QEMU's ``[3, 2]``) that the guest CPU model reaches;
* KVM: the host's level (``ID_AA64PFR1_EL1.MTE`` with ``KVM_CAP_ARM_MTE``);
  a lower version only when the host kernel lets userspace lower that field
  (never upstream through 7.2; a host file can say so with ``kvm.writable``
  to model a future kernel), a higher one never.
"""

from __future__ import annotations

VERSIONS = (3, 2)  # query-mte-capabilities order (like GIC: newest first)
VALUES = ("none", "2", "3", "host", "max")
TCG_DEFAULT = (3, 2)  # QEMU's TCG emulates FEAT_MTE3 and can present FEAT_MTE2

DEPRECATED = '"mte" property is deprecated; use "mte-version"'
INVALID = "Invalid mte-version value"
HINT = "Valid values are none, 2, 3, host, max."
BLOCKER = "Live migration disabled due to MTE enabled"
NO_CPU = "MTE requested, but not supported by the guest CPU"
NO_KVM = "MTE requested, but not supported by KVM"
NO_ACCEL = "MTE requested, but not supported "  # trailing space as in QEMU
HOST_NEEDS_KVM = "mte-version=host requires KVM"
NO_KVM_QUIRK = "virt-mte-no-kvm"
DESCRIPTION = (
    "Set the MTE version of the guest CPU: an explicit version is provided exactly "
    "or the machine does not start. Valid values are none, 2, 3, host and max"
)

# QEMU named CPU models with FEAT_MTE2 (ID_AA64PFR1_EL1.MTE = 2), for builds
# that neither recorded the models' properties nor list them in tcg.cpu_mte.
# Source: target/arm/tcg/cpu64.c (cortex-a710, neoverse-n2: PFR1 = 0x221).
_MTE2_MODELS = frozenset(("cortex-a710", "neoverse-n2"))


class MteError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- the options -------------------------------------------------------------------


def parse_version(value) -> str:
    """The proposal's setter: one of VALUES, or QEMU-style error + hint line."""
    if isinstance(value, str) and value in VALUES:
        return value
    raise MteError(INVALID + "\n" + HINT)


def alias(mte_on: bool, accel: str) -> str:
    """What the deprecated ``mte`` bool means: off -> none, on -> max (TCG) / host (KVM)."""
    if not mte_on:
        return "none"
    return "host" if accel == "kvm" else "max"


def _accel_label(accel: str) -> str:
    return {"kvm": "KVM", "tcg": "TCG", "hvf": "HVF"}.get(accel, accel)


def requested(mte, mte_version, accel: str) -> str:
    """Combine ``mte`` (None or bool) and ``mte-version`` (None or a VALUE).

    Both given: accepted only when ``mte`` means the same value under this
    accelerator (``mte=on,mte-version=max`` under TCG; under KVM ``host`` and
    ``max`` are the same, as for gic-version), else an error.
    """
    if mte_version is None:
        return "none" if mte is None else alias(mte, accel)
    if mte is None:
        return mte_version
    meant = alias(mte, accel)
    same = meant == mte_version or (accel == "kvm" and {meant, mte_version} == {"host", "max"})
    if not same:
        raise MteError(
            "mte=%s conflicts with mte-version=%s (under %s, mte=%s means mte-version=%s)"
            % ("on" if mte else "off", mte_version, _accel_label(accel), "on" if mte else "off", meant)
        )
    return mte_version


# --- facts of a build and a host -------------------------------------------------------


def tcg_versions(build) -> tuple:
    """MTE versions TCG in this build can provide, highest first (build.yaml
    ``tcg.mte_versions``; default QEMU's ``[3, 2]``); none without TCG."""
    if "tcg" not in getattr(build, "accelerators", ("tcg",)):
        return ()
    tcg = (getattr(build, "data", None) or {}).get("tcg") or {}
    vals = tcg.get("mte_versions", TCG_DEFAULT)
    return tuple(sorted({int(v) for v in vals}, reverse=True))


def default_cpu(build, machine_type: str | None) -> str | None:
    """The machine's default CPU model (``default-cpu-type`` of query-machines)."""
    for m in build.machines() if machine_type else ():
        if m.get("name") == machine_type:
            t = m.get("default-cpu-type")
            if t:
                return t[: -len("-arm-cpu")] if t.endswith("-arm-cpu") else t
    return None


def tcg_cpu_level(build, cpu_model: str | None) -> int:
    """The highest MTE level TCG can give a guest of this CPU model: the
    model's own ID_AA64PFR1_EL1.MTE (``max``: the highest the build's TCG
    emulates); 0 when the model has no ``tag-memory`` link (no FEAT_MTE2).

    Sources, first hit wins: build.yaml ``tcg.cpu_mte: {model: level}``; the
    build's recorded ``qom-list-properties <model>-arm-cpu`` (``tag-memory``
    present = MTE2); QEMU's MTE2 models.  ``host`` under TCG has no
    features (the host probe needs KVM): 0.
    """
    if not cpu_model:
        return 0
    over = ((getattr(build, "data", None) or {}).get("tcg") or {}).get("cpu_mte") or {}
    if cpu_model in over:
        return int(over[cpu_model])
    if cpu_model == "max":
        return max(tcg_versions(build), default=0)
    if cpu_model == "host":
        return 0
    props = build.recorded_return("qom-list-properties", {"typename": cpu_model + "-arm-cpu"}, "tcg")
    if props is None:
        props = build.recorded_return("device-list-properties", {"typename": cpu_model + "-arm-cpu"}, "tcg")
    if props is not None:
        return 2 if any(p.get("name") == "tag-memory" for p in props) else 0
    return 2 if cpu_model in _MTE2_MODELS else 0


_host_cache: dict = {}
_MTE_PROP = "SYSREG_ID_AA64PFR1_EL1_MTE"


def _host_data(host) -> dict:
    return getattr(host, "data", None) or host or {}


def host_level(host) -> int:
    """The MTE level KVM gives a guest on this host: ID_AA64PFR1_EL1.MTE of
    the host profile when KVM offers ``KVM_CAP_ARM_MTE``, else 0."""
    facts = _facts(host)
    return facts["level"] if facts["cap"] else 0


def _facts(host) -> dict:
    """The host's MTE facts: KVM_CAP_ARM_MTE, ID_AA64PFR1_EL1.MTE and which
    lower values KVM accepts.  Taken from the compile-time derivation
    (``host.derived["arm_cpu"]``, :mod:`qmpserver.arch.arm64.derive`) when
    the profile has it, so a start-up parses no YAML; computed (and cached)
    otherwise."""
    data = _host_data(host)
    key = (data.get("name"), getattr(host, "path", ""), id(data))
    got = _host_cache.get(key)
    if got is not None:
        return got
    kvm = data.get("kvm") or {}
    cap = bool(kvm.get("present")) and int((kvm.get("caps") or {}).get("KVM_CAP_ARM_MTE", 0) or 0) > 0
    arm = (getattr(host, "derived", None) or {}).get("arm_cpu") or {}
    if "field_values" in arm:
        level = int(arm["field_values"].get(_MTE_PROP, 0))
        entry = next((e for e in arm.get("sysreg") or () if e.get("prop") == _MTE_PROP), None)
        accept = entry.get("accept") if entry else 0
        got = {"cap": cap, "level": level, "accept": accept if accept is not None else 0}
    else:
        level = 0
        if data.get("idregs"):
            from . import sysreg

            level = sysreg.mte_level(data)
        got = {"cap": cap, "level": level, "lower": {}}
    _host_cache[key] = got
    return got


def kvm_lower_refusal(host, version: int) -> str | None:
    """Why KVM on this host refuses to give ``version`` below the host's
    level (None: it accepts): the host kernel must let userspace lower
    ID_AA64PFR1_EL1.MTE (KVM_SET_ONE_REG), see :mod:`qmpserver.arch.arm64.kvm`."""
    facts = _facts(host)
    if "accept" in facts:
        if facts["accept"] & (1 << version):
            return None
        return "ID_AA64PFR1_EL1.MTE: not writable on this host's kernel"
    memo = facts["lower"]
    if version in memo:
        return memo[version]
    from . import kvm

    data = _host_data(host)
    why = kvm.check_field_write(
        "ID_AA64PFR1_EL1", "MTE", facts["level"], version, kvm.host_release(data), host=data
    )
    memo[version] = why
    return why


def kvm_usable(host, build) -> bool:
    """KVM can run this build's guests on this host at all."""
    if "kvm" not in getattr(build, "accelerators", ()):
        return False
    if not getattr(host, "kvm_present", False):
        return False
    can = getattr(host, "arch_can_run_kvm", None)
    return can(build.target) if can else True


def kvm_provides(host, build, version: int) -> bool:
    """KVM on this host can give a guest exactly ``version``."""
    if NO_KVM_QUIRK in getattr(build, "quirks", ()) or not kvm_usable(host, build):
        return False
    level = host_level(host)
    if level < 2 or version > level:
        return False
    return version == level or kvm_lower_refusal(host, version) is None


def capabilities(host, build) -> list:
    """``query-mte-capabilities``: one entry per version (3, then 2) in QAPI
    member order ``version, emulated, kernel``.  It depends on the host and
    the build only, never on the running machine's options."""
    emulated = set(tcg_versions(build))
    return [
        {"version": v, "emulated": v in emulated, "kernel": kvm_provides(host, build, v)} for v in VERSIONS
    ]


# --- resolution -----------------------------------------------------------------------


def _kernel_name(host) -> str:
    from .kvm import host_release, parse_release

    rel = parse_release(host_release(_host_data(host)))
    return "%d.%d" % rel[:2]


def _tcg(build, cpu_model: str | None, value: str) -> int:
    if value == "host":
        raise MteError(HOST_NEEDS_KVM)
    cpu = tcg_cpu_level(build, cpu_model)
    if cpu < 2:
        raise MteError(NO_CPU)
    emulated = tcg_versions(build)
    avail = [v for v in emulated if v <= cpu]
    if value == "max":
        if not avail:
            raise MteError(NO_CPU)
        return avail[0]
    n = int(value)
    if n in avail:
        return n
    if n > cpu:
        raise MteError(
            "MTE version %d requested, but not supported by the guest CPU "
            "(%s implements MTE%d)" % (n, cpu_model, cpu)
        )
    raise MteError("MTE version %d requested, but not supported by TCG in this QEMU" % n)


def _kvm(host, build, value: str) -> int:
    level = host_level(host)
    if level < 2:
        raise MteError(NO_KVM)
    if value in ("host", "max"):
        return level
    n = int(value)
    if n == level:
        return n
    if n > level:
        raise MteError(
            "MTE version %d requested, but not supported by KVM (the host provides MTE%d)" % (n, level)
        )
    if kvm_lower_refusal(host, n) is None:
        return n
    raise MteError(
        "MTE version %d requested, but not supported by KVM (the host provides MTE%d "
        "and Linux %s does not let userspace lower ID_AA64PFR1_EL1.MTE)" % (n, level, _kernel_name(host))
    )


def resolve(host, build, accel: str, cpu_model: str | None, value: str) -> int:
    """The MTE version the guest gets (0: none) for a requested VALUE (the
    proposal's, or the upstream bool through :func:`alias`); MteError when
    QEMU would refuse to start.  Never a version other than the one asked
    for: ``host``/``max`` resolve to one, an explicit N is N or an error."""
    if value == "none":
        return 0
    legacy = NO_KVM_QUIRK in getattr(build, "quirks", ())
    if accel in ("kvm", "hvf") and (legacy or accel == "hvf"):
        raise MteError("mach-virt: %s does not support providing MTE to the guest CPU" % _accel_label(accel))
    if accel == "kvm":
        return _kvm(host, build, value)
    if accel == "tcg" or (legacy and accel == "qtest"):
        return _tcg(build, cpu_model, value)
    raise MteError(NO_ACCEL)


def migration_blocker(accel: str, version: int, proposal: bool = False) -> str | None:
    """Upstream KVM guests with MTE cannot migrate (QEMU does not migrate tags:
    ``target/arm/kvm.c`` kvm_arm_enable_mte registers the blocker).  With the
    ``mte-version`` proposal the version is pinned and the tags travel
    (``KVM_ARM_MTE_COPY_TAGS``): no blocker; the destination must present
    exactly the source's version (its KVM refuses any other ID_AA64PFR1_EL1.MTE)."""
    return BLOCKER if accel == "kvm" and version and not proposal else None
