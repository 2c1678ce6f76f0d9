"""``qmpserver cpu``: what a host offers, without writing QMP.

    qmpserver cpu expand [--profile P] [--accel kvm|tcg] MODEL[,key=value...]
    qmpserver cpu baseline [--profile A] --profile B [--all]

A missing ``--profile`` means what it means for ``serve``: ``$QMPSERVER_PROFILE``, else the
embedded default profile.  Exit status: 0 an answer, 1 bad input (one line on stderr),
2 ``baseline`` of hosts that cannot be bridged (no common model), as ``migration plan`` exits
2 when a guest cannot move.

``expand`` starts the model as ``-cpu MODEL,key=value...`` would (same checks
and texts) and prints its expansion as a table; ``SYSREG_*`` rows (proposal
``cpu-idreg-props``) show the value's name and what KVM accepts.  ``baseline``
computes the ``host`` model both profiles' hosts can run (as
query-cpu-model-baseline does) and prints the fields that differ.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ...completion import complete_as
from ...errors import UsageError

__all__ = ["add_parser"]

# (spec, dirs) -> a compiled profile; given by the top-level CLI (qmpserver/cli.py), which
# sits above both arch/ and profiles/: the arch layer never imports the profile loader
ProfileLoader = Callable[[str, Any], Any]


def add_parser(sub: Any, load_profile: ProfileLoader) -> None:
    p = sub.add_parser("cpu", help="show CPU model expansions and baselines (aarch64)")
    csub = p.add_subparsers(dest="cpu_command")
    e = csub.add_parser("expand", help="expand a CPU model on a profile, as a table")
    complete_as(
        e.add_argument(
            "--profile",
            help="profile name or file (default: $QMPSERVER_PROFILE, else the embedded default, as for serve)",
        ),
        "profile",
    )
    complete_as(
        e.add_argument("--profile-dir", action="append", help="extra profile directory (repeatable)"),
        "profile-dir",
    )
    e.add_argument("--accel", choices=("kvm", "tcg"), help="accelerator (default: the profile's)")
    e.add_argument(
        "model", metavar="MODEL[,PROPS]", help="e.g. host, max,sve=off, host,SYSREG_ID_AA64ISAR0_EL1_AES=1"
    )
    e.set_defaults(func=cmd_expand, load_profile=load_profile)
    b = csub.add_parser(
        "baseline",
        help="the host model two profiles' hosts can both run",
        description="The host CPU model both profiles' hosts can run, as query-cpu-model-baseline "
        "computes it. Exit status: 0 a common model, 2 the hosts cannot be bridged, 1 bad input.",
    )
    complete_as(
        b.add_argument(
            "--profile",
            action="append",
            help="profile name or file; give two (A, B), or one: B, with A the default profile as for serve",
        ),
        "profile",
    )
    complete_as(
        b.add_argument("--profile-dir", action="append", help="extra profile directory (repeatable)"),
        "profile-dir",
    )
    b.add_argument("--all", action="store_true", help="list every property, not only the differing ones")
    b.set_defaults(func=cmd_baseline, load_profile=load_profile)
    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def _profile(args: Any, spec: str | None) -> Any:
    return args.load_profile(spec, args.profile_dir or ())


def _catalog(prof, accel, model=None, props=None):
    from .cpu import Catalog

    if prof.build.target != "aarch64":
        raise UsageError(
            "profile '%s': the build's target is %s, not aarch64" % (prof.name, prof.build.target)
        )
    if accel == "kvm":
        if "kvm" not in prof.build.accelerators:
            raise UsageError("profile '%s': the build has no KVM" % prof.name)
        if not (prof.host.kvm_present and prof.host.arch_can_run_kvm("aarch64")):
            raise UsageError(
                "profile '%s': host '%s' cannot run aarch64 guests under KVM" % (prof.name, prof.host.name)
            )
    return Catalog(
        prof.build, prof.host, accel, model, props, sysreg_props=prof.build.has_proposal("cpu-idreg-props")
    )


def _fmt(v) -> str:
    if v is True:
        return "on"
    if v is False:
        return "off"
    return str(v)


def _value_name(prop, v):
    from . import sysreg as sr

    try:
        reg, field = sr.parse_property_name(prop)
        return sr.value_name(reg, field, v) or ""
    except sr.SysregError:
        return ""


def _accepted(e) -> str:
    acc = e.get("accept")
    if acc is None:
        return e["policy"].replace("_", "-")
    vals = [v for v in range(1 << e["width"]) if (acc >> v) & 1]
    if len(vals) == 1:
        return "only %d" % vals[0]
    if vals == list(range(vals[0], vals[-1] + 1)):
        return "%d-%d" % (vals[0], vals[-1])
    return ",".join(str(v) for v in vals)


def _table(rows, header, out):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip()
    out.write(line + "\n" + "  ".join("-" * w for w in widths) + "\n")
    for r in rows:
        out.write("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")


def cmd_expand(args, out=None) -> int:
    from ...qapi.opts import parse_cpu
    from .cpu import CpuError

    out = out or sys.stdout
    prof = _profile(args, args.profile)
    accel = args.accel or prof.defaults.get("accel", "tcg")
    model, props = parse_cpu(args.model)
    cat = _catalog(prof, accel, model, props)
    if model not in cat.names:
        raise UsageError("unable to find CPU model '%s'" % model)
    try:
        if model == "host" and not cat.kvm:
            raise CpuError("The 'host' CPU type can only be used with KVM or HVF")
        obj = cat.new(model)
        obj.finalize()
    except CpuError as e:
        raise UsageError(e.startup_text().replace("\n", "; ")) from None
    values = obj.output()
    out.write(
        "profile %s: QEMU %s (%s) on %s, accel %s\n"
        % (prof.name, ".".join(map(str, prof.build.version)), prof.build.name, prof.host.name, accel)
    )
    out.write("model %s (%s)%s\n\n" % (model, obj.cls.typename, ", -cpu " + args.model if props else ""))
    if not values:
        out.write("(no advertised properties)\n")
        return 0
    rows = []
    for k, v in values.items():
        field = obj.cls.sysreg.get(k)
        if field is None:
            rows.append((k, _fmt(v), "", ""))
        else:
            rows.append(
                (k, _fmt(v), _value_name(k, v), "host %d, KVM accepts %s" % (field["host"], _accepted(field)))
            )
    _table(rows, ("property", "value", "meaning", "writable"), out)
    return 0


def cmd_baseline(args, out=None) -> int:
    from . import baseline as B

    out = out or sys.stdout
    specs = list(args.profile or ())
    if not 1 <= len(specs) <= 2:
        raise UsageError(
            "cpu baseline needs one or two --profile options (with one, A is the default profile)"
        )
    if len(specs) == 1:
        specs.insert(0, None)  # the default profile, as `serve` without --profile
    pa, pb = (_profile(args, s) for s in specs)
    ca, cb = _catalog(pa, "kvm"), _catalog(pb, "kvm")
    da = B._local_desc(ca, ca.expand_default("host"), pa.name)
    db = B._local_desc(cb, cb.expand_default("host"), pb.name)
    props, responsible = B.baseline(ca, da, db)
    result, diff = B.compare(ca, da, db)
    out.write(
        "A: %s (%s, Linux %s)\nB: %s (%s, Linux %s)\n"
        % (
            pa.name,
            pa.host.name,
            (pa.host.data.get("kernel") or {}).get("release", "?"),
            pb.name,
            pb.host.name,
            (pb.host.data.get("kernel") or {}).get("release", "?"),
        )
    )
    out.write("comparison A vs B: %s\n\n" % result)
    keys = []
    for k in list(da.bools) + [k for k in db.bools if k not in da.bools]:
        keys.append(k)
    sys_keys = B._sorted_fields(ca, set(da.sysreg) | set(db.sysreg))
    rows = []
    bad = set(responsible)
    for k in keys + sys_keys:
        cells = []
        raw = []
        for d in (da, db):
            v = d.bools.get(k, d.sysreg.get(k))
            if v is not None:
                raw.append(v)
                cells.append(_fmt(v))
            elif d.known is not None and k in d.known:
                raw.append(d.known[k])
                cells.append("%d (fixed)" % d.known[k])
            else:
                raw.append(None)
                cells.append("-")
        base = props.get(k)
        if k in bad:
            note = "cannot be bridged"
        elif base is not None and (base != raw[0] or base != raw[1]):
            note = "lowered"
        else:
            note = ""
        if not args.all and not note and raw[0] == raw[1]:
            continue
        rows.append((k, cells[0], cells[1], _fmt(base) if base is not None else "-", note))
    if rows:
        _table(rows, ("property", "A", "B", "baseline", ""), out)
    else:
        out.write("(the two hosts offer the same host model)\n")
    if responsible:
        out.write("\nno common model: %s cannot be bridged\n" % ", ".join(responsible))
        return 2  # a negative answer, not an error (1): as `migration plan` and `profiles diff`
    out.write(
        "\nbaseline: host with %d properties (query-cpu-model-baseline gives the full list)\n" % len(props)
    )
    if ca.named_tables is not None:  # proposal arm-cpu-models: the named form, on A
        m = B.named_form(ca, props)
        if m["name"] != "host":
            delta = ",".join("%s=%s" % (k, _fmt(v)) for k, v in (m.get("props") or {}).items())
            out.write("as a named model on A: -cpu %s%s\n" % (m["name"], "," + delta if delta else ""))
    return 0
