"""asyncio driver: serves many instances and monitors in one process.

Each accepted connection gets a :class:`QMPProtocol`, the asyncio side of a
:class:`~qmpserver.net.endpoint.Connection` (which holds the session and the
logic both drivers share).  Write pressure comes from the transport: above
its high-water mark asyncio calls ``pause_writing`` and reading stops, so a
client that does not read cannot grow the server.
"""

from __future__ import annotations

import asyncio
import socket

from .endpoint import Connection, Listener, cleanup, is_listening, listen_socket

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
        self.server: asyncio.AbstractServer | None = None

    async def start(self, loop: asyncio.AbstractEventLoop | None = None) -> Endpoint:
        loop = loop or asyncio.get_running_loop()
        addr = self.address
        if addr.kind == "unix-connect":
            assert addr.path is not None
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

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self.admission.active) + list(self.admission.waiting):
            assert isinstance(conn, QMPProtocol)
            conn.shutdown()
        cleanup(self.address)
