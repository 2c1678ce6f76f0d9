"""``dump-guest-memory`` and ``query-dump``: an ELF core of the simulated guest.

QEMU 7.2 ``dump/dump.c`` (``qmp_dump_guest_memory``, ``dump_init``,
``dump_process``) and ``target/arm/arch_dump.c``.  Observed on Debian's QEMU 7.2
(``-M virt -cpu max``, 128 MiB, ``protocol=file:``): a running VM is stopped
(STOP, state ``save-vm``), the core written, ``DUMP_COMPLETED`` with
``{"result": {"total": RAM, "status": "completed", "completed": RAM}}``, then
RESUME; with ``detach`` the reply comes first and ``query-dump`` says
``active`` meanwhile, without it the events come before the reply.

The core: an ELF64 little-endian ``ET_CORE`` for ``EM_AARCH64`` with one
``PT_NOTE`` holding, per vCPU, ``NT_PRSTATUS`` (``struct elf_prstatus``, 392
bytes, ``pr_pid`` = vCPU index + 1) and ``NT_FPREGSET`` (``struct
user_fpsimd_state``, 528 bytes), and one ``PT_LOAD`` per RAM block at its guest
physical address.  Registers and RAM are zeros: the simulated guest never ran.
Differences from QEMU's file (documented in docs/launcher.md): no section headers,
no ``NT_ARM_SVE`` note; 32-bit CPU models (ELF32 cores) and ``paging``/``begin``/
``length``/kdump formats are not modelled and answer an error.
"""

from __future__ import annotations

import os
import stat
import struct
import weakref

from ..errors import QMPError
from .fd import GET_FD_NOT_FOUND, take_fd
from .registry import command

EM_AARCH64 = 183
ET_CORE = 4
PT_LOAD, PT_NOTE = 1, 4
NT_PRSTATUS, NT_FPREGSET = 1, 2
PRSTATUS_SIZE = 392  # aarch64 struct elf_prstatus (linux include/uapi/linux/elfcore.h + arm64 user_pt_regs)
PRSTATUS_PID_OFFSET = 32  # pr_pid after pr_info (12), pr_cursig (2 + 2 pad), pr_sigpend, pr_sighold
FPREGSET_SIZE = 528  # struct user_fpsimd_state: 32 x 128-bit + fpsr + fpcr + 8 reserved
#: guest physical base of each RAM block (hw/arm/virt.c base_memmap: VIRT_MEM at 1 GiB;
#: the MTE tag memory is not guest-visible RAM and is not dumped)
RAM_BASE = {"mach-virt.ram": 0x40000000}
#: CPU models of the 7.2 aarch64 build that run in AArch32 (QEMU writes an ELF32 core)
AARCH32_MODELS = frozenset({"cortex-a7", "cortex-a8", "cortex-a9", "cortex-a15"})
AARCH32_PREFIXES = ("arm", "cortex-m", "cortex-r", "pxa", "sa1", "ti9")

_status: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _note(name: bytes, ntype: int, desc: bytes) -> bytes:
    n = name + b"\0"
    pad = lambda b: b + bytes(-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)


def core_image(vcpus: int, blocks: list[tuple[int, int]]) -> tuple[bytes, list[tuple[int, int]]]:
    """-> (ELF header, program headers and notes), [(file offset, size)] of each PT_LOAD."""
    notes = b""
    for i in range(vcpus):
        pr = bytearray(PRSTATUS_SIZE)
        struct.pack_into("<I", pr, PRSTATUS_PID_OFFSET, i + 1)
        notes += _note(b"CORE", NT_PRSTATUS, bytes(pr))
        notes += _note(b"CORE", NT_FPREGSET, bytes(FPREGSET_SIZE))
    phnum = 1 + len(blocks)
    ehdr_size, phdr_size = 64, 56
    note_off = ehdr_size + phnum * phdr_size
    off = note_off + len(notes)
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr += struct.pack(
        "<HHIQQQIHHHHHH", ET_CORE, EM_AARCH64, 1, 0, ehdr_size, 0, 0, ehdr_size, phdr_size, phnum, 0, 0, 0
    )
    phdrs = struct.pack("<IIQQQQQQ", PT_NOTE, 0, note_off, 0, 0, len(notes), len(notes), 0)
    loads = []
    for base, size in blocks:
        phdrs += struct.pack("<IIQQQQQQ", PT_LOAD, 0, off, base, base, size, size, 0)
        loads.append((off, size))
        off += size
    return ehdr + phdrs + notes, loads


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_core(fd: int, vcpus: int, blocks: list[tuple[int, int]]) -> None:
    head, loads = core_image(vcpus, blocks)
    _write_all(fd, head)
    total = sum(size for _, size in loads)
    if stat.S_ISREG(os.fstat(fd).st_mode):
        pos = os.lseek(fd, 0, os.SEEK_CUR)
        os.ftruncate(fd, pos + total)  # RAM of zeros: a sparse region
        os.lseek(fd, pos + total, os.SEEK_SET)
        return
    chunk = bytes(1 << 20)
    while total:
        n = min(total, len(chunk))
        _write_all(fd, chunk[:n])
        total -= n


def _blocks(inst) -> list[tuple[int, int]]:
    from ..migration.engine import _ram_blocks

    return [(RAM_BASE[name], size) for name, size in _ram_blocks(inst) if name in RAM_BASE]


def _not_modelled(what: str) -> QMPError:
    return QMPError("qmpserver: dump-guest-memory %s is not modelled" % what)


@command("dump-guest-memory")
def dump_guest_memory(ctx, args):
    inst = ctx.instance
    st = _status.get(inst)
    if st is not None and st["status"] == "active":
        raise QMPError("There is a dump in process, please wait.")
    if args.get("paging"):
        raise _not_modelled("with paging")
    if args.get("format", "elf") != "elf":
        raise _not_modelled("in format %s" % args["format"])
    if "begin" in args or "length" in args:
        raise _not_modelled("of a range")
    model = inst.abi.cpu_model or ""
    if inst.build.target != "aarch64" or model in AARCH32_MODELS or model.startswith(AARCH32_PREFIXES):
        raise _not_modelled("of a %s guest (%s)" % (inst.build.target, model or "no CPU"))
    proto = args["protocol"]
    if proto.startswith("fd:"):
        fd = take_fd(inst, proto[3:], ctx.session.monitor if ctx.session is not None else None)
        if fd is None:
            raise QMPError(GET_FD_NOT_FOUND % proto[3:])
    elif proto.startswith("file:"):
        try:
            fd = os.open(proto[5:], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400)  # S_IRUSR, as QEMU
        except OSError as e:
            raise QMPError("Could not open '%s': %s" % (proto[5:], e.strerror)) from None
    else:
        raise QMPError("Invalid parameter 'protocol'")
    blocks = _blocks(inst)
    total = sum(size for _, size in blocks)
    vcpus = int((inst.machine.smp or {}).get("cpus") or 1)
    was_running = inst.runstate == "running"
    inst.vm_stop("save-vm")
    _status[inst] = {"status": "active", "completed": 0, "total": total}

    def finish():
        result = {"total": total, "status": "completed", "completed": total}
        try:
            write_core(fd, vcpus, blocks)
        except OSError as e:
            result = {"total": total, "status": "failed", "completed": 0}
            _status[inst] = result
            inst.emit(
                "DUMP_COMPLETED", {"result": result, "error": "dump: failed to save memory: %s" % e.strerror}
            )
        else:
            _status[inst] = result
            inst.emit("DUMP_COMPLETED", {"result": result})
        finally:
            os.close(fd)
        if was_running:
            inst.vm_start()

    if args.get("detach"):
        ctx.defer(finish)
    else:
        finish()


@command("query-dump")
def query_dump(ctx, args):
    st = _status.get(ctx.instance)
    if st is None:
        return {"status": "none", "completed": 0, "total": 0}
    return {"status": st["status"], "completed": st["completed"], "total": st["total"]}
