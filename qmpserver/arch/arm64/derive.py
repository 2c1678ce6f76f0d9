"""Compile-time derivations for aarch64 CPU models (cached with the profile).

The aarch64 steps of the profile compile pipeline (registered in
:mod:`qmpserver.arch.steps`, called by ``profiles.loader.compile_host`` /
``compile_build``): ``host_derived(host_dict)`` for every aarch64 host,
``build_derived(build, deps)`` for every build.  Both run once per set of
source files (the result is pickled in the compile cache); nothing here runs
per request.  Data files are read through :mod:`qmpserver.models`.

Host side (``Host.derived["arm_cpu"]``):

* ``kvm``: what the ``host`` CPU model sees under KVM: SVE support and
  vector lengths, PAuth, PMU, steal time, 32-bit EL1;
* ``sysreg``: the ``SYSREG_<REG>_<FIELD>`` properties of the proposal
  ``cpu-idreg-props`` for the host's kernel (writable fields only), each with
  its host value and the set of values KVM would accept, precomputed with
  :class:`qmpserver.arch.arm64.kvm.FieldChecker` (what
  :func:`~qmpserver.arch.arm64.kvm.check_field_write` answers);
* ``fields``: every field of the ID-register table (name, bits, safe-value
  policy) and the host's value of each, for baseline/comparison.

Build side (``Build.derived["arm_cpu"]``): the CPU model list, each model's
properties, the advertised list and the version-dependent texts.
"""

from __future__ import annotations

import os
from typing import Any

from ... import models
from . import kvm as K
from . import sysreg as sr

__all__ = ["host_derived", "build_derived", "CPU_MODELS_FILE"]

CPU_MODELS_FILE = os.path.join("cpus", "arm.yaml")
PROPS_BY_VERSION_FILE = os.path.join("arm64", "cpu-props-by-version.yaml")

SVE_NAMES = ["sve%d" % (128 * vq) for vq in range(1, 17)]

# registers the proposal never turns into properties (not feature ID registers)
_SKIP_CLASSES = ("per-vcpu",)
# precompute acceptance by enumeration up to this field width
_ENUM_WIDTH = 8


# --------------------------------------------------------------------------
# host


def _field_table(table: Any, rules: Any) -> list[tuple[str, str, str, int, int, str, bool]]:
    """[(prop, reg, field, lsb, width, policy, signed)] for every named field."""
    out = []
    for reg, rd in table["registers"].items():
        if rd.get("class") in _SKIP_CLASSES:
            continue
        for f in rd.get("fields") or ():
            width = f["msb"] - f["lsb"] + 1
            policy, signed = K.field_policy(reg, f, rules)
            out.append(("SYSREG_%s_%s" % (reg, f["name"]), reg, f["name"], f["lsb"], width, policy, signed))
    return out


def _kvm_facts(host: dict[str, Any]) -> dict[str, Any]:
    kvm = host.get("kvm") or {}
    caps = kvm.get("caps") or {}
    present = bool(kvm.get("present"))
    idregs = host.get("idregs") or {}

    def cap(name):
        return present and int(caps.get(name, 0) or 0) > 0

    sve = cap("KVM_CAP_ARM_SVE")
    if sve and idregs and "ID_AA64PFR0_EL1" in idregs:
        sve = sr.sve_present(host)
    vls = 0
    if sve:
        for bits in kvm.get("sve_vector_lengths") or ():
            vq = int(bits) // 128
            if 1 <= vq <= 16:
                vls |= 1 << (vq - 1)
    pauth = cap("KVM_CAP_ARM_PTRAUTH_ADDRESS") and cap("KVM_CAP_ARM_PTRAUTH_GENERIC")
    if pauth and idregs and ("ID_AA64ISAR1_EL1" in idregs or "ID_AA64ISAR2_EL1" in idregs):
        pauth = sr.pauth_present(host)
    return {
        "present": present,
        "sve": bool(sve and vls),
        "sve_vls": vls,
        "pauth": bool(pauth),
        "pmu": cap("KVM_CAP_ARM_PMU_V3"),
        "steal_time": cap("KVM_CAP_STEAL_TIME"),
        "el1_32bit": cap("KVM_CAP_ARM_EL1_32BIT"),
        "midr": int((host.get("cpu") or {}).get("midr") or idregs.get("MIDR_EL1", 0) or 0),
    }


def _sysreg_props(host: dict[str, Any], table: Any, rules: Any) -> list[dict[str, Any]]:
    """The SYSREG_* properties of ``host`` (proposal cpu-idreg-props)."""
    release = K.host_release(host)
    rel = K.parse_release(release)
    if rel < K.parse_release(rules["ioctl"]["since"]):
        return []
    if K.host_cap(host, rules["ioctl"].get("cap", "KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES")) <= 0:
        return []
    writable = K.writable_fields(rel, host, table=table, rules=rules)
    checker = K.FieldChecker(rel, host, table=table, rules=rules)
    out = []
    for reg, rd in table["registers"].items():
        names = writable.get(reg)
        if not names:
            continue
        value = int((host.get("idregs") or {}).get(reg, 0))
        for f in rd.get("fields") or ():
            name = f["name"]
            if name not in names:
                continue
            width = f["msb"] - f["lsb"] + 1
            hv = (value >> f["lsb"]) & ((1 << width) - 1)
            policy, signed = K.field_policy(reg, f, rules)
            entry = {
                "prop": "SYSREG_%s_%s" % (reg, name),
                "reg": reg,
                "field": name,
                "lsb": f["lsb"],
                "width": width,
                "host": hv,
                "policy": policy,
                "signed": signed,
                "accept": None,
                "reasons": {},
            }
            specials = [
                r for r in (rules.get("special_rules") or ()) if r.get("field") == "%s.%s" % (reg, name)
            ]
            if width <= _ENUM_WIDTH:
                accept = 0
                reasons = {}
                for v in range(1 << width):
                    why = checker.check(reg, name, hv, v)
                    if why is None:
                        accept |= 1 << v
                    elif not K.policy_accepts(policy, signed, width, hv, v):
                        continue  # the policy text explains it
                    else:
                        reasons[v] = why  # a special rule refused it
                entry["accept"] = accept
                entry["reasons"] = reasons
            elif specials:
                # not expected in the data; keep the policy and note the rules
                entry["note"] = "special rules not enumerated for a %d-bit field" % width
            out.append(entry)
    return out


def host_derived(host: dict[str, Any]) -> dict[str, Any]:
    """Everything the aarch64 CPU code needs from one host, computed once (nothing for a
    host file that gives no kernel release)."""
    if not (host.get("kernel") or {}).get("release"):
        return {}
    table = sr.sysreg_table()
    rules = K.writable_rules()
    facts = _kvm_facts(host)
    fields = _field_table(table, rules)
    idregs = host.get("idregs") or {}
    values = {}
    for prop, reg, _name, lsb, width, _pol, _sig in fields:
        values[prop] = (int(idregs.get(reg, 0)) >> lsb) & ((1 << width) - 1)
    try:
        sysreg_props = _sysreg_props(host, table, rules) if facts["present"] else []
    except sr.SysregError:
        sysreg_props = []
    out = {
        "arm_cpu": {
            "kvm": facts,
            "sysreg": sysreg_props,
            "fields": fields,
            "field_values": values,
            "kernel": (host.get("kernel") or {}).get("release", ""),
        }
    }
    return out


# --------------------------------------------------------------------------
# build


def _read_models(deps: set[str] | None) -> dict[str, Any]:
    path = os.path.join(models.MODELS_DIR, CPU_MODELS_FILE)
    if deps is not None:
        deps.add(path)
        # the host derivation reads the arm64 tables: invalidate on their change
        arm = os.path.join(models.MODELS_DIR, "arm64")
        if os.path.isdir(arm):
            for f in os.listdir(arm):
                if f.endswith(".yaml"):
                    deps.add(os.path.join(arm, f))
    return models.read_yaml(path, error=sr.DataError)


def _vtuple(s: Any) -> tuple[int, ...]:
    parts = [int(x) for x in str(s).split(".")]
    return tuple((parts + [0, 0, 0])[:3])


def _pick_versioned(entries: dict[Any, Any], version: tuple[int, ...]) -> Any:
    """The entry with the greatest key <= version (else the smallest key)."""
    keys = sorted(entries, key=_vtuple)
    best = keys[0]
    for k in keys:
        if _vtuple(k) <= tuple(version):
            best = k
    return entries[best]


def _recorded_defs(build: Any) -> list[str] | None:
    rec = build.recorded("query-cpu-definitions", None, None)
    if rec is None:
        for e in build.recorded_calls("query-cpu-definitions"):
            if "return" in e:
                rec = e
                break
    if rec is None or "return" not in rec:
        return None
    return [d["name"] for d in rec["return"]]


def _recorded_expansion(build: Any, name: str) -> dict[str, Any] | None:
    """Props of a recorded no-props TCG expansion of ``name`` (or None)."""
    args = {"type": "full", "model": {"name": name}}
    for accel in ("tcg", None):
        e = build.recorded("query-cpu-model-expansion", args, accel)
        if e is not None and e.get("accel") in ("tcg", None) and "return" in e:
            return e["return"]["model"].get("props") or {}
    return None


def _recorded_qom_props(build: Any, typename: str, accel: str = "tcg") -> list[tuple[str, str]] | None:
    """A recorded qom-list-properties of ``typename``, preferably of ``accel``'s pass
    (under KVM, 'max' is 'host' and has other properties)."""
    e = build.recorded("qom-list-properties", {"typename": typename}, accel)
    if e is None or "return" not in e:
        return None
    if e.get("accel") not in (accel, None):
        return None
    return [(p["name"], p["type"]) for p in e["return"]]


_NOT_SETTABLE = ("type", "realized", "hotplugged", "hotpluggable", "parent_bus")


def _settable(props: list[tuple[str, str]]) -> dict[str, str]:
    out = {}
    for name, typ in props:
        if name in _NOT_SETTABLE or typ.startswith(("link<", "child<")):
            continue
        out[name] = typ
    return out


def _cntfrq(c: dict[str, Any], version: tuple[int, ...]) -> dict[str, Any]:
    modern = "gigahertz_since" in c and tuple(version) >= _vtuple(c["gigahertz_since"])
    return {
        "default": int(c.get("legacy", 62500000)),
        "models": {m: int(c.get("gigahertz", 1000000000)) for m in (c.get("gigahertz_models") or ())}
        if modern
        else {},
    }


def absent_props(version: tuple[int, ...]) -> dict[str, list[str]]:
    """{"tcg"|"kvm": the CPU properties QEMU ``version`` does not have under that
    accelerator} from ``models/arm64/cpu-props-by-version.yaml`` (a property without a
    ``since`` for a scope never exists there).  Its reader is :func:`_read_models`' deps."""
    data = models.data(PROPS_BY_VERSION_FILE)
    release = _release_of(version)
    out: dict[str, list[str]] = {"tcg": [], "kvm": []}
    for name, p in (data.get("properties") or {}).items():
        since = p.get("since") or {}
        for scope in out:
            if scope not in since or release < _vtuple(since[scope]):
                out[scope].append(name)
    return out


def _release_of(version: tuple[int, ...]) -> tuple[int, ...]:
    """The release a QEMU version belongs to for feature checks: X.Y.90 and later are the
    release candidates of the next release, feature-frozen (QEMU's rc0 is X.Y.90, e.g.
    v7.0.0-rc2 reports 6.2.92; after X.2 comes X+1.0); X.Y.50 development trees and
    stable releases are themselves."""
    v = tuple((tuple(version) + (0, 0, 0))[:3])
    if v[2] < 90:
        return v
    return (v[0] + 1, 0, 0) if v[1] >= 2 else (v[0], v[1] + 1, 0)


def build_derived(build: Any, deps: set[str] | None = None) -> dict[str, Any]:
    """The CPU catalogue of one aarch64 build (``Build.derived['arm_cpu']``)."""
    if build.target != "aarch64":
        return {}
    data = _read_models(deps)
    quirks = build.quirks
    version = build.version
    advertised = []
    for a in data["advertised"]:
        if isinstance(a, dict):
            if a.get("quirk") in quirks:
                continue
            advertised.append(a["name"])
        else:
            advertised.append(a)
    has_kvm = bool({"kvm", "hvf"} & set(build.accelerators))

    names = _recorded_defs(build)
    recorded_defs = names is not None
    if names is None:
        names = list(_pick_versioned(data["definitions"], version))
        if not has_kvm:
            names = [n for n in names if n != "host"]
        elif "host" not in names:
            names.append("host")
    defs = [{"name": n, "static": False, "typename": n + "-arm-cpu", "deprecated": False} for n in names]

    common = data.get("common_props") or {}
    models = {}
    for n in names:
        if n == "host":
            continue
        facts = dict(data["models"].get(n) or {})
        rec = _recorded_expansion(build, n)
        source = "data"
        if rec is not None:
            source = "recording"
            facts["aarch64"] = "aarch64" in rec
            facts["pmu"] = "pmu" in rec
            if "sve" in rec:
                vls = [128 * vq for vq in range(1, 17) if rec.get("sve%d" % (128 * vq))]
                facts["sve"] = vls
            else:
                facts.pop("sve", None)
            facts["pauth"] = "pauth" in rec
        vq_supported = 0
        for bits in facts.get("sve") or ():
            vq_supported |= 1 << (int(bits) // 128 - 1)
        qom = _recorded_qom_props(build, n + "-arm-cpu")
        if qom is not None:
            settable = _settable(qom)
            qom_list = qom
        else:
            settable = dict(common.get("aarch64" if facts.get("aarch64") else "arm32") or {})
            if n == "max":
                settable.update(common.get("max_tcg") or {})
            qom_list = None
        models[n] = {
            "aarch64": bool(facts.get("aarch64")),
            "pmu": bool(facts.get("pmu")),
            "sve": "sve" in facts,
            "sve_supported": vq_supported,
            "pauth": bool(facts.get("pauth")),
            "sme": bool(facts.get("sme")) or ("sme" in settable),
            "sve_max_vq": bool(facts.get("sve_max_vq")) or ("sve-max-vq" in settable),
            "midr": facts.get("midr"),
            "settable": settable,
            "qom": qom_list,
            "source": source,
        }
    host_qom = _recorded_qom_props(build, "host-arm-cpu", "kvm")

    virt = _pick_versioned({e["since"]: e for e in data["virt"]}, version)
    if "arm-cpu-no-pauth-qarma3" in quirks:
        pauth_texts = "7.2"
    elif "arm-cpu-no-pauth-qarma5" in quirks:
        pauth_texts = "8.0"
    else:
        pauth_texts = "10.0"
    return {
        "arm_cpu": {
            "advertised": advertised,
            "definitions": defs,
            "definitions_recorded": recorded_defs,
            "models": models,
            "host_qom": host_qom,
            "common_props": common,
            "virt": virt,
            "pauth_texts": pauth_texts,
            "own_visitor": "arm-cpu-props-own-visitor" in quirks,
            "unchecked": "arm-cpu-props-unchecked" in quirks,
            "has_kvm": has_kvm,
            "cntfrq": _cntfrq(data.get("cntfrq") or {}, version),
            "absent_props": absent_props(version),
        }
    }
