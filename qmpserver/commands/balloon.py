"""The memory balloon: ``query-balloon`` and ``balloon`` answer only once a
``virtio-balloon`` device exists (QEMU 7.2 ``softmmu/balloon.c``).
"""

from __future__ import annotations

from ..errors import DEVICE_NOT_ACTIVE, QMPError
from .registry import command


@command("query-balloon")
def query_balloon(ctx, args):
    inst = ctx.instance
    for d in inst.backends.devices:
        if d["driver"].startswith("virtio-balloon"):
            return {"actual": inst.memory.size}
    raise QMPError("No balloon device has been activated", DEVICE_NOT_ACTIVE)


@command("balloon")
def balloon(ctx, args):
    inst = ctx.instance
    for d in inst.backends.devices:
        if d["driver"].startswith("virtio-balloon"):
            if args["value"] <= 0:
                raise QMPError("Parameter 'target' expects a size")
            return
    raise QMPError("No balloon device has been activated", DEVICE_NOT_ACTIVE)
