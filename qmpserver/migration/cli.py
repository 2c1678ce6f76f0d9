"""``qmpserver migration plan A B [--both-ways] [--json]`` (see :mod:`qmpserver.planner`)."""

from __future__ import annotations

import json
import sys

from ..completion import complete_as


def add_parser(sub):
    p = sub.add_parser("migration", help="plan and prove live migrations between simulated hosts")
    complete_as(
        p.add_argument("--profile-dir", action="append", help="extra profile directory (repeatable)"),
        "profile-dir",
    )
    ps = p.add_subparsers(dest="migration_command")
    pl = ps.add_parser(
        "plan",
        help="the configuration that lets a guest start on A and move to B (proved by migrating)",
    )
    complete_as(pl.add_argument("a", help="source profile"), "profile")
    complete_as(pl.add_argument("b", help="destination profile"), "profile")
    pl.add_argument("--both-ways", action="store_true", help="the guest must also move back from B to A")
    pl.add_argument("--json", action="store_true", help="print the plan as JSON")
    pl.set_defaults(func=cmd_plan)
    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def cmd_plan(args) -> int:
    from ..planner import format_plan, plan
    from ..profiles.loader import load_profile

    dirs = args.profile_dir or ()
    a = load_profile(args.a, dirs)
    b = load_profile(args.b, dirs)
    result = plan(a, b, both_ways=args.both_ways)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_plan(result))
    return 0 if result["migratable"] else 2
