"""The migration stream: QEMU's framing, qmpserver's payloads.

A live migration between two qmpserver instances sends real bytes over the
URI QEMU would use.  The *framing* is QEMU's (``migration/savevm.c`` and
``savevm.h`` of QEMU 7.2, unchanged through 10.0), so a destination reading
it meets QEMU's checks in QEMU's order with QEMU's texts, and a real QEMU
destination fed a qmpserver stream fails the way QEMU fails on a foreign
device (``Unknown savevm section``).  The *payloads* are qmpserver's: RAM is a
size, the CPU is its register list, and the guest ABI travels as JSON.

Layout (all integers big-endian)::

    be32 0x5145564d "QEVM", be32 3                   header
    07  be32 len, machine type                          configuration section
        05 u8 len "configuration/target-page-bits" be32 1, be32 bits
    08  be16 1 (OPEN_RETURN_PATH), be16 0               only with the return-path capability
    08  be16 2 (PING), be16 4, be32 1                   the destination answers PONG(1) (or SHUT(1))
    01  be32 id, u8 len "ram", be32 0, be32 4           RAM: START
        be64 total|MEM_SIZE, {u8 len idstr, be64 size}*, be64 EOS   then 7e be32 id
    ---- switchover (source stopped) ----
    03  be32 id, be64 EOS, 7e be32 id                  RAM: END
    04  be32 id, u8 len "qmpserver/guest-abi", be32 0, be32 1, be32 len, JSON, 7e be32 id
    04  be32 id, u8 len idstr, be32 instance, be32 version, payload, 7e be32 id
                                                        the target's device sections, in QEMU's
                                                        order (arch/<target>/migrate.py; aarch64:
                                                        cpu_common + cpu v22 with the cpreg
                                                        arrays per vCPU, then the GIC)
    00                                                  EOF

The return path (destination to source) carries QEMU's messages: be16 type,
be16 length, data; ``SHUT`` (1) with be32 0 (loaded) or 1 (failed), ``PONG``
(2) with the ping's be32 value.

Loading stops at the first failure, like ``qemu_loadvm_state``: each
:class:`LoadError` has QEMU's ``-errno`` and the lines the destination
prints before ``load of migration failed: <strerror>``.
"""

from __future__ import annotations

import json
import os
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator

MAGIC = 0x5145564D  # "QEVM"
VERSION = 3
V2 = 2

# section types (migration/savevm.h)
EOF, START, PART, END, FULL, SUBSECTION, VMDESC, CONFIGURATION, COMMAND = 0, 1, 2, 3, 4, 5, 6, 7, 8
FOOTER = 0x7E
# QEMU_VM_COMMAND sub-commands (savevm.c enum qemu_vm_cmd)
CMD_OPEN_RETURN_PATH, CMD_PING = 1, 2
# return-path messages (migration.c enum mig_rp_message_type)
RP_SHUT, RP_PONG = 1, 2
# RAM section flags (migration/ram.c)
RAM_MEM_SIZE, RAM_EOS = 0x04, 0x10

PAGE_BITS_SUBSECTION = "configuration/target-page-bits"
ABI_IDSTR = "qmpserver/guest-abi"
ABI_VERSION = 1

EINVAL, EPERM, EIO, ENOENT, ENOTSUP = 22, 1, 5, 2, 95


class LoadError(Exception):
    """The destination refuses the stream: ``errno`` (positive) and the lines it
    reports before ``load of migration failed: <strerror(errno)>``."""

    def __init__(self, errno: int, *lines: str) -> None:
        super().__init__(lines[-1] if lines else os.strerror(errno))
        self.errno = errno
        self.lines = list(lines)

    @property
    def final(self) -> str:
        """``process_incoming_migration_co``'s text (both 7.2 and 10.0)."""
        return "load of migration failed: %s" % os.strerror(self.errno)


# --- writing ------------------------------------------------------------------------------


def _idstr(name: str) -> bytes:
    b = name.encode()
    return struct.pack(">B", len(b)) + b


def header(machine: str, page_bits: int | None) -> bytes:
    """Header and configuration section (``qemu_savevm_state_header``).  The
    target-page-bits subsection only where the page size varies (ARM's
    TARGET_PAGE_BITS_VARY; ppc64 and x86_64 streams have none, as recorded)."""
    name = machine.encode()
    out = struct.pack(">II", MAGIC, VERSION)
    out += bytes([CONFIGURATION]) + struct.pack(">I", len(name)) + name
    if page_bits is not None:
        out += bytes([SUBSECTION]) + _idstr(PAGE_BITS_SUBSECTION) + struct.pack(">II", 1, page_bits)
    return out


def command(cmd: int, data: bytes = b"") -> bytes:
    return bytes([COMMAND]) + struct.pack(">HH", cmd, len(data)) + data


def ping(value: int) -> bytes:
    return command(CMD_PING, struct.pack(">I", value))


def section_start(kind: int, sid: int, idstr: str, instance: int, version: int) -> bytes:
    return bytes([kind]) + struct.pack(">I", sid) + _idstr(idstr) + struct.pack(">II", instance, version)


def section_part(kind: int, sid: int) -> bytes:
    return bytes([kind]) + struct.pack(">I", sid)


def footer(sid: int) -> bytes:
    return bytes([FOOTER]) + struct.pack(">I", sid)


def ram_setup(sid: int, blocks: list[tuple[str, int]]) -> bytes:
    """RAM START: total size and the block list (``ram_save_setup``); no pages."""
    total = sum(size for _, size in blocks)
    out = section_start(START, sid, "ram", 0, 4) + struct.pack(">Q", total | RAM_MEM_SIZE)
    for name, size in blocks:
        out += _idstr(name) + struct.pack(">Q", size)
    return out + struct.pack(">Q", RAM_EOS) + footer(sid)


def ram_complete(sid: int) -> bytes:
    """The footer of the pending iteration (:func:`ram_iteration`), then RAM END."""
    return footer(sid) + section_part(END, sid) + struct.pack(">Q", RAM_EOS) + footer(sid)


def abi_section(sid: int, abi: dict[str, Any], version: int = ABI_VERSION) -> bytes:
    body = json.dumps(abi, sort_keys=True, separators=(",", ":")).encode()
    return section_start(FULL, sid, ABI_IDSTR, 0, version) + struct.pack(">I", len(body)) + body + footer(sid)


def device_section(sid: int, idstr: str, instance: int, version: int, payload: bytes = b"") -> bytes:
    return section_start(FULL, sid, idstr, instance, version) + payload + footer(sid)


def rp_message(kind: int, value: int) -> bytes:
    return struct.pack(">HHI", kind, 4, value)


# --- reading ------------------------------------------------------------------------------


class Reader:
    """Reads with QEMUFile's rules (``migration/qemu-file.c``): a read past the
    end of the stream, or a failing socket, does not raise -- it yields zero
    bytes and sets the file's sticky error (``qemu_file_set_error``, -EIO);
    every later read yields zeros too.  The loader finds the error where QEMU
    looks for it (after a section type byte, in the section footer, after each
    vmstate field), so a stream cut anywhere fails with the text QEMU prints
    for that place (``check_section_footer: Read section footer failed: -5``,
    ``Size mismatch: mach-virt.ram: 0x0 != ...``, or only ``load of migration
    failed: Input/output error``).  ``read(n)`` returns up to n bytes, b"" at
    the end."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self.count = 0
        self.error = 0  # errno of the first failed read (0: none)
        self.pushback: int | None = None  # a byte read ahead (the end of a subsection list)

    def bytes(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n and not self.error:
            try:
                chunk = self._read(n - len(buf))
            except OSError:
                chunk = b""
            if not chunk:
                self.error = EIO
                break
            buf += chunk
        self.count += len(buf)
        return buf + bytes(n - len(buf))

    def check(self, vmsd: str, field: str) -> None:
        """``vmstate_load_state`` after a field: a file error fails the load."""
        if self.error:
            raise LoadError(self.error, "Failed to load %s:%s" % (vmsd, field))

    def u8(self) -> int:
        return self.bytes(1)[0]

    def be16(self) -> int:
        v: int = struct.unpack(">H", self.bytes(2))[0]
        return v

    def be32(self) -> int:
        v: int = struct.unpack(">I", self.bytes(4))[0]
        return v

    def be64(self) -> int:
        v: int = struct.unpack(">Q", self.bytes(8))[0]
        return v

    def idstr(self) -> str:
        """A counted string (``qemu_get_counted_string``); C string semantics."""
        return self.bytes(self.u8()).split(b"\0", 1)[0].decode("latin-1")


class FooterError(LoadError):
    """A section whose payload did not end where the destination's state ends:
    ``check_section_footer`` prints its own line, no "error while loading state"."""


class Section:
    """A START/FULL section as the loader sees it."""

    __slots__ = ("kind", "sid", "idstr", "instance", "version")

    def __init__(self, kind: int, sid: int, idstr: str, instance: int, version: int) -> None:
        self.kind, self.sid, self.idstr, self.instance, self.version = kind, sid, idstr, instance, version


class Handler:
    """What the destination registered for one (idstr, instance): its highest
    version and the function loading a START/FULL (and PART/END) payload.
    ``load(reader, section)`` raises :class:`LoadError` to refuse."""

    __slots__ = ("version", "load", "load_part")

    def __init__(
        self,
        version: int,
        load: Callable[[Reader, Section], None],
        load_part: Callable[[Reader, Section], None] | None = None,
    ) -> None:
        self.version = version
        self.load = load
        self.load_part = load_part


def read_header(r: Reader, local_machine: str, local_page_bits: int) -> None:
    """``qemu_loadvm_state_header`` and the configuration section's checks."""
    magic = r.be32()
    if magic != MAGIC:
        raise LoadError(EINVAL, "Not a migration stream")
    version = r.be32()
    if version == V2:
        raise LoadError(ENOTSUP, "SaveVM v2 format is obsolete and don't work anymore")
    if version != VERSION:
        raise LoadError(ENOTSUP, "Unsupported migration stream version")
    if r.u8() != CONFIGURATION:
        raise LoadError(EINVAL, "Configuration section missing")
    name = r.bytes(r.be32())
    local = local_machine.encode()
    # configuration_post_load: strncmp(received, local, received length)
    if not local.startswith(name):
        raise LoadError(
            EINVAL,
            "Machine type received is '%s' and local is '%s'" % (name.decode("latin-1"), local_machine),
        )
    page_bits = None
    while True:
        nxt = r.u8()
        if nxt != SUBSECTION:
            r.pushback = nxt
            break
        sub = r.idstr()
        r.be32()  # version
        if sub == PAGE_BITS_SUBSECTION:
            page_bits = r.be32()
        else:
            # vmstate_subsection_load: a subsection this binary does not know
            raise LoadError(ENOENT)
    if page_bits is not None and page_bits != local_page_bits:
        raise LoadError(
            EINVAL, "Received TARGET_PAGE_BITS is %d but local is %d" % (page_bits, local_page_bits)
        )


def load(
    r: Reader,
    local_machine: str,
    local_page_bits: int,
    handlers: dict[tuple[str, int], Handler],
    on_command: Callable[[int, bytes], None],
) -> None:
    """``qemu_loadvm_state``: header, then sections until EOF.  Raises LoadError."""
    r.pushback = None
    read_header(r, local_machine, local_page_bits)
    by_id: dict[int, tuple[Section, Handler]] = {}
    while True:
        kind = r.pushback if r.pushback is not None else r.u8()
        r.pushback = None
        if r.error:  # qemu_loadvm_state_main: the file error, nothing printed
            raise LoadError(r.error)
        if kind == EOF:
            return
        if kind in (START, FULL):
            sid = r.be32()
            idstr = r.idstr()
            if r.error:
                raise LoadError(EINVAL, "Unable to read ID string for section %u" % sid)
            instance = r.be32()
            version = r.be32()
            h = handlers.get((idstr, instance))
            if h is None:
                raise LoadError(
                    EINVAL,
                    "Unknown savevm section or instance '%s' %d. Make sure that your current VM setup "
                    "matches your saved VM setup, including any hotplugged devices" % (idstr, instance),
                )
            if version > h.version:
                raise LoadError(
                    EINVAL, "savevm: unsupported version %d for '%s' v%d" % (version, idstr, h.version)
                )
            sec = Section(kind, sid, idstr, instance, version)
            by_id[sid] = (sec, h)
            try:
                h.load(r, sec)
            except FooterError:
                raise
            except LoadError as e:
                e.lines.append(
                    "error while loading state for instance 0x%x of device '%s'" % (instance, idstr)
                )
                raise
            _check_footer(r, sec)
        elif kind in (PART, END):
            sid = r.be32()
            if sid not in by_id:
                raise LoadError(EINVAL, "Unknown savevm section %d" % sid)
            sec, h = by_id[sid]
            try:
                if h.load_part is not None:
                    h.load_part(r, sec)
            except LoadError as e:
                e.lines.append("error while loading state section id %d(%s)" % (sid, sec.idstr))
                raise
            _check_footer(r, sec)
        elif kind == COMMAND:
            cmd, length = r.be16(), r.be16()
            data = r.bytes(length)
            if cmd not in (CMD_OPEN_RETURN_PATH, CMD_PING):
                raise LoadError(EINVAL, "VM_COMMAND 0x%x unknown (len 0x%x)" % (cmd, length))
            on_command(cmd, data)
        else:
            raise LoadError(EINVAL, "Unknown savevm section type %d" % kind)


def _check_footer(r: Reader, sec: Section) -> None:
    """``check_section_footer``."""
    mark = r.u8()
    if r.error:
        raise LoadError(EINVAL, "check_section_footer: Read section footer failed: %d" % -r.error)
    if mark != FOOTER:
        raise LoadError(EINVAL, "Missing section footer for %s" % sec.idstr)
    got = r.be32()
    if got != sec.sid:
        raise LoadError(
            EINVAL,
            "Mismatched section id in footer for %s - read 0x%x expected 0x%x" % (sec.idstr, got, sec.sid),
        )


def read_abi(r: Reader) -> dict[str, Any]:
    """The guest-ABI section's payload (:data:`ABI_IDSTR`)."""
    body = r.bytes(r.be32())
    r.check(ABI_IDSTR, "description")
    try:
        d = json.loads(body)
    except ValueError:
        raise LoadError(EINVAL, "qmpserver: guest ABI section is not JSON") from None
    if not isinstance(d, dict):
        raise LoadError(EINVAL, "qmpserver: guest ABI section is not an object")
    return d


def read_ram_setup(r: Reader) -> Iterator[tuple[str, int]]:
    """RAM START: the block list (``ram_load_precopy`` with RAM_SAVE_FLAG_MEM_SIZE),
    one block at a time: QEMU checks each block as it reads it (an unknown name
    or a size mismatch stops the load before the next block is read)."""
    total = r.be64()
    if not total & RAM_MEM_SIZE:
        raise LoadError(EINVAL, "Unknown combination of migration flags: 0x%x" % (total & 0xFFF))
    total &= ~0xFFF
    while total > 0:
        name = r.idstr()
        size = r.be64()
        yield name, size
        if size == 0:  # cannot happen for a real block; a zero-filled read would loop forever
            raise LoadError(EIO)
        total -= size
    flags = r.be64()
    if r.error:
        raise LoadError(r.error)
    if flags != RAM_EOS:
        raise LoadError(EINVAL, "Unknown combination of migration flags: 0x%x" % (flags & 0xFFF))


def ram_iteration(sid: int) -> bytes:
    """One RAM iteration (PART) up to its EOS, without the footer: what the
    destination has received while the source is ``active`` (QEMU flushes after
    the EOS of each iteration; the footer is written after that flush).  A
    cancel or a failure cuts the stream here; :func:`ram_complete` starts with
    the missing footer."""
    return section_part(PART, sid) + struct.pack(">Q", RAM_EOS)


def read_ram_part(r: Reader) -> None:
    flags = r.be64()
    if flags != RAM_EOS:
        raise LoadError(EINVAL, "Unknown combination of migration flags: 0x%x" % flags)
