"""aarch64 ID-register knowledge: field table access, decode/encode,
SYSREG_<REG>_<FIELD> property names and feature helpers.

Everything here is a pure function over plain dicts (the parsed
``models/arm64/sysreg-fields.yaml``).  Nothing parses YAML at import time:
the data sets are read on first use (through the compile cache, so that
only the first process after a change parses YAML), and :func:`data`'s
provider can be replaced (``set_data_provider``).

Functions that need the table take it as an optional ``table=`` keyword;
when omitted the default table is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ... import models

__all__ = [
    "DataError",
    "SysregError",
    "load_yaml",
    "models_dir",
    "data",
    "set_data_provider",
    "clear_data_cache",
    "sysreg_table",
    "table_or_default",
    "register",
    "register_names",
    "fields",
    "field",
    "field_names",
    "field_mask",
    "field_width",
    "register_mask",
    "decode",
    "encode",
    "get_field",
    "set_field",
    "value_name",
    "value_of",
    "signed_value",
    "property_name",
    "parse_property_name",
    "kvm_one_reg_id",
    "feature_range_index",
    "register_by_encoding",
    "idregs_of",
    "idreg",
    "mte_level",
    "mte_frac",
    "sve_present",
    "sve2_level",
    "pauth",
    "pauth_present",
    "pmu_version",
    "pmu_present",
    "aarch32_el0",
    "aarch32_el1",
    "gic_sysregs",
]


class DataError(models.DataFileError):
    """A data file (or an in-memory dict standing for one) is wrong.

    The message names the file, the dotted path of the offending value and
    what was expected, e.g.
    ``models/hosts/x.yaml: idregs.ID_AA64PFR0_EL1: expected an integer, got 'abc'``.
    """


class SysregError(ValueError):
    """A caller asked about a register, field or value the table does not know."""


# --------------------------------------------------------------------------
# Data access

DATA_FILES = {
    "sysreg-fields": "arm64/sysreg-fields.yaml",
    "kvm-writable": "arm64/kvm-writable.yaml",
    "kvm-firmware-regs": "arm64/kvm-firmware-regs.yaml",
    "kvm-caps": "arm64/kvm-caps.yaml",
    "kvm-reg-list": "arm64/kvm-reg-list.yaml",
    "tcg-cpregs-7.2": "arm64/tcg-cpregs-7.2.yaml",
}

_provider: Callable[[str], Mapping[str, Any]] | None = None
_cache: dict[str, Mapping[str, Any]] = {}


def models_dir() -> Path:
    """The models directory (:data:`qmpserver.models.MODELS_DIR`)."""
    return Path(models.MODELS_DIR)


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A YAML file read by :func:`qmpserver.models.read_yaml`, failures worded as
    this module always has (``file not found``, ``not valid YAML (line ...)``)."""
    try:
        return models.read_yaml(path, error=DataError)
    except DataError as e:
        if not os.path.exists(path):
            raise DataError(path, "", "file not found") from None
        if e.expectation.startswith("invalid YAML: "):
            where = e.path + ": " if e.path else ""
            raise DataError(
                path, "", f"not valid YAML ({where}{e.expectation[len('invalid YAML: ') :]})"
            ) from None
        raise


def set_data_provider(provider: Callable[[str], Mapping[str, Any]] | None) -> None:
    """Route :func:`data` through ``provider(name)`` (e.g. a compiled cache).

    ``name`` is one of ``DATA_FILES``' keys.  ``None`` restores file loading.
    """
    global _provider
    _provider = provider
    _cache.clear()


def clear_data_cache() -> None:
    _cache.clear()


def data(name: str) -> Mapping[str, Any]:
    """The parsed data set ``name`` (``sysreg-fields``, ``kvm-writable``,
    ``kvm-firmware-regs``, ``kvm-caps``), loaded once and cached."""
    got = _cache.get(name)
    if got is not None:
        return got
    if name not in DATA_FILES:
        raise SysregError(f"unknown data set {name!r}; expected one of {sorted(DATA_FILES)}")
    got = _provider(name) if _provider is not None else _read(str(models_dir() / DATA_FILES[name]))
    _cache[name] = got
    return got


def _read(path: str) -> Mapping[str, Any]:
    """A data file through the compile cache (``models.compiled_file``, stamped with the
    file): a launcher that migrates or checks a CPU model needs these tables, and
    importing PyYAML and parsing them costs it ~40 ms (more than a whole migration of
    its own) where unpickling costs ~1 ms."""
    cached = models.compiled_file(path, ())
    if cached:
        got = models.load_compiled(cached)
        if got is not None:
            return got
    got = models.read_yaml(path, error=DataError)
    if cached:
        models.save_compiled(cached, got, [path])
    return got


def sysreg_table() -> Mapping[str, Any]:
    """The default ID-register field table."""
    return data("sysreg-fields")


def table_or_default(table: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``table``, or the default field table when None (the ``table=`` keyword's rule)."""
    return sysreg_table() if table is None else table


# --------------------------------------------------------------------------
# Registers and fields


def register(reg: str, table: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    regs = table_or_default(table)["registers"]
    try:
        return regs[reg]
    except KeyError:
        raise SysregError(f"unknown system register {reg!r}") from None


def register_names(table: Mapping[str, Any] | None = None) -> list[str]:
    return list(table_or_default(table)["registers"])


def fields(reg: str, table: Mapping[str, Any] | None = None) -> list[Mapping[str, Any]]:
    """Field descriptors of ``reg``, MSB first."""
    return list(register(reg, table).get("fields") or [])


def field_names(reg: str, table: Mapping[str, Any] | None = None) -> list[str]:
    return [f["name"] for f in fields(reg, table)]


def field(reg: str, name: str, table: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    for f in fields(reg, table):
        if f["name"] == name:
            return f
    raise SysregError(f"{reg} has no field {name!r}; fields: {', '.join(field_names(reg, table)) or 'none'}")


def field_width(f: Mapping[str, Any]) -> int:
    return f["msb"] - f["lsb"] + 1


def field_mask(f: Mapping[str, Any]) -> int:
    return ((1 << field_width(f)) - 1) << f["lsb"]


def register_mask(reg: str, table: Mapping[str, Any] | None = None) -> int:
    """Bits of ``reg`` covered by a named field."""
    m = 0
    for f in fields(reg, table):
        m |= field_mask(f)
    return m


def _fits(reg: str, value: int, table) -> None:
    width = register(reg, table).get("width", 64)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >> width:
        raise SysregError(f"{reg}: value {value!r} is not a {width}-bit unsigned integer")


def get_field(reg: str, value: int, name: str, table: Mapping[str, Any] | None = None) -> int:
    f = field(reg, name, table)
    return (value >> f["lsb"]) & ((1 << field_width(f)) - 1)


def set_field(reg: str, value: int, name: str, fv: int, table: Mapping[str, Any] | None = None) -> int:
    f = field(reg, name, table)
    if not isinstance(fv, int) or isinstance(fv, bool) or fv < 0 or fv >> field_width(f):
        raise SysregError(f"{reg}.{name}: value {fv!r} does not fit in {field_width(f)} bits")
    return (value & ~field_mask(f)) | (fv << f["lsb"])


def decode(reg: str, value: int, table: Mapping[str, Any] | None = None) -> dict[str, int]:
    """``{field: value}`` for every named field of ``reg`` (MSB first)."""
    _fits(reg, value, table)
    return {f["name"]: (value >> f["lsb"]) & ((1 << field_width(f)) - 1) for f in fields(reg, table)}


def encode(reg: str, values: Mapping[str, int], table: Mapping[str, Any] | None = None, base: int = 0) -> int:
    """Register value from ``{field: value}`` (fields not given keep their
    bits from ``base``)."""
    _fits(reg, base, table)
    out = base
    for name, fv in values.items():
        out = set_field(reg, out, name, fv, table)
    return out


def value_name(reg: str, name: str, fv: int, table: Mapping[str, Any] | None = None) -> str | None:
    """The kernel's name for value ``fv`` of ``reg.name`` (``None`` if unnamed)."""
    return (field(reg, name, table).get("values") or {}).get(fv)


def value_of(reg: str, name: str, value_name_: str, table: Mapping[str, Any] | None = None) -> int:
    """Inverse of :func:`value_name`."""
    vals = field(reg, name, table).get("values") or {}
    for k, v in vals.items():
        if v == value_name_:
            return k
    raise SysregError(
        f"{reg}.{name} has no value named {value_name_!r}; known: {', '.join(map(str, vals.values())) or 'none'}"
    )


def signed_value(f: Mapping[str, Any], fv: int) -> int:
    """Two's-complement reading of a field value (all-ones = -1 = NI)."""
    w = field_width(f)
    return fv - (1 << w) if fv >> (w - 1) else fv


# --------------------------------------------------------------------------
# QEMU property names (Auger/Huck series): SYSREG_<REG>_<FIELD>

PROPERTY_PREFIX = "SYSREG_"


def property_name(reg: str, name: str, table: Mapping[str, Any] | None = None) -> str:
    field(reg, name, table)  # validates
    return f"{PROPERTY_PREFIX}{reg}_{name}"


def parse_property_name(prop: str, table: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """``'SYSREG_ID_AA64ISAR0_EL1_DP'`` -> ``('ID_AA64ISAR0_EL1', 'DP')``."""
    if not isinstance(prop, str) or not prop.startswith(PROPERTY_PREFIX):
        raise SysregError(f"{prop!r} is not a SYSREG_<REG>_<FIELD> property name")
    rest = prop[len(PROPERTY_PREFIX) :]
    for reg in sorted(table_or_default(table)["registers"], key=len, reverse=True):
        if rest.startswith(reg + "_"):
            name = rest[len(reg) + 1 :]
            if name in field_names(reg, table):
                return reg, name
    raise SysregError(f"{prop!r} names no known register field")


# --------------------------------------------------------------------------
# Encodings


def kvm_one_reg_id(encoding: Iterable[int]) -> int:
    """KVM ONE_REG id of a system register (KVM_REG_ARM64 | U64 | SYSREG)."""
    op0, op1, crn, crm, op2 = encoding
    return 0x6030000000130000 | op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2


def feature_range_index(encoding: Iterable[int]) -> int | None:
    """Index in the KVM_ARM_GET_REG_WRITABLE_MASKS array, or ``None`` when the
    register is outside the feature-ID range (op0=3, op1 in {0,1,3}, CRn=0)."""
    op0, op1, crn, crm, op2 = encoding
    if op0 != 3 or op1 not in (0, 1, 3) or crn != 0 or crm > 7:
        return None
    return (((op1 & 3) - (op1 == 3)) << 6) | (crm & 7) << 3 | op2


def register_by_encoding(encoding: Iterable[int], table: Mapping[str, Any] | None = None) -> str | None:
    enc = list(encoding)
    for name, reg in table_or_default(table)["registers"].items():
        if list(reg["encoding"]) == enc:
            return name
    return None


# --------------------------------------------------------------------------
# Feature helpers.  Each accepts a host dict (with ``idregs``) or a plain
# ``{register: value}`` dict; a missing register reads as 0 (RAZ).


def idregs_of(host_or_idregs: Mapping[str, Any]) -> Mapping[str, int]:
    if "idregs" in host_or_idregs or "kind" in host_or_idregs:
        return host_or_idregs.get("idregs") or {}
    return host_or_idregs


def idreg(host_or_idregs: Mapping[str, Any], reg: str) -> int:
    return int(idregs_of(host_or_idregs).get(reg, 0))


def _f(h, reg, name) -> int:
    return get_field(reg, idreg(h, reg), name)


def mte_level(host_or_idregs: Mapping[str, Any]) -> int:
    """ID_AA64PFR1_EL1.MTE: 0 none, 1 FEAT_MTE (EL0 insns only), 2 MTE2, 3 MTE3."""
    return _f(host_or_idregs, "ID_AA64PFR1_EL1", "MTE")


def mte_frac(host_or_idregs: Mapping[str, Any]) -> int:
    return _f(host_or_idregs, "ID_AA64PFR1_EL1", "MTE_frac")


def sve_present(host_or_idregs: Mapping[str, Any]) -> bool:
    return _f(host_or_idregs, "ID_AA64PFR0_EL1", "SVE") >= 1


def sve2_level(host_or_idregs: Mapping[str, Any]) -> int | None:
    """``None`` without SVE, else ZFR0.SVEver (0 SVE, 1 SVE2, 2 SVE2p1, ...)."""
    if not sve_present(host_or_idregs):
        return None
    return _f(host_or_idregs, "ID_AA64ZFR0_EL1", "SVEver")


def pauth(host_or_idregs: Mapping[str, Any]) -> dict[str, Any]:
    """Pointer-authentication fields and summary.

    ``address``: any of APA/API/APA3 non-zero (Linux ``paca``);
    ``generic``: any of GPA/GPI/GPA3 non-zero (Linux ``pacg``);
    ``algorithm``: ``qarma5`` (APA/GPA), ``impdef`` (API/GPI), ``qarma3``
    (APA3/GPA3) or ``None``.
    """
    isar1 = idreg(host_or_idregs, "ID_AA64ISAR1_EL1")
    isar2 = idreg(host_or_idregs, "ID_AA64ISAR2_EL1")
    v = {
        "APA": get_field("ID_AA64ISAR1_EL1", isar1, "APA"),
        "API": get_field("ID_AA64ISAR1_EL1", isar1, "API"),
        "GPA": get_field("ID_AA64ISAR1_EL1", isar1, "GPA"),
        "GPI": get_field("ID_AA64ISAR1_EL1", isar1, "GPI"),
        "APA3": get_field("ID_AA64ISAR2_EL1", isar2, "APA3"),
        "GPA3": get_field("ID_AA64ISAR2_EL1", isar2, "GPA3"),
    }
    algo = None
    if v["APA"] or v["GPA"]:
        algo = "qarma5"
    elif v["API"] or v["GPI"]:
        algo = "impdef"
    elif v["APA3"] or v["GPA3"]:
        algo = "qarma3"
    return {
        "fields": v,
        "address": bool(v["APA"] or v["API"] or v["APA3"]),
        "generic": bool(v["GPA"] or v["GPI"] or v["GPA3"]),
        "level": max(v["APA"], v["API"], v["APA3"]),
        "algorithm": algo,
    }


def pauth_present(host_or_idregs: Mapping[str, Any]) -> bool:
    p = pauth(host_or_idregs)
    return p["address"] or p["generic"]


def pmu_version(host_or_idregs: Mapping[str, Any]) -> int:
    """ID_AA64DFR0_EL1.PMUVer, with IMP_DEF (0xF) read as 0 (no PMUv3)."""
    v = _f(host_or_idregs, "ID_AA64DFR0_EL1", "PMUVer")
    return 0 if v == 0xF else v


def pmu_present(host_or_idregs: Mapping[str, Any]) -> bool:
    return pmu_version(host_or_idregs) >= 1


def aarch32_el0(host_or_idregs: Mapping[str, Any]) -> bool:
    """32-bit EL0 supported (ID_AA64PFR0_EL1.EL0 == AARCH32)."""
    return _f(host_or_idregs, "ID_AA64PFR0_EL1", "EL0") == 2


def aarch32_el1(host_or_idregs: Mapping[str, Any]) -> bool:
    """32-bit EL1 supported (ID_AA64PFR0_EL1.EL1 == AARCH32)."""
    return _f(host_or_idregs, "ID_AA64PFR0_EL1", "EL1") == 2


def gic_sysregs(host_or_idregs: Mapping[str, Any]) -> int:
    """ID_AA64PFR0_EL1.GIC (0 none, 1 GICv3/4 CPU interface, 3 GICv4.1)."""
    return _f(host_or_idregs, "ID_AA64PFR0_EL1", "GIC")
