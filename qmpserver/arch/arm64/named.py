"""Named Arm CPU models and named features under KVM (proposal ``arm-cpu-models``).

Upstream QEMU 7.2-11.1 refuses every named model under KVM (``We cannot guarantee
the CPU type '...' works with KVM on this host``); the customizable-KVM-model
series (reference/qemu-qmp-facts.md section 4.6) names as its next steps named
models (architecture levels "similar to s390 z-models", vendor models "like on
x86") and feature names as sugar over ID-register fields.  This module is that
proposal's one owner of:

* the tables: ``models/arm64/cpu-features.yaml`` (named feature -> FEAT_* ->
  minimum ID-register field values) and ``models/arm64/cpu-models.yaml``
  (architecture levels by their mandatory features, vendor models by a host
  file's ID registers; versioned names ``NAME-vN`` and the alias ``NAME``);
* what a model asks of the ID registers (:class:`ModelDef`: pinned field values,
  minimum values of fields KVM never lets userspace change, vCPU switches);
* the rule that says whether a host can present it: every pinned field that
  differs from the host's value must be one KVM accepts (the ``SYSREG_*``
  acceptance of the ``cpu-idreg-props`` proposal, computed per host in
  :mod:`.derive`: one owner for "what KVM accepts"), every minimum must be met
  by the host, every vCPU feature the model needs must be offered by KVM.

A named model's vCPU is the ``host`` vCPU with the pinned fields written
(QEMU's ``kvm_arm_set_writable_idregs`` path): :mod:`.cpu` builds its class and
:mod:`.abi` reads its registers like ``host``'s.  Nothing here is imported
unless a build has the proposal.
"""

from __future__ import annotations

import os

from . import sysreg as sr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROPOSAL = "arm-cpu-models"
FEATURES_FILE = "arm64/cpu-features.yaml"
MODELS_FILE = "arm64/cpu-models.yaml"
VCPU_FEATURES = ("sve", "pauth", "pmu")  # the upstream properties a named vCPU feature is


class Feature:
    __slots__ = ("name", "feat", "kind", "fields", "requires")

    def __init__(self, name, feat, kind, fields, requires):
        self.name, self.feat, self.kind = name, feat, kind
        self.fields = fields  # ((reg, field, minimum), ...)
        self.requires = requires


class ModelDef:
    """One versioned model: what it asks of the ID registers."""

    __slots__ = (
        "name",
        "alias",
        "version",
        "kind",
        "pins",
        "minimums",
        "vcpu",
        "conditional",
        "host",
        "why",
        "on",
    )

    def __init__(self, name, alias, version, kind):
        self.name, self.alias, self.version, self.kind = name, alias, version, kind
        self.pins: dict[tuple[str, str], int] = {}  # (reg, field) -> value, table order
        self.minimums: dict[tuple[str, str], int] = {}  # fields no kernel lets userspace write
        self.vcpu: dict[str, bool] = {}  # sve / pauth: on or off by default
        self.conditional: list[tuple[str, str]] = []  # (feature, if-feature)
        self.host = None
        self.why = ""
        self.on: list[str] = []  # the named features the definition has on


class Tables:
    def __init__(self, features, feature_index, models, names, order, pinnable):
        self.features = features  # [Feature], file order
        self.by_name = feature_index  # name -> Feature
        self.models = models  # versioned name -> ModelDef
        self.names = names  # every accepted name -> versioned name
        self.order = order  # query-cpu-definitions order: (name, alias-of or None)
        self.pinnable = pinnable  # (reg, field) a kernel may let userspace write
        self.field_props = [f.name for f in features if f.kind == "field"]


_TABLES: Tables | None = None


def _err(path, where, what):
    return sr.DataError(path, where, what)


def _field_key(path, where, text):
    reg, _, field = str(text).partition(".")
    try:
        sr.field(reg, field)
    except sr.SysregError:
        raise _err(
            path, where, "expected REG.FIELD of models/arm64/sysreg-fields.yaml, got %r" % text
        ) from None
    return reg, field


def _load_features(path, doc):
    out, index = [], {}
    for i, e in enumerate(doc.get("features") or ()):
        where = "features[%d]" % i
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            raise _err(path, where, "expected a mapping with a name")
        if e.get("kind") not in ("field", "vcpu", "machine"):
            raise _err(path, where + ".kind", "expected field, vcpu or machine, got %r" % e.get("kind"))
        fields = []
        for k, v in (e.get("fields") or {}).items():
            reg, field = _field_key(path, "%s.fields.%s" % (where, k), k)
            if not isinstance(v, int) or v >> sr.field_width(sr.field(reg, field)):
                raise _err(path, "%s.fields.%s" % (where, k), "expected a field value, got %r" % v)
            fields.append((reg, field, v))
        if not fields:
            raise _err(path, where + ".fields", "expected at least one field")
        for r in e.get("requires") or ():
            if r not in index:
                raise _err(path, where + ".requires", "unknown or later feature %r" % r)
        f = Feature(e["name"], e.get("feat", ""), e["kind"], tuple(fields), tuple(e.get("requires") or ()))
        if f.name in index:
            raise _err(path, where + ".name", "duplicate feature %r" % f.name)
        out.append(f)
        index[f.name] = f
    return out, index


def _order_key(f, v):
    """Field order for minimums: signed fields (all-ones = not implemented) sign-extended."""
    return sr.signed_value(f, v) if f.get("kind") == "signed" else v


def _pinnable() -> frozenset:
    """Fields some kernel in models/arm64/kvm-writable.yaml lets userspace write
    (the newest modelled release, implementation registers included)."""
    from . import kvm as K

    rules = K.writable_rules()
    newest = max(
        (
            K.parse_release(r.get("release", "0.0"))
            for r in rules.get("releases") or ()
            if isinstance(r, dict)
        ),
        default=(99, 0, 0),
    )
    w = K.writable_fields("%d.%d" % newest[:2], None, imp_id_regs=True)
    return frozenset((reg, f) for reg, names in w.items() for f in names)


def _arch_on(path, by_arch, name, seen=()):
    """Mandatory and conditional features of an architecture model, its bases included."""
    if name in seen:
        raise _err(path, "architecture", "extends loop at %r" % name)
    e = by_arch.get(name)
    if e is None:
        raise _err(path, "architecture", "unknown model %r in extends" % name)
    on: list[str] = []
    cond: list[tuple[str, str]] = []
    ext = e.get("extends") or []
    for base in [ext] if isinstance(ext, str) else ext:
        b_on, b_cond = _arch_on(path, by_arch, base, seen + (name,))
        on += [x for x in b_on if x not in on]
        cond += [x for x in b_cond if x not in cond]
    for v in e.get("versions") or ():
        on += [x for x in v.get("mandatory") or () if x not in on]
        cond += [
            (c["feature"], c["if"]) for c in v.get("conditional") or () if (c["feature"], c["if"]) not in cond
        ]
    return on, cond


def _field_values(t_features, on) -> dict[tuple[str, str], int]:
    """(reg, field) -> the value the ``on`` features need (0 where none is on)."""
    out: dict[tuple[str, str], int] = {}
    for f in t_features:
        if f.kind != "field":
            continue
        for reg, field, v in f.fields:
            key = (reg, field)
            out.setdefault(key, 0)
            if f.name in on:
                fd = sr.field(reg, field)
                if _order_key(fd, v) > _order_key(fd, out[key]):
                    out[key] = v
    return out


def tables() -> Tables:
    global _TABLES
    if _TABLES is not None:
        return _TABLES
    from ... import models

    fpath = os.path.join(models.MODELS_DIR, FEATURES_FILE)
    mpath = os.path.join(models.MODELS_DIR, MODELS_FILE)
    fdoc = sr.load_yaml(fpath)
    mdoc = sr.load_yaml(mpath)
    features, index = _load_features(fpath, fdoc)
    pinnable = _pinnable()
    defs: dict[str, ModelDef] = {}
    names: dict[str, str] = {}
    order: list[tuple[str, Any]] = []
    by_arch = {e["name"]: e for e in mdoc.get("architecture") or ()}
    for i, e in enumerate(mdoc.get("architecture") or ()):
        on, cond = _arch_on(mpath, by_arch, e["name"])
        for x in on + [c[0] for c in cond] + [c[1] for c in cond]:
            if x not in index:
                raise _err(mpath, "architecture[%d]" % i, "unknown feature %r" % x)
        values = _field_values(features, on)
        latest = None
        for v in e.get("versions") or ():
            d = ModelDef("%s-v%d" % (e["name"], v["version"]), e["name"], v["version"], "architecture")
            d.on = list(on)
            d.conditional = cond
            for key, val in values.items():
                if key in pinnable:
                    d.pins[key] = val
            for x in on:
                f = index[x]
                if f.kind == "vcpu":
                    d.vcpu[x] = True
                elif f.kind == "field":
                    for reg, field, mv in f.fields:
                        if (reg, field) not in pinnable:
                            d.minimums[(reg, field)] = mv
            d.vcpu.setdefault("sve", False)
            d.vcpu.setdefault("pauth", False)
            defs[d.name] = latest = d
            names[d.name] = d.name
        if latest is not None:
            names[e["name"]] = latest.name
    reg_list = list(mdoc.get("registers") or ())
    for i, e in enumerate(mdoc.get("cpu") or ()):
        latest = None
        for j, v in enumerate(e.get("versions") or ()):
            where = "cpu[%d].versions[%d].host" % (i, j)
            hostdoc = _host_file(mpath, where, v.get("host"))
            idregs = hostdoc.get("idregs") or {}
            d = ModelDef("%s-v%d" % (e["name"], v["version"]), e["name"], v["version"], "cpu")
            d.host = v["host"]
            d.why = v.get("why", "")
            for reg in reg_list:
                value = int(idregs.get(reg, 0))
                for fd in sr.fields(reg):
                    d.pins[(reg, fd["name"])] = sr.get_field(reg, value, fd["name"])
            d.vcpu["sve"] = bool(sr.sve_present(hostdoc))
            d.vcpu["pauth"] = bool(sr.pauth_present(hostdoc))
            d.on = [f.name for f in features if f.kind == "field" and _has(d.pins, f)]
            defs[d.name] = latest = d
            names[d.name] = d.name
        if latest is not None:
            names[e["name"]] = latest.name
    # definitions order: per model the alias first, then its versions
    for e in list(mdoc.get("architecture") or ()) + list(mdoc.get("cpu") or ()):
        vs = ["%s-v%d" % (e["name"], v["version"]) for v in e.get("versions") or ()]
        order.append((e["name"], vs[-1]))
        order += [(n, None) for n in vs]
    _TABLES = Tables(features, index, defs, names, order, pinnable)
    return _TABLES


def _has(values, f) -> bool:
    for reg, field, mv in f.fields:
        fd = sr.field(reg, field)
        if (reg, field) not in values or _order_key(fd, values[(reg, field)]) < _order_key(fd, mv):
            return False
    return True


def _host_file(path, where, name):
    from ... import models

    if not isinstance(name, str):
        raise _err(path, where, "expected a host name of models/hosts/")
    hp = os.path.join(models.MODELS_DIR, "hosts", name + ".yaml")
    if not os.path.exists(hp):
        raise _err(path, where, "no host file models/hosts/%s.yaml" % name)
    return sr.load_yaml(hp)


def enabled(build, accel) -> bool:
    return accel == "kvm" and build.has_proposal(PROPOSAL)


# --------------------------------------------------------------------------
# one vCPU of a named model on one host


class Outcome:
    """What a named model with a feature selection gives on one host."""

    __slots__ = ("sysreg", "unavailable", "reasons", "fields", "values", "vcpu")

    def __init__(self):
        self.sysreg: dict[str, int] = {}  # SYSREG prop -> value written (differs from the host's)
        self.unavailable: list[str] = []  # feature or SYSREG_* names, first blocker first
        self.reasons: list[str] = []  # one line per unavailable name
        self.fields: list = []  # per unavailable name: its (reg, field), None for a vCPU feature
        self.values: dict[tuple[str, str], int] = {}  # the requested field values
        self.vcpu: dict[str, bool] = {}


def requested_values(d: ModelDef, choices: dict[str, bool], vcpu_on, host_values=None) -> tuple[dict, dict]:
    """The field values (pins) and minimums model ``d`` asks for with the user's
    feature ``choices`` (name -> on/off) applied; ``vcpu_on(name)`` tells whether a
    vCPU feature (sve, pauth) ends up on.  A conditional feature ("if FEAT_X is
    implemented, FEAT_Y is") switches on when its condition holds in the final
    selection, unless the user switched it off."""
    t = tables()
    on = [x for x in d.on if choices.get(x, True)] + [x for x, v in choices.items() if v and x not in d.on]
    for feat, cond in d.conditional:
        if feat in choices or feat in on:
            continue
        c = t.by_name[cond]
        if c.kind == "vcpu":
            holds = vcpu_on(cond)
        elif all((r, fl) not in t.pinnable for r, fl, _ in c.fields):
            # a field no kernel lets userspace write: the host decides (fp16 -> fhm)
            hv = {(r, fl): (host_values or {}).get("SYSREG_%s_%s" % (r, fl), 0) for r, fl, _ in c.fields}
            holds = cond in choices and choices[cond] or (cond not in choices and _has(hv, c))
        else:
            holds = cond in on
        if holds:
            on.append(feat)
    if d.kind == "architecture":
        vals = _field_values(t.features, on)
        pins = {k: v for k, v in vals.items() if k in t.pinnable}
        mins: dict[tuple[str, str], int] = {}
        for x in on:
            f = t.by_name[x]
            if f.kind != "field":
                continue
            for reg, field, mv in f.fields:
                key = (reg, field)
                if key not in t.pinnable:
                    fd = sr.field(reg, field)
                    if _order_key(fd, mv) > _order_key(fd, mins.get(key, 0)):
                        mins[key] = mv
        return pins, mins
    pins = dict(d.pins)
    # offs before ons: a feature switched on wins over a conflicting off (pmull=on,aes=off
    # keeps AES at 2), as in an architecture model, whatever the order of the choices
    for name, val in sorted(choices.items(), key=lambda kv: kv[1]):
        f = t.by_name[name]
        if f.kind != "field":
            continue
        for reg, field, mv in f.fields:
            key = (reg, field)
            fd = sr.field(reg, field)
            cur = pins.get(key, 0)
            if val and _order_key(fd, cur) < _order_key(fd, mv):
                pins[key] = mv
            elif not val and _order_key(fd, cur) >= _order_key(fd, mv):
                pins[key] = _level_below(t, key, mv, on)
    return pins, {}


def _level_below(t, key, mv, on) -> int:
    """The highest value below ``mv`` another switched-on feature needs on ``key``."""
    fd = sr.field(*key)
    best = 0
    for f in t.features:
        if f.kind != "field" or f.name not in on:
            continue
        for reg, field, v in f.fields:
            if (reg, field) == key and _order_key(fd, v) < _order_key(fd, mv):
                if _order_key(fd, v) > _order_key(fd, best):
                    best = v
    return best


def _feature_for(t, reg, field, want, have) -> str | None:
    """The named feature a host lacks when it has ``have`` where ``want`` is asked."""
    fd = sr.field(reg, field)
    best = None
    for f in t.features:
        for r, fl, mv in f.fields:
            if (r, fl) == (reg, field) and _order_key(fd, have) < _order_key(fd, mv) <= _order_key(fd, want):
                if best is None or _order_key(fd, mv) < best[0]:
                    best = (_order_key(fd, mv), f.name)
    return None if best is None else best[1]


def evaluate(d: ModelDef, hd: dict, choices: dict[str, bool], vcpu_on, switched_off) -> Outcome:
    """Model ``d`` with ``choices`` on the host of ``hd`` (``Host.derived["arm_cpu"]``).
    ``switched_off(reg, field)``: the field is hidden by a vCPU feature that is off
    (KVM zeroes it; nothing to write)."""
    t = tables()
    out = Outcome()
    values = hd.get("field_values") or {}
    writable = {e["prop"]: e for e in hd.get("sysreg") or ()}
    kvm = hd.get("kvm") or {}
    for name in ("sve", "pauth"):
        on = bool(vcpu_on(name))
        out.vcpu[name] = on
        if on and not kvm.get(name):
            out.unavailable.append(name)
            out.reasons.append("%s: KVM on this host does not offer the vCPU feature" % name)
            out.fields.append(None)
    pins, mins = requested_values(d, choices, vcpu_on, values)
    out.values = dict(pins)
    for (reg, field), want in pins.items():
        if switched_off(reg, field):
            continue
        prop = "SYSREG_%s_%s" % (reg, field)
        have = values.get(prop)
        if have is None or have == want:
            continue
        e = writable.get(prop)
        ok = False
        if e is not None:
            accept = e.get("accept")
            if accept is not None:
                ok = bool((accept >> want) & 1)
            else:
                from .kvm import policy_accepts

                ok = policy_accepts(e["policy"], e["signed"], e["width"], e["host"], want)
        if ok:
            out.sysreg[prop] = want
            continue
        fd = sr.field(reg, field)
        if _order_key(fd, want) > _order_key(fd, have):
            name = _feature_for(t, reg, field, want, have) or prop
            why = "%s.%s: the model needs %d, the host has %d" % (reg, field, want, have)
        else:
            name = prop
            why = "%s.%s: the model needs %d below the host's %d and KVM on this host %s" % (
                reg,
                field,
                want,
                have,
                "does not accept it" if e is not None else "cannot change this field",
            )
        if name not in out.unavailable:
            out.unavailable.append(name)
            out.reasons.append(why)
            out.fields.append((reg, field))
    for (reg, field), mv in mins.items():
        if switched_off(reg, field):
            continue
        prop = "SYSREG_%s_%s" % (reg, field)
        have = values.get(prop)
        fd = sr.field(reg, field)
        if have is not None and _order_key(fd, have) < _order_key(fd, mv):
            name = _feature_for(t, reg, field, mv, have) or prop
            if name not in out.unavailable:
                out.unavailable.append(name)
                out.reasons.append(
                    "%s.%s: the model needs at least %d, the host has %d" % (reg, field, mv, have)
                )
                out.fields.append((reg, field))
    return out


def unusable_text(name: str, out: Outcome) -> str:
    """The error of a named model the host cannot present (proposal; qmpserver's text,
    on the pattern of x86's "Host doesn't support requested features")."""
    return "CPU model '%s' is not usable with KVM on this host: unavailable features: %s" % (
        name,
        ", ".join(out.unavailable),
    )


def host_model(hd: dict) -> ModelDef:
    """``host`` as a model for its named features (``-cpu host,sha3=off``): every
    ID-register field pinned at the host's value, on: the features the host has.
    A feature choice then moves pins exactly as on a CPU model (:func:`requested_values`)
    and :func:`evaluate` decides, with the same KVM acceptance, whether the host can
    present the result: one rule for named models and ``host``."""
    d = ModelDef("host", "host", 0, "host")
    values = hd.get("field_values") or {}
    for prop, reg, field, *_ in hd.get("fields") or ():
        if prop in values:
            d.pins[(reg, field)] = values[prop]
    d.on = [f.name for f in tables().features if f.kind == "field" and _has(d.pins, f)]
    return d


def host_feature_error(choices: dict[str, bool], out: Outcome) -> tuple[str, list[str]]:
    """(message, start-up hints) when ``host`` cannot present its feature choices.
    The message names the first choice behind the first blocking field, on the
    pattern of QEMU's ``'sve' feature not supported by KVM on this host`` and
    ``'aarch64' feature cannot be disabled unless ...`` (qmpserver's text)."""
    t = tables()
    name = out.unavailable[0]
    key = out.fields[0]
    for n in t.field_props:
        if n in choices and key is not None and any((r, fl) == key for r, fl, _ in t.by_name[n].fields):
            name = n
            break
    how = "enabled" if choices.get(name, True) else "disabled"
    return "'%s' feature cannot be %s with KVM on this host" % (name, how), list(out.reasons)


_SWITCHED: dict[str, str] | None = None


def _switched() -> dict[str, str]:
    """SYSREG prop -> the vCPU switch (sve, pauth, pmu, mte) whose "off" hides the
    field (:func:`.migrate.feature_off`), for every field of the table; built once."""
    global _SWITCHED
    if _SWITCHED is None:
        from .migrate import feature_off

        out = {}
        for reg in sr.register_names():
            for f in sr.fields(reg):
                sw = feature_off(reg, f["name"])
                if sw:
                    out["SYSREG_%s_%s" % (reg, f["name"])] = sw.partition("=")[0]
        _SWITCHED = out
    return _SWITCHED


def guest_values(obj) -> dict[str, int]:
    """SYSREG prop -> the value the guest reads, for a finalized named-model vCPU."""
    return _guest_values(obj.cls, obj.sysreg, {f for f in VCPU_FEATURES if obj.get(f) is False})


def _guest_values(c, written: dict, off) -> dict[str, int]:
    vals = dict(c.field_values)
    vals.update(written)
    if off:
        for prop, sw in _switched().items():
            if sw in off and prop in vals:
                vals[prop] = 0
    return vals


def feature_props(c, props: dict) -> dict[str, bool]:
    """The named feature properties of class ``c`` for an expansion whose other
    properties are ``props`` (its SYSREG_* values and vCPU switches): the fast
    paths of expansion use it, so a feature always reads what the fields say."""
    written = {k: v for k, v in props.items() if k.startswith("SYSREG_")}
    # a vCPU switch a class does not list (pmu on a host without a PMU) reads off
    gv = _guest_values(c, written, {f for f in VCPU_FEATURES if not props.get(f, False)})
    return {n: _feature_on(n, gv) for n in c.features}


def feature_on(obj, name: str, gv: dict | None = None) -> bool:
    """A named feature property of a named-model vCPU: on when every field it names
    reads at least the feature's value (``gv``: :func:`guest_values`, if known)."""
    return _feature_on(name, gv if gv is not None else guest_values(obj))


def _feature_on(name: str, vals: dict) -> bool:
    f = tables().by_name[name]
    for reg, field, mv in f.fields:
        v = vals.get("SYSREG_%s_%s" % (reg, field), 0)
        fd = sr.field(reg, field)
        if _order_key(fd, v) < _order_key(fd, mv):
            return False
    return True


# --------------------------------------------------------------------------
# QMP (bound in qmpserver.commands.cpu)


def definitions(cat, upstream: list) -> list:
    """``query-cpu-definitions`` with the named models (KVM, proposal on): the
    upstream entries (an upstream name the proposal reuses, neoverse-n1/-v1,
    replaced), then per model its alias and its versions, each with
    ``unavailable-features`` on this host (empty = usable) and ``alias-of``."""
    from .cpu import CpuError

    t = cat.named_tables
    out = [d for d in upstream if d["name"] not in t.names]
    for name, alias_of in t.order:
        try:
            cat.expand_default(name)
            blocked: list[str] = []
        except CpuError as err:
            blocked = list(err.unavailable)
        # member order: the recorded 11.1 entries' (name, typename, ..., deprecated)
        e: dict[str, Any] = {"name": name, "typename": name + "-arm-cpu", "unavailable-features": blocked}
        if alias_of is not None:
            e["alias-of"] = alias_of
        e["static"] = False
        e["migration-safe"] = True
        e["deprecated"] = False
        out.append(e)
    return out


def _compared(full: dict) -> dict:
    """The properties a static expansion states: upstream booleans and SYSREG_*
    (named features are derived from the SYSREG_* fields)."""
    t = tables()
    return {k: v for k, v in full.items() if k not in t.by_name or t.by_name[k].kind == "vcpu"}


def static_expansion(cat, name: str, props) -> dict:
    """``query-cpu-model-expansion`` ``static``: the named model closest to the
    input's full expansion plus the deltas (``SYSREG_*`` and upstream booleans)
    that make it equal; like s390x's base model plus deltas.  Ties: the input's
    own model, then the later model in ``cpu-models.yaml`` (vendor models are
    last: the most specific)."""
    from ...errors import QMPError
    from .cpu import CpuError

    try:
        full = cat.expand_default(name) if props is None else cat.expand(name, props)
    except CpuError as e:
        raise QMPError(e.message) from None
    best = closest_model(cat, _compared(full), own=(cat.named_tables.names.get(name),))
    if best is None:
        raise QMPError(
            "CPU model '%s' has no static expansion on this host: no named model is usable here" % name
        )
    m, delta = best
    return {"model": {"name": m, "props": delta}} if delta else {"model": {"name": m}}


def closest_model(cat, want: dict, own=(), admit=None, seed=None):
    """(versioned model, delta) whose expansion on this host plus ``delta`` equals
    ``want`` (upstream booleans and ``SYSREG_*``, see :func:`_compared`) with the
    fewest deltas, or None.  ``admit(base)``: a model's own expansion may be
    considered; ``seed(full)``: the first delta to try (default: every property that
    differs); the properties still differing are then added.  Ties: a model in
    ``own``, then the later model in ``cpu-models.yaml`` (vendor models last: the most
    specific).  Every answer was re-expanded and found equal."""
    from ...errors import QMPError
    from .cpu import CpuError

    best = None
    for i, m in enumerate(cat.named_tables.models):
        try:
            base_full = cat.expand_default(m)
        except CpuError:
            continue
        base = _compared(base_full)
        if base.keys() != want.keys() or (admit is not None and not admit(base)):
            continue
        delta = seed(base_full) if seed is not None else {k: v for k, v in want.items() if base[k] != v}
        got: dict | None = None
        for _ in range(4):  # a delta can change what the model writes (sve=on un-hides ZFR0)
            try:
                got = _compared(cat.expand(m, dict(delta)))
            except (CpuError, QMPError):
                got = None
                break
            more = {k: v for k, v in want.items() if got.get(k) != v}
            if not more:
                break
            # vCPU switches first: they decide which fields the model writes
            delta.update({k: v for k, v in more.items() if not k.startswith("SYSREG_")} or more)
        if got != want:
            continue
        key = (len(delta), m not in own, -i)
        if best is None or key < best[0]:
            best = (key, m, delta)
    return None if best is None else best[1:]


def writable_id_regs(host, build) -> dict:
    """``query-arm-cpu-writable-id-regs`` (proposal): per ID register of the
    feature-ID range, the mask KVM_ARM_GET_REG_WRITABLE_MASKS reports on this
    host and kernel (a VM that enabled KVM_CAP_ARM_WRITABLE_IMP_ID_REGS where
    the kernel offers it, as QEMU does with cpu-idreg-props), with the field
    names under the mask; and whether the implementation registers (MIDR,
    REVIDR, AIDR) are writable (Linux 6.15+)."""
    from . import kvm as K

    data = host.data
    imp = K.host_cap(data, "KVM_CAP_ARM_WRITABLE_IMP_ID_REGS") > 0
    masks = K.writable_masks(None, data, imp_id_regs=imp)
    regs = []
    for reg, mask in masks.items():
        fields = [f["name"] for f in sr.fields(reg) if sr.field_mask(f) & mask]
        regs.append(
            {"name": reg, "encoding": list(sr.register(reg)["encoding"]), "mask": mask, "fields": fields}
        )
    return {
        "kernel": K.host_release(data),
        "ioctl": bool(masks),
        "implementation-id-regs-writable": bool(masks) and imp,
        "registers": regs,
    }


# --------------------------------------------------------------------------
# migration planning


_PRESENTED: dict = {}  # (id(profile), model) -> (profile, answer): the profile kept alive
_PRESENT_CAT: dict = {}  # id(profile) -> (profile, its KVM catalogue)


def _presented(profile, name):
    """(guest field values, MIDR, vCPU switches) model ``name`` gives on ``profile``
    under KVM, or None when the host cannot present it (cached per profile object:
    a matrix asks for every pair)."""
    key = (id(profile), name)
    got = _PRESENTED.get(key)
    if got is not None and got[0] is profile:
        return got[1]
    if len(_PRESENTED) > 4096:
        _PRESENTED.clear()
        _PRESENT_CAT.clear()
    entry = _PRESENT_CAT.get(id(profile))
    if entry is None or entry[0] is not profile:
        from .cpu import Catalog

        cat = Catalog(
            profile.build, profile.host, "kvm", sysreg_props=profile.build.has_proposal("cpu-idreg-props")
        )
        entry = _PRESENT_CAT[id(profile)] = (profile, cat)
    answer = _present(entry[1], name)
    _PRESENTED[key] = (profile, answer)
    return answer


def _present(cat, name):
    from .cpu import CpuError

    try:
        obj = cat.new(name)
        obj.finalize()
    except CpuError:
        return None
    midr = int((cat.hd.get("kvm") or {}).get("midr") or 0)
    for prop, v in obj.sysreg.items():
        if prop.startswith("SYSREG_MIDR_EL1_"):
            midr = sr.set_field("MIDR_EL1", midr, prop[len("SYSREG_MIDR_EL1_") :], int(v))
    return guest_values(obj), midr, tuple(bool(obj.get(f)) for f in VCPU_FEATURES)


def portable_model(a, b, notes: list) -> str | None:
    """The most specific named model both profiles' hosts present identically (same
    ID-register fields, MIDR and vCPU switches): a candidate worth one migration
    trial.  Decided from the compiled host data, without starting an instance.
    Vendor models first (most specific), then architecture levels newest first."""
    if not (a.build.has_proposal(PROPOSAL) and b.build.has_proposal(PROPOSAL)):
        return None
    t = tables()
    both_usable = []
    for m in reversed(list(t.models)):
        pa = _presented(a, m)
        if pa is None:
            continue
        pb = _presented(b, m)
        if pb is None:
            continue
        if pa == pb:
            return m
        both_usable.append(m)
    if both_usable:
        notes.append(
            "named CPU models usable on both hosts but presenting different registers there (not tried): %s"
            % ", ".join(both_usable[:6])
        )
    return None
