"""What an instance is asked to be: the parsed form of a QEMU command line.

The launcher, ``qmpserver serve`` and the HTTP API all build an
``InstanceConfig`` and hand it to :class:`qmpserver.vm.instance.Instance`,
which validates it (one place owns each rule) and raises ``StartupError``
with QEMU's message when QEMU would refuse to start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..qapi.visitor import Policy


@dataclass
class GuestBehaviour:
    """The simulated guest OS (there is none; this is what it would do)."""

    acpi: bool = True               # shuts down when the ACPI power button is pressed
    powerdown_delay: float = 0.05   # seconds between POWERDOWN and its SHUTDOWN


@dataclass
class InstanceConfig:
    name: str | None = None
    uuid: str | None = None
    machine: dict = field(default_factory=dict)     # merged -machine options; 'type' is the machine
    accel: list = field(default_factory=list)       # accelerators to try in order, e.g. ['kvm', 'tcg']
    accel_props: dict = field(default_factory=dict)
    cpu: str | None = None                          # -cpu model
    cpu_props: dict = field(default_factory=dict)   # -cpu model,prop=value,...
    smp: dict = field(default_factory=dict)
    memory: int = 128 << 20
    start_paused: bool = False                      # -S
    no_shutdown: bool = False                       # -no-shutdown
    preconfig: bool = False                         # --preconfig
    incoming: str | None = None                     # -incoming URI
    compat: Policy = field(default_factory=Policy)
    guest: GuestBehaviour = field(default_factory=GuestBehaviour)
    devices: list = field(default_factory=list)     # -device option dicts
    objects: list = field(default_factory=list)     # -object option dicts
    options: list = field(default_factory=list)     # every option as given, for the record
    warnings: list = field(default_factory=list)    # start-up warnings printed to stderr
