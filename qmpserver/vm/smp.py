"""``-smp``: the CPU topology, one owner (QEMU 7.2 ``hw/core/machine-smp.c``).

:func:`parse_smp` is ``machine_parse_smp_config``: it validates the options
(strings from a command line or integers from an API) and completes the
topology — missing values default to 1 except that, since QEMU 6.2, cores are
preferred over sockets when ``cpus``/``maxcpus`` leave a gap; ``maxcpus``
defaults to ``cpus``.  The start-up pipeline stores the complete result in
``MachineState.smp``; ``query-cpus-fast``, ``qom-get /machine smp`` and the
board's vCPU limit read it from there (:func:`qom_value` adds the members of
newer QEMU versions, which the build's schema then filters).
"""

from __future__ import annotations

from ..errors import QMPError

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any, Callable

SMP_KEYS = ("cpus", "sockets", "dies", "clusters", "cores", "threads", "maxcpus")
ONE = {"cpus": 1, "sockets": 1, "dies": 1, "clusters": 1, "cores": 1, "threads": 1, "maxcpus": 1}


def _smp_props(machine_name: str) -> tuple[bool, bool]:
    """(dies supported, clusters supported) per machine family (QEMU 7.2)."""
    if machine_name.startswith("virt"):
        return False, True
    if machine_name.startswith(("pc", "q35")):
        return True, False
    return False, False


def parse_smp(
    minfo: dict[str, Any], smp: dict[str, Any], warn: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """``machine_parse_smp_config``: strings or ints in, the complete topology out.

    Raises QMPError with QEMU's text.  ``minfo`` is the machine's
    ``query-machines`` entry (``name``, ``cpu-max``)."""
    vals = {}
    if not smp:
        return dict(ONE)
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
        warn(
            "Deprecated CPU topology (considered invalid): CPU topology parameters must be greater than zero"
        )
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
        if cores == 0:  # prefer cores over sockets since 6.2
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

    def hierarchy() -> str:
        s = "sockets (%d)" % sockets
        if dies_ok:
            s += " * dies (%d)" % dies
        if clusters_ok:
            s += " * clusters (%d)" % clusters
        return s + " * cores (%d) * threads (%d)" % (cores, threads)

    if sockets * dies * clusters * cores * threads != maxcpus:
        raise QMPError(
            "Invalid CPU topology: product of the hierarchy must match maxcpus: "
            "%s != maxcpus (%d)" % (hierarchy(), maxcpus)
        )
    if maxcpus < cpus:
        raise QMPError(
            "Invalid CPU topology: maxcpus must be equal to or greater than smp: "
            "%s == maxcpus (%d) < smp_cpus (%d)" % (hierarchy(), maxcpus, cpus)
        )
    mn = 1
    if cpus < mn:
        raise QMPError("Invalid SMP CPUs %d. The min CPUs supported by machine '%s' is %d" % (cpus, name, mn))
    mx = minfo.get("cpu-max")
    if mx is not None and maxcpus > mx:
        raise QMPError(
            "Invalid SMP CPUs %d. The max CPUs supported by machine '%s' is %d" % (maxcpus, name, mx)
        )
    return {
        "cpus": cpus,
        "sockets": sockets,
        "dies": dies,
        "clusters": clusters,
        "cores": cores,
        "threads": threads,
        "maxcpus": maxcpus,
    }


def is_complete(smp: dict[str, Any]) -> bool:
    """True for a topology :func:`parse_smp` produced (every member an int)."""
    return all(type(smp.get(k)) is int for k in SMP_KEYS)


def qom_value(smp: dict[str, Any]) -> dict[str, Any]:
    """``SMPConfiguration`` as ``qom-get /machine smp`` reports it (every member
    any QEMU version has; the build's schema keeps those it knows)."""
    out = {"cpus": smp["cpus"]}
    for k in ("drawers", "books", "sockets", "dies", "clusters", "modules", "cores", "threads"):
        out[k] = smp.get(k, 1)
    out["maxcpus"] = smp["maxcpus"]
    return out
