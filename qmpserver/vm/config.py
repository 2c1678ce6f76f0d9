"""What an instance is asked to be: the parsed form of a QEMU command line.

The launcher, ``qmpserver serve``, the HTTP API and the pytest plugin all
build an ``InstanceConfig`` and hand it to the start-up pipeline
(:func:`qmpserver.startup.start`), which validates it in QEMU's order (one
place owns each rule) and raises ``StartupError`` with QEMU's message when
QEMU would refuse to start.

The backend lists (``chardevs`` aside, which only the launcher creates, as
sockets) take either option dicts or, from the launcher, tuples that carry
the command-line location for error messages: ``blockdevs`` ``(opts, loc)``,
``objects`` ``(opts, loc)``, ``netdevs`` ``(opts, loc, legacy)``, ``devices``
``(opts, loc, json_form)``.

(Plain classes rather than dataclasses: importing ``dataclasses`` costs ~7 ms
of the launcher's start-up.)
"""

from __future__ import annotations

from ..qapi.visitor import Policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


NO_UUID = "00000000-0000-0000-0000-000000000000"
"""What ``query-uuid`` and ``info uuid`` answer when no ``-uuid`` was given (QEMU's
``qemu_uuid`` starts zeroed and only ``-uuid`` sets it; system/vl.c)."""


def parse_uuid(text: str) -> str:
    """``-uuid``: the 8-4-4-4-12 hexadecimal form only (``qemu_uuid_parse``), in lower case
    as QEMU prints it; ValueError with QEMU's text otherwise. The launcher, ``serve --uuid``
    and the HTTP API's ``uuid`` share this rule."""
    ok = len(text) == 36 and all(
        c == "-" if i in (8, 13, 18, 23) else c in "0123456789abcdefABCDEF" for i, c in enumerate(text)
    )
    if not ok:
        raise ValueError("failed to parse UUID string: wrong format")
    return text.lower()


#: the environment variable that turns strict mode on where the configuration comes from a
#: command line (the launcher, whose command line is QEMU's, and ``serve``)
STRICT_ENV = "QMPSERVER_STRICT"


_STRICT_WORDS = {
    "1": True,
    "yes": True,
    "on": True,
    "true": True,
    "": False,
    "0": False,
    "no": False,
    "off": False,
    "false": False,
}


def strict_from_env(environ: Any = None) -> bool:
    """Whether ``$QMPSERVER_STRICT`` asks for strict mode: ``1``, ``yes``, ``on`` or ``true``
    (any case); unset, empty, ``0``, ``no``, ``off`` or ``false`` is off.  Any other value is a
    ValueError: a typo must not leave strict mode silently off."""
    import os

    env = os.environ if environ is None else environ
    raw = env.get(STRICT_ENV, "")
    word = _STRICT_WORDS.get(raw.strip().lower())
    if word is None:
        raise ValueError(
            "$%s=%r: expected 1, yes, on, true (strict) or 0, no, off, false" % (STRICT_ENV, raw)
        )
    return word


class GuestBehaviour:
    """The simulated guest OS (there is none; this is what it would do)."""

    __slots__ = ("acpi", "powerdown_delay")

    def __init__(self, acpi: bool = True, powerdown_delay: float = 0.05) -> None:
        self.acpi = acpi  # shuts down when the ACPI power button is pressed
        self.powerdown_delay = powerdown_delay  # seconds between POWERDOWN and its SHUTDOWN

    def as_dict(self) -> dict[str, Any]:
        return {"acpi": self.acpi, "powerdown_delay": self.powerdown_delay}

    def __repr__(self) -> str:
        return "GuestBehaviour(%r, %r)" % (self.acpi, self.powerdown_delay)


class InstanceConfig:
    # the fields' types, for the checker (__init__ sets them from FIELDS)
    name: str | None
    uuid: str | None
    machine: dict[str, Any]
    accel: list[str]
    accel_props: dict[str, Any]
    cpu: str | None
    cpu_props: dict[str, Any]
    smp: dict[str, Any]
    boot: dict[str, Any]
    memory: int
    maxmem: int | None
    slots: int
    start_paused: bool
    no_shutdown: bool
    panic_action: str
    preconfig: bool
    incoming: str | None
    compat: Policy
    guest: GuestBehaviour
    blockdevs: list[Any]
    objects: list[Any]
    netdevs: list[Any]
    devices: list[Any]
    add_fds: list[dict[str, Any]]
    globals: list[tuple[str, str, str]]
    display: dict[str, Any] | None
    options: list[tuple[str, str]]
    warnings: list[str]
    strict: bool
    spawn_denied: bool

    FIELDS: dict[str, object] = {
        "name": None,
        "uuid": None,
        "machine": dict,  # merged -machine options; 'type' is the machine
        "accel": list,  # accelerators to try in order, e.g. ['kvm', 'tcg']
        "accel_props": dict,
        "cpu": None,  # -cpu model
        "cpu_props": dict,  # -cpu model,prop=value,...
        "smp": dict,  # -smp options (strings or ints); completed by the pipeline
        "boot": dict,  # -boot / -machine boot.* options
        "memory": 128 << 20,  # -m size (bytes)
        "maxmem": None,  # -m maxmem (bytes; None: the ram size)
        "slots": 0,  # -m slots
        "start_paused": False,  # -S
        "no_shutdown": False,  # -no-shutdown
        "panic_action": "shutdown",  # -action panic= / set-action (PanicAction: shutdown, pause, none, exit-failure)
        "preconfig": False,  # --preconfig
        "incoming": None,  # -incoming URI
        "compat": Policy,
        "guest": GuestBehaviour,
        "blockdevs": list,  # -blockdev options
        "objects": list,  # -object options
        "netdevs": list,  # -netdev / -net options
        "devices": list,  # -device options
        "add_fds": list,  # -add-fd option dicts (fd, set, opaque)
        "globals": list,  # -global (driver, property, value)
        "display": None,  # -display / -vnc: DisplayOptions dict
        "options": list,  # every option as given, for the record
        "warnings": list,  # start-up warnings printed to stderr
        # a command no model and no recording answers is an error, not its type's default
        # (serve --strict, QMPSERVER_STRICT=1, the API's "strict"; qmp/dispatch.py)
        "strict": False,
        # -sandbox on,spawn=deny (launcher only): forking a helper kills the process
        # (Instance.before_spawn)
        "spawn_denied": False,
    }

    def __init__(self, **kw: object) -> None:
        for name, default in self.FIELDS.items():
            if name in kw:
                value = kw.pop(name)
            elif callable(default):
                value = default()
            else:
                value = default
            setattr(self, name, value)
        if kw:
            raise TypeError("unknown InstanceConfig field(s): %s" % ", ".join(sorted(kw)))

    def __repr__(self) -> str:
        return "InstanceConfig(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.FIELDS)
