"""Machine type and accelerator selection, one owner for both.

QEMU picks the machine in ``qemu_create_machine`` (``softmmu/vl.c``:
``select_machine``) and the accelerator in ``configure_accelerators``
(``softmmu/vl.c``: ``do_configure_accelerator``).  The launcher, ``serve``,
the HTTP API and the pytest plugin reach both through the start-up pipeline
(:mod:`qmpserver.startup`); failures raise ``StartupError`` with the message
QEMU prints after ``qemu-system-<arch>: ``.
"""

from __future__ import annotations

from ..errors import StartupError

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any

HINT_MACHINE = "Use -machine help to list supported machines"


class MachineState:
    """The resolved configuration a running instance reports."""

    __slots__ = (
        "type",
        "alias",
        "accel",
        "props",
        "accel_opts",
        "cpu_model",
        "cpu_props",
        "smp",
        "wakeup_suspend",
    )

    def __init__(
        self,
        type_name: str,
        alias: str,
        accel: str | None,
        props: dict[str, Any],
        cpu_model: str | None,
        cpu_props: dict[str, Any],
        smp: dict[str, Any],
    ) -> None:
        self.type = type_name  # canonical machine type, e.g. 'virt-11.1'
        self.alias = alias  # the name it was asked as, e.g. 'virt'
        self.accel = accel  # 'kvm' | 'tcg' | 'qtest' | ...
        self.props = props  # resolved machine properties (qom-get /machine)
        self.accel_opts: dict[str, Any] = {}  # legacy -machine accelerator options (kernel-irqchip ...)
        self.cpu_model = cpu_model
        self.cpu_props = cpu_props
        self.smp = smp  # the complete -smp topology (vm/smp.py)
        # MachineClass::wakeup: only x86 PC boards have a suspend-to-RAM wakeup (set by
        # arch/x86_64/startup.py); every other board has none
        self.wakeup_suspend = False

    @property
    def qom_type(self) -> str:
        return self.type + "-machine"


# QEMU names the machine it did not find from this version on (select_machine): measured,
# Debian's 7.2 prints ``unsupported machine type``, Debian's 10.0 ``unsupported machine type:
# "pseries-2.12"``; the release in between that changed it is not pinned down
MACHINE_NAMED_SINCE = (10, 0)


def unsupported_machine(build: Any, name: str) -> str:
    if tuple(build.version[:2]) >= MACHINE_NAMED_SINCE:
        return 'unsupported machine type: "%s"' % name
    return "unsupported machine type"


def select_machine(build: Any, requested: str | None, default: str | None) -> tuple[str, str]:
    """``select_machine``: (canonical type, the name asked for) or StartupError.

    ``default`` is what the front end uses when nothing was asked: the build's
    own default machine for the launcher (none on aarch64, like QEMU), the
    profile's default for ``serve`` and the API."""
    mtype = requested or default
    if not mtype:
        raise StartupError("No machine specified, and there is no default\n" + HINT_MACHINE)
    canonical = build.canonical_machine(mtype)
    if canonical is None:
        raise StartupError(unsupported_machine(build, mtype) + "\n" + HINT_MACHINE)
    return canonical, mtype


# --- accelerators ----------------------------------------------------------------------------

# properties of each accelerator QOM type (-accel NAME,prop=...), QEMU 7.2
ACCEL_PROPS = {
    "tcg": ("thread", "tb-size", "split-wx", "one-insn-per-tb"),
    "kvm": (
        "kernel-irqchip",
        "kvm-shadow-mem",
        "dirty-ring-size",
        "eager-split-size",
        "notify-vmexit",
        "notify-window",
        "xen-version",
        "xen-gnttab-max-frames",
        "xen-evtchn-max-pirq",
        "device",
        "honor-guest-pat",
    ),
    "qtest": (),
}

# texts of do_configure_accelerator / accel_init_machine failures
INVALID = "invalid accelerator %s"
NO_KVM_MODULE = "Could not access KVM kernel module: No such file or directory"
INIT_FAILED = "failed to initialize %s: No such file or directory"
NOT_AVAILABLE = "%s accelerator not available"
FALLING_BACK = "falling back to %s"


def accel_available(build: Any, host: Any, accel: str) -> bool:
    """Whether ``accel`` initializes: the build has it and, for KVM, the host has
    ``/dev/kvm`` and can run the build's target."""
    if accel not in build.accelerators:
        return False
    if accel == "kvm":
        return bool(host.kvm_present) and host.arch_can_run_kvm(build.target)
    return True


def default_accelerators(build: Any, prog: str = "") -> tuple[str, ...]:
    """The accelerators QEMU tries when none is given: tcg then kvm, or kvm then
    tcg when the binary's name ends in ``kvm``."""
    have_tcg, have_kvm = "tcg" in build.accelerators, "kvm" in build.accelerators
    if have_tcg and have_kvm:
        return ("kvm", "tcg") if prog.endswith("kvm") else ("tcg", "kvm")
    if have_kvm:
        return ("kvm",)
    if have_tcg:
        return ("tcg",)
    return ()


def choose_accel(build: Any, host: Any, wanted: list[str]) -> tuple[str, list[str]]:
    """First usable accelerator of ``wanted`` for ``serve``/the API/the plugin,
    with the warnings of the ones that failed; StartupError when none works."""
    warnings: list[str] = []
    for i, accel in enumerate(wanted):
        if accel_available(build, host, accel):
            return accel, warnings
        known = accel in build.accelerators
        if not known:
            msg = INVALID % accel
        else:
            msg = NO_KVM_MODULE if accel == "kvm" else NOT_AVAILABLE % accel
        if i + 1 < len(wanted):
            warnings.extend([msg, FALLING_BACK % wanted[i + 1]])
        else:
            raise StartupError(msg if not known else INIT_FAILED % accel, warnings + ([msg] if known else []))
    raise StartupError("no accelerator found")
