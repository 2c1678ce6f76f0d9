"""asyncio driver: serves many instances and monitors in one process.

Each accepted connection gets a :class:`QMPProtocol` that moves bytes
between its transport and a sans-IO :class:`~qmpserver.qmp.session.Session`.
Flow control: reading pauses while the session would not read (QEMU's
suspended monitor) or while the transport's write buffer is above its high
water mark (a client that does not read cannot grow the server).
"""

from __future__ import annotations

import asyncio
import socket

from .endpoint import Admission, cleanup, is_listening, listen_socket, new_session

WRITE_HIGH_WATER = 1 << 20


class AsyncScheduler:
    """Instance scheduler backed by the event loop."""

    def __init__(self, loop):
        self.loop = loop

    def call_later(self, delay, fn):
        return self.loop.call_later(delay, fn)


class QMPProtocol(asyncio.Protocol):
    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.monitor = endpoint.monitor
        self.transport = None
        self.session = None
        self.active = False
        self.write_paused = False
        self.read_paused = False
        self.flush_scheduled = False
        self.pending = bytearray()   # bytes received while waiting for admission
        self.hooks = endpoint.hooks

    # connection -------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        peer = transport.get_extra_info("peername")
        self.session = new_session(self.monitor, str(peer or ""))
        self.session.notify = self.schedule_flush
        self.session.on_resume = lambda: asyncio.get_event_loop().call_soon(self.process)
        self.session.on_delay = lambda d: asyncio.get_event_loop().call_later(d, self.session.resume)
        for h in self.hooks:
            h.on_session(self.session)
        if self.endpoint.admission.arrive(self):
            self.activate()

    def activate(self):
        self.active = True
        data = self.session.connect()
        self.transport.write(data)
        if self.pending:
            data = bytes(self.pending)
            self.pending.clear()
            self.data_received(data)

    def connection_lost(self, exc):
        self.session.disconnect()
        nxt = self.endpoint.admission.leave(self)
        if nxt is not None and nxt.transport is not None and not nxt.transport.is_closing():
            nxt.activate()

    # input -------------------------------------------------------------------

    def data_received(self, data):
        if not self.active:
            self.pending += data
            return
        self.session.receive_data(data)
        self.process()

    def eof_received(self):
        return False

    def process(self):
        s = self.session
        if self.transport is None or self.transport.is_closing():
            return
        s.pump()
        self.flush()
        self.update_reading()

    def update_reading(self):
        t = self.transport
        if t is None or t.is_closing():
            return
        want_pause = self.write_paused or self.session.reading_suspended
        if want_pause and not self.read_paused:
            t.pause_reading()
            self.read_paused = True
        elif not want_pause and self.read_paused:
            t.resume_reading()
            self.read_paused = False

    # output ------------------------------------------------------------------

    def schedule_flush(self):
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_event_loop().call_soon(self._scheduled_flush)

    def _scheduled_flush(self):
        self.flush_scheduled = False
        self.flush()

    def flush(self):
        t = self.transport
        if t is None or t.is_closing():
            return
        data = self.session.take_output()
        if data:
            t.write(data)
        if self.session.closing:
            t.close()

    def pause_writing(self):
        self.write_paused = True
        self.update_reading()

    def resume_writing(self):
        self.write_paused = False
        self.update_reading()
        if self.session.stream.buffered and not self.session.reading_suspended:
            self.process()


class Endpoint:
    """A listening monitor address bound to an asyncio server."""

    def __init__(self, monitor, address, hooks=()):
        self.monitor = monitor
        self.address = address
        self.admission = Admission(monitor)
        self.server = None
        self.hooks = list(hooks)

    async def start(self, loop=None):
        loop = loop or asyncio.get_running_loop()
        addr = self.address
        if addr.kind == "unix-connect":
            await loop.create_unix_connection(lambda: QMPProtocol(self), addr.path)
            return self
        sock = listen_socket(addr)
        if addr.kind == "fd" and not is_listening(sock):
            await loop.connect_accepted_socket(lambda: QMPProtocol(self), sock)
            return self
        if sock.family == socket.AF_UNIX:
            self.server = await loop.create_unix_server(lambda: QMPProtocol(self), sock=sock)
        else:
            self.server = await loop.create_server(lambda: QMPProtocol(self), sock=sock)
        self.monitor.address = str(addr)
        return self

    def close(self):
        if self.server is not None:
            self.server.close()
        for conn in list(self.admission.active) + list(self.admission.waiting):
            if conn.transport is not None:
                conn.flush()
                conn.transport.close()
        cleanup(self.address)
