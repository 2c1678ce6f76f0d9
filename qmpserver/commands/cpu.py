"""CPU model commands for aarch64: query-cpu-definitions,
query-cpu-model-expansion, query-cpu-model-baseline/-comparison (proposal
``cpu-idreg-props``).

QEMU's semantics live in :mod:`qmpserver.arch.arm64.cpu`; this module only
binds them to QMP (the ``-cpu`` start-up checks are
:mod:`qmpserver.arch.arm64.startup`'s, called by the start-up pipeline).  Builds of other targets answer from
the module :mod:`qmpserver.arch.targets` names (x86_64), else from their
recordings, else an error naming what is missing (never an invented default).
"""

from __future__ import annotations

from ..arch import targets
from ..arch.arm64.cpu import CpuError, catalog_for
from ..errors import QMPError
from ..wire.encode import RawJSON, dumps
from .registry import command


def _arm(inst) -> bool:
    return inst.build.target == "aarch64"


def _unmodelled(inst, name, args):
    """Not an aarch64 build: the target's module (:mod:`qmpserver.arch.targets`), else the
    recording for these arguments, else a visible error."""
    handler = targets.cpu_model_handler(inst.build.target, name)
    if handler is not None:
        return handler(inst, args)
    return targets.recorded_or_missing(inst, name, args)


def _catalog(inst):
    return inst.cpu.catalog or catalog_for(inst)


def _recorded_expansion_applies(ctx, args) -> bool:
    """Whether the build's recorded expansion of this model answers this instance too: not
    when a proposal adds properties the recording cannot have (``cpu-idreg-props``), nor
    when ``-cpu`` names this model with properties (its globals apply to the new object,
    QEMU qom/object.c object_apply_global_props), nor x86 ``host``/``max`` on a host profile
    with its own CPUID data (``x86_cpuid``: the capture's host is another machine).  Checked by the command table
    (:func:`qmpserver.qmp.dispatch._answering`) before the handler runs."""
    inst = ctx.instance
    if inst.build.has_proposal("cpu-idreg-props"):
        return False
    if inst.build.target == "x86_64" and args["model"]["name"] in ("host", "max"):
        from ..arch.x86_64 import hostcpu

        if hostcpu.for_host(inst.host) is not None:  # another host than the capture's
            return False
    m = inst.machine
    if inst.build.target == "x86_64":
        from ..arch.x86_64 import startup as x86

        if x86.expansion_depends_on_instance(inst, args["model"]["name"]):
            return False  # x86: -cpu's +feat/-feat, or host on a machine without 'on' irqchip
    return not (m.cpu_props and m.cpu_model == args["model"]["name"])


def _recorded_definitions_apply(ctx, args) -> bool:
    """The recorded list answers unless the ``arm-cpu-models`` proposal adds the named KVM
    models to it (docs/proposals/arm-named-models.md), or an x86 host profile has its own
    CPUID data (``x86_cpuid``: its ``unavailable-features`` are computed)."""
    inst = ctx.instance
    if inst.build.target == "x86_64" and inst.machine.accel == "kvm":
        from ..arch.x86_64 import hostcpu

        if hostcpu.for_host(inst.host) is not None:  # computed for the profile's own host
            return False
    return not (inst.build.has_proposal("arm-cpu-models") and inst.machine.accel == "kvm")


# The build's recorded answer wins for these arguments and this accelerator (replay=...); the
# model answers what the build did not record.
@command("query-cpu-definitions", replay=_recorded_definitions_apply)
def query_cpu_definitions(ctx, args):
    inst = ctx.instance
    if not _arm(inst):
        return _unmodelled(inst, "query-cpu-definitions", args)
    cat = _catalog(inst)
    raw = cat._default_cache.get(" defs")
    if raw is None:
        defs = cat.definitions
        if cat.named_tables is not None:  # proposal arm-cpu-models (KVM)
            from ..arch.arm64 import named

            # upstream's entries as the build recorded them (byte for byte), then the models
            rec = inst.build.recorded_return("query-cpu-definitions", None, inst.machine.accel, default=None)
            defs = named.definitions(cat, rec if isinstance(rec, list) else defs)
        raw = cat._default_cache[" defs"] = RawJSON(dumps(defs))
    return raw


@command("query-cpu-model-expansion", pure=True, replay=_recorded_expansion_applies)
def query_cpu_model_expansion(ctx, args):
    inst = ctx.instance
    if not _arm(inst):
        return _unmodelled(inst, "query-cpu-model-expansion", args)
    model = args["model"]
    name = model["name"]
    cat = _catalog(inst)
    if args["type"] != "full":
        if args["type"] == "static" and cat.named_tables is not None:  # proposal arm-cpu-models
            from ..arch.arm64 import named

            try:
                cat.check_model(name)
            except CpuError as e:
                raise QMPError(e.message) from None
            return named.static_expansion(cat, name, model.get("props"))
        raise QMPError("The requested expansion type is not supported")
    if "props" not in model:
        raw = cat._default_cache.get(("raw", name))  # only names that passed the checks
        if raw is not None:
            return raw
    try:
        cat.check_model(name)
        if "props" not in model:
            raw = cat._default_cache.get(("raw", name))
            if raw is None:
                props = cat.expand_default(name)
                m = {"name": name, "props": props} if props else {"name": name}
                raw = cat._default_cache[("raw", name)] = RawJSON(dumps({"model": m}))
            return raw
    except CpuError as e:
        raise QMPError(e.message) from None
    props = model["props"]
    if cat.sysreg_accepted(name, props):  # e.g. a model computed for two hosts, given back
        fmt, keys, base = _sysreg_template(cat, name)
        values = dict(base)
        values.update(props)
        c = cat.cls(name)
        if c.features:  # named features (proposal arm-cpu-models) follow their fields
            from ..arch.arm64.named import feature_props

            full = dict(cat.expand_default(name))
            full.update(props)
            for k, v in feature_props(c, full).items():
                values[k] = "true" if v else "false"
        return RawJSON(fmt % tuple(map(values.__getitem__, keys)))
    props = cat.expand(name, props)
    if props:
        return {"model": {"name": name, "props": props}}
    return {"model": {"name": name}}


def _sysreg_template(cat, name):
    """The encoded no-props expansion of ``name`` with a ``%s`` in place of each
    SYSREG_* value and named feature: (format, those props in text order, their
    default values as text).
    Built once per catalogue and model from the reply the slow path encodes (each
    value replaced by a unique 41-digit marker, so the member order is the same
    QDict order); a request whose SYSREG_* values KVM all accepts is then one
    ``%`` format instead of an expansion and a JSON encoding."""
    t = cat._default_cache.get(("sysreg-template", name))
    if t is None:
        props = dict(cat.expand_default(name))
        c = cat.cls(name)
        base = {k: props[k] for k in c.sysreg}
        base.update((k, "true" if props[k] else "false") for k in c.features)
        mark = {k: str(10**40 + i) for i, k in enumerate(base)}
        for k in base:
            props[k] = int(mark[k])
        text = dumps({"model": {"name": name, "props": props}}).replace("%", "%%")
        keys = tuple(sorted(base, key=lambda k: text.index(mark[k])))
        for k in keys:
            text = text.replace(mark[k], "%s", 1)
        t = cat._default_cache[("sysreg-template", name)] = (text, keys, base)
    return t


def _not_supported(inst, what):
    # stubs/monitor-cpu-s390x.c (10.1+); before 10.1 the schema has no such command
    raise QMPError("CPU model %s is not supported on this target" % what)


def _model_pair(ctx, args, command, what, op):
    """Comparison and baseline: modelled for Arm with the proposal, else upstream's answer."""
    inst = ctx.instance
    if not _arm(inst):
        return _unmodelled(inst, command, args)
    if not inst.build.has_proposal("cpu-idreg-props"):
        _not_supported(inst, what)
    # lazy: the baseline/comparison rules are off the launcher's start-up path
    from ..arch.arm64 import baseline

    return getattr(baseline, op)(_catalog(inst), args["modela"], args["modelb"])


@command("query-cpu-model-comparison", pure=True)
def query_cpu_model_comparison(ctx, args):
    return _model_pair(ctx, args, "query-cpu-model-comparison", "comparison", "qmp_compare")


@command("query-cpu-model-baseline", pure=True)
def query_cpu_model_baseline(ctx, args):
    return _model_pair(ctx, args, "query-cpu-model-baseline", "baseline", "qmp_baseline")


@command("query-arm-cpu-writable-id-regs")
def query_arm_cpu_writable_id_regs(ctx, args):
    """Proposal query-arm-cpu-writable-id-regs (docs/proposals/arm-named-models.md)."""
    from ..arch.arm64 import named

    inst = ctx.instance
    if inst.machine.accel != "kvm":
        raise QMPError("KVM is not enabled: the writable ID registers are a KVM property")
    return named.writable_id_regs(inst.host, inst.build)
