#!/usr/bin/env python3
"""Measure the rules of QEMU's x86 ``query-cpu-model-expansion`` from a real binary.

``profiles capture`` records each model's ``full`` expansion (TCG pass) and ``host`` / ``max``
under both accelerators.  What a property *does* to an expansion is not in those answers; this
script asks the binary, one ``query-cpu-model-expansion`` per question (``-machine none``, as
libvirt probes), and writes the answers as data (``models/x86_64/cpu-rules-<M.m>.yaml``):

* ``aliases``: a feature's spellings (``sse4.1`` / ``sse4-1`` / ``sse4_1``): with every feature
  of ``base`` set true (by the names a ``static`` expansion uses), the other spellings that turn
  false when one feature is set false, less those of the features it takes along (asked under
  KVM when there is one: TCG clears the KVM paravirt features whatever is asked).
* ``levels``: the ``min-level`` / ``min-xlevel`` / ``min-xlevel2`` / ``level-func7`` values
  ``base`` with one boolean property set true gives, where they differ from ``base``: the CPUID leaf a feature needs (QEMU ``x86_cpu_expand_features``
  raises the minimum leaves for every enabled feature, ``full-cpuid-auto-level``).
  A feature that ``base`` clears when set alone (a prerequisite is off) is asked again with its
  prerequisites (``depends``) set too; its entry is what it raises beyond them.
* ``levels-always``: the same with ``full-cpuid-auto-level=off`` (the leaves QEMU raises anyway).
* ``depends``: for each feature, the other features (``static`` names) that turn off with it in
  the same question (QEMU clears a feature whose prerequisite is off) (QEMU's feature dependency table: a feature whose
  prerequisite is off is cleared).
* ``cpuid``: ``[leaf, subleaf or null, register, bit]`` of each feature held in CPUID (by its
  ``static`` name), read from a realized ``-machine pc -cpu base,+F``'s ``feature-words`` /
  ``filtered-features`` (TCG; the KVM paravirt features under KVM); features held in MSRs (``vmx-*``, ``arch-capabilities`` bits) have none.
* ``restore``: per named model, per prerequisite the model has off (``vmx``, ``svm`` ...), the
  model's own features its expansion shows off only because of that, measured by expanding it
  with the prerequisite on (``-cpu Skylake-Client-IBRS,vmx=on`` gets the model's ``vmx-*``).
* ``feature-words``: ``[leaf, subleaf or null, register]`` of the CPUID feature words in QEMU's
  order (the order of the start-up filtering warnings), from the same ``feature-words`` listing.
* ``kvm-only``: the features that stay true on ``base`` under KVM and turn false under TCG
  whatever is asked (the KVM paravirtual leaves; QEMU clears them without KVM or with ``kvm=off``).
* ``msr``: ``[[MSR index, bit], ...]`` of each feature held in an MSR feature word (the static
  names with no ``cpuid`` entry: ``IA32_ARCH_CAPABILITIES`` bits, ``vmx-*`` ...), read from the
  warnings of one realized ``-machine pc -cpu base,+vmx,+arch-capabilities,+core-capability,
  +pdcm,+F1,+F2...`` under TCG, which offers none of them: ``TCG doesn't support requested
  feature: MSR(10AH).rdctl-no [bit 0]``, or, for a feature whose CPUID prerequisite ``base``
  lacks (``lm``, ``xsaves`` ...), ``This feature depends on other features that were not
  requested: MSR(...)``.  A name QEMU gives two bits has two pairs (7.2's
  ``vmx-invept-single-context``: bits 25 and 41 of IA32_VMX_EPT_VPID_CAP).
* ``msr-words``: the MSR indices of those words in the order QEMU walks them (the order of the
  ``TCG doesn't support`` warnings), after the CPUID words and the XSAVE components.
* ``depends-bits``: per prerequisite of ``depends``, the feature bits (``[name, MSR index, bit]``,
  ``[name, null, bit]`` for a CPUID feature, whose word is in ``cpuid``) QEMU clears when it is off, directly or through a chain,
  read from the ``This feature depends on other features that were not requested`` warnings of
  ``-cpu base,+<every other prerequisite>,+<its dependents>`` under TCG (per bit: a name with two
  bits can lose one, ``vmx-invept-single-context`` to ``vmx-vpid``, the other to ``vmx-ept``).
* ``depends-order``: the same bits in the order of those warnings with every prerequisite off
  (QEMU's dependency table order: the order the warnings of several prerequisites interleave).
* ``vcpu-qom``: a realized vCPU's QOM objects, per accelerator and ``kernel-irqchip`` (``tcg``,
  ``kvm-on``, ``kvm-split``, ``kvm-off``; ``-machine q35 -cpu qemu64 -smp 2``): ``order``, the
  names of ``qom-list /machine/unattached/device[0]`` as listed; ``first`` and ``other``, the
  child objects of vCPU 0 and of vCPU 1 (``device[2]``), each ``list`` (``qom-list``),
  ``values`` (every non-child property's ``qom-get`` reply, the vCPU's own path written
  ``{cpu}``, the local APIC's ``id`` ``{apic-id}``), ``children`` (two levels deep) and ``type``.
* ``model-levels``: per model and accelerator, ``min-level`` / ``min-xlevel`` / ``min-xlevel2``
  with every feature set false: the model's own CPUID levels, before features raise them.
* ``kvm-overlay``: per named model, the properties whose ``full`` value under KVM differs from
  the TCG one (QEMU applies accelerator default properties to named models).

Usage::

    python3 tools/capture_x86_cpu_rules.py [--emulator /usr/bin/qemu-system-x86_64] \\
        [--build models/builds/qemu-7.2-debian-x86_64] -o models/x86_64/cpu-rules-7.2.yaml
    python3 tools/capture_x86_cpu_rules.py --emulator .cache/qemu-10.0/bin/qemu-system-x86_64 \\
        --build models/builds/qemu-10.0-debian-x86_64 -o models/x86_64/cpu-rules-10.0.yaml

The file name carries the binary's version, which ``qmpserver/arch/x86_64/cpu.py``'s
``RULES_FILES`` maps to; ``--build`` must be the capture of the same binary.

KVM questions need ``/dev/kvm``.  The TCG recordings of ``--build`` give the model list and
the TCG ``full`` expansions the overlay is taken against.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

LEVEL_KEYS = ("min-level", "min-xlevel", "min-xlevel2", "level-func7")


class Qemu:
    """A paused ``-machine none`` QEMU with a QMP socket."""

    def __init__(self, emulator: str, accel: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="x86r", dir="/tmp")
        path = os.path.join(self.dir, "qmp.sock")
        # stderr to a file: a pipe nobody reads fills with QEMU 10.0's warnings (one per
        # expansion of some properties) and blocks QEMU mid-answer
        self.stderr = open(os.path.join(self.dir, "stderr"), "wb")  # noqa: SIM115  # closed in close()
        self.proc = subprocess.Popen(
            [
                emulator,
                "-S",
                "-nodefaults",
                "-display",
                "none",
                "-machine",
                "none",
                "-accel",
                accel,
                "-qmp",
                "unix:%s,server=on,wait=off" % path,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
        )
        deadline = time.time() + 20
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise SystemExit(
                        "%s: cannot start %s -accel %s" % (sys.argv[0], emulator, accel)
                    ) from None
                time.sleep(0.01)
        self.buf = b""
        self._line()
        self.cmd("qmp_capabilities")

    def _line(self) -> dict:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise SystemExit("%s: QEMU closed the socket" % sys.argv[0])
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return json.loads(line)

    def cmd(self, name: str, args: dict | None = None) -> dict:
        msg: dict = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\r\n")
        while True:
            r = self._line()
            if "event" not in r:
                return r

    def full(self, name: str, props: dict | None = None) -> dict:
        model: dict = {"name": name}
        if props is not None:
            model["props"] = props
        r = self.cmd("query-cpu-model-expansion", {"type": "full", "model": model})
        if "return" not in r:
            raise SystemExit("%s: %s %s: %s" % (sys.argv[0], name, props, r))
        return r["return"]["model"]["props"]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def recorded(build: str) -> tuple[dict, list[str], list[str]]:
    """TCG full expansions by model, the static feature names, the model names."""
    with open(os.path.join(build, "replies.json"), encoding="utf-8") as f:
        entries = json.load(f)["entries"]
    full: dict = {}
    static: list[str] = []
    models: list[str] = []
    for e in entries:
        args = e.get("arguments") or {}
        if e["execute"] == "query-cpu-definitions" and e.get("accel") == "tcg":
            models = [d["name"] for d in e["return"]]
        if e["execute"] != "query-cpu-model-expansion" or "props" in args.get("model", {}):
            continue
        if e.get("accel") == "tcg" and args["type"] == "full" and "return" in e:
            full[args["model"]["name"]] = e["return"]["model"]["props"]
        if args["type"] == "static" and "return" in e and not static:
            static = list(e["return"]["model"]["props"])
    return (
        full,
        [
            k
            for k in static
            if k
            not in ("min-level", "min-xlevel", "family", "model", "stepping", "model-id", "vendor", "lmce")
        ],
        models,
    )


def levels_with_prerequisites(emulator: str, base: dict, cleared: list[str], out: dict) -> None:
    """``levels`` / ``levels-always`` of the features that ``base`` clears when set alone because
    a prerequisite is off (QEMU 10.0's ``avx10`` needs ``avx10-128``): measured with the
    prerequisites (``depends``, transitively) set too."""
    prereqs: dict[str, set[str]] = {}
    for q, deps in out["depends"].items():
        for d in deps:
            prereqs.setdefault(d, set()).add(q)
    tcg = Qemu(emulator, "tcg")
    try:
        for p in cleared:
            if p not in prereqs or p in out["kvm-only"]:
                continue
            need, todo = set(), list(prereqs[p])
            while todo:
                q = todo.pop()
                if q not in need:
                    need.add(q)
                    todo.extend(prereqs.get(q, ()))
            ask = {q: True for q in sorted(need - {p})}
            for auto, section in ((True, "levels"), (False, "levels-always")):
                extra = {} if auto else {"full-cpuid-auto-level": False}
                without = tcg.full("base", {**extra, **ask})
                got = tcg.full("base", {**extra, **ask, p: True})
                if not got[p]:
                    break
                # the feature's own need: what its prerequisites alone do not raise
                lv = {k: got[k] for k in LEVEL_KEYS if got[k] > without[k]}
                if not lv:
                    break
                out[section][p] = lv
    finally:
        tcg.close()


def measure(emulator: str, build: str) -> dict:
    full, features, models = recorded(build)
    base = full["base"]
    bools = [k for k, v in base.items() if isinstance(v, bool) and k != "realized"]
    have_kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    out: dict = {
        "aliases": {},
        "levels": {},
        "levels-always": {},
        "depends": {},
        "model-levels": {"tcg": {}, "kvm": {}},
        "kvm-overlay": {},
        "kvm-only": [],
    }
    tcg_off: list[str] = []
    tcg = Qemu(emulator, "tcg")
    try:
        for p in bools:
            if base[p]:
                continue
            got = tcg.full("base", {p: True})
            if not got[p]:
                tcg_off.append(p)
            lv = {k: got[k] for k in LEVEL_KEYS if got[k] != base[k]}
            if lv:
                out["levels"][p] = lv
                got = tcg.full("base", {"full-cpuid-auto-level": False, p: True})
                lv = {k: got[k] for k in LEVEL_KEYS if got[k] != base[k]}
                if lv:
                    out["levels-always"][p] = lv
        none = {f: False for f in features}
        for m in models:
            got = tcg.full(m, none)
            out["model-levels"]["tcg"][m] = [got["min-level"], got["min-xlevel"], got["min-xlevel2"]]
    finally:
        tcg.close()
    # aliases and dependencies: under KVM when there is one (TCG clears the KVM paravirt
    # features whatever is asked, so their spellings are only visible there)
    q = Qemu(emulator, "kvm" if have_kvm else "tcg")
    try:
        all_on = {f: True for f in features}
        on = q.full("base", all_on)
        canon = set(features)
        drops = {}
        for p in features:
            if not on[p]:
                continue
            ask = {f: True for f in features if f != p}
            ask[p] = False
            got = q.full("base", ask)
            drops[p] = {g for g in bools if g != p and on[g] and not got[g]}
        for p, d in drops.items():
            dep = sorted(g for g in d if g in canon)
            inherited = set().union(*(drops.get(g, set()) for g in dep))
            group = sorted({p} | {g for g in d if g not in canon and g not in inherited})
            if len(group) > 1:
                for g in group:
                    out["aliases"][g] = group
            if dep:
                out["depends"][p] = dep
        if have_kvm:
            out["kvm-only"] = [p for p in tcg_off if q.full("base", {p: True})[p]]
            for m in models:
                got = q.full(m, none)
                out["model-levels"]["kvm"][m] = [got["min-level"], got["min-xlevel"], got["min-xlevel2"]]
                if m in ("host", "max"):
                    continue
                k = q.full(m)
                diff = {p: v for p, v in k.items() if full[m].get(p) != v}
                if diff:
                    out["kvm-overlay"][m] = diff
    finally:
        q.close()
    levels_with_prerequisites(emulator, base, tcg_off, out)
    # a model's own features that its expansion shows off only because a prerequisite is off
    # (vmx-* of the Intel models: the model defines them, x86_cpu_expand_features clears them
    # while vmx is off); turning the prerequisite on brings them back
    out["restore"] = {}
    t = Qemu(emulator, "tcg")
    try:
        for m in models:
            if m in ("host", "max", "base"):
                continue
            back = {}
            for p, dep in out["depends"].items():
                if full[m].get(p) is not False:
                    continue
                got = t.full(m, {p: True})
                came = sorted(f for f in dep if got.get(f) is True and full[m].get(f) is False)
                if came:
                    back[p] = came
            if back:
                out["restore"][m] = back
    finally:
        t.close()
    return out


def _qom_words(emulator: str, cpu: str, accel: str = "tcg") -> list[list[dict]]:
    """``feature-words`` and ``filtered-features`` of a realized ``-machine pc -cpu CPU``."""
    script = "".join(
        json.dumps(m) + "\n"
        for m in (
            {"execute": "qmp_capabilities"},
            {
                "execute": "qom-get",
                "arguments": {"path": "/machine/unattached/device[0]", "property": "feature-words"},
            },
            {
                "execute": "qom-get",
                "arguments": {"path": "/machine/unattached/device[0]", "property": "filtered-features"},
            },
            {"execute": "quit"},
        )
    )
    r = subprocess.run(
        [
            emulator,
            "-S",
            "-nodefaults",
            "-display",
            "none",
            "-machine",
            "pc,accel=" + accel,
            "-cpu",
            cpu,
            "-qmp",
            "stdio",
        ],
        input=script,
        capture_output=True,
        text=True,
        timeout=30,
    )
    words = [json.loads(line)["return"] for line in r.stdout.splitlines() if line.startswith('{"return": [')]
    if len(words) != 2:
        raise SystemExit("%s: -cpu %s: %s" % (sys.argv[0], cpu, r.stderr.strip()))
    return words


def feature_word_order(emulator: str) -> list[list]:
    """``[leaf, subleaf or None, register]`` of each CPUID feature word in the order QEMU walks
    them (``FeatureWord``: the order of the ``host doesn't support requested feature`` warnings).
    ``feature-words`` lists them last word first (the QAPI list is built by prepending), so the
    measured listing is reversed."""
    words = _qom_words(emulator, "base")[0]
    return [[w["cpuid-input-eax"], w.get("cpuid-input-ecx"), w["cpuid-register"]] for w in reversed(words)]


def _bits_of(emulator: str, feature: str, accel: str = "tcg") -> list | None:
    """[leaf, subleaf or None, register, bit] of a CPUID feature: a realized ``-cpu base,+F``
    (``-machine pc``, TCG) lists the bit in ``feature-words`` or, if TCG lacks it, in
    ``filtered-features``; None for a feature held in an MSR (no CPUID word)."""
    words = _qom_words(emulator, "base,+" + feature, accel)
    found = []
    for w in words[0] + words[1]:
        bits = w["features"]
        for b in range(32):
            if bits >> b & 1:
                found.append([w["cpuid-input-eax"], w.get("cpuid-input-ecx"), w["cpuid-register"], b])
    # leaf 0xD subleaf 0 EAX/EDX: the XSAVE components QEMU enables for an enabled feature
    # (x86_cpu_enable_xsave_components), not a feature's own bit
    uniq = sorted(
        {tuple(f) for f in found if not (f[0] == 13 and f[1] == 0 and f[2] in ("EAX", "EDX"))},
        key=lambda f: (f[0], str(f[1]), f[2], f[3]),
    )
    if len({u[:3] for u in uniq}) == 1:
        uniq = uniq[:1]  # one name for two bits of a word (kvmclock: bits 0 and 3): the first
    if len(uniq) > 1:
        raise SystemExit("%s: -cpu base,+%s sets several bits: %s" % (sys.argv[0], feature, uniq))
    return list(uniq[0]) if uniq else None


def cpuid_bits(emulator: str, build: str, kvm_only: list[str]) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    _, features, _ = recorded(build)

    def one(f: str) -> list | None:
        # TCG zeroes the KVM leaves without filtering them: ask those under KVM
        return _bits_of(emulator, f, "kvm" if f in kvm_only else "tcg")

    with ThreadPoolExecutor(2) as ex:
        found = list(ex.map(one, features))
    return {f: b for f, b in zip(features, found) if b is not None}


MSR_WARNING = re.compile(
    r"(TCG doesn't support requested feature|This feature depends on other features that were not"
    r" requested): MSR\(([0-9A-F]+)H\)\.(\S+) \[bit (\d+)\]"
)
# the CPUID features that gate the MSR feature words (QEMU's feature dependencies, measured in
# ``depends``): set so that the MSR features reach the accelerator's filtering
MSR_GATES = ("vmx", "arch-capabilities", "core-capability", "pdcm")


def msr_bits(emulator: str, build: str, cpuid: dict) -> tuple[dict, list[int]]:
    """(``msr`` table, ``msr-words`` order): see the module docstring."""
    _, features, _ = recorded(build)
    static = [f for f in features if f not in cpuid]
    cpu = ",".join(["base"] + ["+" + f for f in MSR_GATES + tuple(static)])
    r = subprocess.run(
        [emulator, "-S", "-nodefaults", "-display", "none", "-machine", "pc,accel=tcg", "-cpu", cpu,
         "-qmp", "stdio"],
        input='{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n',
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    table: dict[str, list] = {}
    words: list[int] = []
    for line in r.stderr.splitlines():
        m = MSR_WARNING.search(line)
        if not m:
            continue
        index, name, bit = int(m.group(2), 16), m.group(3), int(m.group(4))
        if [index, bit] not in table.setdefault(name, []):
            table[name].append([index, bit])
        if m.group(1).startswith("TCG") and index not in words:
            words.append(index)
    missing = [f for f in static if f not in table]
    if missing:
        raise SystemExit("%s: no MSR warning for %s: %s" % (sys.argv[0], ", ".join(missing), r.stderr))
    return {f: table[f] for f in static}, words


DEPENDS_WARNING = re.compile(
    r"This feature depends on other features that were not requested: "
    r"(?:MSR\(([0-9A-F]+)H\)|CPUID\.([0-9A-F]+)H:(?:(\d+)H\.)?([A-Z]+))\.(\S+) \[bit (\d+)\]"
)


def _depends_warnings(emulator: str, cpu: str) -> list[list]:
    r = subprocess.run(
        [emulator, "-S", "-nodefaults", "-display", "none", "-machine", "pc,accel=tcg", "-cpu", cpu,
         "-qmp", "stdio"],
        input='{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n',
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    out = []
    for line in r.stderr.splitlines():
        m = DEPENDS_WARNING.search(line)
        if m:
            out.append([m.group(5), int(m.group(1), 16) if m.group(1) else None, int(m.group(6))])
    return out


def depends_bits(emulator: str, depends: dict) -> tuple[dict, list]:
    """(``depends-bits``, ``depends-order``): see the module docstring."""
    dependents = sorted({d for ds in depends.values() for d in ds})
    prereqs = list(depends)
    per: dict[str, list] = {}
    for p in prereqs:
        on = [q for q in prereqs if q != p and q not in depends[p]]
        cpu = ",".join(["base"] + ["+" + q for q in on] + ["+" + d for d in depends[p]])
        per[p] = _depends_warnings(emulator, cpu)
    order = _depends_warnings(emulator, ",".join(["base"] + ["+" + d for d in dependents]))
    return per, order


VCPU_CONFIGS = {
    "tcg": ["-accel", "tcg", "-machine", "q35"],
    "kvm-on": ["-accel", "kvm", "-machine", "q35"],
    "kvm-split": ["-accel", "kvm", "-machine", "q35,kernel-irqchip=split"],
    "kvm-off": ["-accel", "kvm", "-machine", "q35,kernel-irqchip=off"],
}


def _qmp_script(emulator: str, args: list[str], requests: list[dict]) -> list[dict]:
    script = "".join(json.dumps(m) + "\n" for m in [{"execute": "qmp_capabilities"}, *requests])
    r = subprocess.run(
        [emulator, "-S", "-nodefaults", "-display", "none", *args, "-qmp", "stdio"],
        input=script + '{"execute": "quit"}\n', capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    replies = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    replies = [x for x in replies if "QMP" not in x and "event" not in x][1:]
    if len(replies) < len(requests):
        raise SystemExit("%s: %s: %s" % (sys.argv[0], " ".join(args), r.stderr.strip()))
    return replies[: len(requests)]


def _objects(emulator: str, args: list[str], path: str, cpu: str, depth: int) -> dict:
    listing = _qmp_script(emulator, args, [{"execute": "qom-list", "arguments": {"path": path}}])[0]["return"]
    names = [(e["name"], e["type"]) for e in listing]
    asks = [n for n, t in names if not t.startswith("child<") and n != "type"]
    got = _qmp_script(
        emulator, args, [{"execute": "qom-get", "arguments": {"path": path, "property": n}} for n in asks]
    )
    values = {}
    for n, reply in zip(asks, got):
        reply.pop("id", None)
        text = json.dumps(reply).replace(cpu + "/", "{cpu}/").replace('"' + cpu + '"', '"{cpu}"')
        values[n] = json.loads(text)
    out: dict = {"list": [list(e) for e in names], "values": values, "children": {}}
    if depth > 0:
        for n, t in names:
            if t.startswith("child<"):
                out["children"][n] = dict(
                    _objects(emulator, args, path + "/" + n, cpu, depth - 1), type=t[6:-1]
                )
    return out


def vcpu_qom(emulator: str) -> dict:
    """``vcpu-qom``: see the module docstring."""
    have_kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    out = {}
    for key, accel in VCPU_CONFIGS.items():
        if key.startswith("kvm") and not have_kvm:
            continue
        args = accel + ["-cpu", "qemu64", "-smp", "2"]
        order = _qmp_script(
            emulator, args, [{"execute": "qom-list", "arguments": {"path": "/machine/unattached/device[0]"}}]
        )
        entry: dict = {"order": [e["name"] for e in order[0]["return"]]}
        for which, dev in (("first", "device[0]"), ("other", "device[2]")):
            cpu = "/machine/unattached/" + dev
            tree = _objects(emulator, args, cpu, cpu, 2)
            for child in tree["children"].values():
                if child["values"].get("id", {}).get("return") in (0, 1) and any(
                    n == "vapic" for n, _t in child["list"]
                ):
                    child["values"]["id"] = {"return": "{apic-id}"}
            entry[which] = tree["children"]
        out[key] = entry
    return out


def dump(data: dict, emulator: str, build: str) -> str:
    """YAML by hand: one entry a line, so that a re-measure diffs well."""
    ver = subprocess.run([emulator, "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    lines = [
        "# Measured by tools/capture_x86_cpu_rules.py from a real QEMU; do not edit by hand.",
        "kind: x86-cpu-rules",
        "qemu: %s" % json.dumps(ver),
        "sources:",
        "  refs:",
        "    measure: %s"
        % json.dumps(
            "python3 tools/capture_x86_cpu_rules.py --emulator %s --build %s, %s"
            % (emulator, build, time.strftime("%Y-%m-%d"))
        ),
        "  notes: %s"
        % json.dumps(
            "every figure is an answer of query-cpu-model-expansion (-machine none); "
            "model-levels.kvm of host and max are those of the measuring machine"
        ),
    ]
    for section in ("aliases", "levels", "levels-always", "depends", "cpuid"):
        lines.append("%s:" % section)
        for k, v in data[section].items():
            lines.append("  %s: %s" % (json.dumps(k), json.dumps(v)))
    lines.append("feature-words: %s" % json.dumps(data["feature-words"]))
    lines.append("msr:")
    for k, v in data["msr"].items():
        lines.append("  %s: %s" % (json.dumps(k), json.dumps(v)))
    lines.append("msr-words: %s" % json.dumps(data["msr-words"]))
    lines.append("depends-bits:")
    for k, v in data["depends-bits"].items():
        lines.append("  %s: %s" % (json.dumps(k), json.dumps(v)))
    lines.append("depends-order: %s" % json.dumps(data["depends-order"]))
    lines.append("vcpu-qom:")
    for k, v in data["vcpu-qom"].items():
        lines.append("  %s: %s" % (json.dumps(k), json.dumps(v)))
    lines.append("kvm-only: %s" % json.dumps(data["kvm-only"]))
    lines.append("model-levels:")
    for accel, by_model in data["model-levels"].items():
        lines.append("  %s:" % accel)
        for k, v in by_model.items():
            lines.append("    %s: %s" % (json.dumps(k), json.dumps(v)))
    lines.append("kvm-overlay:")
    for k, v in data["kvm-overlay"].items():
        lines.append("  %s: %s" % (json.dumps(k), json.dumps(v)))
    lines.append("restore:")
    for k, v in data["restore"].items():
        lines.append("  %s: %s" % (json.dumps(k), json.dumps(v)))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--emulator", default="/usr/bin/qemu-system-x86_64")
    ap.add_argument("--build", default="models/builds/qemu-7.2-debian-x86_64")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args(argv)
    data = measure(a.emulator, a.build)
    data["cpuid"] = cpuid_bits(a.emulator, a.build, data["kvm-only"])
    data["feature-words"] = feature_word_order(a.emulator)
    data["msr"], data["msr-words"] = msr_bits(a.emulator, a.build, data["cpuid"])
    data["depends-bits"], data["depends-order"] = depends_bits(a.emulator, data["depends"])
    data["vcpu-qom"] = vcpu_qom(a.emulator)
    text = dump(data, a.emulator, a.build)
    tmp = a.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
