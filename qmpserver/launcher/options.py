"""QEMU's command-line option table (``qemu-options.def``) as the launcher needs it.

Each option has a flag ``HAS_ARG`` and an architecture mask.  QEMU's first
pass over argv (``lookup_opt`` in ``softmmu/vl.c``) rejects, in this order:

* an unknown name               -> ``-foo: invalid option``
* a missing argument            -> ``-m: requires an argument``
* an option of another target   -> ``-acpitable x: Option not supported for this target``

``--name`` is the same as ``-name``; an argument not starting with ``-`` is
a disk image (``-hda``).  The table was recorded from Debian's
``qemu-system-aarch64`` 7.2 (``-help`` plus every name tried with and without
an argument); options whose presence changed in later releases carry the
version in ``SINCE`` / ``UNTIL``.
"""

from __future__ import annotations

# options that take an argument
_WITH_ARG = """
D L M accel acpitable action add-fd append audio audiodev bios blockdev boot cdrom chardev
chroot compat cpu d debugcon device dfilter display drive dtb dump-vmstate echr fda fdb
fsdev fw_cfg g gdb global hda hdb hdc hdd icount incoming initrd iscsi k kernel loadvm m
machine mem-path mon monitor msg mtdblock name net netdev nic numa object option-rom
overcommit parallel pflash pidfile plugin prom-env qmp qmp-pretty qtest qtest-log readconfig
rotate rtc runas sandbox sd seed semihosting-config serial set smbios smp spice tpmdev trace
usbdevice uuid vga virtfs vnc watchdog-action xen-domid run-with
""".split()

# options without an argument
_NO_ARG = """
S async-teardown audio-help daemonize enable-kvm enable-sync-profile full-screen h help
mem-prealloc no-acpi no-fd-bootchk no-hpet no-reboot no-shutdown no-user-config nodefaults
nographic old-param only-migratable portrait preconfig s semihosting singlestep snapshot usb
version win2k-hack xen-attach xen-domid-restrict
""".split()

# not available for an aarch64 (or arm) target
_OTHER_TARGETS = frozenset(
    """
acpitable g no-fd-bootchk no-hpet prom-env win2k-hack xen-attach xen-domid xen-domid-restrict
""".split()
)

# version ranges, option -> version: only facts checked against a real binary
# belong here; newer builds accept the 7.2 table plus ``run-with``
SINCE = {"run-with": (8, 1, 0)}
UNTIL: dict = {}

TABLE = {name: True for name in _WITH_ARG}
TABLE.update({name: False for name in _NO_ARG})


class Option:
    __slots__ = ("name", "has_arg")

    def __init__(self, name, has_arg):
        self.name = name
        self.has_arg = has_arg


def lookup(name: str, version=(7, 2, 0), target: str = "aarch64"):
    """``(has_arg, supported)`` for an option name (without dashes), or None."""
    has_arg = TABLE.get(name)
    if has_arg is None:
        return None
    lo = SINCE.get(name)
    hi = UNTIL.get(name)
    if (lo is not None and tuple(version) < lo) or (hi is not None and tuple(version) >= hi):
        return None
    supported = not (target in ("aarch64", "arm") and name in _OTHER_TARGETS)
    return has_arg, supported
