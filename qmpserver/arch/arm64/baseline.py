"""query-cpu-model-baseline / query-cpu-model-comparison for aarch64 (proposal
``cpu-idreg-props``): a ``host`` model that fits two hosts, and how two
models relate.  Semantics and texts: ``docs/proposals/cpu-idreg-props.md``.

A model is resolved to a :class:`Desc`:

* ``{"name": "host"}`` or ``{"name": "host", "props": DELTA}``: the local
  host's ``host`` model with DELTA applied exactly as query-cpu-model-expansion
  applies props (same checks, same texts, paths ``modela.props.X``);
* ``{"name": "host", "props": FULL}`` where FULL carries every property a KVM
  ``host`` expansion always has (``aarch64``, ``sve``, the 16 ``sveN``,
  ``kvm-no-adjvtime``, ``kvm-steal-time``, ``pauth``): a complete description
  of a host, typically the ``props`` of another host's expansion passed
  verbatim.  Its ``SYSREG_*`` keys are the fields writable on that host, with
  their values; fields it does not list are not writable there.  When FULL
  has exactly the local host's writable fields and the local host accepts it,
  it is the local host (same as a DELTA).

Local descriptions know the host's value of every ID-register field; complete
foreign ones only know their writable fields.
"""

from __future__ import annotations

from ...errors import QMPError
from .cpu import SVE_NAMES, SVE_VQ, U64, CpuError
from .kvm import policy_accepts

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Desc", "resolve", "baseline", "compare", "qmp_baseline", "qmp_compare", "COMPLETE_KEYS"]

COMPLETE_KEYS = frozenset(("aarch64", "sve", "kvm-no-adjvtime", "kvm-steal-time", "pauth") + SVE_NAMES)


class Desc:
    """One side: boolean props, writable SYSREG fields and (local) known values."""

    __slots__ = ("bools", "sysreg", "known", "cat", "label", "features", "model")

    def __init__(self, bools, sysreg, known=None, cat=None, label="", features=None, model=None):
        self.bools = bools  # advertised prop -> bool (only those the model has)
        self.sysreg = sysreg  # SYSREG prop -> value (writable on that side)
        self.known = known  # SYSREG prop -> value for every field (local) or None
        self.cat = cat  # the local Catalog, or None for a foreign description
        self.label = label
        self.features = features or {}  # named feature -> bool (proposal arm-cpu-models)
        self.model = model  # the versioned named model it was given as, or None

    @property
    def local(self) -> bool:
        return self.cat is not None

    def sve_map(self) -> int:
        if not self.bools.get("sve"):
            return 0
        m = 0
        for n in SVE_NAMES:
            if self.bools.get(n):
                m |= 1 << (SVE_VQ[n] - 1)
        return m


def _feature_names(cat) -> frozenset:
    nt = cat.named_tables
    return frozenset(nt.field_props) if nt is not None else frozenset()


def _local_desc(cat, props: dict, label="", model=None) -> Desc:
    bools = {}
    sysreg = {}
    features = {}
    fnames = _feature_names(cat)
    for k, v in props.items():
        if k.startswith("SYSREG_"):
            sysreg[k] = v
        elif k in fnames:
            features[k] = v
        else:
            bools[k] = v
    known = dict((cat.hd or {}).get("field_values") or {})
    known.update(sysreg)
    return Desc(bools, sysreg, known, cat, label, features, model)


def _field_info(cat) -> dict:
    info = cat.__dict__.get("_field_info")
    if info is None:
        info = {f[0]: f for f in (cat.hd or {}).get("fields") or ()}
        cat._field_info = info
        cat._field_order = {p: i for i, p in enumerate(info)}
    return info


def _sorted_fields(cat, props) -> list:
    _field_info(cat)
    order = cat._field_order
    return sorted(props, key=lambda p: order.get(p, 1 << 30))


def _type_error(path, expected):
    from ...qapi.visitor import type_error

    return type_error(path, expected)


def resolve(cat, model: dict, arg: str, what: str) -> Desc:
    """A model argument (``modela``/``modelb``) as a :class:`Desc`."""
    name = model["name"]
    nt = cat.named_tables
    is_named = nt is not None and name in nt.names
    try:
        if name != "host" and not is_named:
            cat.check_model(name)
            raise CpuError(
                "CPU model %s is only supported for the CPU type 'host'%s"
                % (what, " and the named CPU models" if nt is not None else "")
            )
        cat.check_model(name)
        if is_named and "props" not in model:  # a named model on this host (proposal arm-cpu-models)
            return _local_desc(cat, cat.expand_default(name), arg, nt.names[name])
    except CpuError as e:
        raise QMPError(e.message) from None
    path = [arg, "props"]
    if is_named:
        return _local_desc(cat, cat.expand(name, model["props"], path=path), arg, nt.names[name])
    if "props" not in model:
        return _local_desc(cat, cat.expand_default("host"), arg)
    props = model["props"]
    if type(props) is dict and COMPLETE_KEYS <= props.keys():
        local_w = set(cat.cls("host").sysreg)
        given_w = {k for k in props if k.startswith("SYSREG_")}
        if given_w == local_w:
            # a complete description's named features follow its SYSREG_* fields
            fnames = _feature_names(cat)
            plain = {k: v for k, v in props.items() if k not in fnames}
            try:
                return _local_desc(cat, cat.expand("host", plain, path=path), arg)
            except QMPError:
                pass
        return _foreign_desc(cat, props, path, arg)
    return _local_desc(cat, cat.expand("host", props, path=path), arg)


def _foreign_desc(cat, props: dict, path, label) -> Desc:
    from ...qapi.visitor import check_leftover

    info = _field_info(cat)
    bools = {}
    sysreg = {}
    features = {}
    consumed = []
    for n in cat.advertised_all:
        if n in props:
            v = props[n]
            if type(v) is not bool:
                raise _type_error(path + [n], "boolean")
            bools[n] = v
            consumed.append(n)
    for n in cat.named_tables.field_props if cat.named_tables is not None else ():
        if n in props:  # what that host's expansion says of its named features
            v = props[n]
            if type(v) is not bool:
                raise _type_error(path + [n], "boolean")
            features[n] = v
            consumed.append(n)
    for k, v in props.items():
        if k.startswith("SYSREG_") and k in info:
            if type(v) is not int or not (-(1 << 63) <= v <= U64):
                raise _type_error(path + [k], "uint64")
            v &= U64
            width = info[k][4]
            if v >> width:
                raise QMPError("Property '%s' cannot be set to %d: the field is %d bits wide" % (k, v, width))
            sysreg[k] = v
            consumed.append(k)
    if len(consumed) < len(props):
        check_leftover(props, consumed, path)
    sysreg = {p: sysreg[p] for p in _sorted_fields(cat, sysreg)}
    return Desc(bools, sysreg, None, None, label, features)


# --------------------------------------------------------------------------
# per-field rules


def _signed(v: int, width: int) -> int:
    return v - (1 << width) if v >> (width - 1) else v


def _key(info, prop, v):
    """Sort key in 'more features' order (None: unordered field)."""
    _p, _r, _f, _lsb, width, policy, signed = info
    if policy == "any":
        return v  # freely settable (MIDR fields): numeric order, see the docs
    if policy == "lower_safe":
        return _signed(v, width) if signed else v
    if policy in ("higher_safe", "higher_or_zero_safe"):
        return -(_signed(v, width) if signed else v)
    return None


def _accepts(desc: Desc, info, prop, v) -> bool:
    """Would that side's KVM accept ``v`` for ``prop``?"""
    if desc.local:
        e = (
            desc.cat._classes["host"].sysreg.get(prop)
            if "host" in desc.cat._classes
            else desc.cat.cls("host").sysreg.get(prop)
        )
        if e is None:
            return False
        acc = e.get("accept")
        if acc is not None:
            return bool((acc >> v) & 1) if v < (1 << e["width"]) else False
        return policy_accepts(e["policy"], e["signed"], e["width"], e["host"], v)
    limit = desc.sysreg[prop]
    return policy_accepts(info[5], info[6], info[4], limit, v)


def _bridge(info, a: int, b: int):
    if a == b:
        return a
    policy = info[5]
    if policy == "any":
        return min(a, b)
    ka, kb = _key(info, None, a), _key(info, None, b)
    if ka is None:
        return None
    return a if ka <= kb else b


def _sve_prefix(a: int, b: int) -> int:
    out = 0
    for vq in range(1, 17):
        bit = 1 << (vq - 1)
        if (a & bit) != (b & bit):
            break
        out |= a & bit
    return out


# --------------------------------------------------------------------------


def baseline(cat, a: Desc, b: Desc):
    """(props of the baseline ``host`` model, responsible properties)."""
    advertised = cat.advertised_all
    responsible = []
    out = {}
    sa, sb = a.sve_map(), b.sve_map()
    s = _sve_prefix(sa, sb)
    for n in advertised:
        ina, inb = n in a.bools, n in b.bools
        if not ina and not inb:
            continue
        if ina != inb:
            responsible.append(n)
            continue
        if n == "sve":
            out[n] = bool(s)
        elif n in SVE_VQ:
            out[n] = bool((s >> (SVE_VQ[n] - 1)) & 1)
        else:
            out[n] = bool(a.bools[n] and b.bools[n])
    info = _field_info(cat)
    for p in _sorted_fields(cat, set(a.sysreg) | set(b.sysreg)):
        fi = info.get(p)
        ina, inb = p in a.sysreg, p in b.sysreg
        if ina and inb:
            if fi is None:
                responsible.append(p)
                continue
            va, vb = a.sysreg[p], b.sysreg[p]
            if va == vb:  # each side already runs its own value
                out[p] = va
                continue
            v = _bridge(fi, va, vb)
            if v is None or not _accepts(a, fi, p, v) or not _accepts(b, fi, p, v):
                responsible.append(p)
                continue
            out[p] = v
        else:
            # writable on one side only: the other side cannot take the property, so the
            # guest sees the same value only if both sides already have it
            have, other = (a, b) if ina else (b, a)
            v = have.sysreg[p]
            ov = other.known.get(p) if other.known is not None else None
            hv = v
            if have.local:
                e = have.cat.cls("host").sysreg.get(p)
                hv = e["host"] if e is not None else None
            if ov is None or ov != v or hv != v:
                responsible.append(p)
    # the result must be what both sides accept (each local catalogue checks it once)
    seen: list[Any] = []
    for side in (a, b):
        if side.local and not responsible and not any(side.cat is s for s in seen):
            seen.append(side.cat)
            try:
                side.cat.expand("host", out, path=("model", "props"))
            except QMPError:
                responsible.append("sve")
    return out, responsible


def _cmp_bool(x: bool, y: bool) -> int:
    return (x > y) - (x < y)


def compare(cat, a: Desc, b: Desc):
    """(result, responsible properties) of model a against model b."""
    gt = lt = False
    responsible = []
    sa, sb = a.sve_map(), b.sve_map()
    sve_done = False
    for n in cat.advertised_all:
        ina, inb = n in a.bools, n in b.bools
        if not ina and not inb:
            continue
        if n == "sve" or n in SVE_VQ:
            if sve_done:
                continue
            sve_done = True
            if sa == sb:
                continue
            diff = [m for m in ("sve",) + SVE_NAMES if bool(a.bools.get(m)) != bool(b.bools.get(m))]
            if sa & ~sb == 0:
                lt = True
            elif sb & ~sa == 0:
                gt = True
            else:
                gt = lt = True
            responsible.extend(diff)
            continue
        x = bool(a.bools.get(n)) if ina else False
        y = bool(b.bools.get(n)) if inb else False
        c = _cmp_bool(x, y)
        if c:
            responsible.append(n)
            gt |= c > 0
            lt |= c < 0
    info = _field_info(cat)
    for p in _sorted_fields(cat, set(a.sysreg) | set(b.sysreg)):
        va = a.sysreg.get(p, a.known.get(p) if a.known is not None else None)
        vb = b.sysreg.get(p, b.known.get(p) if b.known is not None else None)
        if va is None or vb is None or va == vb:
            continue
        fi = info.get(p)
        ka = _key(fi, p, va) if fi else None
        kb = _key(fi, p, vb) if fi else None
        responsible.append(p)
        if ka is None or kb is None:
            gt = lt = True
        elif ka > kb:
            gt = True
        else:
            lt = True
    if cat.named_tables is not None and responsible:
        responsible = _named_responsible(cat, a, b, responsible)
    if gt and lt:
        result = "incompatible"
    elif gt:
        result = "superset"
    elif lt:
        result = "subset"
    else:
        result = "identical"
    return result, responsible


def _named_responsible(cat, a: Desc, b: Desc, responsible: list) -> list:
    """Responsible properties over named features (proposal arm-cpu-models): the
    booleans, then every named feature (table order) that is on in one model and off
    in the other and names a SYSREG_* field that differs, then the differing SYSREG_*
    fields no listed feature names."""
    t = cat.named_tables
    differing = {p for p in responsible if p.startswith("SYSREG_")}
    feats = []
    covered = set()
    for n in t.field_props:
        fa, fb = a.features.get(n), b.features.get(n)
        if fa is None or fb is None or fa == fb:
            continue
        props = {"SYSREG_%s_%s" % (r, fl) for r, fl, _ in t.by_name[n].fields}
        if props & differing:
            feats.append(n)
            covered |= props
    return (
        [p for p in responsible if not p.startswith("SYSREG_")]
        + feats
        + [p for p in responsible if p.startswith("SYSREG_") and p not in covered]
    )


def _guest_view(props: dict) -> dict:
    """An expansion's properties as the guest sees them: the SYSREG_* fields a vCPU
    switch that is off hides (``sve=off``: ID_AA64ZFR0_EL1) read 0, whatever the
    expansion lists for them (the host's value, as upstream's expansion would)."""
    from .named import VCPU_FEATURES, _switched

    off = {f for f in VCPU_FEATURES if not props.get(f, False)}
    if not off:
        return props
    sw = _switched()
    return {k: 0 if sw.get(k) in off else v for k, v in props.items()}


def named_form(cat, props: dict, own=()) -> dict:
    """The baseline ``host`` model ``props`` as the richest named model below it plus
    deltas (proposal arm-cpu-models): among the versioned models usable on this host
    whose expansion the baseline is ``superset`` or ``identical`` of (both as the guest
    sees them: :func:`_guest_view`), the one with the
    fewest deltas (``own``: the inputs' models win ties, then the later model);
    deltas are the named features the baseline has on and the model off, then the
    ``SYSREG_*`` and upstream booleans still differing.  With no such model (or a
    baseline this host's ``host`` refuses): the ``host`` form ``{"name": "host",
    "props": props}``."""
    from .named import _compared, closest_model

    try:
        full = cat.expand("host", props)
    except QMPError:
        return {"name": "host", "props": props}
    want = _compared(full)
    fnames = cat.named_tables.field_props
    on = [n for n in fnames if full.get(n)]

    target = _local_desc(cat, _guest_view(want))

    def below(base):
        return compare(cat, target, _local_desc(cat, _guest_view(base)))[0] in ("superset", "identical")

    best = closest_model(
        cat, want, own, admit=below, seed=lambda base_full: {n: True for n in on if not base_full.get(n)}
    )
    if best is None:  # nothing named fits under the baseline here: the host form
        return {"name": "host", "props": props}
    m, delta = best
    return {"name": m, "props": delta} if delta else {"name": m}


def qmp_baseline(cat, modela, modelb):
    a = resolve(cat, modela, "modela", "baseline")
    b = resolve(cat, modelb, "modelb", "baseline")
    props, responsible = baseline(cat, a, b)
    if responsible:
        raise QMPError(
            "No compatible CPU model could be created as these properties cannot be "
            "bridged: %s" % ", ".join(responsible)
        )
    if cat.named_tables is not None:
        return {"model": named_form(cat, props, (a.model, b.model))}
    return {"model": {"name": "host", "props": props}}


def qmp_compare(cat, modela, modelb):
    a = resolve(cat, modela, "modela", "comparison")
    b = resolve(cat, modelb, "modelb", "comparison")
    result, responsible = compare(cat, a, b)
    return {"result": result, "responsible-properties": responsible}
