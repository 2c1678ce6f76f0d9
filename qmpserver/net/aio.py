"""asyncio driver: serves many instances and monitors in one process.

A TCP connection gets a :class:`QMPProtocol`, the asyncio side of a
:class:`~qmpserver.net.endpoint.Connection` (which holds the session and the
logic both drivers share).  Write pressure comes from the transport: above
its high-water mark asyncio calls ``pause_writing`` and reading stops, so a
client that does not read cannot grow the server.

A unix-socket connection must be read with ``recvmsg`` to receive the
descriptors a client passes with SCM_RIGHTS (``getfd``, ``add-fd``), and
asyncio's transports read with ``recv`` and drop ancillary data.  Such a
connection is a :class:`UnixConnection`: the readiness-driven socket
connection of :mod:`qmpserver.net.sel` (non-blocking ``recvmsg``/``send``, its
own output buffer and high-water mark), run on this loop through its public
``add_reader``/``add_writer`` (:class:`LoopAdapter`).  Listening sockets, unix
and TCP, are accepted from the same way, so that running out of descriptors
pauses accepting with one warning (:meth:`Listener.accept_failed`) instead of
asyncio's server logging a traceback every second.
"""

from __future__ import annotations

import asyncio
import selectors
import socket

from .endpoint import Connection, Listener, cleanup, is_listening, listen_socket
from .sel import Connection as SocketConnection

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from ..vm.instance import Monitor
    from .endpoint import Address

WRITE_HIGH_WATER = 1 << 20


class AsyncScheduler:
    """Instance scheduler backed by the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def call_later(self, delay: float, fn: Callable[[], object]) -> asyncio.TimerHandle:
        return self.loop.call_later(delay, fn)

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        self.loop.call_soon_threadsafe(fn)


class LoopAdapter:
    """What :class:`qmpserver.net.sel.Connection` needs of its loop, on an asyncio loop.

    ``sel.register/modify/unregister`` with ``selectors`` masks become
    ``add_reader``/``add_writer``/``remove_*`` (changed only when the interest
    changes, as with epoll); ``call_soon``/``call_later`` are the loop's."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.aloop = loop
        self.sel = self
        self.interest: dict[int, int] = {}  # fd -> selectors mask

    def register(self, sock: socket.socket, events: int, cb: Callable[[int], object]) -> None:
        self.interest[sock.fileno()] = 0
        self.modify(sock, events, cb)

    def modify(self, sock: socket.socket, events: int, cb: Callable[[int], object]) -> None:
        fd = sock.fileno()
        old = self.interest[fd]
        loop = self.aloop
        R, W = selectors.EVENT_READ, selectors.EVENT_WRITE
        if events & R and not old & R:
            loop.add_reader(fd, cb, R)
        elif old & R and not events & R:
            loop.remove_reader(fd)
        if events & W and not old & W:
            loop.add_writer(fd, cb, W)
        elif old & W and not events & W:
            loop.remove_writer(fd)
        self.interest[fd] = events

    def unregister(self, sock: socket.socket) -> None:
        fd = sock.fileno()
        old = self.interest.pop(fd)  # KeyError if unknown, as selectors
        if old & selectors.EVENT_READ:
            self.aloop.remove_reader(fd)
        if old & selectors.EVENT_WRITE:
            self.aloop.remove_writer(fd)

    def call_soon(self, fn: Callable[[], object]) -> None:
        self.aloop.call_soon(fn)

    def call_later(self, delay: float, fn: Callable[[], object]) -> asyncio.TimerHandle:
        return self.aloop.call_later(delay, fn)


class UnixConnection(SocketConnection):
    """A unix-socket connection on the asyncio loop (read with ``recvmsg``: SCM_RIGHTS)."""

    def shutdown(self) -> None:
        """The endpoint closes: write what is pending, then close (without blocking the loop)."""
        if self.closed:
            return
        self._write(self.session.take_output())
        self._close_when_flushed()


class QMPProtocol(Connection, asyncio.Protocol):
    def __init__(self, endpoint: Endpoint) -> None:
        Connection.__init__(self, endpoint)
        self.transport: asyncio.Transport | None = None

    # transport primitives -------------------------------------------------------

    def _write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def _set_reading(self, on: bool) -> None:
        assert self.transport is not None
        if on:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    def _close_when_flushed(self) -> None:
        assert self.transport is not None
        self.transport.close()  # asyncio writes the buffered output first

    def _is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def _call_soon(self, fn: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_soon(fn)

    def _call_later(self, delay: float, fn: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_later(delay, fn)

    # asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        self.opened()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost()

    def data_received(self, data: bytes) -> None:
        self.data_in(data)

    def eof_received(self) -> bool:
        return False

    def pause_writing(self) -> None:
        self.write_blocked = True
        self._flow()

    def resume_writing(self) -> None:
        self.writable()

    def shutdown(self) -> None:
        """The endpoint closes: write what is pending, then close."""
        if self._is_open():
            self._write(self.session.take_output())
            self._close_when_flushed()


class Endpoint(Listener):
    """A listening monitor address bound to an asyncio server."""

    def __init__(self, monitor: Monitor, address: Address, hooks: Any = ()) -> None:
        super().__init__(monitor, address, hooks)
        self.lsock: socket.socket | None = None  # the listening socket (accepted by hand)
        self.loop: LoopAdapter | None = None  # the loop of UnixConnection
        self._tasks: set[asyncio.Task[None]] = set()  # TCP connections being set up

    async def start(self, loop: asyncio.AbstractEventLoop | None = None) -> Endpoint:
        loop = loop or asyncio.get_running_loop()
        self.loop = LoopAdapter(loop)
        addr = self.address
        if addr.kind == "unix-connect":
            assert addr.path is not None
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                await loop.sock_connect(s, addr.path)
            except BaseException:
                s.close()
                raise
            UnixConnection(self, s)
            return self
        sock = listen_socket(addr)
        unix = sock.family == socket.AF_UNIX
        if addr.kind == "fd" and not is_listening(sock):
            if unix:
                UnixConnection(self, sock)
            else:
                await loop.connect_accepted_socket(lambda: QMPProtocol(self), sock)
            return self
        # accepted by hand, unix and TCP alike: out of descriptors, asyncio's own server would
        # log a traceback every second (Listener.accept_failed pauses and warns once instead)
        sock.setblocking(False)
        self.lsock = sock
        loop.add_reader(sock.fileno(), self._accept)
        self.monitor.address = str(addr)
        return self

    def _accept(self) -> None:
        assert self.lsock is not None and self.loop is not None
        try:
            conn, _ = self.lsock.accept()
        except OSError as e:  # EAGAIN, an aborted connection, or out of descriptors
            delay = self.accept_failed(e)
            if delay is not None:
                self.loop.aloop.remove_reader(self.lsock.fileno())
                self.loop.aloop.call_later(delay, self._resume_accept)
            return
        self.accepted()
        if conn.family == socket.AF_UNIX:
            UnixConnection(self, conn)
        else:
            self._tasks.add(task := self.loop.aloop.create_task(self._connect_tcp(conn)))
            task.add_done_callback(self._tasks.discard)

    async def _connect_tcp(self, conn: socket.socket) -> None:
        assert self.loop is not None
        try:
            await self.loop.aloop.connect_accepted_socket(lambda: QMPProtocol(self), conn)
        except OSError:  # the client went away before its transport was set up
            conn.close()

    def _resume_accept(self) -> None:
        if self.lsock is not None and self.loop is not None:
            self.loop.aloop.add_reader(self.lsock.fileno(), self._accept)

    def close(self) -> None:
        if self.lsock is not None:
            assert self.loop is not None
            self.loop.aloop.remove_reader(self.lsock.fileno())
            self.lsock.close()
            self.lsock = None
        for conn in list(self.admission.active) + list(self.admission.waiting):
            assert isinstance(conn, (QMPProtocol, UnixConnection))
            conn.shutdown()
        cleanup(self.address)
