"""selectors driver: one instance, minimal imports (the launcher's path).

Importing asyncio costs ~36 ms here, more than QEMU needs to start; this
driver uses ``selectors`` + ``socket`` only and gives the same behaviour as
:mod:`qmpserver.net.aio` (admission, flow control, deferred work).
"""

from __future__ import annotations

import heapq
import itertools
import selectors
import socket
import time

from .endpoint import Admission, cleanup, is_listening, listen_socket, new_session

READ_CHUNK = 1 << 16
WRITE_HIGH_WATER = 1 << 20


class SelScheduler:
    def __init__(self, loop):
        self.loop = loop

    def call_later(self, delay, fn):
        return self.loop.call_later(delay, fn)


class _Timer:
    __slots__ = ("when", "fn", "cancelled")

    def __init__(self, when, fn):
        self.when = when
        self.fn = fn
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


class _Epoll:
    """The part of a ``selectors`` selector the loop uses, on ``select.epoll`` directly.

    ``selectors`` adds a key object and a dict lookup per event; on the request
    path every microsecond counts.  Callbacks still get ``selectors`` masks.
    """

    def __init__(self):
        import select
        self._ep = select.epoll()
        self._IN, self._OUT = select.EPOLLIN, select.EPOLLOUT
        self._ERR = select.EPOLLERR | select.EPOLLHUP
        self.callbacks: dict = {}

    @staticmethod
    def _fd(fileobj):
        return fileobj if isinstance(fileobj, int) else fileobj.fileno()

    def _flags(self, events):
        return (self._IN if events & selectors.EVENT_READ else 0) | (self._OUT if events & selectors.EVENT_WRITE else 0)

    def register(self, fileobj, events, data):
        fd = self._fd(fileobj)
        self._ep.register(fd, self._flags(events))
        self.callbacks[fd] = data

    def modify(self, fileobj, events, data):
        fd = self._fd(fileobj)
        self._ep.modify(fd, self._flags(events))
        self.callbacks[fd] = data

    def unregister(self, fileobj):
        fd = self._fd(fileobj)
        if self.callbacks.pop(fd, None) is None:
            raise KeyError(fd)
        try:
            self._ep.unregister(fd)
        except (OSError, ValueError):
            pass

    def poll(self, timeout):
        return self._ep.poll(-1 if timeout is None else timeout)


class Loop:
    def __init__(self):
        self.sel = _Epoll()
        self.timers: list = []
        self._seq = itertools.count()
        self.soon: list = []
        self.stopped = False

    def call_later(self, delay, fn):
        t = _Timer(time.monotonic() + delay, fn)
        heapq.heappush(self.timers, (t.when, next(self._seq), t))
        return t

    def call_soon(self, fn):
        self.soon.append(fn)

    def stop(self):
        self.stopped = True

    def run(self):
        while not self.stopped:
            while self.soon:
                batch, self.soon = self.soon, []
                for fn in batch:
                    fn()
            if self.stopped:
                break
            timeout = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - time.monotonic())
            try:
                events = self.sel.poll(timeout)
            except InterruptedError:
                events = []
            callbacks = self.sel.callbacks
            IN, OUT, ERR = self.sel._IN, self.sel._OUT, self.sel._ERR
            for fd, ev in events:
                cb = callbacks.get(fd)
                if cb is not None:
                    cb((selectors.EVENT_READ if ev & (IN | ERR) else 0) | (selectors.EVENT_WRITE if ev & OUT else 0))
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, t = heapq.heappop(self.timers)
                if not t.cancelled:
                    t.fn()


class Connection:
    def __init__(self, endpoint, sock):
        self.endpoint = endpoint
        self.loop = endpoint.loop
        self.sock = sock
        sock.setblocking(False)
        self.session = new_session(endpoint.monitor)
        self.session.notify = self.schedule_flush
        self.session.on_resume = lambda: self.loop.call_soon(self._resumed)
        self.session.on_delay = lambda d: self.loop.call_later(d, self.session.resume)
        self.out = bytearray()
        self.active = False
        self.closed = False
        self.pending = bytearray()
        self.flush_scheduled = False
        self.events = selectors.EVENT_READ
        self.loop.sel.register(sock, selectors.EVENT_READ, self.on_event)
        for h in endpoint.hooks:
            h.on_session(self.session)
        if endpoint.admission.arrive(self):
            self.activate()

    def activate(self):
        self.active = True
        self.out += self.session.connect()
        if self.pending:
            data = bytes(self.pending)
            self.pending.clear()
            self.session.receive_data(data)
            self.session.pump()
            self.out += self.session.take_output()
        self.write()

    def interest(self):
        if self.closed:
            return
        ev = 0
        if not (self.session.reading_suspended and self.active) and len(self.out) < WRITE_HIGH_WATER:
            ev |= selectors.EVENT_READ
        if self.out:
            ev |= selectors.EVENT_WRITE
        if ev == 0:
            ev = selectors.EVENT_WRITE if self.out else selectors.EVENT_READ
        if ev != self.events:  # an epoll_ctl per message would cost a syscall each time
            self.events = ev
            self.loop.sel.modify(self.sock, ev, self.on_event)

    def on_event(self, mask):
        if mask & selectors.EVENT_READ:
            try:
                data = self.sock.recv(READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                return self.close()
            if data == b"":
                return self.close()
            if data:
                if not self.active:
                    self.pending += data
                    return
                session = self.session
                session.receive_data(data)
                session.pump()
                reply = session.take_output()
                if reply and not self.out and not session.closing:
                    # common case: answer straight away, no buffering, no epoll change
                    try:
                        n = self.sock.send(reply)
                    except (BlockingIOError, InterruptedError):
                        n = 0
                    except OSError:
                        return self.close()
                    if n == len(reply) and not session.reading_suspended:
                        return
                    reply = reply[n:]
                self.out += reply
        if self.closed:
            return
        self.write()

    def _resumed(self):
        if not self.closed:
            self.session.pump()
            self.out += self.session.take_output()
            self.write()

    def schedule_flush(self):
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self):
        self.flush_scheduled = False
        if not self.closed:
            self.out += self.session.take_output()
            self.write()

    def write(self):
        if self.out:
            try:
                n = self.sock.send(self.out)
                del self.out[:n]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                return self.close()
        if self.session.closing and not self.out:
            return self.close()
        self.interest()

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.loop.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()
        self.session.disconnect()
        nxt = self.endpoint.admission.leave(self)
        if nxt is not None and not nxt.closed:
            nxt.activate()


class Endpoint:
    def __init__(self, loop, monitor, address, hooks=()):
        self.loop = loop
        self.monitor = monitor
        self.address = address
        self.admission = Admission(monitor)
        self.hooks = list(hooks)
        self.lsock = None

    def start(self):
        addr = self.address
        if addr.kind == "unix-connect":
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

    def on_accept(self, mask):
        try:
            conn, _ = self.lsock.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        Connection(self, conn)

    def close(self):
        for c in list(self.admission.active) + list(self.admission.waiting):
            c.out += c.session.take_output()
            try:
                c.sock.setblocking(True)
                c.sock.settimeout(0.5)
                if c.out:
                    c.sock.sendall(c.out)
            except OSError:
                pass
            c.close()
        if self.lsock is not None:
            try:
                self.loop.sel.unregister(self.lsock)
            except (KeyError, ValueError):
                pass
            self.lsock.close()
            if self.address.kind != "fd":
                cleanup(self.address)

