"""The instance's real block layer: one Debian ``qemu-storage-daemon`` per instance.

QEMU's block layer (images, node graph, jobs, image locks) is not simulated: commands
that need it are forwarded, unchanged, to a ``qemu-storage-daemon`` of the same QEMU
build (7.2 here), and its replies, errors and events come back unchanged (the event
keeps the daemon's timestamp).  What the guest does (devices, run state) stays
qmpserver's.

* **When it starts**: lazily, on the first command that needs it (a job, a
  ``transaction``, ``blockdev-create``, ...).  It then replays, in creation order, the
  ``-blockdev``/``blockdev-add`` options qmpserver recorded, and gives every device
  that has a ``drive`` a BlockBackend of its own: a writable (``read-only`` node:
  read-only) vhost-user-blk export on the device's node, on a socket nobody connects
  to (an NBD export would refuse ``block_resize``: it unshares the resize permission).  A
  start costs about 60 ms (qemu-storage-daemon to its QMP greeting) and is paid only
  by instances that run block jobs: libvirt's probes (``-machine none``, no disk) and
  a domain's start never pay it.
* **Afterwards** the daemon owns the images (and their locks, as QEMU would):
  ``blockdev-add``/``-del`` and ``block_resize`` go to it, the device's ``drive``
  follows the node its export sits on (after a mirror's pivot, a commit of the active
  layer or a ``blockdev-snapshot``), ``query-block``/``query-named-block-nodes``/
  ``query-blockstats`` read the daemon's graph.  qmpserver's own image work through
  ``qemu-img`` (HMP ``savevm``/``loadvm``/``delvm``) cannot share the images with it
  and is refused with an error naming it.
* **Cleanup**: the daemon dies with the instance: ``quit`` when the instance exits,
  and ``PR_SET_PDEATHSIG`` (SIGKILL) for an instance that is killed.

The device exports make the daemon emit ``BLOCK_EXPORT_DELETED`` (QEMU's devices do
not): those events are not forwarded, and ``query-block-exports`` leaves them out.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque

from ..errors import QMPError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BINARY = "qemu-storage-daemon"
#: job states a drained section passes a running job through (``job_pause_point``)
_PAUSES = frozenset({"standby", "ready", "running", "paused"})
_START_TIMEOUT = 10.0
_REPLY_TIMEOUT = 60.0


def binary() -> str:
    path = shutil.which(BINARY) or "/usr/bin/" + BINARY
    if not os.access(path, os.X_OK):
        raise QMPError(
            "qmpserver: the block layer needs qemu-storage-daemon (Debian package qemu-system-common)"
        )
    return path


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the instance's process dies (prctl PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)


class StorageDaemon:
    """A running ``qemu-storage-daemon`` and its QMP connection (a reader thread; events are
    emitted on the instance's loop, in the daemon's order, those preceding a reply before it)."""

    def __init__(self, inst: Any) -> None:
        self.inst = inst
        self.dir = tempfile.mkdtemp(prefix="qmps-qsd-")
        mon = os.path.join(self.dir, "qmp.sock")
        self.proc = subprocess.Popen(
            [
                binary(),
                "--chardev",
                "socket,id=qmpserver,path=%s,server=on,wait=off" % mon,
                "--monitor",
                "chardev=qmpserver",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        self.sock = self._connect(mon)
        self.lock = threading.Condition()
        self.inbox: deque[dict[str, Any]] = deque()
        self.replies: dict[Any, dict[str, Any]] = {}  # id -> a reply popped by a nested call
        self.closed = False
        self.ids = 0
        self.exports: dict[int, str] = {}  # id(device record) -> export id
        self.serial = 0  # of export ids
        self.version: tuple[int, int, int] = (0, 0, 0)  # the daemon's QEMU version (its greeting)
        self.client_exports: set[str] = set()  # ids of exports the client's block-export-add made
        self.copy_modes: dict[str, str] = {}  # mirror job id -> copy-mode (commands/blockjob.py)
        self.moved = True  # the graph may have changed since follow_exports last looked
        self.reader = threading.Thread(target=self._read, name="qemu-storage-daemon", daemon=True)
        self.reader.start()
        self.call("qmp_capabilities", {})
        built = tuple(inst.build.version)
        if self.version[:2] != built[:2]:
            from .. import log

            log.get("qmpserver.block").warning(
                "instance %s: the block layer is qemu-storage-daemon %d.%d.%d, the build is QEMU %d.%d.%d: "
                "block jobs answer as the daemon's version does",
                inst.id,
                *self.version,
                *built,
            )

    def _connect(self, path: str) -> socket.socket:
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return s
            except OSError:
                s.close()
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = ""
                    if self.proc.poll() is not None and self.proc.stderr is not None:
                        err = self.proc.stderr.read().decode(errors="replace")
                    self.stop()
                    raise QMPError(
                        "qmpserver: qemu-storage-daemon did not start%s" % (": " + err.strip() if err else "")
                    ) from None
                time.sleep(0.002)

    # -- the connection ---------------------------------------------------------------------

    def _read(self) -> None:
        f = self.sock.makefile("rb")
        try:
            greeting = json.loads(f.readline())
            v = greeting["QMP"]["version"]["qemu"]
            self.version = (v["major"], v["minor"], v["micro"])
            for line in f:
                msg = json.loads(line)
                with self.lock:
                    self.inbox.append(msg)
                    self.lock.notify_all()
                if "event" in msg:
                    self.inst.scheduler.call_soon_threadsafe(self.drain)
        except (OSError, ValueError):
            pass
        with self.lock:
            self.closed = True
            self.lock.notify_all()

    def drain(self) -> None:
        """Emit the events received so far (on the instance's loop)."""
        while True:
            with self.lock:
                if not self.inbox or "event" not in self.inbox[0]:
                    return
                ev = self.inbox.popleft()
            self._emit(ev)

    def _emit(self, ev: dict[str, Any]) -> None:
        if ev["event"] == "BLOCK_EXPORT_DELETED":
            # only for an export the client made (the daemon also sends it for a
            # block-export-add that failed, which real QEMU 7.2 does not; and for the
            # exports standing in for devices)
            if ev.get("data", {}).get("id") not in self.client_exports:
                return
            self.client_exports.discard(ev["data"]["id"])
        if self.inst.terminated is None:
            self.inst.emit(ev["event"], ev.get("data"), timestamp=ev.get("timestamp"))
        if ev["event"] == "JOB_STATUS_CHANGE":
            self.moved = True  # a job may have moved a device's node: sync_exports looks

    def call(self, name: str, args: dict[str, Any], quiet: bool = False) -> Any:
        """Run a command in the daemon: its ``return`` value, or its error raised unchanged.
        ``quiet``: a command of qmpserver's own (the exports); the pauses it makes running
        jobs take (JOB_STATUS_CHANGE ``standby`` and back, a drained section) are not
        forwarded: QEMU's devices do not cause them."""
        self.ids += 1
        rid = self.ids
        if not name.startswith(("query-", "block-export-")):
            self.moved = True  # a graph change (transaction, blockdev-snapshot, ...)
        data = json.dumps({"execute": name, "arguments": args, "id": rid}).encode() + b"\n"
        try:
            self.sock.sendall(data)
        except OSError:
            raise QMPError("qmpserver: qemu-storage-daemon is gone") from None
        deadline = time.monotonic() + _REPLY_TIMEOUT
        while True:
            with self.lock:
                while (
                    rid not in self.replies
                    and not any(m.get("id") == rid for m in self.inbox)
                    and not self.closed
                ):
                    if not self.lock.wait(max(0.0, deadline - time.monotonic())):
                        raise QMPError("qmpserver: qemu-storage-daemon did not answer %s" % name)
                if rid in self.replies:
                    msg = self.replies.pop(rid)
                elif not self.inbox:
                    raise QMPError("qmpserver: qemu-storage-daemon is gone")
                else:
                    msg = self.inbox.popleft()
            if "event" in msg:
                if not (quiet and msg["event"] == "JOB_STATUS_CHANGE" and msg["data"]["status"] in _PAUSES):
                    self._emit(msg)  # may call the daemon again (a nested call)
                continue
            if msg.get("id") != rid:
                # the reply of an outer call, reached by a call nested in an event's emission:
                # kept for its caller (returning it here answered one command with another's reply)
                with self.lock:
                    self.replies[msg.get("id")] = msg
                continue
            if "error" in msg:
                raise QMPError(msg["error"]["desc"], msg["error"]["class"])
            return msg.get("return")

    def quit(self) -> None:
        """QEMU's exit (``qemu_cleanup``: drain, ``job_cancel_sync_all``, close): the daemon's
        own exit does the same steps; its events are forwarded until it closes the
        connection, while the instance's monitors still exist (after SHUTDOWN, as in QEMU)."""
        try:
            for key in list(self.exports):
                self._unexport(key)
            self.call("quit", {})
        except QMPError:
            return
        deadline = time.monotonic() + 10
        with self.lock:
            while not self.closed and self.lock.wait(max(0.0, deadline - time.monotonic())):
                pass
        self.drain()

    def stop(self) -> None:
        """End the daemon: ``quit`` unless it is on its way out already (:meth:`quit`), a
        SIGKILL if it has not exited 2 s later; then its directory goes."""
        if self.proc.poll() is None:
            try:
                if not getattr(self, "closed", True):
                    self.sock.sendall(b'{"execute":"quit"}\n')
            except OSError:
                pass  # it closed the connection meanwhile: it is exiting
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        try:
            self.sock.close()
        except AttributeError:
            pass
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- devices: one export each -----------------------------------------------------------

    def sync_exports(self) -> None:
        """Give each device with a ``drive`` an export on its node; drop those of devices gone."""
        inst = self.inst
        if self.moved:
            self.moved = False
            self.follow_exports()
        live = {}
        for d in inst.backends.devices:
            drive = d["props"].get("drive")
            if drive is None:
                continue
            if id(d) in self.exports:
                live[id(d)] = d
                continue
            if drive not in inst.backends.block:
                continue
            live[id(d)] = d
            self.serial += 1
            eid = "qmpserver-%d" % self.serial
            ro = str(inst.backends.block[drive].get("read-only", False)).lower() in ("true", "on", "1")
            addr = {"type": "unix", "path": os.path.join(self.dir, "%s.sock" % eid)}
            args = {"type": "vhost-user-blk", "id": eid, "node-name": drive, "writable": not ro, "addr": addr}
            self.call("block-export-add", args, quiet=True)
            self.exports[id(d)] = eid
        for key in [k for k in self.exports if k not in live]:
            self._unexport(key)

    def _unexport(self, key: int) -> None:
        eid = self.exports.pop(key)
        self.call("block-export-del", {"id": eid, "mode": "hard"}, quiet=True)

    def follow_exports(self) -> None:
        """A device's ``drive`` is the node its export sits on now (a pivot or a new overlay
        moved it), as a QEMU device's BlockBackend follows its node."""
        by_export = {e: k for k, e in self.exports.items()}
        devices = {id(d): d for d in self.inst.backends.devices}
        try:
            infos = self.call("query-block-exports", {})
        except QMPError:
            return
        for info in infos:
            d = devices.get(by_export.get(info["id"], -1))
            if d is not None and info.get("node-name"):
                d["props"]["drive"] = info["node-name"]

    def nodes(self) -> list[dict[str, Any]]:
        return self.call("query-named-block-nodes", {})  # type: ignore[no-any-return]


def get(inst: Any) -> StorageDaemon | None:
    """The instance's daemon if it runs."""
    return getattr(inst.backends, "daemon", None)


def ensure(inst: Any) -> StorageDaemon:
    """The instance's daemon, started (and given the recorded nodes and devices) if needed."""
    d = get(inst)
    if d is not None:
        d.sync_exports()
        return d
    d = StorageDaemon(inst)
    try:
        for opts in inst.backends.block.values():
            d.call("blockdev-add", opts)
        d.sync_exports()
    except QMPError:
        d.stop()
        raise
    inst.backends.daemon = d
    inst.exit_listeners.append(lambda _cause: stop(inst))
    return d


def cleanup(inst: Any) -> None:
    """The block layer's part of the instance's exit, before its monitors close."""
    d = get(inst)
    if d is not None:
        d.quit()


def stop(inst: Any) -> None:
    d = get(inst)
    if d is not None:
        inst.backends.daemon = None
        d.stop()
