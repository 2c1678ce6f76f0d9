"""SCM_RIGHTS over the asyncio driver (``serve``, in this process): descriptors a client
passes on a unix-socket monitor reach getfd/add-fd, and none is left open afterwards.

The server runs in this process, so the descriptor numbers it reports are ours:
``os.fstat`` tells whether they are the files the client sent.
"""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from qmpserver.commands import fd as fdmod
from tests.support.mock import MockServer


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def settle(expected, timeout=5.0):
    end = time.monotonic() + timeout
    while open_fds() != expected and time.monotonic() < end:
        time.sleep(0.01)
    return open_fds()


def same_file(a, b):
    sa, sb = os.fstat(a), os.fstat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


class Client:
    def __init__(self, path, greet=True):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.buf = b""
        if greet:
            assert "QMP" in self.read()
            assert self.cmd("qmp_capabilities") == {"return": {}}

    def read(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return json.loads(line)

    def send(self, obj, fds=()):
        data = json.dumps(obj).encode()
        if fds:
            socket.send_fds(self.sock, [data], list(fds))
        else:
            self.sock.sendall(data)

    def cmd(self, name, args=None, fds=()):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        self.send(msg, fds)
        while True:
            m = self.read()
            if "event" not in m:
                return m

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def server():
    srv = MockServer()
    srv.start()
    yield srv
    srv.close()


def test_getfd_and_add_fd_receive_the_clients_descriptors(server):
    base = open_fds()
    inst, path = server.instance(start_paused=False, machine={"type": "none"})
    before = open_fds()
    c = Client(path)
    r, w = os.pipe()
    assert c.cmd("getfd", {"fdname": "migrate"}, [w]) == {"return": {}}
    names = server.call(lambda: dict(inst.backends.fdnames[inst.monitors[0]]))
    assert same_file(names["migrate"], w)
    got = server.call(lambda: fdmod.take_fd(inst, "migrate", inst.monitors[0]))
    os.write(got, b"x")  # the descriptor is the pipe's write end
    assert os.read(r, 1) == b"x"
    os.close(got)
    reply = c.cmd("add-fd", {"fdset-id": 4, "opaque": "rw"}, [r])["return"]
    assert reply["fdset-id"] == 4 and same_file(reply["fd"], r)
    assert c.cmd("query-fdsets") == {
        "return": [{"fds": [{"fd": reply["fd"], "opaque": "rw"}], "fdset-id": 4}]
    }
    assert c.cmd("getfd", {"fdname": "x"}) == {
        "error": {"class": "GenericError", "desc": "No file descriptor supplied via SCM_RIGHTS"}
    }
    os.close(r)
    os.close(w)
    c.close()  # running and the last connection: the set is emptied, its descriptor closed
    assert settle(before) == before
    server.call(lambda: server.server.remove_instance(inst.id))
    assert settle(base) == base


def test_descriptors_nobody_takes_are_closed(server):
    base = open_fds()
    inst, path = server.instance(start_paused=True, machine={"type": "none"})
    before = open_fds()
    c = Client(path)
    waiting = Client(path, greet=False)  # a second client waits for admission
    fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
    waiting.send({"execute": "qmp_capabilities"}, fds[:1])
    assert c.cmd("query-name", None, fds[1:]) == {"return": {}}  # two arrive, none is taken
    c.cmd("getfd", {"fdname": "kept"}, fds[:1])
    c.cmd("getfd", {"fdname": "kept"}, fds[1:2])  # replaces: the first copy is closed
    for fd in fds:
        os.close(fd)
    waiting.close()
    c.close()
    # only the named one is still held; the instance's end closes it
    assert settle(before + 1) == before + 1
    server.call(lambda: server.server.remove_instance(inst.id))
    assert settle(base) == base


def test_unix_monitors_read_with_recvmsg_tcp_keeps_the_asyncio_transport(server):
    from qmpserver.net.aio import QMPProtocol, UnixConnection
    from qmpserver.vm.config import InstanceConfig

    path = os.path.join(server.socket_dir, "both.sock")
    inst = server.call(
        server.server.create_instance(
            "debian-7.2-tcg", InstanceConfig(start_paused=True), ["unix:" + path, "tcp:127.0.0.1:0"]
        )
    )
    _, endpoints = server.server.instances[inst.id]
    port = endpoints[1].lsock.getsockname()[1]
    u = Client(path)
    t = socket.create_connection(("127.0.0.1", port), timeout=5)
    tc = Client.__new__(Client)
    tc.sock, tc.buf = t, b""
    assert "QMP" in tc.read()
    assert tc.cmd("qmp_capabilities") == {"return": {}}
    assert tc.cmd("getfd", {"fdname": "x"})["error"]["desc"] == "No file descriptor supplied via SCM_RIGHTS"
    kinds = server.call(lambda: [type(c) for ep in endpoints for c in ep.admission.active])
    assert kinds == [UnixConnection, QMPProtocol]
    u.close()
    tc.close()
    server.call(lambda: server.server.remove_instance(inst.id))
