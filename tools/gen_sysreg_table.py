#!/usr/bin/env python3
"""Regenerate the ID-register field table from a Linux kernel tree.

    tools/gen_sysreg_table.py PATH [-o FILE] [--registers REG,REG...|--id-only]
                              [--compare models/arm64/sysreg-fields.yaml]

PATH is a kernel source tree (``arch/arm64/tools/sysreg`` is read from it)
or the sysreg description file itself.  The output has the shape of
``models/arm64/sysreg-fields.yaml`` (registers -> encoding, width, kvm_id,
mask_index, class, fields with msb/lsb/kind/values).  It is a maintainer
aid: run it against a new kernel and diff (``--compare``) with the
committed table, then carry the facts over by hand.  Do not commit the
kernel file or the raw output of this tool for a whole kernel tree.

Understood syntax: ``Sysreg NAME op0 op1 CRn CRm op2`` / ``EndSysreg``,
``Field``, ``Enum``/``UnsignedEnum``/``SignedEnum`` + value lines +
``EndEnum``, ``Res0``/``Res1``/``Unkn``/``Raz`` ranges, ``SysregFields``/
``EndSysregFields`` with ``Fields NAME`` references, and ``Mapping NAME``
(an alias that takes the fields of another register).  ``#`` starts a
comment.  Errors name the file and line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

KINDS = {"Field": "field", "Enum": "enum", "UnsignedEnum": "unsigned", "SignedEnum": "signed"}
RESERVED = ("Res0", "Res1", "Unkn", "Raz")


class SysregSyntaxError(ValueError):
    def __init__(self, file, line, msg):
        super().__init__(f"{file}:{line}: {msg}")


def _bits(spec: str, file, ln) -> tuple[int, int]:
    try:
        if ":" in spec:
            msb, lsb = spec.split(":", 1)
            msb, lsb = int(msb), int(lsb)
        else:
            msb = lsb = int(spec)
    except ValueError:
        raise SysregSyntaxError(file, ln, f"bad bit range {spec!r}, expected MSB[:LSB]") from None
    if msb < lsb or msb > 127 or lsb < 0:
        raise SysregSyntaxError(file, ln, f"bad bit range {spec!r}")
    return msb, lsb


def _enc_int(tok: str, file, ln) -> int:
    try:
        return int(tok, 0)
    except ValueError:
        raise SysregSyntaxError(file, ln, f"bad encoding value {tok!r}") from None


def _enum_value(tok: str, file, ln) -> int:
    t = tok.lower()
    try:
        if t.startswith("0b"):
            return int(t[2:], 2)
        return int(t, 0)
    except ValueError:
        raise SysregSyntaxError(
            file, ln, f"bad enumeration value {tok!r}, expected 0b... or a number"
        ) from None


def parse(text: str, file: str = "<sysreg>") -> dict:
    """Parse the kernel's sysreg description into
    ``{'registers': {NAME: {...}}, 'layouts': {NAME: [...]}}``."""
    regs: dict[str, dict] = {}
    layouts: dict[str, list] = {}
    cur = None  # current register or layout dict
    cur_kind = None  # "reg" | "layout"
    enum = None  # current enum field
    for ln, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tok = line.split()
        kw = tok[0]
        if enum is not None:
            if kw == "EndEnum":
                enum = None
                continue
            if len(tok) != 2:
                raise SysregSyntaxError(
                    file, ln, "expected '<0bVALUE> <NAME>' or EndEnum inside an enumeration"
                )
            v = _enum_value(tok[0], file, ln)
            if v >> (enum["msb"] - enum["lsb"] + 1):
                raise SysregSyntaxError(file, ln, f"value {tok[0]} does not fit in {enum['name']}")
            enum["values"].setdefault(v, tok[1])
            continue
        if kw == "Sysreg":
            if cur is not None:
                raise SysregSyntaxError(file, ln, "Sysreg inside another block (missing EndSysreg?)")
            if len(tok) != 7:
                raise SysregSyntaxError(file, ln, "expected 'Sysreg NAME op0 op1 CRn CRm op2'")
            cur = {
                "name": tok[1],
                "encoding": [_enc_int(t, file, ln) for t in tok[2:]],
                "fields": [],
                "reserved": [],
                "line": ln,
            }
            cur_kind = "reg"
        elif kw == "SysregFields":
            if cur is not None:
                raise SysregSyntaxError(file, ln, "SysregFields inside another block")
            if len(tok) != 2:
                raise SysregSyntaxError(file, ln, "expected 'SysregFields NAME'")
            cur = {"name": tok[1], "fields": [], "reserved": [], "line": ln}
            cur_kind = "layout"
        elif kw in ("EndSysreg", "EndSysregFields"):
            want = "reg" if kw == "EndSysreg" else "layout"
            if cur is None or cur_kind != want:
                raise SysregSyntaxError(file, ln, f"{kw} without a matching opening line")
            if cur_kind == "reg":
                regs[cur["name"]] = cur
            else:
                layouts[cur["name"]] = cur["fields"]
            cur = cur_kind = None
        elif cur is None:
            raise SysregSyntaxError(file, ln, f"{kw!r} outside a Sysreg/SysregFields block")
        elif kw in KINDS:
            if len(tok) != 3:
                raise SysregSyntaxError(file, ln, f"expected '{kw} MSB[:LSB] NAME'")
            msb, lsb = _bits(tok[1], file, ln)
            f = {"name": tok[2], "msb": msb, "lsb": lsb, "kind": KINDS[kw]}
            if kw != "Field":
                f["values"] = {}
                enum = f
            cur["fields"].append(f)
        elif kw in RESERVED:
            if len(tok) != 2:
                raise SysregSyntaxError(file, ln, f"expected '{kw} MSB[:LSB]'")
            msb, lsb = _bits(tok[1], file, ln)
            cur["reserved"].append({"type": kw, "msb": msb, "lsb": lsb})
        elif kw == "Fields":
            if len(tok) != 2:
                raise SysregSyntaxError(file, ln, "expected 'Fields NAME'")
            if tok[1] not in layouts:
                raise SysregSyntaxError(file, ln, f"unknown SysregFields {tok[1]!r}")
            cur["fields"].extend(
                dict(f, values=dict(f["values"])) if "values" in f else dict(f) for f in layouts[tok[1]]
            )
        elif kw == "Mapping":
            if len(tok) != 2:
                raise SysregSyntaxError(file, ln, "expected 'Mapping NAME'")
            cur["mapping"] = tok[1]
        elif kw == "EndEnum":
            raise SysregSyntaxError(file, ln, "EndEnum without an enumeration")
        else:
            raise SysregSyntaxError(file, ln, f"unknown keyword {kw!r}")
    if enum is not None:
        raise SysregSyntaxError(file, "EOF", f"enumeration {enum['name']} not closed (missing EndEnum)")
    if cur is not None:
        raise SysregSyntaxError(file, cur["line"], f"block {cur['name']} not closed")
    for r in regs.values():
        if "mapping" in r and not r["fields"]:
            target = regs.get(r["mapping"])
            if target is None:
                raise SysregSyntaxError(file, r["line"], f"Mapping to unknown register {r['mapping']!r}")
            r["fields"] = [dict(f) for f in target["fields"]]
    return {"registers": regs, "layouts": layouts}


def _width(reg: dict) -> int:
    top = max([f["msb"] for f in reg["fields"]] + [x["msb"] for x in reg["reserved"]] + [0])
    return 128 if top >= 64 else 64


def _class(name: str, enc: list[int]) -> str:
    op0, op1, crn, crm, op2 = enc
    if op0 == 3 and op1 == 0 and crn == 0 and 1 <= crm <= 3:
        return "aarch32-id"
    if op0 == 3 and op1 == 0 and crn == 0 and 4 <= crm <= 7:
        return "aarch64-id"
    if name in ("MIDR_EL1", "REVIDR_EL1", "AIDR_EL1", "SMIDR_EL1"):
        return "impdef-id"
    if name == "MPIDR_EL1":
        return "per-vcpu"
    if op0 == 3 and crn == 0 and crm == 0:
        return "cache-id"
    return "other"


def kvm_one_reg_id(enc) -> int:
    op0, op1, crn, crm, op2 = enc
    return 0x6030000000130000 | op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2


def mask_index(enc):
    op0, op1, crn, crm, op2 = enc
    if op0 != 3 or op1 not in (0, 1, 3) or crn != 0 or crm > 7:
        return None
    return (((op1 & 3) - (op1 == 3)) << 6) | (crm & 7) << 3 | op2


def to_table(parsed: dict, only: list[str] | None = None, id_only: bool = False) -> dict:
    """Convert parsed registers into the sysreg-fields.yaml shape."""
    out = {}
    for name, r in parsed["registers"].items():
        if only is not None and name not in only:
            continue
        if id_only and mask_index(r["encoding"]) is None:
            continue
        entry = {
            "encoding": list(r["encoding"]),
            "width": _width(r),
            "kvm_id": kvm_one_reg_id(r["encoding"]),
            "mask_index": mask_index(r["encoding"]),
            "class": _class(name, r["encoding"]),
        }
        if "mapping" in r:
            entry["mapping"] = r["mapping"]
        res1 = 0
        for x in r["reserved"]:
            if x["type"] == "Res1":
                res1 |= ((1 << (x["msb"] - x["lsb"] + 1)) - 1) << x["lsb"]
        if res1:
            entry["res1"] = res1
        fields = []
        for f in sorted(r["fields"], key=lambda f: -f["msb"]):
            g = {"name": f["name"], "msb": f["msb"], "lsb": f["lsb"], "kind": f["kind"]}
            if f.get("values"):
                g["values"] = dict(f["values"])
            fields.append(g)
        entry["fields"] = fields
        out[name] = entry
    if only is not None:
        missing = [n for n in only if n not in out]
        if missing:
            raise SystemExit(f"gen_sysreg_table: registers not found: {', '.join(missing)}")
    return {"format": 1, "registers": out}


# ---------------------------------------------------------------- output


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    import re

    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", s) and s.lower() not in (
        "yes",
        "no",
        "on",
        "off",
        "true",
        "false",
        "null",
        "y",
        "n",
        "~",
    ):
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _values(vals: dict, width: int) -> str:
    return "{" + ", ".join(f"{('0x%X' % k) if k > 9 else k}: {_scalar(v)}" for k, v in vals.items()) + "}"


def dump(table: dict) -> str:
    """YAML text in the committed table's layout (one flow mapping per field)."""
    lines = [
        "# Generated by tools/gen_sysreg_table.py; compare with models/arm64/sysreg-fields.yaml",
        "",
        f"format: {table['format']}",
        "",
        "registers:",
    ]
    for name, r in table["registers"].items():
        lines.append(f"  {name}:")
        lines.append(f"    encoding: [{', '.join(map(str, r['encoding']))}]")
        lines.append(f"    width: {r['width']}")
        lines.append(f"    kvm_id: {'0x%016x' % r['kvm_id']}")
        lines.append(f"    mask_index: {_scalar(r['mask_index'])}")
        lines.append(f"    class: {r['class']}")
        if "mapping" in r:
            lines.append(f"    mapping: {r['mapping']}")
        if "res1" in r:
            lines.append(f"    res1: {'0x%x' % r['res1']}")
        if not r["fields"]:
            lines.append("    fields: []")
            continue
        lines.append("    fields:")
        for f in r["fields"]:
            parts = [
                f"name: {_scalar(f['name'])}",
                f"msb: {f['msb']}",
                f"lsb: {f['lsb']}",
                f"kind: {f['kind']}",
            ]
            if "values" in f:
                parts.append("values: " + _values(f["values"], f["msb"] - f["lsb"] + 1))
            lines.append("      - {" + ", ".join(parts) + "}")
    return "\n".join(lines) + "\n"


def compare(generated: dict, committed: dict) -> list[str]:
    """Differences in layout (names, bit ranges, kinds, value names) for the
    registers present in both tables."""
    diffs = []
    for name, g in generated["registers"].items():
        c = committed.get("registers", {}).get(name)
        if c is None:
            continue
        if list(c["encoding"]) != g["encoding"]:
            diffs.append(f"{name}: encoding {c['encoding']} vs {g['encoding']}")
        cf = {f["name"]: f for f in c.get("fields") or []}
        gf = {f["name"]: f for f in g["fields"]}
        for n in sorted(set(cf) | set(gf)):
            if n not in cf:
                diffs.append(f"{name}.{n}: only in the kernel ({gf[n]['msb']}:{gf[n]['lsb']})")
            elif n not in gf:
                diffs.append(f"{name}.{n}: only in the committed table")
            else:
                a, b = cf[n], gf[n]
                if (a["msb"], a["lsb"]) != (b["msb"], b["lsb"]):
                    diffs.append(f"{name}.{n}: bits {a['msb']}:{a['lsb']} vs {b['msb']}:{b['lsb']}")
                if a.get("kind") != b["kind"]:
                    diffs.append(f"{name}.{n}: kind {a.get('kind')} vs {b['kind']}")
                for k in sorted(set(a.get("values") or {}) | set(b.get("values") or {})):
                    va, vb = (a.get("values") or {}).get(k), (b.get("values") or {}).get(k)
                    if va != vb:
                        diffs.append(f"{name}.{n}: value {k} named {va!r} vs {vb!r}")
    return diffs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("path", help="kernel source tree or arch/arm64/tools/sysreg file")
    ap.add_argument("-o", "--output", help="write the table here (default: stdout)")
    ap.add_argument("--registers", help="comma-separated register names to keep")
    ap.add_argument(
        "--id-only",
        action="store_true",
        help="keep only registers of the KVM feature-ID range (op0=3, op1 0/1/3, CRn=0)",
    )
    ap.add_argument(
        "--compare",
        metavar="TABLE",
        help="print differences against a committed table instead of the table itself; exit 1 if any",
    )
    args = ap.parse_args(argv)

    p = Path(args.path)
    src = p / "arch" / "arm64" / "tools" / "sysreg" if p.is_dir() else p
    try:
        text = src.read_text(encoding="utf-8")
    except OSError as e:
        print(f"gen_sysreg_table: {src}: cannot read ({e.strerror})", file=sys.stderr)
        return 2
    try:
        parsed = parse(text, str(src))
    except SysregSyntaxError as e:
        print(f"gen_sysreg_table: {e}", file=sys.stderr)
        return 2
    only = [r.strip() for r in args.registers.split(",") if r.strip()] if args.registers else None
    table = to_table(parsed, only, args.id_only)
    if args.compare:
        import yaml

        committed = yaml.safe_load(Path(args.compare).read_text(encoding="utf-8"))
        diffs = compare(table, committed)
        print("\n".join(diffs) if diffs else "no differences")
        return 1 if diffs else 0
    text = dump(table)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
