"""QEMU option-string syntax: ``implied,key=value,key2=value2`` (``,,`` escapes a comma).

Shared by ``qmpserver serve --machine/--cpu`` and the QEMU-compatible launcher.
"""

from __future__ import annotations


class OptsError(ValueError):
    pass


def split_commas(s: str) -> list:
    """Split on single commas; ``,,`` stands for a literal comma."""
    out, cur, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == ",":
            if i + 1 < len(s) and s[i + 1] == ",":
                cur.append(",")
                i += 2
                continue
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def parse_opts(s: str, implied: str | None = None) -> dict:
    """Parse a QemuOpts string into an ordered dict (later keys win, like QEMU)."""
    out: dict = {}
    for i, part in enumerate(split_commas(s)):
        if part == "" and i > 0:
            continue
        if "=" in part:
            k, _, v = part.partition("=")
            out[k] = v
        elif i == 0 and implied is not None:
            out[implied] = part
        else:
            # a bare flag means "on" (QemuOpts boolean shorthand)
            out[part] = "on"
    return out


def parse_bool(value: str, name: str) -> bool:
    if value in ("on", "yes", "true", "y"):
        return True
    if value in ("off", "no", "false", "n"):
        return False
    raise OptsError("Parameter '%s' expects 'on' or 'off'" % name)


def parse_cpu(s: str):
    """``-cpu model,prop=value,+feat,-feat`` -> (model, props)."""
    parts = split_commas(s)
    model = parts[0]
    props: dict = {}
    for p in parts[1:]:
        if not p:
            continue
        if p[0] in "+-" and "=" not in p:
            props[p[1:]] = "on" if p[0] == "+" else "off"
        elif "=" in p:
            k, _, v = p.partition("=")
            props[k] = v
        else:
            props[p] = "on"
    return model, props
