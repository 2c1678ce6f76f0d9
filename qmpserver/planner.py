"""``qmpserver migration plan A B``: a configuration that lets a guest start on A and move to B.

No second copy of the rules: a plan is *found by running it*.  From the two
profiles the planner derives candidate configurations -- the newest
versioned machine type both builds have, a ``host`` CPU model both hosts can
present (``query-cpu-model-baseline`` of the ``cpu-idreg-props`` proposal,
which yields the ``SYSREG_*`` values), the MTE version (``mte-version``
proposal) and the in-kernel GIC version both kernels have -- then starts a
source instance on A and a destination instance on B with each candidate
and migrates between them over a real socket (:mod:`qmpserver.migration`).
The first candidate whose migration completes, with the destination showing
exactly the source's guest ABI, is the plan; if none does, every blocker is
reported with the reason the destination (QEMU + KVM as modelled) gave.

ppc64 (pseries) and x86_64 (q35) pairs get their own candidates
(:func:`_candidates_ppc64`, :func:`_candidates_x86`; the plan's notes say what
is checked); profiles of different targets are refused by name.

Firmware pseudo-registers have no QEMU knob (the ``kvm-psci-version``
proposal of 2025 is not modelled): a firmware register the destination's
kernel refuses is a blocker no configuration removes.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from typing import Any, NamedTuple

from .errors import QMPError, StartupError
from .qmp.session import Session
from .startup import start
from .vm.abi import diff as abi_diff
from .vm.config import InstanceConfig


class _Client:
    """A negotiated in-process QMP session on an instance."""

    def __init__(self, inst: Any) -> None:
        self.inst = inst
        self.session = Session(inst.add_monitor())
        self.session.connect()
        self.cmd("qmp_capabilities")

    def cmd(self, name: str, **args: Any) -> Any:
        import json

        msg: dict[str, Any] = {"execute": name}
        if args:
            msg["arguments"] = args
        self.session.receive_data(json.dumps(msg).encode())
        self.session.pump()
        for line in self.session.take_output().split(b"\r\n"):
            if not line:
                continue
            m = json.loads(line)
            if "return" in m:
                return m["return"]
            if "error" in m:
                raise QMPError(m["error"]["desc"], m["error"]["class"])
        raise QMPError("no reply to %s" % name)


def _start(profile: Any, cfg: dict[str, Any], incoming: str | None = None) -> Any:
    """An instance on ``profile`` with the plan's configuration (StartupError if QEMU refuses)."""
    machine = dict(cfg["machine"])
    config = InstanceConfig(
        machine=machine,
        accel=[cfg["accel"]],
        cpu=cfg.get("cpu"),
        cpu_props={k: _val(v) for k, v in (cfg.get("cpu_props") or {}).items()},  # as -cpu gives them
        incoming=incoming,
        start_paused=False,
    )
    return start(profile, config)


def _kvm_ok(profile: Any) -> bool:
    host = profile.host
    accel = (profile.defaults or {}).get("accel", "kvm")
    return accel == "kvm" and host.kvm_present and host.arch_can_run_kvm(profile.build.target)


def _mte_level(profile: Any) -> int:
    kv = profile.host.data.get("kvm") or {}
    if not int((kv.get("caps") or {}).get("KVM_CAP_ARM_MTE", 0) or 0):
        return 0
    from .arch.arm64 import sysreg as sr

    return sr.mte_level(profile.host.data)


def _gics(profile: Any) -> list[int]:
    gic = (profile.host.data.get("kvm") or {}).get("gic") or {}
    return sorted(int(k[1:]) for k, v in gic.items() if v and k.startswith("v"))


def _fmt_cfg(cfg: dict[str, Any]) -> list[str]:
    """The QEMU command-line arguments of a configuration."""
    m = dict(cfg["machine"])
    mtype = m.pop("type")
    machine = ",".join([mtype] + ["%s=%s" % (k, v) for k, v in m.items()])
    cpu = ",".join([cfg["cpu"]] + ["%s=%s" % (k, _val(v)) for k, v in (cfg.get("cpu_props") or {}).items()])
    return ["-machine", machine, "-accel", cfg["accel"], "-cpu", cpu]


def _val(v: Any) -> str:
    if v is True:
        return "on"
    if v is False:
        return "off"
    return str(v)


def _run_until(insts: tuple[Any, ...], done: Any, timeout: float = 10.0) -> bool:
    """Run the instances' schedulers until ``done()``, sleeping until a timer is due
    or a channel thread posts work (``Scheduler.notify``)."""
    import threading

    wake = threading.Event()
    for i in insts:
        i.scheduler.notify = wake.set
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            wake.clear()
            for i in insts:
                i.scheduler.run_due()
            if done():
                return True
            dues = [d for d in (i.scheduler.next_due() for i in insts) if d is not None]
            wake.wait(min(dues + [0.05]))
        return False
    finally:
        for i in insts:
            i.scheduler.notify = None


class Trial:
    """One migration between two instances, run to its end."""

    def __init__(self, src_prof: Any, dst_prof: Any, cfg: dict[str, Any], label: str) -> None:
        self.label = label
        self.result = "not-run"
        self.reasons: list[str] = []
        self.stderr: list[str] = []
        self.error_desc: str | None = None
        self.fresh_diff: list[Any] = []  # src ABI vs the destination's own, field by field
        self._run(src_prof, dst_prof, cfg)

    def _run(self, src_prof: Any, dst_prof: Any, cfg: dict[str, Any]) -> None:
        tmp = tempfile.mkdtemp(prefix="qsplan", dir="/tmp")
        uri = "unix:" + os.path.join(tmp, "mig.sock")
        src = dst = None
        try:
            try:
                src = _start(src_prof, cfg)
            except StartupError as e:
                self.result = "source-refused"
                self.reasons = ["%s cannot start it: %s" % (src_prof.name, e.message)]
                return
            try:
                dst = _start(dst_prof, cfg, incoming=uri)
            except StartupError as e:
                self.result = "destination-refused"
                self.reasons = ["%s cannot start it: %s" % (dst_prof.name, e.message)]
                return
            sc, dc = _Client(src), _Client(dst)
            caps = [{"capability": "return-path", "state": True}]
            sc.cmd("migrate-set-capabilities", capabilities=caps)
            try:
                sc.cmd("migrate", uri=uri)
            except QMPError as e:
                self.result = "blocked"
                self.reasons = ["%s: %s" % (src_prof.name, e.desc)]
                return
            sm, dm = src.migration, dst.migration
            own_dst_abi = dst.abi.to_dict()
            _run_until(
                (src, dst),
                lambda: (
                    sm.status in ("completed", "failed")
                    and (dst.terminated is not None or dm.incoming_status in ("completed", "failed"))
                ),
            )
            self.stderr = list(dst.stderr)
            self.error_desc = sm.error_desc
            if sm.status == "completed" and dm.incoming_status == "completed":
                # the destination carries the source's ABI by construction (it adopted
                # the stream's description); what can differ is what the destination's
                # own configuration gives a guest started there afresh
                self.result = "completed"
                self.fresh_diff = abi_diff(src.abi, own_dst_abi)
            else:
                self.result = "failed" if sm.status == "failed" else "timeout"
                self.reasons = list(dm.refused) or [x for x in self.stderr if x]
                dc.inst.terminate("plan")
        finally:
            for inst in (src, dst):
                if inst is not None and inst.terminated is None:
                    inst.terminate("plan")
            shutil.rmtree(tmp, ignore_errors=True)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"direction": self.label, "result": self.result, "reasons": self.reasons}
        if self.stderr:
            d["destination-stderr"] = self.stderr
        if self.error_desc:
            d["source-error-desc"] = self.error_desc
        if self.fresh_diff:
            d["fresh-start-differs"] = [x[0] for x in self.fresh_diff]
        return d


def _baseline(a: Any, b: Any, cfg: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
    """``query-cpu-model-baseline`` on A of A's and B's ``host`` (the proposal)."""
    try:
        ia = _start(a, cfg)
        ib = _start(b, cfg)
    except StartupError as e:
        notes.append("probe start failed: %s" % e.message)
        return None
    try:
        ca, cb = _Client(ia), _Client(ib)
        full_a = ca.cmd("query-cpu-model-expansion", type="full", model={"name": "host"})["model"]["props"]
        full_b = cb.cmd("query-cpu-model-expansion", type="full", model={"name": "host"})["model"]["props"]
        got = ca.cmd(
            "query-cpu-model-baseline",
            modela={"name": "host"},
            modelb={"name": "host", "props": full_b},
        )
        base = got["model"].get("props") or {}
        if got["model"]["name"] != "host":
            # proposal arm-cpu-models: the baseline is a named model plus deltas; its
            # host form is its full expansion without the named features (they follow
            # the SYSREG_* fields: docs/proposals/arm-named-models.md)
            from .arch.arm64.named import tables

            features = set(tables().field_props)
            named = ca.cmd("query-cpu-model-expansion", type="full", model=got["model"])["model"]["props"]
            base = {k: v for k, v in named.items() if k in full_a and k not in features}
        # what both hosts' host model has anyway need not be written on -cpu
        props: dict[str, Any] = {k: v for k, v in base.items() if not (full_a.get(k) == v == full_b.get(k))}
        return props
    except QMPError as e:
        notes.append("no host CPU model fits both hosts: %s" % e.desc)
        return None
    finally:
        ia.terminate("plan")
        ib.terminate("plan")


def _versioned(build: Any, prefix: str) -> set[tuple[int, int]]:
    pat = re.compile(r"^%s(\d+)\.(\d+)$" % re.escape(prefix))
    out = set()
    for m in build.machines():
        g = pat.match(m.get("name", ""))
        if g:
            out.add((int(g.group(1)), int(g.group(2))))
    return out


def _same_accel(a: Any, b: Any, blockers: list[str]) -> str | None:
    kvm_a, kvm_b = _kvm_ok(a), _kvm_ok(b)
    if kvm_a != kvm_b:
        blockers.append(
            "%s runs KVM and %s TCG: a guest's CPU state does not move between accelerators"
            % ((a.name, b.name) if kvm_a else (b.name, a.name))
        )
        return None
    return "kvm" if kvm_a else "tcg"


def _candidates_ppc64(a: Any, b: Any, notes: list[str], blockers: list[str]) -> list[dict[str, Any]]:
    """pseries: the newest versioned pseries both builds have, ``-cpu host`` under KVM
    (``power9`` under TCG), the caps at their defaults."""
    common = _versioned(a.build, "pseries-") & _versioned(b.build, "pseries-")
    if not common:
        blockers.append(
            "no versioned pseries machine type in both builds (%s, %s)" % (a.build.name, b.build.name)
        )
        return []
    accel = _same_accel(a, b, blockers)
    if accel is None:
        return []
    notes.append(
        "ppc64: checked by running it: the destination's start-up (spapr caps against its KVM), the "
        "machine type, the spapr cap levels at load (arch/ppc64/migrate.py), the CPU family (PVR) and, "
        "under KVM, the radix/GTSE process table; not searched: cap values other than the defaults, "
        "max-cpu-compat between CPU generations, HPT guests"
    )
    machine = {"type": "pseries-%d.%d" % max(common)}
    return [{"machine": machine, "accel": accel, "cpu": "host" if accel == "kvm" else "power9"}]


def _cpu_family_rank(name: str, vendor: str) -> tuple[int, int]:
    """Newer families first; the host's vendor first; within a family the highest -vN."""
    intel = (
        "SapphireRapids",
        "Icelake-Server",
        "Cooperlake",
        "Cascadelake-Server",
        "Skylake-Server",
        "Icelake-Client",
        "Skylake-Client",
        "Broadwell",
        "Haswell",
        "IvyBridge",
        "SandyBridge",
        "Westmere",
        "Nehalem",
        "Penryn",
        "Conroe",
    )
    amd = ("EPYC-Milan", "EPYC-Rome", "EPYC", "Opteron_G5", "Opteron_G4", "Opteron_G3")
    order = (intel + amd) if vendor != "AuthenticAMD" else (amd + intel)
    base, _, ver = name.partition("-v")
    if not ver.isdigit():
        base, ver = name, "0"
    for i, fam in enumerate(order):
        if base == fam:
            return (i, -int(ver))
    return (len(order), 0)


def _candidates_x86(a: Any, b: Any, notes: list[str], blockers: list[str]) -> list[dict[str, Any]]:
    """pc/q35: the newest versioned q35 both builds have and a named CPU model both hosts
    provide in full, with ``enforce`` (the stream carries no CPUID: only the same complete
    model on both sides keeps the guest's CPU; ``-cpu host`` would migrate and change it)."""
    common = _versioned(a.build, "pc-q35-") & _versioned(b.build, "pc-q35-")
    if not common:
        blockers.append(
            "no versioned q35 machine type in both builds (%s, %s)" % (a.build.name, b.build.name)
        )
        return []
    accel = _same_accel(a, b, blockers)
    if accel is None:
        return []
    machine = {"type": "pc-q35-%d.%d" % max(common)}
    usable: list[set[str]] = []
    for prof in (a, b):
        try:
            inst = _start(prof, {"machine": machine, "accel": accel, "cpu": "qemu64"})
        except StartupError as e:
            blockers.append("%s cannot start a probe: %s" % (prof.name, e.message))
            return []
        try:
            defs = _Client(inst).cmd("query-cpu-definitions")
        finally:
            inst.terminate("plan")
        usable.append({d["name"] for d in defs if not d.get("unavailable-features")})
    both = sorted(usable[0] & usable[1] - {"host", "max", "base"})
    vendor = str((a.host.data.get("cpu") or {}).get("vendor") or "")
    ranked = sorted(both, key=lambda n: _cpu_family_rank(n, vendor))
    notes.append(
        "x86_64: the stream carries no CPUID, so a plan is a named CPU model both hosts provide in full "
        "(query-cpu-definitions without unavailable-features on both, then enforce at start-up); checked by "
        "running it: the destination's start-up, the machine type, RAM, the vCPU sections (TSC frequency) "
        "and the migration blockers (invtsc); -cpu host is never proposed (it migrates, but the guest's "
        "CPUID changes to the destination host's)"
    )
    return [
        {"machine": machine, "accel": accel, "cpu": m, "cpu_props": {"enforce": True}} for m in ranked[:3]
    ]


# the targets whose plans are not aarch64's search (aarch64: below)
_OTHER_TARGETS = {"ppc64": _candidates_ppc64, "x86_64": _candidates_x86}


def candidates(a: Any, b: Any, notes: list[str], blockers: list[str]) -> list[dict[str, Any]]:
    """Configurations to try, most faithful to the hosts first."""
    if a.build.target != b.build.target:
        blockers.append(
            "qmpserver: %s (%s) and %s (%s) run different QEMU targets"
            % (a.name, a.build.target, b.name, b.build.target)
        )
        return []
    other = _OTHER_TARGETS.get(a.build.target)
    if other is not None:
        return other(a, b, notes, blockers)
    if a.build.target != "aarch64":
        blockers.append("qmpserver: migration planning is not modelled for target %s" % a.build.target)
        return []
    common = _versioned(a.build, "virt-") & _versioned(b.build, "virt-")
    if not common:
        blockers.append(
            "no versioned virt machine type in both builds (%s, %s)" % (a.build.name, b.build.name)
        )
        return []
    machine = "virt-%d.%d" % max(common)
    kvm_a, kvm_b = _kvm_ok(a), _kvm_ok(b)
    if kvm_a != kvm_b:
        blockers.append(
            "%s runs KVM and %s TCG: a guest's CPU state does not move between accelerators"
            % ((a.name, b.name) if kvm_a else (b.name, a.name))
        )
        return []
    if not kvm_a:
        return [{"machine": {"type": machine}, "accel": "tcg", "cpu": "cortex-a57"}]
    out: list[dict[str, Any]] = []
    mprops: dict[str, Any] = {"type": machine}
    gics = sorted(set(_gics(a)) & set(_gics(b)))
    if gics:
        mprops["gic-version"] = str(gics[-1])
    else:
        notes.append("no in-kernel GIC version common to both kernels")
    mte_props: list[dict[str, Any]] = [{}]
    if a.build.has_proposal("mte-version") and b.build.has_proposal("mte-version"):
        la, lb = _mte_level(a), _mte_level(b)
        mte_props = [{"mte-version": str(la)}] if la and la == lb else []
        mte_props.append({"mte-version": "none"})
    base = {"machine": mprops, "accel": "kvm", "cpu": "host"}
    props = None
    if a.build.has_proposal("cpu-idreg-props") and b.build.has_proposal("cpu-idreg-props"):
        props = _baseline(a, b, base, notes)
    # vCPU features one host lacks: switched off on both (KVM hides their registers)
    from .arch.arm64 import sysreg as sr

    off = {}
    for prop, present in (("sve", sr.sve_present), ("pauth", sr.pauth_present), ("pmu", sr.pmu_present)):
        if bool(present(a.host.data)) != bool(present(b.host.data)):
            off[prop] = False
    named_model = None
    if a.build.has_proposal("arm-cpu-models") and b.build.has_proposal("arm-cpu-models"):
        from .arch.arm64 import named

        named_model = named.portable_model(a, b, notes)
    for i, mp in enumerate(mte_props):
        if named_model is not None and i == 0:
            # a named model both hosts present identically: portable to any later host
            # that presents it too (proposal arm-cpu-models)
            out.append({"machine": {**mprops, **mp}, "accel": "kvm", "cpu": named_model})
        cfg = {"machine": {**mprops, **mp}, "accel": "kvm", "cpu": "host"}
        if props:
            out.append({**cfg, "cpu_props": props})
        if off:
            out.append({**cfg, "cpu_props": dict(off)})
        out.append(cfg)
    return out


def plan(a: Any, b: Any, both_ways: bool = False) -> dict[str, Any]:
    """The plan for profiles ``a`` -> ``b`` (and back with ``both_ways``), proved by running it."""
    notes: list[str] = []
    blockers: list[str] = []
    tried: list[dict[str, Any]] = []
    chosen = None
    for cfg in candidates(a, b, notes, blockers):
        trials = [Trial(a, b, cfg, "%s -> %s" % (a.name, b.name))]
        if both_ways and trials[0].result == "completed":
            trials.append(Trial(b, a, cfg, "%s -> %s" % (b.name, a.name)))
        tried.append({"qemu-args": _fmt_cfg(cfg), "trials": [t.to_dict() for t in trials]})
        if all(t.result == "completed" for t in trials):
            chosen = cfg
            for t in trials:
                if t.fresh_diff:
                    notes.append(
                        "%s: the running guest keeps the source's values, but a guest started afresh "
                        "there with these arguments would see different %s"
                        % (
                            t.label,
                            ", ".join(x[0] for x in t.fresh_diff[:8])
                            + (" ..." if len(t.fresh_diff) > 8 else ""),
                        )
                    )
            break
    if chosen is None and tried:
        # the blockers of the most faithful host-model candidate, first reason first (a
        # named model tried before it is a bonus: its failure is not the pair's blocker)
        first = next((x for x in tried if "host" in x["qemu-args"][5].split(",")[:1]), tried[0])
        for t in first["trials"]:
            if t["result"] != "completed":  # both ways: the direction that worked blocks nothing
                blockers.extend(t["reasons"] or ["%s: %s" % (t["direction"], t["result"])])
    out: dict[str, Any] = {
        "source": a.name,
        "destination": b.name,
        "both-ways": both_ways,
        "migratable": chosen is not None,
        "configuration": None if chosen is None else {"qemu-args": _fmt_cfg(chosen), **chosen},
        "blockers": blockers if chosen is None else [],
        "notes": notes,
        "tried": tried,
    }
    return out


def format_plan(p: dict[str, Any]) -> str:
    arrow = "<->" if p["both-ways"] else "->"
    lines = ["migration plan: %s %s %s" % (p["source"], arrow, p["destination"])]
    if p["migratable"]:
        lines.append("  migratable with (on both hosts):")
        lines.append("    " + " ".join(p["configuration"]["qemu-args"]))
        lines.append("  proved: the migration ran between instances on both profiles; each")
        lines.append("  destination took every register and runs with the source's guest ABI")
    else:
        lines.append("  NOT migratable; blockers (the first decides):")
        lines.extend("    - " + r for r in p["blockers"][:8])
        if len(p["blockers"]) > 8:
            lines.append("    ... %d more (--json lists them all)" % (len(p["blockers"]) - 8))
    for n in p["notes"]:
        lines.append("  note: " + (n if len(n) <= 300 else n[:297] + "..."))
    for t in p["tried"]:
        lines.append("  tried " + " ".join(t["qemu-args"]))
        for tr in t["trials"]:
            lines.append("    %s: %s" % (tr["direction"], tr["result"]))
    return "\n".join(lines) + "\n"


# --- the host-pair matrix -----------------------------------------------------------------------


class MatrixTarget(NamedTuple):
    """What the host-pair matrix of one QEMU target runs (:data:`MATRIX_TARGETS`)."""

    machine_prefix: str  # the versioned machine types: PREFIX + "X.Y"
    tcg_cpu: str | None  # -cpu under TCG; None: the machine type's default-cpu-type
    preferred_build: str | None  # one_per_host takes this build's profile of a host when there is one
    passthrough_note: str | None = None  # what a migratable passthrough cell does not prove


#: one row per target the matrix covers.  aarch64: ``virt``, ``cortex-a57`` under TCG (virt's
#: default CPU, cortex-a15, is 32-bit); ppc64: ``pseries`` and, under TCG, the CPU the machine type
#: itself defaults to (power9_v2.0 for pseries-7.2); x86_64: ``q35`` (``qemu64`` under TCG, its
#: default).  The preferred builds carry qmpserver's proposals (aarch64: every Arm one;
#: ppc64: ``spapr-gtse``); x86_64 has none.
MATRIX_TARGETS: dict[str, MatrixTarget] = {
    "aarch64": MatrixTarget("virt-", "cortex-a57", "qmpserver"),
    "ppc64": MatrixTarget("pseries-", None, "qmpserver-ppc64"),
    "x86_64": MatrixTarget(
        "pc-q35-",
        None,
        None,
        "x86_64: the stream carries no CPUID (arch/x86_64/migrate.py), so a migratable -cpu host cell "
        "says the migration completes, not that the guest keeps its CPU: after it, the guest runs with "
        "the destination host's CPUID. A plan (config=planned) proposes a named model both hosts provide "
        "in full instead",
    ),
}


def _default_cpu(build: Any, machine: str) -> str | None:
    """The CPU model a machine type starts without ``-cpu``: its ``default-cpu-type``
    (``query-machines``) less the ``-<target>-cpu`` QOM suffix, e.g. ``qemu64-x86_64-cpu``."""
    for m in build.machines():
        if m.get("name") == machine:
            qom = str(m.get("default-cpu-type") or "")
            if qom.endswith("-cpu") and "-" in qom[: -len("-cpu")]:
                return qom[: -len("-cpu")].rsplit("-", 1)[0]
    return None


def _matrix_row(target: str) -> MatrixTarget:
    row = MATRIX_TARGETS.get(target)
    if row is None:
        raise ValueError(
            "no host-pair matrix for target %r (one of: %s)" % (target, ", ".join(sorted(MATRIX_TARGETS)))
        )
    return row


def _passthrough(a: Any, b: Any) -> tuple[dict[str, Any] | None, str]:
    """:func:`passthrough_config` and, when there is none, why (a matrix cell's blocker)."""
    row = _matrix_row(a.build.target)
    common = _versioned(a.build, row.machine_prefix) & _versioned(b.build, row.machine_prefix)
    if not common:
        return None, "no common versioned machine type"
    machine = "%s%d.%d" % ((row.machine_prefix,) + max(common))
    kvm = _kvm_ok(a) and _kvm_ok(b)
    cpu = "host" if kvm else (row.tcg_cpu or _default_cpu(a.build, machine))
    if cpu is None:
        return None, "qmpserver: build %s does not say the default CPU of %s (query-machines)" % (
            a.build.name,
            machine,
        )
    return {"machine": {"type": machine}, "accel": "kvm" if kvm else "tcg", "cpu": cpu}, ""


def passthrough_config(a: Any, b: Any) -> dict[str, Any] | None:
    """``-cpu host`` (TCG: the target's :data:`MATRIX_TARGETS` CPU) on the newest versioned
    machine type of the target both builds have, every other property at its default; None
    when no machine type is common.  ValueError for a target with no matrix row."""
    return _passthrough(a, b)[0]


def one_per_host(profiles: list[Any], target: str = "aarch64") -> list[Any]:
    """One profile per host of ``target`` (the host's own architecture: no TCG profiles on a
    foreign host), the target's preferred build's when there is one (the matrix is about
    hosts; a build only changes which proposals exist).  ValueError for a target with no
    :data:`MATRIX_TARGETS` row."""
    preferred = _matrix_row(target).preferred_build
    best: dict[str, Any] = {}
    for p in profiles:
        if p.build.target != target or p.host.arch != target:
            continue
        cur = best.get(p.host.name)
        if cur is None or (cur.build.name != preferred and p.build.name == preferred):
            best[p.host.name] = p
    return [best[k] for k in sorted(best)]


def matrix(
    profiles: list[Any], config: str = "passthrough", progress: Any = None, target: str = "aarch64"
) -> dict[str, Any]:
    """Every ordered pair of ``profiles`` (all of ``target``: :func:`one_per_host`):
    migratable or not and the first blocker.  ``config``: ``passthrough`` (one migration per
    pair, :func:`passthrough_config`) or ``planned`` (a plan each).  ``progress(done, total)``
    is called after each pair.  The target's :data:`MATRIX_TARGETS` note, if any, is the
    result's ``notes`` (what a migratable cell does not prove).  ValueError for a target with
    no row or a profile of another target."""
    row = _matrix_row(target)
    for p in profiles:
        if p.build.target != target:
            raise ValueError("profile %s runs target %s, not %s" % (p.name, p.build.target, target))
    cells: list[dict[str, Any]] = []
    total = len(profiles) * (len(profiles) - 1)
    for a in profiles:
        for b in profiles:
            if a is b:
                continue
            if progress is not None:
                progress(len(cells), total)
            cell: dict[str, Any] = {"source": a.name, "destination": b.name}
            if config == "planned":
                p = plan(a, b)
                cell["migratable"] = p["migratable"]
                cell["first-blocker"] = p["blockers"][0] if p["blockers"] else None
                cell["qemu-args"] = (p["configuration"] or {}).get("qemu-args")
            else:
                cfg, why = _passthrough(a, b)
                if cfg is None or (cfg["accel"] == "tcg") != (not _kvm_ok(a) and not _kvm_ok(b)):
                    cell["migratable"] = False
                    cell["first-blocker"] = why if cfg is None else "a KVM and a TCG host"
                else:
                    t = Trial(a, b, cfg, "%s -> %s" % (a.name, b.name))
                    cell["migratable"] = t.result == "completed"
                    cell["first-blocker"] = None if cell["migratable"] else (t.reasons or [t.result])[0]
                    cell["qemu-args"] = _fmt_cfg(cfg)
            cells.append(cell)
    out: dict[str, Any] = {
        "config": config,
        "profiles": [
            {"name": p.name, "host": p.host.name, "summary": p.summary or p.host.data.get("summary", "")}
            for p in profiles
        ],
        "cells": cells,
    }
    note = row.passthrough_note if config == "passthrough" else None
    if note:
        out["notes"] = [note]
    return out
