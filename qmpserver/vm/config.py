"""What an instance is asked to be: the parsed form of a QEMU command line.

The launcher, ``qmpserver serve`` and the HTTP API all build an
``InstanceConfig`` and hand it to :class:`qmpserver.vm.instance.Instance`,
which validates it (one place owns each rule) and raises ``StartupError``
with QEMU's message when QEMU would refuse to start.

(Plain classes rather than dataclasses: importing ``dataclasses`` costs ~7 ms
of the launcher's start-up.)
"""

from __future__ import annotations

from ..qapi.visitor import Policy


class GuestBehaviour:
    """The simulated guest OS (there is none; this is what it would do)."""

    __slots__ = ("acpi", "powerdown_delay")

    def __init__(self, acpi: bool = True, powerdown_delay: float = 0.05):
        self.acpi = acpi                        # shuts down when the ACPI power button is pressed
        self.powerdown_delay = powerdown_delay  # seconds between POWERDOWN and its SHUTDOWN

    def as_dict(self) -> dict:
        return {"acpi": self.acpi, "powerdown_delay": self.powerdown_delay}

    def __repr__(self):
        return "GuestBehaviour(%r, %r)" % (self.acpi, self.powerdown_delay)


class InstanceConfig:
    FIELDS = {
        "name": None, "uuid": None,
        "machine": dict,        # merged -machine options; 'type' is the machine
        "accel": list,          # accelerators to try in order, e.g. ['kvm', 'tcg']
        "accel_props": dict,
        "cpu": None,            # -cpu model
        "cpu_props": dict,      # -cpu model,prop=value,...
        "smp": dict,
        "memory": 128 << 20,
        "start_paused": False,  # -S
        "no_shutdown": False,   # -no-shutdown
        "preconfig": False,     # --preconfig
        "incoming": None,       # -incoming URI
        "compat": Policy,
        "guest": GuestBehaviour,
        "devices": list,        # -device option dicts
        "objects": list,        # -object option dicts
        "options": list,        # every option as given, for the record
        "warnings": list,       # start-up warnings printed to stderr
    }

    def __init__(self, **kw):
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

    def __repr__(self):
        return "InstanceConfig(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.FIELDS)
