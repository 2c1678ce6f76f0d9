"""Block jobs, transactions, image creation and dirty bitmaps: forwarded unchanged to the
instance's ``qemu-storage-daemon`` (:mod:`qmpserver.vm.storage_daemon`), started on the
first of them.

The daemon is QEMU's own block layer (the same build), so the job state machine
(``JOB_STATUS_CHANGE`` created -> running -> ready/waiting -> pending -> concluded ->
null), the ``BLOCK_JOB_*`` events, ``query-jobs``/``query-block-jobs``, the error texts
and the files left behind are QEMU's, not a model of them.
"""

from __future__ import annotations

from .registry import command


def _ensure(inst):
    """The instance's daemon, started if needed (imported on first use: the launcher's
    start-up stays lean)."""
    from ..vm.storage_daemon import ensure

    return ensure(inst)


#: commands of QEMU's block layer that qemu-storage-daemon runs as QEMU does (QEMU 7.2
#: qapi/block-core.json, job.json, transaction.json); each starts the daemon if needed
FORWARDED = (
    # jobs
    "block-stream",
    "block-commit",
    "blockdev-mirror",
    "drive-mirror",
    "blockdev-backup",
    "drive-backup",
    "blockdev-create",
    "x-blockdev-amend",
    "job-pause",
    "job-resume",
    "job-cancel",
    "job-complete",
    "job-dismiss",
    "job-finalize",
    "block-job-set-speed",
    "block-job-cancel",
    "block-job-pause",
    "block-job-resume",
    "block-job-complete",
    "block-job-dismiss",
    "block-job-finalize",
    "block-job-change",
    # snapshots and graph changes
    "transaction",
    "blockdev-snapshot",
    "blockdev-snapshot-sync",
    "blockdev-snapshot-internal-sync",
    "blockdev-snapshot-delete-internal-sync",
    "blockdev-reopen",
    "x-blockdev-change",
    "block-set-write-threshold",
    "change-backing-file",
    # exports (an NBD server for libvirt's storage migration)
    "nbd-server-start",
    "nbd-server-add",
    "nbd-server-remove",
    "nbd-server-stop",
    "block-export-del",
    # dirty bitmaps
    "block-dirty-bitmap-add",
    "block-dirty-bitmap-remove",
    "block-dirty-bitmap-clear",
    "block-dirty-bitmap-enable",
    "block-dirty-bitmap-disable",
    "block-dirty-bitmap-merge",
    "x-debug-block-dirty-bitmap-sha256",
)


def _forward(name):
    def handler(ctx, args):
        d = _ensure(ctx.instance)
        ret = d.call(name, dict(args))
        if name in ("blockdev-mirror", "drive-mirror"):
            d.copy_modes[args.get("job-id") or args["device"]] = args.get("copy-mode", "background")
        return ret

    handler.__name__ = "forward_" + name.replace("-", "_")
    handler.__doc__ = "``%s``: run by the instance's qemu-storage-daemon." % name
    return handler


for _name in FORWARDED:
    command(_name)(_forward(_name))


def _jobs(name):
    def handler(ctx, args):
        d = ctx.instance.backends.daemon
        if d is None:
            return []
        jobs = d.call(name, dict(args))
        if name == "query-block-jobs":
            for job in jobs:
                _mirror_members(d, job)
        return jobs

    handler.__name__ = name.replace("-", "_")
    handler.__doc__ = "``%s``: the daemon's jobs; without a daemon no job ever ran: ``[]``." % name
    return handler


def _mirror_members(d, job):
    """A mirror job's BlockJobInfo branch of newer QEMU, which Debian's 7.2 daemon does not
    report: ``actively-synced`` (QEMU 8.2 ``mirror_query``): true once a ``write-blocking``
    mirror is in sync (ready), false for the default ``background`` copy mode.  A build
    whose BlockJobInfo has no branch drops it (qapi/conform.py)."""
    if job.get("type") == "mirror" and "actively-synced" not in job:
        mode = d.copy_modes.get(job.get("device", ""), "background")
        job["actively-synced"] = bool(job.get("ready")) and mode == "write-blocking"


command("query-jobs")(_jobs("query-jobs"))
command("query-block-jobs")(_jobs("query-block-jobs"))


@command("block-export-add")
def block_export_add(ctx, args):
    """``block-export-add``, run by the daemon; the export is the client's (its
    ``BLOCK_EXPORT_DELETED`` is forwarded)."""
    d = _ensure(ctx.instance)
    d.call("block-export-add", dict(args))
    d.client_exports.add(args["id"])


@command("query-block-exports")
def query_block_exports(ctx, args):
    """The daemon's exports but those standing in for devices (QEMU has none of them)."""
    d = ctx.instance.backends.daemon
    if d is None:
        return []
    own = set(d.exports.values())
    return [e for e in d.call("query-block-exports", {}) if e["id"] not in own]
