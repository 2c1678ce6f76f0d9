"""Monitor endpoints: addresses, sockets and QEMU's one-client-at-a-time rule.

Driver-agnostic: :mod:`qmpserver.net.aio` (asyncio, for ``serve``) and
:mod:`qmpserver.net.sel` (selectors, for the lean launcher) both use it.

Addresses::

    unix:PATH            listen on a unix socket (mode 0600 unless told)
    tcp:HOST:PORT        listen on TCP (PORT 0 = any free port)
    fd:N                 an inherited socket: listening (libvirt) or connected
                         (QEMUMachine's socketpair)
    unix-connect:PATH    connect out to a listening client (QEMU without server=on)

A monitor serves one client at a time, as QEMU does: a second connection is
accepted by the kernel but gets no greeting until the first one closes.
``multi_client`` lifts that for test convenience.
"""

from __future__ import annotations

import os
import socket
import stat

from ..errors import UsageError
from ..qmp.session import Session


class Address:
    def __init__(self, kind, path=None, host=None, port=None, fd=None, mode=0o600):
        self.kind = kind
        self.path = path
        self.host = host
        self.port = port
        self.fd = fd
        self.mode = mode

    def __str__(self):
        if self.kind == "unix":
            return "unix:" + self.path
        if self.kind == "tcp":
            host = self.host
            return "tcp:%s:%s" % ("[%s]" % host if ":" in host else host, self.port)
        if self.kind == "fd":
            return "fd:%d" % self.fd
        return "unix-connect:" + self.path


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
        try:
            st = os.lstat(path)
            if stat.S_ISSOCK(st.st_mode):
                os.unlink(path)   # a stale socket, as QEMU does
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
    if addr.kind == "unix":
        try:
            os.unlink(addr.path)
        except OSError:
            pass


class Admission:
    """Who may talk to a monitor: one active client, the rest wait."""

    def __init__(self, monitor):
        self.monitor = monitor
        self.active = []
        self.waiting = []

    def arrive(self, conn) -> bool:
        """A new connection; True if it becomes active now."""
        if self.monitor.multi_client or not self.active:
            self.active.append(conn)
            return True
        self.waiting.append(conn)
        return False

    def leave(self, conn):
        """A connection closed; returns the waiting one to activate, if any."""
        if conn in self.waiting:
            self.waiting.remove(conn)
            return None
        if conn in self.active:
            self.active.remove(conn)
        if getattr(self.monitor.instance, "terminated", None) is not None:
            return None   # the emulated process has exited: nobody is greeted any more
        if self.waiting and (self.monitor.multi_client or not self.active):
            nxt = self.waiting.pop(0)
            self.active.append(nxt)
            return nxt
        return None


def new_session(monitor, peer="") -> Session:
    return Session(monitor, peer)
