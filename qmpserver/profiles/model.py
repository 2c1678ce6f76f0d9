"""Compiled profile objects: what the running server works from.

Files (``models/hosts``, ``models/builds``, ``models/profiles``) are parsed,
validated and resolved once by :mod:`qmpserver.profiles.loader`; the result
is these plain objects, pickled in the compile cache so that a start-up never
parses YAML or QAPI source.
"""

from __future__ import annotations

from ..models import pick_recorded, reply_key
from ..wire.qdict import to_insertion_order

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any

PROPOSALS = (
    "mte-version",
    "query-mte-capabilities",
    "cpu-idreg-props",
    "arm-cpu-models",
    "query-arm-cpu-writable-id-regs",
    "spapr-gtse",
)


def proposal_symbol(name: str) -> str:
    return "PROPOSAL_" + name.upper().replace("-", "_")


class Build:
    """A QEMU build: version, target, accelerators, schema, recorded answers."""

    def __init__(self, name, data, schema, replies, quirks, path=""):
        self.name = name
        self.data = data  # build.yaml content (resolved)
        v = str(data["version"]).split(".")
        self.version = tuple(int(x) for x in (v + ["0", "0"])[:3])
        self.package = data.get("package", "")
        self.target = data["target"]
        self.accelerators = frozenset(data.get("accelerators", ("tcg",)))
        self.proposals = frozenset(data.get("proposals", ()))
        self._schema = schema
        self.quirks = frozenset(quirks)
        self.path = path
        self._replies_ = replies  # key -> {accel|None: entry}
        self._bulk = None
        self.derived: dict = {}  # the target's derive part (qmpserver.arch.targets)
        self.qom_orders: dict = {}  # machine type -> recorded qom-list /machine names (loader)
        # small tables start-up needs, computed at compile time (not from the bulk)
        self._machines = {}
        for m in self.machines():
            self._machines.setdefault(m["name"], m["name"])
            if "alias" in m:
                self._machines.setdefault(m["alias"], m["name"])

    # The schema and the recorded answers are most of a compiled profile; they
    # are pickled as one nested blob and unpickled on first use, which is after
    # the greeting (start-up only needs the version and the host).

    def __getstate__(self):
        state = dict(self.__dict__)
        if self._bulk is None:
            import _pickle

            state["_bulk"] = _pickle.dumps((self._schema, self._replies_), protocol=5)
        state["_schema"] = state["_replies_"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def _load_bulk(self):
        import _pickle

        self._schema, self._replies_ = _pickle.loads(self._bulk)

    @property
    def schema(self):
        if self._schema is None:
            self._load_bulk()
        return self._schema

    @property
    def _replies(self):
        if self._replies_ is None:
            self._load_bulk()
        return self._replies_

    # recorded answers ---------------------------------------------------------

    def recorded(self, name: str, args: dict | None = None, accel: str | None = None) -> dict | None:
        """The recorded entry for (command, arguments) under ``accel``, or None.

        :func:`qmpserver.models.pick_recorded` decides: never an answer recorded under
        another accelerator when the answer depends on it."""
        by_accel = self._replies.get(reply_key(name, args))
        if by_accel is None:
            return None
        return pick_recorded(name, by_accel, accel)

    def recorded_return(self, name, args=None, accel=None, default=None):
        e = self.recorded(name, args, accel)
        if e is None or "return" not in e:
            return default
        return e["return"]

    def recorded_commands(self) -> set:
        """The names of the commands the build recorded answers to (any arguments)."""
        return {key.partition(" ")[0] for key in self._replies}

    def recorded_calls(self, name):
        """All recorded entries of one command (any arguments)."""
        prefix = name + " "
        out = []
        for key, by_accel in self._replies.items():
            if key.startswith(prefix):
                out.extend(by_accel.values())
        return out

    # machines -------------------------------------------------------------------

    def machines(self, accel=None) -> list:
        return self.recorded_return("query-machines", None, accel, default=[]) or []

    def canonical_machine(self, name: str):
        return self._machines.get(name)

    def has_proposal(self, name: str) -> bool:
        return name in self.proposals

    def __repr__(self):
        return "<Build %s %s>" % (self.name, ".".join(map(str, self.version)))


class Host:
    """A simulated host: CPU, kernel, KVM and its derived facts."""

    def __init__(self, name, data, path=""):
        self.name = name
        self.data = data
        self.path = path
        self.arch = data.get("arch", "aarch64")
        kvm = data.get("kvm") or {}
        self.kvm = kvm
        self.kvm_present = bool(kvm.get("present"))
        self.derived = data.get("derived", {})  # writable masks, firmware registers ...

    def arch_can_run_kvm(self, target: str) -> bool:
        """KVM runs guests of the host's own architecture only."""
        same = {"aarch64": ("aarch64", "arm"), "x86_64": ("x86_64", "i386")}
        return target in same.get(self.arch, (self.arch,))

    def __repr__(self):
        return "<Host %s>" % self.name


class Profile:
    def __init__(self, name, summary, host: Host, build: Build, defaults: dict, path="", data=None):
        self.name = name
        self.summary = summary
        self.host = host
        self.build = build
        self.defaults = defaults
        self.path = path
        self.data = data or {}

    def __repr__(self):
        return "<Profile %s: %s on %s>" % (self.name, self.build.name, self.host.name)


def index_replies(doc) -> dict:
    """Index a replies.json document by command + canonical arguments."""
    out: dict = {}
    for e in doc.get("entries", ()):
        entry = {k: to_insertion_order(v) if k in ("return", "error") else v for k, v in e.items()}
        out.setdefault(reply_key(e["execute"], e.get("arguments")), {})[e.get("accel")] = entry
    return out


def describe(prof: Any, coverage: dict[str, str], commands: bool = False) -> dict[str, Any]:
    """What ``profiles show`` and ``GET /api/v1/profiles/NAME`` say about a profile; the
    caller passes how each command of the build is answered (``commands.registry.coverage``
    owns that).  ``build.coverage`` holds the counts per class, and with ``commands`` the
    class of every command; ``unmodelled_commands`` lists the defaulted and refused ones."""
    b, h = prof.build, prof.host
    counts = {c: 0 for c in ("modelled", "recorded", "defaulted", "refused")}
    for c in coverage.values():
        counts[c] = counts.get(c, 0) + 1
    cov: dict[str, Any] = {"counts": counts, "total": len(coverage)}
    if commands:
        cov["commands"] = dict(sorted(coverage.items()))
    sch = b.schema
    return {
        "name": prof.name,
        "summary": prof.summary,
        "file": prof.path,
        "defaults": prof.defaults,
        "build": {
            "name": b.name,
            "version": ".".join(map(str, b.version)),
            "package": b.package,
            "target": b.target,
            "accelerators": sorted(b.accelerators),
            "proposals": sorted(b.proposals),
            "quirks": sorted(b.quirks),
            "schema": {"origin": sch.origin, "commands": len(sch.commands), "events": len(sch.events)},
            "unmodelled_commands": sorted(n for n, c in coverage.items() if c in ("defaulted", "refused")),
            "coverage": cov,
        },
        "host": {k: v for k, v in h.data.items() if k not in ("sources",)},
    }
