"""What a source sends and what a destination loads, instance by instance.

:func:`outgoing` turns a started instance into the stream of
:mod:`.stream` (split at the switchover: what is sent while the guest runs,
and the device state sent once it stopped); :class:`Destination` is the
loader of one incoming migration, with the section handlers a destination of
that configuration registers (QEMU registers one per device; an idstr or
instance nobody registered is ``Unknown savevm section``).  Both work on
snapshots taken on the instance's own thread, so the channel threads of
:mod:`qmpserver.commands.migration` never touch an instance.

The per-target part -- the RAM blocks under QEMU's names, the device
sections and their versions, what a destination's ``post_load`` hooks and
KVM accept -- is the ``Machine`` of ``arch/<target>/migrate.py``, chosen by
the ``migration`` part of :data:`qmpserver.arch.targets.TARGETS`; the engine holds only QEMU's framing.
Targets without a model cannot migrate and say so (:class:`NotModelled`).
"""

from __future__ import annotations

from ..arch import migrate as models
from ..vm.abi import FORMAT as ABI_FORMAT
from . import stream as st

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NotModelled = models.NotModelled


def _ram_blocks(inst: Any) -> list[tuple[str, int]]:
    """RAM blocks of the instance's machine, as its target's model names them."""
    try:
        blocks: list[tuple[str, int]] = models.machine_for(inst).blocks
    except NotModelled:
        return []
    return blocks


class Snapshot:
    """What one instance contributes to a migration, taken on its own thread: the
    target's :class:`Machine` (``arch/<target>/migrate.py``) and what the framing needs."""

    def __init__(self, inst: Any) -> None:
        self.model = models.machine_for(inst)
        self.target = inst.build.target
        self.machine = inst.machine.type
        self.accel = inst.accel
        self.abi = self.model.abi
        self.blocks = self.model.blocks


def outgoing(snap: Snapshot, return_path: bool) -> tuple[bytes, bytes]:
    """(stream up to the switchover, device state to EOF)."""
    model = snap.model
    head = st.header(snap.machine, model.page_bits if model.sends_page_bits else None)
    if return_path:
        head += st.command(st.CMD_OPEN_RETURN_PATH)
        head += st.ping(1)
    head += st.ram_setup(0, snap.blocks)
    if return_path:
        # a second PING after the RAM setup: its PONG tells the source that the
        # destination accepted the configuration and the RAM blocks (QEMU sends
        # PINGs where it needs to know how far the destination got)
        head += st.ping(2)
    head += st.ram_iteration(0)
    tail = st.ram_complete(0)
    tail += st.abi_section(1, snap.abi)
    for sid, (idstr, instance, version, payload) in enumerate(model.sections(), start=2):
        tail += st.device_section(sid, idstr, instance, version, payload)
    tail += bytes([st.EOF])
    return head, tail


class Destination:
    """The loader of one incoming stream, for a destination instance's snapshot.

    ``load(reader, on_command)`` raises :class:`.stream.LoadError`; afterwards
    ``abi`` is the source's guest ABI (dict), ``warnings`` what QEMU printed
    while loading (the load went on), and ``why`` lists the reasons behind a
    refusal in words (for logs and plans; QEMU prints none of them)."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.incoming = models.Incoming()
        self.why: list[str] = []
        self.loaders = snap.model.loaders()

    @property
    def abi(self) -> dict[str, Any] | None:
        return self.incoming.abi

    @property
    def warnings(self) -> list[str]:
        return self.incoming.warnings

    @property
    def put_failed(self) -> bool:
        """A KVM_SET_ONE_REG refusal (the 10.0 put-after-load path)."""
        return self.incoming.put_failed

    def handlers(self) -> dict[tuple[str, int], st.Handler]:
        h: dict[tuple[str, int], st.Handler] = {
            ("ram", 0): st.Handler(4, self._ram, lambda r, s: st.read_ram_part(r)),
            (st.ABI_IDSTR, 0): st.Handler(st.ABI_VERSION, self._abi),
        }
        for key, (version, fn) in self.loaders.items():
            h[key] = st.Handler(version, self._device(fn))
        return h

    def _device(self, fn: Any) -> Any:
        def load(r: st.Reader, sec: st.Section) -> None:
            ref = fn(r, self.incoming)
            if ref is not None:
                self.why = list(ref.why)
                if ref.case == models.FOOTER:
                    raise st.FooterError(ref.errno, *ref.lines)
                raise st.LoadError(ref.errno, *ref.lines)

        return load

    def load(self, r: st.Reader, on_command: Any) -> None:
        st.load(r, self.snap.machine, self.snap.model.page_bits, self.handlers(), on_command)

    def _ram(self, r: st.Reader, sec: st.Section) -> None:
        mine = dict(self.snap.blocks)
        for name, size in st.read_ram_setup(r):
            if name not in mine:
                raise st.LoadError(st.EINVAL, 'Unknown ramblock "%s", cannot accept migration' % name)
            if size != mine[name]:
                # qemu_ram_resize on a block that is not resizeable (error_report_err
                # of its "Size mismatch: NAME: 0xNEW != 0xUSED" with EINVAL)
                raise st.LoadError(
                    st.EINVAL,
                    "Size mismatch: %s: 0x%x != 0x%x: Invalid argument" % (name, size, mine[name]),
                )

    def _abi(self, r: st.Reader, sec: st.Section) -> None:
        d = st.read_abi(r)
        if d.get("format") != ABI_FORMAT:
            raise st.LoadError(
                st.EINVAL,
                "qmpserver: guest ABI format %r, this build reads %d" % (d.get("format"), ABI_FORMAT),
            )
        self.incoming.abi = d
