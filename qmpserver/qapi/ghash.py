"""Iteration order of GLib's GHashTable with string keys.

QEMU's input visitor keeps the not-yet-visited keys of each object in a
``GHashTable`` (``g_str_hash``/``g_str_equal``) and, when some are left over,
reports the first one in that table's iteration order.  To name the same key
QEMU names (e.g. ``hv-passthrough`` rather than ``migratable``) we replay the
table: inserts in the object's QDict order, removals in visit order, with
GLib's open addressing (index ``hash * 11 % prime``, quadratic probing,
tombstones) and its in-place resize.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

MIN_SHIFT = 3
_PRIME_MOD = [
    1,
    2,
    3,
    7,
    13,
    31,
    61,
    127,
    251,
    509,
    1021,
    2039,
    4093,
    8191,
    16381,
    32749,
    65521,
    131071,
    262139,
    524287,
    1048573,
    2097143,
    4194301,
    8388593,
    16777213,
    33554393,
    67108859,
    134217689,
    268435399,
    536870909,
    1073741789,
    2147483647,
]
UNUSED, TOMBSTONE = 0, 1


def g_str_hash(key: str) -> int:
    h = 5381
    for b in key.encode("utf-8", "surrogatepass").replace(b"\x00", b"\xc0\x80"):
        if b >= 0x80:  # GLib hashes through a signed char
            b -= 0x100
        h = (h * 33 + b) & 0xFFFFFFFF
    return h


class GHashTable:
    def __init__(self) -> None:
        self._set_shift(MIN_SHIFT)
        self.hashes = [UNUSED] * self.size
        self.keys: list[str | None] = [None] * self.size
        self.nnodes = 0
        self.noccupied = 0

    def _set_shift(self, shift: int) -> None:
        self.size = 1 << shift
        self.mod = _PRIME_MOD[shift]
        self.mask = self.size - 1

    def _index(self, h: int) -> int:
        return (h * 11) % self.mod

    def _lookup(self, key: str) -> tuple[int, int]:
        h = g_str_hash(key)
        if h < 2:
            h = 2
        i = self._index(h)
        step = 0
        tomb: int | None = None
        while self.hashes[i] != UNUSED:
            nh = self.hashes[i]
            if nh == h and self.keys[i] == key:
                return i, h
            if nh == TOMBSTONE and tomb is None:
                tomb = i
            step += 1
            i = (i + step) & self.mask
        return (tomb if tomb is not None else i), h

    def insert(self, key: str) -> None:
        i, h = self._lookup(key)
        old = self.hashes[i]
        if old >= 2:
            return
        self.hashes[i] = h
        self.keys[i] = key
        self.nnodes += 1
        if old == UNUSED:
            self.noccupied += 1
            self._maybe_resize()

    def remove(self, key: str) -> None:
        i, h = self._lookup(key)
        if self.hashes[i] < 2:
            return
        self.hashes[i] = TOMBSTONE
        self.keys[i] = None
        self.nnodes -= 1
        self._maybe_resize()

    def _maybe_resize(self) -> None:
        size, nocc = self.size, self.noccupied
        if (size > self.nnodes * 4 and size > 1 << MIN_SHIFT) or size <= nocc + nocc // 16:
            self._resize()

    def _resize(self) -> None:
        old_size = self.size
        want = int(self.nnodes * 1.333)
        shift = 0
        while want:
            shift += 1
            want >>= 1
        self._set_shift(max(shift, MIN_SHIFT))
        if self.size > old_size:
            self.hashes += [UNUSED] * (self.size - old_size)
            self.keys += [None] * (self.size - old_size)
        moved = [False] * max(self.size, old_size)
        for i in range(old_size):
            h = self.hashes[i]
            if h < 2:
                self.hashes[i] = UNUSED
                continue
            if moved[i]:
                continue
            self.hashes[i] = UNUSED
            key = self.keys[i]
            self.keys[i] = None
            while True:
                idx = self._index(h)
                step = 0
                while moved[idx]:
                    step += 1
                    idx = (idx + step) & self.mask
                moved[idx] = True
                replaced, rkey = self.hashes[idx], self.keys[idx]
                self.hashes[idx] = h
                self.keys[idx] = key
                if replaced < 2:
                    break
                h, key = replaced, rkey
        if self.size < old_size:
            del self.hashes[self.size :]
            del self.keys[self.size :]
        self.noccupied = self.nnodes

    def __iter__(self) -> Iterator[str]:
        for h, k in zip(self.hashes, self.keys):
            if h >= 2:
                yield k  # type: ignore[misc]  # a live slot (hash >= 2) always holds its key


def first_leftover(keys_in_qdict_order: Iterable[str], removed_in_order: Iterable[str]) -> str | None:
    """The key QEMU reports as unexpected, or None if nothing is left."""
    removed = set(removed_in_order)
    if all(k in removed for k in keys_in_qdict_order):
        return None
    t = GHashTable()
    for k in keys_in_qdict_order:
        t.insert(k)
    for k in removed_in_order:
        t.remove(k)
    for left in t:  # occupied slots only: a key, never None
        return left
    return None
