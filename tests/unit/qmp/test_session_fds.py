"""Session.receive_fds / take_fd / disconnect: the descriptors a connection received
(QEMU chardev/char-socket.c: tcp_chr_recv, tcp_get_msgfds, tcp_chr_free_connection)."""

from __future__ import annotations

import os

from qmpserver.qmp.session import Session


class Mon:
    pretty = False
    oob = True

    def greeting(self):
        return {"QMP": {}}

    def command_table(self):
        raise AssertionError("not used")

    def attach(self, session):
        pass

    def detach(self, session):
        pass


def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def fresh(n):
    fds = []
    for _ in range(n):
        r, w = os.pipe()
        os.close(w)
        os.set_blocking(r, False)
        fds.append(r)
    return fds


def test_take_fd_hands_over_the_first_and_closes_the_others():
    s = Session(Mon())
    a, b, c = fresh(3)
    s.receive_fds([a, b, c])
    assert s.take_fd() == a
    assert is_open(a) and not is_open(b) and not is_open(c)
    assert s.take_fd() is None
    os.close(a)


def test_a_read_with_descriptors_replaces_the_untaken_ones():
    s = Session(Mon())
    a, b = fresh(2)
    s.receive_fds([a])
    s.receive_fds([b])
    assert not is_open(a)
    assert s.take_fd() == b
    os.close(b)


def test_received_descriptors_are_put_in_blocking_mode():
    s = Session(Mon())
    (a,) = fresh(1)
    assert not os.get_blocking(a)
    s.receive_fds([a])
    assert os.get_blocking(a)
    s.disconnect()


def test_disconnect_closes_what_nobody_took_even_before_the_greeting():
    s = Session(Mon())  # a client waiting for admission: never connected
    a, b = fresh(2)
    s.receive_fds([a, b])
    s.disconnect()
    assert not is_open(a) and not is_open(b)
    assert s.fds == []
