"""dump-guest-memory writes an ELF core of the simulated guest (layout and event order
read from Debian's QEMU 7.2 with ``-M virt -cpu max -smp 2``, ``protocol=file:``)."""

from __future__ import annotations

import os
import shutil
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import launcher_testutil as lu  # noqa: E402

ARGS = ["-M", "virt", "-cpu", "max", "-smp", "2", "-display", "none", "-nodefaults"]
RAM = 128 << 20


@pytest.fixture
def tmpd():
    d = lu.short_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _elf(path):
    with open(path, "rb") as f:
        data = f.read(4096)
    assert data[:6] == b"\x7fELF\x02\x01"  # ELF64, little-endian
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    (phoff,) = struct.unpack_from("<Q", data, 32)
    (phnum,) = struct.unpack_from("<H", data, 56)
    phdrs = [struct.unpack_from("<IIQQQQQQ", data, phoff + 56 * i) for i in range(phnum)]
    notes, off = [], phdrs[0][2]
    end = off + phdrs[0][5]
    while off < end:
        namesz, descsz, ntype = struct.unpack_from("<III", data, off)
        name = data[off + 12 : off + 12 + namesz - 1]
        notes.append((name, ntype, descsz))
        off += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return e_type, e_machine, phdrs, notes


def test_dump_guest_memory_elf_core_and_events(tmpd):
    sock, core = os.path.join(tmpd, "m.sock"), os.path.join(tmpd, "core")
    p = lu.spawn(ARGS + ["-qmp", "unix:%s,server=on,wait=off" % sock])
    try:
        assert lu.wait_for(lambda: os.path.exists(sock))
        q = lu.QMP(sock)
        q.cmd("qmp_capabilities")
        assert q.cmd("query-dump")["return"] == {"status": "none", "completed": 0, "total": 0}
        done = {"total": RAM, "status": "completed", "completed": RAM}
        assert q.cmd("dump-guest-memory", {"paging": False, "protocol": "file:" + core, "detach": True}) == {
            "return": {}
        }
        assert q.event("STOP") is not None
        assert q.event("DUMP_COMPLETED")["data"] == {"result": done}
        assert q.event("RESUME") is not None
        assert q.cmd("query-dump")["return"] == done
        assert oct(os.stat(core).st_mode & 0o777) == "0o400"
        e_type, e_machine, phdrs, notes = _elf(core)
        assert (e_type, e_machine) == (4, 183)  # ET_CORE, EM_AARCH64
        assert [ph[0] for ph in phdrs] == [4, 1]  # PT_NOTE, PT_LOAD
        load = phdrs[1]
        assert (load[3], load[5], load[6]) == (0x40000000, RAM, RAM)
        assert os.path.getsize(core) == load[2] + RAM
        assert notes == [(b"CORE", 1, 392), (b"CORE", 2, 528)] * 2
        r = q.cmd("dump-guest-memory", {"paging": True, "protocol": "file:" + core})
        assert r["error"]["desc"] == "qmpserver: dump-guest-memory with paging is not modelled"
        r = q.cmd("dump-guest-memory", {"paging": False, "protocol": "fd:nosuch"})
        assert r["error"]["desc"] == "File descriptor named 'nosuch' has not been found"
        r = q.cmd("dump-guest-memory", {"paging": False, "protocol": "tcp:x"})
        assert r["error"]["desc"] == "Invalid parameter 'protocol'"
    finally:
        p.kill()
        p.wait()
