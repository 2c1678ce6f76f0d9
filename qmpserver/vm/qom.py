"""The QOM composition tree of an instance (``/machine``, ``/objects`` ...).

Objects have a type, properties (with QOM type strings such as ``bool``,
``string``, ``link<memory-backend>``) and children.  Topic modules attach
objects and properties; ``qom-list``/``qom-get``/``qom-set`` work on the tree.
Paths resolve like QEMU's ``object_resolve_path``: absolute, or a partial
path matched anywhere (``Path 'x' is ambiguous`` when it matches twice).
"""

from __future__ import annotations

from ..arch import targets
from ..errors import DEVICE_NOT_FOUND, QMPError
from . import virt

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from .instance import Instance

    Getter = Callable[[], Any]
    Setter = Callable[[Any], None]


class Prop:
    __slots__ = ("name", "type", "get", "set", "description")

    def __init__(
        self,
        name: str,
        type_: str,
        get: Getter | None = None,
        set: Setter | None = None,
        description: str | None = None,
    ) -> None:
        self.name = name
        self.type = type_
        self.get = get  # callable() -> JSON value, or None (write-only)
        self.set = set  # callable(value) -> None (raise QMPError), or None (read-only)
        self.description = description


class QomObject:
    def __init__(self, type_name: str, parent: QomObject | None = None, name: str = "") -> None:
        self.type = type_name
        self.parent = parent
        self.name = name
        self.props: dict[str, Prop] = {}
        self.children: dict[str, QomObject] = {}
        # names in the order real QEMU listed them (glib hash order); None: build order
        self.order: list[str] | None = None

    # building ---------------------------------------------------------------

    def add_prop(
        self,
        name: str,
        type_: str,
        get: Getter | None = None,
        set: Setter | None = None,
        description: str | None = None,
    ) -> QomObject:
        self.props[name] = Prop(name, type_, get, set, description)
        return self

    def add_value(self, name: str, type_: str, value: Any, settable: bool = False) -> QomObject:
        box = {"v": value}
        setter = (lambda v: box.__setitem__("v", v)) if settable else None
        return self.add_prop(name, type_, lambda: box["v"], setter)

    def add_child(self, name: str, child: QomObject) -> QomObject:
        child.parent = self
        child.name = name
        self.children[name] = child
        return child

    def remove_child(self, name: str) -> QomObject | None:
        return self.children.pop(name, None)

    # paths -------------------------------------------------------------------

    @property
    def path(self) -> str:
        parts = []
        o: QomObject = self
        while o.parent is not None:
            parts.append(o.name)
            o = o.parent
        return "/" + "/".join(reversed(parts))

    def walk(self) -> Iterator[QomObject]:
        yield self
        for c in self.children.values():
            yield from c.walk()

    def listing(self) -> list[dict[str, str]]:
        out = [{"name": "type", "type": "string"}]
        for n, c in self.children.items():
            out.append({"name": n, "type": "child<%s>" % c.type})
        for p in self.props.values():
            out.append({"name": p.name, "type": p.type})
        if self.order:
            # the recorded order; names it does not have (devices, options) follow, in
            # build order (a stable sort)
            rank = {n: i for i, n in enumerate(self.order)}
            out.sort(key=lambda e: rank.get(e["name"], len(rank)))
        return out

    def get(self, prop: str) -> Any:
        if prop == "type":
            return self.type
        p = self.props.get(prop)
        if p is None or p.get is None:
            if prop in self.children:
                return self.children[prop].path
            raise QMPError("Property '%s.%s' not found" % (self.type, prop))
        return p.get()

    def set(self, prop: str, value: Any) -> None:
        if prop == "type" or (prop in self.children and prop not in self.props):
            raise QMPError("Property '%s.%s' is not writable" % (self.type, prop))
        p = self.props.get(prop)
        if p is None:
            raise QMPError("Property '%s.%s' not found" % (self.type, prop))
        if p.set is None:
            raise QMPError("Property '%s.%s' is not writable" % (self.type, prop))
        p.set(value)


class QomTree:
    def __init__(self, machine_type: str) -> None:
        self.root = QomObject("container")
        self.root.add_child("objects", QomObject("container"))
        self.machine = self.root.add_child("machine", QomObject(machine_type))
        self.root.add_child("chardevs", QomObject("container"))
        for c in ("unattached", "peripheral", "peripheral-anon"):
            self.machine.add_child(c, QomObject("container"))

    def resolve(self, path: str, ambiguous: bool = True) -> QomObject:
        """``object_resolve_path_type``; ``ambiguous`` False: a partial path that matches
        twice is not found, as for ``object_resolve_path`` (``qom-get``/``qom-set``)."""
        if path.startswith("/"):
            o = self.root
            for part in [p for p in path.split("/") if p]:
                child = o.children.get(part)
                if child is None:
                    raise QMPError("Device '%s' not found" % path, DEVICE_NOT_FOUND)
                o = child
            return o
        # object_resolve_partial_path: every object from which the parts resolve as an
        # absolute path (empty parts skipped) is a match; with no parts ('') that is every
        # object, so the path is ambiguous
        parts = [p for p in path.split("/") if p]
        matches = []
        for o in self.root.walk():
            cur: QomObject | None = o
            for part in parts:
                cur = cur.children.get(part) if cur is not None else None
            if cur is not None:
                matches.append(cur)
                if len(matches) > 1:
                    break
        if len(matches) > 1 and ambiguous:
            raise QMPError("Path '%s' is ambiguous" % path)
        if len(matches) != 1:
            raise QMPError("Device '%s' not found" % path, DEVICE_NOT_FOUND)
        return matches[0]


def _cpu_objects(instance: Instance, t: QomTree) -> None:
    """The vCPU objects under /machine, by the target's ``cpu_startup`` (arch/targets.py)."""
    add = targets.part(instance.build.target, "cpu_startup", "add_cpu_objects")
    if add is not None:
        add(instance, t, QomObject)


def add_chardev(t: QomTree, label: str, cd: Any) -> None:
    """``/chardevs/<label>`` of type ``chardev-<backend>``."""
    cont = t.root.children.get("chardevs")
    if cont is not None:
        backend: str = getattr(getattr(cd, "spec", None), "backend", "") or getattr(cd, "backend", "socket")
        cont.add_child(label, QomObject("chardev-" + backend))


def _chardevs(instance: Instance, t: QomTree) -> None:
    for label, cd in instance.backends.chardevs.items():
        add_chardev(t, label, cd)


# fn(instance, tree), in order: the chardevs created before the tree was first
# needed, the board's /machine properties and children, the vCPU objects
BUILDERS = (_chardevs, virt.build_qom, _cpu_objects)


def tree(instance: Instance) -> QomTree:
    """The instance's QOM tree, built on first use by :data:`BUILDERS`."""
    t = instance.qom
    if t is None:
        t = instance.qom = QomTree(instance.machine.qom_type)
        for fn in BUILDERS:
            fn(instance, t)
    return t
