"""QEMU-build files: libvirt ``.replies`` import, and the writer shared with capture.

A QEMU build is a directory ``builds/<name>/`` holding ``build.yaml``, ``schema.json`` (the
``query-qmp-schema`` return value) and ``replies.json`` (recorded answers); see
``docs/capture-and-import.md`` for the contract.  This module owns that format on the writing
side: :func:`merge_passes` turns per-pass recordings into entries, :func:`derive_host` reads the
host facts QEMU revealed out of them, :func:`write_build` / :func:`write_yaml` put files on disk.
:mod:`qmpserver.profiles.capture` records a live QEMU and calls the same functions.

Importing a libvirt recording (``tests/qemucapabilitiesdata/*.replies``)::

    python -m qmpserver.profiles.replies caps_8.2.0_aarch64.replies -o models [--name NAME]

writes ``models/builds/NAME/``, plus ``models/hosts/NAME.yaml`` and ``models/profiles/NAME.yaml``
when the recording has an accelerated (KVM/HVF) pass.

Self-contained on purpose: only the standard library, PyYAML and :mod:`qmpserver.models`
(stdlib only itself), which owns how recorded entries are keyed and looked up.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from qmpserver.models import ACCEL_DEPENDENT, arguments_key, pick_recorded

FORMAT = 1

HV_PROPS = {"migratable": False, "hv-passthrough": True}

# Why a host field is marked "synthetic" (derived rather than read from an answer); these
# explanations go to the host file's sources.notes.
SYNTHETIC_WHY = {
    "kvm.caps.KVM_CAP_STEAL_TIME": "mirrors QEMU's kvm-steal-time, which reports the property "
    "default (auto -> true) without asking KVM",
    "kvm.caps.KVM_CAP_ARM_PTRAUTH_ADDRESS": "0 from pauth=false, which does not say which PTRAUTH "
    "cap is missing",
    "kvm.caps.KVM_CAP_ARM_PTRAUTH_GENERIC": "0 from pauth=false, which does not say which PTRAUTH "
    "cap is missing",
}


class FormatError(Exception):
    """Bad input or refused output; the message is one line, meant for the user."""


class Record(NamedTuple):
    """One command and its answer, as seen in one pass."""

    execute: str
    arguments: dict | None
    outcome: dict  # {"return": value} or {"error": {...}}, exactly as received


class Pass(NamedTuple):
    accel: str  # accelerator actually in use: kvm, hvf or tcg
    records: list  # list[Record]


# --------------------------------------------------------------------------------------------
# entries


def make_entry(rec: Record, accel: str | None = None) -> dict:
    entry: dict[str, Any] = {"execute": rec.execute}
    if rec.arguments:
        entry["arguments"] = rec.arguments
    if accel:
        entry["accel"] = accel
    entry.update(rec.outcome)
    return entry


def merge_passes(passes: list[Pass]) -> tuple[list[dict], list[str]]:
    """Fold the passes' records into build entries; return (entries, warnings).

    Rules (docs/capture-and-import.md):
    - recorded in every pass of a multi-pass recording with equal answers: one entry, no `accel`;
    - recorded in several passes with different answers: one entry per pass, each tagged;
    - recorded in one pass only: tagged with that pass's accelerator if the answer may depend on
      the accelerator (ACCEL_DEPENDENT), untagged otherwise.
    A repeat of the same request within one pass keeps the first answer (warning if different).
    """
    order: list[tuple] = []
    seen: dict[tuple, dict[str, Record]] = {}
    warnings: list[str] = []
    for p in passes:
        for rec in p.records:
            key = (rec.execute, arguments_key(rec.arguments))
            per = seen.get(key)
            if per is None:
                per = seen[key] = {}
                order.append(key)
            if p.accel in per:
                if per[p.accel].outcome != rec.outcome:
                    shown = arguments_key(rec.arguments) if rec.arguments else ""
                    warnings.append(
                        f"{rec.execute} {shown} asked twice in the "
                        f"{p.accel} pass with different answers; kept the first"
                    )
                continue
            per[p.accel] = rec
    entries = []
    for key in order:
        per = seen[key]
        recs = list(per.items())
        first = recs[0][1]
        dependent = first.execute in ACCEL_DEPENDENT
        if len(passes) > 1 and len(recs) == len(passes) and all(r.outcome == first.outcome for _, r in recs):
            entries.append(make_entry(first, None))
        elif len(recs) == 1 and not dependent:
            entries.append(make_entry(first, None))
        else:
            entries.extend(make_entry(r, accel) for accel, r in recs)
    return entries, warnings


def find_entry(
    entries: Iterable[dict], execute: str, arguments: dict | None = None, accel: str | None = None
) -> dict | None:
    """Look an answer up the way consumers are meant to (docs/capture-and-import.md).

    Order (:func:`qmpserver.models.pick_recorded`): the entry tagged with `accel`, then the
    untagged one, then, unless the command is ACCEL_DEPENDENT, one recorded under another
    accelerator.
    """
    want = arguments_key(arguments)
    by_accel: dict[str | None, dict] = {}
    for e in entries:
        if e["execute"] == execute and arguments_key(e.get("arguments")) == want:
            by_accel.setdefault(e.get("accel"), e)
    return pick_recorded(execute, by_accel, accel)


def accelerators_from(entries: list[dict]) -> list[str]:
    """Compiled-in accelerators: query-accelerators.present, else qom-list-types *-accel."""
    e = find_entry(entries, "query-accelerators")
    if e and isinstance(e.get("return"), dict) and isinstance(e["return"].get("present"), list):
        return sorted(e["return"]["present"])
    e = find_entry(entries, "qom-list-types")
    if e and isinstance(e.get("return"), list):
        names = {t.get("name", "") for t in e["return"] if isinstance(t, dict)}
        return sorted(n[: -len("-accel")] for n in names if n.endswith("-accel") and n != "-accel")
    return []


def version_of(value: Any, where: str) -> tuple[str, str]:
    """(version "M.m.u", package) from a query-version return value."""
    try:
        q = value["qemu"]
        version = f"{int(q['major'])}.{int(q['minor'])}.{int(q['micro'])}"
        package = value["package"]
        if not isinstance(package, str):
            raise TypeError("package")
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(
            f"{where}: query-version answer is not QEMU-shaped ({exc!s}): {json.dumps(value)[:200]}"
        ) from None
    return version, package


def default_machine(entries: list[dict], target: str) -> str | None:
    """Machine a user would pick: `virt` on Arm, else the default machine's alias or name."""
    e = find_entry(entries, "query-machines")
    machines = e.get("return") if e else None
    if not isinstance(machines, list):
        return None
    if target in ("aarch64", "arm") and any(
        m.get("alias") == "virt" or m.get("name") == "virt" for m in machines
    ):
        return "virt"
    for m in machines:
        if m.get("is-default"):
            return m.get("alias") or m.get("name")
    return None


# --------------------------------------------------------------------------------------------
# host facts


def derive_host(entries: list[dict], accel: str, target: str) -> tuple[dict, dict]:
    """What the recording reveals about the host, as host-format `kvm`/`cpu` parts.

    `accel` is the accelerated pass's accelerator (kvm, hvf).  Returns (fields, sources) where
    sources maps a dotted field path to "recording" (read from an answer) or "synthetic" (a
    derivation that QEMU's answer does not really establish).
    """
    src: dict[str, str] = {}
    kvm: dict[str, Any] = {}
    e = find_entry(entries, "query-accelerators", accel=accel)
    if e and isinstance(e.get("return"), dict):
        kvm["present"] = e["return"].get("enabled") == "kvm"
    else:
        e = find_entry(entries, "query-kvm", accel=accel)
        r = e.get("return") if e else None
        kvm["present"] = bool(isinstance(r, dict) and r.get("enabled") and r.get("present"))
    src["kvm.present"] = "recording"
    caps: dict[str, int] = {}
    kvm["caps"] = caps
    cpu: dict[str, Any] = {}

    host_exp = None
    if kvm["present"]:
        for args in (
            {"type": "full", "model": {"name": "host"}},
            {"type": "full", "model": {"name": "host", "props": HV_PROPS}},
            {"type": "static", "model": {"name": "host"}},
        ):
            e = find_entry(entries, "query-cpu-model-expansion", args, accel=accel)
            if e and e.get("accel", accel) == accel and isinstance(e.get("return"), dict):
                props = e["return"].get("model", {}).get("props")
                if isinstance(props, dict):
                    host_exp = props
                    break
    if host_exp is not None and target in ("aarch64", "arm"):
        if "pmu" in host_exp:
            caps["KVM_CAP_ARM_PMU_V3"] = int(bool(host_exp["pmu"]))
            src["kvm.caps.KVM_CAP_ARM_PMU_V3"] = "recording"
        if "sve" in host_exp:
            caps["KVM_CAP_ARM_SVE"] = int(bool(host_exp["sve"]))
            src["kvm.caps.KVM_CAP_ARM_SVE"] = "recording"
            lengths = sorted(
                int(k[3:]) for k, v in host_exp.items() if re.fullmatch(r"sve\d+", k) and v is True
            )
            kvm["sve_vector_lengths"] = lengths
            src["kvm.sve_vector_lengths"] = "recording"
        if "pauth" in host_exp:
            # QEMU turns pauth on for a KVM vCPU only when both PTRAUTH caps are there; "false"
            # does not tell which one is missing, so those zeros are a derivation.
            v = int(bool(host_exp["pauth"]))
            for c in ("KVM_CAP_ARM_PTRAUTH_ADDRESS", "KVM_CAP_ARM_PTRAUTH_GENERIC"):
                caps[c] = v
                src[f"kvm.caps.{c}"] = "recording" if v else "synthetic"
        if "kvm-steal-time" in host_exp:
            # QEMU's getter reports the property's default (auto -> true) without asking KVM.
            caps["KVM_CAP_STEAL_TIME"] = int(bool(host_exp["kvm-steal-time"]))
            src["kvm.caps.KVM_CAP_STEAL_TIME"] = "synthetic"
    if host_exp is not None and target in ("x86_64", "i386"):
        # the host CPU's CPUID identity, as QEMU passes it through to `-cpu host`
        for qname, hname in (
            ("vendor", "vendor"),
            ("model-id", "model_name"),
            ("family", "family"),
            ("model", "model"),
            ("stepping", "stepping"),
        ):
            if qname in host_exp:
                v = host_exp[qname]
                cpu[hname] = v.strip() if isinstance(v, str) else v
                src[f"cpu.{hname}"] = "recording"

    if target in ("aarch64", "arm"):
        e = find_entry(entries, "query-gic-capabilities", accel=accel)
        if e and isinstance(e.get("return"), list):
            gic = {}
            for g in sorted(e["return"], key=lambda g: g.get("version", 0)):
                if isinstance(g, dict) and "version" in g:
                    gic[f"v{g['version']}"] = bool(g.get("kernel"))
            kvm["gic"] = gic
            src["kvm.gic"] = "recording"
    fields: dict[str, Any] = {}
    if cpu:
        fields["cpu"] = cpu
    fields["kvm"] = kvm
    return fields, src


UNKNOWN = (
    "not revealed by QMP: a placeholder so that the file passes schemas/host.schema.json; "
    "replace it if you know the real value"
)
PLACEHOLDERS = {
    "aarch64": (("midr", 0), ("implementer", "unknown"), ("part", "unknown"), ("count", 1)),
    "x86_64": (("vendor", None), ("model_name", "unknown"), ("count", 1)),
}

CPU_ORDER = {
    "aarch64": ("midr", "implementer", "part", "count"),
    "x86_64": ("vendor", "model_name", "family", "model", "stepping", "count"),
}


def host_name(name: str) -> str:
    """A build/profile name made fit for a host (lower-case letters, digits, '.', '-')."""
    return re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.") or "host"


def host_document(
    name: str,
    summary: str,
    arch: str,
    fields: dict,
    src: dict,
    refs: dict[str, str],
    ref: str,
    notes: dict[str, str] | None = None,
    targets: dict[str, list[str]] | None = None,
) -> dict:
    """A host-format document (schemas/host.schema.json) from derived `fields`.

    `targets` ({target: [accels]}) names the guest architectures the host serves when that is
    not simply its own architecture (a TCG capture of a foreign target).

    `src` maps dotted field paths to "recording" (replaced by `ref`), another ref id, or
    "synthetic".  Figures the schema requires but QMP cannot reveal (CPU identity, kernel
    release) become placeholders marked synthetic and explained in sources.notes.
    """
    src = dict(src)
    notes = dict(notes or {})
    cpu = dict(fields.get("cpu") or {})
    for key, value in PLACEHOLDERS.get(arch, ()):
        if key not in cpu and value is not None:
            cpu[key] = value
            src[f"cpu.{key}"] = "synthetic"
            notes[f"cpu.{key}"] = UNKNOWN
    order = CPU_ORDER.get(arch, ())
    cpu = {k: cpu[k] for k in sorted(cpu, key=lambda k: order.index(k) if k in order else len(order))}
    kernel = dict(fields.get("kernel") or {})
    if "release" not in kernel:
        kernel["release"] = "0.0"
        src["kernel.release"] = "synthetic"
        notes["kernel.release"] = UNKNOWN + " (0.0: no release-dependent KVM feature is assumed)"
    doc: dict[str, Any] = {
        "kind": "host",
        "name": host_name(name),
        "summary": summary,
        "arch": arch,
    }
    if targets:
        doc["targets"] = {t: {"accels": list(a)} for t, a in targets.items()}
    doc.update({"cpu": cpu, "kernel": kernel, "kvm": fields["kvm"]})
    if arch == "aarch64":
        doc["idregs"] = {}
        notes.setdefault("idregs", "not revealed by QMP (no ID-register values in the recording)")
    fmap = {k: (ref if v == "recording" else v) for k, v in src.items()}
    for k, v in fmap.items():
        if v == "synthetic" and k in SYNTHETIC_WHY:
            notes.setdefault(k, SYNTHETIC_WHY[k])
    doc["sources"] = {"refs": dict(refs), "fields": fmap}
    if notes:
        doc["sources"]["notes"] = notes
    return doc


def profile_document(
    name: str, summary: str, host: str, build: str, accel: str, machine: str | None, cpu: str
) -> dict:
    defaults: dict[str, Any] = {"accel": accel}
    if machine:
        defaults["machine"] = machine
    defaults["cpu"] = cpu
    return {
        "kind": "profile",
        "name": name,
        "summary": summary,
        "host": host,
        "build": build,
        "defaults": defaults,
    }


# --------------------------------------------------------------------------------------------
# writing


def _dump_yaml(doc: dict, header: str | None) -> str:
    import yaml  # only the writers need it

    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True)
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    return text


def write_yaml(path: Path, doc: dict, header: str | None = None, force: bool = False) -> Path:
    return write_text(path, _dump_yaml(doc, header), force)


def write_text(path: Path, text: str, force: bool = False) -> Path:
    """Write `text` to `path` atomically (creating its folder), refusing to replace a file
    unless `force`."""
    path = Path(path)
    if path.exists() and not force:
        raise FormatError(f"{path} already exists (use --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, text)
    return path


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def replies_text(
    entries: list[dict], greeting: dict | None = None, instances: list[dict] | None = None
) -> str:
    """replies.json: one entry per line, values exactly as received."""

    def lines(items: list[dict], indent: str) -> str:
        return ",\n".join(indent + json.dumps(e) for e in items) + ("\n" if items else "")

    text = '{"format": %d,\n' % FORMAT
    if greeting is not None:
        text += ' "greeting": %s,\n' % json.dumps(greeting)
    text += ' "entries": [\n' + lines(entries, "  ") + " ]"
    if instances:
        parts = []
        for inst in instances:
            head = {k: v for k, v in inst.items() if k != "entries"}
            parts.append(
                "  " + json.dumps(head)[:-1] + ', "entries": [\n' + lines(inst["entries"], "    ") + "  ]}"
            )
        text += ',\n "instances": [\n' + ",\n".join(parts) + "\n ]"
    return text + "}\n"


def schema_text(schema: list) -> str:
    return "[\n" + ",\n".join(json.dumps(e) for e in schema) + "\n]\n"


def check_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name or ""):
        raise FormatError(f"invalid name {name!r}: use letters, digits, '.', '_', '-'")
    return name


def write_build(
    root: Path,
    name: str,
    build_yaml: dict,
    schema: list,
    entries: list[dict],
    greeting: dict | None = None,
    force: bool = False,
    header: str | None = None,
    instances: list[dict] | None = None,
) -> Path:
    """Write `root/builds/<name>/`; all-or-nothing (built in a temp dir, then renamed)."""
    check_name(name)
    builds = Path(root) / "builds"
    target = builds / name
    if target.exists() and not force:
        raise FormatError(f"{target} already exists (use --force to replace it)")
    builds.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=builds))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o777 & ~mask)
    try:
        (tmp / "build.yaml").write_text(_dump_yaml(build_yaml, header), encoding="utf-8")
        (tmp / "schema.json").write_text(schema_text(schema), encoding="utf-8")
        (tmp / "replies.json").write_text(replies_text(entries, greeting, instances), encoding="utf-8")
        if target.exists():
            old = builds / f".{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def build_document(
    *,
    name: str,
    summary: str,
    version: str,
    package: str,
    target: str,
    accelerators: list[str],
    passes: list[str],
    refs: dict[str, str],
    ref: str,
) -> dict:
    return {
        "kind": "qemu-build",
        "name": name,
        "summary": summary,
        "version": version,
        "package": package,
        "target": target,
        "accelerators": accelerators,
        "schema": {"introspection": "schema.json"},
        "replies": "replies.json",
        "proposals": [],
        "sources": {"refs": refs, "fields": {"*": ref}, "passes": passes},
    }


def load_replies_json(path: Path) -> dict:
    """Read a replies.json back (for tools and tests); checks the envelope only."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FormatError(f"{path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("entries"), list):
        raise FormatError(f"{path}: not a replies.json of format {FORMAT}")
    return doc


# --------------------------------------------------------------------------------------------
# libvirt .replies parsing


_WS = re.compile(r"\s*")


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def parse_replies(text: str, filename: str = "<replies>") -> list[Pass]:
    """Split a .replies file into passes of (command, reply) records.

    The file is pretty-printed JSON objects separated by blank lines, strictly alternating
    command, reply; every `qmp_capabilities` starts a pass.  Errors name the file, the object's
    number (1-based) and its line.
    """
    dec = json.JSONDecoder()
    objs: list[tuple[int, Any]] = []
    i = _WS.match(text, 0).end()  # type: ignore[union-attr]  # \s* always matches
    while i < len(text):
        try:
            obj, end = dec.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise FormatError(
                f"{filename}:{_line_of(text, i)}: object #{len(objs) + 1}: invalid "
                f"JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        objs.append((i, obj))
        i = _WS.match(text, end).end()  # type: ignore[union-attr]  # \s* always matches
    if not objs:
        raise FormatError(f"{filename}: no JSON objects (empty file?)")

    def where(n: int) -> str:
        return f"{filename}:{_line_of(text, objs[n][0])}: object #{n + 1}"

    passes: list[list[Record]] = []
    for n in range(0, len(objs), 2):
        cmd = objs[n][1]
        if not isinstance(cmd, dict) or not isinstance(cmd.get("execute"), str):
            raise FormatError(
                f'{where(n)}: expected a command (an object with "execute"), got {json.dumps(cmd)[:120]}'
            )
        args = cmd.get("arguments")
        if args is not None and not isinstance(args, dict):
            raise FormatError(f'{where(n)}: "arguments" of {cmd["execute"]} is not an object')
        if n + 1 >= len(objs):
            raise FormatError(f"{where(n)}: command {cmd['execute']} has no reply (file ends)")
        rep = objs[n + 1][1]
        if not isinstance(rep, dict) or ("return" in rep) == ("error" in rep):
            raise FormatError(
                f"{where(n + 1)}: expected the reply to {cmd['execute']} (an object "
                f'with "return" or "error"), got {json.dumps(rep)[:120]}'
            )
        if "id" in cmd and "id" in rep and cmd["id"] != rep["id"]:
            raise FormatError(
                f"{where(n + 1)}: reply id {rep['id']!r} does not match command id {cmd['id']!r}"
            )
        if "error" in rep and not (isinstance(rep["error"], dict) and "class" in rep["error"]):
            raise FormatError(f'{where(n + 1)}: error reply without a "class"')
        if cmd["execute"] == "qmp_capabilities":
            if "error" in rep:
                raise FormatError(f"{where(n + 1)}: qmp_capabilities failed: {rep['error']}")
            passes.append([])
            continue
        if not passes:
            raise FormatError(f"{where(n)}: {cmd['execute']} before the first qmp_capabilities")
        outcome = {"return": rep["return"]} if "return" in rep else {"error": rep["error"]}
        passes[-1].append(Record(cmd["execute"], args, outcome))
    if len(passes) > 2:
        raise FormatError(
            f"{filename}: {len(passes)} probe passes (qmp_capabilities) where libvirt records at most two"
        )

    first = passes[0]

    def answer(execute: str):
        for r in first:
            if r.execute == execute and "return" in r.outcome:
                return r.outcome["return"]
        return None

    acc = answer("query-accelerators")
    if isinstance(acc, dict) and isinstance(acc.get("enabled"), str):
        accel1 = acc["enabled"]
    else:
        kvm = answer("query-kvm")
        if isinstance(kvm, dict) and kvm.get("enabled") and kvm.get("present"):
            accel1 = "kvm"
        else:
            # libvirt runs a TCG pass only after finding an accelerator; not KVM -> HVF (macOS)
            accel1 = "hvf" if len(passes) == 2 else "tcg"
    result = [Pass(accel1, passes[0])]
    if len(passes) == 2:
        result.append(Pass("tcg", passes[1]))
    return result


# what a KVM host needs that only an answer in the accelerated pass reveals:
# (target, host field, what to record); the host schema requires these fields
NEEDED = (
    ("aarch64", "kvm.gic", "query-gic-capabilities"),
    ("aarch64", "kvm.sve_vector_lengths", "query-cpu-model-expansion of 'host' listing 'sve'"),
    ("x86_64", "cpu.vendor", "query-cpu-model-expansion of 'host' listing 'vendor'"),
    ("x86_64", "cpu.model_name", "query-cpu-model-expansion of 'host' listing 'model-id'"),
)


def missing_host_facts(fields: dict, src: dict, target: str, accel: str) -> list[str]:
    """What derive_host could not read although the host format needs it, one phrase each."""
    if not fields["kvm"].get("present"):
        return []  # no KVM: no GIC, SVE or CPUID facts are needed
    return [
        f"{field} (no {what} in the {accel} pass)"
        for arch, field, what in NEEDED
        if arch == target and field not in src
    ]


def _paired_host(name: str, root: Path, target: str) -> tuple[str, bool]:
    """``--host NAME``: (name, KVM usable for `target`) of an existing host file."""
    from qmpserver.errors import UsageError
    from qmpserver.profiles.loader import find, read_yaml, search_roots

    roots = search_roots([str(root)])
    path = find("host", name, roots)
    if path is None:
        raise FormatError(f"--host {name}: no such host (searched: {', '.join(roots)})")
    try:
        doc = read_yaml(path)
    except UsageError as exc:
        raise FormatError(str(exc)) from None
    kvm = bool((doc.get("kvm") or {}).get("present")) and doc.get("arch") == target
    return name, kvm


def import_replies(
    path: Path,
    out: Path,
    name: str | None = None,
    force: bool = False,
    today: datetime.date | None = None,
    *,
    host: str | None = None,
    build_only: bool = False,
    command: str | None = None,
) -> dict[str, Path]:
    """Import one .replies file; returns the written paths by kind (build, host, profile).

    The profile pairs the build with the host the recording reveals (its accelerated pass), or
    with an existing host file (`host`); `build_only` writes the build alone.  A recording that
    cannot describe its host (no accelerated pass, or a KVM pass without the answers the host
    format needs) is refused, naming what is missing, and nothing is written.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    passes = parse_replies(text, str(path))

    schema = None
    for r in passes[0].records:
        if r.execute == "query-qmp-schema":
            if "error" in r.outcome or not isinstance(r.outcome["return"], list):
                raise FormatError(f"{path}: query-qmp-schema did not return a list")
            schema = r.outcome["return"]
            break
    if schema is None:
        raise FormatError(f"{path}: no query-qmp-schema in the first pass; a build needs the schema")
    passes = [Pass(p.accel, [r for r in p.records if r.execute != "query-qmp-schema"]) for p in passes]
    entries, warnings = merge_passes(passes)

    e = find_entry(entries, "query-version")
    if not e or "return" not in e:
        raise FormatError(f"{path}: no successful query-version")
    version, package = version_of(e["return"], str(path))
    e = find_entry(entries, "query-target")
    target = e.get("return", {}).get("arch") if e else None
    if not isinstance(target, str):
        raise FormatError(f"{path}: no successful query-target")

    stem = path.name[: -len(".replies")] if path.name.endswith(".replies") else path.stem
    name = check_name(name or "libvirt-" + re.sub(r"[^A-Za-z0-9.]+", "-", stem).strip("-"))
    day = (today or datetime.datetime.now(datetime.timezone.utc).date()).isoformat()
    digest = hashlib.sha256(raw).hexdigest()
    ref = "replies"
    refs = {
        ref: f"libvirt tests/qemucapabilitiesdata/{path.name} (sha256 {digest}, {len(raw)} bytes), "
        f"recorded by libvirt's qemucapsprobe; imported with "
        f"`{command or 'python -m qmpserver.profiles.replies ' + path.name}` on {day}"
    }
    accels = [p.accel for p in passes]
    summary = (
        f"QEMU {version} ({package or 'empty package string'}), qemu-system-{target}, "
        f"from libvirt's {path.name}"
    )
    build = build_document(
        name=name,
        summary=summary,
        version=version,
        package=package,
        target=target,
        accelerators=accelerators_from(entries),
        passes=accels,
        refs=refs,
        ref=ref,
    )
    hdr = f"Imported from libvirt's {path.name} by qmpserver.profiles.replies; do not edit by hand."
    root = Path(out)

    host_doc = prof_doc = None
    accel1 = accels[0]
    if build_only:
        pass
    elif host is not None:
        hname, kvm = _paired_host(host, root, target)
        prof_doc = profile_document(
            name,
            f"{summary}, on host {hname}",
            hname,
            name,
            "kvm" if kvm else "tcg",
            default_machine(entries, target),
            "host" if kvm else "max",
        )
    elif accel1 == "tcg" or target not in ("aarch64", "x86_64"):
        why = (
            "it has no accelerated (KVM/HVF) pass, so it reveals nothing about a host"
            if accel1 == "tcg"
            else f"the host format describes aarch64 and x86_64 hosts only, not {target}"
        )
        raise FormatError(
            f"{path}: cannot describe the host: {why}; nothing written. Pair the build with a "
            f"known host (--host NAME, e.g. --host tcg-only) or write the build alone (--build-only)"
        )
    else:
        fields, src = derive_host(entries, accel1, target)
        missing = missing_host_facts(fields, src, target, accel1)
        if missing:
            raise FormatError(
                f"{path}: cannot describe the {accel1.upper()} host, the recording lacks "
                f"{'; '.join(missing)}; nothing written. Pair the build with a known host "
                f"(--host NAME) or write the build alone (--build-only)"
            )
        kind = "KVM" if fields["kvm"]["present"] else accel1.upper() + " (no KVM)"
        host_doc = host_document(
            name,
            f"{target} {kind} host behind libvirt's {path.name}, as far as QMP reveals it",
            target,
            fields,
            src,
            refs,
            ref,
            {"arch": f"the target's, since an accelerated pass ({accel1}) runs only on a native host"},
        )
        has_kvm = fields["kvm"]["present"]
        prof_doc = profile_document(
            name,
            f"{summary}, on the host it was recorded on",
            host_doc["name"],
            name,
            "kvm" if has_kvm else "tcg",
            default_machine(entries, target),
            "host" if has_kvm else "max",
        )

    # refuse before writing anything
    paths = {"build": root / "builds" / name}
    if host_doc:
        paths["host"] = root / "hosts" / f"{host_doc['name']}.yaml"
    if prof_doc:
        paths["profile"] = root / "profiles" / f"{name}.yaml"
    for p in paths.values():
        if p.exists() and not force:
            raise FormatError(f"{p} already exists (use --force to replace it)")
    write_build(root, name, build, schema, entries, force=force, header=hdr)
    if host_doc:
        write_yaml(paths["host"], host_doc, hdr, force=force)
    if prof_doc:
        write_yaml(paths["profile"], prof_doc, hdr, force=force)
    for w in warnings:
        print(f"warning: {path.name}: {w}", file=sys.stderr)
    return paths


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The import's options, shared by ``qmpserver profiles import-replies`` and ``python -m``."""
    from ..completion import complete_as

    ap.add_argument("replies", type=Path, help="a libvirt caps_*.replies file")
    ap.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="models-style root to write into: builds/NAME/, hosts/NAME.yaml, profiles/NAME.yaml",
    )
    ap.add_argument("--name", help="build/host/profile name (default: libvirt-<file stem>)")
    pair = ap.add_mutually_exclusive_group()
    pair_host = pair.add_argument(
        "--host",
        metavar="NAME",
        help="pair the build with this existing host (a name under -o, --profile-dir or the "
        "built-in models) instead of the host the recording reveals; no host file is written",
    )
    complete_as(pair_host, "host")
    pair.add_argument("--build-only", action="store_true", help="write the build alone (no host, no profile)")
    ap.add_argument("--force", action="store_true", help="replace existing files")


def run(args: argparse.Namespace, prog: str, command: str) -> int:
    """Import per parsed `args`; errors are one line labelled `prog`; returns the exit status."""
    try:
        paths = import_replies(
            args.replies,
            args.output,
            args.name,
            args.force,
            host=args.host,
            build_only=args.build_only,
            command=command,
        )
        if "profile" in paths:
            check_profile_loads(paths["profile"])
    except FormatError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    for kind, p in paths.items():
        print(f"{kind}: {p}")
    return 0


def check_profile_loads(path: Path) -> None:
    """The profile just written compiles with its host and build (the loader's own checks)."""
    from qmpserver.errors import UsageError
    from qmpserver.profiles.loader import load_profile

    try:
        load_profile(str(path), use_cache=False)
    except UsageError as exc:
        raise FormatError(f"wrote {path}, but it does not load: {exc}") from None


def main(argv: list[str] | None = None, prog: str = "python -m qmpserver.profiles.replies") -> int:
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Import a libvirt .replies recording into "
        "qmpserver's QEMU-build format (+ host and profile files).",
    )
    add_arguments(ap)
    args = ap.parse_args(argv)
    return run(args, prog, shlex.join([*shlex.split(prog), *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
