"""Monitor endpoints: addresses, sockets and QEMU's one-client-at-a-time rule.

Driver-agnostic: :mod:`qmpserver.net.aio` (asyncio, for ``serve``) and
:mod:`qmpserver.net.sel` (epoll, for the lean launcher) both use it, and it
holds the connection handling they share.

Addresses::

    unix:PATH            listen on a unix socket (mode 0600 unless told)
    tcp:HOST:PORT        listen on TCP (PORT 0 = any free port)
    fd:N                 an inherited socket: listening (libvirt) or connected
                         (QEMUMachine's socketpair)
    unix-connect:PATH    connect out to a listening client (QEMU without server=on)

A monitor serves one client at a time, as QEMU does: a second connection is
accepted by the kernel but gets no greeting until the first one closes.
``multi_client`` lifts that for test convenience.

Connection handling shared by both drivers (the driver contract)
----------------------------------------------------------------

A driver (:mod:`qmpserver.net.aio` on asyncio, :mod:`qmpserver.net.sel` on
epoll) subclasses :class:`Connection` and supplies the transport
primitives; everything else -- admission, greeting, input while waiting,
pumping the session, write pressure, paused input, holds, wake-ups, closing --
happens here, against the session contract of :mod:`qmpserver.qmp.session`:

``_write(data)``           send or buffer bytes; set ``write_blocked`` while the
                           unsent output is above the driver's high-water mark
``_set_reading(on)``       start/stop reading the socket
``_close_when_flushed()``  close once the buffered output is written
``_is_open()``             False once the transport is closing or closed
``_call_soon(fn)``, ``_call_later(seconds, fn)``  the driver's event loop

A driver calls :meth:`Connection.opened` once set up, :meth:`Connection.data_in`
with each chunk read, :meth:`Connection.writable` when its output drained below
the high-water mark, and :meth:`Connection.lost` when the connection is gone.
On a unix socket it reads with ``recvmsg(size, FD_SPACE, RECV_FLAGS)`` and hands
the descriptors passed with SCM_RIGHTS (:func:`received_fds`) to the session
(``Session.receive_fds``) before the bytes that came with them reach
:meth:`Connection.data_in`.

Endpoint hooks (the HTTP control plane's transcript and fault injection) get
``on_session(session)`` for each new connection, before its greeting.
"""

from __future__ import annotations

import errno
import os
import socket
import stat

from ..errors import UsageError
from ..log import get as _get_log
from ..qmp.session import CLOSE, FLUSH, PAUSED, READ, WAIT, Session

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: the launcher's start-up path avoids it
    from typing import Any, Callable, Protocol

    from ..vm.instance import Monitor

    class SessionHook(Protocol):
        def on_session(self, session: Session) -> None: ...


# QEMU io/channel-socket.c: SOCKET_MAX_FDS; descriptors beyond the control buffer are
# discarded by the kernel (MSG_CTRUNC), as they are for QEMU
_log = _get_log("qmpserver.net")

MAX_FDS = 16
FD_SPACE = socket.CMSG_SPACE(MAX_FDS * 4)  # ancillary buffer of a unix-socket read
RECV_FLAGS = getattr(socket, "MSG_CMSG_CLOEXEC", 0)  # QEMU's qio_channel_socket_readv sets it too


def received_fds(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    """The SCM_RIGHTS descriptors in ``recvmsg``'s ancillary data.

    QEMU reads its socket chardevs with ``recvmsg`` when the channel can pass
    descriptors (unix sockets: ``QIO_CHANNEL_FEATURE_FD_PASS``) and keeps what
    came as the connection's pending descriptors (``chardev/char-socket.c``);
    a driver hands them to ``Session.receive_fds`` before the bytes of the read.
    """
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += memoryview(payload[: len(payload) & ~3]).cast("i").tolist()
    return fds


class Address:
    """A parsed monitor address (``kind``: unix, tcp, fd, unix-connect)."""

    def __init__(
        self,
        kind: str,
        path: str | None = None,
        host: str | None = None,
        port: int | None = None,
        fd: int | None = None,
        mode: int = 0o600,
    ) -> None:
        self.kind = kind
        self.path = path
        self.host = host
        self.port = port
        self.fd = fd
        self.mode = mode

    def __str__(self) -> str:
        if self.kind == "tcp":
            host = self.host or ""
            return "tcp:%s:%s" % ("[%s]" % host if ":" in host else host, self.port)
        if self.kind == "fd":
            return "fd:%d" % (self.fd or 0)
        return "%s:%s" % (self.kind, self.path)


def parse_address(spec: str, mode: int = 0o600) -> Address:
    """Parse a ``--qmp`` value; raises UsageError with a clear message."""
    if spec.startswith("unix:"):
        path = spec[5:]
        if not path:
            raise UsageError("unix socket path is empty in '%s'" % spec)
        if len(os.fsencode(os.path.abspath(path))) > 107:
            raise UsageError("unix socket path too long (max 107 bytes): %s" % path)
        return Address("unix", path=path, mode=mode)
    if spec.startswith("tcp:"):
        rest = spec[4:]
        if rest.startswith("["):
            host, _, port = rest[1:].partition("]:")
        else:
            host, _, port = rest.rpartition(":")
        if not port.isdigit() or int(port) > 65535:
            raise UsageError("invalid TCP port in '%s' (expected tcp:HOST:PORT)" % spec)
        return Address("tcp", host=host or "127.0.0.1", port=int(port))
    if spec.startswith("fd:"):
        if not spec[3:].isdigit():
            raise UsageError("invalid file descriptor in '%s'" % spec)
        return Address("fd", fd=int(spec[3:]))
    if spec.startswith("unix-connect:"):
        return Address("unix-connect", path=spec[13:])
    raise UsageError("invalid QMP address '%s' (expected unix:PATH, tcp:HOST:PORT or fd:N)" % spec)


def listen_socket(addr: Address) -> socket.socket:
    """Create (or adopt) the listening socket of an address."""
    if addr.kind == "unix":
        path = addr.path
        assert path is not None
        try:
            st = os.lstat(path)
            if stat.S_ISSOCK(st.st_mode):
                os.unlink(path)  # a stale socket, as QEMU does
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o777 & ~addr.mode)
        try:
            s.bind(path)
        finally:
            os.umask(old)
        if addr.mode != 0o600:
            os.chmod(path, addr.mode)
        s.listen(16)
    elif addr.kind == "tcp":
        infos = socket.getaddrinfo(addr.host, addr.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        fam, typ, proto, _, sa = infos[0]
        s = socket.socket(fam, typ, proto)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(sa)
        s.listen(16)
        addr.port = s.getsockname()[1]
    elif addr.kind == "fd":
        assert addr.fd is not None
        s = socket.socket(fileno=addr.fd)
    else:
        raise UsageError("cannot listen on %s" % addr)
    s.setblocking(False)
    return s


def is_listening(s: socket.socket) -> bool:
    try:
        return bool(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
    except OSError:
        return False


def cleanup(addr: Address) -> None:
    """Remove a unix socket the endpoint created."""
    if addr.kind == "unix" and addr.path is not None:
        try:
            os.unlink(addr.path)
        except OSError:
            pass


class Admission:
    """Who may talk to a monitor: one active client, the rest wait."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.active: list[Connection] = []
        self.waiting: list[Connection] = []

    def arrive(self, conn: Connection) -> bool:
        """A new connection; True if it becomes active now."""
        if self.monitor.multi_client or not self.active:
            self.active.append(conn)
            return True
        self.waiting.append(conn)
        return False

    def leave(self, conn: Connection) -> Connection | None:
        """A connection closed; returns the waiting one to activate, if any."""
        if conn in self.waiting:
            self.waiting.remove(conn)
            return None
        if conn in self.active:
            self.active.remove(conn)
        if self.monitor.instance.terminated is not None:
            return None  # the emulated process has exited: nobody is greeted any more
        if self.waiting and (self.monitor.multi_client or not self.active):
            nxt = self.waiting.pop(0)
            self.active.append(nxt)
            return nxt
        return None


_NOT_READING = PAUSED | CLOSE | FLUSH

# Input kept from a client that waits for the monitor (another client is active).  QEMU
# does not accept it at all: its bytes stay in the kernel and its sends block.  Reading
# a little lets a waiting client that hangs up be noticed (its descriptor closed);
# beyond this the connection is not read until it is admitted.
WAITING_INPUT_MAX = 1 << 16


ACCEPT_BACKOFF = 0.5
"""Seconds a listener stops accepting after running out of descriptors (or kernel memory).

The pending connection stays in the kernel's backlog, so the listening socket stays readable:
retrying at once spins, and asyncio's own server logs a traceback about every second
(issue 16). Both drivers pause instead and log one warning per episode."""

ACCEPT_RESOURCE_ERRNOS = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))


class Listener:
    """What both drivers' endpoints share: a monitor, its address, admission and hooks."""

    def __init__(self, monitor: Monitor, address: Address, hooks: Any = ()) -> None:
        self.monitor = monitor
        self.address = address
        self.admission = Admission(monitor)
        self.hooks: list[SessionHook] = list(hooks)
        self.accept_paused = False  # out of descriptors: accepting resumes after ACCEPT_BACKOFF

    def accept_failed(self, e: OSError) -> float | None:
        """An ``accept()`` failed: the delay before the driver may accept again when the process
        or the system is out of descriptors (the warning is logged once until an accept works),
        or None for a failure that concerns only that connection (aborted, EAGAIN)."""
        if e.errno not in ACCEPT_RESOURCE_ERRNOS:
            return None
        if not self.accept_paused:
            self.accept_paused = True
            _log.warning(
                "%s: cannot accept a connection: %s; accepting again in %.1f s (and every %.1f s "
                "until one succeeds)",
                self.address,
                os.strerror(e.errno or 0),
                ACCEPT_BACKOFF,
                ACCEPT_BACKOFF,
            )
        return ACCEPT_BACKOFF

    def accepted(self) -> None:
        """An ``accept()`` worked: a later shortage is a new episode with its own warning."""
        if self.accept_paused:
            self.accept_paused = False
            _log.info("%s: accepting connections again", self.address)


class Connection:
    """One client connection of a monitor: a sans-IO session plus the shared driver logic."""

    def __init__(self, endpoint: Listener) -> None:
        self.endpoint = endpoint
        self.session = Session(endpoint.monitor, wakeup=self.wake)
        self.active = False  # admitted: greeted, its input is handled
        self.pending = bytearray()  # input received while waiting for admission
        self.reading = True  # the transport is being read
        self.write_blocked = False  # unsent output above the driver's high-water mark
        self.woken = False  # a process() is scheduled by wake()
        self.want = READ  # the session's last answer (qmp.session READ/PAUSED/CLOSE)

    # --- transport primitives (per driver) --------------------------------------------

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def _set_reading(self, on: bool) -> None:
        raise NotImplementedError

    def _close_when_flushed(self) -> None:
        raise NotImplementedError

    def _is_open(self) -> bool:
        raise NotImplementedError

    def _call_soon(self, fn: Callable[[], None]) -> None:
        raise NotImplementedError

    def _call_later(self, delay: float, fn: Callable[[], None]) -> None:
        raise NotImplementedError

    # --- life cycle ------------------------------------------------------------------------

    def opened(self) -> None:
        """The transport is up: hooks see the session, then admission decides."""
        for h in self.endpoint.hooks:
            h.on_session(self.session)
        if self.endpoint.admission.arrive(self):
            self.activate()

    def activate(self) -> None:
        """Admitted (now or after the previous client left): greet, then handle what came."""
        self.active = True
        self._write(self.session.connect())
        if self.pending:
            data = bytes(self.pending)
            self.pending.clear()
            self.data_in(data)
        self._flow()  # reading stopped while waiting with WAITING_INPUT_MAX bytes

    def lost(self) -> None:
        """The connection is gone; the next waiting client of the monitor is admitted."""
        self.session.disconnect()
        nxt = self.endpoint.admission.leave(self)
        if nxt is not None and nxt._is_open():
            nxt.activate()

    # --- input ------------------------------------------------------------------------------

    def data_in(self, data: bytes) -> None:
        if not self.active:
            self.pending += data
            if len(self.pending) >= WAITING_INPUT_MAX and self.reading:
                self.reading = False
                self._set_reading(False)
            return
        self.session.receive_data(data)
        self._process()  # the driver just read: the transport is open

    def process(self) -> None:
        """Pump the session, write its output, follow what it wants next."""
        if self._is_open():
            self._process()

    def _process(self) -> None:
        s = self.session
        want = s.pump()
        out = s.take_output()
        if out:
            self._write(out)
        if want or self.want or self.write_blocked or not self.reading:
            self._follow(want)
        # else: reading, and nothing changed (the request path)

    def _follow(self, want: int) -> None:
        self.want = want
        if want & WAIT:
            self._call_later(self.session.wait_seconds, self._resumed)
        if want & CLOSE:
            self._close_when_flushed()
        elif want & FLUSH and not self.write_blocked:
            self._call_soon(self.process)  # the transport took the output: answer more
        self._flow()

    def _flow(self) -> None:
        """Read unless the session paused input or has output backed up, or the client
        does not read its output."""
        reading = not (self.want & _NOT_READING) and not self.write_blocked
        if reading != self.reading and self._is_open():
            self.reading = reading
            self._set_reading(reading)

    def _resumed(self) -> None:
        self.session.resume()
        self.process()

    # --- output -----------------------------------------------------------------------------

    def wake(self) -> None:
        """The session has output or work outside a pump (an event, the process exiting)."""
        if not self.woken:
            self.woken = True
            self._call_soon(self._woken)

    def _woken(self) -> None:
        self.woken = False
        self.process()

    def writable(self) -> None:
        """The driver's output drained below its high-water mark."""
        self.write_blocked = False
        self.process()
