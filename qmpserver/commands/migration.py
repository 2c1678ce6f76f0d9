"""Live migration: status, blockers, a plausible state machine, tunables.

What QEMU does (``migration/migration.c`` of QEMU v7.2.0, qemu.git;
behaviour observed on Debian's 7.2.22):

* ``query-migrate`` lists ``blocked-reasons`` whenever a blocker exists
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

The mock moves no memory.  A source whose URI is the listening address of
an instance in the same process (``migrate-incoming`` or ``-incoming``)
drives that destination too (active, RESUME when autostart, completed);
``tcp:``/``unix:`` addresses nobody listens on in-process are probed with a
real connect (:data:`connect_probe`), and a refused connection fails the
migration with QEMU's ``Failed to connect to 'HOST:PORT': Connection
refused``; ``exec:``, ``fd:`` and ``file:`` always succeed.
"""

from __future__ import annotations

import time
import weakref

from ..errors import QMPError
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


def _real_connect(kind: str, address) -> str | None:
    """Try to reach a migration destination; None when something listens."""
    import socket

    try:
        if kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(0.5)
            s.connect(address)
        else:
            s = socket.create_connection(address, timeout=0.5)
        s.close()
        return None
    except OSError as e:
        return e.strerror or str(e)


# replaceable (tests, sandboxes): fn(kind, address) -> None | strerror
connect_probe = _real_connect

# listening address -> destination instance (same process)
_listeners: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()


class Migration:
    """Per-instance migration state (``instance.migration``; this module is its owner)."""

    def __init__(self, inst):
        self.status = "none"  # source side
        self.incoming_status = "none"  # destination side
        self.incoming_started = False
        self.incoming_uri = None
        self.caps: dict = {}
        self.params: dict | None = None
        self.error_desc = None
        self.times = {}
        self.passes = 0
        self.handles: list = []
        self.peer = None
        self.vm_was_running = False
        self.postcopy = False


def mig(inst) -> Migration:
    m = inst.migration
    if m is None:
        m = inst.migration = Migration(inst)
    return m


def blockers(inst) -> list:
    """Active migration blockers, most recent first (QEMU prepends them)."""
    return list(reversed(inst.migration_blockers))


def _shape(inst, cmd, value):
    from .machine import shaped

    return shaped(inst, cmd, value)


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
    return _shape(inst, "query-migrate-parameters", dict(_params(inst, mig(inst))))


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


def _ram(inst, m, done: bool) -> dict:
    total = int(inst.config.memory or (128 << 20)) + (128 << 20) + 139264  # RAM + 2 pflash + ROMs
    page = 4096
    elapsed = max(1, m.times.get("total", 1))
    transferred = 614808 if done else 300000
    # MigrationStats members in QAPI order (the schema drops what a version lacks)
    return {
        "transferred": transferred,
        "remaining": 0 if done else total // 2,
        "total": total,
        "duplicate": (total // page) - 6 if done else (total // page) // 2,
        "skipped": 0,
        "normal": 6,
        "normal-bytes": 6 * page,
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
        info["status"] = m.incoming_status  # fill_destination_migration_info
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
    if reasons:
        info["blocked-reasons"] = reasons
    return _shape(inst, "query-migrate", info)


# --- addresses -----------------------------------------------------------------------------

_SCHEMES = ("tcp:", "unix:", "vsock:", "rdma:", "exec:", "fd:", "file:")


def _legacy(inst) -> bool:
    return "migrate-uri-legacy" in inst.build.quirks


def _uri_from_channels(channels) -> str | None:
    for ch in channels or ():
        addr = ch.get("addr") or {}
        t = addr.get("transport")
        if t == "socket":
            st = addr.get("type")
            if st == "inet":
                return "tcp:%s:%s" % (addr.get("host"), addr.get("port"))
            if st == "unix":
                return "unix:" + str(addr.get("path"))
            if st == "vsock":
                return "vsock:%s:%s" % (addr.get("cid"), addr.get("port"))
            if st == "fd":
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


def _normal(uri: str) -> str:
    if uri.startswith("tcp:"):
        host, _, port = uri[4:].rpartition(":")
        if host in ("", "0", "0.0.0.0", "::", "[::]", "localhost"):
            host = "127.0.0.1"
        return "tcp:%s:%s" % (host.strip("[]"), port.split(",")[0])
    return uri.split(",")[0]


# --- outgoing ------------------------------------------------------------------------------


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
    m.error_desc = None
    m.postcopy = False
    m.passes = 0
    m.times = {"start": time.monotonic()}
    _set_status(inst, m, "setup")
    if _legacy(inst) and not _valid_scheme(uri):
        _set_status(inst, m, "failed")
        raise QMPError("Parameter 'uri' expects a valid migration protocol")
    peer = _listeners.get(_normal(uri))
    if peer is not None and peer is not inst and mig(peer).incoming_status == "setup":
        m.peer = peer
    else:
        m.peer = None
        why = None
        if uri.startswith("tcp:"):
            host, _, port = uri[4:].rpartition(":")
            try:
                why = connect_probe("tcp", (host.strip("[]") or "127.0.0.1", int(port.split(",")[0])))
            except ValueError:
                why = "Invalid argument"
            where = uri[4:].split(",")[0]
        elif uri.startswith("unix:"):
            where = uri[5:].split(",")[0]
            why = connect_probe("unix", where)
        if why:
            msg = "Failed to connect to '%s': %s" % (where, why)
            _later(inst, m, 0, lambda: _fail(inst, m, msg))
            return
    _later(inst, m, STEP, lambda: _active(inst, m))


def _fail(inst, m, msg):
    m.error_desc = msg
    _set_status(inst, m, "failed")
    if m.peer is not None:
        _incoming_failed(m.peer)


def _active(inst, m):
    if m.status != "setup":
        return
    m.times["setup"] = max(1, int((time.monotonic() - m.times["start"]) * 1000))
    m.passes = 1
    if m.caps.get("events"):
        inst.emit("MIGRATION_PASS", {"pass": 1})
    _set_status(inst, m, "active")
    if m.peer is not None:
        _set_status(m.peer, mig(m.peer), "active", incoming=True)
    _later(inst, m, STEP, lambda: _complete(inst, m))


def _complete(inst, m):
    if m.status != "active":
        return
    t0 = time.monotonic()
    m.vm_was_running = inst.runstate == "running"
    if m.vm_was_running:
        inst.vm_stop("finish-migrate")
    else:
        inst.runstate = "finish-migrate"
    m.passes = 2
    if m.caps.get("events"):
        inst.emit("MIGRATION_PASS", {"pass": 2})
    if m.postcopy:
        _set_status(inst, m, "postcopy-active")
        if m.peer is not None:
            _set_status(m.peer, mig(m.peer), "postcopy-active", incoming=True)
    m.times["downtime"] = int((time.monotonic() - t0) * 1000)
    m.times["total"] = max(m.times.get("setup", 1) + 1, int((time.monotonic() - m.times["start"]) * 1000))
    if m.peer is not None:
        _incoming_done(m.peer)
    _set_status(inst, m, "completed")
    inst.runstate = "postmigrate"


@command("migrate_cancel")
def migrate_cancel(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    if m.status not in RUNNING:
        return
    for h in m.handles:
        h.cancel()
    m.handles = []
    _set_status(inst, m, "cancelling")
    peer = m.peer

    def done():
        _set_status(inst, m, "cancelled")
        if peer is not None:
            _incoming_failed(peer)

    inst.main_loop(ctx, done)


@command("migrate-continue")
def migrate_continue(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    state = args.get("state")
    if m.status != state:
        raise QMPError("Migration not in expected state: %s" % m.status)


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


def start_incoming(inst, uri: str) -> None:
    """``qemu_start_incoming_migration``: listen (register) on ``uri``."""
    m = mig(inst)
    if not _valid_scheme(uri):
        raise QMPError("unknown migration protocol: %s" % uri)
    m.incoming_started = True
    m.incoming_uri = uri
    _set_status(inst, m, "setup", incoming=True)
    _listeners[_normal(uri)] = inst


def _incoming_done(inst):
    m = mig(inst)
    _listeners.pop(_normal(m.incoming_uri or ""), None)
    if inst.autostart:
        inst.vm_start()
    else:
        inst.runstate = "paused"
    _set_status(inst, m, "completed", incoming=True)


def _incoming_failed(inst):
    m = mig(inst)
    _set_status(inst, m, "failed", incoming=True)


@command("migrate-incoming")
def migrate_incoming(ctx, args):
    inst = ctx.instance
    m = mig(inst)
    uri = _target(args, "migrate-incoming")
    if m.incoming_started:
        raise QMPError("The incoming migration has already been started")
    if inst.runstate != "inmigrate":
        raise QMPError("'-incoming' was not specified on the command line")
    start_incoming(inst, uri)
