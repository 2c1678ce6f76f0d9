"""Internal snapshots of qcow2 images: read the snapshot table, create, apply and delete.

The image file is real and changed the way QEMU changes it.  Creating, applying and
deleting a snapshot (L1 copy, refcounts) is left to Debian's ``qemu-img snapshot``
(``-c``/``-a``/``-d``), a real component; what ``qemu-img`` cannot write, the VM part
of a ``savevm`` snapshot, is then set in the snapshot's table entry in place
(:func:`set_vm_state`).  Layout: QEMU's ``docs/interop/qcow2.txt`` ("Snapshots"):

* header: ``nb_snapshots`` (u32, byte 60), ``snapshots_offset`` (u64, byte 64);
* each entry, 8-byte aligned: ``l1_table_offset`` u64, ``l1_size`` u32,
  ``id_str_size`` u16, ``name_size`` u16, ``date_sec`` u32, ``date_nsec`` u32,
  ``vm_clock_nsec`` u64, ``vm_state_size`` u32, ``extra_data_size`` u32, then the
  extra data (``vm_state_size_large`` u64, ``disk_size`` u64, ``icount`` u64 when
  at least 24 bytes), the id string, the name.

The VM state's *content* is not written: the simulated guest has no RAM contents
and ``qemu-img`` offers no way to write the image's VM-state area, so the entry
records the size of the state (the length of qmpserver's own migration stream for
the instance) and a real QEMU's ``loadvm`` of such a snapshot would read zeros.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from typing import NamedTuple

_ENTRY = struct.Struct(">QIHHIIQII")  # the fixed 40 bytes of a snapshot table entry
QCOW2_MAGIC = b"QFI\xfb"
NO_ICOUNT = 0xFFFFFFFFFFFFFFFF  # QEMU's icount of a snapshot taken without -icount (-1)


class Qcow2Error(Exception):
    """An image that cannot be read or changed; the text says why."""


class SnapshotInfo(NamedTuple):
    """One entry of an image's snapshot table (QEMU's ``QEMUSnapshotInfo``)."""

    id_str: str
    name: str
    date_sec: int
    date_nsec: int
    vm_clock_nsec: int
    vm_state_size: int
    icount: int
    offset: int  # of the entry in the file


def qemu_img() -> str:
    path = shutil.which("qemu-img") or "/usr/bin/qemu-img"
    if not os.access(path, os.X_OK):
        raise Qcow2Error("qmpserver: qemu-img (Debian package qemu-utils) is needed for internal snapshots")
    return path


def snapshots(path: str) -> list[SnapshotInfo]:
    """The snapshot table of the qcow2 image at ``path``, in table order."""
    try:
        with open(path, "rb") as f:
            head = f.read(72)
            if len(head) < 72 or head[:4] != QCOW2_MAGIC:
                raise Qcow2Error("'%s' is not a qcow2 image" % path)
            nb, off = struct.unpack(">IQ", head[60:72])
            out = []
            for _ in range(nb):
                f.seek(off)
                fixed = f.read(_ENTRY.size)
                if len(fixed) < _ENTRY.size:
                    raise Qcow2Error("'%s': snapshot table truncated" % path)
                _l1o, _l1s, ids, ns, ds, dn, vc, vs, eds = _ENTRY.unpack(fixed)
                extra = f.read(eds)
                if len(extra) >= 8:
                    vs = struct.unpack(">Q", extra[:8])[0]
                icount = struct.unpack(">Q", extra[16:24])[0] if len(extra) >= 24 else NO_ICOUNT
                id_str = f.read(ids).decode("utf-8", "replace")
                name = f.read(ns).decode("utf-8", "replace")
                out.append(
                    SnapshotInfo(
                        id_str=id_str,
                        name=name,
                        date_sec=ds,
                        date_nsec=dn,
                        vm_clock_nsec=vc,
                        vm_state_size=vs,
                        icount=icount,
                        offset=off,
                    )
                )
                size = _ENTRY.size + eds + ids + ns
                off += (size + 7) & ~7
            return out
    except OSError as e:
        raise Qcow2Error("Could not open '%s': %s" % (path, e.strerror)) from None


def find(path: str, name: str) -> SnapshotInfo | None:
    """``bdrv_snapshot_find``: by id first, then by name."""
    table = snapshots(path)
    for sn in table:
        if sn.id_str == name:
            return sn
    for sn in table:
        if sn.name == name:
            return sn
    return None


def _run(args: list[str]) -> None:
    try:
        p = subprocess.run([qemu_img(), *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Qcow2Error("qemu-img %s: %s" % (args[0], e)) from None
    if p.returncode != 0:
        text = (p.stderr or p.stdout).strip().splitlines()
        raise Qcow2Error(text[-1] if text else "qemu-img %s failed" % " ".join(args))


def create(path: str, name: str) -> None:
    _run(["snapshot", "-c", name, path])


def apply(path: str, name: str) -> None:
    _run(["snapshot", "-a", name, path])


def delete(path: str, name: str) -> None:
    _run(["snapshot", "-d", name, path])


def set_vm_state(
    path: str, name: str, vm_state_size: int, vm_clock_nsec: int, icount: int = NO_ICOUNT
) -> None:
    """Give snapshot ``name`` (just made by :func:`create`) what ``savevm`` records beyond the
    disk: the VM state's size (u32 field and, in the extra data, its 64-bit copy), the
    virtual clock, and the instruction count (-1 without ``-icount``)."""
    sn = find(path, name)
    if sn is None:
        raise Qcow2Error("snapshot '%s' not found in '%s'" % (name, path))
    try:
        with open(path, "r+b") as f:
            f.seek(sn.offset)
            fixed = bytearray(f.read(_ENTRY.size))
            l1o, l1s, ids, ns, ds, dn, _vc, _vs, eds = _ENTRY.unpack(fixed)
            f.seek(sn.offset)
            f.write(_ENTRY.pack(l1o, l1s, ids, ns, ds, dn, vm_clock_nsec, vm_state_size & 0xFFFFFFFF, eds))
            if eds >= 8:
                f.write(struct.pack(">Q", vm_state_size))
            if eds >= 24:
                f.seek(sn.offset + _ENTRY.size + 16)
                f.write(struct.pack(">Q", icount))
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise Qcow2Error("Could not write '%s': %s" % (path, e.strerror)) from None
