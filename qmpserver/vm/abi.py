"""The guest ABI of an instance: what a guest sees, in one typed object.

Produced once by the start-up pipeline (:mod:`qmpserver.startup`, from the
machine, accelerator and CPU it settled on; the per-target part comes from
``arch/<target>/abi.py``) and read, never recomputed, by ``qom-get`` of the
properties it covers and by whatever compares two instances or hosts.  It is
what live migration sends along and what a destination checks: a guest may
move only where its ABI can be reproduced exactly.

Absent is not zero: a value the models do not know (ID registers of a TCG CPU
model beyond MIDR, firmware pseudo-registers outside KVM) is ``None`` and
stays ``None`` through :meth:`GuestABI.to_dict`.  Nothing is invented.

The dict form carries :data:`FORMAT`; :meth:`GuestABI.from_dict` refuses
another format.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any, Callable

FORMAT = 1


class ABIFormatError(ValueError):
    """A dict that is not a guest ABI of a format this code reads."""


class GuestABI:
    """Machine, accelerator, CPU and firmware as the guest sees them.

    * ``target``: QEMU target (``aarch64``);
    * ``machine`` / ``machine_version``: canonical machine type (``virt-7.2``)
      and its version (``7.2``; None for an unversioned type such as ``none``);
    * ``accel``: ``kvm`` | ``tcg`` | ...;
    * ``cpu_model``: the resolved ``-cpu`` model (None: no vCPU, ``-M none``);
    * ``midr``: MIDR_EL1 the guest reads (None when unknown);
    * ``idregs``: ``"REG.FIELD" -> value`` of every ID-register field the guest
      sees (under KVM from the host's registers as lowered by ``SYSREG_*``
      properties), None when the models do not know them;
    * ``sve_vector_lengths``: vector lengths in bits (``[]``: SVE off; None:
      the model has no SVE);
    * ``pmu``: the vCPU has a PMU;
    * ``mte``: ``none`` | ``2`` | ``3`` (None: a machine without the property);
    * ``gic`` / ``gic_in_kernel``: GIC version and whether KVM emulates it;
    * ``firmware``: firmware pseudo-register name -> value (KVM only; None
      elsewhere); ``psci_version``: ``"1.1"`` ... from those registers;
    * ``spapr_caps``: ppc64 pseries: ``cap-*`` -> value as ``qom-get`` answers it
      (``arch/ppc64/spapr.py``); None elsewhere, and then absent from the dict form.
    * ``cas_ov5``: ppc64 pseries: what client-architecture-support tells the guest in
      ``ibm,architecture-vec-5``, ``{"radix": bool, "gtse": bool}`` (:func:`..arch.ppc64.spapr.ov5`);
      the guest's GTSE choice lands in LPCR[GTSE], which QEMU migrates with the vCPU, and
      the ov5 itself travels in the ``spapr`` section's ``spapr_option_vector_ov5_cas``
      subsection.  None elsewhere (absent from the dict form).
    """

    __slots__ = (
        "target",
        "machine",
        "machine_version",
        "accel",
        "cpu_model",
        "midr",
        "idregs",
        "sve_vector_lengths",
        "pmu",
        "pauth",
        "mte",
        "gic",
        "gic_in_kernel",
        "_firmware",
        "_firmware_source",
        "spapr_caps",
        "cas_ov5",
    )

    def __init__(
        self,
        target: str,
        machine: str,
        accel: str,
        *,
        cpu_model: str | None = None,
        midr: int | None = None,
        idregs: dict[str, int] | None = None,
        sve_vector_lengths: list[int] | None = None,
        pmu: bool | None = None,
        pauth: bool | None = None,
        mte: str | None = None,
        gic: int | None = None,
        gic_in_kernel: bool | None = None,
        firmware: dict[str, int] | None = None,
        firmware_source: Callable[[], dict[str, int] | None] | None = None,
        spapr_caps: dict[str, Any] | None = None,
        cas_ov5: dict[str, bool] | None = None,
    ) -> None:
        self.target = target
        self.machine = machine
        self.machine_version = machine_version(machine)
        self.accel = accel
        self.cpu_model = cpu_model
        self.midr = midr
        self.idregs = idregs
        self.sve_vector_lengths = sve_vector_lengths
        self.pmu = pmu
        self.pauth = pauth
        self.mte = mte
        self.gic = gic
        self.gic_in_kernel = gic_in_kernel
        self._firmware = firmware
        # firmware registers come from data files read on first use: off the
        # launcher's path to its greeting (see arch/arm64/abi.py)
        self._firmware_source = firmware_source
        self.spapr_caps = spapr_caps
        self.cas_ov5 = cas_ov5

    @property
    def firmware(self) -> dict[str, int] | None:
        if self._firmware_source is not None:
            self._firmware = self._firmware_source()
            self._firmware_source = None
        return self._firmware

    @property
    def psci_version(self) -> str | None:
        """``major.minor`` of KVM_REG_ARM_PSCI_VERSION (bits 31:16 and 15:0)."""
        fw = self.firmware
        v = fw.get("KVM_REG_ARM_PSCI_VERSION") if fw else None
        return None if v is None else "%d.%d" % (v >> 16, v & 0xFFFF)

    # --- the dict form ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        d = self._common_dict()
        if self.spapr_caps is not None:  # added within format 1: ppc64 pseries only
            d["spapr-caps"] = dict(self.spapr_caps)
        if self.cas_ov5 is not None:  # added within format 1: ppc64 pseries only
            d["cas-ov5"] = dict(self.cas_ov5)
        return d

    def _common_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "target": self.target,
            "machine": {"type": self.machine, "version": self.machine_version},
            "accel": self.accel,
            "cpu": {
                "model": self.cpu_model,
                "midr": self.midr,
                "idregs": None if self.idregs is None else dict(self.idregs),
                "sve-vector-lengths": None
                if self.sve_vector_lengths is None
                else list(self.sve_vector_lengths),
                "pmu": self.pmu,
                "pauth": self.pauth,
            },
            "mte": self.mte,
            "gic": {"version": self.gic, "in-kernel": self.gic_in_kernel},
            "firmware": None if self.firmware is None else dict(self.firmware),
            "psci-version": self.psci_version,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GuestABI:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ABIFormatError(
                "guest ABI format %r, expected %d"
                % (d.get("format") if isinstance(d, dict) else None, FORMAT)
            )
        try:
            cpu, gic = d["cpu"], d["gic"]
            return cls(
                d["target"],
                d["machine"]["type"],
                d["accel"],
                cpu_model=cpu["model"],
                midr=cpu["midr"],
                idregs=cpu["idregs"],
                sve_vector_lengths=cpu["sve-vector-lengths"],
                pmu=cpu["pmu"],
                pauth=cpu.get("pauth"),  # added within format 1: absent from older peers
                mte=d["mte"],
                gic=gic["version"],
                gic_in_kernel=gic["in-kernel"],
                firmware=d["firmware"],
                spapr_caps=d.get("spapr-caps"),
                cas_ov5=d.get("cas-ov5"),
            )
        except (KeyError, TypeError) as e:
            raise ABIFormatError("guest ABI: missing or malformed member %s" % e) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GuestABI) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "GuestABI(%s %s %s cpu=%s)" % (self.target, self.machine, self.accel, self.cpu_model)


def machine_version(machine: str) -> str | None:
    """``virt-7.2`` -> ``7.2``; None for a type without a version suffix."""
    _, sep, tail = machine.rpartition("-")
    if sep and tail.replace(".", "").isdigit() and "." in tail:
        return tail
    return None


def _flatten(d: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(d, dict):
        for k, v in d.items():
            _flatten(v, prefix + "." + k if prefix else k, out)
        if not d and prefix:
            out[prefix] = {}
    else:
        out[prefix] = d


def diff(a: GuestABI | dict[str, Any], b: GuestABI | dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Every field that differs, as ``(dotted path, value in a, value in b)`` in
    path order; a member present on one side only shows None on the other
    (e.g. ``cpu.idregs.ID_AA64PFR1_EL1.MTE``, ``firmware``)."""
    fa: dict[str, Any] = {}
    fb: dict[str, Any] = {}
    _flatten(a.to_dict() if isinstance(a, GuestABI) else a, "", fa)
    _flatten(b.to_dict() if isinstance(b, GuestABI) else b, "", fb)
    out = []
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key), fb.get(key)
        if va != vb:
            out.append((key, va, vb))
    return out
