#!/usr/bin/env python3
"""Print a normalized, name-independent digest of QMP commands/events from a
recorded ``query-qmp-schema`` reply.

QEMU masks type names in introspection (``"0"``, ``"17"``, ``"[17]"``), and the
numbers change whenever the schema changes, so two recordings cannot be diffed
directly.  This script resolves every type reference recursively and prints the
*shape* a client sees: members in wire order (``*`` marks optional members),
their resolved types, enum values, union tags and branches, features and the
``allow-oob`` flag.  Two digests (e.g. a libvirt ``.replies`` recording and the
introspection produced from ``schemas/qapi``) can then be compared with
``diff -u``.

Input formats (auto-detected):
  * a libvirt ``tests/qemucapabilitiesdata/*.replies`` file (a stream of
    pretty-printed JSON objects; the ``query-qmp-schema`` reply is used);
  * a JSON file holding the SchemaInfo list, ``{"return": [...]}`` or a
    stream of QMP messages (e.g. a captured session);
  * ``-`` for standard input.

Examples:
  tools/schema_digest.py caps_8.2.0_aarch64.replies query-cpu-model-expansion
  tools/schema_digest.py --list caps_8.2.0_aarch64.replies
  tools/schema_digest.py --json rec.json SHUTDOWN stop cont > digest.json
  tools/schema_digest.py a.replies --diff b.replies query-migrate  # diff -u

Standalone on purpose: it needs only the Python standard library and imports
nothing from qmpserver.
"""

import argparse
import json
import sys

BUILTIN_META = "builtin"


def _json_stream(text):
    """Yield every top-level JSON value found in *text*."""
    dec = json.JSONDecoder()
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return
        obj, i = dec.raw_decode(text, i)
        yield obj


def _is_schema_list(value):
    return isinstance(value, list) and value and all(isinstance(e, dict) and "meta-type" in e for e in value)


def load_schema(path):
    """Return the SchemaInfo list contained in *path* (see module doc)."""
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    for obj in _json_stream(text):
        if _is_schema_list(obj):
            return obj
        if isinstance(obj, dict) and _is_schema_list(obj.get("return")):
            return obj["return"]
    raise SystemExit(f"{path}: no query-qmp-schema reply found")


class Digest:
    """Resolve masked type references of one SchemaInfo list."""

    def __init__(self, entries):
        self.by_name = {}
        for e in entries:
            if e["name"] in self.by_name:
                raise SystemExit(f"duplicate SchemaInfo name {e['name']!r}")
            self.by_name[e["name"]] = e

    # -- structured form -------------------------------------------------

    def resolve(self, tname, stack=()):
        """Return a JSON-able structure describing type *tname*."""
        if tname.startswith("[") and tname.endswith("]"):
            return {"array": self.resolve(tname[1:-1], stack)}
        ent = self.by_name.get(tname)
        if ent is None:
            return {"unknown": tname}
        mt = ent["meta-type"]
        if mt == BUILTIN_META:
            return tname
        if tname in stack:
            return {"recursive": len(stack) - stack.index(tname)}
        stack = stack + (tname,)
        out = {}
        if ent.get("features"):
            out["features"] = list(ent["features"])
        if mt == "array":
            return {"array": self.resolve(ent["element-type"], stack)}
        if mt == "enum":
            vals = []
            if "members" in ent:
                for m in ent["members"]:
                    vals.append(m["name"] + _feat_suffix(m.get("features")))
            else:
                vals = list(ent.get("values", []))
            out["enum"] = vals
            return out
        if mt == "alternate":
            out["alternate"] = [self.resolve(m["type"], stack) for m in ent["members"]]
            return out
        if mt == "object":
            members = []
            for m in ent.get("members", []):
                md = {"name": m["name"], "optional": "default" in m, "type": self.resolve(m["type"], stack)}
                if m.get("features"):
                    md["features"] = list(m["features"])
                members.append(md)
            out["members"] = members
            if "tag" in ent:
                out["tag"] = ent["tag"]
                out["variants"] = [
                    {"case": v["case"], "type": self.resolve(v["type"], stack)}
                    for v in ent.get("variants", [])
                ]
            return out
        return {"meta-type": mt}

    def entity(self, name):
        ent = self.by_name.get(name)
        if ent is None or ent["meta-type"] not in ("command", "event"):
            return None
        out = {"name": name, "meta-type": ent["meta-type"]}
        out["arg"] = self.resolve(ent["arg-type"])
        if ent["meta-type"] == "command":
            out["ret"] = self.resolve(ent["ret-type"])
            out["allow-oob"] = bool(ent.get("allow-oob", False))
        out["features"] = list(ent.get("features", []))
        return out

    def names(self, meta_type=None):
        return [
            e["name"]
            for e in self.by_name.values()
            if e["meta-type"] in ("command", "event") and (meta_type is None or e["meta-type"] == meta_type)
        ]


def _feat_suffix(features):
    return " $" + ",$".join(features) if features else ""


# -- text form -------------------------------------------------------------


def _short(t):
    """One-line rendering for simple types, None if it needs a block."""
    if isinstance(t, str):
        return t
    if "array" in t:
        inner = _short(t["array"])
        return None if inner is None else f"[{inner}]"
    if "recursive" in t:
        return f"<recursive {t['recursive']} up>"
    if "unknown" in t:
        return f"<unknown {t['unknown']}>"
    if "enum" in t and "features" not in t:
        return "enum(" + " ".join(t["enum"]) + ")"
    if t.get("members") == [] and "tag" not in t and "features" not in t:
        return "{}"
    return None


def render(t, indent, lines):
    pad = "  " * indent
    if "array" in t:
        lines.append(pad + "array of:")
        inner = _short(t["array"])
        if inner is not None:
            lines.append(pad + "  " + inner)
        else:
            render(t["array"], indent + 1, lines)
        return
    if t.get("features"):
        lines.append(pad + "type features: " + " ".join(t["features"]))
    if "enum" in t:
        lines.append(pad + "enum(" + " ".join(t["enum"]) + ")")
    elif "alternate" in t:
        lines.append(pad + "alternate of:")
        for a in t["alternate"]:
            s = _short(a)
            if s is not None:
                lines.append(pad + "  | " + s)
            else:
                lines.append(pad + "  | object:")
                render(a, indent + 2, lines)
    elif "members" in t:
        for m in t["members"]:
            head = pad + ("*" if m["optional"] else "") + m["name"] + ":"
            feats = _feat_suffix(m.get("features"))
            s = _short(m["type"])
            if s is not None:
                lines.append(f"{head} {s}{feats}")
            else:
                lines.append(head + feats)
                render(m["type"], indent + 1, lines)
        if "tag" in t:
            lines.append(pad + f"variants on {t['tag']}:")
            for v in t["variants"]:
                s = _short(v["type"])
                if s is not None:
                    lines.append(pad + f"  case {v['case']}: {s}")
                else:
                    lines.append(pad + f"  case {v['case']}:")
                    render(v["type"], indent + 2, lines)
    else:
        lines.append(pad + json.dumps(t))


def render_entity(d):
    lines = []
    head = f"{d['meta-type']} {d['name']}"
    flags = []
    if d.get("allow-oob"):
        flags.append("allow-oob")
    flags += ["$" + f for f in d["features"]]
    if flags:
        head += "  [" + " ".join(flags) + "]"
    lines.append(head)
    for key in ("arg", "ret"):
        if key not in d:
            continue
        s = _short(d[key])
        if s is not None:
            lines.append(f"  {key}: {s}")
        else:
            lines.append(f"  {key}:")
            render(d[key], 2, lines)
    return "\n".join(lines)


def main(argv=None):
    head, _, rest = __doc__.partition("\n\n")
    ap = argparse.ArgumentParser(
        description=head, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("file", help=".replies file, JSON file, or - for stdin")
    ap.add_argument("names", nargs="*", help="command/event names (default: all, in schema order)")
    ap.add_argument("--json", action="store_true", help="print the digest as JSON instead of text")
    ap.add_argument("--list", action="store_true", help="only list command and event names with flags")
    ap.add_argument("--sort", action="store_true", help="print entities sorted by name (eases diffing)")
    ap.add_argument(
        "--diff",
        metavar="OTHER",
        help="compare with a second input and print a unified diff "
        "per entity (exit status 1 if anything differs)",
    )
    args = ap.parse_intermixed_args(argv)

    if args.diff:
        return diff_main(args)

    dig = Digest(load_schema(args.file))
    names = args.names or dig.names()
    if args.sort:
        names = sorted(names)
    missing = [n for n in names if dig.entity(n) is None]
    out = [dig.entity(n) for n in names if n not in missing]
    if args.list:
        for d in out:
            flags = (["allow-oob"] if d.get("allow-oob") else []) + ["$" + f for f in d["features"]]
            print(" ".join([d["meta-type"], d["name"]] + flags))
    elif args.json:
        json.dump(out, sys.stdout, indent=1)
        print()
    else:
        print("\n\n".join(render_entity(d) for d in out))
    for n in missing:
        print(f"# not in schema: {n}", file=sys.stderr)
    return 1 if missing else 0


def diff_main(args):
    import difflib

    left, right = Digest(load_schema(args.file)), Digest(load_schema(args.diff))
    names = args.names or sorted(set(left.names()) | set(right.names()))
    changed = 0
    for n in names:
        a, b = left.entity(n), right.entity(n)
        ta = render_entity(a).splitlines() if a else []
        tb = render_entity(b).splitlines() if b else []
        if ta == tb:
            continue
        changed += 1
        if not ta or not tb:
            where = args.diff if not ta else args.file
            print(f"# {n}: only in {where}")
            continue
        print("\n".join(difflib.unified_diff(ta, tb, args.file, args.diff, lineterm="", n=1)))
    print(f"# {changed} of {len(names)} entities differ", file=sys.stderr)
    return 1 if changed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into head
        sys.exit(0)
