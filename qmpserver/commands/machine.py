"""Machine commands: machine types, GIC and MTE capabilities, vCPUs, memory.

* ``query-machines`` and ``query-command-line-options`` come from the
  build's recordings; with the ``mte-version`` proposal the ``machine``
  option lists ``mte-version`` next to ``mte``;
* ``query-gic-capabilities`` is computed from the host profile
  (:mod:`qmpserver.arch.arm64.gic`), ``query-mte-capabilities`` (proposal
  ``query-mte-capabilities``; without it the command is not in the schema,
  CommandNotFound) from host and build (:mod:`qmpserver.arch.arm64.mte`);
* ``query-hotpluggable-cpus``, ``query-cpus-fast``, ``query-current-machine``,
  ``query-memory-size-summary`` describe the running machine.

Every value is held to the build's schema by the command table
(:mod:`qmpserver.qapi.conform`): members the build's types lack are dropped there.

For ``device_add`` of memory devices, :func:`memory_hotplug_allowed` /
:func:`check_memory_hotplug` give the ``virt`` pre-plug verdict.
"""

from __future__ import annotations

from ..errors import QMPError
from ..vm import virt
from ..vm.virt import check_memory_hotplug, memory_hotplug_allowed, memory_hotplug_error  # noqa: F401
from .registry import command

# --- machine types and options --------------------------------------------------------------


@command("query-machines")
def query_machines(ctx, args):
    inst = ctx.instance
    rec = inst.build.recorded("query-machines", args or None, inst.accel)
    if rec is None and args:
        rec = inst.build.recorded("query-machines", None, inst.accel)
    if rec is None and inst.build.target == "ppc64" and inst.accel == "kvm":
        from ..arch.ppc64 import qmp as ppc_qmp  # a POWER host's KVM pass: derived from TCG's

        derived = ppc_qmp.kvm_machines(inst)
        if derived is not None:
            return derived
    if rec is None:
        # neither recorded nor derived (a hand-written or partly imported build): the command
        # table's answer for what no model answers (logged and counted, an error when strict),
        # never a silent empty list, which a client would take for "no machine types"
        table = getattr(ctx.session, "table", None) or inst.table_factory(inst)
        return table.unmodelled(inst.build.schema.commands["query-machines"], args)
    if "error" in rec:
        raise QMPError(rec["error"].get("desc", ""), rec["error"].get("class", "GenericError"))
    return rec["return"]


def _mte_option_param():
    from ..arch.arm64 import mte

    # CommandLineParameterInfo members in QAPI order: name, type, help
    return {"name": "mte-version", "type": "string", "help": mte.DESCRIPTION}


@command("query-command-line-options")
def query_command_line_options(ctx, args):
    inst = ctx.instance
    build = inst.build
    option = args.get("option")
    rec = build.recorded("query-command-line-options", args or None, inst.accel)
    if rec is not None and "error" in rec:
        raise QMPError(rec["error"].get("desc", ""), rec["error"].get("class", "GenericError"))
    if rec is not None:
        result = rec["return"]
    else:
        full = build.recorded_return("query-command-line-options", None, inst.accel, default=[]) or []
        if option is None:
            result = full
        else:
            result = [o for o in full if o.get("option") == option]
            if not result:
                raise QMPError("invalid option name: %s" % option)
    if not build.has_proposal("mte-version"):
        return result
    out = []
    for entry in result:
        if entry.get("option") == "machine":
            params = list(entry.get("parameters") or ())
            names = [p.get("name") for p in params]
            if "mte-version" not in names:
                at = names.index("mte") + 1 if "mte" in names else 0
                params.insert(at, _mte_option_param())
            entry = dict(entry)
            entry["parameters"] = params
        out.append(entry)
    return out


# --- GIC and MTE ----------------------------------------------------------------------------


@command("query-gic-capabilities")
def query_gic_capabilities(ctx, args):
    from ..arch.arm64 import gic

    inst = ctx.instance
    return gic.capabilities(inst.host, inst.accel)


@command("query-mte-capabilities")
def query_mte_capabilities(ctx, args):
    from ..arch.arm64 import mte

    inst = ctx.instance
    return mte.capabilities(inst.host, inst.build)


# --- vCPUs ----------------------------------------------------------------------------------


def _machine_info(inst):
    return next((m for m in inst.build.machines() if m.get("name") == inst.machine.type), {})


def _board_cpus(inst):
    """The instance's board vCPU model (:class:`qmpserver.arch.targets.BoardCPUs`), or None
    (the target's ``board`` part: x86 pc/q35, ppc64 pseries)."""
    from ..arch import targets

    fn = targets.part(inst.build.target, "board", "board_cpus")
    return fn(inst) if fn is not None else None


@command("query-hotpluggable-cpus")
def query_hotpluggable_cpus(ctx, args):
    inst = ctx.instance
    if not _machine_info(inst).get("hotpluggable-cpus", False):
        if "hotpluggable-cpus-feature-disabled" in inst.build.quirks:
            raise QMPError("The feature 'query-hotpluggable-cpus' is not enabled")
        raise QMPError("machine does not support hot-plugging CPUs")
    board = _board_cpus(inst)
    if board is not None:
        return board.hotpluggable()
    rec = inst.build.recorded("query-hotpluggable-cpus", None, inst.accel)
    return rec.get("return", []) if rec else []


# CpuInfoArch of a target (QEMU before 6.0: CpuInfoFast's required ``arch``, the union's tag;
# sysemu_target_to_cpuinfo_arch() in cpus.c of QEMU v5.2.0); every other target is "other".
# 6.0 removed the member (``target`` became the tag); the build's schema drops it there.
CPUINFO_ARCH = {
    "i386": "x86",
    "x86_64": "x86",
    "sparc": "sparc",
    "sparc64": "sparc",
    "ppc": "ppc",
    "ppc64": "ppc",
    "mips": "mips",
    "mipsel": "mips",
    "mips64": "mips",
    "mips64el": "mips",
    "tricore": "tricore",
    "s390x": "s390",
    "riscv32": "riscv",
    "riscv64": "riscv",
}


@command("query-cpus-fast")
def query_cpus_fast(ctx, args):
    inst = ctx.instance
    ms = inst.machine
    if ms.type == "none" and not ms.cpu_model:
        return []
    topo = inst.machine.smp
    threads, cores, clusters, dies = topo["threads"], topo["cores"], topo["clusters"], topo["dies"]
    is_virt = virt.is_virt(ms.type)
    model = ms.cpu_model or (virt.default_cpu(inst, ms) if is_virt else None)
    board = _board_cpus(inst)
    out = []
    for i in range(topo["cpus"]):
        # CpuInstanceProperties in QAPI order; virt reports socket/cluster/core/thread
        props = {}
        if board is not None:
            props = board.props(i)
        elif not is_virt:
            props["node-id"] = 0
        if board is None:
            props["socket-id"] = i // (threads * cores * clusters * dies)
            if is_virt:
                props["cluster-id"] = (i // (threads * cores)) % clusters
            props["core-id"] = (i // threads) % cores
            props["thread-id"] = i % threads
        # CpuInfoFast in QAPI order (qom-type only where the schema has it)
        entry = {"cpu-index": i}
        if model:
            entry["qom-type"] = model + "-arm-cpu" if inst.build.target in ("aarch64", "arm") else model
        entry["qom-path"] = board.qom_path(i) if board else "/machine/unattached/device[%d]" % i
        entry["thread-id"] = inst.threads.id_for("vcpu:%d" % i)
        entry["props"] = props
        entry["arch"] = CPUINFO_ARCH.get(inst.build.target, "other")
        entry["target"] = inst.build.target
        out.append(entry)
    return out


# --- the running machine -------------------------------------------------------------------


@command("query-current-machine")
def query_current_machine(ctx, args):
    inst = ctx.instance
    return {"wakeup-suspend-support": inst.machine.wakeup_suspend}


def _plugged_memory(inst) -> int:
    total = 0
    objs = inst.backends.objects
    for d in inst.backends.devices:
        driver = d.get("driver", "") if isinstance(d, dict) else ""
        if driver not in ("pc-dimm", "nvdimm", "virtio-mem-pci", "virtio-mem"):
            continue
        opts = d.get("options") or d.get("props") or d
        size = opts.get("size") or d.get("size")
        if size is None:
            be = objs.get(opts.get("memdev")) or {}
            size = be.get("size") if isinstance(be, dict) else None
        try:
            total += int(size or 0)
        except (TypeError, ValueError):
            pass
    return total


@command("query-memory-size-summary")
def query_memory_size_summary(ctx, args):
    inst = ctx.instance
    if inst.machine.type == "none":
        base = 0
    else:
        base = inst.memory.size
    # MemoryInfo in QAPI order
    return {"base-memory": base, "plugged-memory": _plugged_memory(inst)}


# --- PCI ------------------------------------------------------------------------------------


@command("query-pci")
def query_pci(ctx, args):
    """A modelled board's PCI buses (ppc64 pseries: :func:`qmpserver.arch.ppc64.board.query_pci`);
    any other board: the build's recording, else the command table's answer for a command no
    handler models."""
    inst = ctx.instance
    board = _board_cpus(inst)
    answer = getattr(board, "query_pci", None)
    if answer is not None:
        return answer()
    table = getattr(ctx.session, "table", None) or inst.table_factory(inst)
    return table.unmodelled(inst.build.schema.commands["query-pci"], args)
