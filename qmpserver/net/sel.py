"""selectors driver: one instance, minimal imports (the launcher's path).

Importing asyncio costs ~36 ms here, more than QEMU needs to start; this
driver uses ``selectors`` + ``socket`` only and gives the same behaviour as
:mod:`qmpserver.net.aio` (admission, flow control, deferred work).
"""

from __future__ import annotations

import heapq
import itertools
import os
import select
import selectors
import socket
import time

from .endpoint import FD_SPACE, RECV_FLAGS, Listener, cleanup, is_listening, listen_socket, received_fds
from .endpoint import Connection as BaseConnection

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: the launcher's start-up path avoids it
    from typing import Any, Callable, Union

    FileLike = Union[int, socket.socket]

    from ..vm.instance import Monitor
    from .endpoint import Address

READ_CHUNK = 1 << 16
_WAKE_LOCK = __import__("_thread").allocate_lock()
WRITE_HIGH_WATER = 1 << 20


class SelScheduler:
    """Instance scheduler backed by the loop."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop

    def call_later(self, delay: float, fn: Callable[[], object]) -> _Timer:
        return self.loop.call_later(delay, fn)

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        self.loop.call_soon_threadsafe(fn)


class _Timer:
    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when: float, fn: Callable[[], object]) -> None:
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Epoll:
    """The part of a ``selectors`` selector the loop uses, on ``select.epoll`` directly.

    ``selectors`` adds a key object and a dict lookup per event; on the request
    path every microsecond counts.  Callbacks still get ``selectors`` masks.
    """

    def __init__(self) -> None:
        self._ep = select.epoll()
        self.IN, self.OUT = select.EPOLLIN, select.EPOLLOUT
        self.ERR = select.EPOLLERR | select.EPOLLHUP
        self.callbacks: dict[int, Callable[[int], object]] = {}

    @staticmethod
    def _fd(fileobj: FileLike) -> int:
        return fileobj if isinstance(fileobj, int) else fileobj.fileno()

    def _flags(self, events: int) -> int:
        return (self.IN if events & selectors.EVENT_READ else 0) | (
            self.OUT if events & selectors.EVENT_WRITE else 0
        )

    def register(self, fileobj: FileLike, events: int, data: Callable[[int], object]) -> None:
        fd = self._fd(fileobj)
        self._ep.register(fd, self._flags(events))
        self.callbacks[fd] = data

    def modify(self, fileobj: FileLike, events: int, data: Callable[[int], object]) -> None:
        fd = self._fd(fileobj)
        self._ep.modify(fd, self._flags(events))
        self.callbacks[fd] = data

    def unregister(self, fileobj: FileLike) -> None:
        fd = self._fd(fileobj)
        if self.callbacks.pop(fd, None) is None:
            raise KeyError(fd)
        try:
            self._ep.unregister(fd)
        except (OSError, ValueError):
            pass

    def poll(self, timeout: float | None) -> list[tuple[int, int]]:
        return self._ep.poll(-1 if timeout is None else timeout)


class Loop:
    """The launcher's event loop: epoll, ``call_soon`` callbacks and timers."""

    def __init__(self) -> None:
        self.sel = _Epoll()
        self.timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self.soon: list[Callable[[], object]] = []
        self.stopped = False
        self._wake: tuple[int, int] | None = None
        self._from_threads: Any = None

    def call_later(self, delay: float, fn: Callable[[], object]) -> _Timer:
        t = _Timer(time.monotonic() + delay, fn)
        heapq.heappush(self.timers, (t.when, next(self._seq), t))
        return t

    def call_soon(self, fn: Callable[[], object]) -> None:
        self.soon.append(fn)

    def call_soon_threadsafe(self, fn: Callable[[], object]) -> None:
        """From another thread (migration's channel threads): queue ``fn`` and
        wake the poll through a pipe made on first use."""
        if self._wake is None:
            import collections

            with _WAKE_LOCK:
                if self._wake is None:
                    self._from_threads = collections.deque()
                    r, w = os.pipe()
                    os.set_blocking(r, False)
                    os.set_blocking(w, False)
                    self.sel.register(r, selectors.EVENT_READ, self._woken)
                    self._wake = (r, w)
        self._from_threads.append(fn)
        try:
            os.write(self._wake[1], b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: a wake-up is pending anyway

    def _woken(self, mask: int) -> None:
        assert self._wake is not None
        try:
            while os.read(self._wake[0], 4096):
                pass
        except (BlockingIOError, OSError):
            pass
        while self._from_threads:
            self.soon.append(self._from_threads.popleft())

    def stop(self) -> None:
        self.stopped = True

    def run(self) -> None:
        while not self.stopped:
            while self.soon:
                batch, self.soon = self.soon, []
                for fn in batch:
                    fn()
            if self.stopped:
                break
            timeout: float | None = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - time.monotonic())
            try:
                events = self.sel.poll(timeout)
            except InterruptedError:
                events = []
            callbacks = self.sel.callbacks
            IN, OUT, ERR = self.sel.IN, self.sel.OUT, self.sel.ERR
            for fd, ev in events:
                cb = callbacks.get(fd)
                if cb is not None:
                    cb(
                        (selectors.EVENT_READ if ev & (IN | ERR) else 0)
                        | (selectors.EVENT_WRITE if ev & OUT else 0)
                    )
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, t = heapq.heappop(self.timers)
                if not t.cancelled:
                    t.fn()


class Connection(BaseConnection):
    """The epoll side of a connection: a non-blocking socket and an output buffer.

    The request path is the common case to keep short: a read, one
    ``pump()``, one ``send()`` of the whole answer, and no ``epoll_ctl`` while
    nothing changes (interest is only modified when reading or writing starts
    or stops).  A unix socket is read with ``recvmsg`` so that descriptors
    passed with SCM_RIGHTS reach the session (``getfd``, ``add-fd``); other
    sockets with a plain ``recv``.

    The loop may be this module's :class:`Loop` or anything with its
    ``sel``/``call_soon``/``call_later`` (:mod:`qmpserver.net.aio` runs unix
    socket connections on asyncio's loop this way)."""

    def __init__(self, endpoint: Any, sock: socket.socket) -> None:
        BaseConnection.__init__(self, endpoint)
        self.loop = endpoint.loop
        self.sock = sock
        sock.setblocking(False)
        self._recv: Callable[[int], bytes] = self._recv_unix if sock.family == socket.AF_UNIX else sock.recv
        self.out = bytearray()  # output the socket did not take yet
        self.closed = False
        self.close_pending = False  # close once ``out`` is written
        self.events = selectors.EVENT_READ
        self.loop.sel.register(sock, selectors.EVENT_READ, self.on_event)
        self.opened()

    # transport primitives -------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if not self.out:
            # common case: answer straight away, no buffering, no epoll change
            try:
                n = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                return self.close()
            if n == len(data):
                return
            data = data[n:]
        self.out += data
        self.write_blocked = len(self.out) >= WRITE_HIGH_WATER
        self._interest()

    def _set_reading(self, on: bool) -> None:
        self._interest()

    def _close_when_flushed(self) -> None:
        if self.closed:
            return
        self.close_pending = True
        if not self.out:
            self.close()
        else:
            self._interest()

    def _is_open(self) -> bool:
        return not self.closed

    def _call_soon(self, fn: Callable[[], None]) -> None:
        self.loop.call_soon(fn)

    def _call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.loop.call_later(delay, fn)

    # epoll ----------------------------------------------------------------------------

    def _interest(self) -> None:
        if self.closed:
            return
        ev = 0
        if self.reading and not self.close_pending:
            ev |= selectors.EVENT_READ
        if self.out:
            ev |= selectors.EVENT_WRITE
        if ev != self.events:  # an epoll_ctl per message would cost a syscall each time
            # no interest at all: out of the poll set (epoll would still report a
            # hang-up, level-triggered, on a socket nobody reads)
            sel = self.loop.sel
            if ev == 0:
                sel.unregister(self.sock)
            elif self.events == 0:
                sel.register(self.sock, ev, self.on_event)
            else:
                sel.modify(self.sock, ev, self.on_event)
            self.events = ev

    def _recv_unix(self, size: int) -> bytes:
        data, anc, _flags, _addr = self.sock.recvmsg(size, FD_SPACE, RECV_FLAGS)
        if anc:
            fds = received_fds(anc)
            if fds:
                self.session.receive_fds(fds)
        return data

    def on_event(self, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            try:
                data = self._recv(READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                return self.close()
            if data == b"":
                return self.close()
            if data:
                self.data_in(data)
        if self.closed or not self.out:
            return
        try:
            n = self.sock.send(self.out)
            del self.out[:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return self.close()
        if self.close_pending and not self.out:
            return self.close()
        if self.write_blocked and len(self.out) < WRITE_HIGH_WATER:
            self.writable()
        self._interest()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.loop.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()
        self.lost()

    def shutdown(self) -> None:
        """The endpoint closes (the process exits): write what is pending, then close."""
        self.out += self.session.take_output()
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(0.5)
            if self.out:
                self.sock.sendall(self.out)
        except OSError:
            pass
        self.close()


class StdioConnection(Connection):
    """A monitor on the process's stdin/stdout (``-qmp stdio``, ``-mon`` on a ``stdio``
    chardev): QEMU 7.2's ``char-stdio.c`` over ``char-fd.c``, measured with Debian's binary:

    * greeted at start, as a socket client is on connect;
    * stdin non-blocking and polled; at end of input (``fd_chr_read`` reads 0 bytes) the
      chardev stops reading and reports CLOSED, but the process goes on and the monitor
      keeps writing replies and events to stdout (a later ``SHUTDOWN`` still appears);
    * stdout written blocking (QEMU retries a full pipe until it takes the data); a
      reader that went away (EPIPE) loses the output, nothing else.

    Input that epoll cannot watch (a regular file, ``/dev/null``) is read in chunks from
    the loop instead: it is always readable.  The socket parts of :class:`Connection` (its
    ``__init__``, output buffer and epoll interest) are not used; the loop helpers are."""

    def __init__(self, endpoint: Any, rfd: int, wfd: int) -> None:
        BaseConnection.__init__(self, endpoint)
        self.loop = endpoint.loop
        self.rfd, self.wfd = rfd, wfd
        self.closed = False
        self.input_open = True
        self.output_open = True
        self.polled = False  # rfd is in the epoll set
        os.set_blocking(rfd, False)
        try:
            self.loop.sel.register(rfd, selectors.EVENT_READ, self.on_event)
            self.polled = True
        except PermissionError:  # EPERM: a regular file
            self.loop.call_soon(self._read_unpolled)
        self.opened()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self.output_open:
            try:
                n = os.write(self.wfd, view)
            except InterruptedError:
                continue
            except BlockingIOError:
                select.select([], [self.wfd], [])
                continue
            except OSError:
                self.output_open = False
                return
            view = view[n:]

    def _set_reading(self, on: bool) -> None:
        if not self.input_open or self.closed:
            return
        if not self.polled:
            if on:
                self.loop.call_soon(self._read_unpolled)
            return
        if on:
            self.loop.sel.register(self.rfd, selectors.EVENT_READ, self.on_event)
        else:
            self.loop.sel.unregister(self.rfd)

    def _close_when_flushed(self) -> None:
        self.close()

    def _read_once(self) -> bool:
        """One read; False at end of input (or an error), which stops reading for good."""
        try:
            data = os.read(self.rfd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            data = b""
        if not data:
            self._end_of_input()
            return False
        self.data_in(data)
        return True

    def on_event(self, mask: int) -> None:
        self._read_once()

    def _read_unpolled(self) -> None:
        if self.input_open and self.reading and not self.closed and self._read_once():
            self.loop.call_soon(self._read_unpolled)

    def _end_of_input(self) -> None:
        if self.polled and self.reading:
            try:
                self.loop.sel.unregister(self.rfd)
            except (KeyError, ValueError):
                pass
        self.input_open = False

    def close(self) -> None:
        if self.closed:
            return
        self._end_of_input()
        self.closed = True
        self.lost()

    def shutdown(self) -> None:
        """The process exits: what the session still has goes out, then the monitor closes."""
        self._write(self.session.take_output())
        self.close()


class Endpoint(Listener):
    def __init__(self, loop: Loop, monitor: Monitor, address: Address, hooks: Any = ()) -> None:
        super().__init__(monitor, address, hooks)
        self.loop = loop
        self.lsock: socket.socket | None = None

    def start(self) -> Endpoint:
        addr = self.address
        if addr.kind == "unix-connect":
            assert addr.path is not None
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(addr.path)
            Connection(self, s)
            return self
        s = listen_socket(addr)
        if addr.kind == "fd" and not is_listening(s):
            Connection(self, s)
            return self
        self.lsock = s
        self.loop.sel.register(s, selectors.EVENT_READ, self.on_accept)
        self.monitor.address = str(addr)
        return self

    def on_accept(self, mask: int) -> None:
        assert self.lsock is not None
        try:
            conn, _ = self.lsock.accept()
        except OSError as e:  # EAGAIN, an aborted connection, or out of descriptors
            delay = self.accept_failed(e)
            if delay is not None:
                self.loop.sel.unregister(self.lsock)
                self.loop.call_later(delay, self._resume_accept)
            return
        self.accepted()
        Connection(self, conn)

    def _resume_accept(self) -> None:
        if self.lsock is not None:
            self.loop.sel.register(self.lsock, selectors.EVENT_READ, self.on_accept)

    def close(self) -> None:
        for c in list(self.admission.active) + list(self.admission.waiting):
            assert isinstance(c, Connection)
            c.shutdown()
        if self.lsock is not None:
            try:
                self.loop.sel.unregister(self.lsock)
            except (KeyError, ValueError):
                pass
            self.lsock.close()
            self.lsock = None
            if self.address.kind != "fd":
                cleanup(self.address)
