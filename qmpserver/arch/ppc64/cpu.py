"""``-cpu`` lookup of ``qemu-system-ppc64`` (QEMU 7.2 ``target/ppc/cpu_init.c``,
``ppc_cpu_class_by_name``), from measured data (``models/ppc64/cpu-lookup-7.2.yaml``, precompiled with
the profile by :mod:`.derive`, written by ``tools/capture_ppc64_spapr.py --cpus``).

QEMU's rule, in its order:

1. a name that ``strtoul(name, base 16)`` reads whole and that has 8 hex digits (after an
   optional ``0x``) is a PVR: the CPU type with exactly that PVR (several types may share
   one: the data records which one QEMU picks), none -> not found;
2. ``max`` (exactly) is the machine's default CPU type (``query-machines``
   ``default-cpu-type``; ``-machine none`` has none);
3. otherwise the name is lower-cased, an alias (a ``query-cpu-definitions`` entry whose
   ``typename`` is another model's) replaced by its model, and ``<model>-powerpc64-cpu``
   must be a type: ``unable to find CPU model 'X'`` otherwise (vl.c ``parse_cpu_option``).

``host`` exists only with KVM (``kvm_ppc_register_host_cpu_type``): under TCG it is not found.
Under KVM it is the class of the host's PVR (a ppc64 host file's ``cpu.model``), and the same
function makes it the pseries machines' default CPU, so ``max`` and no ``-cpu`` are ``host`` too.
"""

from __future__ import annotations

import re

from ...errors import StartupError
from ...log import get as get_logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["lookup", "resolve", "apply_globals"]

SUFFIX = "-powerpc64-cpu"
log = get_logger("qmpserver.cpu")
# what strtoul(base 16) reads whole
_HEX = re.compile(r"^\s*[+-]?(?:0[xX])?[0-9a-fA-F]+$")


def _data(build: Any) -> dict[str, Any] | None:
    """The build's lookup data (precompiled with the profile by :mod:`.derive`)."""
    got: dict[str, Any] | None = (getattr(build, "derived", None) or {}).get("ppc_cpu")
    return got


def _machine_default(build: Any, machine: str) -> str | None:
    for m in build.machines():
        if m.get("name") == machine:
            t = m.get("default-cpu-type")
            return t[: -len(SUFFIX)] if t and t.endswith(SUFFIX) else None
    return None


def _types(build: Any, accel: str, aliases: dict[str, str]) -> set[str]:
    """The CPU models of the build: ``query-cpu-definitions`` names that are no alias (7.2
    answers a model's own entry with an empty ``typename``) and the aliases' models."""
    defs = build.recorded_return("query-cpu-definitions", {}, accel) or ()
    return {d["name"] for d in defs if d["name"] not in aliases} | set(aliases.values())


def lookup(build: Any, name: str, machine: str, accel: str) -> str | None:
    """The CPU model (type name without the suffix) QEMU creates for ``-cpu name``, or None."""
    d = _data(build)
    if d is None:
        return None
    if _HEX.match(name):
        n = len(name)
        if (n - 2 if n == 10 and name[1] == "x" else n) == 8:
            return (d.get("by-pvr") or {}).get("0x%08x" % (int(name, 16) & 0xFFFFFFFF))
    if name == "max":
        return _machine_default(build, machine)
    aliases = d.get("aliases") or {}
    low = name.lower()
    model = aliases.get(low, low)
    return model if model in _types(build, accel, aliases) else None


def _host_model(instance: Any) -> str | None:
    """``-cpu host`` under KVM (``kvm_ppc_register_host_cpu_type``): the class of the host's
    PVR, which a ppc64 host file names (``cpu.model``); None on any other host."""
    host = instance.host
    if getattr(host, "arch", None) != "ppc64":
        return None
    model: str | None = (host.data.get("cpu") or {}).get("model")
    return model


def resolve(instance: Any, ms: Any) -> str | None:
    """The model of the starting instance's CPU (None: ``-machine none`` without ``-cpu``),
    or StartupError with QEMU's text."""
    build = instance.build
    options = getattr(instance.config, "options", None) or ()
    raw = next(
        (
            e[1]
            for e in reversed(options)  # the last -cpu wins
            if isinstance(e, (tuple, list))
            and len(e) == 2
            and e[0] in ("-cpu", "cpu")
            and isinstance(e[1], str)
        ),
        None,
    )
    # the launcher fills in the machine's recorded (TCG) default CPU type when there is no -cpu
    if instance.config.cpu is None or (options and raw is None):
        if ms.type == "none":
            return None
        # kvm_ppc_register_host_cpu_type: under KVM the pseries default CPU is "host"
        return _host_model(instance) if ms.accel == "kvm" else _machine_default(build, ms.type)
    name = ms.cpu_model
    if name == "":
        raise StartupError("-cpu option cannot be empty")
    if _data(build) is None:
        return name  # no lookup data for this version: the name as given
    if ms.accel == "kvm" and (name == "max" or name.lower() == "host"):
        model = _host_model(instance)  # "max" is the machine's default CPU, "host" under KVM
    else:
        model = lookup(build, name, ms.type, ms.accel)
    if model is None:
        raise StartupError("unable to find CPU model '%s'" % name)
    # cpu_common_parse_features: every feature is key=value (no +feat / -feat on ppc)
    for feature in (raw or "").split(",")[1:]:
        if feature and "=" not in feature:
            raise StartupError("Expected key=value format, found %s." % feature)
    return model


def apply_globals(instance: Any, ms: Any, model: str) -> None:
    """The ``-cpu`` key=value pairs, applied as global properties when the CPU object is
    created (QEMU ``object_apply_global_props``), in order: a property the type does not
    have, or a bool that is no bool word, is ``can't apply global T.K=V: <setter error>``.
    The type's properties are the build's recorded ``qom-list-properties``; other value
    types are not checked (a log line says so)."""
    if not ms.cpu_props:
        return
    typename = model + SUFFIX
    props = instance.build.recorded_return("qom-list-properties", {"typename": typename})
    if props is None:
        log.warning("-cpu %s: the properties of %s were not recorded: not checked", model, typename)
        return
    types = {p["name"]: p.get("type") for p in props}
    from ...qapi.opts import parse_bool

    for key, value in ms.cpu_props.items():
        where = "can't apply global %s.%s=%s: " % (typename, key, value)
        if key not in types:
            raise StartupError(where + "Property '%s.%s' not found" % (typename, key))
        if types[key] == "bool":
            try:
                parse_bool(str(value), key)
            except ValueError as e:
                raise StartupError(where + str(e)) from None
        else:
            log.warning("-cpu %s,%s=%s: a %s property, not checked", model, key, value, types[key])
