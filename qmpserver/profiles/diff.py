"""``qmpserver profiles diff A B``: can a guest move between the hosts of two profiles?

The comparison is the migration view of a management layer: what a KVM guest
of the ``host`` CPU model sees on each host, and whether the destination's KVM
can present the source's view.  For each direction (A→B: a guest started on A
restored on B) an item is a *blocker* when the destination cannot reproduce
the source's value:

* ID-register fields: the destination must be able to set the source's value,
  i.e. the values are equal or KVM on the destination accepts the write
  (:class:`qmpserver.arch.arm64.kvm.FieldChecker`, which answers as
  ``check_field_write``: writable mask of its kernel, safe-value policy,
  special rules), or the field is turned off by a
  vCPU feature the management layer controls (``sve=off``, ``pauth=off``,
  ``pmu=off``, MTE off) and the source's value is 0.  When the fields differ,
  ``bridge`` tells how a model common to both hosts is reached: lower the
  field on the higher side (or why that is refused).
* MTE: KVM cannot lower ID_AA64PFR1_EL1.MTE (6.7 - 7.2), so a guest using MTE
  needs the same level on both sides; a guest without MTE can move anywhere.
* SVE: the source's vector lengths must all be supported by the destination.
* GIC: the version the guest got (the highest in-kernel one) must be in the
  destination's kernel.
* Firmware pseudo-registers (:func:`qmpserver.arch.arm64.kvm.firmware_regs`):
  the destination must have every register the source has and accept its
  value (PSCI: an implemented version; workarounds: not above the
  destination's level; bitmaps: only settable bits).  A register only the
  destination has keeps its default: a note, not a blocker.
* KVM capabilities and the kernel release are listed as notes: their guest
  visible effects show up in the items above.

A profile whose host offers no KVM for the build's target runs TCG: its guests
see the build's emulated CPU, not the host's registers.  Two TCG profiles
compare by QEMU version (a guest moves to the same or a newer QEMU); a TCG and
a KVM profile never exchange guests.
"""

from __future__ import annotations

from typing import Any

from ..arch.arm64 import kvm, migrate
from ..arch.arm64 import sysreg as sr

# ID-register fields a vCPU feature switches off: one table, the migration rules'
# (arch/arm64/migrate.py), which a destination's load also applies.
_MTE_FIELDS = {k for k, v in migrate.FEATURE_OFF.items() if v == "mte=off"}

# registers that are not part of a guest's CPU model (per-vCPU values)
_SKIP_CLASSES = ("per-vcpu",)


_feature_off = migrate.feature_off


# --- one side ---------------------------------------------------------------------


class _Side:
    def __init__(self, prof, label):
        self.label = label
        self.prof = prof
        self.host = prof.host
        self.build = prof.build
        self.data = dict(prof.host.data)
        self.kernel = str((self.data.get("kernel") or {}).get("release", "0.0"))
        accel = (prof.defaults or {}).get("accel", "kvm")
        self.kvm = (
            accel == "kvm"
            and self.host.kvm_present
            and self.host.arch_can_run_kvm(self.build.target)
            and self.host.arch == "aarch64"
        )
        self.view = "kvm" if self.kvm else "tcg"
        kv = self.data.get("kvm") or {}
        self.caps = dict(kv.get("caps") or {})
        self.mte_cap = int(self.caps.get("KVM_CAP_ARM_MTE", 0) or 0)
        self.idregs = dict(self.data.get("idregs") or {}) if self.kvm else {}
        self.sve = sorted(kv.get("sve_vector_lengths") or []) if self.kvm else []
        gic = kv.get("gic") or {}
        self.gic = sorted(int(k[1:]) for k, v in gic.items() if v and k.startswith("v")) if self.kvm else []
        self.unknown = []
        if accel == "kvm" and self.host.kvm_present and self.host.arch == self.build.target == "ppc64":
            # a KVM guest of another target (ppc64: spapr caps gated by the host) is compared
            # here as the build's TCG view only
            self.unknown.append(
                "%s: its KVM guests (target %s) are not compared, only the TCG view"
                % (label, self.build.target)
            )
        if self.kvm and not self.idregs:
            self.unknown.append("%s: ID registers unknown (imported host: QMP does not reveal them)" % label)
        if self.kvm and not kvm.release_known(self.kernel):
            self.unknown.append("%s: kernel release unknown (placeholder %r)" % (label, self.kernel))
        self._checker: kvm.FieldChecker | None = None
        self.firmware = {}
        if self.kvm and kvm.release_known(self.kernel):
            try:
                for r in kvm.firmware_regs(self.kernel, self.data):
                    self.firmware[r["name"]] = r
            except Exception:  # a host without a usable release: no firmware registers known
                self.firmware = {}

    def checker(self) -> kvm.FieldChecker:
        """The destination-side KVM write checks of this host's kernel (made once)."""
        if self._checker is None:
            self._checker = kvm.FieldChecker(self.kernel, self.data)
        return self._checker

    def field_value(self, reg, f):
        v = sr.get_field(reg, int(self.idregs.get(reg, 0)), f["name"])
        if (reg, f["name"]) in _MTE_FIELDS and not self.mte_cap:
            return 0  # KVM hides MTE unless the VM enables KVM_CAP_ARM_MTE
        return v

    def describe(self) -> dict:
        return {
            "profile": self.prof.name,
            "host": self.host.name,
            "build": self.build.name,
            "qemu": ".".join(map(str, self.build.version)),
            "kernel": self.kernel,
            "view": self.view,
            "proposals": sorted(self.build.proposals),
        }


# --- comparisons ---------------------------------------------------------------------


def _accepts(dst: _Side, reg: str, field: str, dst_value: int, wanted: int) -> str | None:
    """None when KVM on ``dst`` presents ``wanted`` for reg.field, else why not."""
    if wanted == dst_value:
        return None
    if wanted == 0 and _feature_off(reg, field):
        return None
    try:
        return dst.checker().check(reg, field, dst_value, wanted)
    except Exception as e:  # a value the table cannot take
        return str(e)


def _order(f: dict, a: int, b: int) -> str | None:
    """'a' or 'b': the side with more of the feature; None for unordered kinds."""
    kind = f.get("kind", "field")
    if kind == "unsigned":
        return "a" if a > b else "b"
    if kind == "signed":
        return "a" if sr.signed_value(f, a) > sr.signed_value(f, b) else "b"
    return None


def _value_text(reg, name, v):
    try:
        n = sr.value_name(reg, name, v)
    except Exception:
        n = None
    return "%d (%s)" % (v, n) if n and n != str(v) else str(v)


def _idregs(a: _Side, b: _Side) -> list:
    table = sr.sysreg_table()
    out = []
    for reg, rd in table["registers"].items():
        if rd.get("class") in _SKIP_CLASSES:
            continue
        if reg not in a.idregs and reg not in b.idregs:
            continue
        for f in rd.get("fields") or ():
            va, vb = a.field_value(reg, f), b.field_value(reg, f)
            if va == vb:
                continue
            name = f["name"]
            a_to_b = _accepts(b, reg, name, vb, va)
            b_to_a = _accepts(a, reg, name, va, vb)
            higher = _order(f, va, vb)
            if higher is None:
                bridge = "%s values have no order: a common model needs the same value" % f.get(
                    "kind", "field"
                )
            else:
                side = a if higher == "a" else b
                low = vb if higher == "a" else va
                hv = va if higher == "a" else vb
                why = _accepts(side, reg, name, hv, low)
                if why is None:
                    how = (
                        _feature_off(reg, name)
                        if low == 0 and _feature_off(reg, name)
                        else sr.property_name(reg, name) + "=%d" % low
                    )
                    bridge = "lower on %s (%s): %s" % (higher.upper(), side.host.name, how)
                else:
                    bridge = "cannot lower on %s: %s" % (higher.upper(), why)
            out.append(
                {
                    "register": reg,
                    "field": name,
                    "kind": f.get("kind", "field"),
                    "a": va,
                    "b": vb,
                    "a_text": _value_text(reg, name, va),
                    "b_text": _value_text(reg, name, vb),
                    "higher": higher,
                    "a_to_b": a_to_b is None,
                    "a_to_b_reason": a_to_b,
                    "b_to_a": b_to_a is None,
                    "b_to_a_reason": b_to_a,
                    "bridge": bridge,
                }
            )
    return out


def _mte(a: _Side, b: _Side) -> dict:
    la = sr.mte_level(a.idregs) if a.kvm and a.mte_cap else 0
    lb = sr.mte_level(b.idregs) if b.kvm and b.mte_cap else 0
    res = {
        "a": {"level": la, "kvm_cap": a.mte_cap},
        "b": {"level": lb, "kvm_cap": b.mte_cap},
        "differs": la != lb or a.mte_cap != b.mte_cap,
    }
    for src, dst, key in ((la, lb, "a_to_b"), (lb, la, "b_to_a")):
        if src == dst or src == 0:
            res[key], res[key + "_reason"] = True, None
        elif dst == 0:
            res[key], res[key + "_reason"] = False, "destination has no MTE for KVM guests"
        else:
            res[key] = False
            res[key + "_reason"] = (
                "MTE level %d cannot be presented by an MTE%d host "
                "(ID_AA64PFR1_EL1.MTE is not writable)" % (src, dst)
            )
    res["note"] = (
        "a guest without MTE (mte=off / mte-version=none) moves either way"
        if la != lb and (la or lb)
        else None
    )
    return res


def _sve(a: _Side, b: _Side) -> dict:
    sa, sb = set(a.sve), set(b.sve)
    res = {"a": sorted(sa), "b": sorted(sb), "differs": sa != sb}
    for src, dst, key in ((sa, sb, "a_to_b"), (sb, sa, "b_to_a")):
        missing = sorted(src - dst)
        res[key] = not missing
        res[key + "_reason"] = (
            ("destination lacks vector length(s) %s" % ", ".join(map(str, missing))) if missing else None
        )
    common = sorted(sa & sb)
    res["common"] = common
    return res


def _gic(a: _Side, b: _Side) -> dict:
    res = {"a": a.gic, "b": b.gic, "differs": a.gic != b.gic}
    for src, dst, key in ((a.gic, b.gic, "a_to_b"), (b.gic, a.gic, "b_to_a")):
        if not src:
            res[key], res[key + "_reason"] = (not src and not dst) or bool(dst), None
            continue
        used = max(src)
        ok = used in dst
        res[key] = ok
        res[key + "_reason"] = (
            None
            if ok
            else (
                "the guest's GICv%d is not in the destination's kernel (it has %s)"
                % (used, ", ".join("v%d" % v for v in dst) or "none")
            )
        )
    common = sorted(set(a.gic) & set(b.gic))
    res["common"] = common
    return res


def _firmware(a: _Side, b: _Side) -> list:
    out = []
    for name in sorted(set(a.firmware) | set(b.firmware)):
        ea, eb = a.firmware.get(name), b.firmware.get(name)
        da = ea.get("default") if ea else None
        db = eb.get("default") if eb else None
        if ea and eb and da == db:
            continue
        row = {"register": name, "a": da, "b": db}
        for src, dst, sv, key in ((ea, eb, da, "a_to_b"), (eb, ea, db, "b_to_a")):
            if src is None:
                row[key], row[key + "_reason"] = True, None
                row.setdefault("note", "only on one side: the other keeps its default there")
            elif dst is None:
                row[key] = False
                row[key + "_reason"] = "destination kernel has no %s" % name
            else:
                why = migrate.fw_write_check(dst, sv)  # type: ignore[arg-type]  # kvm.firmware_regs gives every register a default
                row[key], row[key + "_reason"] = why is None, why
        out.append(row)
    return out


def _caps(a: _Side, b: _Side) -> list:
    out = []
    for name in sorted(set(a.caps) | set(b.caps)):
        va, vb = a.caps.get(name, 0), b.caps.get(name, 0)
        if va != vb:
            out.append({"cap": name, "a": va, "b": vb})
    return out


# --- the verdict -----------------------------------------------------------------------


def _verdict(res: dict, a: _Side, b: _Side) -> dict:
    blockers: dict[str, list[str]] = {"a_to_b": [], "b_to_a": []}
    if a.view != b.view or (a.view == "tcg"):
        if a.view == "tcg" and b.view == "tcg":
            va, vb = a.build.version, b.build.version
            if va > vb:
                blockers["a_to_b"].append(
                    "QEMU %s -> %s: no migration to an older QEMU" % (res["a"]["qemu"], res["b"]["qemu"])
                )
            if vb > va:
                blockers["b_to_a"].append(
                    "QEMU %s -> %s: no migration to an older QEMU" % (res["b"]["qemu"], res["a"]["qemu"])
                )
        else:
            msg = "accelerator: %s runs %s, %s runs %s (a guest keeps its accelerator's CPU model)" % (
                "A",
                a.view.upper(),
                "B",
                b.view.upper(),
            )
            blockers["a_to_b"].append(msg)
            blockers["b_to_a"].append(msg)
    for r in res["idregs"]:
        item = "%s.%s" % (r["register"], r["field"])
        for key in ("a_to_b", "b_to_a"):
            if not r[key]:
                why = r[key + "_reason"] or ""
                blockers[key].append(why if why.startswith(item) else "%s: %s" % (item, why))
    for section, label in (("mte", "MTE"), ("sve", "SVE"), ("gic", "GIC")):
        s = res[section]
        for key in ("a_to_b", "b_to_a"):
            if not s.get(key, True):
                blockers[key].append("%s: %s" % (label, s[key + "_reason"]))
    for r in res["firmware"]:
        for key in ("a_to_b", "b_to_a"):
            if not r[key]:
                blockers[key].append("%s: %s" % (r["register"], r[key + "_reason"]))
    visible = bool(
        res["idregs"]
        or res["firmware"]
        or res["mte"]["differs"]
        or res["sve"]["differs"]
        or res["gic"]["differs"]
        or a.view != b.view
        or (a.view == "tcg" and a.build.version != b.build.version)
    )
    ab, ba = not blockers["a_to_b"], not blockers["b_to_a"]
    caveats = a.unknown + b.unknown
    if not visible and ab and ba and caveats:
        summary = "no known difference"
    elif not visible and ab and ba:
        summary = "identical"
    elif ab and ba:
        summary = "both directions possible"
    elif ab:
        summary = "A->B possible"
    elif ba:
        summary = "B->A possible"
    else:
        summary = "neither"
    return {
        "summary": summary,
        "identical": summary == "identical",
        "a_to_b": ab,
        "b_to_a": ba,
        "a_to_b_blockers": blockers["a_to_b"],
        "b_to_a_blockers": blockers["b_to_a"],
        "caveats": caveats,
    }


def diff_profiles(a, b) -> dict:
    """Guest-visible differences of two compiled profiles (JSON-serialisable)."""
    sa, sb = _Side(a, "A"), _Side(b, "B")
    res: dict[str, Any] = {"a": sa.describe(), "b": sb.describe()}
    both = sa.kvm and sb.kvm
    res["idregs"] = _idregs(sa, sb) if both and sa.idregs and sb.idregs else []
    if both:
        res["mte"], res["sve"], res["gic"] = _mte(sa, sb), _sve(sa, sb), _gic(sa, sb)
    else:
        # a TCG guest's CPU is the build's emulated model: nothing host-specific to compare
        for key in ("mte", "sve", "gic"):
            res[key] = {
                "a": None,
                "b": None,
                "differs": sa.view != sb.view,
                "a_to_b": True,
                "a_to_b_reason": None,
                "b_to_a": True,
                "b_to_a_reason": None,
                "note": "not compared: %s"
                % " and ".join("%s runs TCG" % s.label for s in (sa, sb) if not s.kvm),
            }
    res["firmware"] = _firmware(sa, sb) if both and sa.firmware and sb.firmware else []
    res["kvm_caps"] = _caps(sa, sb) if both else []
    res["build"] = {
        "a": sa.build.name,
        "b": sb.build.name,
        "differs": sa.build.name != sb.build.name,
        "proposals_only_a": sorted(sa.build.proposals - sb.build.proposals),
        "proposals_only_b": sorted(sb.build.proposals - sa.build.proposals),
    }
    res["kernel"] = {"a": sa.kernel, "b": sb.kernel, "differs": sa.kernel != sb.kernel}
    res["verdict"] = _verdict(res, sa, sb)
    return res


# --- text ---------------------------------------------------------------------------


def _yn(ok):
    return "yes" if ok else "NO"


def _table(rows, header) -> list:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    fmt = "  ".join("%%-%ds" % w for w in widths)
    out = [fmt % tuple(header), fmt % tuple("-" * w for w in widths)]
    out.extend((fmt % tuple(str(c) for c in r)).rstrip() for r in rows)
    return out


def _hw_lines(result) -> list:
    m, s, g = result["mte"], result["sve"], result["gic"]
    lines = [
        "MTE: A level %d (KVM_CAP_ARM_MTE %d), B level %d (KVM_CAP_ARM_MTE %d)%s"
        % (
            m["a"]["level"],
            m["a"]["kvm_cap"],
            m["b"]["level"],
            m["b"]["kvm_cap"],
            "" if m["differs"] else " - same",
        )
    ]
    if m.get("note"):
        lines.append("  note: " + m["note"])
    lines.append(
        "SVE vector lengths: A %s, B %s%s"
        % (
            ",".join(map(str, s["a"])) or "none",
            ",".join(map(str, s["b"])) or "none",
            "" if s["differs"] else " - same",
        )
    )
    lines.append(
        "GIC in kernel: A %s, B %s%s"
        % (
            ",".join("v%d" % x for x in g["a"]) or "none",
            ",".join("v%d" % x for x in g["b"]) or "none",
            "" if g["differs"] else " - same",
        )
    )
    return lines


def format_diff(result: dict) -> str:
    a, b = result["a"], result["b"]
    lines = []
    for k, s in (("A", a), ("B", b)):
        lines.append(
            "%s  %s: host %s, build %s (QEMU %s), kernel %s, %s view%s"
            % (
                k,
                s["profile"],
                s["host"],
                s["build"],
                s["qemu"],
                s["kernel"],
                s["view"].upper(),
                ", proposals: " + ", ".join(s["proposals"]) if s["proposals"] else "",
            )
        )
    v = result["verdict"]
    lines.append("")
    lines.append("verdict: %s" % v["summary"])
    for key, label in (
        ("a_to_b_blockers", "A->B blocked by"),
        ("b_to_a_blockers", "B->A blocked by"),
        ("caveats", "caveat:"),
    ):
        for item in v.get(key, ()):
            lines.append("  %s %s" % (label, item))
    if result["idregs"]:
        lines.append("")
        lines.append("ID-register fields (%d differ):" % len(result["idregs"]))
        rows = [
            (
                "%s.%s" % (r["register"], r["field"]),
                r["a_text"],
                r["b_text"],
                _yn(r["a_to_b"]),
                _yn(r["b_to_a"]),
                r["bridge"],
            )
            for r in result["idregs"]
        ]
        lines.extend("  " + ln for ln in _table(rows, ("field", "A", "B", "A->B", "B->A", "common model")))
    m = result["mte"]
    lines.append("")
    if m["a"] is None:
        lines.append("MTE, SVE, GIC: %s" % m["note"])
    else:
        lines.extend(_hw_lines(result))
    bd = result.get("build") or {}
    if bd.get("differs"):
        lines.append("")
        lines.append(
            "build: A %s, B %s%s%s"
            % (
                bd["a"],
                bd["b"],
                "; proposals only on A: " + ", ".join(bd["proposals_only_a"])
                if bd["proposals_only_a"]
                else "",
                "; proposals only on B: " + ", ".join(bd["proposals_only_b"])
                if bd["proposals_only_b"]
                else "",
            )
        )
    if result["firmware"]:
        lines.append("")
        lines.append("firmware registers:")
        fmt = lambda x: "-" if x is None else "%#x" % x  # noqa: E731
        rows = [
            (
                r["register"],
                fmt(r["a"]),
                fmt(r["b"]),
                _yn(r["a_to_b"]),
                _yn(r["b_to_a"]),
                r.get("a_to_b_reason") or r.get("b_to_a_reason") or r.get("note") or "",
            )
            for r in result["firmware"]
        ]
        lines.extend("  " + ln for ln in _table(rows, ("register", "A", "B", "A->B", "B->A", "why")))
    if result["kvm_caps"]:
        lines.append("")
        lines.append("KVM capabilities (notes):")
        cap_rows = [(r["cap"], r["a"], r["b"]) for r in result["kvm_caps"]]
        lines.extend("  " + ln for ln in _table(cap_rows, ("capability", "A", "B")))
    k = result["kernel"]
    lines.append("")
    lines.append("kernel: A %s, B %s%s" % (k["a"], k["b"], "" if k["differs"] else " - same"))
    return "\n".join(lines)
