"""Typed per-instance state, one class per topic, each with one owner.

An :class:`~qmpserver.vm.instance.Instance` holds one object of each; the
module named in each docstring is the only writer, everything else reads.
(Plain classes with ``__slots__``: importing ``dataclasses`` costs ~7 ms of
the launcher's start-up, see :mod:`qmpserver.vm.config`.)
"""

from __future__ import annotations

import os

from ..qapi.ghash import GHashTable

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any


class Backends:
    """What ``-chardev``/``-object``/``-blockdev``/``-netdev``/``-device``/``-add-fd``
    and their QMP counterparts created.

    Writers: ``commands/chardev.py`` (``chardevs``), ``commands/objects.py``
    (``objects``), ``commands/block.py`` (``block``), ``commands/netdev.py``
    (``netdevs``), ``commands/device.py`` (``devices``), ``commands/fd.py``
    (``fdsets``, ``fdnames``: the descriptors the process holds for its clients)."""

    __slots__ = (
        "chardevs",
        "objects",
        "block",
        "netdevs",
        "devices",
        "fdsets",
        "fdnames",
        "daemon",
        "_children",
    )

    def __init__(self) -> None:
        self.chardevs: dict[str, Any] = {}  # label -> chardev record
        self.objects: dict[str, dict[str, Any]] = {}  # id -> -object / object-add options
        self.block: dict[str, dict[str, Any]] = {}  # node-name -> blockdev options
        self.netdevs: dict[str, dict[str, Any]] = {}  # id -> netdev options
        self.devices: list[dict[str, Any]] = []  # device records, in creation order
        self.fdsets: dict[int, list[dict[str, Any]]] = {}  # set id -> fds (-add-fd, add-fd)
        self.fdnames: dict[Any, dict[str, int]] = {}  # monitor -> getfd name -> descriptor
        self.daemon: Any = None  # vm/storage_daemon.py: the real block layer, once started
        self._children: dict[str, GHashTable] = {}

    def children(self, container: str) -> GHashTable:
        """The GHashTable of a QOM container's children (QEMU lists them in its order)."""
        t = self._children.get(container)
        if t is None:
            t = self._children[container] = GHashTable()
        return t

    def child_order(self, container: str, names: Any) -> list[str]:
        """``object_child_foreach`` order of ``names`` (a subset of the container's children)."""
        wanted = set(names)
        return [k for k in self.children(container) if k in wanted]


class Threads:
    """Thread ids of QEMU threads (vCPUs, iothreads), stable per key.

    With ``real`` (the launcher: one instance per process) each is a real idle
    OS thread, since libvirt moves them into cgroups and sets their affinity;
    otherwise numbers next to the process id.  Writer: the start-up pipeline
    sets ``real``; :meth:`id_for` allocates."""

    __slots__ = ("real", "ids")

    def __init__(self) -> None:
        self.real = False
        self.ids: dict[str, int] = {}

    def id_for(self, key: str) -> int:
        tid = self.ids.get(key)
        if tid is None:
            tid = _spawn_idle_thread() if self.real else os.getpid() + 1 + len(self.ids)
            self.ids[key] = tid
        return tid


def _spawn_idle_thread() -> int:
    import _thread  # only the launcher spawns threads; cheap, but off every other path

    started = _thread.allocate_lock()
    started.acquire()
    box: list[int] = []
    forever = _thread.allocate_lock()
    forever.acquire()

    def run() -> None:
        box.append(_thread.get_native_id())
        started.release()
        forever.acquire()

    _thread.start_new_thread(run, ())
    started.acquire()
    return box[0]


class Memory:
    """``-m``: ram size, maxmem and slots as ``set_memory_options`` settled them.

    Writer: the start-up pipeline."""

    __slots__ = ("size", "maxmem", "slots")

    def __init__(self, size: int, maxmem: int | None = None, slots: int = 0) -> None:
        self.size = size
        self.maxmem = size if maxmem is None else maxmem
        self.slots = slots


class Caches:
    """Per-instance memo tables of derived, read-only answers (QOM type index,
    encoded constant replies ...).  Each key has one writer: the module that
    computes it."""

    __slots__ = ("types", "abstract_roots", "constant_replies", "block_members")

    def __init__(self) -> None:
        self.types: dict[str, dict[str, Any]] | None = None  # commands/qom.py: type_index
        self.abstract_roots: dict[str, bool] | None = None  # commands/device.py
        self.constant_replies: dict[Any, Any] = {}  # commands/core.py
        self.block_members: dict[tuple[str, str], bool] = {}  # commands/block.py


class CpuState:
    """The vCPU model of a started instance, as the target's rules built it.

    Writer: the target's start-up step (``arch/arm64/startup.py``: ``catalog``
    and ``realized``; ``arch/arm64/cpu.py`` builds ``catalog`` on first use
    when no CPU was realized, e.g. ``-machine none``)."""

    __slots__ = ("catalog", "realized")

    def __init__(self) -> None:
        self.catalog: Any = None  # the target's CPU model catalogue for this host/accel
        self.realized: Any = None  # the realized vCPU object (every vCPU is alike)
