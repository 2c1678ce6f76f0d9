"""Internal VM snapshots over HMP: ``savevm``, ``loadvm``, ``delvm``, ``info snapshots``.

QEMU 7.2 ``migration/savevm.c`` (``save_snapshot``, ``load_snapshot``),
``block/snapshot.c`` (``bdrv_all_*``), ``monitor/hmp-cmds.c`` /
``migration/migration-hmp-cmds.c`` (``hmp_savevm``, ``hmp_loadvm``, ``hmp_delvm``,
``hmp_info_snapshots``).  The rules, as observed on Debian's QEMU 7.2:

* the disks taking part are the writable root nodes: attached to a device, or with no
  parent node (``bdrv_all_snapshots_includes_bs``); each must support snapshots
  (qcow2), else ``Error: Device 'NODE' is writable but does not support snapshots``;
* the VM state goes to the first of them (``bdrv_all_find_vmstate_bs``); none:
  ``Error: no block device can store vmstate for snapshot``;
* ``savevm [NAME]`` checks first, then stops a running VM (STOP), replaces snapshots
  of that name, writes the snapshot to every disk and resumes (RESUME); without a
  name it is ``vm-YYYYMMDDHHMMSS`` (local time);
* ``loadvm NAME`` stops the VM (state ``restore-vm``) *before* checking; it resumes
  only on success of a VM that was running, so a failed ``loadvm`` leaves it stopped;
  a snapshot without VM state: ``Error: This is a disk-only snapshot. Revert to it
  offline using qemu-img`` (QEMU's text has the two spaces);
* ``delvm NAME`` deletes it from every disk; a name no disk has is not an error;
* ``-loadvm NAME`` on the command line runs the same checks once the machine exists
  and exits 1 with the error (``error_fatal``).

The disk part is real (``qmpserver.vm.qcow2`` and ``qemu-img``); the VM state's size
is the length of qmpserver's migration stream for the instance, its content is not
stored (see there).
"""

from __future__ import annotations

import time

from ..vm import qcow2
from .block import _file_name, node_user

#: block drivers with internal snapshots (QEMU: ``bdrv_can_snapshot``; rbd and
#: sheepdog also have them, not modelled)
SNAPSHOT_DRIVERS = frozenset({"qcow2"})

NO_VMSTATE_BS = "no block device can store vmstate for snapshot"
NOT_SNAPSHOTTABLE = "Device '%s' is writable but does not support snapshots"
MISSING = "Snapshot '%s' does not exist in one or more devices"
DISK_ONLY = "This is a disk-only snapshot. Revert to it  offline using qemu-img"


class SnapshotError(Exception):
    pass


def _is_read_only(o) -> bool:
    return str(o.get("read-only", False)).lower() in ("true", "on", "1")


def included_disks(inst) -> list[tuple[str, dict]]:
    """[(node name, options)] of the nodes ``savevm`` snapshots, in ``bdrv_next`` order
    (device-attached roots first, then the other monitor-owned ones)."""
    nodes = inst.backends.block
    parents = set()
    for o in nodes.values():
        for key in ("file", "backing"):
            if isinstance(o.get(key), str):
                parents.add(o[key])
    attached, loose = [], []
    for name, o in nodes.items():
        if _is_read_only(o):
            continue
        if node_user(inst, name) is not None:
            attached.append((name, o))
        elif name not in parents:
            loose.append((name, o))
    return attached + loose


#: qmpserver's internal snapshots change the images with qemu-img; once the instance's
#: qemu-storage-daemon holds them (after a block job) they cannot be shared with it
HELD_BY_DAEMON = (
    "qmpserver: internal snapshots (savevm/loadvm/delvm) after a block job are not modelled "
    "(qemu-storage-daemon holds the images)"
)


def _disks(inst) -> list[tuple[str, str]]:
    """[(node name, image path)], after ``bdrv_all_can_snapshot``'s check."""
    if inst.backends.daemon is not None:
        raise SnapshotError(HELD_BY_DAEMON)
    out = []
    for name, o in included_disks(inst):
        if o.get("driver") not in SNAPSHOT_DRIVERS:
            raise SnapshotError(NOT_SNAPSHOTTABLE % name)
        out.append((name, _file_name(inst.backends.block, name)))
    return out


def vm_clock_ns(inst) -> int:
    """QEMU_CLOCK_VIRTUAL: time spent running, from the instance's RESUME/STOP events."""
    total, since = 0.0, None
    for ev in inst.event_log:
        t = ev["timestamp"]["seconds"] + ev["timestamp"]["microseconds"] / 1e6
        if ev["event"] == "RESUME" and since is None:
            since = t
        elif ev["event"] in ("STOP", "SHUTDOWN") and since is not None:
            total += t - since
            since = None
    if since is not None and inst.runstate == "running":
        total += inst.clock() - since
    return int(total * 1e9)


def vm_state_size(inst) -> int:
    """Bytes of VM state a snapshot records: qmpserver's own migration stream for the instance."""
    from ..migration.engine import NotModelled, Snapshot, outgoing

    try:
        head, tail = outgoing(Snapshot(inst), return_path=False)
    except NotModelled as e:
        raise SnapshotError(str(e)) from None
    return len(head) + len(tail)


def savevm(inst, name: str | None) -> None:
    disks = _disks(inst)
    if not disks:
        raise SnapshotError(NO_VMSTATE_BS)
    was_running = inst.runstate == "running"
    size = vm_state_size(inst)
    clock = vm_clock_ns(inst)
    inst.vm_stop("save-vm")
    try:
        if name is None:
            name = time.strftime("vm-%Y%m%d%H%M%S", time.localtime())
        for _node, path in disks:  # del_existing_snapshots
            while qcow2.find(path, name) is not None:
                qcow2.delete(path, name)
        for i, (_node, path) in enumerate(disks):
            qcow2.create(path, name)
            qcow2.set_vm_state(path, name, size if i == 0 else 0, clock)
    except qcow2.Qcow2Error as e:
        raise SnapshotError(str(e)) from None
    finally:
        if was_running:
            inst.vm_start()


def restore(inst, name: str) -> None:
    """``load_snapshot``'s checks and the disks' revert (no run-state change)."""
    disks = _disks(inst)
    if not disks:
        raise SnapshotError(NO_VMSTATE_BS)
    try:
        found = [qcow2.find(path, name) for _node, path in disks]
        first = found[0]
        if first is None or any(sn is None for sn in found):
            raise SnapshotError(MISSING % name)
        if first.vm_state_size == 0:
            raise SnapshotError(DISK_ONLY)
        for _node, path in disks:
            qcow2.apply(path, name)
    except qcow2.Qcow2Error as e:
        raise SnapshotError(str(e)) from None


def loadvm(inst, name: str) -> None:
    was_running = inst.runstate == "running"
    inst.vm_stop("restore-vm")  # do_vm_stop: a VM that is not running keeps its state
    restore(inst, name)
    if was_running:
        inst.vm_start()


def delvm(inst, name: str) -> None:
    try:
        for _node, path in _disks(inst):
            sn = qcow2.find(path, name)
            if sn is not None:
                qcow2.delete(path, sn.name)
    except qcow2.Qcow2Error as e:
        raise SnapshotError(str(e)) from None


# -- info snapshots -------------------------------------------------------------------------

_HEADER = "%-10s%-17s%8s%20s%13s%11s\n" % ("ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT")


def size_to_str(n: int) -> str:
    """QEMU ``size_to_str``: three significant digits, binary units."""
    import math

    units = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
    _m, e = math.frexp(n / (1000.0 / 1024.0)) if n else (0.0, 0)
    i = max(0, (e - 1) // 10)
    return "%0.3g %sB" % (n / (1 << (i * 10)), units[i])


def _line(sn, id_str: str) -> str:
    date = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sn.date_sec))
    ns = sn.vm_clock_nsec
    secs = ns // 1_000_000_000
    clock = "%02d:%02d:%02d.%03d" % (secs // 3600, secs // 60 % 60, secs % 60, ns // 1_000_000 % 1000)
    icount = "" if sn.icount == qcow2.NO_ICOUNT else "%d" % sn.icount
    return "%-9s %-16s %8s%20s%13s%11s\n" % (
        id_str,
        sn.name,
        size_to_str(sn.vm_state_size),
        date,
        clock,
        icount,
    )


def info_snapshots(inst) -> str:
    try:
        included = included_disks(inst)
        if not included:
            return "No available block device supports snapshots\n"
        first, o = included[0]
        if o.get("driver") not in SNAPSHOT_DRIVERS:
            return "No available block device supports snapshots\n"
        nodes = inst.backends.block
        table = qcow2.snapshots(_file_name(nodes, first))
        others = []
        for name, oo in included[1:]:
            others.append(
                qcow2.snapshots(_file_name(nodes, name)) if oo.get("driver") in SNAPSHOT_DRIVERS else []
            )
    except qcow2.Qcow2Error as e:
        return "Error: %s\n" % e
    on_all = [sn for sn in table if all(any(x.name == sn.name for x in t) for t in others)]
    if not table:
        return "There is no snapshot available.\n"
    out = "List of snapshots present on all disks:\n"
    if on_all:
        out += _HEADER + "".join(_line(sn, "--") for sn in on_all)
    else:
        out += "None\n"
    partial = [sn for sn in table if sn not in on_all]
    if partial:
        dev = ""  # bdrv_get_device_name: a -device drive=NODE backend has no name
        out += "\nList of partial (non-loadable) snapshots on '%s':\n" % dev
        out += _HEADER + "".join(_line(sn, sn.id_str) for sn in partial)
    return out
