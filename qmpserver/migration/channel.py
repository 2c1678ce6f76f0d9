"""Migration channels: the URIs QEMU accepts, as real sockets, pipes and processes.

Outgoing (``migration/socket.c``, ``exec.c``, ``fd.c`` of QEMU 7.2):
``tcp:HOST:PORT``, ``unix:PATH`` (connect), ``exec:CMD`` (``/bin/sh -c CMD``
with the stream on its standard input), ``fd:NAME`` (a descriptor the monitor
received with ``getfd``, or a number).  Incoming: ``tcp:HOST:PORT`` and
``unix:PATH`` listen and accept one connection, ``exec:CMD`` reads the
command's standard output, ``fd:N`` reads a descriptor.

The channel is blocking and used from one migration thread; ``abort()`` from
another thread (cancel, instance exit) makes its reads and writes fail.
"""

from __future__ import annotations

import os
import socket
import subprocess

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


class ChannelError(Exception):
    """Opening a channel failed; the text is QEMU's (``Failed to connect to ...``)."""


class Channel:
    """A connected migration stream: ``write``, ``read`` (the return path) and ``close``."""

    def __init__(
        self,
        sock: socket.socket | None = None,
        rfile: int | None = None,
        wfile: int | None = None,
        proc: subprocess.Popen[bytes] | None = None,
    ) -> None:
        self.sock = sock
        self.rfd = rfile
        self.wfd = wfile
        self.proc = proc
        self.closed = False

    @property
    def bidirectional(self) -> bool:
        return self.sock is not None

    def write(self, data: bytes) -> None:
        if self.sock is not None:
            self.sock.sendall(data)
        elif self.wfd is not None:
            view = memoryview(data)
            while view:
                n = os.write(self.wfd, view)
                view = view[n:]
        else:
            raise OSError(9, "Bad file descriptor")

    def read(self, n: int) -> bytes:
        if self.sock is not None:
            return self.sock.recv(n)
        if self.rfd is not None:
            return os.read(self.rfd, n)
        return b""

    def shutdown_write(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        elif self.wfd is not None:
            os.close(self.wfd)
            self.wfd = None

    def abort(self) -> None:
        """Make blocked reads/writes return (from another thread)."""
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.sock is not None:
            self.sock.close()
        for fd in (self.rfd, self.wfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.rfd = self.wfd = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _tcp_host_port(rest: str) -> tuple[str, int, str]:
    where = rest.split(",")[0]
    if where.startswith("["):
        host, _, port = where[1:].partition("]:")
    else:
        host, _, port = where.rpartition(":")
    try:
        return host, int(port), where
    except ValueError:
        raise ChannelError("Failed to parse address '%s'" % where) from None


def connect(uri: str, take_fd: Callable[[str], int | None]) -> Channel:
    """Open the outgoing channel of ``uri`` (blocking)."""
    if uri.startswith("tcp:"):
        host, port, where = _tcp_host_port(uri[4:])
        try:
            s = socket.create_connection((host or "127.0.0.1", port), timeout=5)
        except OSError as e:
            raise ChannelError("Failed to connect to '%s': %s" % (where, e.strerror or e)) from None
        s.settimeout(None)
        return Channel(sock=s)
    if uri.startswith("unix:"):
        path = uri[5:].split(",")[0]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except OSError as e:
            s.close()
            raise ChannelError("Failed to connect to '%s': %s" % (path, e.strerror or e)) from None
        return Channel(sock=s)
    if uri.startswith("exec:"):
        proc = subprocess.Popen(
            ["/bin/sh", "-c", uri[5:]], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, close_fds=True
        )
        assert proc.stdin is not None
        wfd = os.dup(proc.stdin.fileno())
        proc.stdin.close()
        return Channel(wfile=wfd, proc=proc)
    if uri.startswith("fd:"):
        return fd_channel(uri[3:], take_fd)
    raise ChannelError("unknown migration protocol: %s" % uri)


def fd_channel(name: str, take_fd: Callable[[str], int | None]) -> Channel:
    fd = take_fd(name)
    if fd is None:
        if name.isdigit():
            fd = os.dup(int(name))
        else:
            raise ChannelError("File descriptor named '%s' has not been found" % name)
    try:
        s = socket.socket(fileno=fd)
    except OSError:
        return Channel(rfile=fd, wfile=os.dup(fd))
    s.setblocking(True)
    return Channel(sock=s)


class Listener:
    """The incoming side before a source connects (``-incoming`` / ``migrate-incoming``)."""

    def __init__(self, uri: str, take_fd: Callable[[str], int | None]) -> None:
        self.uri = uri
        self.sock: socket.socket | None = None
        self.ready: Channel | None = None
        self.path: str | None = None
        if uri.startswith("tcp:"):
            host, port, _ = _tcp_host_port(uri[4:])
            host = host or "0.0.0.0"
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
                s.listen(1)
            except OSError as e:
                s.close()
                raise ChannelError("Failed to bind socket: %s" % (e.strerror or e)) from None
            self.sock = s
        elif uri.startswith("unix:"):
            self.path = uri[5:].split(",")[0]
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                if os.path.exists(self.path):
                    os.unlink(self.path)
                s.bind(self.path)
                s.listen(1)
            except OSError as e:
                s.close()
                raise ChannelError("Failed to bind socket to %s: %s" % (self.path, e.strerror or e)) from None
            self.sock = s
        elif uri.startswith("exec:"):
            proc = subprocess.Popen(
                ["/bin/sh", "-c", uri[5:]], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, close_fds=True
            )
            assert proc.stdout is not None
            rfd = os.dup(proc.stdout.fileno())
            proc.stdout.close()
            self.ready = Channel(rfile=rfd, proc=proc)
        elif uri.startswith("fd:"):
            try:
                self.ready = fd_channel(uri[3:], take_fd)
            except ChannelError:
                raise
        else:
            raise ChannelError("unknown migration protocol: %s" % uri)

    def socket_address(self) -> dict[str, Any] | None:
        """The listening address as ``query-migrate`` reports it on a destination
        (``socket-address``, a SocketAddress: QEMU keeps the list from listen until
        the incoming state is destroyed)."""
        if self.sock is None:
            return None
        if self.sock.family == socket.AF_UNIX:
            return {"type": "unix", "path": self.path}
        host, port = self.sock.getsockname()[:2]
        six = self.sock.family == socket.AF_INET6
        return {"type": "inet", "host": host, "port": str(port), ("ipv6" if six else "ipv4"): True}

    @property
    def port(self) -> int | None:
        if self.sock is not None and self.sock.family in (socket.AF_INET, socket.AF_INET6):
            port: int = self.sock.getsockname()[1]
            return port
        return None

    def accept(self) -> Channel | None:
        """Block until the source connects (None once closed)."""
        if self.ready is not None:
            ch, self.ready = self.ready, None
            return ch
        if self.sock is None:
            return None
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return None
        conn.setblocking(True)
        self.close()  # QEMU accepts one connection and stops listening
        return Channel(sock=conn)

    def close(self) -> None:
        if self.sock is not None:
            s, self.sock = self.sock, None
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
            if self.path:
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
        if self.ready is not None:
            self.ready.close()
            self.ready = None
