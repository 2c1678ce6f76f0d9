"""x86 CPU models from data: ``query-cpu-model-expansion`` (QEMU ``target/i386/cpu.c``,
``qmp_query_cpu_model_expansion`` → ``x86_cpu_from_model`` → ``x86_cpu_expand_features``).

What a model *is* comes from the build's capture (``profiles capture``): the ``full`` expansion of
every model recorded in the TCG pass, ``host`` and ``max`` under each accelerator (with libvirt's
``migratable`` / ``hv-passthrough`` variants), the property types of ``qom-list-properties``, the
member order of a recorded ``static`` expansion.  What a property *does* comes from the rules
file of the build's QEMU version (``RULES_FILES``: ``models/x86_64/cpu-rules-7.2.yaml``,
``cpu-rules-10.0.yaml``), measured from the same binary
(``tools/capture_x86_cpu_rules.py``): feature spellings, feature dependencies, the CPUID levels a
feature needs, each model's own levels, the KVM default properties of named models.

QEMU's rules reproduced here:

* The model is looked up first: ``CPU model 'NAME' not found`` (QOM type ``NAME-x86_64-cpu``).
* ``props`` that is not a JSON object is ignored (``qobject_to(QDict, …)`` gives NULL) by 7.2;
  10.0 refuses it, ``Invalid parameter type for 'model.props', expected: object``, and its input
  visitor's errors name the member's path (``model.props.avx2``); its ``family`` / ``model`` /
  ``stepping`` setters read a uint64 (a negative JSON integer wraps) and say ``parameter 'family'
  can be at most 270``, its ``vendor`` setter ``value of property 'vendor' must consist of
  exactly 12 characters`` (all measured on both; the quirk ``x86-cpu-props-unvisited`` of
  ``models/qemu-quirks.yaml`` marks the older builds).
* Properties are set in the QDict's iteration order (:func:`qmpserver.wire.qdict.wire_order`),
  the first failure is the answer: unknown → ``Property 'TYPE.NAME' not found``; the visitor's
  type errors; the setters' range checks (``family`` ≤ 0xff+0xf, ``model`` ≤ 0xff, ``stepping``
  ≤ 0xf; ``vendor`` exactly 12 characters).
* Expansion: a feature whose prerequisite is off is cleared; without KVM (or with ``kvm=off``)
  the KVM paravirtual features are cleared; with ``full-cpuid-auto-level`` (default) the minimum
  CPUID levels rise to what the enabled features need (without it, only for the leaves QEMU
  raises anyway: ``levels-always``); ``level`` / ``xlevel`` / ``xlevel2`` /
  ``level-func7`` take those minima unless set.
* ``static``: model ``base`` with the static properties and every feature under one name;
  ``full``: the input name with every property.

What is not modelled is an error naming it (via :func:`qmpserver.arch.targets.recorded_or_missing`,
which first tries the build's recording): a ``host``/``max`` variant of ``migratable`` /
``hv-passthrough`` the capture did not record, setting ``realized`` or a property of a type this
module does not set, a build without per-model recordings (an imported libvirt ``.replies``), or
a build of another QEMU version than the rules were measured on.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ...log import get as get_logger
from ...models import MODELS_DIR
from ...wire.qdict import wire_order

log = get_logger("qmpserver.cpu")

RULES_FILES = {(7, 2): "x86_64/cpu-rules-7.2.yaml", (10, 0): "x86_64/cpu-rules-10.0.yaml"}

# models/qemu-quirks.yaml: builds that set props member by member (7.2), not visited as one
# object (10.0): the texts of the module docstring
UNVISITED_QUIRK = "x86-cpu-props-unvisited"
PROPS_NOT_OBJECT = "Invalid parameter type for 'model.props', expected: object"
# the properties x86_cpu_to_dict puts before the features in a static expansion (x86_cpu_static_props)
STATIC_PROPS = ("min-level", "min-xlevel", "family", "model", "stepping", "model-id", "vendor", "lmce")
# host/max: properties whose effect (the accelerator's supported features, KVM's Hyper-V
# enlightenments) only a recording knows; under TCG hv-passthrough only sets itself (the
# capture's TCG answers with and without it differ in that property alone)
RECORDED_PROPS = {"kvm": ("migratable", "hv-passthrough"), "tcg": ("migratable",)}
# their values when not set (the recordings without them)
RECORDED_DEFAULTS = {"migratable": True, "hv-passthrough": False}
# setter range checks of x86_cpuid_version_set_family/_model/_stepping
INT_RANGES = {"family": 0xFF + 0xF, "model": 0xFF, "stepping": 0xF}
# The feature words' order (QEMU's FeatureWord order, target/i386/cpu.h: the order in which
# x86_cpu_filter_features walks them, hence of unavailable-features) is the rules file's measured
# ``feature-words`` (the CPUID words; it changes between versions: 10.0 adds leaves 0x7.1 EDX,
# 0x80000021 ...); the XSAVE components (XCR0, word 0xD.0 EAX) and then the MSR words come at the
# place of the XCR0 word. Checked against the capture's recorded query-cpu-definitions
# (tests/unit/x86_64/test_x86_libvirt_hosts.py).
XCR0_WORD = (0xD, 0, "EAX")
# XCR0 components (bit of CPUID.0DH:EAX) and the feature that asks for each
# (x86_ext_save_areas); a missing component is listed under that feature's name
XSAVE_COMPONENTS = ((2, "avx"), (3, "mpx"), (4, "mpx"), (5, "avx512f"), (6, "avx512f"), (7, "avx512f"),
                    (9, "pku"), (17, "amx-tile"), (18, "amx-tile"))  # fmt: skip
# a build without a measured MSR table (rules' ``msr``, 10.0's): the MSR words in the order
# QEMU walks them, IA32_ARCH_CAPABILITIES by bit, CORE_CAPABILITY, PERF_CAPABILITIES (then VMX)
MSR_WORD_ORDER = (
    "rdctl-no", "ibrs-all", "rsba", "skip-l1dfl-vmentry", "ssb-no", "mds-no", "pschange-mc-no",
    "tsx-ctrl", "taa-no", "split-lock-detect", "full-width-write",
)  # fmt: skip
# kvm_arch_get_supported_cpuid: TOPOEXT counts as supported whatever KVM says (QEMU keeps the
# models that have it runnable on older kernels)
ALWAYS_SUPPORTED_KVM = ("topoext",)
LEVEL_PROPS = (("min-level", "level"), ("min-xlevel", "xlevel"), ("min-xlevel2", "xlevel2"))
UINT32 = ("uint32",)


class Missing(Exception):
    """Neither the rules nor the capture answer this question: the text says what is missing."""


class X86Error(Exception):
    """QEMU's error for this question."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_rules_cache: dict[str, dict[str, Any]] = {}


def load_rules(rel: str) -> dict[str, Any]:
    r = _rules_cache.get(rel)
    if r is None:
        from ...models import read_yaml

        r = read_yaml(os.path.join(MODELS_DIR, rel))
        _rules_cache[rel] = r
    return r


class Catalog:
    """One build's x86 models under one accelerator (built on first use, kept on the build)."""

    def __init__(self, build: Any, accel: str) -> None:
        self.build = build
        self.accel = accel
        self.version = tuple(build.version[:2])
        self.visited = UNVISITED_QUIRK not in (getattr(build, "quirks", ()) or ())
        rel = RULES_FILES.get(self.version)
        if rel is None:
            raise Missing(
                "no x86 CPU rules for QEMU %s (models/x86_64 has %s)"
                % (".".join(map(str, build.version)), ", ".join(sorted(RULES_FILES.values())))
            )
        self.rules = load_rules(rel)
        if accel == "kvm" and not self.rules.get("model-levels", {}).get("kvm"):
            raise Missing("the x86 CPU rules (%s) were measured without KVM" % rel)
        self.models = self._definitions()
        self.types = self._types()
        self.static_keys = self._static_keys()
        self.aliases: dict[str, list[str]] = self.rules.get("aliases") or {}
        self.depends: dict[str, list[str]] = self.rules.get("depends") or {}
        self.levels: dict[str, dict[str, int]] = self.rules.get("levels") or {}
        self.levels_always: dict[str, dict[str, int]] = self.rules.get("levels-always") or {}
        self.kvm_only: list[str] = self.rules.get("kvm-only") or []
        self.msr: dict[str, list] = self.rules.get("msr") or {}
        self.msr_walk = msr_walk(self.rules)
        self.depends_bits: dict[str, list] = self.rules.get("depends-bits") or {}
        self.depends_rank = {tuple(e): n for n, e in enumerate(self.rules.get("depends-order") or ())}
        self.canonical = {sp: k for k in self.static_keys for sp in self.aliases.get(k, (k,))}
        self._full: dict[str, dict[str, Any]] = {}
        self._said_msr: set[tuple[Any, str]] = set()

    # data from the capture ---------------------------------------------------------------

    def _definitions(self) -> set[str]:
        defs = self.build.recorded_return("query-cpu-definitions", None, self.accel)
        if not defs:
            raise Missing("the build recorded no query-cpu-definitions")
        return {d["name"] for d in defs} | {"base"}

    def _types(self) -> dict[str, str]:
        props = self.build.recorded_return("qom-list-properties", {"typename": "base-x86_64-cpu"})
        if not props:
            raise Missing("the build recorded no qom-list-properties of base-x86_64-cpu")
        return {p["name"]: p["type"] for p in props}

    def _static_keys(self) -> tuple[str, ...]:
        for e in self.build.recorded_calls("query-cpu-model-expansion"):
            ret = e.get("return")
            if ret and ret["model"]["name"] == "base" and "props" in ret["model"]:
                return tuple(ret["model"]["props"])
        raise Missing("the build recorded no static expansion")

    def recorded_full(self, name: str, extra: dict[str, Any]) -> dict[str, Any]:
        """The model's expansion before the input's other properties: recorded (host/max, and
        every named model under TCG) plus the KVM default properties of named models."""
        if name in ("host", "max"):
            args: dict[str, Any] = {"type": "full", "model": {"name": name}}
            if extra:
                args["model"]["props"] = extra
            e = self.build.recorded("query-cpu-model-expansion", args, self.accel)
            if e is None or "return" not in e:
                raise Missing(
                    "the capture has no %s expansion with props %s under %s"
                    % (name, json.dumps(extra), self.accel)
                )
            return dict(e["return"]["model"]["props"])
        base = self._full.get(name)
        if base is None:
            e = self.build.recorded(
                "query-cpu-model-expansion", {"type": "full", "model": {"name": name}}, "tcg"
            )
            if e is None or "return" not in e:
                raise Missing("the capture has no full expansion of model %s" % name)
            base = dict(e["return"]["model"]["props"])
            if self.accel == "kvm":
                overlay = self.rules.get("kvm-overlay", {}).get(name) or {}
                # a feature the overlay shows off only because its prerequisite is off (npt
                # under svm=off) keeps the model's value: it returns with the prerequisite
                taken = {d for f, deps in self.depends.items() if overlay.get(f) is False for d in deps}
                taken = {k for d in taken for k in self.aliases.get(d, (d,))}
                base.update({k: v for k, v in overlay.items() if not (k in taken and v is False)})
            self._full[name] = base
        return dict(base)

    # QEMU's rules ------------------------------------------------------------------------

    def typename(self, name: str) -> str:
        return name + "-x86_64-cpu"

    def set_prop(self, name: str, props: dict[str, Any], key: str, value: Any, user: dict[str, Any]) -> None:
        """object_property_set_qobject of one input property (QEMU's texts)."""
        t = self.types.get(key)
        if t is None:
            raise X86Error("Property '%s.%s' not found" % (self.typename(name), key))
        if key == "realized":
            raise Missing("setting realized is not modelled")
        path = "model.props." + key if self.visited else key
        if t == "bool":
            if type(value) is not bool:
                raise X86Error("Invalid parameter type for '%s', expected: boolean" % path)
            for k in self.aliases.get(key, (key,)):
                props[k] = value
                user[k] = value
            return
        if t in UINT32:
            if type(value) is not int:
                raise X86Error("Parameter '%s' expects uint64" % path)
            if not 0 <= value < 1 << 32:
                raise X86Error("Parameter '%s' expects uint32_t" % key)
            props[key] = user[key] = value
            return
        if key in INT_RANGES and self.visited:
            if type(value) is not int or not -(1 << 63) <= value < 1 << 64:
                raise X86Error("Parameter '%s' expects uint64" % path)
            if value % (1 << 64) > INT_RANGES[key]:
                raise X86Error("parameter '%s' can be at most %d" % (key, INT_RANGES[key]))
            props[key] = user[key] = value
            return
        if key in INT_RANGES:
            if type(value) is not int:
                raise X86Error("Invalid parameter type for '%s', expected: integer" % key)
            if not 0 <= value <= INT_RANGES[key]:
                raise X86Error(
                    "Property .%s doesn't take value %d (minimum: 0, maximum: %d)"
                    % (key, value, INT_RANGES[key])
                )
            props[key] = user[key] = value
            return
        if key in ("model-id", "vendor"):
            if type(value) is not str:
                raise X86Error("Invalid parameter type for '%s', expected: string" % path)
            if key == "vendor" and len(value.encode()) != 12:
                if self.visited:
                    raise X86Error("value of property 'vendor' must consist of exactly 12 characters")
                raise X86Error("Property '.vendor' doesn't take value '%s'" % value)
            props[key] = user[key] = value
            return
        raise Missing("setting property %s (type %s) is not modelled" % (key, t))

    def restore(self, name: str, props: dict[str, Any], user: dict[str, Any]) -> None:
        """A prerequisite the input turns on brings back the model's own features that the
        recorded expansion shows off only because the prerequisite was off (the rules'
        ``restore``, measured: ``Skylake-Client-IBRS`` with ``vmx`` on has its ``vmx-*``);
        features the input sets keep the input's value."""
        for prereq, feats in (self.rules.get("restore", {}).get(name) or {}).items():
            if props.get(prereq) is not True:
                continue
            for f in feats:
                for k in self.aliases.get(f, (f,)):
                    if k not in user:
                        props[k] = True

    def expand_features(
        self,
        name: str,
        props: dict[str, Any],
        user: dict[str, Any],
        levels: tuple[int, int, int] | None = None,
        func7: int = 0,
    ) -> None:
        """x86_cpu_expand_features on the property values: prerequisites, KVM paravirt
        leaves, CPUID minimum levels.  ``levels`` (min-level, min-xlevel, min-xlevel2) are the
        model's own, when not the rules' ``model-levels`` (``host``/``max`` on a host with CPUID
        data: :meth:`host_levels`); ``func7`` is the ``level-func7`` that bits no feature names
        already need (``host``/``max`` with ``migratable=off``)."""
        for f, deps in self.depends.items():
            if not props.get(f):
                for d in deps:
                    for k in self.aliases.get(d, (d,)):
                        props[k] = False
        if self.accel != "kvm" or not props.get("kvm", True):
            for f in self.kvm_only:
                props[f] = False
        if not user:
            return
        model_levels = levels or self.rules["model-levels"][self.accel].get(name)
        if model_levels is None:
            raise Missing("the x86 CPU rules have no CPUID levels of model %s under %s" % (name, self.accel))
        mins = {
            "min-level": model_levels[0],
            "min-xlevel": model_levels[1],
            "min-xlevel2": model_levels[2],
            "level-func7": func7,
        }
        for k in mins:
            if k in user:
                mins[k] = user[k]
        table = self.levels if props.get("full-cpuid-auto-level", True) else self.levels_always
        if True:
            for f, need in table.items():
                if props.get(f):
                    for k, v in need.items():
                        if k == "level-func7" and "level-func7" in user:
                            continue
                        if v > mins[k]:
                            mins[k] = v
        for mk, lk in LEVEL_PROPS:
            props[mk] = mins[mk]
            if lk not in user:
                props[lk] = mins[mk]
        props["level-func7"] = mins["level-func7"]

    def host_props(self, props: dict[str, Any], host: dict[str, Any]) -> None:
        """``host`` (and ``max``, which is ``host`` under KVM) on another host than the capture's:
        the capture's expansion gives the member set and QEMU's defaults; the CPUID features
        are :func:`.hostcpu.host_model` of the host's data (``-machine none`` has the in-kernel
        irqchip), the MSR features its ``msr-features``, ``lmce`` its ``lmce`` (KVM's MCE
        capabilities, ``kvm_cpu_max_instance_init``), and the identity
        (``x86_cpu_max_instance_init``/``host_cpu_realizefn``: vendor, family/model/stepping,
        CPUID levels) its leaves 0, 1 and 0x80000000, the brand string its ``cpu.model_name``."""
        from . import hostcpu

        cpuid = self.rules["cpuid"]
        migratable = props.get("migratable", True) is not False
        on = hostcpu.host_model(host, cpuid, "on", migratable)
        for f in cpuid:
            for k in self.aliases.get(f, (f,)):
                if k in props:
                    props[k] = f in on
        if self.msr:
            # the feature MSRs measured for this build (rules' ``msr``) against the host's data
            offered, unknown = hostcpu.msr_offered(host, cpuid, self.msr)
            for f, bits in self.msr.items():
                has = all(offered.get((i, b), False) for i, b in bits)
                for k in self.aliases.get(f, (f,)):
                    if k in props:
                        props[k] = has
            if unknown:
                log_unknown_msr(host, unknown, "host expansion: reported off")
        else:
            # no measured MSR table for this build: the host file's named MSR features
            msr = host.get("msr-features") or {}
            for f, v in msr.items():
                for k in self.aliases.get(f, (f,)):
                    if k in props:
                        props[k] = v
            # an MSR feature this QEMU names that the host file's MSR data does not (a file
            # converted for an older QEMU) would keep the capture host's value: shown off, and said
            # (a file without MSR data, the capture host's own, keeps the capture's values)
            unnamed = [k for k in self.msr_keys() if k not in msr] if msr else []
            if unnamed:
                for k in unnamed:
                    props[k] = False
                key = (host.get("name"), self.accel)
                if key not in self._said_msr:
                    self._said_msr.add(key)
                    log.warning(
                        "x86 host %s has no MSR data for %s, which QEMU %s names: shown off, not measured",
                        host.get("name"),
                        ", ".join(unnamed),
                        ".".join(map(str, self.build.version)),
                    )
        if props.get("full-cpuid-auto-level", True) and "level-func7" in props:
            props["level-func7"] = self.host_level_func7(host, on, migratable)
        props["lmce"] = bool(host.get("lmce"))
        l0, l1, x0 = hostcpu.leaf(host, 0), hostcpu.leaf(host, 1), hostcpu.leaf(host, 0x80000000)
        sig = l1["EAX"]
        base_family = sig >> 8 & 0xF
        props["vendor"] = host_vendor(host)
        props["family"] = base_family + (sig >> 20 & 0xFF if base_family == 0xF else 0)
        props["model"] = (sig >> 4 & 0xF) | (sig >> 12 & 0xF0 if base_family in (6, 0xF) else 0)
        props["stepping"] = sig & 0xF
        # the brand string QEMU reads with the CPUID instruction (host_cpu_realizefn), which
        # KVM_GET_SUPPORTED_CPUID need not carry: the host file's cpu.model_name
        props["model-id"] = host["cpu"]["model_name"]
        for k in ("level", "min-level"):
            props[k] = l0["EAX"]
        for k in ("xlevel", "min-xlevel"):
            props[k] = x0["EAX"]

    @staticmethod
    def host_levels(host: dict[str, Any]) -> tuple[int, int, int]:
        """The minimum CPUID levels of ``host``/``max`` under KVM (``kvm_cpu_max_instance_init``:
        what ``KVM_GET_SUPPORTED_CPUID`` gives as EAX of leaves 0, 0x80000000 and 0xC0000000),
        from which ``x86_cpu_expand_features`` raises the levels when properties are given.
        Measured with 7.2 on an Intel machine whose KVM lists leaf 0 EAX 0x24 and 0x80000000
        EAX 0x80000008: ``host,avx2=off`` has ``level``/``min-level`` 36 and ``xlevel``/
        ``min-xlevel`` 0x80000008 (tests/unit/profiles/test_capture_x86_kvm.py)."""
        from . import hostcpu

        return (
            hostcpu.leaf(host, 0)["EAX"],
            hostcpu.leaf(host, 0x80000000)["EAX"],
            hostcpu.leaf(host, 0xC0000000)["EAX"],
        )

    def host_level_func7(self, host: dict[str, Any], on: set[str], migratable: bool) -> int:
        """``level-func7`` of ``host``/``max`` under KVM: ``cpuid_min_level_func7`` of
        ``x86_cpu_expand_features`` (full-cpuid-auto-level), the highest subleaf of leaf 7 whose
        feature word (of this build's ``feature-words``) is not empty.  With ``migratable=off``
        a word takes every bit KVM reports, named or not (``x86_cpu_get_supported_feature_word``
        keeps only the named migratable bits when migratable).  Measured with 7.2: on an Intel
        host whose KVM lists a leaf 7.1 EAX bit 7.2 has no name for, 1 with migratable=off and 0
        without; on an AMD host whose KVM lists no leaf 7.1 bit, 0 both ways."""
        from . import hostcpu

        cpuid = self.rules["cpuid"]
        level = 0
        for fn, idx, reg in self.rules["feature-words"]:
            if fn != 7 or not idx or idx <= level:
                continue
            if migratable:
                has = any(f in on for f, loc in cpuid.items() if (loc[0], loc[1], loc[2]) == (7, idx, reg))
            else:
                has = hostcpu.leaf(host, 7, idx)[reg] != 0
            if has:
                level = idx
        return level

    def msr_keys(self) -> list[str]:
        """The features of a static expansion held in MSRs: neither a static property nor
        (under any spelling) a CPUID feature of the rules' ``cpuid`` table."""
        cpuid = self.rules["cpuid"]
        spelled = {k for f in cpuid for k in self.aliases.get(f, (f,))} | set(cpuid)
        return [k for k in self.static_keys if k not in STATIC_PROPS and k not in spelled]

    def feature_bits(self, props: dict[str, Any], user: dict[str, Any]) -> set[tuple[str, int | None, int]]:
        """The bits of the MSR features and of the features a prerequisite can take away
        (``depends-bits``' names), as ``(name, MSR index or None, bit)``, that the vCPU asks
        for before ``x86_cpu_expand_features`` applies the prerequisites: the model's (``props``
        after expansion) and the ones the user turned on (``user``, any spelling)."""
        on = {self.canonical.get(k, k) for k, v in user.items() if v is True}
        off = {self.canonical.get(k, k) for k, v in user.items() if v is False}
        out: set[tuple[str, int | None, int]] = set()
        for f, bits in self.msr.items():
            if f in on or (props.get(f) is True and f not in off):
                out.update((f, i, b) for i, b in bits)
        for bits in self.depends_bits.values():
            for f, i, b in bits:
                if i is None and (f in on or (props.get(f) is True and f not in off)):
                    out.add((f, i, b))
        return out

    def dependency_pass(
        self, props: dict[str, Any], user: dict[str, Any], bits: set[tuple[str, int | None, int]]
    ) -> list[tuple[str, int | None, int]]:
        """``x86_cpu_expand_features``' feature dependencies on the bits a vCPU asks for: every
        bit of a prerequisite that is off is cleared from ``bits`` (a prerequisite held in an MSR
        is off once its own bits are: chains, ``vmx`` → ``vmx-secondary-ctls`` → ``vmx-ept``);
        the cleared bits the user asked for are returned, in the order QEMU warns about them
        (``This feature depends on other features that were not requested``, whatever
        ``check`` says; the rules' ``depends-order``, measured with every prerequisite off).
        QEMU counts them as filtered."""
        asked = {self.canonical.get(k, k) for k, v in user.items() if v is True}
        cleared: list[tuple[str, int | None, int]] = []
        changed = True
        while changed:
            changed = False
            for prereq, deps in self.depends_bits.items():
                if prereq in self.msr:
                    on = all((prereq, i, b) in bits for i, b in self.msr[prereq])
                else:
                    on = props.get(prereq) is True
                if on:
                    continue
                for f, i, b in deps:
                    if (f, i, b) in bits:
                        bits.discard((f, i, b))
                        cleared.append((f, i, b))
                        changed = True
        warned = [e for e in cleared if e[0] in asked]
        return sorted(warned, key=lambda e: self.depends_rank.get(e, len(self.depends_rank)))

    def unavailable_features(self, name: str, host: dict[str, Any]) -> list[str]:
        """``unavailable-features`` of a named model on ``host`` under KVM
        (``x86_cpu_class_check_missing_features``): the features of the model's KVM expansion
        that the host cannot give (CPUID: :func:`.hostcpu.available` with the in-kernel
        irqchip of ``-machine none``, plus ``topoext``; MSR features: the host's feature MSRs,
        :func:`.hostcpu.msr_offered`, a feature the data does not give listed and logged;
        XSAVE components: the host's CPUID.0DH:EAX), in feature-word then bit order (the MSR
        words after the XSAVE components, in the rules' ``msr-words`` order; a name QEMU gives
        two bits of a word can be listed twice, as QEMU does).  A feature whose prerequisite is off
        or itself missing is not listed (``npt`` of the EPYC models, whose ``svm`` the KVM
        defaults turn off: measured on the capture)."""
        from . import hostcpu

        cpuid = self.rules["cpuid"]
        props = self.recorded_full(name, {})
        avail = hostcpu.available(host, cpuid, "on") | set(ALWAYS_SUPPORTED_KVM)
        missing = {f for f in cpuid if props.get(f) is True and f not in avail}
        off = {f for f in self.depends if props.get(f) is not True} | missing
        missing -= {d for f in off for d in self.depends.get(f, ())}

        words = [(leaf, sub or 0, reg) for leaf, sub, reg in self.rules["feature-words"]]
        early = words.index(XCR0_WORD)

        def order(f: str) -> tuple[int, int]:
            leaf, sub, reg, bit = cpuid[f]
            return words.index((leaf, sub or 0, reg)), bit

        ranked = sorted(missing, key=order)
        out = [f for f in ranked if order(f)[0] < early]
        xcr0 = hostcpu.leaf(host, 0xD, 0)["EAX"]
        out += [f for bit, f in XSAVE_COMPONENTS if props.get(f) is True and not xcr0 >> bit & 1]
        if self.msr:
            offered, unknown = hostcpu.msr_offered(host, cpuid, self.msr)
            out += [f for f, i, b in self.msr_walk if props.get(f) is True and not offered.get((i, b), False)]
            asked = [f for f in unknown if props.get(f) is True]
            if asked:
                log_unknown_msr(host, asked, "unavailable-features of %s: listed as missing" % name)
            out += [f for f in ranked if order(f)[0] > early]
        else:
            msr = host.get("msr-features") or {}
            vmx = [k for k in self.static_keys if k.startswith("vmx-")]
            out += [f for f in (*MSR_WORD_ORDER, *vmx) if props.get(f) is True and not msr.get(f, False)]
            out += [f for f in ranked if order(f)[0] > early]
        return out

    def expand(
        self, kind: str, name: str, in_props: Any, host: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``host``: the instance's x86 CPUID data (:func:`.hostcpu.for_host`), or None when
        the build's capture host is the instance's host."""
        if name not in self.models:
            raise X86Error("CPU model '%s' not found" % name)
        if type(in_props) is not dict and in_props is not None and self.visited:
            raise X86Error(PROPS_NOT_OBJECT)
        given = in_props if type(in_props) is dict else {}
        recorded: dict[str, Any] = {}
        if name in ("host", "max"):
            recorded = {k: v for k, v in given.items() if k in RECORDED_PROPS.get(self.accel, ())}
        # a recorded property at its default (libvirt's -cpu host,migratable=on) is the
        # recording without it
        extra = {k: v for k, v in recorded.items() if RECORDED_DEFAULTS.get(k) is not v}
        props = self.recorded_full(name, extra)
        levels, func7 = None, 0
        if host is not None and name in ("host", "max") and self.accel == "kvm":
            self.host_props(props, host)
            levels = self.host_levels(host)
            if props.get("migratable", True) is False:
                # the words take every bit KVM reports, named or not (host_level_func7)
                func7 = self.host_level_func7(host, set(), False)
        elif host is not None and name != "base" and self.accel == "kvm":
            # x86_cpu_load_model: with the host's CPUID (KVM) a named model takes the host's
            # vendor (the capture's KVM overlay has the capture host's; measured on an AMD
            # machine: Skylake-Client's static expansion has vendor AuthenticAMD, base "")
            props["vendor"] = host_vendor(host)
        user: dict[str, Any] = {}
        for key in wire_order(tuple(given)):
            if key in recorded:
                continue
            self.set_prop(name, props, key, given[key], user)
        self.restore(name, props, user)
        self.expand_features(name, props, user, levels, func7)
        if kind == "static":
            return self.static_of(props)
        return {"model": {"name": name, "props": props}}

    def static_of(self, props: dict[str, Any]) -> dict[str, Any]:
        """The ``static`` expansion of a model whose ``full`` properties are ``props``."""
        return {"model": {"name": "base", "props": {k: props[k] for k in self.static_keys}}}


def host_vendor(host: dict[str, Any]) -> str:
    """The vendor string of a host's CPUID leaf 0 (EBX, EDX, ECX)."""
    from . import hostcpu

    l0 = hostcpu.leaf(host, 0)
    return b"".join(l0[r].to_bytes(4, "little") for r in ("EBX", "EDX", "ECX")).decode()


def msr_walk(rules: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(feature, MSR index, bit) of every MSR feature bit in the order ``x86_cpu_filter_features``
    walks them: the rules' ``msr-words`` (measured), bit by bit."""
    table = rules.get("msr") or {}
    out = []
    for index in rules.get("msr-words") or ():
        out += sorted(
            ((f, i, b) for f, bits in table.items() for i, b in bits if i == index), key=lambda e: e[2]
        )
    return out


def log_unknown_msr(host: dict[str, Any], features: list[str], what: str) -> None:
    """A question that needs an MSR feature the host's data does not give (libvirt's
    cputestdata has IA32_ARCH_CAPABILITIES at most): said on the log, not hidden."""
    log.warning(
        "x86 host %s: whether KVM offers %s (held in MSRs) is not in the host's data (%s; not modelled)",
        host.get("name", "?"),
        ", ".join(features),
        what,
    )


def catalog(build: Any, accel: str) -> Catalog:
    """The build's catalogue for ``accel`` (kept on the build: its data does not change)."""
    cache = build.__dict__.setdefault("_x86_catalogs", {})
    cat = cache.get(accel)
    if cat is None:
        cat = cache[accel] = Catalog(build, accel)
    return cat
