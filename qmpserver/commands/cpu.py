"""CPU model commands for aarch64: query-cpu-definitions,
query-cpu-model-expansion, query-cpu-model-baseline/-comparison (proposal
``cpu-idreg-props``), the ``-cpu`` start-up checks, the CPU QOM objects.

QEMU's semantics live in :mod:`qmpserver.arch.arm64.cpu`; this module only
binds them to QMP, start-up and QOM.  Builds of other targets answer from
their recordings (or the return type's default), as for unmodelled commands.
"""

from __future__ import annotations

from ..errors import QMPError
from ..wire.encode import RawJSON, dumps
from .registry import command


def _arm(inst) -> bool:
    return inst.build.target == "aarch64"


def _unmodelled(inst, name, args):
    cmd = inst.build.schema.command(name)
    return inst.command_table.unmodelled(cmd, args)


def _catalog(inst):
    cat = inst.state.get("arm-cpu")
    if cat is None:
        from ..arch.arm64.cpu import catalog_for
        cat = catalog_for(inst)
    return cat


@command("query-cpu-definitions")
def query_cpu_definitions(ctx, args):
    inst = ctx.instance
    if not _arm(inst):
        return _unmodelled(inst, "query-cpu-definitions", args)
    cat = _catalog(inst)
    raw = cat._default_cache.get(" defs")
    if raw is None:
        raw = cat._default_cache[" defs"] = RawJSON(dumps(cat.definitions))
    return raw


@command("query-cpu-model-expansion")
def query_cpu_model_expansion(ctx, args):
    inst = ctx.instance
    if not _arm(inst):
        return _unmodelled(inst, "query-cpu-model-expansion", args)
    if args["type"] != "full":
        raise QMPError("The requested expansion type is not supported")
    model = args["model"]
    name = model["name"]
    cat = _catalog(inst)
    if "props" not in model:
        raw = cat._default_cache.get(("raw", name))   # only names that passed the checks
        if raw is not None:
            return raw
    from ..arch.arm64.cpu import CpuError
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
    props = cat.expand(name, model["props"])
    if props:
        return {"model": {"name": name, "props": props}}
    return {"model": {"name": name}}


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
    from ..arch.arm64 import baseline
    return getattr(baseline, op)(_catalog(inst), args["modela"], args["modelb"])


@command("query-cpu-model-comparison")
def query_cpu_model_comparison(ctx, args):
    return _model_pair(ctx, args, "query-cpu-model-comparison", "comparison", "qmp_compare")


@command("query-cpu-model-baseline")
def query_cpu_model_baseline(ctx, args):
    return _model_pair(ctx, args, "query-cpu-model-baseline", "baseline", "qmp_baseline")


# --------------------------------------------------------------------------
# start-up: -cpu MODEL,key=value,...

def resolve_cpu(instance, machine_state):
    """machine_resolvers hook: QEMU's -cpu checks, in QEMU's order."""
    if not _arm(instance):
        return
    from ..arch.arm64.startup import validate
    validate(instance, machine_state)


# --------------------------------------------------------------------------
# QOM: CPU objects and type property lists

def build_qom(instance, tree):
    if not _arm(instance):
        return
    from ..arch.arm64.startup import add_cpu_objects
    add_cpu_objects(instance, tree)


def property_overlay(instance, typename, props):
    if not _arm(instance) or not typename.endswith("-arm-cpu"):
        return props
    from ..arch.arm64.startup import qom_type_properties
    return qom_type_properties(instance, typename, props)


def _register():
    from ..vm import hooks, qom
    from . import qom as qom_cmds
    if resolve_cpu not in hooks.machine_resolvers:
        hooks.machine_resolvers.append(resolve_cpu)
    if build_qom not in qom.BUILDERS:
        qom.BUILDERS.append(build_qom)
    if property_overlay not in qom_cmds.PROPERTY_OVERLAYS:
        qom_cmds.PROPERTY_OVERLAYS.append(property_overlay)


_register()
