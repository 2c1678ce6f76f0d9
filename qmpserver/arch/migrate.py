"""Which target model a live migration uses, and what the per-target models share.

Each ``arch/<target>/migrate.py`` has a ``Machine`` class: built from a started
instance (on the instance's own thread) it says what that target's machine
sends -- the RAM blocks under QEMU's names, the device sections after the
guest-ABI section in QEMU's registration order, each with its vmstate
version -- and what a destination of that configuration registers to load
them (``loaders``), with the checks QEMU's ``post_load`` hooks make.  The
engine (:mod:`qmpserver.migration.engine`) owns the framing and knows no
target; the target's ``migration`` part in :data:`qmpserver.arch.targets.TARGETS`
names the model.

The models work on plain bytes and return :class:`Refusal` (QEMU's errno and
printed lines); they read through the engine's reader, whose ``bytes(n)`` and
``check(vmsd, field)`` follow QEMUFile's rules.
"""

from __future__ import annotations

import json

from . import targets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EINVAL, EPERM, ENOENT = 22, 1, 2
# Refusal.case of a section whose payload did not end where the destination's own state
# ends: QEMU finds that in the section footer and prints only its own line, without
# "error while loading state ..."
FOOTER = 0


class NotModelled(Exception):
    """The instance's target or machine has no migration model: the text says what."""


class Refusal:
    """The first thing a destination refuses: ``case`` (the model's own number for
    the kind of refusal; :data:`FOOTER` for a footer mismatch), QEMU's ``errno`` and printed ``lines``, and ``why`` in
    words (for logs and plans; QEMU prints none of it)."""

    __slots__ = ("case", "errno", "lines", "why")

    def __init__(self, case: int, errno: int, lines: list[str], why: list[str]) -> None:
        self.case, self.errno, self.lines, self.why = case, errno, lines, why


class Incoming:
    """What the loaders of one incoming migration share: the source's guest ABI
    (the ``qmpserver/guest-abi`` section comes before every device section),
    the warnings QEMU prints while loading (``warn_report``: the load goes on),
    and whether a KVM register put failed (QEMU 10.0's put-after-load path)."""

    def __init__(self) -> None:
        self.abi: dict[str, Any] | None = None
        self.warnings: list[str] = []
        self.put_failed = False


def machine_for(inst: Any) -> Any:
    """The target's ``Machine`` for a started instance, or :class:`NotModelled`."""
    cls: Any = targets.part(inst.build.target, "migration", "Machine")
    if cls is None:
        raise NotModelled("qmpserver: live migration is not modelled for target %s" % inst.build.target)
    return cls(inst)


def blockers(inst: Any) -> list[str]:
    """Migration blockers the target's devices register at start-up (the model's
    ``blockers(inst)``, e.g. x86's invtsc), oldest first."""
    fn = targets.part(inst.build.target, "migration", "blockers")
    got: list[str] = fn(inst) if fn is not None else []
    return got


def be32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def read_blob(r: Any, vmsd: str, field: str) -> bytes:
    """A be32-counted payload (qmpserver's encoding of state QEMU sends as fields)."""
    n = int.from_bytes(r.bytes(4), "big")
    r.check(vmsd, field)
    body: bytes = r.bytes(n)
    r.check(vmsd, field)
    return body


def cpu_common(r: Any, inc: Incoming) -> Refusal | None:
    """The ``cpu_common`` section every target registers before each vCPU's ``cpu``
    (vmstate_cpu_common v1: halted, interrupt_request, both u32): read, nothing to check."""
    r.bytes(8)
    r.check("cpu_common", "interrupt_request")
    return None


def blob(d: dict[str, Any]) -> bytes:
    """A dict as a be32-counted JSON payload (the counterpart of :func:`read_json`)."""
    body = json.dumps(d, sort_keys=True, separators=(",", ":")).encode()
    return be32(len(body)) + body


def read_json(r: Any, vmsd: str, field: str) -> dict[str, Any]:
    """A :func:`blob` payload read back; anything but a JSON object reads as ``{}``."""
    try:
        d = json.loads(read_blob(r, vmsd, field))
    except ValueError:
        d = None
    return d if isinstance(d, dict) else {}
