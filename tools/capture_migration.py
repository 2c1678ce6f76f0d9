#!/usr/bin/env python3
"""Record what real QEMU 7.2 does in a live migration, as reference data for qmpserver.

Starts Debian's ``/usr/bin/qemu-system-aarch64`` (``--target ppc64``: ``qemu-system-ppc64``
with pseries; ``--target x86_64``: ``qemu-system-x86_64`` with pc/q35, TCG or KVM; each
target's scenarios are in :data:`BY_TARGET`, its binary and default directory in
:data:`TARGETS`) twice under TCG (a source, and a destination
with ``-incoming defer``), each with a QMP monitor on a unix socket, and drives the QMP
conversation libvirt 9.0 has with them (libvirt ``src/qemu/qemu_migration.c``,
``qemu_migration_params.c``; summarised in the shared notes ``migration-facts.md``, section 1):

* both ends: greeting, ``qmp_capabilities``, ``query-migrate-capabilities``,
  ``migrate-set-capabilities`` ``events``=true;
* destination (Prepare): ``query-migrate-parameters``, ``migrate-set-capabilities`` with every
  capability QEMU listed and libvirt 9.0 knows (``late-block-activate`` and ``return-path`` on),
  ``migrate-set-parameters`` ``tls-creds``/``tls-hostname`` empty, ``migrate-incoming tcp:...``;
* source (Begin, Perform): ``query-migrate`` (blocked-reasons), ``query-migrate-parameters``,
  ``migrate-set-capabilities`` (``pause-before-switchover`` and ``return-path`` on),
  ``migrate-set-parameters`` with ``max-bandwidth``, then ``migrate`` either to ``tcp:HOST:PORT``
  or libvirt's way: this script connects the TCP socket itself and passes it with ``getfd``
  (SCM_RIGHTS) before ``migrate`` ``fd:migrate``;
* it waits for ``MIGRATION`` events, answers ``pre-switchover`` with ``migrate-continue``
  (after the STOP event when the guest was running), sends ``query-migrate`` after
  ``completed``/``failed``, and ``cont`` on the destination after its ``completed`` event
  (retried up to 3 times, 250 ms apart, while the error class is ``MigrationExpected``).
  After a failure it restores as libvirt does: ``cont`` if the source is left paused although
  it was running, then ``migrate-set-capabilities`` with every state false (the parameter
  reset is not replayed).  Beyond libvirt it sends ``query-status`` on the source at the end
  (the final runstate) and ``query-status``/``query-migrate`` on a destination still alive.

Everything both monitors sent and received is recorded line by line, byte-exact (``line`` is the
raw line including its terminator), with a monotonic time relative to the start of the run,
together with both processes' stderr lines, their exit status and what the script did on the
migration socket.  One JSON-lines file per scenario: the first line is a header (command lines,
package version, date, per-run summary), then one record per line::

    {"run": "fd-1", "t": 0.012345, "side": "src", "dir": "recv", "line": "{\\"return\\": {}}\\r\\n"}

``side`` is ``src``, ``dst`` or ``script``; ``dir`` is ``send``/``recv`` (QMP), ``stderr``,
``stdout``, ``exit`` (with ``status``), ``note`` (script actions, with ``text``).

Stream files: ``stream-*`` scenarios save a real stream (``migrate`` to ``exec:cat > FILE`` on a
paused source, only the ``events`` capability set) gzip-compressed next to the recordings;
``--decode FILE`` prints its section list.  README.md's generated part (between the markers)
is rebuilt from the recordings after every run.

Usage::

    python3 tools/capture_migration.py --out tests/data/migration/qemu-7.2-tcg [--only NAME ...]
    python3 tools/capture_migration.py --target ppc64|x86_64 [--only NAME ...]   # their default --out
    python3 tools/capture_migration.py [--target T] --list
    python3 tools/capture_migration.py --decode tests/data/migration/qemu-7.2-tcg/stream-virt-7.2.bin.gz
    python3 tools/capture_migration.py --out DIR --readme-only

Standalone: only the Python standard library, nothing from qmpserver.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

QEMU = "/usr/bin/qemu-system-aarch64"
# the command that starts "QEMU": None = the scenario's target binary (TARGETS) when
# recording; the differential tests (tests/unit/migration/test_migration_differential*.py)
# put qmpserver's launcher here and run the same scenarios against it
QEMU_ARGV: list[str] | None = None
PACKAGE = "qemu-system-arm"


@dataclass(frozen=True)
class Target:
    """One QEMU target the tool records: its Debian binary and package, and where its
    recordings live by default."""

    name: str
    binary: str
    package: str
    out: str
    title: str


TARGETS = {
    "aarch64": Target(
        "aarch64",
        QEMU,
        PACKAGE,
        "tests/data/migration/qemu-7.2-tcg",
        "Live migration with real QEMU 7.2 (TCG)",
    ),
    "ppc64": Target(
        "ppc64",
        "/usr/bin/qemu-system-ppc64",
        "qemu-system-ppc",
        "tests/data/migration/qemu-7.2-ppc64-tcg",
        "Live migration with real qemu-system-ppc64 7.2 (pseries, TCG)",
    ),
    "x86_64": Target(
        "x86_64",
        "/usr/bin/qemu-system-x86_64",
        "qemu-system-x86",
        "tests/data/migration/qemu-7.2-x86_64",
        "Live migration with real qemu-system-x86_64 7.2 (pc/q35, KVM and TCG)",
    ),
}

# libvirt 9.0 qemuMigrationCapability enum order (src/qemu/qemu_migration_params.h); `events` is
# set on its own at monitor connect and never again.
LIBVIRT_CAPS = [
    "xbzrle",
    "auto-converge",
    "rdma-pin-all",
    "postcopy-ram",
    "compress",
    "pause-before-switchover",
    "late-block-activate",
    "multifd",
    "dirty-bitmaps",
    "return-path",
    "zero-copy-send",
]
DST_CAPS_ON = {"late-block-activate", "return-path"}
SRC_CAPS_ON = {"pause-before-switchover", "return-path"}
# QEMU_DOMAIN_MIG_BANDWIDTH_MAX (INT64_MAX / 1 MiB) MiB/s in bytes/s
LIBVIRT_MAX_BANDWIDTH = (2**63 - 1) // (1024 * 1024) * 1024 * 1024

TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z ")

GEN_BEGIN = "<!-- BEGIN GENERATED by tools/capture_migration.py; edit outside these markers -->"
GEN_END = "<!-- END GENERATED -->"


# --------------------------------------------------------------------------------------------
# recording


class Recorder:
    """Ordered records of one run; thread-safe (stderr readers run in threads)."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.t0 = time.monotonic()
        self.records: list[dict] = []
        self.lock = threading.Lock()

    def add(self, side: str, direction: str, **kw: object) -> dict:
        rec = {"run": self.run, "t": round(time.monotonic() - self.t0, 6), "side": side, "dir": direction}
        rec.update(kw)
        with self.lock:
            self.records.append(rec)
        return rec

    def note(self, text: str) -> None:
        self.add("script", "note", text=text)


class QmpError(Exception):
    pass


class Qmp:
    """A QMP client on a unix socket that records every line it sends or receives."""

    def __init__(self, side: str, rec: Recorder, sock: socket.socket) -> None:
        self.side = side
        self.rec = rec
        self.sock = sock
        self.sock.setblocking(False)
        self.buf = b""
        self.closed = False
        self.msgs: list[dict] = []  # every parsed message received, in order
        self.next_id = 1

    def fileno(self) -> int:
        return self.sock.fileno()

    def send_raw(self, data: bytes, fds: list[int] | None = None) -> None:
        self.rec.add(
            self.side, "send", line=data.decode("utf-8", "replace"), **({"fds": len(fds)} if fds else {})
        )
        self.sock.setblocking(True)
        try:
            if fds:
                n = socket.send_fds(self.sock, [data], fds)
                if n != len(data):
                    self.sock.sendall(data[n:])
            else:
                self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def read_available(self) -> None:
        if self.closed:
            return
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self.rec.note(f"{self.side} monitor read error: {exc}")
            chunk = b""
        if not chunk:
            if self.buf:
                self.rec.add(self.side, "recv", line=self.buf.decode("utf-8", "replace"), partial=True)
                self.buf = b""
            self.rec.add(self.side, "recv-eof")
            self.closed = True
            return
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            text = (line + b"\n").decode("utf-8", "replace")
            self.rec.add(self.side, "recv", line=text)
            try:
                self.msgs.append(json.loads(line))
            except ValueError:
                self.msgs.append({"unparsable": text})


class Proc:
    """One QEMU process: stderr/stdout read by threads into the recorder."""

    def __init__(self, side: str, rec: Recorder, argv: list[str]) -> None:
        self.side = side
        self.rec = rec
        self.argv = argv
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        rec.add(side, "start", pid=self.popen.pid)
        self.threads = [
            threading.Thread(target=self._reader, args=(self.popen.stderr, "stderr"), daemon=True),
            threading.Thread(target=self._reader, args=(self.popen.stdout, "stdout"), daemon=True),
        ]
        for th in self.threads:
            th.start()
        self.exit_recorded = False
        self.stderr_lines: list[str] = []

    def _reader(self, stream, name: str) -> None:
        for line in iter(stream.readline, b""):
            text = line.decode("utf-8", "replace")
            self.rec.add(self.side, name, line=text)
            if name == "stderr":
                self.stderr_lines.append(text)

    def poll(self) -> int | None:
        rc = self.popen.poll()
        if rc is not None and not self.exit_recorded:
            for th in self.threads:
                th.join(2)
            self.rec.add(self.side, "exit", status=rc)
            self.exit_recorded = True
        return rc

    def kill(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for th in self.threads:
            th.join(2)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream:
                stream.close()


class Session:
    """The processes and monitors of one run, pumped together so the order of lines is kept."""

    def __init__(self, run: str, tmp: str) -> None:
        self.rec = Recorder(run)
        self.tmp = tmp
        self.procs: dict[str, Proc] = {}
        self.qmp: dict[str, Qmp] = {}
        self.extra_socks: list[socket.socket] = []
        self.ports: list[int] = []

    def port(self) -> int:
        """A free loopback TCP port for this run (remembered so summaries can write it PORT)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.ports.append(port)
        return port

    # -- processes
    def start(self, side: str, argv: list[str], sockpath: str, timeout: float = 15.0) -> bool:
        proc = Proc(side, self.rec, argv)
        self.procs[side] = proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if os.path.exists(sockpath):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(sockpath)
                except OSError:
                    s.close()
                    time.sleep(0.02)
                    continue
                self.qmp[side] = Qmp(side, self.rec, s)
                return True
            time.sleep(0.02)
        raise TimeoutError(f"{side}: no QMP socket after {timeout}s")

    def close(self) -> None:
        for q in self.qmp.values():
            q.sock.close()
        for s in self.extra_socks:
            s.close()
        for p in self.procs.values():
            p.kill()

    # -- pumping
    def pump(self, timeout: float = 0.05) -> None:
        live = [q for q in self.qmp.values() if not q.closed]
        if live:
            ready, _, _ = select.select(live, [], [], timeout)
            for q in ready:
                q.read_available()
        else:
            time.sleep(timeout)
        for p in self.procs.values():
            p.poll()

    def wait(self, pred, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if pred():
                return True
            if time.monotonic() >= deadline:
                return False
            self.pump(min(0.05, max(0.0, deadline - time.monotonic())))

    def settle(self, seconds: float) -> None:
        self.wait(lambda: False, seconds)

    def alive(self, side: str) -> bool:
        return self.procs[side].poll() is None and not self.qmp[side].closed

    # -- QMP
    def greeting(self, side: str, timeout: float = 10.0) -> dict | None:
        q = self.qmp[side]
        self.wait(lambda: bool(q.msgs) or q.closed, timeout)
        return q.msgs[0] if q.msgs else None

    def cmd(
        self,
        side: str,
        name: str,
        args: dict | None = None,
        fds: list[int] | None = None,
        timeout: float = 20.0,
    ) -> dict | None:
        """Send one command (libvirt's wire form: compact JSON, CRLF) and wait for its reply."""
        q = self.qmp[side]
        if q.closed:
            self.rec.note(f"{side} monitor closed; not sending {name}")
            return None
        ident = f"libvirt-{q.next_id}"
        q.next_id += 1
        msg: dict = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        msg["id"] = ident
        seen = len(q.msgs)
        try:
            q.send_raw(json.dumps(msg, separators=(",", ":")).encode() + b"\r\n", fds)
        except OSError as exc:
            self.rec.note(f"{side} send of {name} failed: {exc}")
            return None
        found: list[dict] = []

        def got() -> bool:
            for m in q.msgs[seen:]:
                if m.get("id") == ident:
                    found.append(m)
                    return True
            return q.closed

        if not self.wait(got, timeout):
            self.rec.note(f"{side}: no reply to {name} within {timeout}s")
            return None
        return found[0] if found else None

    def events(self, side: str, since: int = 0) -> list[dict]:
        return [m for m in self.qmp[side].msgs[since:] if "event" in m]


# --------------------------------------------------------------------------------------------
# configurations and scenarios


@dataclass
class Cfg:
    machine: str = "virt-7.2"
    cpu: str | None = "cortex-a57"  # None: no -cpu (the machine's default model)
    mem: str = "128M"
    smp: int = 1
    paused: bool = False  # True: never `cont`ed (libvirt's --paused); False: `cont` after the handshake
    target: str = "aarch64"
    accel: str = "tcg"

    def argv(self, name: str, sockpath: str, incoming: bool) -> list[str]:
        argv = [
            *(QEMU_ARGV if QEMU_ARGV is not None else [TARGETS[self.target].binary]),
            "-name",
            f"guest={name},debug-threads=on",
            "-msg",
            "timestamp=on",
            "-no-user-config",
            "-nodefaults",
            "-display",
            "none",
            "-accel",
            self.accel,
            "-machine",
            self.machine,
            *(["-cpu", self.cpu] if self.cpu is not None else []),
            "-m",
            self.mem,
            "-smp",
            str(self.smp),
            "-chardev",
            f"socket,id=charmonitor,path={sockpath},server=on,wait=off",
            "-mon",
            "chardev=charmonitor,id=monitor,mode=control",
        ]
        argv.append("-S")  # libvirt starts every QEMU paused and sends `cont` itself
        if incoming:
            argv += ["-incoming", "defer"]
        return argv


@dataclass
class Scenario:
    name: str
    kind: str  # migrate | cancel | no-listener | inject | incoming | stream
    doc: str
    src: Cfg = field(default_factory=Cfg)
    dst: Cfg = field(default_factory=Cfg)
    runs: tuple[str, ...] = ("fd-1", "fd-2", "fd-3", "tcp-1")
    payload: str = ""  # inject: which payload
    incoming_mode: str = ""  # incoming: not-deferred | twice

    @property
    def target(self) -> str:
        return self.src.target


# the aarch64 scenarios (tests/data/migration/qemu-7.2-tcg); the other targets' lists
# are in BY_TARGET
SCENARIOS: list[Scenario] = []


def _add(*args, **kw) -> None:
    SCENARIOS.append(Scenario(*args, **kw))


_add("success", "migrate", "same config both sides: virt-7.2, cortex-a57, 128M, running source")
_add(
    "success-paused-source",
    "migrate",
    "as success, but the source is never `cont`ed (a paused domain; no STOP/RESUME expected)",
    src=Cfg(paused=True),
    runs=("fd-1", "fd-2", "fd-3"),
)
_add("success-cpu-max", "migrate", "virt-7.2, -cpu max both sides", Cfg(cpu="max"), Cfg(cpu="max"))
_add("success-virt-alias", "migrate", "plain -M virt on both sides", Cfg(machine="virt"), Cfg(machine="virt"))
_add("machine-7.1-to-7.2", "migrate", "source virt-7.1, destination virt-7.2", Cfg(machine="virt-7.1"))
_add("machine-7.2-to-7.1", "migrate", "source virt-7.2, destination virt-7.1", dst=Cfg(machine="virt-7.1"))
_add("cpu-a57-to-a72", "migrate", "source cortex-a57, destination cortex-a72", dst=Cfg(cpu="cortex-a72"))
_add("cpu-max-to-a57", "migrate", "source max, destination cortex-a57", Cfg(cpu="max"))
_add("cpu-a57-to-max", "migrate", "source cortex-a57, destination max", dst=Cfg(cpu="max"))
_add(
    "mte-src-only",
    "migrate",
    "source -M virt-7.2,mte=on, destination without mte (both -cpu max)",
    Cfg(machine="virt-7.2,mte=on", cpu="max"),
    Cfg(cpu="max"),
)
_add(
    "mte-dst-only",
    "migrate",
    "destination -M virt-7.2,mte=on, source without mte (both -cpu max)",
    Cfg(cpu="max"),
    Cfg(machine="virt-7.2,mte=on", cpu="max"),
)
_add(
    "gic-2-to-3",
    "migrate",
    "source gic-version=2, destination gic-version=3",
    Cfg(machine="virt-7.2,gic-version=2"),
    Cfg(machine="virt-7.2,gic-version=3"),
)
_add(
    "gic-3-to-2",
    "migrate",
    "source gic-version=3, destination gic-version=2",
    Cfg(machine="virt-7.2,gic-version=3"),
    Cfg(machine="virt-7.2,gic-version=2"),
)
_add("smp-1-to-2", "migrate", "source -smp 1, destination -smp 2", dst=Cfg(smp=2))
_add("smp-2-to-1", "migrate", "source -smp 2, destination -smp 1", Cfg(smp=2))
_add("mem-128-to-256", "migrate", "source -m 128M, destination -m 256M", dst=Cfg(mem="256M"))
_add("mem-256-to-128", "migrate", "source -m 256M, destination -m 128M", Cfg(mem="256M"))
_add(
    "no-listener",
    "no-listener",
    "source only: migrate to tcp:127.0.0.1:PORT where nothing listens",
    runs=("tcp-1", "tcp-2", "tcp-3"),
)
_INJ_RUNS = ("inj-1", "inj-2", "inj-3")
_add(
    "inject-hello",
    "inject",
    'the script writes "hello\\n" to the listening port',
    runs=_INJ_RUNS,
    payload="hello",
)
_add(
    "inject-truncated-100",
    "inject",
    "first 100 bytes of a real virt-7.2 stream (stream-virt-7.2), then EOF",
    runs=_INJ_RUNS,
    payload="truncated-100",
)
_add(
    "inject-version-2",
    "inject",
    "real virt-7.2 stream with its version word replaced by 2",
    runs=_INJ_RUNS,
    payload="version-2",
)
_add(
    "inject-version-4",
    "inject",
    "real virt-7.2 stream with its version word replaced by 4",
    runs=_INJ_RUNS,
    payload="version-4",
)
_add(
    "inject-bad-magic",
    "inject",
    'real virt-7.2 stream with its magic replaced by "QEVX"',
    runs=_INJ_RUNS,
    payload="bad-magic",
)
_add(
    "inject-no-configuration",
    "inject",
    "the 8 header bytes of a real stream followed by its first RAM section (configuration dropped)",
    runs=_INJ_RUNS,
    payload="no-configuration",
)
_add(
    "inject-full-stream",
    "inject",
    "control: the whole real virt-7.2 stream (exec:cat, no return path) replayed by the script",
    runs=_INJ_RUNS,
    payload="full",
)
_add(
    "cancel-active",
    "cancel",
    "virt-7.2 -m 1G both sides, max-bandwidth 256 KiB/s; migrate_cancel while active "
    "(and a second migrate while active)",
    Cfg(mem="1G"),
    Cfg(mem="1G"),
    runs=("fd-1", "fd-2", "fd-3", "fd-4", "fd-5", "fd-6"),
)
_add(
    "incoming-not-deferred",
    "incoming",
    "migrate-incoming on a running process started without -incoming, then migrate-continue there",
    runs=("q-1", "q-2", "q-3"),
    incoming_mode="not-deferred",
)
_add(
    "incoming-without-events",
    "incoming",
    "migrate-incoming on a -incoming defer process whose `events` capability was never set, then "
    '"hello\\n" on the port: which MIGRATION events appear anyway',
    runs=("q-1", "q-2", "q-3"),
    incoming_mode="no-events",
)
_add(
    "incoming-twice",
    "incoming",
    "migrate-incoming twice on a -incoming defer process; then migrate (outgoing), migrate-continue and cont on it",
    runs=("q-1", "q-2", "q-3"),
    incoming_mode="twice",
)
_add(
    "stream-virt-7.2", "stream", "exec:cat stream of a -S source, virt-7.2 cortex-a57 128M", Cfg(paused=True)
)
_add(
    "stream-virt",
    "stream",
    "exec:cat stream of a -S source, -M virt (alias) cortex-a57 128M",
    Cfg(machine="virt", paused=True),
)
_add(
    "stream-virt-7.1",
    "stream",
    "exec:cat stream of a -S source, virt-7.1 cortex-a57 128M",
    Cfg(machine="virt-7.1", paused=True),
)
for _s in SCENARIOS:
    if _s.kind == "stream":
        _s.runs = ("exec-1",)


# --- ppc64 pseries (TCG) and x86_64 pc/q35 ------------------------------------------------------
# fewer runs than aarch64 (the transport-independent outcome is what the mock is compared with)
_RUNS2 = ("fd-1", "fd-2", "tcp-1")


def P(machine: str = "pseries-7.2", **kw) -> Cfg:  # noqa: N802 - a constructor
    """A pseries configuration: POWER9 under TCG, 512M (pseries' default RAM size)."""
    return Cfg(**{"machine": machine, "cpu": "power9", "mem": "512M", "target": "ppc64", **kw})


def X(machine: str = "pc-i440fx-7.2", **kw) -> Cfg:  # noqa: N802 - a constructor
    """An x86_64 configuration: qemu64 under TCG, 128M."""
    return Cfg(**{"machine": machine, "cpu": "qemu64", "mem": "128M", "target": "x86_64", **kw})


PPC_SCENARIOS = [
    Scenario("success", "migrate", "pseries-7.2, -cpu power9, 512M, both sides", P(), P(), _RUNS2),
    Scenario(
        "machine-7.1-to-7.2",
        "migrate",
        "source pseries-7.1, destination pseries-7.2",
        P("pseries-7.1"),
        P(),
        _RUNS2,
    ),
    Scenario(
        "cap-cfpc-higher",
        "migrate",
        "source cap-cfpc=fixed (level 2, sent: set and not the default), destination default (workaround, 1)",
        P("pseries-7.2,cap-cfpc=fixed"),
        P(),
        _RUNS2,
    ),
    Scenario(
        "cap-cfpc-lower",
        "migrate",
        "source cap-cfpc=broken (level 0, sent), destination default (workaround, 1): a warning only",
        P("pseries-7.2,cap-cfpc=broken"),
        P(),
        _RUNS2,
    ),
    Scenario(
        "cap-cfpc-default-to-broken",
        "migrate",
        "source default cap-cfpc (not sent), destination cap-cfpc=broken: the destination assumes its "
        "machine default (1) for the missing subsection",
        P(),
        P("pseries-7.2,cap-cfpc=broken"),
        _RUNS2,
    ),
    Scenario(
        "cap-cfpc-explicit-default-to-broken",
        "migrate",
        "source cap-cfpc=workaround given explicitly (= the default, so not sent), destination cap-cfpc=broken",
        P("pseries-7.2,cap-cfpc=workaround"),
        P("pseries-7.2,cap-cfpc=broken"),
        _RUNS2,
    ),
    Scenario(
        "cap-large-decr-dst-off",
        "migrate",
        "source default cap-large-decr (on, not sent), destination cap-large-decr=off",
        P(),
        P("pseries-7.2,cap-large-decr=off"),
        _RUNS2,
    ),
    Scenario(
        "cap-pagesize-dst-4k",
        "migrate",
        "source default cap-hpt-max-page-size (64k, always sent), destination cap-hpt-max-page-size=4k",
        P(),
        P("pseries-7.2,cap-hpt-max-page-size=4k"),
        _RUNS2,
    ),
    Scenario(
        "cap-pagesize-src-4k",
        "migrate",
        "source cap-hpt-max-page-size=4k, destination default (64k): lower, a warning only",
        P("pseries-7.2,cap-hpt-max-page-size=4k"),
        P(),
        _RUNS2,
    ),
    Scenario(
        "cpu-power9-to-power10",
        "migrate",
        "source -cpu power9, destination -cpu power10",
        P(),
        P(cpu="power10"),
        _RUNS2,
    ),
    Scenario("smp-1-to-2", "migrate", "source -smp 1, destination -smp 2", P(), P(smp=2), _RUNS2),
    Scenario("smp-2-to-1", "migrate", "source -smp 2, destination -smp 1", P(smp=2), P(), _RUNS2),
    Scenario("mem-512-to-1024", "migrate", "source -m 512M, destination -m 1G", P(), P(mem="1G"), _RUNS2),
    Scenario(
        "stream-pseries-7.2",
        "stream",
        "exec:cat stream of a -S source, pseries-7.2 power9 512M",
        P(paused=True),
        P(),
        ("exec-1",),
    ),
    Scenario(
        "stream-pseries-7.2-caps",
        "stream",
        "exec:cat stream of a -S source, pseries-7.2 with caps set away from their defaults "
        "(which spapr/cap/* subsections QEMU sends, under which names)",
        P(
            "pseries-7.2,cap-cfpc=fixed,cap-sbbc=broken,cap-ibs=fixed-ccd,cap-large-decr=off,cap-ccf-assist=off,"
            "cap-fwnmi=off,cap-dfp=off,cap-htm=off",
            paused=True,
        ),
        P(),
        ("exec-1",),
    ),
]

X86_SCENARIOS = [
    Scenario("success-pc", "migrate", "pc-i440fx-7.2, qemu64, 128M, TCG, both sides", X(), X(), _RUNS2),
    Scenario(
        "success-q35",
        "migrate",
        "pc-q35-7.2, qemu64, 128M, TCG, both sides",
        X("pc-q35-7.2"),
        X("pc-q35-7.2"),
        _RUNS2,
    ),
    Scenario(
        "machine-pc-to-q35",
        "migrate",
        "source pc-i440fx-7.2, destination pc-q35-7.2",
        X(),
        X("pc-q35-7.2"),
        _RUNS2,
    ),
    Scenario(
        "machine-7.1-to-7.2",
        "migrate",
        "source pc-i440fx-7.1, destination pc-i440fx-7.2",
        X("pc-i440fx-7.1"),
        X(),
        _RUNS2,
    ),
    Scenario("mem-128-to-256", "migrate", "source -m 128M, destination -m 256M", X(), X(mem="256M"), _RUNS2),
    Scenario("smp-1-to-2", "migrate", "source -smp 1, destination -smp 2", X(), X(smp=2), _RUNS2),
    Scenario(
        "cpu-qemu64-to-core2duo",
        "migrate",
        "source -cpu qemu64, destination -cpu core2duo (TCG): the stream carries no CPUID",
        X(),
        X(cpu="core2duo"),
        _RUNS2,
    ),
    Scenario(
        "dst-enforce-missing",
        "migrate",
        "destination -cpu qemu64,+avx512f,enforce under TCG: it cannot start (libvirt's Prepare fails)",
        X(),
        X(cpu="qemu64,+avx512f,enforce"),
        ("fd-1",),
    ),
    Scenario(
        "dst-check-missing",
        "migrate",
        "source -cpu qemu64, destination -cpu qemu64,+avx512f (check only, TCG): warns at start-up, migrates",
        X(),
        X(cpu="qemu64,+avx512f"),
        _RUNS2,
    ),
    Scenario(
        "kvm-success",
        "migrate",
        "pc-i440fx-7.2, qemu64, KVM, both sides",
        X(accel="kvm"),
        X(accel="kvm"),
        _RUNS2,
    ),
    Scenario(
        "kvm-invtsc-blocked",
        "migrate",
        "source -cpu qemu64,+invtsc under KVM, no tsc-frequency: a migration blocker",
        X(cpu="qemu64,+invtsc", accel="kvm"),
        X(accel="kvm"),
        ("fd-1",),
    ),
    Scenario(
        "kvm-tsc-mismatch",
        "migrate",
        "KVM, source -cpu qemu64,tsc-frequency=2000000000, destination tsc-frequency=2100000000 (on this "
        "host without TSC scaling neither starts)",
        X(cpu="qemu64,tsc-frequency=2000000000", accel="kvm"),
        X(cpu="qemu64,tsc-frequency=2100000000", accel="kvm"),
        _RUNS2,
    ),
    Scenario(
        "kvm-invtsc-with-tsc-frequency",
        "migrate",
        "KVM, -cpu qemu64,+invtsc,tsc-frequency=2596138000 (this host's TSC, which KVM cannot scale) on both "
        "sides: no blocker",
        X(cpu="qemu64,+invtsc,tsc-frequency=2596138000", accel="kvm"),
        X(cpu="qemu64,+invtsc,tsc-frequency=2596138000", accel="kvm"),
        _RUNS2,
    ),
    Scenario("kvm-to-tcg", "migrate", "source under KVM, destination under TCG", X(accel="kvm"), X(), _RUNS2),
    Scenario("smp-2-to-1", "migrate", "source -smp 2, destination -smp 1", X(smp=2), X(), _RUNS2),
    Scenario(
        "stream-pc-7.2",
        "stream",
        "exec:cat stream of a -S source, pc-i440fx-7.2 qemu64 128M TCG",
        X(paused=True),
        X(),
        ("exec-1",),
    ),
    Scenario(
        "stream-q35-7.2",
        "stream",
        "exec:cat stream of a -S source, pc-q35-7.2 qemu64 128M TCG",
        X("pc-q35-7.2", paused=True),
        X(),
        ("exec-1",),
    ),
    Scenario(
        "stream-pc-7.2-kvm",
        "stream",
        "exec:cat stream of a -S source, pc-i440fx-7.2 qemu64 128M KVM",
        X(paused=True, accel="kvm"),
        X(),
        ("exec-1",),
    ),
]

BY_TARGET: dict[str, list[Scenario]] = {"aarch64": SCENARIOS, "ppc64": PPC_SCENARIOS, "x86_64": X86_SCENARIOS}


def target_of_dir(out: str) -> str:
    """Which target's recordings a directory holds (the headers say; aarch64 before they did)."""
    for t in TARGETS.values():
        if os.path.normpath(out).endswith(os.path.normpath(t.out)):
            return t.name
    return "aarch64"


def reply_kind(reply: dict | None) -> str:
    if reply is None:
        return "none"
    if "error" in reply:
        return "error"
    return "return"


# --------------------------------------------------------------------------------------------
# the libvirt conversation


def handshake(sess: Session, side: str) -> list[str]:
    """Greeting, qmp_capabilities, query-migrate-capabilities, events=true; returns QEMU's caps."""
    sess.greeting(side)
    sess.cmd(side, "qmp_capabilities")
    caps = sess.cmd(side, "query-migrate-capabilities")
    names = [c["capability"] for c in (caps or {}).get("return", [])]
    sess.cmd(side, "migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})
    return names


def libvirt_caps(qemu_caps: list[str], on: set[str]) -> list[dict]:
    return [{"capability": c, "state": c in on} for c in LIBVIRT_CAPS if c in qemu_caps]


def dst_prepare(sess: Session, port: int) -> list[str]:
    caps = handshake(sess, "dst")
    sess.cmd("dst", "query-migrate-parameters")
    sess.cmd("dst", "migrate-set-capabilities", {"capabilities": libvirt_caps(caps, DST_CAPS_ON)})
    sess.cmd("dst", "migrate-set-parameters", {"tls-creds": "", "tls-hostname": ""})
    sess.cmd("dst", "migrate-incoming", {"uri": f"tcp:127.0.0.1:{port}"})
    return caps


def src_prepare(sess: Session, running: bool, bandwidth: int = LIBVIRT_MAX_BANDWIDTH) -> list[str]:
    caps = handshake(sess, "src")
    if running:
        sess.cmd("src", "cont")  # the domain was started (or resumed) before it is migrated
        sess.settle(0.3)
    sess.cmd("src", "query-migrate")  # Begin: blocked-reasons
    sess.cmd("src", "query-migrate-parameters")
    sess.cmd("src", "migrate-set-capabilities", {"capabilities": libvirt_caps(caps, SRC_CAPS_ON)})
    sess.cmd(
        "src",
        "migrate-set-parameters",
        {"tls-creds": "", "tls-hostname": "", "max-bandwidth": bandwidth},
    )
    return caps


def src_migrate(sess: Session, transport: str, port: int) -> dict | None:
    if transport == "fd":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect(("127.0.0.1", port))
        except OSError as exc:
            sess.rec.note(f"connect to 127.0.0.1:{port} failed: {exc}")
            s.close()
            return None
        sess.rec.note(f"script connected a TCP socket to 127.0.0.1:{port} for fd:migrate")
        sess.cmd("src", "getfd", {"fdname": "migrate"}, fds=[s.fileno()])
        s.close()  # QEMU holds its own copy now, as libvirt closes its copy
        uri = "fd:migrate"
    else:
        uri = f"tcp:127.0.0.1:{port}"
    return sess.cmd("src", "migrate", {"detach": True, "resume": False, "uri": uri})


def last_run_event(events: list[dict]) -> str | None:
    state = None
    for e in events:
        if e.get("event") in ("STOP", "RESUME"):
            state = e["event"]
    return state


def src_wait_outcome(sess: Session, since: int, was_running: bool, timeout: float = 90.0) -> str:
    """Follow the source's MIGRATION events like libvirt; returns the final status seen."""
    handled_pre = False
    deadline = time.monotonic() + timeout
    final = "timeout"
    while time.monotonic() < deadline:
        evs = sess.events("src", since)
        statuses = [e["data"]["status"] for e in evs if e.get("event") == "MIGRATION"]
        terminal = [s for s in statuses if s in ("completed", "failed", "cancelled")]
        if terminal:
            final = terminal[0]
            break
        if "pre-switchover" in statuses and not handled_pre:
            if was_running:
                sess.wait(lambda: last_run_event(sess.events("src", since)) == "STOP", 10)
            sess.cmd("src", "migrate-continue", {"state": "pre-switchover"})
            handled_pre = True
            continue
        if not sess.alive("src"):
            final = "source-died"
            break
        sess.pump(0.05)
    if final in ("completed", "failed"):
        sess.cmd("src", "query-migrate")
    return final


def src_after(sess: Session, since: int, final: str, was_running: bool) -> None:
    sess.settle(1.0)
    if final in ("failed", "cancelled"):
        if was_running and last_run_event(sess.events("src", since)) == "STOP":
            sess.cmd("src", "cont")  # qemuMigrationSrcRestoreDomainState
        caps = [c["capability"] for c in _caps_of(sess, "src")]
        sess.cmd("src", "migrate-set-capabilities", {"capabilities": libvirt_caps(caps, set())})
    sess.cmd("src", "query-status")


def _caps_of(sess: Session, side: str) -> list[dict]:
    """The capability list QEMU answered to query-migrate-capabilities on this side."""
    q = sess.qmp[side]
    sent = [r for r in sess.rec.records if r["side"] == side and r["dir"] == "send"]
    for r in sent:
        if '"query-migrate-capabilities"' in r["line"]:
            ident = json.loads(r["line"])["id"]
            for m in q.msgs:
                if m.get("id") == ident:
                    return m.get("return", [])
    return []


def dst_finish(sess: Session, timeout: float = 30.0) -> None:
    """Wait for the destination's completed event (then cont) or its death."""

    def done() -> bool:
        if not sess.alive("dst"):
            return True
        return any(
            e.get("event") == "MIGRATION" and e["data"]["status"] in ("completed", "failed")
            for e in sess.events("dst")
        )

    sess.wait(done, timeout)
    completed = any(
        e.get("event") == "MIGRATION" and e["data"]["status"] == "completed" for e in sess.events("dst")
    )
    if completed and sess.alive("dst"):
        for _ in range(4):
            r = sess.cmd("dst", "cont")
            if r and r.get("error", {}).get("class") == "MigrationExpected":
                sess.settle(0.25)
                continue
            break
    else:
        # a failed destination exits; give it time to do so (its monitor closes first)
        sess.wait(lambda: sess.procs["dst"].poll() is not None, 5.0)
    if sess.alive("dst"):
        sess.settle(0.5)
        sess.cmd("dst", "query-status")
        sess.cmd("dst", "query-migrate")


# --------------------------------------------------------------------------------------------
# scenario runners


def run_migrate(sc: Scenario, sess: Session, tmp: str) -> Session:
    transport = sess.rec.run.split("-")[0]
    port = sess.port()
    dsock, ssock = os.path.join(tmp, "dst.qmp"), os.path.join(tmp, "src.qmp")
    if not sess.start("dst", sc.dst.argv("mig-dst", dsock, True), dsock):
        return sess
    dst_prepare(sess, port)
    if not sess.start("src", sc.src.argv("mig-src", ssock, False), ssock):
        return sess
    bandwidth = 256 * 1024 if sc.kind == "cancel" else LIBVIRT_MAX_BANDWIDTH
    src_prepare(sess, not sc.src.paused, bandwidth)
    since = len(sess.qmp["src"].msgs)
    sess.rec.note("perform: migrate")
    reply = src_migrate(sess, transport, port)
    was_running = not sc.src.paused
    if reply_kind(reply) != "return":
        final = "migrate-refused"
    elif sc.kind == "cancel":
        sess.wait(
            lambda: any(
                e["data"].get("status") == "active" for e in sess.events("src", since) if "data" in e
            ),
            20,
        )
        sess.settle(1.0)
        sess.cmd("src", "migrate", {"detach": True, "resume": False, "uri": f"tcp:127.0.0.1:{port}"})
        sess.cmd("src", "migrate_cancel")
        final = src_wait_outcome(sess, since, was_running, 30)
        if final == "cancelled":
            sess.cmd("src", "query-migrate")
    else:
        final = src_wait_outcome(sess, since, was_running)
    sess.rec.note(f"source outcome: {final}")
    src_after(sess, since, final, was_running)
    dst_finish(sess)
    return sess


def run_no_listener(sc: Scenario, sess: Session, tmp: str) -> Session:
    port = sess.port()
    ssock = os.path.join(tmp, "src.qmp")
    if not sess.start("src", sc.src.argv("mig-src", ssock, False), ssock):
        return sess
    src_prepare(sess, True)
    since = len(sess.qmp["src"].msgs)
    sess.rec.note(f"perform: migrate to 127.0.0.1:{port}, where nothing listens")
    reply = src_migrate(sess, "tcp", port)
    final = src_wait_outcome(sess, since, True, 30) if reply_kind(reply) == "return" else "migrate-refused"
    sess.rec.note(f"source outcome: {final}")
    src_after(sess, since, final, True)
    return sess


def _sections(data: bytes) -> list[dict]:
    return decode_stream(data)["sections"]


def make_payload(name: str, out: str) -> bytes:
    if name == "hello":
        return b"hello\n"
    real = load_stream(os.path.join(out, "stream-virt-7.2.bin.gz"))
    if name == "truncated-100":
        return real[:100]
    if name == "version-2":
        return real[:4] + struct.pack(">I", 2) + real[8:]
    if name == "version-4":
        return real[:4] + struct.pack(">I", 4) + real[8:]
    if name == "bad-magic":
        return b"QEVX" + real[4:]
    if name == "no-configuration":
        secs = _sections(real)
        first = next(s for s in secs if s["type"] != "CONFIGURATION")
        return real[:8] + real[first["offset"] :]
    if name == "full":
        return real
    raise ValueError(name)


def run_inject(sc: Scenario, sess: Session, tmp: str, out: str) -> Session:
    payload = make_payload(sc.payload, out)
    port = sess.port()
    dsock = os.path.join(tmp, "dst.qmp")
    if not sess.start("dst", sc.dst.argv("mig-dst", dsock, True), dsock):
        return sess
    dst_prepare(sess, port)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sess.extra_socks.append(s)
    s.connect(("127.0.0.1", port))
    sess.rec.note(f"script connected to 127.0.0.1:{port}")
    s.setblocking(True)
    try:
        s.sendall(payload)
        sess.rec.note(f"script wrote {len(payload)} bytes ({sc.payload}); first 16: {payload[:16].hex()}")
        s.shutdown(socket.SHUT_WR)
        sess.rec.note("script shut down its write side (EOF)")
    except OSError as exc:
        sess.rec.note(f"script write failed: {exc}")
    s.setblocking(False)
    got = b""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        sess.pump(0.05)
        try:
            chunk = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError as exc:
            sess.rec.note(f"script read from migration socket: {exc}")
            break
        if not chunk:
            sess.rec.note("script saw EOF from the destination")
            break
        got += chunk
    if got:
        sess.rec.note(f"destination sent back {len(got)} bytes: {got[:64].hex()}")
    dst_finish(sess)
    return sess


def run_incoming(sc: Scenario, sess: Session, tmp: str) -> Session:
    dsock = os.path.join(tmp, "dst.qmp")
    port = sess.port()
    deferred = sc.incoming_mode in ("twice", "no-events")
    if not sess.start("dst", sc.dst.argv("mig-dst", dsock, deferred), dsock):
        return sess
    if sc.incoming_mode == "no-events":
        # the `events` capability is never set: which MIGRATION events does QEMU 7.2 still send?
        sess.greeting("dst")
        sess.cmd("dst", "qmp_capabilities")
        sess.cmd("dst", "migrate-incoming", {"uri": f"tcp:127.0.0.1:{port}"})
        with socket.create_connection(("127.0.0.1", port)) as s:
            sess.rec.note(f"script connected to 127.0.0.1:{port}")
            s.sendall(b"hello\n")
            sess.rec.note('script wrote 6 bytes ("hello\\n") and closed')
        sess.wait(lambda: sess.procs["dst"].poll() is not None, 5.0)
        return sess
    handshake(sess, "dst")
    if not deferred:
        sess.cmd("dst", "cont")
        sess.settle(0.3)
    sess.cmd("dst", "query-status")
    sess.cmd("dst", "migrate-incoming", {"uri": f"tcp:127.0.0.1:{port}"})
    if deferred:
        sess.cmd("dst", "migrate-incoming", {"uri": f"tcp:127.0.0.1:{sess.port()}"})
        sess.cmd("dst", "migrate", {"detach": True, "resume": False, "uri": f"tcp:127.0.0.1:{sess.port()}"})
        sess.cmd("dst", "migrate-continue", {"state": "pre-switchover"})
        sess.cmd("dst", "cont")
    else:
        sess.cmd("dst", "migrate-continue", {"state": "pre-switchover"})
    sess.settle(0.5)
    sess.cmd("dst", "query-status")
    sess.cmd("dst", "query-migrate")
    return sess


def run_stream(sc: Scenario, sess: Session, tmp: str, out: str) -> Session:
    ssock = os.path.join(tmp, "src.qmp")
    raw = os.path.join(tmp, "stream.bin")
    if not sess.start("src", sc.src.argv("mig-src", ssock, False), ssock):
        return sess
    handshake(sess, "src")
    since = len(sess.qmp["src"].msgs)
    sess.cmd("src", "migrate", {"uri": f"exec:cat > {raw}"})
    final = src_wait_outcome(sess, since, False, 60)
    sess.rec.note(f"source outcome: {final}")
    sess.cmd("src", "query-status")
    if final == "completed":
        data = open(raw, "rb").read()
        dest = os.path.join(out, f"{sc.name}.bin.gz")
        with gzip.GzipFile(dest, "wb", mtime=0) as f:
            f.write(data)
        sess.rec.note(
            f"stream saved: {os.path.basename(dest)}, {len(data)} bytes raw, {os.path.getsize(dest)} gzipped"
        )
    return sess


# --------------------------------------------------------------------------------------------
# summaries


def strip_ts(line: str) -> str:
    return TIMESTAMP_RE.sub("", line.rstrip("\n"))


def run_summary(sess: Session, sc: Scenario) -> dict:
    """What the README table shows for one run.

    Texts are normalised by dropping stderr timestamps, reply ids, and writing the run's
    migration port as PORT (it is chosen freshly per run); the recording keeps them.
    """
    summary = _run_summary(sess, sc)
    text = json.dumps(summary)
    for port in sess.ports:
        text = text.replace(f"127.0.0.1:{port}", "127.0.0.1:PORT")
        text = text.replace(f'"port": "{port}"', '"port": "PORT"')
    return json.loads(text)


def _strip_id(reply: dict) -> dict:
    return {k: v for k, v in reply.items() if k != "id"}


def _run_summary(sess: Session, sc: Scenario) -> dict:
    recs = sess.rec.records
    summary: dict = {}
    for side in ("src", "dst"):
        if side not in sess.procs:
            continue
        summary[f"{side}_stderr"] = [strip_ts(x) for x in sess.procs[side].stderr_lines]
        ex = [r for r in recs if r["side"] == side and r["dir"] == "exit"]
        summary[f"{side}_exit"] = ex[0]["status"] if ex else None
    if "src" in sess.qmp and sc.kind != "incoming":
        # tokens after the migrate command: events and command replies, in order
        tokens: list[str] = []
        started = False
        pending: dict[str, str] = {}
        for r in recs:
            if r["side"] != "src":
                continue
            if r["dir"] == "send":
                m = json.loads(r["line"])
                if m["execute"] in ("migrate", "getfd") and not started and m["execute"] == "migrate":
                    started = True
                pending[m["id"]] = m["execute"]
                if started:
                    tokens.append(f"> {m['execute']}")
                continue
            if not started or r["dir"] != "recv":
                continue
            try:
                m = json.loads(r["line"])
            except ValueError:
                tokens.append("?")
                continue
            if "event" in m:
                data = m.get("data") or {}
                arg = data.get("status", data.get("pass", ""))
                tokens.append(f"{m['event']}({arg})" if arg != "" else m["event"])
            elif "error" in m:
                tokens.append(
                    f"< {pending.get(m.get('id'), '?')}: {m['error']['class']}: {m['error']['desc']}"
                )
            else:
                tokens.append(f"< {pending.get(m.get('id'), '?')}")
        summary["src_after_migrate"] = compress_passes(tokens)
        summary["src_events_after_migrate"] = [t for t in summary["src_after_migrate"] if t[0] not in "<>"]
        qm = [
            json.loads(r["line"])
            for r in recs
            if r["side"] == "src" and r["dir"] == "recv" and _is_reply_to(sess, "src", r, "query-migrate")
        ]
        if qm and started:
            summary["src_query_migrate"] = _strip_id(qm[-1])
        st = [
            json.loads(r["line"])
            for r in recs
            if r["side"] == "src" and r["dir"] == "recv" and _is_reply_to(sess, "src", r, "query-status")
        ]
        if st:
            summary["src_final_status"] = st[-1].get("return", st[-1].get("error"))
    both = []
    for r in recs:
        if r["side"] not in ("src", "dst") or r["dir"] not in ("recv", "send"):
            continue
        try:
            m = json.loads(r["line"])
        except ValueError:
            continue
        if "event" in m:
            data = m.get("data") or {}
            arg = data.get("status", data.get("pass", ""))
            both.append(f"{r['side']}:{m['event']}({arg})" if arg != "" else f"{r['side']}:{m['event']}")
        elif r["dir"] == "send" and m.get("execute") in (
            "migrate",
            "migrate-continue",
            "cont",
            "migrate_cancel",
        ):
            both.append(f"{r['side']}:> {m['execute']}")
    if "src" in sess.qmp and "dst" in sess.qmp:
        summary["both_sides_events"] = compress_passes(both)
    if "dst" in sess.qmp:
        dtok = []
        for r in recs:
            if r["side"] == "dst" and r["dir"] == "recv":
                try:
                    m = json.loads(r["line"])
                except ValueError:
                    continue
                if "event" in m:
                    data = m.get("data") or {}
                    arg = data.get("status", data.get("pass", ""))
                    dtok.append(f"{m['event']}({arg})" if arg != "" else m["event"])
                elif "error" in m:
                    cmd = _cmd_of(sess, "dst", m.get("id"))
                    dtok.append(f"< {cmd}: {m['error']['class']}: {m['error']['desc']}")
        summary["dst_events_and_errors"] = compress_passes(dtok)
        fin = []
        for name in ("query-status", "query-migrate"):
            rs = [
                json.loads(r["line"])
                for r in recs
                if r["side"] == "dst" and r["dir"] == "recv" and _is_reply_to(sess, "dst", r, name)
            ]
            if rs:
                fin.append(_strip_id(rs[-1]))
        if fin:
            summary["dst_final"] = fin
    return summary


def _cmd_of(sess: Session, side: str, ident: str | None) -> str:
    for r in sess.rec.records:
        if r["side"] == side and r["dir"] == "send":
            m = json.loads(r["line"])
            if m.get("id") == ident:
                return m["execute"]
    return "?"


def _is_reply_to(sess: Session, side: str, rec: dict, name: str) -> bool:
    try:
        m = json.loads(rec["line"])
    except ValueError:
        return False
    return "id" in m and _cmd_of(sess, side, m["id"]) == name


def compress_passes(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for t in tokens:
        if t.startswith("MIGRATION_PASS(") and out and out[-1].startswith("MIGRATION_PASS("):
            first = out[-1][len("MIGRATION_PASS(") :].split("..")[0].rstrip(")")
            out[-1] = f"MIGRATION_PASS({first}..{t[len('MIGRATION_PASS(') :]}"
        else:
            out.append(t)
    return out


def normalise_reply(reply: object) -> object:
    """Replace numbers in a completed query-migrate reply so runs can be compared."""
    if isinstance(reply, dict):
        return {k: normalise_reply(v) for k, v in reply.items()}
    if isinstance(reply, list):
        return [normalise_reply(v) for v in reply]
    if isinstance(reply, bool) or not isinstance(reply, int | float):
        return reply
    return "N"


ORDER_KEYS = ("src_after_migrate", "both_sides_events")


def signature(summary: dict, with_order: bool = False) -> str:
    """A run's outcome for comparison: MIGRATION_PASS numbers and completed statistics dropped.

    Without ``with_order`` the interleavings that depend on thread and socket timing (a reply
    against an event on one monitor; events of the two monitors against each other) are left out.
    """
    s = {k: v for k, v in summary.items() if with_order or k not in ORDER_KEYS}
    for key, val in list(s.items()):
        if isinstance(val, list) and all(isinstance(t, str) for t in val):
            s[key] = [re.sub(r"MIGRATION_PASS\([^)]*\)", "MIGRATION_PASS(..)", t) for t in val]
    if "src_query_migrate" in s:
        s["src_query_migrate"] = normalise_reply(s["src_query_migrate"])
    return json.dumps(s, sort_keys=True)


def group_runs(runs: dict[str, dict], with_order: bool) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for run, summary in runs.items():
        groups.setdefault(signature(summary, with_order), []).append(run)
    return list(groups.values())


# --------------------------------------------------------------------------------------------
# the stream decoder


SECTION_TYPES = {
    0x00: "EOF",
    0x01: "START",
    0x02: "PART",
    0x03: "END",
    0x04: "FULL",
    0x05: "SUBSECTION",
    0x06: "VMDESCRIPTION",
    0x07: "CONFIGURATION",
    0x08: "COMMAND",
    0x7E: "FOOTER",
}
# RAM_SAVE_FLAG_* (migration/ram.c)
RAM_ZERO, RAM_MEM_SIZE, RAM_PAGE, RAM_EOS, RAM_CONTINUE = 0x02, 0x04, 0x08, 0x10, 0x20
RAM_XBZRLE, RAM_COMPRESS = 0x40, 0x100


class Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"stream truncated at offset {self.pos} (wanted {n} bytes)")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def u8(self) -> int:
        return self.take(1)[0]

    def be16(self) -> int:
        return struct.unpack(">H", self.take(2))[0]

    def be32(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def be64(self) -> int:
        return struct.unpack(">Q", self.take(8))[0]

    def idstr(self) -> str:
        return self.take(self.u8()).decode("latin-1")


def load_stream(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _ram_records(r: Reader, page_size: int) -> dict:
    """Walk RAM records up to RAM_SAVE_FLAG_EOS; returns counts and the MEM_SIZE block list."""
    info: dict = {"zero_pages": 0, "pages": 0, "blocks": []}
    while True:
        word = r.be64()
        flags = word & (page_size - 1)
        if flags & RAM_MEM_SIZE:
            total = word & ~(page_size - 1)
            info["mem_size_total"] = total
            got = 0
            while got < total:
                name = r.idstr()
                length = r.be64()
                info["blocks"].append({"idstr": name, "used_length": length})
                got += length
        if flags & (RAM_ZERO | RAM_PAGE | RAM_XBZRLE | RAM_COMPRESS):
            if not flags & RAM_CONTINUE:
                info.setdefault("page_blocks", [])
                name = r.idstr()
                if name not in info["page_blocks"]:
                    info["page_blocks"].append(name)
            if flags & RAM_ZERO:
                r.u8()
                info["zero_pages"] += 1
            elif flags & RAM_PAGE:
                r.take(page_size)
                info["pages"] += 1
            else:
                raise ValueError(f"RAM flags {flags:#x} (xbzrle/compress) not decoded")
        if flags & RAM_EOS:
            return info
        if not flags & (RAM_MEM_SIZE | RAM_ZERO | RAM_PAGE):
            raise ValueError(f"unknown RAM record flags {flags:#x} at {r.pos - 8}")


def _skip_config_subsections(r: Reader, sec: dict) -> None:
    subs = []
    while r.pos < len(r.data) and r.data[r.pos] == 0x05:
        r.u8()
        name = r.idstr()
        ver = r.be32()
        if name == "configuration/target-page-bits":
            val: object = r.be32()
        elif name == "configuration/capabilities":
            val = [r.idstr() for _ in range(r.be32())]
        elif name == "configuration/uuid":
            val = r.take(16).hex()
        else:
            raise ValueError(f"configuration subsection {name!r} not decoded")
        subs.append({"name": name, "version": ver, "value": val})
    sec["subsections"] = subs


def _find_footer(data: bytes, start: int, section_id: int) -> int:
    """Offset of this section's footer: 0x7e + be32 id, followed by something that can start a section."""
    pat = b"\x7e" + struct.pack(">I", section_id)
    pos = start
    while True:
        pos = data.find(pat, pos)
        if pos < 0:
            raise ValueError(f"no footer for section {section_id} after {start}")
        nxt = pos + 5
        if nxt >= len(data) or data[nxt] in (0x00, 0x01, 0x02, 0x03, 0x04, 0x08):
            if nxt < len(data) and data[nxt] in (0x01, 0x04):
                # a full header must follow: id, idstr of printable bytes
                try:
                    rr = Reader(data, nxt + 1)
                    rr.be32()
                    name = rr.idstr()
                    if name and all(32 < ord(c) < 127 for c in name):
                        return pos
                except ValueError:
                    pass
            else:
                return pos
        pos += 1


def decode_stream(data: bytes) -> dict:
    """Parse a precopy stream as QEMU 7.2 writes it (migration/savevm.c, migration/ram.c).

    Device (FULL) section bodies are not interpreted: their end is found by the section footer
    (0x7e + be32 section id) that virt machines send; the VMDESCRIPTION JSON at the end is
    cross-checked against the FULL sections found.
    """
    r = Reader(data)
    magic, version = r.be32(), r.be32()
    out: dict = {"magic": f"{magic:#010x}", "version": version, "sections": []}
    page_size = 4096
    names: dict[int, str] = {}
    while r.pos < len(data):
        off = r.pos
        t = r.u8()
        sec: dict = {"offset": off, "type": SECTION_TYPES.get(t, f"{t:#x}")}
        out["sections"].append(sec)
        if t == 0x07:
            length = r.be32()
            sec["machine"] = r.take(length).decode("latin-1")
            _skip_config_subsections(r, sec)
            for s in sec["subsections"]:
                if s["name"] == "configuration/target-page-bits":
                    page_size = 1 << int(s["value"])
        elif t in (0x01, 0x04):
            sec["id"] = r.be32()
            sec["idstr"] = r.idstr()
            sec["instance"] = r.be32()
            sec["version"] = r.be32()
            names[sec["id"]] = sec["idstr"]
            if sec["idstr"] == "ram":
                sec["ram"] = _ram_records(r, page_size)
                foot = r.pos
            else:
                foot = _find_footer(data, r.pos, sec["id"])
            sec["body_bytes"] = foot - (off + 1 + 4 + 1 + len(sec["idstr"]) + 8)
            r.pos = foot
            if r.u8() != 0x7E or r.be32() != sec["id"]:
                raise ValueError(f"bad footer for section {sec['id']}")
        elif t in (0x02, 0x03):
            sec["id"] = r.be32()
            sec["idstr"] = names.get(sec["id"], "?")
            if sec["idstr"] == "ram":
                sec["ram"] = _ram_records(r, page_size)
                foot = r.pos
            else:
                foot = _find_footer(data, r.pos, sec["id"])
            r.pos = foot
            if r.u8() != 0x7E or r.be32() != sec["id"]:
                raise ValueError(f"bad footer for section {sec['id']}")
        elif t == 0x08:
            sec["cmd"] = r.be16()
            sec["len"] = r.be16()
            sec["data"] = r.take(sec["len"]).hex()
        elif t == 0x00:
            continue
        elif t == 0x06:
            length = r.be32()
            desc = json.loads(r.take(length))
            sec["json_bytes"] = length
            sec["devices"] = [
                {"name": d["name"], "instance_id": d["instance_id"], "version": d.get("version")}
                for d in desc.get("devices", [])
            ]
            sec["page_size"] = desc.get("page_size")
        else:
            raise ValueError(f"unknown section type {t:#x} at offset {off}")
    full = [(s["idstr"], s["instance"]) for s in out["sections"] if s["type"] == "FULL"]
    vm = [s for s in out["sections"] if s["type"] == "VMDESCRIPTION"]
    if vm:
        described = [(d["name"], d["instance_id"]) for d in vm[0]["devices"]]
        out["vmdesc_matches_full_sections"] = described == full
    return out


def format_stream(info: dict) -> str:
    lines = [f"magic {info['magic']} version {info['version']}"]
    for s in info["sections"]:
        t = s["type"]
        if t == "CONFIGURATION":
            subs = ", ".join(f"{x['name']} v{x['version']} = {x['value']}" for x in s["subsections"])
            lines.append(f"@{s['offset']:<7} CONFIGURATION machine={s['machine']!r} [{subs}]")
        elif t in ("START", "FULL"):
            extra = ""
            if "ram" in s:
                ram = s["ram"]
                blocks = ", ".join(f"{b['idstr']}={b['used_length']:#x}" for b in ram["blocks"])
                extra = f" ram: blocks [{blocks}] zero_pages={ram['zero_pages']} pages={ram['pages']}"
            else:
                extra = f" body={s['body_bytes']}B"
            lines.append(
                f"@{s['offset']:<7} {t:<5} id={s['id']:<3} idstr={s['idstr']!r} "
                f"instance={s['instance']} version={s['version']}{extra}"
            )
        elif t in ("PART", "END"):
            extra = ""
            if "ram" in s:
                ram = s["ram"]
                extra = f" ram: zero_pages={ram['zero_pages']} pages={ram['pages']} in {ram.get('page_blocks', [])}"
            lines.append(f"@{s['offset']:<7} {t:<5} id={s['id']:<3} ({s['idstr']}){extra}")
        elif t == "COMMAND":
            lines.append(f"@{s['offset']:<7} COMMAND cmd={s['cmd']} len={s['len']} data={s['data']}")
        elif t == "VMDESCRIPTION":
            lines.append(
                f"@{s['offset']:<7} VMDESCRIPTION json={s['json_bytes']}B page_size={s['page_size']} "
                f"devices={len(s['devices'])}"
            )
        else:
            lines.append(f"@{s['offset']:<7} {t}")
    if "vmdesc_matches_full_sections" in info:
        lines.append(
            f"VMDESCRIPTION device list equals the FULL sections: {info['vmdesc_matches_full_sections']}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# driver


def package_version(package: str = PACKAGE) -> str:
    try:
        return subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_one(sc: Scenario, run: str, out: str) -> tuple[Session, dict]:
    tmp = tempfile.mkdtemp(prefix="capmig-")
    sess = Session(run, tmp)
    try:
        if sc.kind in ("migrate", "cancel"):
            run_migrate(sc, sess, tmp)
        elif sc.kind == "no-listener":
            run_no_listener(sc, sess, tmp)
        elif sc.kind == "inject":
            run_inject(sc, sess, tmp, out)
        elif sc.kind == "incoming":
            run_incoming(sc, sess, tmp)
        elif sc.kind == "stream":
            run_stream(sc, sess, tmp, out)
        else:
            raise ValueError(sc.kind)
    finally:
        # every QEMU (and the shell/cat of exec:) dies with its process group, whatever happened
        sess.rec.note("end of recording; processes are killed now")
        sess.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return sess, run_summary(sess, sc)


def command_lines(sc: Scenario) -> dict:
    lines = {}
    if sc.kind in ("migrate", "cancel", "no-listener", "stream"):
        lines["src"] = " ".join(sc.src.argv("mig-src", "SRC.qmp", False))
    if sc.kind in ("migrate", "cancel", "inject", "incoming"):
        lines["dst"] = " ".join(sc.dst.argv("mig-dst", "DST.qmp", sc.incoming_mode != "not-deferred"))
    return lines


def capture(sc: Scenario, out: str, version: str) -> None:
    if sc.kind == "inject" and not os.path.exists(os.path.join(out, "stream-virt-7.2.bin.gz")):
        capture(next(s for s in SCENARIOS if s.name == "stream-virt-7.2"), out, version)
    records: list[dict] = []
    runs: dict[str, dict] = {}
    for run in sc.runs:
        print(f"{sc.name} {run} ...", end=" ", flush=True)
        sess, summary = run_one(sc, run, out)
        records += sess.rec.records
        runs[run] = summary
        print(summary.get("src_after_migrate", summary.get("dst_events_and_errors", ""))[-3:], flush=True)
    header = {
        "header": {
            "scenario": sc.name,
            **({"target": sc.target} if sc.target != "aarch64" else {}),
            "kind": sc.kind,
            "doc": sc.doc,
            "qemu": TARGETS[sc.target].binary,
            "package": f"{TARGETS[sc.target].package} {version}",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command_lines": command_lines(sc),
            "command_lines_note": "SRC.qmp/DST.qmp stand for a socket in a fresh temporary directory",
            "runs": list(sc.runs),
            "summary": runs,
            "identical_runs": group_runs(runs, False),
            "identical_runs_with_order": group_runs(runs, True),
            "tool": "tools/capture_migration.py",
        }
    }
    path = os.path.join(out, f"{sc.name}.json")
    with open(path, "w") as f:
        f.write(json.dumps(header) + "\n")
        for r in records:
            f.write(json.dumps(r) + "\n")


# --------------------------------------------------------------------------------------------
# README


def _cell(x: object) -> str:
    text = x if isinstance(x, str) else json.dumps(x)
    return text.replace("|", "\\|").replace("\n", " ")


def _show(x: object) -> str:
    if isinstance(x, list) and all(isinstance(t, str) for t in x):
        return "`" + " ".join(_cell(t) for t in x) + "`"
    return "`" + _cell(x) + "`"


def _first(h: dict) -> dict:
    return h["summary"][h["runs"][0]]


def _main_table(heads: list[dict]) -> list[str]:
    lines = [
        "### Summary per scenario (first run; run-to-run variation further below)",
        "",
        "`n/a`: that process is not part of the scenario. `alive`: the process was still running when the "
        "recording ended (then killed by the script). Port numbers are written `PORT`.",
        "",
        "| scenario | destination stderr (timestamps dropped) | dst exit | source events after `migrate` "
        "| source final `query-migrate` (id dropped) | source runstate at the end |",
        "|---|---|---|---|---|---|",
    ]
    for h in heads:
        s = _first(h)
        if "dst_exit" not in s:
            dst_err, dst_exit = "n/a", "n/a"
        else:
            dst_err = "<br>".join(_cell(x) for x in s.get("dst_stderr", [])) or "(none)"
            dst_exit = "alive" if s.get("dst_exit") is None else str(s["dst_exit"])
        src_after = " ".join(_cell(x) for x in s.get("src_events_after_migrate", [])) or "n/a"
        qm = s.get("src_query_migrate")
        if qm is not None and "return" in qm and qm["return"].get("status") == "completed":
            qm_text = "completed, with keys " + ", ".join(sorted(qm["return"]))
        else:
            qm_text = "`" + _cell(qm) + "`" if qm is not None else "n/a"
        st = s.get("src_final_status")
        st_text = f"{st.get('status')} (running={st.get('running')})" if isinstance(st, dict) else "n/a"
        lines.append(f"| `{h['scenario']}` | {dst_err} | {dst_exit} | {src_after} | {qm_text} | {st_text} |")
    return lines


def _side_table(heads: list[dict]) -> list[str]:
    lines = [
        "### Destination events and command errors, source stderr (first run)",
        "",
        "| scenario | destination: events, and `< cmd: class: desc` for failed commands | destination at the end "
        "(`query-status` / `query-migrate`) | source stderr (timestamps dropped) |",
        "|---|---|---|---|",
    ]
    for h in heads:
        s = _first(h)
        dst = " ".join(_cell(x) for x in s.get("dst_events_and_errors", [])) if "dst_exit" in s else "n/a"
        fin = s.get("dst_final")
        fin_text = " / ".join("`" + _cell(x) + "`" for x in fin) if fin else "n/a"
        src_err = "<br>".join(_cell(x) for x in s.get("src_stderr", [])) if "src_exit" in s else "n/a"
        lines.append(f"| `{h['scenario']}` | {dst or '(none)'} | {fin_text} | {src_err or '(none)'} |")
    return lines


def _both_sides(heads: list[dict]) -> list[str]:
    lines = [
        "### Both monitors in one order (first run)",
        "",
        "Events of both sides and the script's `migrate`/`migrate-continue`/`migrate_cancel`/`cont`, in the "
        "order the script read them (each monitor is read as soon as it is readable; the two sockets are "
        "independent, so an order between sides closer than a few hundred microseconds is not evidence).",
        "",
    ]
    for h in heads:
        seq = _first(h).get("both_sides_events")
        if seq:
            lines.append(f"* `{h['scenario']}`: " + " ".join(_cell(t) for t in seq))
    return lines


def _token_diff(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    """The differing middle of two token lists (common head and tail cut off)."""
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    j = 0
    while j < min(len(a), len(b)) - i and a[-1 - j] == b[-1 - j]:
        j += 1
    return a[i : len(a) - j], b[i : len(b) - j]


def _variations(heads: list[dict]) -> list[str]:
    lines = [
        "### Run-to-run variation",
        "",
        "Outcomes are compared after dropping timestamps, reply ids, port numbers, the MIGRATION_PASS "
        "numbers and the numbers of a completed `query-migrate`; the interleavings that depend on "
        "timing are listed separately. `fd-N`: libvirt's way (getfd + `fd:migrate`); `tcp-N`: `tcp:` URI; "
        "`inj-N`: the script writes to the destination's port. For token lists only the differing middle "
        "is shown (`> cmd` sent by the script, `< cmd` its reply).",
        "",
    ]
    for h in heads:
        groups = h["identical_runs"]
        passes = sorted(
            {
                t
                for s in h["summary"].values()
                for t in s.get("src_after_migrate", [])
                if t.startswith("MIGRATION_PASS")
            }
        )
        pass_note = f" Source MIGRATION_PASS seen: {', '.join(passes)}." if passes else ""
        if len(groups) == 1:
            lines.append(
                f"* `{h['scenario']}`: same outcome in all runs ({', '.join(groups[0])}).{pass_note}"
            )
        else:
            names = " / ".join(", ".join(g) for g in groups)
            lines.append(f"* `{h['scenario']}`: **{len(groups)} outcomes**: {names}.{pass_note}")
        lines += _differences(h, [g[0] for g in groups], [k for k in _keys(h) if k not in ORDER_KEYS], "  * ")
        order_groups = h.get("identical_runs_with_order", groups)
        if len(order_groups) > len(groups):
            reps = [g[0] for g in order_groups]
            lines.append(f"  * interleaving varied ({len(order_groups)} orders among {len(h['runs'])} runs):")
            lines += _differences(h, reps, list(ORDER_KEYS), "    * ")
    return lines


def _keys(h: dict) -> list[str]:
    return sorted({k for s in h["summary"].values() for k in s})


def _differences(h: dict, reps: list[str], keys: list[str], bullet: str) -> list[str]:
    """Each distinct difference of the representatives' summaries against the first one, once."""
    out: list[str] = []
    seen: set[str] = set()
    base_run = reps[0]
    base = h["summary"][base_run]
    for run in reps[1:]:
        other = h["summary"][run]
        for key in keys:
            a, b = base.get(key), other.get(key)
            if key == "src_query_migrate":
                a, b = normalise_reply(a), normalise_reply(b)
            if signature({key: a}, True) == signature({key: b}, True):
                continue
            if isinstance(a, list) and isinstance(b, list) and key.endswith(("migrate", "errors", "events")):
                a, b = _token_diff(a, b)
            text = f"{key}: {_show(a)} vs {_show(b)}"
            if text in seen:
                continue
            seen.add(text)
            out.append(f"{bullet}{key}: `{base_run}`: {_show(a)}; `{run}`: {_show(b)}")
    return out


def build_readme(out: str) -> str:
    heads = []
    for sc in BY_TARGET[target_of_dir(out)]:
        path = os.path.join(out, f"{sc.name}.json")
        if os.path.exists(path):
            with open(path) as f:
                head = json.loads(f.readline())["header"]
            # regrouped here so that a change of the comparison needs no new recording
            head["identical_runs"] = group_runs(head["summary"], False)
            head["identical_runs_with_order"] = group_runs(head["summary"], True)
            heads.append(head)
    lines = [GEN_BEGIN, ""]
    if heads:
        lines.append(f"Package: `{heads[0]['package']}`; binary `{heads[0]['qemu']}`.")
        lines.append("")
    lines += _main_table(heads) + [""] + _side_table(heads) + [""] + _both_sides(heads) + [""]
    lines += _variations(heads) + [""]
    lines.append("### Streams (exec:cat of a -S source)")
    lines.append("")
    for h in heads:
        if h["kind"] != "stream":
            continue
        path = os.path.join(out, f"{h['scenario']}.bin.gz")
        if not os.path.exists(path):
            continue
        data = load_stream(path)
        lines.append(
            f"`{h['scenario']}.bin.gz`: {len(data)} bytes raw, {os.path.getsize(path)} gzipped; "
            f"source `{h['command_lines']['src']}`"
        )
        lines.append("")
        lines.append("```")
        try:
            lines.append(format_stream(decode_stream(data)))
        except ValueError as exc:
            lines.append(f"decode failed: {exc}")
        lines.append("```")
        lines.append("")
    lines.append(GEN_END)
    return "\n".join(lines)


def write_readme(out: str) -> None:
    path = os.path.join(out, "README.md")
    gen = build_readme(out)
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
        if GEN_BEGIN in text and GEN_END in text:
            pre = text.split(GEN_BEGIN)[0]
            post = text.split(GEN_END, 1)[1]
            text = pre + gen + post
        else:
            text = text.rstrip("\n") + "\n\n" + gen + "\n"
    else:
        text = "# %s\n\n" % TARGETS[target_of_dir(out)].title + gen + "\n"
    with open(path, "w") as f:
        f.write(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--target", choices=sorted(TARGETS), default="aarch64", help="QEMU target (default aarch64)"
    )
    ap.add_argument("--out", help="recordings directory (default: the target's, see TARGETS)")
    ap.add_argument("--only", action="append", help="scenario name (repeatable; default all)")
    ap.add_argument("--list", action="store_true", help="list the scenarios")
    ap.add_argument("--decode", metavar="FILE", help="print the section list of a stream file (.gz ok)")
    ap.add_argument("--json", action="store_true", help="with --decode: JSON output")
    ap.add_argument("--readme-only", action="store_true", help="rebuild README.md from the recordings")
    args = ap.parse_args(argv)
    target = TARGETS[args.target]
    scenarios = BY_TARGET[target.name]
    if args.out is None:
        args.out = target.out
    if args.list:
        for sc in scenarios:
            print(f"{sc.name:<24} {sc.kind:<12} {sc.doc}")
        return 0
    if args.decode:
        info = decode_stream(load_stream(args.decode))
        print(json.dumps(info, indent=1) if args.json else format_stream(info))
        return 0
    os.makedirs(args.out, exist_ok=True)
    if not args.readme_only:
        if not os.access(target.binary, os.X_OK):
            print(f"{target.binary} not found", file=sys.stderr)
            return 2
        names = {sc.name for sc in scenarios}
        for n in args.only or []:
            if n not in names:
                print(f"unknown scenario {n!r}; see --list", file=sys.stderr)
                return 2
        version = package_version(target.package)
        chosen = [sc for sc in scenarios if not args.only or sc.name in args.only]
        # streams first: the inject scenarios replay stream-virt-7.2
        chosen.sort(key=lambda sc: sc.kind != "stream")
        for sc in chosen:
            capture(sc, args.out, version)
    write_readme(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
