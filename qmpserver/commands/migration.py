"""Live migration: status, blockers, a plausible state machine, tunables.

What QEMU does (``migration/migration.c`` of QEMU v7.2.0, qemu.git;
behaviour observed on Debian's 7.2.22):

* ``query-migrate`` lists ``blocked-reasons`` whenever a blocker exists (6.0 also says
  ``blocked``: true/false, a required member in that release only)
  (KVM + MTE adds ``Live migration disabled due to MTE enabled``, see
  :mod:`qmpserver.arch.arm64.mte`), even before any migration; then the
  status and, for active/completed migrations, times and RAM counters;
* ``migrate``: ``migrate_prepare``'s checks in order (resume, a migration in
  progress, ``-incoming`` pending, postmigrate, blockers -> the blocker's
  text), the URI (7.2: ``Parameter 'uri' expects a valid migration
  protocol`` after the checks; 8.2+: ``unknown migration protocol: URI``
  before them, build quirk ``migrate-uri-legacy``), then setup -> active ->
  completed with ``MIGRATION`` / ``MIGRATION_PASS`` events when the
  ``events`` capability is on, the source VM stopping (``STOP``) and ending
  in ``postmigrate``;
* ``migrate-incoming`` needs ``-incoming`` (``'-incoming' was not specified
  on the command line``) and works once (``The incoming migration has
  already been started``);
* ``migrate_cancel`` cancels a running migration (cancelling -> cancelled)
  and is a no-op otherwise.

Between instances a real stream travels (:mod:`qmpserver.migration`): the
source's channel thread connects to the URI (``tcp:``, ``unix:``, ``exec:``,
``fd:`` from ``getfd``), sends QEMU's header and configuration, the RAM layout
and, at the switchover, the guest ABI and each vCPU's register list; the
destination loads it with QEMU's checks in QEMU's order (machine type, RAM
blocks, sections and instances, the cpreg list against its own host's KVM)
and answers on the return path.  A refused load prints QEMU's lines on the
destination's stderr and exits it with status 1 (10.0+ with
``exit-on-error: false``: stays up, ``query-migrate`` shows the error); the
source fails with the ``error-desc`` its build would show (7.2: none for a
device-state refusal), resumes the guest, and emits the events QEMU does.
Channel work runs on threads; every state change is posted to the
instance's loop (``scheduler.call_soon_threadsafe``).
"""

from __future__ import annotations

import errno
import os
import time

from ..errors import QMPError
from ..migration import engine
from ..migration import stream as st
from ..migration.channel import ChannelError, Listener, connect
from .registry import command

RUNNING = frozenset(
    (
        "setup",
        "active",
        "cancelling",
        "postcopy-active",
        "postcopy-paused",
        "postcopy-recover",
        "postcopy-recover-setup",
        "pre-switchover",
        "device",
        "wait-unplug",
        "colo",
    )
)
ACTIVE_MSG = "There's a migration process in progress"
STEP = 0.004  # seconds between simulated migration phases

# QEMU's MigrationParameters defaults (7.2 recording; later members from
# migration/options.c), for builds that recorded no query-migrate-parameters.
PARAM_DEFAULTS = {
    "announce-initial": 50,
    "announce-max": 550,
    "announce-rounds": 5,
    "announce-step": 100,
    "compress-level": 1,
    "compress-threads": 8,
    "compress-wait-thread": True,
    "decompress-threads": 2,
    "throttle-trigger-threshold": 50,
    "cpu-throttle-initial": 20,
    "cpu-throttle-increment": 10,
    "cpu-throttle-tailslow": False,
    "tls-creds": "",
    "tls-hostname": "",
    "tls-authz": "",
    "max-bandwidth": 134217728,
    "avail-switchover-bandwidth": 0,
    "downtime-limit": 300,
    "x-checkpoint-delay": 20000,
    "block-incremental": False,
    "multifd-channels": 2,
    "xbzrle-cache-size": 67108864,
    "max-postcopy-bandwidth": 0,
    "max-cpu-throttle": 99,
    "multifd-compression": "none",
    "multifd-zlib-level": 1,
    "multifd-qatzip-level": 1,
    "multifd-zstd-level": 1,
    "x-vcpu-dirty-limit-period": 1000,
    "vcpu-dirty-limit": 1,
    "mode": "normal",
    "zero-page-detection": "multifd",
    "direct-io": False,
    "cpr-exec-command": [],
}

# migrate_params_check (7.2): (parameter, ok(value, merged), QEMU name, expectation)
_PARAM_CHECKS = (
    ("compress-level", lambda v, p: v <= 9, "compress_level", "a value between 0 and 9"),
    ("compress-threads", lambda v, p: v >= 1, "compress_threads", "a value between 1 and 255"),
    ("decompress-threads", lambda v, p: v >= 1, "decompress_threads", "a value between 1 and 255"),
    (
        "throttle-trigger-threshold",
        lambda v, p: 1 <= v <= 100,
        "throttle_trigger_threshold",
        "an integer in the range of 1 to 100",
    ),
    (
        "cpu-throttle-initial",
        lambda v, p: 1 <= v <= 99,
        "cpu_throttle_initial",
        "an integer in the range of 1 to 99",
    ),
    (
        "cpu-throttle-increment",
        lambda v, p: 1 <= v <= 99,
        "cpu_throttle_increment",
        "an integer in the range of 1 to 99",
    ),
    (
        "max-bandwidth",
        lambda v, p: v <= (1 << 64) - 1,
        "max_bandwidth",
        "an integer in the range of 0 to SIZE_MAX bytes/second",
    ),
    (
        "downtime-limit",
        lambda v, p: v <= 2000 * 1000,
        "downtime_limit",
        "an integer in the range of 0 to (2000 * 1000) ms",
    ),
    ("multifd-channels", lambda v, p: v >= 1, "multifd_channels", "a value between 1 and 255"),
    ("multifd-zlib-level", lambda v, p: v <= 9, "multifd_zlib_level", "a value between 0 and 9"),
    ("multifd-zstd-level", lambda v, p: v <= 20, "multifd_zstd_level", "a value between 0 and 20"),
    (
        "xbzrle-cache-size",
        lambda v, p: v >= 4096 and v & (v - 1) == 0,
        "xbzrle_cache_size",
        "a power of two no less than the target page size",
    ),
    (
        "max-cpu-throttle",
        lambda v, p: p.get("cpu-throttle-initial", 20) <= v <= 99,
        "max_cpu_throttle",
        "an integer in the range of cpu_throttle_initial to 99",
    ),
    ("announce-initial", lambda v, p: v <= 100000, "announce_initial", "a value between 0 and 100000"),
    ("announce-max", lambda v, p: v <= 100000, "announce_max", "a value between 0 and 100000"),
    ("announce-rounds", lambda v, p: v <= 1000, "announce_rounds", "a value between 0 and 1000"),
    ("announce-step", lambda v, p: 1 <= v <= 10000, "announce_step", "a value between 0 and 10000"),
)


class Migration:
    """Per-instance migration state (``instance.migration``; this module is its owner)."""

    def __init__(self, inst):
        self.status = "none"  # source side
        self.incoming_status = "none"  # destination side
        self.incoming_address = None  # socket-address of query-migrate while listening
        self.incoming_started = False
        self.incoming_uri = None
        self.caps: dict = {}
        self.params: dict | None = None
        self.error_desc = None
        self.times = {}
        self.passes = 0
        self.handles: list = []
        self.vm_was_running = False
        self.postcopy = False
        self.outgoing: Outgoing | None = None  # the source's channel thread
        self.incoming: Incoming | None = None  # the destination's channel thread
        self.exit_on_error = True
        self.refused: list[str] = []  # why the last incoming load was refused, in words


def mig(inst) -> Migration:
    m = inst.migration
    if m is None:
        m = inst.migration = Migration(inst)
    return m


def blockers(inst) -> list:
    """Active migration blockers, most recent first (QEMU prepends them): the
    target's vCPU blockers (registered at vCPU init, :func:`..arch.migrate.blockers`)
    before the machine's."""
    from ..arch import migrate as models

    return list(reversed(models.blockers(inst) + inst.migration_blockers))


def _set_status(inst, m, status, incoming=False):
    if incoming:
        m.incoming_status = status
    else:
        m.status = status
    if m.caps.get("events"):
        inst.emit("MIGRATION", {"status": status})


def _later(inst, m, delay, fn):
    h = inst.scheduler.call_later(delay, fn)
    m.handles.append(h)
    return h


# --- capabilities and parameters -----------------------------------------------------------


def _capability_list(inst) -> list:
    rec = inst.build.recorded_return("query-migrate-capabilities", None, inst.accel)
    if rec is None:
        t = inst.build.schema.types.get("MigrationCapability")
        names = list(getattr(t, "members", ()) or ())
        rec = [{"capability": n, "state": False} for n in names]
    return rec


@command("query-migrate-capabilities")
def query_migrate_capabilities(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    out = []
    for entry in _capability_list(inst):
        name = entry["capability"]
        # MigrationCapabilityStatus in QAPI order: capability, state
        out.append({"capability": name, "state": bool(m.caps.get(name, entry.get("state", False)))})
    return out


@command("migrate-set-capabilities")
def migrate_set_capabilities(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    if m.status in RUNNING or m.incoming_status in RUNNING - {"setup"}:
        raise QMPError(ACTIVE_MSG)
    new = dict(m.caps)
    for c in args.get("capabilities") or ():
        new[c["capability"]] = bool(c["state"])
    if new.get("postcopy-preempt") and not new.get("postcopy-ram"):
        raise QMPError("Postcopy preempt requires postcopy-ram")
    if new.get("zero-copy-send") and not new.get("multifd"):
        raise QMPError("Zero copy only available for non-compressed non-TLS multifd migration")
    m.caps = new


def _params(inst, m) -> dict:
    if m.params is None:
        rec = inst.build.recorded_return("query-migrate-parameters", None, inst.accel)
        m.params = dict(rec) if rec is not None else dict(PARAM_DEFAULTS)
    return m.params


@command("query-migrate-parameters")
def query_migrate_parameters(ctx, args):
    inst = ctx.instance
    return dict(_params(inst, mig(inst)))  # held to the build's schema by the command table


@command("migrate-set-parameters")
def migrate_set_parameters(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    cur = _params(inst, m)
    merged = dict(cur)
    for k, v in args.items():
        if k in ("tls-creds", "tls-hostname", "tls-authz") and v is None:
            v = ""
        merged[k] = v
    for name, ok, qname, expect in _PARAM_CHECKS:
        if name in args and isinstance(args[name], int) and not ok(args[name], merged):
            raise QMPError("Parameter '%s' expects %s" % (qname, expect))
    if m.caps.get("zero-copy-send") and (
        merged.get("multifd-compression", "none") != "none" or merged.get("tls-creds")
    ):
        raise QMPError("Zero copy only available for non-compressed non-TLS multifd migration")
    m.params = merged


# --- query-migrate -------------------------------------------------------------------------


# What a guest that has not run costs on the wire (QEMU 7.2, TCG, recorded:
# tests/data/migration/qemu-7.2-tcg success): every page but a few is a zero
# page (8 bytes of address and flags + 1 fill byte), the few the firmware
# tables wrote are normal pages (8 + 4096), plus the block list; 128 MiB of
# RAM + 2 x 64 MiB flash + ROMs -> 614808 bytes.  RAM is a size here, so this
# is the model of the bytes a migration would move (and how long at a given
# max-bandwidth), not bytes qmpserver sends.
ZERO_PAGE_BYTES, NORMAL_PAGE_BYTES, NORMAL_PAGES, RAM_HEADER_BYTES = 9, 4104, 6, 108


def _ram_total(inst) -> int:
    return int(inst.config.memory or (128 << 20)) + (128 << 20) + 139264  # RAM + 2 pflash + ROMs


def _ram_bytes(inst) -> int:
    """Bytes of a complete RAM pass (the model above)."""
    pages = _ram_total(inst) // 4096
    return (pages - NORMAL_PAGES) * ZERO_PAGE_BYTES + NORMAL_PAGES * NORMAL_PAGE_BYTES + RAM_HEADER_BYTES


def _pass_seconds(inst, m) -> float:
    """How long the first RAM pass takes at ``max-bandwidth`` (bytes/s; QEMU's
    rate limit): 4.6 ms for 128 MiB at the 128 MiB/s default, 9 s for 1 GiB at
    256 KiB/s (the recorded cancel scenario stays active that long)."""
    bw = int(_params(inst, m).get("max-bandwidth") or 0)
    return _ram_bytes(inst) / bw if bw > 0 else 0.0


def _ram(inst, m, done: bool) -> dict:
    total = _ram_total(inst)
    page = 4096
    elapsed = max(1, m.times.get("total", 1))
    full = _ram_bytes(inst)
    if done:
        transferred = full
    else:
        bw = int(_params(inst, m).get("max-bandwidth") or 0)
        spent = time.monotonic() - m.times.get("start", time.monotonic())
        transferred = min(full, int(spent * bw)) if bw > 0 else full
    zero_done = max(0, (transferred - RAM_HEADER_BYTES - NORMAL_PAGES * NORMAL_PAGE_BYTES) // ZERO_PAGE_BYTES)
    # MigrationStats members in QAPI order (the schema drops what a version lacks)
    return {
        "transferred": transferred,
        "remaining": 0 if done else max(0, total - (zero_done + NORMAL_PAGES) * page),
        "total": total,
        "duplicate": (total // page) - NORMAL_PAGES if done else zero_done,
        "skipped": 0,
        "normal": NORMAL_PAGES,
        "normal-bytes": NORMAL_PAGES * page,
        "dirty-pages-rate": 0,
        "mbps": round(transferred * 8 / 1e6 / (elapsed / 1000.0), 14),
        "dirty-sync-count": 2 if done else 1,
        "postcopy-requests": 0,
        "page-size": page,
        "multifd-bytes": 0,
        "pages-per-second": 0,
        "precopy-bytes": transferred,
        "downtime-bytes": 0,
        "postcopy-bytes": 0,
        "dirty-sync-missed-zero-copy": 0,
    }


@command("query-migrate")
def query_migrate(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    info = {}
    status = m.status
    if status == "none" and m.incoming_status != "none":
        # fill_destination_migration_info: the listening address while the
        # incoming state lives; no status while listening on 7.2, whose
        # incoming state stays "none" until a source connects (recorded)
        if m.incoming_address is not None:
            info["socket-address"] = [m.incoming_address]
        hidden = m.incoming_status == "setup" and "migration-incoming-setup-event-always" in inst.build.quirks
        if not hidden:
            info["status"] = m.incoming_status
        if m.incoming_status == "failed" and m.error_desc:
            info["error-desc"] = m.error_desc
    elif status in ("setup", "failed", "cancelled", "cancelling", "wait-unplug", "colo"):
        info["status"] = status
        if status == "failed" and m.error_desc:
            info["error-desc"] = m.error_desc
    elif status in ("active", "completed", "pre-switchover", "device"):
        done = status == "completed"
        info["status"] = status
        info["ram"] = _ram(inst, m, done)
        if done:
            info["total-time"] = m.times.get("total", 13)
            info["downtime"] = m.times.get("downtime", 0)
        else:
            info["total-time"] = int((time.monotonic() - m.times.get("start", time.monotonic())) * 1000)
            info["expected-downtime"] = 300
        info["setup-time"] = m.times.get("setup", 2)
    reasons = blockers(inst)
    # QEMU 6.0 only: the required bool ``blocked`` (whether a blocker exists) beside the
    # reasons (fill_source_migration_info, migration/migration.c of v6.0.0; 6.1 dropped it,
    # the build's schema drops it elsewhere)
    info["blocked"] = bool(reasons)
    if reasons:
        info["blocked-reasons"] = reasons
    return info  # held to the build's schema by the command table (qapi/conform.py)


# --- addresses -----------------------------------------------------------------------------

_SCHEMES = ("tcp:", "unix:", "vsock:", "rdma:", "exec:", "fd:", "file:")
_CHANNEL_SCHEMES = ("tcp:", "unix:", "exec:", "fd:")  # what qmpserver opens for real


def _legacy(inst) -> bool:
    return "migrate-uri-legacy" in inst.build.quirks


def _uri_from_channels(channels) -> str | None:
    for ch in channels or ():
        addr = ch.get("addr") or {}
        t = addr.get("transport")
        if t == "socket":
            st_ = addr.get("type")
            if st_ == "inet":
                return "tcp:%s:%s" % (addr.get("host"), addr.get("port"))
            if st_ == "unix":
                return "unix:" + str(addr.get("path"))
            if st_ == "vsock":
                return "vsock:%s:%s" % (addr.get("cid"), addr.get("port"))
            if st_ == "fd":
                return "fd:" + str(addr.get("str"))
        if t == "exec":
            return "exec:" + " ".join(addr.get("args") or ())
        if t == "rdma":
            return "rdma:%s:%s" % (addr.get("host"), addr.get("port"))
        if t == "file":
            return "file:" + str(addr.get("filename"))
    return None


def _target(args, cmd):
    uri, channels = args.get("uri"), args.get("channels")
    if uri is not None and channels is not None:
        raise QMPError("need either 'uri' or 'channels' argument")
    if channels is not None:
        if len(channels) != 1:
            raise QMPError("Channel list has more than one entries")
        return _uri_from_channels(channels)
    if uri is None:
        raise QMPError("need either 'uri' or 'channels' argument")
    return uri


def _valid_scheme(uri: str) -> bool:
    return any(uri.startswith(s) for s in _SCHEMES)


def _take_fd(inst, monitor=None):
    """fd:NAME -> the descriptor ``monitor`` received with ``getfd`` (removed from
    its list, as ``monitor_get_fd`` does), or None."""
    from .fd import take_fd

    return lambda name: take_fd(inst, name, monitor)


def _post(inst, fn):
    """From a channel thread: run ``fn`` on the instance's loop."""
    inst.scheduler.call_soon_threadsafe(fn)


def _rp_silent(inst) -> bool:
    """QEMU before 8.2: the destination sends no SHUT on a failed load and the
    source's return path fills no ``error-desc`` (build quirk)."""
    return "migration-rp-silent" in inst.build.quirks


# --- outgoing ------------------------------------------------------------------------------


class Outgoing:
    """The source's channel thread: connect, send up to the switchover, wait for
    the loop's go, send the device state, read the destination's verdict."""

    def __init__(self, inst, m, uri, channel, snap):
        import threading

        self.inst, self.m, self.uri, self.channel, self.snap = inst, m, uri, channel, snap
        self.go = threading.Event()
        self.cancelled = False
        self.rp = bool(m.caps.get("return-path"))
        self.thread = threading.Thread(target=self.run, name="live_migration", daemon=True)

    def start(self):
        self.thread.start()

    def cancel(self):
        self.cancelled = True
        self.go.set()
        if self.channel is not None:
            self.channel.abort()

    def _rp_message(self, ch):
        """(type, value) from the return path, or None at its end."""
        try:
            r = st.Reader(ch.read)
            kind, length = r.be16(), r.be16()
            data = r.bytes(length)
        except (st.LoadError, OSError):
            return None
        return kind, int.from_bytes(data[:4], "big") if len(data) >= 4 else 0

    def run(self):
        inst, m = self.inst, self.m
        try:
            ch = self.channel or connect(self.uri, _take_fd(inst))
        except ChannelError as e:
            text = str(e)
            _post(inst, lambda: _report_fail(inst, m, text))
            return
        self.channel = ch
        rp = self.rp and ch.bidirectional
        head, tail = engine.outgoing(self.snap, rp)
        try:
            try:
                ch.write(head)
                wrote = True
            except OSError:  # the destination refused early and closed: read why below
                wrote = False
            # QEMU goes active as soon as the RAM setup is written; the first
            # iteration then runs while the destination checks the configuration
            # and the RAM blocks.  The mock's "iteration" ends at the destination's
            # PONG (with a return path): a refusal fails the source while active,
            # before any STOP, as recorded with QEMU 7.2.
            _post(inst, lambda: _active(inst, m, converge=not rp))
            if not wrote and not rp:
                raise OSError(errno.EPIPE, os.strerror(errno.EPIPE))
            if rp:
                msg = self._rp_message(ch)
                phase = "setup"  # the destination refused the configuration
                if msg == (st.RP_PONG, 1):
                    phase = "ram"  # ... or, after its first PONG, the RAM blocks
                    msg = self._rp_message(ch)
                if msg != (st.RP_PONG, 2):
                    _post(inst, lambda: _fail_phase(inst, m, phase, msg))
                    return
                _post(inst, lambda: _converged(inst, m))
            self.go.wait()
            if self.cancelled:
                return
            ch.write(tail)
            if rp:
                msg = self._rp_message(ch)
                if msg == (st.RP_SHUT, 0):
                    _post(inst, lambda: _complete(inst, m))
                else:
                    _post(inst, lambda: _fail_phase(inst, m, "device", msg))
                return
            ch.shutdown_write()
            if ch.proc is not None:
                ch.proc.wait()
            _post(inst, lambda: _complete(inst, m))
        except OSError as e:
            if self.cancelled:
                return
            text = "Unable to write to socket: %s" % (e.strerror or e)
            _post(inst, lambda: _report_fail(inst, m, text))
        except Exception as e:  # a bug in a model must not hang the source: fail visibly
            from ..log import get as get_logger

            get_logger("qmpserver.migration").exception("outgoing migration: internal error")
            text = "qmpserver: internal error while migrating: %r" % e
            _post(inst, lambda: _report_fail(inst, m, text))
        finally:
            ch.close()


@command("migrate")
def migrate(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    uri = _target(args, "migrate")
    if not _legacy(inst) and not _valid_scheme(uri):
        raise QMPError("unknown migration protocol: %s" % uri)
    if args.get("resume"):
        if m.status != "postcopy-paused":
            raise QMPError("Cannot resume if there is no paused migration")
        return
    if m.status in RUNNING:
        raise QMPError(ACTIVE_MSG)
    if inst.runstate == "inmigrate":
        raise QMPError("Guest is waiting for an incoming migration")
    if inst.runstate == "postmigrate":
        raise QMPError("Can't migrate the vm that was paused due to previous migration")
    reasons = blockers(inst)
    if reasons:
        raise QMPError(reasons[0])
    try:
        snap = engine.Snapshot(inst)
    except engine.NotModelled as e:
        raise QMPError(str(e)) from None
    m.error_desc = None
    m.postcopy = False
    m.passes = 0
    m.times = {"start": time.monotonic()}
    _set_status(inst, m, "setup")
    if _legacy(inst) and not _valid_scheme(uri):
        _set_status(inst, m, "failed")
        raise QMPError("Parameter 'uri' expects a valid migration protocol")
    if not any(uri.startswith(s) for s in _CHANNEL_SCHEMES):
        text = "qmpserver: migration over %s is not modelled" % uri.partition(":")[0]
        inst.error_report(text)
        _fail(inst, m, text)
        raise QMPError(text)
    channel = None
    if uri.startswith("exec:"):
        inst.before_spawn()  # exec_start_outgoing_migration forks /bin/sh in the command
    if uri.startswith("fd:"):
        # fd_start_outgoing_migration: the descriptor is taken in the command
        from ..migration.channel import fd_channel

        try:
            channel = fd_channel(uri[3:], _take_fd(inst, ctx.session.monitor if ctx.session else None))
        except ChannelError as e:
            _fail(inst, m, str(e))
            raise QMPError(str(e)) from None
    m.outgoing = Outgoing(inst, m, uri, channel, snap)
    m.outgoing.start()


def _report_fail(inst, m, msg):
    """A failure QEMU also prints on the source's stderr (migrate_fd_error /
    qemu_file errors: recorded for connect and socket write errors on 7.2)."""
    if m.status in RUNNING:
        inst.error_report(msg)
    _fail(inst, m, msg)


def _fail(inst, m, msg):
    if m.status not in RUNNING:
        return
    m.error_desc = msg
    _cancel_timers(m)
    _set_status(inst, m, "failed")
    if m.vm_was_running and inst.runstate in ("finish-migrate", "paused"):
        inst.vm_start()  # migration_iteration_finish: vm_start() after a failure
    elif inst.runstate == "finish-migrate":
        inst.runstate = "paused"


def _fail_phase(inst, m, phase, msg):
    """The destination refused (SHUT(1)) or went away (no message) in ``phase``."""
    silent = _rp_silent(inst)
    if silent:
        # 7.2: only write errors fill error-desc; a destination that exits at the
        # configuration leaves the source writing RAM into a closed socket
        # (recorded: "Bad file descriptor" in 18 of 20 runs, else "Connection reset
        # by peer" / "Broken pipe"; tests/data/migration/qemu-7.2-tcg/README.md)
        desc = "Unable to write to socket: Bad file descriptor" if phase in ("setup", "ram") else None
        if phase == "ram":
            # the RAM section's save fails first (qemu_savevm_state_iterate), -EIO
            inst.error_report("failed to save SaveStateEntry with id(name): 2(ram): -5")
        if desc is not None:
            inst.error_report(desc)
    elif msg is not None and msg[0] == st.RP_SHUT:
        desc = "Sibling indicated error %d" % msg[1]
    else:
        desc = "Channel error: Input/output error"
    if desc is None:
        if m.status in RUNNING:
            m.error_desc = None
            _cancel_timers(m)
            _set_status(inst, m, "failed")
            if m.vm_was_running and inst.runstate in ("finish-migrate", "paused"):
                inst.vm_start()
        return
    _fail(inst, m, desc)


def _cancel_timers(m):
    for h in m.handles:
        h.cancel()
    m.handles = []


def _active(inst, m, converge=True):
    """RAM setup written: MIGRATION_PASS 1 (the first bitmap sync) then ``active``."""
    if m.status != "setup":
        return
    m.times["setup"] = max(1, int((time.monotonic() - m.times["start"]) * 1000))
    m.passes = 1
    if m.caps.get("events"):
        inst.emit("MIGRATION_PASS", {"pass": 1})
    _set_status(inst, m, "active")
    if converge:
        _converged(inst, m)


def _converged(inst, m):
    """The destination took the setup: the first RAM pass ends after the time
    it takes at ``max-bandwidth`` (:func:`_pass_seconds`), then the switchover."""
    if m.status == "active":
        spent = time.monotonic() - m.times.get("start", time.monotonic())
        _later(inst, m, max(STEP, _pass_seconds(inst, m) - spent), lambda: _switchover(inst, m))


def _switchover(inst, m):
    """migration_completion: stop the guest, optionally pause before the switchover."""
    if m.status != "active":
        return
    m.t_stop = time.monotonic()
    m.vm_was_running = inst.runstate == "running"
    if m.vm_was_running:
        inst.vm_stop("finish-migrate")
    else:
        inst.runstate = "finish-migrate"
    if m.postcopy:
        _set_status(inst, m, "postcopy-active")
    if m.caps.get("pause-before-switchover"):
        _set_status(inst, m, "pre-switchover")
        return  # migrate-continue goes on
    _send_device_state(inst, m)


def _send_device_state(inst, m):
    """migration_completion after the pause: ``device``, then the last RAM pass
    (its bitmap sync emits MIGRATION_PASS 2), then the device state goes out.
    Recorded order (QEMU 7.2): STOP, pre-switchover, device, MIGRATION_PASS 2,
    completed; without pause-before-switchover: STOP, MIGRATION_PASS 2, completed."""
    if m.status == "pre-switchover":
        # migration_maybe_pause: only a paused switchover goes on through "device"
        _set_status(inst, m, "device")
    m.passes = 2
    if m.caps.get("events"):
        inst.emit("MIGRATION_PASS", {"pass": 2})
    if m.outgoing is not None:
        m.outgoing.go.set()


def _complete(inst, m):
    if m.status not in RUNNING:
        return
    t0 = getattr(m, "t_stop", time.monotonic())
    m.times["downtime"] = int((time.monotonic() - t0) * 1000)
    m.times["total"] = max(m.times.get("setup", 1) + 1, int((time.monotonic() - m.times["start"]) * 1000))
    _set_status(inst, m, "completed")
    inst.runstate = "postmigrate"


@command("migrate_cancel")
def migrate_cancel(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    if m.status not in RUNNING:
        return
    _cancel_timers(m)
    _set_status(inst, m, "cancelling")
    out = m.outgoing

    def done():
        if out is not None:
            out.cancel()
        _set_status(inst, m, "cancelled")
        if m.vm_was_running and inst.runstate in ("finish-migrate", "paused"):
            inst.vm_start()

    inst.main_loop(ctx, done)


@command("migrate-continue")
def migrate_continue(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    state = args.get("state")
    if m.status != state:
        raise QMPError("Migration not in expected state: %s" % m.status)
    _send_device_state(inst, m)


@command("migrate-start-postcopy")
def migrate_start_postcopy(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    if not m.caps.get("postcopy-ram"):
        raise QMPError("Enable postcopy with migrate_set_capability before the start of migration")
    if m.status == "none":
        raise QMPError("Postcopy must be started after migration has been started")
    m.postcopy = True


@command("migrate-pause")
def migrate_pause(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    if m.status == "postcopy-active":
        _set_status(inst, m, "postcopy-paused")
        return
    if m.incoming_status == "postcopy-active":
        _set_status(inst, m, "postcopy-paused", incoming=True)
        return
    raise QMPError("migrate-pause is currently only supported during postcopy-active state")


@command("migrate-recover")
def migrate_recover(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    if m.incoming_status != "postcopy-paused":
        raise QMPError("Migrate recover can only be run when postcopy is paused.")
    _set_status(inst, m, "postcopy-recover", incoming=True)


# --- incoming ------------------------------------------------------------------------------


class Incoming:
    """The destination's channel thread: accept, load, answer on the return path."""

    def __init__(self, inst, m, listener, dest):
        import threading

        self.inst, self.m, self.listener, self.dest = inst, m, listener, dest
        self.channel = None
        self.rp_open = False
        self.thread = threading.Thread(target=self.run, name="incoming", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.listener.close()
        if self.channel is not None:
            self.channel.abort()

    def _command(self, cmd, data):
        if cmd == st.CMD_OPEN_RETURN_PATH:
            self.rp_open = True
        elif cmd == st.CMD_PING and self.rp_open:
            self.channel.write(st.rp_message(st.RP_PONG, int.from_bytes(data[:4], "big")))

    def run(self):
        inst, m = self.inst, self.m
        ch = self.listener.accept()
        if ch is None:
            return
        self.channel = ch
        _post(inst, lambda: _incoming_active(inst, m))
        try:
            self.dest.load(st.Reader(ch.read), self._command)
        except st.LoadError as e:
            err = e
        except OSError:  # the Reader turns read errors into QEMUFile's; this is a write (PONG)
            err = st.LoadError(st.EIO)
        except Exception as e:  # a bug in a model must not pass for a verdict: say so
            from ..log import get as get_logger

            get_logger("qmpserver.migration").exception("incoming migration: internal error")
            err = st.LoadError(st.EINVAL, "qmpserver: internal error while loading: %r" % e)
        else:
            err = None
        silent = _rp_silent(inst)
        put_path = err is not None and self.dest.put_failed and _put_after_load(inst)
        try:
            if self.rp_open and ch.bidirectional and not put_path and (err is None or not silent):
                ch.write(st.rp_message(st.RP_SHUT, 0 if err is None else 1))
        except OSError:
            pass
        ch.close()
        abi = self.dest.abi
        why = list(self.dest.why)
        warnings = list(self.dest.warnings)
        if err is None:
            _post(inst, lambda: _incoming_done(inst, abi, warnings))
        else:
            _post(inst, lambda: _incoming_failed(inst, err, why, put_path, warnings))


def _put_after_load(inst) -> bool:
    """QEMU 10.0's ``cpu_synchronize_all_post_init`` after a load: a register KVM
    refused is written again and ``Failed to put registers after init`` exits
    the process (build quirk ``migration-kvm-put-after-load``)."""
    return "migration-kvm-put-after-load" in inst.build.quirks and inst.accel == "kvm"


def start_incoming(inst, uri: str) -> None:
    """``qemu_start_incoming_migration``: listen on ``uri``."""
    m = mig(inst)
    if not _valid_scheme(uri):
        raise QMPError("unknown migration protocol: %s" % uri)
    if not any(uri.startswith(s) for s in _CHANNEL_SCHEMES):
        raise QMPError("qmpserver: incoming migration over %s is not modelled" % uri.partition(":")[0])
    try:
        snap = engine.Snapshot(inst)
    except engine.NotModelled as e:
        raise QMPError(str(e)) from None
    if uri.startswith("exec:"):
        inst.before_spawn()
    try:
        listener = Listener(uri, _take_fd(inst))
    except ChannelError as e:
        raise QMPError(str(e)) from None
    m.incoming_started = True
    m.incoming_uri = uri
    m.incoming_address = listener.socket_address()
    m.incoming = Incoming(inst, m, listener, engine.Destination(snap))
    if "migration-incoming-setup-event-always" in inst.build.quirks and not m.caps.get("events"):
        m.incoming_status = "setup"
        inst.emit("MIGRATION", {"status": "setup"})
    else:
        _set_status(inst, m, "setup", incoming=True)
    inst.exit_listeners.append(lambda cause: m.incoming.stop() if m.incoming else None)
    m.incoming.start()


def _incoming_active(inst, m):
    if m.incoming_status == "setup":
        _set_status(inst, m, "active", incoming=True)


def _incoming_done(inst, abi, warnings=()):
    """process_incoming_migration_bh: the guest continues with the source's ABI."""
    from ..vm.abi import GuestABI

    for line in warnings:  # warn_report while loading (spapr caps at a lower level ...)
        inst.error_report(line)
    m = mig(inst)
    m.incoming_address = None  # migration_incoming_state_destroy
    if abi is not None:
        inst.abi = GuestABI.from_dict(abi)
        inst.migrated_in = True
    if inst.autostart:
        inst.vm_start()
    else:
        inst.runstate = "paused"
    _set_status(inst, m, "completed", incoming=True)


def _incoming_failed(inst, err, why, put_path, warnings=()):
    m = mig(inst)
    m.incoming_address = None  # migration_incoming_state_destroy
    m.refused = why  # in words, for plans, the HTTP API and logs (QEMU prints none of it)
    if why:
        from ..log import get as get_logger

        log = get_logger("qmpserver.migration")
        for line in why:
            # info: a launcher's stderr is QEMU's, which libvirt reads
            log.info("incoming migration refused: %s", line)
    for line in [*warnings, *err.lines]:
        inst.error_report(line)
    if put_path:
        inst.error_report("Failed to put registers after init: Invalid argument")
        inst.terminate("migration-failed", exit_code=1)
        return
    _set_status(inst, m, "failed", incoming=True)
    m.error_desc = err.final
    if m.exit_on_error:
        inst.error_report(err.final)
        inst.terminate("migration-failed", exit_code=1)


@command("migrate-incoming")
def migrate_incoming(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    uri = _target(args, "migrate-incoming")
    if m.incoming_started:
        raise QMPError("The incoming migration has already been started")
    if inst.runstate != "inmigrate":
        raise QMPError("'-incoming' was not specified on the command line")
    m.exit_on_error = args.get("exit-on-error", True)
    start_incoming(inst, uri)
