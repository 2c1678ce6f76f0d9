"""What an aarch64 vCPU carries in a live migration, and whether a destination's KVM takes it.

QEMU sends each vCPU's *cpreg list* -- under KVM every register index
``KVM_GET_REG_LIST`` gives except the core and SVE groups, sorted, with its
value (``target/arm/kvm.c`` kvm_arm_init_cpreg_list, ``target/arm/machine.c``
vmstate_arm_cpu) -- and the destination, in ``cpu_post_load``:

1. refuses a list longer than its own: ``Invalid value N expecting positive
   value <= M`` / ``Failed to load cpu:cpreg_vmstate_array_len`` (-EINVAL, the
   field is ``VMSTATE_INT32_POSITIVE_LE``);
2. refuses an index it does not have (-EPERM, nothing printed);
3. writes every value with KVM_SET_ONE_REG (``write_list_to_kvmstate``); one
   refused write fails the load (-EPERM on QEMU 7.2).  KVM's rules
   (Linux ``arch/arm64/kvm/sys_regs.c``, ``hypercalls.c``): MIDR/REVIDR/AIDR
   only the host's value (``set_invariant_sys_reg``; writable from 6.15 only
   after KVM_CAP_ARM_WRITABLE_IMP_ID_REGS, which QEMU up to 10.0 never
   enables); ID registers exactly the host's before 6.7, then per field within
   the writable mask and the safe-value policy (:func:`.kvm.check_register_write`, through
   the destination's compiled :class:`.kvm.FieldChecker`);
   firmware pseudo-registers by :func:`fw_write_check`.

The list a vCPU has is modelled from ``models/arm64/kvm-reg-list.yaml`` (the
registers every vCPU has, those behind a vCPU feature, the ID space) plus the
firmware registers of the host's kernel (``kvm-firmware-regs.yaml``).

Under TCG the list is QEMU's own for the CPU model; qmpserver does not model
the TCG register image beyond the model's name, so two TCG vCPUs of the same
model carry identical lists and two of different models differ in their
values (what QEMU's ``write_list_to_cpustate`` refuses for constant ID
registers).
"""

from __future__ import annotations

from ..migrate import Incoming, Refusal, cpu_common
from . import kvm
from . import sysreg as sr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

# ID-register fields a vCPU feature switches off: KVM hides them when the VMM
# did not ask for the feature (Linux sys_regs.c read_sanitised_id_aa64pfr0/
# pfr1/zfr0/isar1/isar2/dfr0 and the vcpu_has_* checks; QEMU target/arm/kvm.c).
FEATURE_OFF: dict[tuple[str, str], str] = {
    ("ID_AA64PFR0_EL1", "SVE"): "sve=off",
    ("ID_AA64ZFR0_EL1", "*"): "sve=off",
    ("ID_AA64ISAR1_EL1", "APA"): "pauth=off",
    ("ID_AA64ISAR1_EL1", "API"): "pauth=off",
    ("ID_AA64ISAR1_EL1", "GPA"): "pauth=off",
    ("ID_AA64ISAR1_EL1", "GPI"): "pauth=off",
    ("ID_AA64ISAR2_EL1", "APA3"): "pauth=off",
    ("ID_AA64ISAR2_EL1", "GPA3"): "pauth=off",
    ("ID_AA64DFR0_EL1", "PMUVer"): "pmu=off",
    ("ID_DFR0_EL1", "PerfMon"): "pmu=off",
    ("ID_AA64PFR1_EL1", "MTE"): "mte=off",
    ("ID_AA64PFR1_EL1", "MTE_frac"): "mte=off",
    ("ID_AA64PFR1_EL1", "MTEX"): "mte=off",
    ("ID_AA64PFR2_EL1", "MTEFAR"): "mte=off",
    ("ID_AA64PFR2_EL1", "MTESTOREONLY"): "mte=off",
    ("ID_AA64PFR2_EL1", "MTEPERM"): "mte=off",
}
INVARIANT = ("MIDR_EL1", "REVIDR_EL1", "AIDR_EL1")
_CHECKED_CLASSES = ("aarch64-id", "aarch32-id")


def feature_off(reg: str, field: str) -> str | None:
    """The vCPU switch that hides ``reg.field`` (``sve=off`` ...), or None."""
    return FEATURE_OFF.get((reg, field)) or FEATURE_OFF.get((reg, "*"))


def reg_list_table() -> Mapping[str, Any]:
    return sr.data("kvm-reg-list")


def _expand(entry: Mapping[str, Any]) -> list[tuple[str, list[int]]]:
    first, last = entry["n"]
    out = []
    for n in range(first, last + 1):
        enc = []
        for part in entry["encoding"]:
            if isinstance(part, int):
                enc.append(part)
            elif part == "n":
                enc.append(n)
            elif part == "n&7":
                enc.append(n & 7)
            else:  # "B|n>>3"
                base, _, _ = str(part).partition("|")
                enc.append(int(base) | n >> 3)
        out.append((entry["name"].replace("<n>", str(n)), enc))
    return out


class _Layout:
    """The parts of the cpreg list that do not depend on the host or the guest,
    computed once from the data files: the state registers every vCPU has
    (index -> name), those behind a vCPU feature, the unallocated ID
    encodings, the checked registers with their indexes, and the ID-register
    fields a feature switch hides.  kvm_reg_list and guest_idregs run for
    every vCPU of every migration a plan tries, so they only fill in values."""

    def __init__(self) -> None:
        t = reg_list_table()
        table = sr.sysreg_table()["registers"]
        by_enc = {tuple(reg["encoding"]): name for name, reg in table.items()}
        self.state: dict[int, str] = {}
        for name, enc in (t.get("always") or {}).items():
            self.state[sr.kvm_one_reg_id(enc)] = name
        for rep in t.get("repeat") or ():
            for name, enc in _expand(rep):
                self.state[sr.kvm_one_reg_id(enc)] = name
        self.raz: dict[int, str] = {}
        sp = t["id_space"]
        for crm in range(sp["crm"][0], sp["crm"][1] + 1):
            for op2 in range(sp["op2"][0], sp["op2"][1] + 1):
                enc = (sp["op0"], sp["op1"], sp["crn"], crm, op2)
                if enc not in by_enc:  # unallocated: reads as zero
                    self.raz[sr.kvm_one_reg_id(list(enc))] = "S%d_%d_C%d_C%d_%d" % enc
        self.checked = [r for r, d in table.items() if d.get("class") in _CHECKED_CLASSES]
        self.checked += list(t.get("checked") or ())
        self.checked_ids = [
            (
                reg,
                sr.kvm_one_reg_id(list(table[reg]["encoding"]) if reg in table else list(t["checked"][reg])),
            )
            for reg in self.checked
        ]
        self.invariant_ids = [(reg, sr.kvm_one_reg_id(list(t["invariant"][reg]))) for reg in INVARIANT]
        self.gated: dict[str, dict[int, str]] = {}
        for feat, names in (t.get("gated") or {}).items():
            g = self.gated.setdefault(feat, {})
            for name, enc in names.items():
                g[sr.kvm_one_reg_id(enc)] = name
        for feat, reps in (t.get("gated_repeat") or {}).items():
            g = self.gated.setdefault(feat, {})
            for rep in reps:
                for name, enc in _expand(rep):
                    g[sr.kvm_one_reg_id(enc)] = name
        self.extra = int(t.get("always_extra") or 0)
        # switch -> register -> the bits of the fields it hides
        self.switched: dict[str, dict[str, int]] = {}
        for reg in self.checked + list(INVARIANT):
            for f in sr.fields(reg) if reg in table else ():
                sw = feature_off(reg, f["name"])
                if sw:
                    masks = self.switched.setdefault(sw, {})
                    masks[reg] = masks.get(reg, 0) | sr.field_mask(f)


_LAYOUT: list[_Layout] = []


def _layout() -> _Layout:
    if not _LAYOUT:
        _LAYOUT.append(_Layout())
    return _LAYOUT[0]


def checked_registers() -> list[str]:
    """Registers whose values a destination's KVM validates like ID registers."""
    return list(_layout().checked)


# --- a vCPU's register values ---------------------------------------------------------------


def guest_idregs(host: Mapping[str, Any], abi: Mapping[str, Any]) -> dict[str, int]:
    """Register name -> value the guest reads, for the checked and invariant
    registers: the host's registers, the ``SYSREG_*`` fields of the guest ABI
    applied, then what the vCPU's features hide (``sve``/``pmu``/MTE off)
    cleared.  ``abi`` is the dict form of :class:`qmpserver.vm.abi.GuestABI`."""
    hostregs = sr.idregs_of(host)
    cpu = abi.get("cpu") or {}
    fields = cpu.get("idregs") or {}
    out: dict[str, int] = {}
    for reg in checked_registers() + list(INVARIANT):
        out[reg] = int(hostregs.get(reg, 0))
    if cpu.get("midr") is not None:
        out["MIDR_EL1"] = int(cpu["midr"])
    for key, v in fields.items():
        reg, _, name = key.partition(".")
        if reg in out:
            out[reg] = sr.set_field(reg, out[reg], name, int(v))
    sve_off = not cpu.get("sve-vector-lengths")
    off = {
        "sve=off": sve_off,
        "pmu=off": not cpu.get("pmu"),
        "pauth=off": cpu.get("pauth") is False,
        "mte=off": abi.get("mte") in (None, "none"),
    }
    for switch, masks in _layout().switched.items():
        if off.get(switch):
            for reg, mask in masks.items():
                out[reg] &= ~mask
    mte = abi.get("mte")
    if mte not in (None, "none") and "ID_AA64PFR1_EL1" in out:
        out["ID_AA64PFR1_EL1"] = sr.set_field("ID_AA64PFR1_EL1", out["ID_AA64PFR1_EL1"], "MTE", int(mte))
    return out


def vcpu_features(regs: Mapping[str, int], abi: Mapping[str, Any]) -> set[str]:
    """The vCPU features that gate registers in the list."""
    out = set()
    if sr.get_field("ID_AA64PFR0_EL1", regs.get("ID_AA64PFR0_EL1", 0), "SVE"):
        out.add("sve")
    if any(
        sr.get_field(reg, regs.get(reg, 0), f)
        for reg, f in (
            ("ID_AA64ISAR1_EL1", "APA"),
            ("ID_AA64ISAR1_EL1", "API"),
            ("ID_AA64ISAR2_EL1", "APA3"),
        )
    ):
        out.add("pauth")
    if abi.get("mte") not in (None, "none"):
        out.add("mte")
    if (abi.get("cpu") or {}).get("pmu"):
        out.add("pmu")
    return out


class Entry:
    """One cpreg of the list: index, name, value and how KVM checks a write."""

    __slots__ = ("index", "name", "value", "kind")

    def __init__(self, index: int, name: str, value: int, kind: str) -> None:
        self.index, self.name, self.value, self.kind = index, name, value, kind


def kvm_reg_list(host: Mapping[str, Any], abi: Mapping[str, Any]) -> list[Entry]:
    """The cpreg list of a KVM vCPU with guest ABI ``abi`` on ``host``, sorted by index.

    ``kind``: ``invariant`` | ``id`` (validated like an ID register) | ``raz``
    (an unallocated ID encoding) | ``fw``
    (firmware pseudo-register) | ``state`` (guest state, any value loads)."""
    lay = _layout()
    regs = guest_idregs(host, abi)
    entries: dict[int, Entry] = {i: Entry(i, n, 0, "state") for i, n in lay.state.items()}
    for i, n in lay.raz.items():
        entries[i] = Entry(i, n, 0, "raz")
    for reg, i in lay.checked_ids:
        entries[i] = Entry(i, reg, regs.get(reg, 0), "id")
    for reg, i in lay.invariant_ids:
        entries[i] = Entry(i, reg, regs.get(reg, 0), "invariant")
    for feat in vcpu_features(regs, abi):
        for i, n in lay.gated.get(feat, {}).items():
            entries[i] = Entry(i, n, 0, "state")
    fw = abi.get("firmware") or {}
    fwtable = {r["name"]: r for r in kvm.firmware_table()["registers"]}
    for name, value in fw.items():
        entry = fwtable.get(name)
        if entry is not None:
            i = int(entry["id"])
            entries[i] = Entry(i, name, int(value), "fw")
    # registers counted, not named (timer, CCSIDR demux: kvm-reg-list.yaml
    # always_extra): given CCSIDR demux indexes (KVM_REG_ARM64 | KVM_REG_SIZE_U32 |
    # KVM_REG_ARM_DEMUX | KVM_REG_ARM_DEMUX_ID_CCSIDR | k), state only
    for k in range(lay.extra):
        i = 0x6020000000110000 | k
        entries[i] = Entry(i, "DEMUX_CCSIDR_%d" % k, 0, "state")
    return sorted(entries.values(), key=lambda e: e.index)


# --- the destination's KVM ---------------------------------------------------------------------


def fw_write_check(entry: Mapping[str, Any], value: int) -> str | None:
    """Would ``kvm_arm_set_fw_reg`` (Linux ``arch/arm64/kvm/hypercalls.c``) accept
    ``value`` for the firmware register ``entry`` (one of :func:`.kvm.firmware_regs`,
    whose ``default`` is this kernel's own value)?  None, or why not."""
    name = entry["name"]
    mine = int(entry.get("default") or 0)
    how = entry.get("settable")
    if name.endswith("PSCI_VERSION"):
        impl = entry.get("implemented")
        ok = value in impl if impl is not None else value <= mine
        return None if ok else "PSCI version %#x not implemented by this kernel" % value
    if name.endswith("WORKAROUND_2"):
        # 0 NOT_AVAIL / 1 UNKNOWN count as NOT_AVAIL, 2 AVAIL / 3 NOT_REQUIRED as
        # NOT_REQUIRED; the ENABLED bit (0x10) only with AVAIL
        def norm(v: int) -> int:
            return 0 if (v & 0xF) in (0, 1) else 1

        if value & ~0x1F or (value & 0x10 and value & 0xF != 2):
            return "workaround 2 value %#x malformed" % value
        if norm(value) > norm(mine):
            return "workaround 2 state %d above this kernel's %d" % (value & 0xF, mine & 0xF)
        return None
    if how == "compatible":
        return None if value <= mine else "level %d above this kernel's %d" % (value, mine)
    if isinstance(how, dict) and "bits" in how:
        extra = value & ~int(how["bits"])
        return None if not extra else "bits %#x not implemented by this kernel" % extra
    if how == "lower":
        return None if value <= mine else "value %#x above this kernel's %#x" % (value, mine)
    return None if value == mine else "not settable (this kernel has %#x)" % mine


def limit_list(host: Mapping[str, Any], abi: Mapping[str, Any]) -> list[Entry]:
    """A destination's own list with KVM's limits as values: the host's registers
    with what its vCPU's features hide (its ``SYSREG_*`` lowering is a write of
    its own, not a limit)."""
    cpu = dict(abi.get("cpu") or {})
    cpu["idregs"] = None
    return kvm_reg_list(host, {**abi, "cpu": cpu})


def check_incoming(
    dst_host: Mapping[str, Any],
    dst_list: list[Entry],
    src_index: list[int],
    src_value: list[int],
    count: int,
    imp_id_regs: bool = False,
) -> Refusal | None:
    """``cpu_post_load`` + ``write_list_to_kvmstate`` of a destination whose own
    list is ``dst_list`` (:func:`limit_list` of its vCPU) on ``dst_host``.
    ``imp_id_regs``: the destination's QEMU enabled KVM_CAP_ARM_WRITABLE_IMP_ID_REGS
    (the ``cpu-idreg-props`` proposal does on a kernel that has it; upstream QEMU
    never does), so MIDR/REVIDR/AIDR follow the writable-field rules."""
    if count > len(dst_list):
        return Refusal(
            1,
            22,
            [
                "Invalid value %d expecting positive value <= %d" % (count, len(dst_list)),
                "Failed to load cpu:cpreg_vmstate_array_len",
            ],
            ["the source lists %d registers, this host's KVM %d" % (count, len(dst_list))],
        )
    mine = {e.index: e for e in dst_list}
    missing = [i for i in src_index if i not in mine]
    if missing:
        names = ["%#x" % i for i in missing]
        return Refusal(2, 1, [], ["register %s unknown to this host's KVM" % ", ".join(names)])
    kernel = kvm.host_release(dst_host)
    hostregs = sr.idregs_of(dst_host)
    limits = {e.index: e for e in dst_list}
    fw = {r["name"]: r for r in kvm.firmware_regs(kernel, dst_host)}
    # the destination's rules compiled once (shared by every vCPU of the migration):
    # kvm.check_register_write's answers without rebuilding the writable mask per field
    check = kvm.field_checker(kernel, dst_host, imp_id_regs=imp_id_regs).check_register
    why: list[str] = []
    for i, v in zip(src_index, src_value):
        e = limits[i]
        if e.kind == "state":
            continue
        if e.kind == "invariant" and imp_id_regs:
            r = check(e.name, int(hostregs.get(e.name, 0)), v)
            if r:
                why.append(r)
        elif e.kind == "invariant":
            host_v = int(hostregs.get(e.name, 0))
            if v != host_v:
                why.append(
                    "%s: %#x differs from this host's %#x (invariant: KVM_CAP_ARM_WRITABLE_IMP_ID_REGS "
                    "not enabled by QEMU)" % (e.name, v, host_v)
                )
        elif e.kind == "id":
            r = check(e.name, e.value, v)
            if r:
                why.append(r)
        elif e.kind == "raz":
            if v:
                why.append("%s: unallocated ID register, only 0 is accepted (got %#x)" % (e.name, v))
        elif e.kind == "fw":
            r = fw_write_check(fw[e.name], v) if e.name in fw else "unknown to this kernel"
            if r:
                why.append("%s: %s" % (e.name, r))
    if why:
        return Refusal(3, 1, [], why)
    return None


# --- TCG -----------------------------------------------------------------------------------------


def tcg_reg_list(abi: Mapping[str, Any], image: Mapping[str, Any] | None = None) -> list[Entry]:
    """A TCG vCPU's cpreg list.

    ``image`` (:func:`tcg_image_key`) names a measured register image: the
    list and values QEMU 7.2 sends for that CPU model, MTE, SVE/pauth switches
    and CPU count (``models/arm64/tcg-cpregs-7.2.yaml``, captured from real
    streams).  Without one (another QEMU version, a model not measured) the
    list is the registers every vCPU has plus MIDR_EL1 standing for the model's
    constant ID registers: two vCPUs of one model are identical and two models
    differ, but the count and the exact refusal are not QEMU's."""
    if image is not None:
        measured = _tcg_measured(image)
        if measured is not None:
            return measured
    t = reg_list_table()
    out = []
    for name, enc in (t.get("always") or {}).items():
        out.append(Entry(sr.kvm_one_reg_id(enc), name, 0, "state"))
    for rep in t.get("repeat") or ():
        for name, enc in _expand(rep):
            out.append(Entry(sr.kvm_one_reg_id(enc), name, 0, "state"))
    midr = (abi.get("cpu") or {}).get("midr") or 0
    out.append(Entry(sr.kvm_one_reg_id(t["invariant"]["MIDR_EL1"]), "MIDR_EL1", int(midr), "const"))
    return sorted(out, key=lambda e: e.index)


def tcg_image_key(
    version: tuple[int, ...], model: str | None, *, mte: bool, sve: bool, pauth: bool, smp: int
) -> dict[str, Any]:
    """What selects a measured TCG register image (see :func:`tcg_reg_list`)."""
    return {"version": tuple(version[:2]), "model": model, "mte": mte, "sve": sve, "pauth": pauth, "smp": smp}


def _expand_runs(items: Any) -> list[int]:
    out: list[int] = []
    for it in items:
        if isinstance(it, list):
            out.extend(range(int(it[0]), int(it[1]) + 1))
        else:
            out.append(int(it))
    return out


_TCG_CACHE: dict[tuple[Any, ...], list[Entry] | None] = {}


def _tcg_measured(key: Mapping[str, Any]) -> list[Entry] | None:
    """The measured list for ``key``, or None when nothing was measured for it.

    The base list is the model's at ``-smp 1``; the variants measured on their
    own (``mte=on``, ``sve=off``, ``pauth=off``: registers added, removed,
    values changed) are applied on top, together when several are asked for
    (an inference: each was measured alone); CPU-count registers (L2CTLR)
    follow their measured values at 1 and 2 CPUs, linearly beyond (the rule
    the data file states, from QEMU's readfn)."""
    ck = tuple(sorted(key.items()))
    if ck in _TCG_CACHE:
        return _TCG_CACHE[ck]
    name = "tcg-cpregs-%d.%d" % tuple(key["version"])
    model = key["model"]
    out: list[Entry] | None = None
    if name in sr.DATA_FILES:
        d = sr.data(name)
        m = (d.get("models") or {}).get(model)
        if m is not None:
            regs = d.get("registers") or {}
            indexes = set(_expand_runs(m["indexes"]))
            values = {int(k): int(v) for k, v in (m.get("values") or {}).items()}
            wanted = []
            if key["mte"]:
                wanted.append("%s/smp1/mte=on" % model)
            if not key["sve"]:
                wanted.append("%s,sve=off/smp1" % model)
            if not key["pauth"]:
                wanted.append("%s,pauth=off/smp1" % model)
            variants = d.get("variants") or {}
            if all(w in variants for w in wanted):
                for w in wanted:
                    v = variants[w]
                    indexes |= set(_expand_runs(v.get("added") or ()))
                    indexes -= set(_expand_runs(v.get("removed") or ()))
                    values.update({int(k): int(x) for k, x in (v.get("values") or {}).items()})
                smp = max(1, int(key["smp"]))
                for idx, dep in (d.get("smp_dependent") or {}).items():
                    at = (dep.get("values") or {}).get(model)
                    if at and int(idx) in indexes:
                        v1, v2 = int(at[0]), int(at[1])
                        values[int(idx)] = v1 + (smp - 1) * (v2 - v1)
                out = [
                    Entry(
                        i,
                        str((regs.get(i) or {}).get("name") or "%#x" % i),
                        values.get(i, 0),
                        "const" if (regs.get(i) or {}).get("check") == "refused" else "state",
                    )
                    for i in sorted(indexes)
                ]
    _TCG_CACHE[ck] = out
    return out


def tcg_image_measured(key: Mapping[str, Any]) -> bool:
    """A measured register image exists for ``key`` (:func:`tcg_image_key`)."""
    return _tcg_measured(key) is not None


def check_tcg_identity(src_abi: Mapping[str, Any], dst_abi: Mapping[str, Any]) -> Refusal | None:
    """TCG without a measured image on both sides: the lists are not comparable,
    so compare what they stand for -- the CPU model and the features that change
    a model's list (MTE, SVE lengths, PMU, pauth) -- and refuse like a differing
    constant register would (EPERM, nothing printed)."""
    sc, dc = src_abi.get("cpu") or {}, dst_abi.get("cpu") or {}
    why = [
        "%s: %r differs from this vCPU's %r (TCG register image not measured for one side: "
        "compared by model and features)" % (name, a, b)
        for name, a, b in (
            ("CPU model", sc.get("model"), dc.get("model")),
            ("MTE", src_abi.get("mte"), dst_abi.get("mte")),
            ("SVE vector lengths", sc.get("sve-vector-lengths"), dc.get("sve-vector-lengths")),
            ("PMU", sc.get("pmu"), dc.get("pmu")),
            ("pauth", sc.get("pauth"), dc.get("pauth")),
        )
        if a != b
    ]
    return Refusal(3, 1, [], why) if why else None


def check_incoming_tcg(
    dst_list: list[Entry], src_index: list[int], src_value: list[int], count: int
) -> Refusal | None:
    """``cpu_post_load`` under TCG: the same list checks, then
    ``write_list_to_cpustate``, which refuses a constant register whose
    incoming value differs from the model's (-EPERM)."""
    if count > len(dst_list):
        return Refusal(
            1,
            22,
            [
                "Invalid value %d expecting positive value <= %d" % (count, len(dst_list)),
                "Failed to load cpu:cpreg_vmstate_array_len",
            ],
            ["the source lists %d registers, this CPU model %d" % (count, len(dst_list))],
        )
    mine = {e.index: e for e in dst_list}
    if any(i not in mine for i in src_index):
        return Refusal(2, 1, [], ["a register unknown to this CPU model"])
    why = [
        "%s: %#x differs from this CPU model's %#x" % (mine[i].name, v, mine[i].value)
        for i, v in zip(src_index, src_value)
        if mine[i].kind == "const" and v != mine[i].value
    ]
    return Refusal(3, 1, [], why) if why else None


# --- the virt machine in a migration ----------------------------------------------------------

CPU_VERSION = 22  # vmstate_arm_cpu
CPU_COMMON_IDSTR = "cpu_common"
# virt's interrupt controller (hw/intc/arm_gic_common.c, arm_gicv3_common.c vmsd names)
GIC_IDSTR = {2: "arm_gic", 3: "arm_gicv3", 4: "arm_gicv3"}


def ram_blocks(inst: Any) -> list[tuple[str, int]]:
    """RAM blocks of the machine (hw/arm/virt.c: ``mach-virt.ram``; MTE under TCG
    adds the tag memory ``mach-virt.tag``, 1/32 of RAM)."""
    size = int(inst.memory.size if hasattr(inst.memory, "size") else inst.config.memory or 128 << 20)
    if inst.machine.type == "none":
        return []
    blocks = [("mach-virt.ram", size)]
    board = inst.board
    if board is not None and getattr(board, "mte", None) and inst.accel == "tcg":
        blocks.append(("mach-virt.tag", size // 32))
    return blocks


def vcpu_count(inst: Any) -> int:
    if inst.machine.type == "none" or inst.cpu.realized is None:
        return 0
    return int((inst.machine.smp or {}).get("cpus") or 1)


def _read_cpregs(r: Any) -> tuple[int, list[int], list[int]]:
    """The cpreg arrays of vmstate_arm_cpu: (count as sent, indexes, values)."""
    import struct

    (n,) = struct.unpack(">i", r.bytes(4))
    r.check("cpu", "cpreg_vmstate_array_len")
    if n < 0:
        return n, [], []
    idx = list(struct.unpack(">%dQ" % n, r.bytes(8 * n)))
    r.check("cpu", "cpreg_vmstate_indexes")
    val = list(struct.unpack(">%dQ" % n, r.bytes(8 * n)))
    r.check("cpu", "cpreg_vmstate_values")
    return n, idx, val


class Machine:
    """What an aarch64 virt instance sends (RAM, per vCPU ``cpu_common`` and ``cpu``
    v22 with its cpreg list, the GIC) and what a destination checks (:func:`check_incoming`
    under KVM, the TCG register image otherwise)."""

    page_bits = 12
    sends_page_bits = True  # TARGET_PAGE_BITS_VARY: the configuration section carries it

    def __init__(self, inst: Any) -> None:
        self.abi: dict[str, Any] = inst.abi.to_dict()
        self.blocks = ram_blocks(inst)
        self.abi["ram-size"] = sum(s for _, s in self.blocks)
        # the profile's host facts themselves (immutable once loaded), not a copy: the
        # destination's compiled KVM rules (kvm.field_checker) are kept per host object
        self.host = inst.host.data
        self.vcpus = vcpu_count(inst)
        self.gic = self.abi.get("gic", {}).get("version")
        self.kvm = inst.accel == "kvm"
        # QEMU enables KVM_CAP_ARM_WRITABLE_IMP_ID_REGS only with the cpu-idreg-props
        # proposal, on a kernel offering it (before any vCPU exists)
        caps = (self.host.get("kvm") or {}).get("caps") or {}
        self.imp_id_regs = bool(
            self.kvm
            and inst.build.has_proposal("cpu-idreg-props")
            and int(caps.get("KVM_CAP_ARM_WRITABLE_IMP_ID_REGS", 0) or 0) > 0
        )
        props = inst.config.cpu_props or {}

        def on(name: str) -> bool:
            return str(props.get(name, "on")).lower() not in ("off", "false", "no", "0")

        self.tcg_image = tcg_image_key(
            inst.build.version,
            (self.abi.get("cpu") or {}).get("model"),
            mte=self.abi.get("mte") not in (None, "none"),
            sve=on("sve"),
            pauth=on("pauth"),
            smp=self.vcpus,
        )
        # which TCG register image the cpu sections carry: a measured one (QEMU's own
        # list, models/arm64/tcg-cpregs-*.yaml) or the fallback stand-in; travels in
        # the guest-ABI section so a destination compares like with like
        measured = not self.kvm and tcg_image_measured(self.tcg_image)
        self.tcg_measured = "qemu-%d.%d" % tuple(self.tcg_image["version"]) if measured else None
        self.abi["tcg-image"] = self.tcg_measured
        self.cpregs = self._cpregs()

    def _cpregs(self) -> list[tuple[int, int]]:
        if self.vcpus == 0:
            return []
        if self.kvm:
            return [(e.index, e.value) for e in kvm_reg_list(self.host, self.abi)]
        return [(e.index, e.value) for e in tcg_reg_list(self.abi, self.tcg_image)]

    def limits(self) -> list[Entry]:
        """The destination's own list, values = what its KVM would accept up to."""
        if self.kvm:
            return limit_list(self.host, self.abi)
        return tcg_reg_list(self.abi, self.tcg_image)

    def sections(self) -> list[tuple[str, int, int, bytes]]:
        """Device state after the guest-ABI section: QEMU registers cpu_common (halted,
        interrupt_request) before cpu for each vCPU (a destination with fewer vCPUs
        meets 'cpu_common' N first), then the GIC."""
        import struct

        n = len(self.cpregs)
        cpu = struct.pack(">i", n) + struct.pack(">%dQ" % n, *(r[0] for r in self.cpregs))
        cpu += struct.pack(">%dQ" % n, *(r[1] & 0xFFFFFFFFFFFFFFFF for r in self.cpregs))
        out: list[tuple[str, int, int, bytes]] = []
        for i in range(self.vcpus):
            out.append((CPU_COMMON_IDSTR, i, 1, bytes(8)))
            out.append(("cpu", i, CPU_VERSION, cpu))
        if self.gic:
            out.append((GIC_IDSTR.get(self.gic, "arm_gicv3"), 0, 1, b""))
        return out

    def loaders(self) -> dict[tuple[str, int], tuple[int, Callable[[Any, Incoming], Refusal | None]]]:
        limits = self.limits() if self.vcpus else []
        out: dict[tuple[str, int], tuple[int, Callable[[Any, Incoming], Refusal | None]]] = {}
        for i in range(self.vcpus):
            out[(CPU_COMMON_IDSTR, i)] = (1, cpu_common)
            out[("cpu", i)] = (CPU_VERSION, lambda r, inc: self._cpu(r, inc, limits))
        if self.gic:
            out[(GIC_IDSTR.get(self.gic, "arm_gicv3"), 0)] = (1, lambda r, inc: None)
        return out

    def _cpu(self, r: Any, inc: Incoming, limits: list[Entry]) -> Refusal | None:
        count, idx, val = _read_cpregs(r)
        if count < 0:
            return Refusal(
                1,
                22,
                [
                    "Invalid value %d expecting positive value <= %d" % (count, len(limits)),
                    "Failed to load cpu:cpreg_vmstate_array_len",
                ],
                [],
            )
        if self.kvm:
            ref = check_incoming(self.host, limits, idx, val, count, self.imp_id_regs)
        elif self.tcg_measured and (inc.abi or {}).get("tcg-image") == self.tcg_measured:
            ref = check_incoming_tcg(limits, idx, val, count)
        else:
            # one side's register image was not measured (another QEMU build): compare
            # what the images stand for, and say so
            ref = check_tcg_identity(inc.abi or {}, self.abi)
            from ...log import get as get_logger

            get_logger("qmpserver.migration").info(
                "TCG register image not measured on %s: compared CPU model and features only",
                "this build" if not self.tcg_measured else "the source's build",
            )
        if ref is not None and ref.case == 3:
            inc.put_failed = True
        return ref
