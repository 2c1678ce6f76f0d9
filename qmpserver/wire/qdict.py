"""Member order of JSON objects as QEMU emits them.

QEMU keeps objects in a ``QDict``: a hash table of 512 buckets, iterated by
ascending bucket, and within a bucket the most recently inserted key first.
The bucket of a key is ``tdb_hash(key) % 512`` (QEMU ``qobject/qdict.c``:
``QDICT_BUCKET_MAX`` and ``tdb_hash``; the output visitor walks the buckets in order).  Reproducing that makes our output
byte-for-byte identical to QEMU's, including for objects a client sent us
(echoed ``id`` values) and objects recorded from a real QEMU.

Python dicts keep insertion order, so "insertion order" below is simply the
order of the dict: handlers build their result dicts in schema member order,
which is the order QEMU's output visitor inserts them.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import JSON

BUCKETS = 512

_bucket_cache: dict[str, int] = {}
_order_cache: dict[tuple[str, ...], tuple[str, ...]] = {}


def _key_bytes(key: str) -> bytes:
    # QEMU keys are C strings in "modified UTF-8": NUL is stored as C0 80.
    data = key.encode("utf-8", "surrogatepass")
    if b"\x00" in data:
        data = data.replace(b"\x00", b"\xc0\x80")
    return data


def tdb_hash(key: str) -> int:
    """QEMU's ``tdb_hash`` on the key's bytes, 32-bit unsigned arithmetic."""
    data = _key_bytes(key)
    value = (0x238F13AF * len(data)) & 0xFFFFFFFF
    for i, c in enumerate(data):
        value = (value + (c << ((i * 5) % 24))) & 0xFFFFFFFF
    return (1103515243 * value + 12345) & 0xFFFFFFFF


def bucket(key: str) -> int:
    b = _bucket_cache.get(key)
    if b is None:
        if len(_bucket_cache) > 65536:  # keys from clients are unbounded
            _bucket_cache.clear()
        b = _bucket_cache[key] = tdb_hash(key) % BUCKETS
    return b


def wire_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Return ``keys`` (given in insertion order) in QEMU's iteration order."""
    order = _order_cache.get(keys)
    if order is None:
        indexed = sorted(((bucket(k), -i, k) for i, k in enumerate(keys)))
        order = tuple(k for _, _, k in indexed)
        if len(_order_cache) > 16384:
            _order_cache.clear()
        _order_cache[keys] = order
    return order


def insertion_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Inverse of :func:`wire_order` for keys seen in QEMU's output order.

    A recording of real QEMU output lists colliding keys most-recent-first;
    turning that back into insertion order lets :func:`wire_order` reproduce
    the recorded bytes exactly.
    """
    groups: dict[int, list[str]] = {}
    for k in keys:
        groups.setdefault(bucket(k), []).append(k)
    out: list[str] = []
    for k in keys:
        g = groups.get(bucket(k))
        if g is not None:
            out.extend(reversed(g))
            del groups[bucket(k)]
    return tuple(out)


def to_insertion_order(value: JSON) -> JSON:
    """Recursively rewrite dicts recorded from QEMU output into insertion order."""
    if isinstance(value, dict):
        keys = insertion_order(tuple(value))
        return {k: to_insertion_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [to_insertion_order(v) for v in value]
    return value
