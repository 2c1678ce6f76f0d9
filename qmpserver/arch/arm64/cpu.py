"""Arm CPU models as QEMU's ``target/arm`` builds them: properties, setters,
finalisation, ``query-cpu-model-expansion`` and the ``-cpu`` start-up checks.

A :class:`Catalog` is the set of CPU classes one QEMU process has (build,
host, accelerator, the ``-cpu`` globals, proposals); it is built once per
instance from the compiled tables (``Build.derived`` / ``Host.derived``, see
:mod:`.derive`).  A :class:`CpuObject` is one ``object_new()`` of a class:
setters and ``arm_cpu_finalize_features`` are reproduced with QEMU's rules and
texts (``target/arm/cpu64.c``, ``cpu.c``, ``kvm.c``; 7.2 and 11.x).

Errors are :class:`CpuError` (message plus the hint lines QEMU prints at
start-up but never sends over QMP).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CpuError", "Catalog", "CpuObject", "catalog_for", "SVE_NAMES", "POW2_MAP"]

ARM_MAX_VQ = 16
POW2_MAP = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 7) | (1 << 15)  # SVE_VQ_POW2_MAP
SVE_NAMES = tuple("sve%d" % (128 * vq) for vq in range(1, ARM_MAX_VQ + 1))
SVE_VQ = {n: i + 1 for i, n in enumerate(SVE_NAMES)}
SME_NAMES = tuple("sme%d" % (128 * vq) for vq in (1, 2, 4, 8, 16))
SME_VQ = {n: int(n[3:]) // 128 for n in SME_NAMES}
PAUTH_ALGOS = ("pauth-impdef", "pauth-qarma3", "pauth-qarma5")
KVM_PROPS = ("kvm-no-adjvtime", "kvm-steal-time")
U64 = (1 << 64) - 1
_INT_ONLY = {int}


class CpuError(Exception):
    """A CPU property or finalisation error: ``message`` (the QMP desc) and
    ``hints`` (extra lines printed on stderr at start-up only)."""

    def __init__(self, message: str, hints=()):
        super().__init__(message)
        self.message = message
        self.hints = list(hints)
        self.unavailable: list = []

    def startup_text(self) -> str:
        return "\n".join([self.message] + self.hints)


def _ctz32(x: int) -> int:
    if x == 0:
        return 32
    return (x & -x).bit_length() - 1


def _mask(n: int) -> int:
    return (1 << n) - 1 if n > 0 else 0


# --------------------------------------------------------------------------
# classes


class CpuClass:
    """What ``object_new("<name>-arm-cpu")`` gives in one process."""

    __slots__ = (
        "name",
        "typename",
        "kvm",
        "aarch64",
        "pmu",
        "sve_props",
        "sve_default",
        "sve_supported",
        "kvm_sve",
        "pauth_props",
        "pauth_default",
        "kvm_pauth",
        "kvm_pmu",
        "kvm_steal",
        "kvm_el1_32",
        "sme",
        "sve_max_vq_prop",
        "sysreg",
        "types",
        "advertised",
        "present",
        "host_probe_failed",
        "midr",
        "qom",
        "globals",
        "sysreg_host",
        "sysreg_fast",
        "sysreg_pairs",
        "named",
        "features",
        "field_values",
        "named_writable",
    )

    def __init__(self, name):
        self.name = name
        self.typename = name + "-arm-cpu"
        self.kvm = False
        self.aarch64 = False
        self.pmu = False
        self.sve_props = False
        self.sve_default = False
        self.sve_supported = 0
        self.kvm_sve = False
        self.pauth_props = ()
        self.pauth_default = False
        self.kvm_pauth = False
        self.kvm_pmu = False
        self.kvm_steal = False
        self.kvm_el1_32 = False
        self.sme = False
        self.sve_max_vq_prop = False
        self.sysreg = {}  # prop -> entry (derive._sysreg_props)
        self.types = {}  # every settable property -> QOM type
        self.advertised = ()  # advertised names that exist, in list order
        self.present = frozenset()
        self.host_probe_failed = False
        self.midr = None
        self.qom = None  # recorded qom-list-properties [(name, type)] or None
        self.globals = ()  # -cpu key=value pairs applying to this type
        self.sysreg_host = {}  # SYSREG prop -> host value, in property order
        self.sysreg_fast = {}  # SYSREG prop -> (accepted-values bitmap, 1 << width)
        self.sysreg_pairs = frozenset()  # (SYSREG prop, value) KVM accepts (see finish)
        self.named = None  # named.ModelDef of a named KVM model (proposal arm-cpu-models)
        self.features = ()  # its named feature properties (bool), table order
        self.field_values = {}  # SYSREG prop -> the host's value (every field; named models)
        self.named_writable = ()  # the host's writable-field entries (derive._sysreg_props)

    def finish(self, advertised_all, absent=frozenset()):
        # ``absent``: properties this QEMU version does not have yet under this accelerator
        # (models/arm64/cpu-props-by-version.yaml via derive.absent_props): not listed,
        # not settable ("Property ... not found"), whatever the model says
        if absent:
            self.pauth_props = tuple(n for n in self.pauth_props if n not in absent)
            self.sme = self.sme and "sme" not in absent
        types = dict(self.types)
        if self.aarch64:
            types["aarch64"] = "bool"
        if self.pmu:
            types["pmu"] = "bool"
        if self.sve_props:
            types["sve"] = "bool"
            for n in SVE_NAMES:
                types[n] = "bool"
        for n in self.pauth_props:
            types[n] = "bool"
        if self.kvm:
            for n in KVM_PROPS:
                types[n] = "bool"
        if self.sve_max_vq_prop:
            types["sve-max-vq"] = "uint32"
        if self.sme:
            types["sme"] = "bool"
            types["sme_fa64"] = "bool"
            for n in SME_NAMES:
                types[n] = "bool"
        for n in self.features:
            types[n] = "bool"
        for p in self.sysreg:
            types[p] = "uint64"
        for n in absent:
            types.pop(n, None)
        self.types = types
        self.advertised = tuple(n for n in advertised_all if n in types)
        self.present = frozenset(types)
        self.sysreg_host = {p: e["host"] for p, e in self.sysreg.items()}
        # policy-only fields (no enumerated bitmap) never take the fast path
        self.sysreg_fast = {
            p: (e["accept"] if e.get("accept") is not None else 0, 1 << e["width"])
            for p, e in self.sysreg.items()
        }
        # every (prop, value) the setter accepts without a word: the enumerated values of
        # each field, and the host value of a policy-only field (too wide to enumerate).
        # Empty (no whole-request fast path) when an advertised name is also a SYSREG_*
        # property: the advertised loop would take it first, as a bool.
        pairs = []
        fast_ok = self.named is None or self.named.kind == "host"  # host's features: recomputed
        if fast_ok and not any(n in self.sysreg for n in self.advertised):
            for p, e in self.sysreg.items():
                accept = e.get("accept")
                if accept is None:
                    if _policy_ok(e, e["host"]):
                        pairs.append((p, e["host"]))
                    continue
                v = 0
                while accept:
                    if accept & 1:
                        pairs.append((p, v))
                    accept >>= 1
                    v += 1
        self.sysreg_pairs = frozenset(pairs)


class Catalog:
    """The CPU classes of one QEMU process."""

    def __init__(self, build, host, accel: str, cpu_model=None, cpu_props=None, sysreg_props=False):
        bd = (getattr(build, "derived", None) or {}).get("arm_cpu")
        if not bd:
            from . import derive

            bd = derive.build_derived(build).get("arm_cpu") or {}
        self.bd = bd
        hd = (getattr(host, "derived", None) or {}).get("arm_cpu") or {}
        self.hd = hd
        self.kvm = accel == "kvm"
        self.accel = accel
        self.advertised_all = tuple(bd.get("advertised") or ())
        self.definitions = bd.get("definitions") or []
        self.names = {d["name"] for d in self.definitions}
        self.own_visitor = bool(bd.get("own_visitor"))
        self.unchecked = bool(bd.get("unchecked"))
        self.pauth_texts = bd.get("pauth_texts", "10.0")
        self.absent = frozenset((bd.get("absent_props") or {}).get("kvm" if self.kvm else "tcg") or ())
        self.sysreg_enabled = bool(sysreg_props and self.kvm and hd.get("sysreg"))
        self.cpu_model = cpu_model
        self.cpu_props = list((cpu_props or {}).items())
        self.named_tables = None  # proposal arm-cpu-models under KVM: named.Tables
        if self.kvm and getattr(build, "has_proposal", None) and build.has_proposal("arm-cpu-models"):
            from . import named

            self.named_tables = named.tables()
            self.names = self.names | set(self.named_tables.names)
        self._classes: dict = {}
        self._default_cache: dict = {}  # name -> encoded no-props expansion

    # ---- classes ----------------------------------------------------------

    def cls(self, name) -> CpuClass:
        c = self._classes.get(name)
        if c is None:
            c = self._classes[name] = self._make(name)
        return c

    def _make(self, name) -> CpuClass:
        c = CpuClass(name)
        c.kvm = self.kvm
        kf = self.hd.get("kvm") or {}
        facts = (self.bd.get("models") or {}).get(name)
        common = self.bd.get("common_props") or {}
        nt = self.named_tables
        named_def = nt.models[nt.names[name]] if nt is not None and name in nt.names else None
        if name == "host" or (name == "max" and self.kvm) or named_def is not None:
            if not self.kvm:
                # host under TCG: the probe failed, no AArch64 feature, no properties
                c.host_probe_failed = True
                c.qom = self.bd.get("host_qom")
            else:
                c.aarch64 = True
                c.pmu = bool(kf.get("pmu"))
                c.sve_props = True
                c.sve_default = bool(kf.get("sve"))
                c.kvm_sve = bool(kf.get("sve"))
                c.sve_supported = int(kf.get("sve_vls") or 0) if c.kvm_sve else 0
                c.pauth_props = ("pauth",)
                c.pauth_default = bool(kf.get("pauth"))
                c.kvm_pauth = bool(kf.get("pauth"))
                c.types.update(common.get("aarch64") or {})
                c.midr = kf.get("midr")
                if named_def is not None:
                    # the host vCPU with the model's fields written (named.py)
                    c.named = named_def
                    c.features = tuple(nt.field_props) if nt is not None else ()
                    c.field_values = self.hd.get("field_values") or {}
                    c.named_writable = self.hd.get("sysreg") or ()
                    c.sve_default = named_def.vcpu.get("sve", False)
                    c.pauth_default = named_def.vcpu.get("pauth", False)
                    if self.sysreg_enabled:
                        c.sysreg = {e["prop"]: e for e in self.hd.get("sysreg") or ()}
                elif name == "host":
                    c.qom = self.bd.get("host_qom")
                    if self.sysreg_enabled:
                        c.sysreg = {e["prop"]: e for e in self.hd.get("sysreg") or ()}
                    if nt is not None and self.hd.get("field_values"):
                        # the named features on host itself (-cpu host,sha3=off): the same
                        # rule as a named model, every field pinned at the host's value
                        from . import named

                        c.named = named.host_model(self.hd)
                        c.features = tuple(nt.field_props)
                        c.field_values = self.hd.get("field_values") or {}
                        c.named_writable = self.hd.get("sysreg") or ()
                else:
                    c.qom = ((self.bd.get("models") or {}).get("max") or {}).get("qom")
        else:
            facts = facts or {}
            c.aarch64 = bool(facts.get("aarch64"))
            c.pmu = bool(facts.get("pmu"))
            c.types.update(facts.get("settable") or {})
            c.qom = facts.get("qom")
            c.midr = facts.get("midr")
            if facts.get("sve") and c.aarch64:
                c.sve_props = True
                c.sve_default = True
                if self.kvm:
                    c.kvm_sve = bool(kf.get("sve"))
                    c.sve_supported = int(kf.get("sve_vls") or 0) if c.kvm_sve else 0
                    c.sve_default = c.kvm_sve
                else:
                    c.sve_supported = int(facts.get("sve_supported") or 0)
            if facts.get("pauth") and c.aarch64:
                if self.kvm:
                    c.pauth_props = ("pauth",)
                    c.pauth_default = bool(kf.get("pauth"))
                    c.kvm_pauth = bool(kf.get("pauth"))
                else:
                    c.pauth_props = ("pauth",) + tuple(n for n in PAUTH_ALGOS if n in self.advertised_all)
                    c.pauth_default = True
            if not self.kvm:
                c.sme = bool(facts.get("sme"))
                c.sve_max_vq_prop = bool(facts.get("sve_max_vq"))
            # settable lists (recorded) may name sve/sme/pauth props: keep them
            # only where the model really has them
            for n in list(c.types):
                if (
                    n in SVE_VQ
                    or n == "sve"
                    or n in ("sme", "sme_fa64")
                    or n in SME_VQ
                    or n.startswith("pauth")
                    or n == "sve-max-vq"
                    or n in ("aarch64", "pmu")
                    or n in KVM_PROPS
                    or n.startswith("SYSREG_")
                ):
                    del c.types[n]
        if self.kvm:
            c.kvm_pmu = bool(kf.get("pmu"))
            c.kvm_steal = bool(kf.get("steal_time"))
            c.kvm_el1_32 = bool(kf.get("el1_32bit"))
        c.finish(self.advertised_all, self.absent)
        if self.cpu_model == name and self.cpu_props:
            c.globals = tuple(self.cpu_props)
        return c

    def exists(self, name) -> bool:
        return name in self.names

    # ---- objects --------------------------------------------------------------

    def new(self, name) -> "CpuObject":
        """``object_new`` with the ``-cpu`` globals of that type applied."""
        c = self.cls(name)
        obj = CpuObject(c)
        for key, value in c.globals:
            obj.set_global(key, value)
        return obj

    # ---- expansion ------------------------------------------------------------

    def check_model(self, name: str):
        """Checks 2-4 of qmp_query_cpu_model_expansion (after the type)."""
        if not self.kvm and name == "host":
            raise CpuError("The CPU type '%s' requires KVM" % name)
        if name not in self.names:
            raise CpuError("The CPU type '%s' is not a recognized ARM CPU type" % name)
        if self.named_tables is not None and name in self.named_tables.names:
            return  # usable or not: the expansion says why (named.evaluate)
        if self.kvm and name not in ("host", "max") and name != self.cpu_model:
            raise CpuError("We cannot guarantee the CPU type '%s' works with KVM on this host" % name)

    def expand_default(self, name):
        """The props of a no-props expansion (cached; do not modify)."""
        props = self._default_cache.get(name)
        if props is None:
            obj = self.new(name)
            obj.finalize()
            props = self._default_cache[name] = obj.output()
        return props

    def sysreg_accepted(self, name, props) -> bool:
        """True when ``props`` (a JSON value) sets only ``SYSREG_*`` properties of
        ``name``, each to an integer its setter accepts, and the no-props expansion
        succeeds: then :meth:`expand` is the default expansion with ``props`` over
        it (SYSREG_* values take no part in finalisation).  Three set operations in
        C instead of a check per field; ``tests/unit/cpu/test_cpu_sysreg_fast.py``
        proves the answers equal the per-field path's, errors included."""
        if type(props) is not dict or not props:
            return False
        c = self.cls(name)
        return bool(
            c.sysreg_pairs
            and props.keys() <= c.sysreg.keys()
            # int only: True == 1 and 1.0 == 1 would match an accepted pair
            and set(map(type, props.values())) == _INT_ONLY
            and props.items() <= c.sysreg_pairs
            and self._default_ok(name)
        )

    def _default_ok(self, name) -> bool:
        try:
            self.expand_default(name)
        except CpuError:
            return False  # the per-field path raises what QEMU raises
        return True

    def expand(self, name, props, path=("model", "props")):
        """Apply ``props`` (a JSON value) like QEMU and return the output props
        dict (insertion order = QEMU's), or raise :class:`QMPError`."""
        from ...errors import QMPError
        from ...qapi import visitor as V

        if self.sysreg_accepted(name, props):
            out = dict(self.expand_default(name))
            out.update(props)
            if self.cls(name).features:
                from .named import feature_props

                out.update(feature_props(self.cls(name), out))
            return out
        base = [] if self.own_visitor else list(path)
        if type(props) is not dict:
            if self.own_visitor:
                raise QMPError("Invalid parameter type for 'props', expected: dict")
            raise V.type_error(base, "object")
        obj = self.new(name)
        c = obj.cls
        consumed = []
        try:
            for n in self.advertised_all:
                if n in props:
                    consumed.append(n)
                    if n not in c.present:
                        raise CpuError("Property '%s.%s' not found" % (c.typename, n))
                    v = props[n]
                    if type(v) is not bool:
                        raise V.type_error(base + [n], "boolean")
                    obj.set(n, v)
            for n in c.features:  # named features (proposal arm-cpu-models), table order
                if n in props:
                    consumed.append(n)
                    v = props[n]
                    if type(v) is not bool:
                        raise V.type_error(base + [n], "boolean")
                    obj.set(n, v)
            if c.sysreg:
                values = obj.sysreg
                fast = c.sysreg_fast
                for n in [n for n in c.sysreg if n in props]:
                    consumed.append(n)
                    v = props[n]
                    if type(v) is int and 0 <= v < fast[n][1] and (fast[n][0] >> v) & 1:
                        values[n] = v  # fast path: a value KVM accepts
                        continue
                    if type(v) is not int or not (-(1 << 63) <= v <= U64):
                        raise V.type_error(base + [n], "uint64")
                    obj._set_sysreg(c.sysreg[n], v & U64)  # checks again and raises the text
            if not self.unchecked and len(consumed) < len(props):
                V.check_leftover(props, consumed, base)
            obj.finalize()
        except CpuError as e:
            raise QMPError(e.message) from None
        return obj.output()


class CpuObject:
    """One CPU object: property state, setters, finalisation, output."""

    __slots__ = (
        "cls",
        "aarch64",
        "has_pmu",
        "sve",
        "vq_map",
        "vq_init",
        "sve_max_vq",
        "sme",
        "sme_fa64",
        "sme_map",
        "sme_init",
        "pauth",
        "algos",
        "no_adjvtime",
        "steal",
        "sysreg",
        "other",
        "choices",
    )

    def __init__(self, cls: CpuClass):
        self.cls = cls
        self.aarch64 = cls.aarch64
        self.has_pmu = cls.pmu
        self.sve = cls.sve_default
        self.vq_map = 0
        self.vq_init = 0
        self.sve_max_vq = 0
        self.sme = cls.sme
        self.sme_fa64 = cls.sme
        self.sme_map = 0
        self.sme_init = 0
        self.pauth = cls.pauth_default
        self.algos = dict.fromkeys(PAUTH_ALGOS, False)
        self.no_adjvtime = False
        self.steal = "auto"
        self.sysreg: dict[str, Any] = {}
        self.other: dict[str, Any] = {}
        self.choices: dict[str, bool] = {}  # named features set (proposal arm-cpu-models)

    # ---- setters ----------------------------------------------------------

    def set(self, name: str, value) -> None:
        """A typed property write (QOM setter semantics)."""
        c = self.cls
        if name not in c.present:
            raise CpuError("Property '%s.%s' not found" % (c.typename, name))
        if name in SVE_VQ:
            vq = SVE_VQ[name]
            if value:
                self.vq_map |= 1 << (vq - 1)
            else:
                self.vq_map &= ~(1 << (vq - 1))
            self.vq_init |= 1 << (vq - 1)
        elif name == "sve":
            if value and c.kvm and not c.kvm_sve:
                raise CpuError("'sve' feature not supported by KVM on this host")
            self.sve = value
        elif name == "pmu":
            if value and c.kvm and not c.kvm_pmu:
                raise CpuError("'pmu' feature not supported by KVM on this host")
            self.has_pmu = value
        elif name == "aarch64":
            if not value:
                if not c.kvm or not c.kvm_el1_32:
                    raise CpuError(
                        "'aarch64' feature cannot be disabled unless KVM is enabled "
                        "and 32-bit EL1 is supported"
                    )
                self.aarch64 = False
            else:
                self.aarch64 = True
        elif name == "pauth":
            self.pauth = value
        elif name in self.algos:
            self.algos[name] = value
        elif name == "kvm-no-adjvtime":
            self.no_adjvtime = value
        elif name == "kvm-steal-time":
            self.steal = "on" if value else "off"
        elif name == "sve-max-vq":
            if c.kvm and not c.kvm_sve:
                raise CpuError("cannot set sve-max-vq", ["SVE not supported by KVM on this host"])
            if value == 0 or value > ARM_MAX_VQ:
                raise CpuError(
                    "unsupported SVE vector length", ["Valid sve-max-vq in range [1-%d]" % ARM_MAX_VQ]
                )
            self.sve_max_vq = value
        elif name == "sme":
            self.sme = value
        elif name == "sme_fa64":
            self.sme_fa64 = value
        elif name in SME_VQ:
            vq = SME_VQ[name]
            if value:
                self.sme_map |= 1 << (vq - 1)
            else:
                self.sme_map &= ~(1 << (vq - 1))
            self.sme_init |= 1 << (vq - 1)
        elif name in c.sysreg:
            self._set_sysreg(c.sysreg[name], value)
        elif name in c.features:
            self.choices[name] = value
        else:
            self.other[name] = value

    def _set_sysreg(self, e, value: int) -> None:
        prop, host, width = e["prop"], e["host"], e["width"]
        if value >> width:
            raise CpuError(
                "Property '%s' cannot be set to %d: the field is %d bits wide (host value %d)"
                % (prop, value, width, host)
            )
        accept = e.get("accept")
        ok = ((accept >> value) & 1) if accept is not None else _policy_ok(e, value)
        if not ok:
            raise CpuError(sysreg_refusal(e, value))
        self.sysreg[prop] = value

    def set_global(self, key: str, text: str) -> None:
        """A ``-cpu key=value`` global: parse by type, then the setter; errors
        are prefixed like qom/object.c object_apply_global_props."""
        c = self.cls
        try:
            if key not in c.present:
                raise CpuError("Property '%s.%s' not found" % (c.typename, key))
            self.set(key, parse_string(key, text, c.types[key]))
        except CpuError as e:
            raise CpuError(
                "can't apply global %s.%s=%s: %s" % (c.typename, key, text, e.message), e.hints
            ) from None

    # ---- finalisation ---------------------------------------------------------

    def finalize(self) -> None:
        """arm_cpu_finalize_features."""
        c = self.cls
        if c.named is not None and (self.choices or c.named.kind != "host"):
            self._named_finalize()
        if self.aarch64:
            if c.sve_props:
                self._sve_finalize()
            if c.sme:
                self._sme_finalize()
            self._pauth_finalize()
        if c.kvm:
            self._steal_finalize()

    def _named_finalize(self) -> None:
        """A named model (proposal arm-cpu-models): the fields it asks for, written
        where they differ from the host's; refused when the host cannot present it."""
        from . import named
        from .migrate import feature_off

        c = self.cls
        off = {f for f in ("sve", "pauth", "pmu") if not self.get(f)}

        def switched_off(reg, field):
            sw = feature_off(reg, field)
            return bool(sw) and sw.partition("=")[0] in off

        hd = {
            "field_values": c.field_values,
            "sysreg": c.named_writable,
            "kvm": {"sve": c.kvm_sve, "pauth": c.kvm_pauth},
        }
        out = named.evaluate(c.named, hd, self.choices, self.get, switched_off)
        if out.unavailable and c.named.kind == "host":
            raise CpuError(*named.host_feature_error(self.choices, out))
        if out.unavailable:
            err = CpuError(named.unusable_text(self.cls.name, out), out.reasons)
            err.unavailable = out.unavailable  # query-cpu-definitions' unavailable-features
            raise err
        user = self.sysreg
        self.sysreg = dict(out.sysreg)
        self.sysreg.update(user)

    def _sve_finalize(self) -> None:
        c = self.cls
        kvm = c.kvm
        vq_map, vq_init = self.vq_map, self.vq_init
        vq_supported = c.sve_supported if (not kvm or c.kvm_sve) else 0
        max_vq = 0
        vq_mask = 0
        if vq_map:
            max_vq = vq_map.bit_length()
            vq_mask = _mask(max_vq)
            if self.sve_max_vq and max_vq > self.sve_max_vq:
                raise CpuError(
                    "cannot enable sve%d" % (max_vq * 128),
                    [
                        "sve%d is larger than the maximum vector length, sve-max-vq=%d (%d bits)"
                        % (max_vq * 128, self.sve_max_vq, self.sve_max_vq * 128)
                    ],
                )
            if kvm:
                vq_map |= vq_supported & ~vq_init & vq_mask
            else:
                vq_map |= POW2_MAP & ~vq_init & vq_mask
        elif self.sve_max_vq == 0:
            if not self.sve:
                return
            tmp = vq_init & (vq_supported if kvm else POW2_MAP)
            vq = _ctz32(tmp) + 1
            max_vq = vq - 1 if vq <= ARM_MAX_VQ else ARM_MAX_VQ
            vq_mask = _mask(max_vq)
            vq_map = vq_supported & ~vq_init & vq_mask
            if max_vq == 0 or vq_map == 0:
                raise CpuError(
                    "cannot disable sve%d" % (vq * 128),
                    [
                        "Disabling sve%d results in all vector lengths being disabled." % (vq * 128),
                        "With SVE enabled, at least one vector length must be enabled.",
                    ],
                )
            max_vq = vq_map.bit_length()
            vq_mask = _mask(max_vq)
        if self.sve_max_vq:
            max_vq = self.sve_max_vq
            vq_mask = _mask(max_vq)
            if vq_init & ~vq_map & (1 << (max_vq - 1)):
                raise CpuError(
                    "cannot disable sve%d" % (max_vq * 128),
                    [
                        "The maximum vector length must be enabled, sve-max-vq=%d (%d bits)"
                        % (max_vq, max_vq * 128)
                    ],
                )
            vq_map |= ~vq_init & vq_mask
        vq_map &= vq_mask
        tmp = vq_map ^ (vq_supported & vq_mask)
        if tmp:
            vq = tmp.bit_length()
            if vq_map & (1 << (vq - 1)):
                if self.sve_max_vq:
                    raise CpuError(
                        "cannot set sve-max-vq=%d" % self.sve_max_vq,
                        [
                            "This CPU does not support the vector length %d-bits." % (vq * 128),
                            "It may not be possible to use sve-max-vq with this CPU. Try using "
                            "only sve<N> properties.",
                        ],
                    )
                raise CpuError(
                    "cannot enable sve%d" % (vq * 128),
                    ["This CPU does not support the vector length %d-bits." % (vq * 128)]
                    if vq_supported
                    else ["SVE not supported by KVM on this host"],
                )
            if kvm:
                raise CpuError(
                    "cannot disable sve%d" % (vq * 128),
                    [
                        "The KVM host requires all supported vector lengths smaller than %d bits "
                        "to also be enabled." % (max_vq * 128)
                    ],
                )
            tmp = POW2_MAP & vq_mask & ~vq_map
            if tmp:
                vq = tmp.bit_length()
                raise CpuError(
                    "cannot disable sve%d" % (vq * 128),
                    [
                        "sve%d is required as it is a power-of-two length smaller than the "
                        "maximum, sve%d" % (vq * 128, max_vq * 128)
                    ],
                )
        if not self.sve:
            raise CpuError(
                "cannot enable sve%d" % (max_vq * 128),
                ["SVE must be enabled to enable vector lengths.", "Add sve=on to the CPU property list."],
            )
        self.sve_max_vq = max_vq
        self.vq_map = vq_map

    def _sme_finalize(self) -> None:
        vq_map, vq_init = self.sme_map, self.sme_init
        vq_supported = POW2_MAP
        if vq_map == 0:
            if not self.sme:
                return
            vq_map = vq_supported & ~vq_init
            if vq_map == 0:
                vq = _ctz32(vq_supported) + 1
                raise CpuError(
                    "cannot disable sme%d" % (vq * 128),
                    [
                        "All SME vector lengths are disabled.",
                        "With SME enabled, at least one vector length must be enabled.",
                    ],
                )
        elif not self.sme:
            vq = vq_map.bit_length()
            raise CpuError(
                "cannot enable sme%d" % (vq * 128),
                ["SME must be enabled to enable vector lengths.", "Add sme=on to the CPU property list."],
            )
        self.sme_map = vq_map

    def _pauth_finalize(self) -> None:
        c = self.cls
        if not c.pauth_props:
            return
        if c.kvm:
            if self.pauth and not c.kvm_pauth:
                raise CpuError("'pauth' feature not supported by KVM on this host")
            return
        a = self.algos
        impdef, q3, q5 = a["pauth-impdef"], a["pauth-qarma3"], a["pauth-qarma5"]
        texts = _PAUTH_TEXTS[_texts_of(c)]
        if self.pauth:
            if (impdef + q3 + q5) > 1:
                raise CpuError(texts[1])
        elif impdef or q3 or q5:
            raise CpuError(texts[0], ["Add pauth=on to the CPU property list."])

    def _steal_finalize(self) -> None:
        c = self.cls
        if self.steal == "auto":
            self.steal = "on" if (c.kvm_steal and self.aarch64) else "off"
        elif self.steal == "on":
            if not c.kvm_steal:
                raise CpuError("'kvm-steal-time' cannot be enabled on this host")
            if not self.aarch64:
                raise CpuError("'kvm-steal-time' cannot be enabled for AArch32 guests")

    # ---- getters ------------------------------------------------------------

    def get(self, name: str):
        if name in SVE_VQ:
            return bool(self.sve and (self.vq_map >> (SVE_VQ[name] - 1)) & 1)
        if name == "sve":
            return self.sve
        if name == "aarch64":
            return self.aarch64
        if name == "pmu":
            return self.has_pmu
        if name == "pauth":
            return self.pauth
        if name in self.algos:
            return self.algos[name]
        if name == "kvm-no-adjvtime":
            return self.no_adjvtime
        if name == "kvm-steal-time":
            return self.steal != "off"
        if name == "sve-max-vq":
            return self.sve_max_vq if self.sve else 0
        if name == "sme":
            return self.sme
        if name == "sme_fa64":
            return self.sme and self.sme_fa64
        if name in SME_VQ:
            return bool(self.sme and (self.sme_map >> (SME_VQ[name] - 1)) & 1)
        e = self.cls.sysreg.get(name)
        if e is not None:
            return self.sysreg.get(name, e["host"])
        if name in self.cls.features:
            from .named import feature_on

            return feature_on(self, name)
        return self.other.get(name)

    def output(self) -> dict:
        """The expansion's props: advertised (list order), then SYSREG_*."""
        out = {n: self.get(n) for n in self.cls.advertised}
        c = self.cls
        if c.features:
            from .named import feature_on, guest_values

            gv = guest_values(self)
            for n in c.features:
                out[n] = feature_on(self, n, gv)
        if c.sysreg:
            out.update(c.sysreg_host)
            if self.sysreg:
                out.update(self.sysreg)
        return out


# pauth texts per version family: (without pauth, at the same time)
_PAUTH_TEXTS = {
    "7.2": ("cannot enable pauth-impdef without pauth", "cannot enable pauth-impdef without pauth"),
    "8.0": (
        "cannot enable pauth-impdef or pauth-qarma3 without pauth",
        "cannot enable both pauth-impdef and pauth-qarma3",
    ),
    "10.0": (
        "cannot enable pauth-impdef, pauth-qarma3 or pauth-qarma5 without pauth",
        "cannot enable pauth-impdef, pauth-qarma3 and pauth-qarma5 at the same time",
    ),
}


def _texts_of(c: CpuClass) -> str:
    if "pauth-qarma5" in c.present:
        return "10.0"
    if "pauth-qarma3" in c.present:
        return "8.0"
    return "7.2"


def _policy_ok(e, value: int) -> bool:
    from .kvm import policy_accepts

    return policy_accepts(e["policy"], e["signed"], e["width"], e["host"], value)


def sysreg_refusal(e, value: int) -> str:
    """The GenericError text for a SYSREG value KVM would refuse (proposal)."""
    prop, host = e["prop"], e["host"]
    head = "Property '%s' cannot be set to %d: " % (prop, value)
    why = (e.get("reasons") or {}).get(value)
    if why is not None:
        return head + "KVM on this host refuses it (%s)" % why
    policy = e["policy"]
    if policy == "lower_safe":
        if e["signed"]:
            return head + (
                "KVM on this host only accepts values up to the host value %d in signed order "
                "(%d means not implemented)" % (host, (1 << e["width"]) - 1)
            )
        return head + "KVM on this host only accepts values up to the host value %d" % host
    if policy in ("higher_safe", "higher_or_zero_safe"):
        return head + "KVM on this host only accepts values from the host value %d up" % host
    return head + "KVM on this host only accepts the host value %d" % host


# --------------------------------------------------------------------------
# string values of -cpu key=value (string input visitor)

_BOOL_TRUE = ("on", "yes", "true", "y")
_BOOL_FALSE = ("off", "no", "false", "n")
_NUM = re.compile(r"\A[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\Z")
_RANGES = {
    "uint8": (0, 255, "uint8_t"),
    "uint16": (0, 65535, "uint16_t"),
    "uint32": (0, (1 << 32) - 1, "uint32_t"),
    "int8": (-128, 127, "int8_t"),
    "int16": (-32768, 32767, "int16_t"),
    "int32": (-(1 << 31), (1 << 31) - 1, "int32_t"),
}


def _strtoull(text: str):
    m = _NUM.match(text)
    if m is None:
        return None
    sign, digits = m.groups()
    if digits[:2] in ("0x", "0X"):
        v = int(digits[2:], 16)
    elif digits.startswith("0") and len(digits) > 1:
        v = int(digits[1:], 8)
    else:
        v = int(digits)
    if v > U64:
        return None
    return v, sign == "-"


def parse_string(name: str, text: str, typ: str):
    """QEMU's string input visitor for one property value."""
    if typ == "bool":
        if text in _BOOL_TRUE:
            return True
        if text in _BOOL_FALSE:
            return False
        raise CpuError("Parameter '%s' expects 'on' or 'off'" % name)
    if typ.startswith("uint") or typ == "size":
        r = _strtoull(text)
        if r is None:
            raise CpuError("Parameter '%s' expects uint64" % name)
        v, neg = r
        v = ((1 << 64) - v) & U64 if neg else v
        lim = _RANGES.get(typ)
        if lim is not None and v > lim[1]:
            raise CpuError("Parameter '%s' expects %s" % (name, lim[2]))
        return v
    if typ.startswith("int"):
        r = _strtoull(text)
        if r is None:
            raise CpuError("Parameter '%s' expects int64" % name)
        v, neg = r
        v = -v if neg else v
        if not (-(1 << 63) <= v < (1 << 63)):
            raise CpuError("Parameter '%s' expects int64" % name)
        lim = _RANGES.get(typ)
        if lim is not None and not (lim[0] <= v <= lim[1]):
            raise CpuError("Parameter '%s' expects %s" % (name, lim[2]))
        return v
    return text


# --------------------------------------------------------------------------


def catalog_for(instance) -> Catalog:
    """The instance's catalogue (built on first use, kept in ``instance.cpu.catalog``)."""
    cat = instance.cpu.catalog
    if cat is None:
        m = instance.machine
        cat = Catalog(
            instance.build,
            instance.host,
            m.accel,
            m.cpu_model,
            m.cpu_props,
            sysreg_props=instance.build.has_proposal("cpu-idreg-props"),
        )
        instance.cpu.catalog = cat
    return cat
