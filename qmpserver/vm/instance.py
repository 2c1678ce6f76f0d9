"""A simulated QEMU process: profile + machine + accelerator + CPU + run state.

Run-state rules follow QEMU (``system/runstate.c``, ``system/cpus.c``):

* ``-S`` starts in ``prelaunch``; ``-incoming`` in ``inmigrate``;
* ``stop`` pauses a running VM (STOP event) and does nothing otherwise;
* ``cont`` refuses states that need a reset, resumes everything else
  (RESUME event), does nothing on a running VM;
* a reset of a VM that is not running returns it to ``prelaunch``;
* a guest shutdown emits SHUTDOWN and exits, or with ``-no-shutdown`` stops
  in state ``shutdown`` (STOP);
* ``quit`` and SIGTERM emit SHUTDOWN and exit.

Events are encoded once and delivered to every negotiated session of every
monitor.  Work QEMU does in its main loop after a command (RESET after
``system_reset`` ...) runs after the reply, except for builds whose quirk
table says the event precedes the reply (7.2).
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections import deque

from ..errors import QMPError
from ..wire.encode import message
from .config import InstanceConfig
from .machine import MachineState
from .state import Backends, Caches, CpuState, Memory, Threads

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: the launcher's start-up path avoids it
    from typing import Any, Callable

    from ..qmp.dispatch import Context, Table
    from ..qmp.session import Session
    from .qom import QomTree

NEEDS_RESET = frozenset(("internal-error", "shutdown", "guest-panicked"))

_ids = itertools.count(1)


class Scheduler:
    """Deferred callbacks; drivers replace it with their event loop's."""

    def __init__(self) -> None:
        self.pending: list[list[Any]] = []  # [due time, callback, cancelled]
        self.from_threads: deque[Callable[[], object]] = deque()  # call_soon_threadsafe
        self.notify: Callable[[], object] | None = None  # called after call_soon_threadsafe (wake a waiter)

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the next :meth:`run_due` (from any thread)."""
        self.from_threads.append(fn)
        if self.notify is not None:
            self.notify()

    def next_due(self) -> float | None:
        """Seconds until the earliest timer (None: no timer)."""
        live = [e[0] for e in self.pending if not e[2]]
        return max(0.0, min(live) - time.monotonic()) if live else None

    def call_later(self, delay: float, fn: Callable[[], object]) -> _Handle:
        entry = [time.monotonic() + delay, fn, False]
        self.pending.append(entry)
        return _Handle(entry)

    def run_due(self, now: float | None = None) -> int:
        ran = 0
        while self.from_threads:
            self.from_threads.popleft()()
            ran += 1
        now = time.monotonic() if now is None else now
        due = [e for e in self.pending if e[0] <= now and not e[2]]
        self.pending = [e for e in self.pending if e not in due and not e[2]]
        for e in due:
            e[1]()
        return len(due) + ran


class _Handle:
    def __init__(self, entry: list[Any]) -> None:
        self.entry = entry

    def cancel(self) -> None:
        self.entry[2] = True


class Monitor:
    """One QMP endpoint of an instance (a ``-qmp`` / ``-mon`` / listener) and its sessions."""

    def __init__(
        self,
        instance: Instance,
        label: str = "monitor",
        pretty: bool = False,
        oob: bool = True,
        multi_client: bool = False,
    ) -> None:
        self.instance = instance
        self.label = label
        self.pretty = pretty
        self.oob = oob
        self.multi_client = multi_client
        self.sessions: list[Session] = []  # connected sessions (Session.connect)
        self.address: str | None = None  # set by the driver: "unix:/path" or "tcp:host:port"
        self._table: Table | None = None  # a wrapper of the instance's table (fault injection)

    def greeting(self) -> dict[str, Any]:
        return {"QMP": {"version": self.instance.version_info(), "capabilities": ["oob"] if self.oob else []}}

    def command_table(self) -> Table:
        return self._table if self._table is not None else self.instance.command_table

    def wrap_command_table(self, wrap: Callable[[Table], Table]) -> None:
        """Put ``wrap(table)`` in front of this monitor's command table, live sessions too."""
        old = self.command_table()
        new = self._table = wrap(old)
        for s in self.sessions:
            s.replace_table(old, new)

    def attach(self, session: Session) -> None:
        self.sessions.append(session)

    def detach(self, session: Session) -> None:
        if session in self.sessions:
            self.sessions.remove(session)
            for fn in list(self.instance.session_close_listeners):
                fn()

    def deliver_event(self, data: bytes, event: dict[str, Any]) -> None:
        """An event, encoded once, to every session (each drops it before negotiation)."""
        for s in self.sessions:
            s.send_event_bytes(data, event)

    def close_sessions(self) -> None:
        """The emulated process exits: each connection closes after its pending output."""
        for s in list(self.sessions):
            s.close()


class Instance:
    """A simulated QEMU process.  Built bare here; :func:`qmpserver.startup.start`
    runs QEMU's start-up phases on it (machine, accelerator, CPU, backends) and
    fills the typed state below, one owner per topic."""

    def __init__(
        self,
        profile: Any,
        config: InstanceConfig,
        scheduler: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.id = next(_ids)
        self.profile = profile
        self.build = profile.build
        self.host = profile.host
        self.config = config
        self.name = config.name
        self.uuid = config.uuid
        self.clock = clock
        self.scheduler = scheduler or Scheduler()
        self.quirks = self.build.quirks
        self.monitors: list[Monitor] = []
        self.event_log: deque[dict[str, Any]] = deque(maxlen=1000)
        self.listeners: list[Callable[[dict[str, Any]], object]] = []  # for HTTP / transcripts
        # (command) each time a command is answered with its type's default (HTTP metrics)
        self.default_listeners: list[Callable[[str], object]] = []
        self.exit_listeners: list[Callable[[str], object]] = []  # (reason) when the process would exit
        # a monitor connection closed (QEMU's CHR_EVENT_CLOSED; commands/fd.py cleans fd sets)
        self.session_close_listeners: list[Callable[[], object]] = []
        self.terminated: str | None = None  # ShutdownCause once the instance has exited
        self.exit_code = 0  # the process's exit status once terminated (1: a failed incoming migration)
        self.panic_exit_code = 0  # 1 once a panic under -action panic=exit-failure requested the shutdown
        self.migrated_in = False  # an incoming migration completed: inst.abi is the source's
        self.stderr: deque[str] = deque(maxlen=200)  # what the process printed (error_report), newest last
        self.reporter: Callable[[str], object] | None = None  # the launcher prints QEMU-style lines
        self.preconfig = config.preconfig
        self.autostart = not config.start_paused
        self._table: Any = None
        self.table_factory: Callable[[Instance], Any] | None = None  # set by the start-up pipeline
        # typed state, one owner each (see qmpserver.vm.state and the pipeline)
        self.machine: MachineState = None  # type: ignore[assignment]  # startup: machine phases
        self.board: Any = None  # vm/virt.py board_init: what machine init settled on
        self.cpu = CpuState()  # arch/<target>/startup.py
        self.memory = Memory(config.memory or (128 << 20), config.maxmem, config.slots)
        self.backends = Backends()  # commands/{chardev,objects,block,netdev,device,fd}.py
        self.threads = Threads()  # vCPU / iothread ids
        self.qom: QomTree | None = None  # vm/qom.py: the QOM tree, built on first use
        self.migration: Any = None  # commands/migration.py: the migration state machine
        self.migration_blockers: list[str] = []  # start-up phases (vm/virt.py: MTE under KVM)
        self.abi: Any = None  # the guest ABI the pipeline settled on (vm/abi.py)
        self.caches = Caches()  # memo tables of derived answers
        self.run_hooks: list[Callable[[Instance], None]] = []  # guest_runs(): arch machine rules
        if config.incoming is not None:
            self.runstate = "inmigrate"
        elif config.preconfig or config.start_paused:
            self.runstate = "prelaunch"
        else:
            self.runstate = "running"

    # --- identity ------------------------------------------------------------

    def version_info(self) -> dict[str, Any]:
        major, minor, micro = self.build.version
        return {"qemu": {"major": major, "minor": minor, "micro": micro}, "package": self.build.package}

    @property
    def accel(self) -> str:
        return self.machine.accel  # type: ignore[return-value]  # set by the pipeline before any command

    @property
    def command_table(self) -> Any:
        """The command table, built on first use by the factory the pipeline set."""
        if self._table is None:
            if self.table_factory is None:
                raise RuntimeError("instance not started by qmpserver.startup.start()")
            self._table = self.table_factory(self)
        return self._table

    def add_monitor(self, **kw: Any) -> Monitor:
        m = Monitor(self, **kw)
        self.monitors.append(m)
        return m

    # --- events ----------------------------------------------------------------

    def emit(self, name: str, data: Any = None, timestamp: dict[str, int] | None = None) -> dict[str, Any]:
        """Deliver event ``name``; ``timestamp`` (QMP's form) when another process stamped it
        (the block layer's daemon), else now."""
        if timestamp is None:
            now = self.clock()
            sec = int(now)
            timestamp = {"seconds": sec, "microseconds": int((now - sec) * 1e6)}
        ev: dict[str, Any] = {"timestamp": timestamp, "event": name}
        if data is not None:
            ev["data"] = data
        raw = message(ev)
        for m in self.monitors:
            m.deliver_event(raw, ev)
        self.event_log.append(ev)
        for fn in self.listeners:
            fn(ev)
        return ev

    def main_loop(self, ctx: Context | None, fn: Callable[[], None]) -> None:
        """Work QEMU's main loop does after a command handler returns."""
        if "main-loop-events-before-reply" in self.quirks or ctx is None:
            fn()
        else:
            ctx.defer(fn)

    # --- run state ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.runstate == "running"

    def set_runstate(self, state: str) -> None:
        self.runstate = state

    def vm_stop(self, state: str = "paused") -> None:
        if self.runstate == "running":
            self.runstate = state
            self.emit("STOP")

    def vm_start(self) -> None:
        if self.runstate == "running":
            return
        self.emit("RESUME")
        self.runstate = "running"
        self.preconfig = False
        self.guest_runs()

    def guest_runs(self) -> None:
        """The guest's vCPUs run (start-up without ``-S``, ``cont``): what a target's machine
        rules registered for that moment happens (``run_hooks``, e.g. the pseries guest that
        crashes on ``tlbie``, :mod:`qmpserver.arch.ppc64.spapr`)."""
        for fn in list(self.run_hooks):
            if self.runstate == "running":
                fn(self)

    def guest_panicked(self) -> None:
        """QEMU's ``qemu_system_guest_panicked`` (``softmmu/runstate.c``, 7.2; 10.0 the same)
        for a guest that reports its panic without details (pseries ``ibm,os-term``), by the
        panic action (``-action panic=``, ``set-action``; default ``shutdown``) and the
        shutdown action (``pause`` with ``-no-shutdown`` / ``-action shutdown=pause``, as
        libvirt starts QEMU):

        * ``pause``, or ``shutdown`` with the shutdown action ``pause``: ``GUEST_PANICKED``
          {"action": "pause"}, ``STOP``, run state ``guest-panicked``;
        * ``shutdown`` or ``exit-failure``: {"action": "poweroff"}, ``STOP``, then a
          ``guest-panic`` shutdown request (which the shutdown action ``pause`` turns into the
          run state ``shutdown``); ``exit-failure`` makes the process exit with status 1;
        * ``none``: {"action": "run"}, the guest keeps running."""
        panic = self.config.panic_action
        if panic == "pause" or (panic == "shutdown" and self.config.no_shutdown):
            self.emit("GUEST_PANICKED", {"action": "pause"})
            self.vm_stop("guest-panicked")
        elif panic in ("shutdown", "exit-failure"):
            self.emit("GUEST_PANICKED", {"action": "poweroff"})
            self.vm_stop("guest-panicked")
            if panic == "exit-failure":
                self.panic_exit_code = 1
            self.shutdown("guest-panic")
        else:
            self.emit("GUEST_PANICKED", {"action": "run"})

    def stop(self) -> None:
        if self.runstate == "inmigrate":
            self.autostart = False
        else:
            self.vm_stop("paused")

    def cont(self) -> None:
        rs = self.runstate
        if rs in NEEDS_RESET:
            raise QMPError("Resetting the Virtual Machine is required")
        if rs == "suspended":
            return
        if rs == "finish-migrate":
            raise QMPError("Migration is not finalized yet")
        if rs == "inmigrate":
            self.autostart = True
            return
        self.vm_start()

    def system_reset(self, cause: str = "host-qmp-system-reset", ctx: Context | None = None) -> None:
        def do() -> None:
            self.emit("RESET", {"guest": cause.startswith("guest"), "reason": cause})
            if self.runstate not in ("running", "inmigrate", "finish-migrate"):
                self.runstate = "prelaunch"

        self.main_loop(ctx, do)

    def system_powerdown(self, ctx: Context | None = None) -> None:
        def do() -> None:
            self.emit("POWERDOWN")
            guest = self.config.guest
            if guest.acpi and self.runstate == "running":
                self.scheduler.call_later(guest.powerdown_delay, self._guest_acpi_poweroff)

        self.main_loop(ctx, do)

    def _guest_acpi_poweroff(self) -> None:
        if self.terminated is None and self.runstate == "running":
            self.shutdown("guest-shutdown")

    def shutdown(self, cause: str, ctx: Context | None = None, force_exit: bool = False) -> None:
        """A shutdown request as QEMU's main loop handles it."""

        def do() -> None:
            if self.terminated is not None:
                return
            self.emit("SHUTDOWN", {"guest": cause.startswith("guest"), "reason": cause})
            if self.config.no_shutdown and not force_exit and cause.startswith("guest"):
                self.vm_stop("shutdown")
            else:
                # main_loop_should_exit: a guest-panic shutdown under panic=exit-failure
                self.terminate(cause, self.panic_exit_code if cause == "guest-panic" else 0)

        self.main_loop(ctx, do)

    def quit(self, ctx: Context | None = None) -> None:
        self.shutdown("host-qmp-quit", ctx, force_exit=True)

    def before_spawn(self) -> None:
        """QEMU is about to fork a helper (migration over ``exec:``, ``-daemonize``).  Under
        ``-sandbox on,spawn=deny`` its seccomp filter kills the whole process then (QEMU 7.2
        ``qemu-seccomp.c``: fork, vfork, execve and clone without CLONE_THREAD in the spawn
        set, the action ``kill process``): measured with Debian's 7.2, the process dies by
        SIGSYS, no reply and nothing on stderr.  Only the launcher denies spawning, so only
        a launcher process kills itself."""
        if self.config.spawn_denied:
            killed_by_seccomp()

    def error_report(self, text: str) -> None:
        """``error_report()``: a line on the process's stderr (the launcher prints
        it with QEMU's prefix; every instance keeps the last lines)."""
        self.stderr.append(text)
        if self.reporter is not None:
            self.reporter(text)

    def terminate(self, cause: str, exit_code: int = 0) -> None:
        """The emulated process exits: sessions are closed after their output."""
        if self.terminated is not None:
            return
        if self.backends.daemon is not None:  # qemu_cleanup: jobs end before the monitors
            from .storage_daemon import cleanup

            cleanup(self)
        self.terminated = cause
        self.exit_code = exit_code
        for m in self.monitors:
            m.close_sessions()
        for fn in list(self.exit_listeners):
            fn(cause)


def killed_by_seccomp() -> None:
    """Die as a seccomp ``kill process`` action kills QEMU: SIGSYS, default disposition."""
    signal.signal(signal.SIGSYS, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGSYS)
