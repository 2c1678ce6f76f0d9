"""Resolve the machine, accelerator and CPU of an instance.

Start-up rules and texts come from QEMU; failures raise ``StartupError``
with the message QEMU prints after ``qemu-system-<arch>: ``.
"""

from __future__ import annotations

from ..errors import StartupError


class MachineState:
    """The resolved configuration a running instance reports."""

    def __init__(self, type_name, alias, accel, props, cpu_model, cpu_props, smp):
        self.type = type_name            # canonical machine type, e.g. 'virt-11.1'
        self.alias = alias               # the name it was asked as, e.g. 'virt'
        self.accel = accel               # 'kvm' | 'tcg' | 'qtest' | ...
        self.props = props               # resolved machine properties (qom-get /machine)
        self.cpu_model = cpu_model
        self.cpu_props = cpu_props
        self.smp = smp

    @property
    def qom_type(self) -> str:
        return self.type + "-machine"


def _accel_available(instance, accel: str) -> bool:
    build, host = instance.build, instance.host
    if accel not in build.accelerators:
        return False
    if accel == "kvm":
        return bool(host.kvm_present) and host.arch_can_run_kvm(build.target)
    return True


def choose_accel(instance) -> tuple[str, list]:
    """Pick the accelerator like QEMU: first usable of the list; warnings."""
    wanted = instance.config.accel or [instance.profile.defaults.get("accel", "tcg")]
    warnings = []
    for i, accel in enumerate(wanted):
        if _accel_available(instance, accel):
            return accel, warnings
        if accel not in instance.build.accelerators:
            msg = "invalid accelerator %s" % accel
        else:
            msg = "Could not access KVM kernel module: No such file or directory"
            if accel != "kvm":
                msg = "%s accelerator not available" % accel
        if i + 1 < len(wanted):
            warnings.extend([msg, "falling back to %s" % wanted[i + 1]])
        else:
            raise StartupError(msg if accel not in instance.build.accelerators
                               else "failed to initialize %s: No such file or directory" % accel,
                               warnings + ([msg] if accel in instance.build.accelerators else []))
    raise StartupError("no accelerator found")


def resolve(instance) -> MachineState:
    cfg = instance.config
    build = instance.build
    mtype = cfg.machine.get("type") or instance.profile.defaults.get("machine")
    if not mtype:
        raise StartupError("No machine specified, and there is no default\n"
                           "Use -machine help to list supported machines")
    canonical = build.canonical_machine(mtype)
    if canonical is None:
        raise StartupError("unsupported machine type\nUse -machine help to list supported machines")
    # QEMU creates no CPU for -machine none (libvirt's probe) unless -cpu is given
    cpu = cfg.cpu or (instance.profile.defaults.get("cpu") if canonical != "none" else None)
    props = {k: v for k, v in cfg.machine.items() if k not in ("type", "accel")}
    state = MachineState(canonical, mtype, None, props, cpu, dict(cfg.cpu_props), dict(cfg.smp))
    from . import hooks
    from ..commands.registry import load_all
    load_all()  # topic modules register their resolvers on import
    try:
        # -machine properties are applied before the accelerator is configured (vl.c)
        for fn in getattr(hooks, "property_resolvers", ()):
            fn(instance, state)
        accel, warnings = choose_accel(instance)
        cfg.warnings.extend(warnings)
        state.accel = accel
        for fn in hooks.machine_resolvers:
            fn(instance, state)
    except StartupError as e:
        # every warning printed so far comes before the error
        e.warnings = list(cfg.warnings) + [w for w in e.warnings if w not in cfg.warnings]
        raise
    return state
