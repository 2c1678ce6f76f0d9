"""What ``-version``, ``-help`` and the ``help`` values print (stdout, exit 0).

A build directory may hold the real binary's texts, captured verbatim:
``help.txt`` (``-help``), ``machine-help.txt`` (``-machine help``),
``device-help.txt`` (``-device help``); they are printed as they are.
Otherwise the texts are generated from the build's recorded answers in the
layout QEMU uses (``-cpu help`` and ``-accel help`` are always generated: the
recordings hold everything they show).
"""

from __future__ import annotations

import os

from ..errors import QMPError


def _captured(build, name):
    base = os.path.dirname(getattr(build, "path", "") or "")
    if not base:
        return None
    p = os.path.join(base, name)
    try:
        with open(p, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def _version_string(build) -> str:
    v = str(build.data.get("version", ""))
    if v.count(".") < 2:
        v = "%d.%d.%d" % tuple(build.version)
    return v


def version_text(profile) -> str:
    b = profile.build
    pkg = " (%s)" % b.package if b.package else ""
    year = 2015 + b.version[0] if b.version[0] >= 7 else 2022
    return (
        "QEMU emulator version %s%s\n"
        "Copyright (c) 2003-%d Fabrice Bellard and the QEMU Project developers\n"
        % (_version_string(b), pkg, year)
    )


def usage(profile) -> str:
    b = profile.build
    text = _captured(b, "help.txt")
    if text is not None:
        return text
    prog = "qemu-system-" + b.target
    from .options import TABLE

    lines = [
        version_text(profile).rstrip("\n"),
        "usage: %s [options] [disk_image]" % prog,
        "",
        "'disk_image' is a raw hard disk image for IDE hard disk 0",
        "",
        "Options (qmpserver stand-in; see docs/launcher.md):",
    ]
    for name in sorted(TABLE):
        lines.append("-%s%s" % (name, " arg" if TABLE[name] else ""))
    lines += [
        "",
        "During emulation, the following keys are useful:",
        "ctrl-alt-f      toggle full screen",
        "",
        "",
    ]
    return "\n".join(lines)


def _machine_desc(m) -> str:
    name = m["name"]
    if name == "none":
        return "empty machine"
    if name.startswith("virt-"):
        return "QEMU %s ARM Virtual Machine" % name[5:]
    return m.get("description", "")


def machine_help(profile, mtype=None) -> str:
    b = profile.build
    if mtype is None:
        text = _captured(b, "machine-help.txt")
        if text is not None:
            return text
        out = ["Supported machines are:"]
        for m in sorted(b.machines(), key=lambda m: m["name"]):
            desc = _machine_desc(m)
            if "alias" in m:
                out.append("%-20s %s (alias of %s)" % (m["alias"], desc, m["name"]))
            out.append(
                (
                    "%-20s %s%s%s"
                    % (
                        m["name"],
                        desc,
                        " (default)" if m.get("is-default") else "",
                        " (deprecated)" if m.get("deprecated") else "",
                    )
                ).rstrip()
            )
        return "\n".join(out) + "\n"
    canonical = b.canonical_machine(mtype)
    if canonical is None:
        return ""
    typename = canonical + "-machine"
    props = b.recorded_return("qom-list-properties", {"typename": typename}, None, default=[]) or []
    try:
        from ..commands import qom as _qom

        for fn in _qom.PROPERTY_OVERLAYS:
            props = fn(_FakeInstance(profile, canonical), typename, props) or props
    except Exception:  # overlays are best effort here: help must never fail
        pass
    return _props_help(typename, props, children=False)


class _FakeInstance:
    """Enough of an instance for property overlays while printing help."""

    def __init__(self, profile, machine):
        self.profile = profile
        self.build = profile.build
        self.host = profile.host
        from ..vm.state import Caches, CpuState  # lazy: machine help only, not -version

        self.accel = profile.defaults.get("accel", "tcg")
        self.cpu = CpuState()
        self.caches = Caches()


def _props_help(typename, props, children=True) -> str:
    """``object_property_help`` lines, sorted, under ``<type> options:`` (a machine's
    help leaves out its child containers, a device's lists them)."""
    rows = []
    for p in props:
        if p["name"] == "type" or (not children and str(p.get("type", "")).startswith("child<")):
            continue
        line = "  %s=<%s>" % (p["name"], p.get("type", ""))
        desc = p.get("description")
        has_default = "default-value" in p
        if desc or has_default:
            line = line.ljust(24) + " - "
        if desc:
            line += desc
        if has_default:
            line += " (default: %s)" % _default_text(p["default-value"])
        rows.append(line)
    rows.sort()
    if not rows:
        return "There are no options for %s.\n" % typename
    return "%s options:\n%s\n" % (typename, "\n".join(rows))


def _default_text(v):
    from ..wire.encode import dumps

    return dumps(v)


def accel_help(profile) -> str:
    accels = sorted(a for a in profile.build.accelerators if a != "qtest")
    return "Accelerators supported in QEMU binary:\n" + "".join("%s\n" % a for a in accels)


def cpu_help(profile, accel=None) -> str:
    b = profile.build
    defs = b.recorded_return("query-cpu-definitions", None, accel, default=None)
    if defs is None:
        defs = []
        for e in b.recorded_calls("query-cpu-definitions"):
            defs = e.get("return") or defs
    # arm_cpu_list sorts by type name ("pxa270-a0-arm-cpu" < "pxa270-arm-cpu")
    names = [d["name"] for d in sorted(defs, key=lambda d: d.get("typename", d["name"]))]
    out = "Available CPUs:\n" + "".join("  %s\n" % n for n in names)
    if b.has_proposal("arm-cpu-models") and b.target == "aarch64":
        from ..arch.arm64 import named  # proposal: the named KVM models, aliases marked

        t = named.tables()
        out += "Named CPU models (KVM; proposal arm-cpu-models):\n" + "".join(
            "  %s%s\n" % (n, "  (alias of %s)" % a if a else "") for n, a in t.order
        )
    return out


# display backends of Debian's 7.2 build, in the order ``-display help`` prints them
DISPLAY_BACKENDS = ("none", "gtk", "sdl", "egl-headless", "curses", "spice-app", "dbus")
# chardev backends, in the order ``-chardev help`` prints them (QOM class order)
CHARDEV_HELP_ORDER = (
    "stdio",
    "vc",
    "serial",
    "pipe",
    "pty",
    "testdev",
    "null",
    "ringbuf",
    "wctablet",
    "qemu-vdagent",
    "msmouse",
    "socket",
    "udp",
    "file",
    "mux",
    "parallel",
    "memory",
)


def display_help() -> str:
    return "Available display backend types:\n" + "".join("%s\n" % d for d in DISPLAY_BACKENDS)


def chardev_help() -> str:
    return "Available chardev backend types: \n" + "".join("  %s\n" % c for c in CHARDEV_HELP_ORDER)


def object_help(profile, qom_type=None) -> str:
    cmd = profile.build.schema.command("object-add")
    types = sorted(cmd.arg_type.variants) if cmd is not None and cmd.arg_type is not None else []
    if qom_type and qom_type != "help":
        props = (
            profile.build.recorded_return("qom-list-properties", {"typename": qom_type}, None, default=[])
            or []
        )
        return _props_help(qom_type, props).replace("options:", "options:", 1)
    return "List of user creatable objects:\n" + "".join("  %s\n" % t for t in types)


def device_help(profile, driver=None) -> str:
    b = profile.build
    if driver:
        props = b.recorded_return("device-list-properties", {"typename": driver}, None, default=None)
        if props is None:
            raise QMPError("Device '%s' not found" % driver)
        return _props_help(driver, props)
    text = _captured(b, "device-help.txt")
    if text is not None:
        return text
    types = b.recorded_return("qom-list-types", None, None, default=[]) or []
    parents = {t["name"]: t.get("parent") for t in types}

    def is_device(n):
        seen = set()
        while n and n not in seen:
            if n == "device":
                return True
            seen.add(n)
            n = parents.get(n)
        return False

    names = sorted(t["name"] for t in types if is_device(t["name"]) and not t.get("abstract"))
    return "Misc devices:\n" + "".join('name "%s"\n' % n for n in names)
