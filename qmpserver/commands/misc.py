"""What libvirt asks of a running domain that no other topic owns.

* ``-smp`` topology (``hw/core/machine-smp.c`` of 7.2): :func:`parse_smp`
  validates and completes it, for the launcher and (as a machine resolver)
  for ``serve``/HTTP; ``query-cpus-fast`` reports one entry per vCPU with the
  ``virt`` topology properties;
* ``-boot`` (``BootConfiguration``): :func:`parse_boot`;
* memory: ``query-memory-size-summary``, ``query-balloon``;
* ``query-vnc`` from ``-display vnc=``/``-vnc``.

Handlers register only when no topic module loaded earlier owns the command.
"""

from __future__ import annotations

from ..errors import DEVICE_NOT_ACTIVE, QMPError
from .registry import HANDLERS, command


def _cmd(name):
    def deco(fn):
        if name not in HANDLERS:
            command(name)(fn)
        return fn
    return deco


# --- -smp ------------------------------------------------------------------------------------

SMP_KEYS = ("cpus", "sockets", "dies", "clusters", "cores", "threads", "maxcpus")


def _smp_props(machine_name: str):
    """(dies supported, clusters supported) per machine family (QEMU 7.2)."""
    if machine_name.startswith("virt"):
        return False, True
    if machine_name.startswith(("pc", "q35")):
        return True, False
    return False, False


def parse_smp(minfo: dict, smp: dict, warn=None) -> dict:
    """``machine_parse_smp_config``: strings or ints in, the complete topology out.

    Raises QMPError with QEMU's text.  ``minfo`` is the machine's
    ``query-machines`` entry (``name``, ``cpu-max``)."""
    vals = {}
    if not smp:
        return {"cpus": 1, "sockets": 1, "dies": 1, "clusters": 1, "cores": 1, "threads": 1,
                "maxcpus": 1}
    for k, v in smp.items():
        if k not in SMP_KEYS:
            raise QMPError("Parameter 'smp.%s' is unexpected" % k)
    for k in SMP_KEYS:
        if k not in smp:
            continue
        v = smp[k]
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise QMPError("Parameter 'smp.%s' expects integer" % k)
        if isinstance(v, str):
            try:
                v = int(v, 0) if v[:2].lower() == "0x" else int(v)
            except ValueError:
                raise QMPError("Parameter 'smp.%s' expects integer" % k) from None
        if v < 0:
            raise QMPError("Parameter 'smp.%s' expects uint64" % k)
        vals[k] = v
    name = minfo.get("name", "")
    dies_ok, clusters_ok = _smp_props(name)
    if any(vals.get(k) == 0 for k in vals) and warn is not None:
        warn("Deprecated CPU topology (considered invalid): CPU topology parameters must be "
             "greater than zero")
    cpus = vals.get("cpus", 0)
    sockets = vals.get("sockets", 0)
    dies = vals.get("dies", 0)
    clusters = vals.get("clusters", 0)
    cores = vals.get("cores", 0)
    threads = vals.get("threads", 0)
    maxcpus = vals.get("maxcpus", 0)
    if not dies_ok and dies > 1:
        raise QMPError("dies not supported by this machine's CPU topology")
    if not clusters_ok and clusters > 1:
        raise QMPError("clusters not supported by this machine's CPU topology")
    dies = dies or 1
    clusters = clusters or 1
    if cpus == 0 and maxcpus == 0:
        sockets = sockets or 1
        cores = cores or 1
        threads = threads or 1
    else:
        maxcpus = maxcpus or cpus
        if cores == 0:                       # prefer cores over sockets since 6.2
            sockets = sockets or 1
            threads = threads or 1
            cores = maxcpus // (sockets * dies * clusters * threads)
        elif sockets == 0:
            threads = threads or 1
            sockets = maxcpus // (dies * clusters * cores * threads)
        if threads == 0:
            threads = maxcpus // (sockets * dies * clusters * cores)
    maxcpus = maxcpus or sockets * dies * clusters * cores * threads
    cpus = cpus or maxcpus

    def hierarchy():
        s = "sockets (%d)" % sockets
        if dies_ok:
            s += " * dies (%d)" % dies
        if clusters_ok:
            s += " * clusters (%d)" % clusters
        return s + " * cores (%d) * threads (%d)" % (cores, threads)

    if sockets * dies * clusters * cores * threads != maxcpus:
        raise QMPError("Invalid CPU topology: product of the hierarchy must match maxcpus: "
                       "%s != maxcpus (%d)" % (hierarchy(), maxcpus))
    if maxcpus < cpus:
        raise QMPError("Invalid CPU topology: maxcpus must be equal to or greater than smp: "
                       "%s == maxcpus (%d) < smp_cpus (%d)" % (hierarchy(), maxcpus, cpus))
    mn = 1
    if cpus < mn:
        raise QMPError("Invalid SMP CPUs %d. The min CPUs supported by machine '%s' is %d"
                       % (cpus, name, mn))
    mx = minfo.get("cpu-max")
    if mx is not None and maxcpus > mx:
        raise QMPError("Invalid SMP CPUs %d. The max CPUs supported by machine '%s' is %d"
                       % (maxcpus, name, mx))
    return {"cpus": cpus, "sockets": sockets, "dies": dies, "clusters": clusters, "cores": cores,
            "threads": threads, "maxcpus": maxcpus}


def _resolve_smp(instance, ms):
    """Machine resolver: complete ``-smp`` for instances not started by the launcher."""
    smp = getattr(ms, "smp", None)
    if not smp or all(isinstance(v, int) for v in smp.values()) and "maxcpus" in smp:
        return
    from ..errors import StartupError
    minfo = next((m for m in instance.build.machines() if m["name"] == ms.type), {"name": ms.type})
    smp = {k: v for k, v in smp.items() if k != ""}
    try:
        ms.smp = parse_smp(minfo, smp, warn=instance.config.warnings.append)
    except QMPError as e:
        raise StartupError(e.desc) from None


# --- -boot ------------------------------------------------------------------------------------

_BOOT = (("order", "str"), ("once", "str"), ("menu", "bool"), ("splash", "str"),
         ("splash-time", "int"), ("reboot-timeout", "int"), ("strict", "bool"))


def parse_boot(boot: dict) -> dict:
    """``BootConfiguration`` through the keyval visitor."""
    out = {}
    names = [n for n, _ in _BOOT]
    for name, typ in _BOOT:
        if name not in boot:
            continue
        v = boot[name]
        if isinstance(v, dict):
            raise QMPError("Invalid parameter type for 'boot.%s', expected: scalar" % name)
        if typ == "bool":
            if v in ("on", "yes", "true", "y"):
                v = True
            elif v in ("off", "no", "false", "n"):
                v = False
            else:
                raise QMPError("Parameter 'boot.%s' expects 'on' or 'off'" % name)
        elif typ == "int":
            try:
                v = int(v, 0)
            except ValueError:
                raise QMPError("Parameter 'boot.%s' expects integer" % name) from None
        out[name] = v
    for k in boot:
        if k not in names:
            raise QMPError("Parameter 'boot.%s' is unexpected" % k)
    return out


# --- vCPUs ------------------------------------------------------------------------------------

def _smp(inst):
    smp = getattr(inst.machine, "smp", None) or {}
    if "maxcpus" not in smp:
        try:
            smp = parse_smp({"name": inst.machine.type}, smp)
        except QMPError:
            smp = {"cpus": 1, "sockets": 1, "dies": 1, "clusters": 1, "cores": 1, "threads": 1,
                   "maxcpus": 1}
    return smp


@_cmd("query-cpus-fast")
def query_cpus_fast(ctx, args):
    inst = ctx.instance
    if inst.machine.type == "none":
        return []
    smp = _smp(inst)
    threads, cores, clusters = smp["threads"], smp["cores"], smp["clusters"]
    from .devices import _thread_id
    out = []
    virt = inst.machine.type.startswith("virt")
    for i in range(smp["cpus"]):
        # CpuInstanceProperties members in QAPI order
        props = {}
        if not virt:
            props["node-id"] = 0
        props["socket-id"] = i // (threads * cores * clusters)
        if virt:
            props["cluster-id"] = (i // (threads * cores)) % clusters
        props["core-id"] = (i // threads) % cores
        props["thread-id"] = i % threads
        # CpuInfoFast members in QAPI order
        out.append({"cpu-index": i, "qom-path": "/machine/unattached/device[%d]" % i,
                    "thread-id": _thread_id(inst, "vcpu:%d" % i), "props": props,
                    "target": inst.build.target})
    return out


# --- memory -----------------------------------------------------------------------------------

@_cmd("query-memory-size-summary")
def query_memory_size_summary(ctx, args):
    inst = ctx.instance
    mem = (inst.state.get("memory") or {}).get("size") or inst.config.memory or (128 << 20)
    return {"base-memory": mem, "plugged-memory": 0}


@_cmd("query-balloon")
def query_balloon(ctx, args):
    inst = ctx.instance
    for d in inst.state.get("devices") or ():
        if d["driver"].startswith("virtio-balloon"):
            mem = (inst.state.get("memory") or {}).get("size") or inst.config.memory or (128 << 20)
            return {"actual": mem}
    raise QMPError("No balloon device has been activated", DEVICE_NOT_ACTIVE)


@_cmd("balloon")
def balloon(ctx, args):
    inst = ctx.instance
    for d in inst.state.get("devices") or ():
        if d["driver"].startswith("virtio-balloon"):
            if args["value"] <= 0:
                raise QMPError("Parameter 'target' expects a size")
            return
    raise QMPError("No balloon device has been activated", DEVICE_NOT_ACTIVE)


@_cmd("query-vnc")
def query_vnc(ctx, args):
    inst = ctx.instance
    d = inst.state.get("display") or {}
    if d.get("type") != "vnc":
        return {"enabled": False}
    spec = str(d.get("vnc", ""))
    host, _, disp = spec.partition(":")
    try:
        port = 5900 + int(disp.split(",")[0])
    except ValueError:
        port = 5900
    # VncInfo members in QAPI order
    return {"enabled": True, "host": host or "0.0.0.0", "family": "ipv4", "service": str(port),
            "auth": "none", "clients": []}


def _register():
    from ..vm import hooks
    if _resolve_smp not in hooks.machine_resolvers:
        hooks.machine_resolvers.insert(0, _resolve_smp)


_register()
