"""Linux/KVM facts per kernel release: writable ID-register masks, the
KVM_SET_ONE_REG acceptance rules, firmware pseudo-registers and capability
numbers.

Pure functions over plain dicts (``models/arm64/kvm-*.yaml`` and the field
table); the defaults come from :func:`qmpserver.arch.arm64.sysreg.data`.
No YAML is parsed at import time.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

from ... import models
from . import sysreg as _sr
from .sysreg import DataError, SysregError

__all__ = [
    "parse_release",
    "release_at_least",
    "host_release",
    "PLACEHOLDER_RELEASES",
    "release_known",
    "writable_rules",
    "firmware_table",
    "caps_table",
    "writable_fields",
    "writable_masks",
    "writable_mask_array",
    "writable_properties",
    "field_policy",
    "policy_accepts",
    "check_field_write",
    "check_register_write",
    "FieldChecker",
    "field_checker",
    "firmware_regs",
    "cap_number",
    "cap_known",
    "host_cap",
    "validate_host",
    "check_host",
    "load_host",
]

Release = tuple[int, int, int]

_REL_RE = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")


def parse_release(release: str | Release | Mapping[str, Any]) -> Release:
    """``'6.12.0-55.el10.aarch64'`` -> ``(6, 12, 0)``.  Accepts a tuple, a
    release string or a host dict (its ``kernel.release``)."""
    if isinstance(release, tuple):
        return (tuple(release) + (0, 0, 0))[:3]  # type: ignore[return-value]
    if isinstance(release, Mapping):
        return parse_release(host_release(release))
    if isinstance(release, (int, float)) and not isinstance(release, bool):
        release = str(release)
    if not isinstance(release, str):
        raise SysregError(f"kernel release {release!r}: expected a string such as '6.12' or '6.12.0-55.el10'")
    m = _REL_RE.match(release)
    if not m:
        raise SysregError(f"kernel release {release!r}: expected MAJOR.MINOR[.PATCH][-suffix], e.g. '6.12.0'")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


# kernel.release of an imported host, whose kernel QMP does not reveal (docs/profiles.md,
# "Imported hosts"): no release-dependent KVM behaviour is assumed
PLACEHOLDER_RELEASES = ("0.0", "0", "")


def release_known(release: str) -> bool:
    """False for the placeholder release of an imported host."""
    return str(release) not in PLACEHOLDER_RELEASES


def release_at_least(release, ref) -> bool:
    return parse_release(release) >= parse_release(ref)


def host_release(host: Mapping[str, Any] | None) -> str:
    if host is None:
        raise SysregError("host None: no kernel.release")
    try:
        return str(host["kernel"]["release"])
    except (KeyError, TypeError):
        raise SysregError(
            f"host {host.get('name', '?') if isinstance(host, Mapping) else host!r}: no kernel.release"
        ) from None


def writable_rules() -> Mapping[str, Any]:
    return _sr.data("kvm-writable")


def firmware_table() -> Mapping[str, Any]:
    return _sr.data("kvm-firmware-regs")


def caps_table() -> Mapping[str, Any]:
    return _sr.data("kvm-caps")


# --------------------------------------------------------------------------
# Capabilities


def cap_number(name: str, caps: Mapping[str, Any] | None = None) -> int:
    caps = (caps or caps_table())["caps"]
    try:
        return caps[name]["number"]
    except KeyError:
        raise SysregError(f"unknown KVM capability {name!r}") from None


def cap_known(name: str, release, caps: Mapping[str, Any] | None = None) -> bool:
    """Whether a kernel of ``release`` knows capability ``name``."""
    caps = (caps or caps_table())["caps"]
    if name not in caps:
        raise SysregError(f"unknown KVM capability {name!r}")
    return release_at_least(release, caps[name]["since"])


def host_cap(host: Mapping[str, Any], name: str) -> int:
    """What KVM_CHECK_EXTENSION(name) answers on ``host`` (0 if not listed
    or KVM absent)."""
    kvm = host.get("kvm") or {}
    if not kvm.get("present"):
        return 0
    return int((kvm.get("caps") or {}).get(name, 0))


# --------------------------------------------------------------------------
# Writable masks


class _Rule:
    __slots__ = ("all", "excepted", "fields", "bits")

    def __init__(self):
        self.all = False
        self.excepted: set[str] = set()
        self.fields: set[str] = set()
        self.bits = 0


def _field_defined(f: Mapping[str, Any], rel: Release) -> bool:
    s = f.get("since")
    return s is None or rel >= parse_release(s)


def _reg_defined(reg: Mapping[str, Any], rel: Release) -> bool:
    s = reg.get("since")
    return s is None or rel >= parse_release(s)


def _check_fields(names, reg, table, where, file):
    if names == "all":
        return
    if not isinstance(names, list):
        raise DataError(file, where, "expected a list of field names or 'all'")
    known = set(_sr.field_names(reg, table))
    for i, n in enumerate(names):
        if n not in known:
            raise DataError(file, f"{where}[{i}]", f"{reg} has no field {n!r}")


def _apply(state: dict[str, _Rule], reg: str, change: Mapping[str, Any], table, where: str, file) -> None:
    if reg not in table["registers"]:
        raise DataError(file, where, f"unknown register {reg!r}")
    rule = state.setdefault(reg, _Rule())
    if "set" in change:
        s = change["set"]
        new = _Rule()
        if s in (None, "none"):
            pass
        elif isinstance(s, Mapping) and "fields" in s:
            _check_fields(s["fields"], reg, table, f"{where}.set.fields", file)
            new.fields = set(s["fields"])
        elif isinstance(s, Mapping) and "all_except" in s:
            _check_fields(s["all_except"], reg, table, f"{where}.set.all_except", file)
            new.all = True
            new.excepted = set(s["all_except"])
        elif isinstance(s, Mapping) and "bits" in s and isinstance(s["bits"], int):
            new.bits = s["bits"]
        else:
            raise DataError(
                file, f"{where}.set", "expected none, {fields: [...]}, {all_except: [...]} or {bits: N}"
            )
        state[reg] = rule = new
    if "add" in change:
        names = change["add"]
        _check_fields(names, reg, table, f"{where}.add", file)
        if names == "all":
            names = _sr.field_names(reg, table)
        for n in names:
            rule.excepted.discard(n)
            rule.fields.add(n)
    if "remove" in change:
        names = change["remove"]
        _check_fields(names, reg, table, f"{where}.remove", file)
        for n in names:
            rule.excepted.add(n)
            rule.fields.discard(n)
            rule.bits &= ~_sr.field_mask(_sr.field(reg, n, table))


def _rule_fields(reg: str, rule: _Rule, rel: Release, table) -> list[str]:
    out = []
    for f in _sr.fields(reg, table):
        if not _field_defined(f, rel) or f["name"] in rule.excepted:
            continue
        if rule.all or f["name"] in rule.fields:
            out.append(f["name"])
        elif rule.bits and (rule.bits & _sr.field_mask(f)) == _sr.field_mask(f):
            out.append(f["name"])
    return out


def _rule_mask(reg: str, rule: _Rule, rel: Release, table) -> int:
    m = rule.bits
    for name in _rule_fields(reg, rule, rel, table):
        m |= _sr.field_mask(_sr.field(reg, name, table))
    return m


def _imp_id_enabled(host, imp_id_regs) -> bool:
    if imp_id_regs is not None:
        return bool(imp_id_regs)
    if host is None:
        return True
    return host_cap(host, "KVM_CAP_ARM_WRITABLE_IMP_ID_REGS") > 0


def _state(
    kernel_release, *, host=None, imp_id_regs=None, table=None, rules=None
) -> tuple[Release, dict[str, _Rule]]:
    table = _sr.table_or_default(table)
    rules = rules if rules is not None else writable_rules()
    file = "models/arm64/kvm-writable.yaml"
    rel = parse_release(kernel_release)
    state: dict[str, _Rule] = {}
    ioctl_since = parse_release(rules["ioctl"]["since"])
    if rel < ioctl_since:
        for i, row in enumerate(rules.get("legacy") or []):
            if rel >= parse_release(row["release"]):
                for reg, names in (row.get("add") or {}).items():
                    _apply(state, reg, {"add": names}, table, f"legacy[{i}].add.{reg}", file)
        return rel, state
    imp = _imp_id_enabled(host, imp_id_regs)
    for i, row in enumerate(rules.get("releases") or []):
        if rel < parse_release(row["release"]):
            continue
        for j, ch in enumerate(row.get("changes") or []):
            where = f"releases[{i}].changes[{j}]"
            if ch.get("requires_cap") == "KVM_CAP_ARM_WRITABLE_IMP_ID_REGS" and not imp:
                continue
            regs = ch.get("regs") or [ch.get("reg")]
            for reg in regs:
                _apply(state, reg, ch, table, where, file)
    _host_overrides(state, host, table)
    return rel, state


def _host_overrides(state, host, table) -> None:
    """A host file's ``kvm.writable`` changes (same syntax as a release's
    ``changes``), applied after the release rows of a kernel with the
    writable-ID-register framework (6.7+): models a kernel that is not
    upstream, e.g. one that lets userspace lower ID_AA64PFR1_EL1.MTE."""
    if not isinstance(host, Mapping):
        return
    changes = (host.get("kvm") or {}).get("writable") or []
    file = host.get("_path") or host.get("name") or "host"
    for j, ch in enumerate(changes):
        for reg in ch.get("regs") or [ch.get("reg")]:
            _apply(state, reg, ch, table, f"kvm.writable[{j}]", file)


def _zero_aarch32(host, rules) -> bool:
    return (
        host is not None and rules.get("aarch32_zero_without_el0_aarch32", True) and not _sr.aarch32_el0(host)
    )


def writable_fields(
    kernel_release=None,
    host: Mapping[str, Any] | None = None,
    *,
    imp_id_regs: bool | None = None,
    table=None,
    rules=None,
) -> dict[str, list[str]]:
    """``{register: [writable field, ...]}`` on that kernel for that host
    (registers with no writable named field are left out).  Before 6.7 this
    lists the legacy per-field lowering paths."""
    if kernel_release is None:
        kernel_release = host_release(host)
    table = _sr.table_or_default(table)
    rules = rules if rules is not None else writable_rules()
    rel, state = _state(kernel_release, host=host, imp_id_regs=imp_id_regs, table=table, rules=rules)
    out = {}
    zero32 = _zero_aarch32(host, rules)
    for reg, rule in state.items():
        if zero32 and table["registers"][reg].get("class") == "aarch32-id":
            continue
        if not _reg_defined(table["registers"][reg], rel):
            continue
        names = _rule_fields(reg, rule, rel, table)
        if names:
            out[reg] = names
    return out


def writable_masks(
    kernel_release=None,
    host: Mapping[str, Any] | None = None,
    *,
    imp_id_regs: bool | None = None,
    table=None,
    rules=None,
) -> dict[str, int]:
    """``{register: mask}`` as KVM_ARM_GET_REG_WRITABLE_MASKS would report on
    that kernel for that host: empty before 6.7 (no ioctl); otherwise every
    register of the feature-ID range the kernel describes, 0 when nothing is
    writable.  AArch32 registers are 0 when ``host`` has no 32-bit EL0.
    MIDR/REVIDR/AIDR appear (6.15+) only when the VM enabled
    KVM_CAP_ARM_WRITABLE_IMP_ID_REGS: ``imp_id_regs`` says so explicitly;
    ``None`` means "whenever the host offers the capability" (or, without a
    host, always).
    """
    if kernel_release is None:
        kernel_release = host_release(host)
    table = _sr.table_or_default(table)
    rules = rules if rules is not None else writable_rules()
    rel = parse_release(kernel_release)
    if rel < parse_release(rules["ioctl"]["since"]):
        return {}
    rel, state = _state(rel, host=host, imp_id_regs=imp_id_regs, table=table, rules=rules)
    zero32 = _zero_aarch32(host, rules)
    out = {}
    for name, reg in table["registers"].items():
        if reg.get("mask_index") is None or not _reg_defined(reg, rel):
            continue
        rule = state.get(name)
        m = _rule_mask(name, rule, rel, table) if rule else 0
        if zero32 and reg.get("class") == "aarch32-id":
            m = 0
        out[name] = m
    return out


def writable_mask_array(kernel_release=None, host=None, **kw) -> list[int] | None:
    """The 192-entry array the ioctl fills (``None`` before 6.7)."""
    masks = writable_masks(kernel_release, host, **kw)
    if not masks:
        return None
    table = _sr.table_or_default(kw.get("table"))
    arr = [0] * 192
    for name, m in masks.items():
        arr[table["registers"][name]["mask_index"]] = m
    return arr


def writable_properties(kernel_release=None, host=None, **kw) -> list[str]:
    """``SYSREG_<REG>_<FIELD>`` names of the writable fields (what the QEMU
    proposal lists on the ``host`` CPU model)."""
    if kernel_release is not None and parse_release(kernel_release) < parse_release(
        (kw.get("rules") or writable_rules())["ioctl"]["since"]
    ):
        return []
    if kernel_release is None and host is not None and parse_release(host_release(host)) < (6, 7, 0):
        return []
    out: list[Any] = []
    for reg, names in writable_fields(kernel_release, host, **kw).items():
        out.extend(f"SYSREG_{reg}_{n}" for n in names)
    return out


# --------------------------------------------------------------------------
# KVM_SET_ONE_REG acceptance


def field_policy(reg: str, f: Mapping[str, Any], rules: Mapping[str, Any]) -> tuple[str, bool]:
    """``(policy, signed)`` of field ``f`` of ``reg``: how KVM compares a requested value with
    the host's (``exact``, ``lower_safe``, ``higher_safe``, ``higher_or_zero_safe``, ``any``;
    Linux arch/arm64/kvm/sys_regs.c, arm64_check_features() through the
    arch/arm64/kernel/cpufeature.c ftr_bits tables), from ``policies`` of
    ``models/arm64/kvm-writable.yaml``."""
    pol = rules.get("policies") or {}
    over = (pol.get("fields") or {}).get(f"{reg}.{f['name']}")
    kind = f.get("kind", "field")
    default = (pol.get("default_by_kind") or {}).get(kind, "exact")
    if over:
        return over.get("policy", default), bool(over.get("signed", kind == "signed"))
    return default, kind == "signed"


def policy_accepts(policy: str, signed: bool, width: int, host: int, v: int) -> bool:
    """Whether ``policy`` alone lets a ``width``-bit field hold ``v`` when the host has ``host``
    (special rules aside; :func:`check_field_write` applies those and words refusals)."""
    if v == host or policy == "any":
        return True
    if policy == "exact":
        return False
    if signed:
        half = 1 << (width - 1)
        a = v - (1 << width) if v & half else v
        b = host - (1 << width) if host & half else host
    else:
        a, b = v, host
    if policy == "lower_safe":
        return a <= b
    if policy in ("higher_safe", "higher_or_zero_safe"):
        return a >= b or (policy == "higher_or_zero_safe" and v == 0)
    return False


def _special(reg: str, name: str, rel: Release, rules) -> list[Mapping[str, Any]]:
    key = f"{reg}.{name}"
    return [
        r
        for r in (rules.get("special_rules") or [])
        if r.get("field") == key and rel >= parse_release(r.get("since", "0.0"))
    ]


def _fv(v, f, what) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0 or v >> _sr.field_width(f):
        raise SysregError(f"{what} {v!r} does not fit in the {_sr.field_width(f)}-bit field")
    return v


def check_field_write(
    reg: str,
    field: str,
    host_value: int,
    requested: int,
    kernel,
    *,
    host: Mapping[str, Any] | None = None,
    imp_id_regs: bool | None = None,
    nv: bool = False,
    table=None,
    rules=None,
) -> str | None:
    """Would KVM on ``kernel`` accept setting ``reg.field`` to ``requested``
    when the host-sanitised value (KVM's limit) is ``host_value``?

    Returns ``None`` when accepted, otherwise a one-line reason.  Values are
    field values (not register values).  ``host`` (a host dict) supplies the
    other ID registers some rules look at (AArch32 EL0, MTE for MTE_frac) and
    the WRITABLE_IMP_ID_REGS capability; ``nv`` = the vCPU has EL2.

    The reference: every call works the writable mask out from the release rows
    again (about a millisecond).  Code that checks many fields against one kernel
    and host uses :class:`FieldChecker`, which answers the same.
    """
    table = _sr.table_or_default(table)
    rules = rules if rules is not None else writable_rules()
    f = _sr.field(reg, field, table)
    host_value = _fv(host_value, f, f"{reg}.{field}: host value")
    requested = _fv(requested, f, f"{reg}.{field}: requested value")
    rel = parse_release(kernel)
    specials = _special(reg, field, rel, rules)

    if requested == host_value:
        return None

    names = writable_fields(rel, host, imp_id_regs=imp_id_regs, table=table, rules=rules).get(reg, [])
    policy, signed = field_policy(reg, f, rules)
    return _decide(
        reg,
        field,
        f,
        host_value,
        requested,
        "%d.%d" % rel[:2],
        specials,
        field in names,
        lambda: _not_writable_why(
            reg,
            field,
            rel,
            host,
            table,
            rules,
            lambda: writable_fields(rel, host, imp_id_regs=True, table=table, rules=rules),
        ),
        lambda sp: _zero_condition(sp, host),
        nv,
        policy,
        signed,
    )


def _zero_condition(sp: Mapping[str, Any], host: Mapping[str, Any] | None) -> bool:
    """The ``when`` of an ``accept_zero_when`` rule: each named field of the host's
    own ID registers has the given value (no host: never)."""
    cond = sp.get("when") or {}
    return host is not None and all(
        _sr.get_field(k.split(".")[0], _sr.idreg(host, k.split(".")[0]), k.split(".")[1]) == v
        for k, v in cond.items()
    )


def _not_writable_why(reg: str, field: str, rel: Release, host, table, rules, writable_imp) -> str:
    """Why ``reg.field`` is outside the writable mask on ``rel``; ``writable_imp()``
    gives the writable fields of a VM that enabled KVM_CAP_ARM_WRITABLE_IMP_ID_REGS."""
    relname = "%d.%d" % rel[:2]
    if rel < parse_release(rules["ioctl"]["since"]):
        return (
            f"not writable on Linux {relname} (no writable ID-register support before "
            f"{rules['ioctl']['since']})"
        )
    if field in writable_imp().get(reg, []):
        return f"writable on Linux {relname} only after enabling KVM_CAP_ARM_WRITABLE_IMP_ID_REGS"
    if (
        host is not None
        and _zero_aarch32(host, rules)
        and table["registers"][reg].get("class") == "aarch32-id"
    ):
        return "AArch32 ID registers are not writable on a host without 32-bit EL0"
    return f"not writable on Linux {relname}"


def _decide(
    reg: str,
    field: str,
    f: Mapping[str, Any],
    host_value: int,
    requested: int,
    relname: str,
    specials,
    writable: bool,
    why,
    zero_ok,
    nv: bool,
    policy: str,
    signed: bool,
) -> str | None:
    """KVM_SET_ONE_REG's verdict on one field once its inputs are known (Linux
    arch/arm64/kvm/sys_regs.c, set_id_reg() -> arm64_check_features() and the
    per-register setters): ``specials`` are the field's special rules on that
    release in table order, ``writable`` whether it is inside the writable mask,
    ``why()`` the text when it is not, ``zero_ok(rule)`` whether an
    ``accept_zero_when`` rule's host condition holds, ``policy``/``signed`` its
    safe-value rule.  The one owner of the rules and their texts: the reference
    :func:`check_field_write` and :class:`FieldChecker` differ only in how they
    find these inputs (again on every call, or once)."""
    if requested == host_value:
        return None
    for sp in specials:
        kind = sp["rule"]
        if kind == "accept_zero_when" and requested == 0 and zero_ok(sp):
            return None
        if kind == "ignored_host_value":
            if requested <= host_value:
                return None
            return (
                f"{reg}.{field}: Linux {relname} accepts only the host value ({host_value}) "
                f"and ignores it; {requested} refused"
            )
    if not writable:
        return f"{reg}.{field}: {why()}; only the host value {host_value} is accepted (requested {requested})"
    for sp in specials:
        kind = sp["rule"]
        if kind == "min_value" and requested < sp["value"]:
            return f"{reg}.{field}: {requested} is below the minimum {sp['value']} KVM accepts"
        if kind == "zero_or_at_least" and requested != 0 and requested < sp["value"]:
            return f"{reg}.{field}: must be 0 or at least {sp['value']} (requested {requested})"
        if kind == "imp_def_is_ni" and requested == (1 << _sr.field_width(f)) - 1:
            return None
        if kind == "allowed_transitions":
            allowed = (sp.get("allowed") or {}).get(host_value, [host_value])
            if requested not in allowed:
                return (
                    f"{reg}.{field}: {requested} not accepted when the host value is {host_value} "
                    f"(allowed: {', '.join(map(str, allowed))})"
                )
            return None
        if kind == "refused_with_nv" and nv:
            return f"{reg}.{field}: cannot be changed for a vCPU with EL2 (nested virtualisation)"

    if policy == "any":
        return None
    if policy == "exact":
        return f"{reg}.{field}: must equal the host value {host_value} (requested {requested})"
    a = _sr.signed_value(f, requested) if signed else requested
    b = _sr.signed_value(f, host_value) if signed else host_value
    if policy == "lower_safe":
        if a <= b:
            return None
        return f"{reg}.{field}: {requested} is higher than the host value {host_value}" + (
            " (signed field: 0xF = not implemented)" if signed else ""
        )
    if policy in ("higher_safe", "higher_or_zero_safe"):
        if a >= b or (policy == "higher_or_zero_safe" and requested == 0):
            return None
        return f"{reg}.{field}: {requested} is lower than the host value {host_value}"
    raise DataError(
        "models/arm64/kvm-writable.yaml",
        f"policies.fields.{reg}.{field}.policy",
        f"unknown policy {policy!r}",
    )


class FieldChecker:
    """:func:`check_field_write` for one kernel release and host, compiled once.

    ``FieldChecker(kernel_release, host, imp_id_regs=None, nv=False).check(reg, field,
    host_value, requested)`` returns exactly what ``check_field_write(reg, field,
    host_value, requested, kernel_release, host=host, imp_id_regs=imp_id_regs, nv=nv)``
    returns (``None`` or the same reason text) and raises the same errors for values
    that do not fit; ``check_register`` is :func:`check_register_write`'s
    counterpart.  The writable mask (both with and without
    KVM_CAP_ARM_WRITABLE_IMP_ID_REGS), the special rules of the release, the
    host conditions and each field's policy are worked out on construction (per
    field on first use), so a check is a few dictionary lookups: what a CPU
    model's compile step and a migration destination, which checks every
    ID-register field of an incoming guest against its own kernel, need.

    ``host`` is read on construction and must not change afterwards (profiles are
    immutable once loaded); :func:`field_checker` shares one checker per
    (release, host object, options).
    """

    __slots__ = (
        "release",
        "host",
        "imp_id_regs",
        "nv",
        "table",
        "rules",
        "_relname",
        "_writable",
        "_writable_imp",
        "_specials",
        "_zero",
        "_entries",
    )

    def __init__(
        self,
        kernel_release=None,
        host: Mapping[str, Any] | None = None,
        *,
        imp_id_regs: bool | None = None,
        nv: bool = False,
        table: Mapping[str, Any] | None = None,
        rules: Mapping[str, Any] | None = None,
    ) -> None:
        if kernel_release is None:
            kernel_release = host_release(host)
        self.table = table = _sr.table_or_default(table)
        self.rules = rules = rules if rules is not None else writable_rules()
        self.release = rel = parse_release(kernel_release)
        self.host = host
        self.imp_id_regs = imp_id_regs
        self.nv = bool(nv)
        self._relname = "%d.%d" % rel[:2]
        self._writable = {
            reg: frozenset(names)
            for reg, names in writable_fields(
                rel, host, imp_id_regs=imp_id_regs, table=table, rules=rules
            ).items()
        }
        self._writable_imp: dict[str, list[str]] | None = None  # on the first refusal that needs it
        specials: dict[str, list[Mapping[str, Any]]] = {}
        for r in rules.get("special_rules") or []:
            if rel >= parse_release(r.get("since", "0.0")):
                specials.setdefault(r.get("field"), []).append(r)
        self._specials = specials
        self._zero: dict[int, bool] = {}  # id(rule) -> accept_zero_when condition on this host
        # reg -> field -> (descriptor, 1 << width, specials, writable, not-writable text, policy, signed)
        self._entries: dict[str, dict[str, tuple]] = {}

    def _entry(self, reg: str, field: str) -> tuple:
        f = _sr.field(reg, field, self.table)  # unknown register or field: the reference's error
        writable = field in self._writable.get(reg, ())
        why = (
            None
            if writable
            else _not_writable_why(reg, field, self.release, self.host, self.table, self.rules, self._imp)
        )
        policy, signed = field_policy(reg, f, self.rules)
        e = (
            f,
            1 << _sr.field_width(f),
            tuple(self._specials.get(f"{reg}.{field}", ())),
            writable,
            why,
            policy,
            signed,
        )
        self._entries.setdefault(reg, {})[field] = e
        return e

    def _imp(self) -> Mapping[str, list[str]]:
        w = self._writable_imp
        if w is None:
            w = self._writable_imp = writable_fields(
                self.release, self.host, imp_id_regs=True, table=self.table, rules=self.rules
            )
        return w

    def _zero_ok(self, sp: Mapping[str, Any]) -> bool:
        got = self._zero.get(id(sp))
        if got is None:
            got = self._zero[id(sp)] = _zero_condition(sp, self.host)
        return got

    def check(self, reg: str, field: str, host_value: int, requested: int) -> str | None:
        """``None`` when KVM accepts ``requested`` for ``reg.field`` (host value
        ``host_value``), else the reason (:func:`check_field_write`'s text)."""
        try:
            e = self._entries[reg][field]
        except KeyError:
            e = self._entry(reg, field)
        f, limit, specials, writable, why, policy, signed = e
        if type(host_value) is not int or not 0 <= host_value < limit:
            host_value = _fv(host_value, f, f"{reg}.{field}: host value")
        if type(requested) is not int or not 0 <= requested < limit:
            requested = _fv(requested, f, f"{reg}.{field}: requested value")
        if requested == host_value:
            return None
        return _decide(
            reg,
            field,
            f,
            host_value,
            requested,
            self._relname,
            specials,
            writable,
            lambda: why,
            self._zero_ok,
            self.nv,
            policy,
            signed,
        )

    def check_register(self, reg: str, host_value: int, requested: int) -> str | None:
        """Whole-register check (:func:`check_register_write`): bits outside named
        fields must equal the host value, then every field in table order."""
        covered = _sr.register_mask(reg, self.table)
        if (host_value ^ requested) & ~covered:
            return f"{reg}: bits outside its fields differ from the host value ({requested:#x} vs {host_value:#x})"
        for f in _sr.fields(reg, self.table):
            lsb, m = f["lsb"], (1 << _sr.field_width(f)) - 1
            why = self.check(reg, f["name"], (host_value >> lsb) & m, (requested >> lsb) & m)
            if why:
                return why
        return None


_CHECKERS: dict[tuple, FieldChecker] = {}
_CHECKERS_MAX = 64


def field_checker(
    kernel_release=None,
    host: Mapping[str, Any] | None = None,
    *,
    imp_id_regs: bool | None = None,
    nv: bool = False,
) -> FieldChecker:
    """The shared :class:`FieldChecker` of the default tables for ``kernel_release``
    (default: the host's) and the host dict ``host``, by the host object's identity
    (a checker keeps its host alive, so the identity is not reused while cached; a
    host must not be changed once a checker was made for it)."""
    table = _sr.sysreg_table()
    rules = writable_rules()
    rel = parse_release(kernel_release if kernel_release is not None else host_release(host))
    key = (rel, id(host), imp_id_regs, bool(nv))
    c = _CHECKERS.get(key)
    if c is None or c.host is not host or c.table is not table or c.rules is not rules:
        if len(_CHECKERS) >= _CHECKERS_MAX:
            _CHECKERS.clear()
        c = _CHECKERS[key] = FieldChecker(rel, host, imp_id_regs=imp_id_regs, nv=nv, table=table, rules=rules)
    return c


def check_register_write(reg: str, host_value: int, requested: int, kernel, **kw) -> str | None:
    """Whole-register version of :func:`check_field_write`: bits outside
    named fields must equal the host value; every field is checked."""
    table = _sr.table_or_default(kw.get("table"))
    covered = _sr.register_mask(reg, table)
    if (host_value ^ requested) & ~covered:
        return (
            f"{reg}: bits outside its fields differ from the host value ({requested:#x} vs {host_value:#x})"
        )
    for f in _sr.fields(reg, table):
        why = check_field_write(
            reg,
            f["name"],
            _sr.get_field(reg, host_value, f["name"], table),
            _sr.get_field(reg, requested, f["name"], table),
            kernel,
            **kw,
        )
        if why:
            return why
    return None


# --------------------------------------------------------------------------
# Firmware pseudo-registers


def _present(entry, rel: Release) -> bool:
    if rel >= parse_release(entry["since"]):
        return True
    for bp in entry.get("backports") or []:
        b = parse_release(bp)
        if rel[:2] == b[:2] and rel >= b:
            return True
    return False


def _when(cond: Mapping[str, Any], rel: Release, host) -> bool:
    for key, val in cond.items():
        if key == "release_at_least":
            if rel < parse_release(val):
                return False
        elif key == "idreg_at_least":
            if host is None:
                return False
            for path, n in val.items():
                reg, name = path.split(".")
                if _sr.get_field(reg, _sr.idreg(host, reg), name) < n:
                    return False
        else:
            raise DataError(
                "models/arm64/kvm-firmware-regs.yaml",
                f"default.when.{key}",
                "expected release_at_least or idreg_at_least",
            )
    return True


def _default(entry, rel: Release, host):
    d = entry.get("default", 0)
    if isinstance(d, int):
        return d
    for alt in d:
        if _when(alt.get("when") or {}, rel, host):
            return alt["value"]
    return 0


def firmware_regs(
    kernel_release=None, host: Mapping[str, Any] | None = None, *, table: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Firmware pseudo-registers KVM_GET_REG_LIST would list on that kernel,
    each ``{name, id, default, settable, since, values|bits}``; ``host``'s
    ``firmware`` mapping overrides defaults (``{NAME: value}``)."""
    if kernel_release is None:
        kernel_release = host_release(host)
    rel = parse_release(kernel_release)
    table = table if table is not None else firmware_table()
    overrides = (host or {}).get("firmware") or {}
    out = []
    for entry in table["registers"]:
        if not _present(entry, rel):
            continue
        reg = {
            "name": entry["name"],
            "id": entry["id"],
            "since": entry["since"],
            "default": _default(entry, rel, host),
            "settable": entry.get("settable"),
        }
        if "values" in entry:
            reg["values"] = dict(entry["values"])
        if "bits" in entry:
            reg["bits"] = dict(entry["bits"])
        for impl in entry.get("implemented") or []:
            if rel >= parse_release(impl["since"]):
                reg["implemented"] = list(impl["values"])
        if entry["name"] in overrides:
            reg["default"] = overrides[entry["name"]]
            reg["overridden"] = True
        out.append(reg)
    return out


# --------------------------------------------------------------------------
# Host files

_FIGURE_ROOTS = ("cpu", "kernel", "kvm", "idregs", "firmware")


def _leaves(obj, prefix):
    if isinstance(obj, Mapping) and obj:
        for k, v in obj.items():
            yield from _leaves(v, f"{prefix}.{k}")
    elif isinstance(obj, Mapping):
        return
    else:
        yield prefix


def figure_paths(host: Mapping[str, Any]) -> list[str]:
    """Dotted paths of every figure (leaf) under cpu, kernel, kvm, idregs
    and firmware; a list counts as one figure."""
    out = []
    for root in _FIGURE_ROOTS:
        if root in host:
            out.extend(_leaves(host[root], root))
    return out


def source_of(host: Mapping[str, Any], path: str) -> list[str] | None:
    """Ref ids (or 'synthetic') covering ``path``: the longest entry of
    ``sources.fields`` equal to ``path`` or a dotted prefix of it."""
    fields = (host.get("sources") or {}).get("fields") or {}
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in fields:
            v = fields[key]
            return [v] if isinstance(v, str) else list(v)
    return None


def _schema() -> Any:
    return models.read_json(os.path.join(models.SCHEMAS_DIR, "host.schema.json"), error=DataError)


def validate_host(
    host: Any,
    *,
    file: str | None = None,
    schema: Mapping[str, Any] | None = None,
    table: Mapping[str, Any] | None = None,
    caps: Mapping[str, Any] | None = None,
) -> None:
    """Check a parsed host file on its own (tools and tests); raise :class:`DataError`
    (file, dotted path, expectation) at the first problem.

    JSON Schema validation (``schemas/host.schema.json``), the file name (``name`` must equal it when ``file`` is given), then
    :func:`check_host`.  The profile loader runs the schema and :func:`check_host`
    itself on every host it compiles.
    """
    if not isinstance(host, Mapping):
        raise DataError(file, "", "expected a mapping (a host profile)")
    import jsonschema  # lazy: a dependency, but ~50 ms to import and only tools validate

    validator = jsonschema.Draft202012Validator(schema or _schema())
    errors = sorted(
        validator.iter_errors(host), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        e = errors[0]
        # prefer the deepest explanation of a failed if/then or oneOf
        while e.context:
            e = sorted(e.context, key=lambda c: -len(c.absolute_path))[0]
        path = ".".join(str(p) for p in e.absolute_path)
        raise DataError(file, path, e.message)
    if file is not None:
        stem = Path(file).name.rsplit(".", 1)[0]
        if host.get("name") != stem:
            raise DataError(file, "name", f"expected {stem!r} (the file name), got {host.get('name')!r}")
    check_host(host, file, table=table, caps=caps)


def check_host(
    host: Mapping[str, Any],
    file: str | None,
    *,
    table: Mapping[str, Any] | None = None,
    caps: Mapping[str, Any] | None = None,
) -> None:
    """The semantic checks of an aarch64 host file beyond its JSON Schema: known registers
    whose values fit, ``cpu.midr`` equal to ``idregs.MIDR_EL1``, capabilities the kernel
    release knows (``models/arm64/kvm-caps.yaml``), known firmware registers, and a
    source for every figure.  Raise :class:`DataError` (file, dotted path, expectation)."""
    table = _sr.table_or_default(table)
    caps = caps if caps is not None else caps_table()
    release = host_release(host)
    rel = parse_release(release)
    known = release_known(release)  # an imported host's recorded caps stand without a release
    for reg, val in (host.get("idregs") or {}).items():
        if reg not in table["registers"]:
            raise DataError(file, f"idregs.{reg}", "unknown register (see models/arm64/sysreg-fields.yaml)")
        width = table["registers"][reg].get("width", 64)
        if not isinstance(val, int) or isinstance(val, bool) or val < 0 or val >> width:
            raise DataError(file, f"idregs.{reg}", f"expected a {width}-bit unsigned integer, got {val!r}")
    cpu_midr = (host.get("cpu") or {}).get("midr")
    idr = host.get("idregs") or {}
    if cpu_midr is not None and "MIDR_EL1" in idr and idr["MIDR_EL1"] != cpu_midr:
        raise DataError(
            file, "idregs.MIDR_EL1", f"expected cpu.midr ({cpu_midr:#x}), got {idr['MIDR_EL1']:#x}"
        )
    for name, val in ((host.get("kvm") or {}).get("caps") or {}).items():
        if name not in caps["caps"]:
            raise DataError(
                file, f"kvm.caps.{name}", "unknown capability (add it to models/arm64/kvm-caps.yaml)"
            )
        if val and known and rel < parse_release(caps["caps"][name]["since"]):
            raise DataError(
                file,
                f"kvm.caps.{name}",
                f"expected 0: Linux {rel[0]}.{rel[1]} does not know this capability "
                f"(first in {caps['caps'][name]['since']})",
            )
    fw = firmware_table()
    known_fw = {r["name"] for r in fw["registers"]}
    for name in host.get("firmware") or {}:
        if name not in known_fw:
            raise DataError(
                file,
                f"firmware.{name}",
                "unknown firmware register (see models/arm64/kvm-firmware-regs.yaml)",
            )
    refs = set(((host.get("sources") or {}).get("refs") or {}))
    for key, v in ((host.get("sources") or {}).get("fields") or {}).items():
        for i, r in enumerate([v] if isinstance(v, str) else v):
            if r != "synthetic" and r not in refs:
                raise DataError(
                    file,
                    f"sources.fields.{key}",
                    f"{r!r} is neither a ref id of sources.refs nor 'synthetic'",
                )
    for path in figure_paths(host):
        if not source_of(host, path):
            raise DataError(
                file,
                path,
                "no source: add a sources.fields entry (this path or a prefix) naming a ref or 'synthetic'",
            )


def load_host(path) -> dict[str, Any]:
    """Parse and validate a host file (clear :class:`DataError` on problems)."""
    host = _sr.load_yaml(path)
    validate_host(host, file=str(path))
    return host
