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


# balloon_stat_names of QEMU 7.2 (hw/virtio/virtio-balloon.c), in VIRTIO_BALLOON_S_* order
STAT_NAMES = (
    "stat-swap-in",
    "stat-swap-out",
    "stat-major-faults",
    "stat-minor-faults",
    "stat-free-memory",
    "stat-total-memory",
    "stat-available-memory",
    "stat-disk-caches",
    "stat-htlb-pgalloc",
    "stat-htlb-pgfail",
)
UNSET = (1 << 64) - 1  # a stat the guest never reported: -1 in a uint64 (reset_stats)


def add_qom_props(obj) -> None:
    """The two non-qdev properties ``virtio_balloon_instance_init`` adds to a
    virtio-balloon-device (QEMU 7.2, measured against Debian's binary):

    * ``guest-stats`` (type ``guest statistics``, read-only): ``last-update`` and every
      stat; the simulated guest has no balloon driver, so nothing is ever reported: 0 and
      every stat ``UNSET``, whatever the polling interval (libvirt's ``dommemstat`` then shows
      ``last_update 0`` and no guest stats, as with a real guest that never loaded the driver);
    * ``guest-stats-polling-interval`` (``int``, seconds, 0 = off):
      ``balloon_stats_set_poll_interval`` refuses a negative value (``timer value must be
      greater than zero``) and one above UINT32_MAX (``timer value is too big``); a
      non-integer fails in the input visitor.
    """
    box = {"interval": 0}

    def get_stats():
        return {"last-update": 0, "stats": {n: UNSET for n in STAT_NAMES}}

    def set_interval(value):
        name = "guest-stats-polling-interval"
        if isinstance(value, bool) or not isinstance(value, int):
            raise QMPError("Invalid parameter type for '%s', expected: integer" % name)
        if value < 0:
            raise QMPError("timer value must be greater than zero")
        if value > 0xFFFFFFFF:
            raise QMPError("timer value is too big")
        box["interval"] = value

    obj.add_prop("guest-stats-polling-interval", "int", lambda: box["interval"], set_interval)
    obj.add_prop("guest-stats", "guest statistics", get_stats)
