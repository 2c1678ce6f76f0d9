"""``qmpserver profiles list|show|validate|diff|capture|import-replies``."""

from __future__ import annotations

import json
import os
import sys

from ..commands.registry import COVERAGE_CLASSES, coverage
from ..completion import complete_as
from ..errors import UsageError
from .model import describe


def add_parser(sub):
    p = sub.add_parser("profiles", help="list, show, validate, compare, capture and import profiles")
    complete_as(
        p.add_argument("--profile-dir", action="append", help="extra profile directory (repeatable)"),
        "profile-dir",
    )
    ps = p.add_subparsers(dest="profiles_command")

    ls = ps.add_parser("list", help="list profiles, hosts and builds")
    form = ls.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print a JSON list (name, summary, builtin, path)")
    form.add_argument(
        "--names",
        action="store_true",
        help="print the names alone, one a line (for scripts and shell completion)",
    )
    ls.add_argument(
        "--kind",
        choices=("profile", "host", "build"),
        default="profile",
        help="what to list: profiles (default), hosts or QEMU builds",
    )
    ls.set_defaults(func=cmd_list)

    sh = ps.add_parser("show", help="show a resolved profile")
    complete_as(sh.add_argument("name", help="profile name or file"), "profile")
    sh.add_argument("--json", action="store_true", help="print the resolved profile as JSON")
    sh.add_argument(
        "--coverage",
        action="store_true",
        help="list every command of the build as modelled, recorded, defaulted or refused, with counts",
    )
    sh.set_defaults(func=cmd_show)

    va = ps.add_parser("validate", help="validate profile, host or build files")
    va.add_argument("files", nargs="+", help="profile, host or build files (YAML) to check")
    va.set_defaults(func=cmd_validate)

    di = ps.add_parser(
        "diff",
        help="guest-visible differences between two profiles (migration view)",
        description="Guest-visible differences between two profiles and whether a guest can move "
        "between their hosts. Exit status: 0 a guest can move in at least one direction, "
        "2 in neither (with --prove: 0 the migration succeeded both ways, 2 it did not), 1 bad input.",
    )
    complete_as(
        di.add_argument("a", help="first profile (name or file), the source of a migration"), "profile"
    )
    complete_as(di.add_argument("b", help="second profile (name or file), the destination"), "profile")
    di.add_argument("--json", action="store_true", help="print the comparison as JSON")
    di.add_argument(
        "--prove",
        action="store_true",
        help="also run the migration both ways (qmpserver migration plan --both-ways) and report it",
    )
    di.set_defaults(func=cmd_diff)

    from . import capture, replies  # their options are theirs; the front end only names them

    ca = ps.add_parser(
        "capture",
        help="record a real QEMU binary into a build, the host it ran on and a profile",
        description="Record a real QEMU binary the way libvirt probes it into a build "
        "(builds/NAME/), the host it ran on (hosts/NAME.yaml) and a profile of the two "
        "(profiles/NAME.yaml), so that --profile can use what was just captured; an x86_64 "
        "capture under KVM also records the host's KVM CPUID data from /dev/kvm "
        "(x86_64/hosts/NAME.yaml), from which the profile's 'host' CPU model is computed.",
    )
    capture.add_arguments(ca)
    ca.set_defaults(func=cmd_capture)

    im = ps.add_parser(
        "import-replies",
        help="turn a libvirt .replies recording into a build, host and profile",
        description="Import a libvirt .replies recording into a build (builds/NAME/), the host "
        "it reveals (hosts/NAME.yaml) and a profile of the two (profiles/NAME.yaml).",
    )
    replies.add_arguments(im)
    im.set_defaults(func=cmd_import)
    p.set_defaults(func=lambda a: (p.print_help(), 1)[1])


def _roots(args):
    from .loader import search_roots

    return search_roots(args.profile_dir or ())


def cmd_list(args) -> int:
    from .loader import list_names, read_yaml

    found = list_names(args.kind, _roots(args))
    if args.names:  # no file is read: quick enough for a completion on every Tab
        sys.stdout.write("".join(name + "\n" for name, _, _ in found))
        return 0
    rows = []
    for name, path, builtin in found:
        try:
            summary = read_yaml(path).get("summary", "")
        except UsageError as e:
            summary = "INVALID: %s" % e
        rows.append({"name": name, "summary": summary, "builtin": builtin, "path": path})
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        w = max([len(r["name"]) for r in rows] + [4])
        for r in rows:
            print("%-*s  %s%s" % (w, r["name"], r["summary"], "" if r["builtin"] else "  [user]"))
    return 0


def cmd_show(args) -> int:
    from .loader import load_profile

    prof = load_profile(args.name, args.profile_dir or ())
    d = describe(prof, coverage(prof.build), commands=args.coverage)
    if args.json:
        json.dump(d, sys.stdout, indent=2, default=str)
        print()
        return 0
    b, h = d["build"], d["host"]
    print("profile   %s  %s" % (d["name"], d["summary"]))
    print("file      %s" % d["file"])
    print("defaults  %s" % ", ".join("%s=%s" % kv for kv in d["defaults"].items()))
    print(
        "build     %s: QEMU %s (%s), target %s, accelerators %s"
        % (b["name"], b["version"], b["package"] or "no package", b["target"], ", ".join(b["accelerators"]))
    )
    print("          proposals: %s" % (", ".join(b["proposals"]) or "none (upstream behaviour)"))
    print("          quirks: %s" % (", ".join(b["quirks"]) or "none"))
    print(
        "          schema: %d commands, %d events (%s)"
        % (b["schema"]["commands"], b["schema"]["events"], b["schema"]["origin"])
    )
    cov = b["coverage"]
    print("          commands: %s" % ", ".join("%d %s" % (cov["counts"][c], c) for c in COVERAGE_CLASSES))
    print("host      %s: %s" % (h.get("name"), h.get("summary", "")))
    kvm = h.get("kvm") or {}
    print(
        "          arch %s, kernel %s, KVM %s"
        % (h.get("arch"), (h.get("kernel") or {}).get("release", "?"), "yes" if kvm.get("present") else "no")
    )
    if args.coverage:
        _print_coverage(cov)
    return 0


#: what each coverage class means, as ``profiles show --coverage`` explains it
_COVERAGE_HELP = {
    "modelled": "a handler computes the answer",
    "recorded": "the build's recorded answer (for the recorded arguments)",
    "defaulted": "read-only, neither modelled nor recorded: the default of its return type "
    "(an error with --strict)",
    "refused": "has effects, neither modelled nor recorded: a GenericError naming it",
}


def _print_coverage(cov) -> None:
    print("coverage  %d commands" % cov["total"])
    for c in COVERAGE_CLASSES:
        names = [n for n, k in cov["commands"].items() if k == c]
        print("  %s (%d): %s" % (c, len(names), _COVERAGE_HELP[c]))
        for n in names:
            print("    %s" % n)


def cmd_validate(args) -> int:
    from .loader import _Resolver, compile_build, compile_host, read_yaml, search_roots

    roots = search_roots(args.profile_dir or ())
    bad = 0
    for f in args.files:
        try:
            data = read_yaml(f)
            kind = {"qemu-build": "build"}.get(data.get("kind"), data.get("kind"))  # type: ignore[arg-type]  # no kind (None): None
            r = _Resolver(roots)
            if kind == "profile":
                from .loader import compile_profile

                compile_profile(os.path.abspath(f), roots)
            elif kind == "host":
                compile_host(dict(r.file("host", f), _path=f))
            elif kind == "build":
                compile_build(dict(r.file("build", f), _path=f), set())
            else:
                raise UsageError("%s: kind: expected 'profile', 'host' or 'qemu-build'" % f)
            print("%s: ok" % f)
        except UsageError as e:
            bad += 1
            sys.stderr.write("%s\n" % e)
    return 1 if bad else 0


def cmd_diff(args) -> int:
    from .diff import diff_profiles, format_diff
    from .loader import load_profile

    dirs = args.profile_dir or ()
    a, b = load_profile(args.a, dirs), load_profile(args.b, dirs)
    result = diff_profiles(a, b)
    if args.prove:
        from ..planner import plan

        # the field view above says what differs; the plan runs the migration both
        # ways with the destination's checks (the same engine as a real migration)
        p = plan(a, b, both_ways=True)
        result["proof"] = {
            "migratable": p["migratable"],
            "configuration": (p["configuration"] or {}).get("qemu-args"),
            "first-blocker": p["blockers"][0] if p["blockers"] else None,
        }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(format_diff(result))
        if args.prove:
            pr = result["proof"]
            if pr["migratable"]:
                print("proved by migrating both ways with: %s" % " ".join(pr["configuration"]))
            else:
                print("proved by migrating: not migratable; first blocker: %s" % pr["first-blocker"])
    # a negative answer is 2, as for `migration plan` and `cpu baseline`; 1 is bad input
    if args.prove:
        return 0 if result["proof"]["migratable"] else 2
    return 2 if result["verdict"]["summary"] == "neither" else 0


def cmd_capture(args) -> int:
    from . import capture

    return capture.run(args, "qmpserver profiles capture", _typed(args))


def cmd_import(args) -> int:
    from . import replies

    return replies.run(args, "qmpserver profiles import-replies", _typed(args))


def _typed(args) -> str:
    """The command line as typed (recorded in what capture/import write)."""
    import shlex

    return shlex.join(["qmpserver", *getattr(args, "argv", sys.argv[1:])])
