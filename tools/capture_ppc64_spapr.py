#!/usr/bin/env python3
"""Measure QEMU's spapr capability (``cap-*``) start-up rules from a real ``qemu-system-ppc64``.

The pseries machine's capabilities are machine properties whose defaults depend on the machine
version and on the CPU model, and which each accelerator accepts, refuses or warns about when the
machine is created (QEMU ``hw/ppc/spapr_caps.c``: ``default_caps_with_cpu``,
``spapr_caps_apply``).  None of that is in a ``profiles capture`` recording; this script asks the
binary, one launch (``-S -accel tcg``) per question, and writes the answers as data
(``models/ppc64/spapr-caps-7.2.yaml``):

* ``caps``: every ``cap-*`` property in QEMU's apply order (the order the warnings come out
  in), with its QOM type and, for string caps, the values it takes (from ``-machine help``'s
  description; their order is the capability level).
* ``extras``: the other ``/machine`` properties a management layer reads (``vsmt``, ``ic-mode``,
  ``kvm-type``, ``resize-hpt``, ``max-cpu-compat``).
* ``defaults``: per machine version, the ``qom-get /machine`` answers of every cap and extra
  with the machine's default CPU; ``cpu-defaults``: per machine version and spapr CPU model,
  the answers that differ from those (QEMU lowers caps a CPU's compatibility level lacks).
* ``apply``: per cap and value set alone on the command line of the newest machine version, per
  CPU model, what the accelerator adds to stderr at start-up: a ``warning`` line, or an
  ``error`` (exit 1) with its lines.
* ``set-errors``: QEMU's text for values a cap refuses when it is set (bad mode, not a power of
  two, not a bool ...).

Usage::

    python3 tools/capture_ppc64_spapr.py [--emulator /usr/bin/qemu-system-ppc64] \\
        -o models/ppc64/spapr-caps-7.2.yaml
    python3 tools/capture_ppc64_spapr.py --emulator .cache/qemu-10.0/bin/qemu-system-ppc64 \\
        -o models/ppc64/spapr-caps-10.0.yaml
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from qmpserver.profiles.capture import CaptureError, QMPClient  # noqa: E402

# QEMU's capability table order per QEMU version (hw/ppc/spapr_caps.c ``capability_table``,
# indexed by the SPAPR_CAP_* numbers of include/hw/ppc/spapr.h): caps are applied in it at machine
# creation, so warnings come out in it and the first refused cap ends start-up.  The script checks
# it against the binary's caps and the order of the default warnings.
ORDER_7_2 = (
    "cap-htm",
    "cap-vsx",
    "cap-dfp",
    "cap-cfpc",
    "cap-sbbc",
    "cap-ibs",
    "cap-hpt-max-page-size",
    "cap-nested-hv",
    "cap-large-decr",
    "cap-ccf-assist",
    "cap-fwnmi",
    "cap-rpt-invalidate",
)
ORDERS = {
    (7, 2): ORDER_7_2,
    # SPAPR_CAP_AIL_MODE_3 0x0C (8.0), SPAPR_CAP_NESTED_PAPR 0x0D (9.0), SPAPR_CAP_DAWR1 0x0E (10.0)
    (10, 0): ORDER_7_2 + ("cap-ail-mode-3", "cap-nested-papr", "cap-dawr1"),
}
# the values at which the caps that warn under TCG by default are silent: the apply question of
# one cap sets the others to these, so that its stderr is its own
QUIET = {"cap-cfpc": "broken", "cap-sbbc": "broken", "cap-ibs": "broken", "cap-ccf-assist": "off"}
ORDER: tuple = ORDER_7_2  # the measured binary's, set by main()
# caps whose apply functions read each other (QEMU 9.0+: one nested API per machine; the
# later cap of the pair is refused when the earlier one is on), asked together per CPU model
CONFLICTS = ((("cap-nested-hv", "on"), ("cap-nested-papr", "on")),)
# caps whose apply reads the SMT threads per core (10.0: TCG runs nested-HV with one thread
# only), asked with -smp 2,threads=2 where the binary takes SMT under TCG
SMT_CAPS = (("cap-nested-hv", "on"),)
EXTRAS = ("vsmt", "ic-mode", "kvm-type", "resize-hpt", "max-cpu-compat")
# values asked of each cap beyond its modes: hpt-max-page-size takes a size
PAGE_SIZES = ("4k", "64k", "16M", "16G", "2k")
BAD_VALUES = {
    "bool": ("maybe",),
    "string": ("nosuch", "?"),
    "int": ("3k", "abc", "0"),
}


def launch(emulator: str, args: list[str], props: list[str] | None = None) -> dict:
    """:func:`launch_once`, asked again once if QEMU did not answer (a loaded machine)."""
    try:
        return launch_once(emulator, args, props)
    except (CaptureError, SystemExit) as e:
        print("  retrying %s (%s)" % (args, e), file=sys.stderr)
        return launch_once(emulator, args, props)


def launch_once(emulator: str, args: list[str], props: list[str] | None = None) -> dict:
    """One paused TCG launch: {"rc": int | "started", "stderr": [lines], "qom": {prop: value}}."""
    tmp = tempfile.mkdtemp(prefix="ppcs", dir="/tmp")
    sock = os.path.join(tmp, "q.sock")
    argv = [emulator, "-S", "-nodefaults", "-display", "none", "-accel", "tcg"]
    argv += ["-qmp", "unix:%s,server=on,wait=off" % sock] + args
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    out: dict = {}
    try:
        deadline = time.time() + 30
        client = None
        while client is None and p.poll() is None and time.time() < deadline:
            try:  # the socket file exists a moment before QEMU listens on it
                client = QMPClient(sock, 10)
            except CaptureError:
                time.sleep(0.005)
        if client is not None:
            try:
                # QEMU may still exit: the machine is created after the monitor
                client.execute("qmp_capabilities")
                qom = {}
                for name in props or ():
                    r = client.execute("qom-get", {"path": "/machine", "property": name})
                    qom[name] = r.get("return", r.get("error"))
                client.close()
                out = {"rc": "started", "qom": qom}
                p.kill()
            except CaptureError:
                try:  # QEMU closed the connection: it is exiting
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:  # still running: it did not answer
                    p.kill()
                    raise CaptureError("QEMU did not answer") from None
        if p.poll() is None and not out:
            p.kill()
            raise SystemExit("%s: no QMP socket after 20 s" % " ".join(argv))
        p.wait()
        if "rc" not in out:
            out["rc"] = p.returncode
        err = p.stderr.read().decode() if p.stderr else ""
        out["stderr"] = [ln for ln in err.splitlines() if "terminating on signal" not in ln]
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


HINT = re.compile(r"^Try appending -machine (cap-[\w-]+)=off$")


def measure_defaults(emulator: str, machine: str, cpu: str | None, props: list[str]) -> dict:
    """The /machine answers of ``-machine MACHINE [-cpu CPU]`` with nothing else set:
    {"qom", "stderr"}.  When the defaults themselves are refused (pseries-2.11 and older
    default ``cap-htm=on``, which TCG refuses), {"refused": the refusal's stderr} and the
    answers of a launch with the cap QEMU's hint names set off, that cap reported as the
    default QEMU refused (on)."""
    args = ["-machine", machine] + (["-cpu", cpu] if cpu else [])
    r = launch(emulator, args, props)
    if r["rc"] == "started":
        return {"qom": r["qom"], "stderr": r["stderr"]}
    hint = next((HINT.match(ln) for ln in r["stderr"] if HINT.match(ln)), None)
    assert hint, (args, r)
    cap = hint.group(1)
    again = launch(emulator, ["-machine", "%s,%s=off" % (machine, cap)] + args[2:], props)
    assert again["rc"] == "started", (args, again)
    qom = dict(again["qom"])
    qom[cap] = True
    return {"qom": qom, "stderr": again["stderr"], "refused": r["stderr"]}


# the caps whose apply check reads max-cpu-compat under TCG
COMPAT_APPLY = ("cap-large-decr", "cap-dawr1")
# max-cpu-compat values asked (the modes of target/ppc/compat.c and spellings it refuses)
COMPAT_MODES = ("power6", "power7", "power8", "power9", "power10", "power11", "POWER8", "power5+", "nosuch")
# hw/ppc/spapr_caps.c default_caps_with_cpu sets the caps a CPU's (or max-cpu-compat's)
# compatibility level lacks to fixed values whatever the machine version: asked on the newest
# version and on pseries-2.11 (where the binary still has it), whose cap-htm default (on) shows
# whether HTM is lowered
COMPAT_OLD = "pseries-2.11"


def compat_machines(machines: list) -> tuple:
    return (machines[0],) + ((COMPAT_OLD,) if COMPAT_OLD in machines else ())


def measure_compat(
    emulator: str, machines: list, cpus: list, props: list, defaults: dict, cpu_defaults: dict
):
    """Per max-cpu-compat mode and CPU model: the /machine values the mode forces (against
    the CPU's own defaults, on compat_machines()), and what start-up prints when the mode
    refuses (``Compatibility PVR 0x0f000005 not valid for CPU``); the set-time errors of
    the spellings QEMU refuses."""
    compat: dict = {}
    errors: dict = {}
    for mode in COMPAT_MODES:
        r = launch(emulator, ["-machine", "%s,max-cpu-compat=%s" % (machines[0], mode)])
        if r["rc"] != "started" and any("compatibility mode" in ln for ln in r["stderr"]):
            errors[mode] = {"rc": r["rc"], "stderr": r["stderr"]}
            continue
        for c in cpus:
            entry: dict = {}
            for m in compat_machines(machines):
                base = dict(defaults[m]["qom"])
                base.update(((cpu_defaults.get(m) or {}).get(c) or {}).get("qom") or {})
                got = launch(emulator, ["-machine", "%s,max-cpu-compat=%s" % (m, mode), "-cpu", c], props)
                if got["rc"] == "started":
                    forced = {k: v for k, v in got["qom"].items() if v != base[k] and k != "max-cpu-compat"}
                    entry.setdefault("forced", {}).update(forced)
                elif m == machines[0]:
                    entry["rc"] = got["rc"]
                    entry["stderr"] = got["stderr"]
            # cap_large_decr_apply (and 10.0's cap_dawr1_apply) check the CPU against
            # max-cpu-compat under TCG (the other apply checks read the CPU model alone)
            quiet = "".join(",%s=%s" % kv for kv in QUIET.items())
            for cap in COMPAT_APPLY:
                if cap not in props:
                    continue
                ld = launch(
                    emulator,
                    ["-machine", "%s%s,max-cpu-compat=%s,%s=on" % (machines[0], quiet, mode, cap), "-cpu", c],
                )
                if ld["rc"] == "started":
                    outcome: dict = {"warning": ld["stderr"]} if ld["stderr"] else {}
                else:
                    outcome = {"error": ld["stderr"], "rc": ld["rc"]}
                # a pair QEMU refuses anyway fails after the caps: that is no outcome of the cap
                if not ("rc" in entry and ld["stderr"][-1:] == entry["stderr"][-1:]):
                    entry.setdefault("apply", {})[cap] = {"on": outcome}
            compat.setdefault(mode, {})[c] = entry
        print("  compat %s" % mode, file=sys.stderr)
    return compat, errors


def machine_help(emulator: str) -> tuple[list[str], dict]:
    """The pseries machine versions (newest first) and the caps' help lines of the newest."""
    text = subprocess.run([emulator, "-machine", "help"], capture_output=True, text=True).stdout
    machines = [ln.split()[0] for ln in text.splitlines() if re.match(r"pseries-\d", ln)]
    machines.sort(key=lambda m: [int(x) for x in re.findall(r"\d+", m)], reverse=True)
    text = subprocess.run([emulator, "-machine", "pseries,help"], capture_output=True, text=True).stdout
    caps = {}
    for ln in text.splitlines():
        m = re.match(r"\s+(cap-[\w-]+)=<(\w+)>\s+- (.*)", ln)
        if m:
            caps[m.group(1)] = {"type": m.group(2), "description": m.group(3)}
    return machines, caps


def string_values(description: str) -> list[str]:
    """The modes listed in a string cap's description: ``... (broken, workaround, fixed)``."""
    m = re.search(r"\(([^)]*)\)\s*$", description)
    return [v.strip() for v in m.group(1).split(",")] if m else []


def spapr_cpus(emulator: str) -> list[str]:
    """The CPU models with a spapr core type (the ones pseries takes)."""
    r = launch(emulator, ["-machine", "none"])
    assert r["rc"] == "started", r
    tmp = tempfile.mkdtemp(prefix="ppcs", dir="/tmp")
    sock = os.path.join(tmp, "q.sock")
    p = subprocess.Popen(
        [
            emulator,
            "-S",
            "-nodefaults",
            "-display",
            "none",
            "-machine",
            "none",
            "-qmp",
            "unix:%s,server=on,wait=off" % sock,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not os.path.exists(sock):
            time.sleep(0.005)
        c = QMPClient(sock, 10)
        c.execute("qmp_capabilities")
        types = c.execute("qom-list-types", {"implements": "spapr-cpu-core"})["return"]
        c.close()
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    suffix = "-spapr-cpu-core"
    return sorted(
        t["name"][: -len(suffix)]
        for t in types
        if t["name"].endswith(suffix) and t["name"] != "spapr-cpu-core"
    )


class Monitor:
    """A paused ``-machine none`` QEMU with a QMP socket, for ``-cpu`` questions."""

    def __init__(self, emulator: str, args: list[str]) -> None:
        self.dir = tempfile.mkdtemp(prefix="ppcm", dir="/tmp")
        sock = os.path.join(self.dir, "q.sock")
        self.proc = subprocess.Popen(
            [emulator, "-S", "-nodefaults", "-display", "none", "-accel", "tcg"]
            + ["-qmp", "unix:%s,server=on,wait=off" % sock]
            + args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.client = None
        deadline = time.time() + 30
        while self.proc.poll() is None and time.time() < deadline:
            try:
                self.client = QMPClient(sock, 10)
                break
            except CaptureError:
                time.sleep(0.01)
        if self.client is not None:
            try:
                self.client.execute("qmp_capabilities")
            except CaptureError:  # QEMU failed creating the CPU (an assertion for some models)
                self.client = None

    def close(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        err = self.proc.stderr.read().decode() if self.proc.stderr else ""
        return "\n".join(ln for ln in err.splitlines() if "terminating on signal" not in ln)


def cpu_lookup(emu: str, version: str, build: str) -> dict:
    """``-cpu`` lookup facts: each CPU type's PVR (``info registers``), and for each PVR
    the type ``-cpu 0x<PVR>`` creates (QEMU ``ppc_cpu_class_by_pvr``: several types may
    share a PVR)."""
    m = Monitor(emu, ["-machine", "none"])
    defs = m.client.execute("query-cpu-definitions")["return"]
    m.close()
    suffix = "-powerpc64-cpu"
    # QEMU 7.2 answers a model's own entry with an empty typename, an alias's with its
    # model's type
    aliases = {
        d["name"]: d["typename"][: -len(suffix)]
        for d in defs
        if d["typename"] and d["name"] + suffix != d["typename"]
    }
    types = sorted({d["name"] for d in defs if d["name"] not in aliases} | set(aliases.values()))
    pvrs: dict = {}
    for t in types:
        m = Monitor(emu, ["-machine", "none", "-cpu", t])
        if m.client is None:
            print("  %s: %s" % (t, m.close()), file=sys.stderr)
            continue
        regs = m.client.execute("human-monitor-command", {"command-line": "info registers"})["return"]
        m.close()
        found = re.search(r"PVR ([0-9a-f]+)", regs)
        if found:
            pvrs[t] = int(found.group(1), 16)
    by_pvr: dict = {}
    for pvr in sorted(set(pvrs.values())):
        m = Monitor(emu, ["-machine", "none", "-cpu", "0x%08x" % pvr])
        if m.client is None:
            by_pvr[pvr] = None
            m.close()
            continue
        r = m.client.execute("qom-get", {"path": "/machine/unattached/device[0]", "property": "type"})
        m.close()
        by_pvr[pvr] = r["return"][: -len(suffix)]
    return {
        "kind": "ppc64-cpu-lookup",
        "build": build,
        "sources": {
            "measured": "tools/capture_ppc64_spapr.py --cpus --emulator %s (%s), accelerator tcg, -machine none"
            % (emu, version),
            "rules": "QEMU target/ppc/cpu_init.c ppc_cpu_class_by_name (7.2, 10.0): an 8-hex-digit name (0x prefix "
            "allowed) is a PVR; 'max' is the machine's default CPU type; else the name is lower-cased, "
            "an alias replaced by its model, and the type <model>-powerpc64-cpu looked up",
        },
        "aliases": aliases,
        "pvr": {t: "0x%08x" % v for t, v in sorted(pvrs.items())},
        "by-pvr": {"0x%08x" % k: v for k, v in by_pvr.items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--emulator", default="/usr/bin/qemu-system-ppc64")
    ap.add_argument("--cpus", action="store_true", help="measure the -cpu lookup instead")
    ap.add_argument("-o", default="models/ppc64/spapr-caps-7.2.yaml")
    ap.add_argument("--build", help="the build the data belongs to (default qemu-<M.m>-debian-ppc64)")
    a = ap.parse_args()
    emu = a.emulator
    version = subprocess.run([emu, "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    found = re.search(r"version (\d+)\.(\d+)", version)
    assert found, version
    major_minor = (int(found.group(1)), int(found.group(2)))
    build = a.build or "qemu-%d.%d-debian-ppc64" % major_minor
    if a.cpus:
        write(a.o, cpu_lookup(emu, version, build))
        return 0
    global ORDER
    if major_minor not in ORDERS:
        raise SystemExit("no capability table order for QEMU %d.%d: add it to ORDERS" % major_minor)
    ORDER = ORDERS[major_minor]
    machines, help_caps = machine_help(emu)
    cpus = spapr_cpus(emu)
    newest = machines[0]
    # the apply order: the order in which the default warnings come out is the table's; take
    # the order of the help (alphabetical) and then sort by QEMU's table as the warnings show it
    base = launch(emu, ["-machine", newest], list(help_caps) + list(EXTRAS))
    props = list(help_caps) + list(EXTRAS)

    print("machines: %d, cpus: %d" % (len(machines), len(cpus)), file=sys.stderr)
    defaults: dict = {}
    cpu_defaults: dict = {}
    for m in machines:
        r = measure_defaults(emu, m, None, props)
        defaults[m] = r
        for c in cpus:
            rc = measure_defaults(emu, m, c, props)
            diff = {k: v for k, v in rc["qom"].items() if v != r["qom"][k]}
            entry: dict = {}
            if diff:
                entry["qom"] = diff
            for k in ("stderr", "refused"):
                if rc.get(k) != r.get(k):
                    entry[k] = rc.get(k)
            if entry:
                cpu_defaults.setdefault(m, {})[c] = entry
        print("  %s" % m, file=sys.stderr)

    # apply outcomes, one cap=value at a time, per CPU model, on the newest machine
    apply: dict = {}
    set_errors: dict = {}
    assert sorted(ORDER) == sorted(help_caps), sorted(help_caps)
    warned = [ln.split(", ")[-1].split("=")[0] for ln in base["stderr"] if "TCG doesn't support" in ln]
    assert warned == [c for c in ORDER if c in warned], warned
    for cap, info in help_caps.items():
        kind = info["type"]
        if kind == "bool":
            values = ["off", "on"]
        elif kind == "string":
            values = string_values(info["description"])
        else:
            values = list(PAGE_SIZES)
        outcomes: dict = {}
        for v in values:
            for c in cpus:
                quiet = "".join(",%s=%s" % kv for kv in QUIET.items() if kv[0] != cap)
                r = launch(emu, ["-machine", "%s%s,%s=%s" % (newest, quiet, cap, v), "-cpu", c])
                if r["rc"] == "started":
                    key = ("warning", tuple(r["stderr"])) if r["stderr"] else ("ok", ())
                else:
                    key = ("error", tuple(r["stderr"]), r["rc"])
                outcomes.setdefault(v, {}).setdefault(key, []).append(c)
        apply[cap] = {
            v: [
                {
                    "cpus": cs,
                    **({key[0]: list(key[1])} if key[0] != "ok" else {}),
                    **({"rc": key[2]} if key[2:] else {}),
                }
                for key, cs in by.items()
            ]
            for v, by in outcomes.items()
        }
        for bad in BAD_VALUES.get(kind, ()):
            r = launch(emu, ["-machine", "%s,%s=%s" % (newest, cap, bad)])
            set_errors.setdefault(cap, {})[bad] = {"rc": r["rc"], "stderr": r["stderr"]}
        print("  apply %s" % cap, file=sys.stderr)

    conflicts = []
    for pair in CONFLICTS:
        if not all(cap in help_caps for cap, _ in pair):
            continue
        by: dict = {}
        for c in cpus:
            quiet = "".join(",%s=%s" % kv for kv in QUIET.items())
            setting = "".join(",%s=%s" % kv for kv in pair)
            r = launch(emu, ["-machine", "%s%s%s" % (newest, quiet, setting), "-cpu", c])
            key = (r["rc"], tuple(r["stderr"]))
            by.setdefault(key, []).append(c)
        for (rc, err), cs in by.items():
            # the outcome of the pair where neither cap alone is refused for these CPUs
            conflicts.append(
                {
                    "caps": {cap: v == "on" for cap, v in pair},
                    "cpus": cs,
                    **({"error": list(err), "rc": rc} if rc != "started" else {"warning": list(err)}),
                }
            )
        print("  conflict %s" % ",".join("%s=%s" % kv for kv in pair), file=sys.stderr)

    smt = launch(emu, ["-machine", newest, "-smp", "2,threads=2"])
    # per CPU model (10.0: TCG takes SMT from POWER8 on; 7.2 refuses it whatever the CPU)
    smt_by: dict = {}
    for c in cpus:
        quiet = "".join(",%s=%s" % kv for kv in QUIET.items())
        r = launch(emu, ["-machine", newest + quiet, "-cpu", c, "-smp", "2,threads=2"])
        smt_by.setdefault((r["rc"], tuple(r["stderr"])), []).append(c)
    smt_cpus = [{"cpus": cs, "rc": rc, "stderr": list(err)} for (rc, err), cs in smt_by.items()]
    for pair in SMT_CAPS if smt["rc"] == "started" else ():
        by = {}
        for c in cpus:
            quiet = "".join(",%s=%s" % kv for kv in QUIET.items())
            r = launch(
                emu, ["-machine", "%s%s,%s=%s" % ((newest, quiet) + pair), "-cpu", c, "-smp", "2,threads=2"]
            )
            by.setdefault((r["rc"], tuple(r["stderr"])), []).append(c)
        for (rc, err), cs in by.items():
            entry = {"caps": {pair[0]: pair[1] == "on"}, "smp-threads": 2, "cpus": cs}
            entry.update({"error": list(err), "rc": rc} if rc != "started" else {"warning": list(err)})
            conflicts.append(entry)
        print("  smt %s=%s" % pair, file=sys.stderr)

    compat, compat_errors = measure_compat(emu, machines, cpus, props, defaults, cpu_defaults)
    data = {
        "kind": "spapr-caps",
        "build": build,
        "sources": {
            "measured": "tools/capture_ppc64_spapr.py --emulator %s (%s), accelerator tcg" % (emu, version),
            "rules": "QEMU hw/ppc/spapr_caps.c (capability_table, default_caps_with_cpu, spapr_caps_apply) "
            "and hw/ppc/spapr.c (per-version class options); every value here is measured, none copied",
        },
        "machines": machines,
        "cpus": cpus,
        "order": list(ORDER),
        "quiet": QUIET,
        "caps": {
            k: {
                "type": v["type"],
                "description": v["description"],
                **({"values": string_values(v["description"])} if v["type"] == "string" else {}),
            }
            for k, v in help_caps.items()
        },
        "extras": list(EXTRAS),
        "defaults": {m: d["qom"] for m, d in defaults.items()},
        "default-stderr": {m: d["stderr"] for m, d in defaults.items()},
        "refused-defaults": {m: d["refused"] for m, d in defaults.items() if "refused" in d},
        "cpu-defaults": cpu_defaults,
        "apply": apply,
        "set-errors": set_errors,
        "conflicts": conflicts,
        "compat": compat,
        "compat-set-errors": compat_errors,
        "tcg-smt": {
            "argv": "-machine %s -smp 2,threads=2" % newest,
            "rc": smt["rc"],
            "stderr": smt["stderr"],
        },
        "tcg-smt-cpus": smt_cpus,
    }
    write(a.o, data)
    return 0


def write(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Measured by tools/capture_ppc64_spapr.py; regenerate, do not edit by hand.\n")
        yaml.safe_dump(data, f, sort_keys=False, width=110, allow_unicode=False)


if __name__ == "__main__":
    sys.exit(main())
