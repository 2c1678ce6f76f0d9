"""commands/fd.py sans-IO: getfd/closefd/add-fd/remove-fd/query-fdsets, take_fd, clean-up.

Descriptors are handed to the session as a driver would (``Session.receive_fds``)
before the request's bytes; the QEMU rules are those of QEMU 7.2 monitor/misc.c and
monitor/qmp.c (see the module docstring of qmpserver.commands.fd).
"""

from __future__ import annotations

import json
import os

import pytest

from qmpserver.commands import fd as fdmod
from qmpserver.commands.registry import load_all
from qmpserver.profiles.loader import load_profile
from qmpserver.qmp.session import Session
from qmpserver.startup import start
from qmpserver.vm.config import InstanceConfig

NO_FD = {"error": {"class": "GenericError", "desc": "No file descriptor supplied via SCM_RIGHTS"}}


def err(desc):
    return {"error": {"class": "GenericError", "desc": desc}}


def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def fresh():
    r, w = os.pipe()
    os.close(w)
    return r


def open_fds():
    return len(os.listdir("/proc/self/fd"))


class Client:
    def __init__(self, mon):
        self.s = Session(mon)
        self.s.connect()
        assert self.cmd("qmp_capabilities") == {"return": {}}

    def cmd(self, name, args=None, fds=()):
        if fds:
            self.s.receive_fds(list(fds))
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        self.s.receive_data(json.dumps(msg).encode())
        self.s.pump()
        out = [json.loads(x) for x in self.s.take_output().split(b"\r\n") if x]
        replies = [m for m in out if "event" not in m]
        assert len(replies) == 1, out
        return replies[0]

    def close(self):
        self.s.disconnect()


class VM:
    def __init__(self, paused=False, **cfg):
        load_all()
        cfg.setdefault("machine", {"type": "none"})
        self.inst = start(load_profile("debian-7.2-tcg"), InstanceConfig(start_paused=paused, **cfg))
        self.mon = self.inst.add_monitor()

    def client(self, mon=None):
        return Client(mon or self.mon)


@pytest.fixture
def vm():
    before = open_fds()
    v = VM()
    yield v
    v.inst.terminate("host-qmp-quit")
    assert open_fds() == before  # every descriptor handed over was closed


def test_getfd_stores_replaces_and_closefd_closes(vm):
    c = vm.client()
    assert c.cmd("getfd", {"fdname": "a"}) == NO_FD
    a, b = fresh(), fresh()
    assert c.cmd("getfd", {"fdname": "a"}, [a]) == {"return": {}}
    assert c.cmd("getfd", {"fdname": "a"}, [b]) == {"return": {}}
    assert not is_open(a) and is_open(b)  # the name's old descriptor is closed
    assert c.cmd("closefd", {"fdname": "a"}) == {"return": {}}
    assert not is_open(b)
    assert c.cmd("closefd", {"fdname": "a"}) == err("File descriptor named 'a' not found")


def test_getfd_refuses_a_name_starting_with_a_digit_and_closes_the_descriptor(vm):
    c = vm.client()
    a = fresh()
    assert c.cmd("getfd", {"fdname": "1x"}, [a]) == err(
        "Parameter 'fdname' expects a name not starting with a digit"
    )
    assert not is_open(a)
    e = fresh()
    assert c.cmd("getfd", {"fdname": ""}, [e]) == {"return": {}}  # the empty name is a name
    assert c.cmd("getfd", {"fdname": "x1"}, [fresh()]) == {"return": {}}


def test_a_descriptor_sent_with_another_command_waits_for_the_next_getfd(vm):
    c = vm.client()
    a = fresh()
    assert c.cmd("query-name", None, [a]) == {"return": {}}
    assert c.cmd("getfd", {"fdname": "late"}) == {"return": {}}
    assert fdmod.take_fd(vm.inst, "late", vm.mon) == a
    os.close(a)


def test_names_belong_to_the_monitor_and_outlive_the_connection(vm):
    c = vm.client()
    assert c.cmd("getfd", {"fdname": "m"}, [fresh()]) == {"return": {}}
    c.close()
    c2 = vm.client()
    other = vm.client(vm.inst.add_monitor(label="other"))
    assert other.cmd("closefd", {"fdname": "m"}) == err("File descriptor named 'm' not found")
    assert c2.cmd("closefd", {"fdname": "m"}) == {"return": {}}


def test_take_fd_removes_the_name(vm):
    c = vm.client()
    a = fresh()
    c.cmd("getfd", {"fdname": "migrate"}, [a])
    assert fdmod.take_fd(vm.inst, "nope") is None
    assert fdmod.take_fd(vm.inst, "migrate", vm.inst.add_monitor(label="x")) is None
    assert fdmod.take_fd(vm.inst, "migrate") == a
    assert fdmod.take_fd(vm.inst, "migrate") is None
    assert c.cmd("closefd", {"fdname": "migrate"}) == err("File descriptor named 'migrate' not found")
    assert is_open(a)
    os.close(a)


def test_add_fd_sets_ids_and_query_order(vm):
    c = vm.client()
    a, extra = fresh(), fresh()
    r = c.cmd("add-fd", {"fdset-id": 3, "opaque": "x"}, [a, extra])
    assert r == {"return": {"fdset-id": 3, "fd": a}}
    assert not is_open(extra)  # only the first descriptor of a read is used
    b, d, e = fresh(), fresh(), fresh()
    assert c.cmd("add-fd", {"fdset-id": 3}, [b])["return"] == {"fdset-id": 3, "fd": b}
    assert c.cmd("add-fd", None, [d])["return"] == {"fdset-id": 0, "fd": d}
    assert c.cmd("add-fd", {"opaque": ""}, [e])["return"] == {"fdset-id": 1, "fd": e}
    n = fresh()
    assert c.cmd("add-fd", {"fdset-id": -1}, [n]) == err("Parameter 'fdset-id' expects a non-negative value")
    assert not is_open(n)
    assert c.cmd("add-fd", {"fdset-id": 5}) == NO_FD
    assert c.cmd("query-fdsets") == {
        "return": [
            {"fdset-id": 3, "fds": [{"fd": a, "opaque": "x"}, {"fd": b}]},
            {"fdset-id": 1, "fds": [{"fd": e, "opaque": ""}]},
            {"fdset-id": 0, "fds": [{"fd": d}]},
        ]
    }


def test_remove_fd_while_running_closes(vm):
    c = vm.client()
    a, b, d = fresh(), fresh(), fresh()
    c.cmd("add-fd", {"fdset-id": 1}, [a])
    c.cmd("add-fd", {"fdset-id": 1}, [b])
    c.cmd("add-fd", {"fdset-id": 2}, [d])
    assert c.cmd("remove-fd", {"fdset-id": 1, "fd": 9999}) == err(
        "File descriptor named 'fdset-id:1, fd:9999' not found"
    )
    assert c.cmd("remove-fd", {"fdset-id": 7}) == err("File descriptor named 'fdset-id:7' not found")
    assert c.cmd("remove-fd", {"fdset-id": 7, "fd": a}) == err(
        "File descriptor named 'fdset-id:7, fd:%d' not found" % a
    )
    assert c.cmd("remove-fd", {"fdset-id": 1, "fd": a}) == {"return": {}}
    assert not is_open(a) and is_open(b)
    assert c.cmd("remove-fd", {"fdset-id": 2}) == {"return": {}}
    assert not is_open(d)
    assert c.cmd("query-fdsets") == {"return": [{"fdset-id": 1, "fds": [{"fd": b}]}]}


def test_last_connection_closing_empties_the_sets_while_running(vm):
    c = vm.client()
    a = fresh()
    c.cmd("add-fd", None, [a])
    second = vm.client(vm.inst.add_monitor(label="second"))
    c.close()
    assert is_open(a)  # another monitor connection is still open
    second.close()
    assert not is_open(a)
    assert vm.client().cmd("query-fdsets") == {"return": []}


def test_while_not_running_nothing_is_closed():
    before = open_fds()
    vm = VM(paused=True)
    c = vm.client()
    a = fresh()
    c.cmd("add-fd", {"fdset-id": 0}, [a])
    assert c.cmd("remove-fd", {"fdset-id": 0}) == {"return": {}}
    assert is_open(a)
    assert c.cmd("query-fdsets") == {"return": [{"fdset-id": 0, "fds": [{"fd": a}]}]}  # still listed
    c.close()
    c = vm.client()
    assert c.cmd("query-fdsets")["return"][0]["fds"] == [{"fd": a}]
    assert c.cmd("cont") == {"return": {}}
    c.close()  # running now: the removed member goes
    assert not is_open(a)
    vm.inst.terminate("host-qmp-quit")
    assert open_fds() == before


def test_add_fd_command_line_entries_are_never_closed():
    keep = fresh()
    vm = VM(add_fds=[{"fd": keep, "set": 2, "opaque": "cli"}])
    c = vm.client()
    assert c.cmd("query-fdsets") == {"return": [{"fdset-id": 2, "fds": [{"fd": keep, "opaque": "cli"}]}]}
    c.close()  # running, no connection left: QEMU empties the set
    assert vm.client().cmd("query-fdsets") == {"return": []}
    assert is_open(keep)  # the simulator does not own the number it was given
    vm.inst.terminate("host-qmp-quit")
    assert is_open(keep)
    os.close(keep)


def test_terminate_closes_names_sets_and_pending_descriptors():
    before = open_fds()
    vm = VM()
    c = vm.client()
    a, b, p = fresh(), fresh(), fresh()
    c.cmd("getfd", {"fdname": "n"}, [a])
    c.cmd("add-fd", None, [b])
    c.s.receive_fds([p])  # arrived, never taken
    vm.inst.terminate("host-qmp-quit")
    assert not is_open(a) and not is_open(b)
    c.close()  # the driver's connection_lost
    assert not is_open(p)
    assert open_fds() == before
