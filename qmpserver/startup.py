"""The start-up pipeline: one ordered path from an ``InstanceConfig`` to a
started :class:`~qmpserver.vm.instance.Instance`, for every front end.

The launcher, ``qmpserver serve``, the HTTP API and the pytest plugin all call
:func:`start` with one config object.  The phases follow QEMU 7.2's
``qemu_init`` (``softmmu/vl.c``); each check lives in the module named:

1. ``qemu_create_machine``: machine type (:func:`vm.machine.select_machine`);
   the front end's own options that QEMU reads at this point (``-m``,
   ``-rtc``, default devices) come through :meth:`StartupIO.machine_selected`;
2. ``qemu_apply_machine_options``: ``-smp`` (:mod:`vm.smp`), ``-boot``
   (:func:`qapi.opts.parse_boot`), the other ``-machine`` properties
   (:func:`vm.virt.apply_properties`);
3. ``configure_accelerators`` (:mod:`vm.machine`, or the launcher's
   reporting through :meth:`StartupIO.configure_accelerators`);
4. machine creation: board init (:func:`vm.virt.board_init`: GIC, vCPU
   limit, TrustZone/EL2 under KVM, MTE), the CPU (the target's ``cpu_startup``
   in :data:`arch.targets.TARGETS`: :mod:`arch.arm64.startup`, :mod:`arch.x86_64.startup`
   with x86's ``kernel-irqchip``, :mod:`arch.ppc64.board`), ``-incoming`` listening
   (:mod:`commands.migration`);
5. backends: chardevs (launcher sockets), ``-blockdev``, ``-object``,
   ``-netdev``, monitors, the RAM backend, ``-device``, ``-add-fd``;
6. ``qemu_machine_creation_done``: warnings (unused ``-global`` classes,
   NICs/netdevs without peer), and the guest-ABI description
   (:mod:`vm.abi`), read afterwards by ``qom-get`` and the launcher.

Failures raise ``StartupError`` with QEMU's text; a backend's carries the
command-line location in ``loc`` when the front end gave one.  Everything
the phases settle lands in the instance's typed state (``machine``,
``board``, ``cpu``, ``memory``, ``backends``, ``migration_blockers``,
``abi``).
"""

from __future__ import annotations

from .arch import targets
from .commands import block, device, fd, netdev, objects, registry
from .commands.migration import start_incoming
from .errors import QMPError, StartupError
from .log import get as get_logger
from .qapi.opts import parse_boot
from .vm import smp, virt
from .vm.abi import GuestABI
from .vm.config import InstanceConfig
from .vm.instance import Instance
from .vm.machine import MachineState, choose_accel, select_machine
from .vm.state import Memory

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any

INCOMING_SCHEMES = ("tcp:", "rdma:", "unix:", "exec:", "fd:")


class BackendError(StartupError):
    """A backend QEMU refuses at start-up; ``loc`` is its command-line location."""

    def __init__(self, message: str, loc: Any = None) -> None:
        super().__init__(message)
        self.loc = loc


class StartupIO:
    """What a front end adds to the pipeline (the launcher's sockets, its
    QEMU-style reporting).  The defaults are those of ``serve``/the API."""

    def default_machine(self, inst: Instance) -> str | None:
        """The machine when none is asked for."""
        return inst.profile.defaults.get("machine")

    def machine_selected(self, inst: Instance, ms: MachineState) -> None:
        """After ``qemu_create_machine`` picked the type (``-m``, ``-rtc`` ...)."""

    def configure_accelerators(self, inst: Instance) -> tuple[str, dict] | None:
        """The accelerator and its properties, or None for :func:`choose_accel`."""
        return None

    def machine_created(self, inst: Instance) -> None:
        """The machine and CPU exist (the launcher prints the warnings so far)."""

    def create_chardevs(self, inst: Instance) -> None:
        """``qemu_create_early_backends``: chardevs (the launcher's sockets)."""

    def create_monitors(self, inst: Instance) -> None:
        """``-mon``/``-qmp`` on those chardevs."""

    def warn(self, inst: Instance, text: str) -> None:
        inst.config.warnings.append(text)


_DEFAULT_IO = StartupIO()


def _entries(items: list, width: int, default: Any = None) -> list[tuple]:
    """Config backend entries as tuples ``(opts, loc, extra)``: the launcher gives
    tuples, the API and tests plain option dicts."""
    out = []
    for e in items:
        if isinstance(e, dict):
            out.append((e, None, default)[:width])
        else:
            out.append(tuple(e)[:width])
    return out


def start(
    profile: Any, config: InstanceConfig, scheduler: Any = None, io: StartupIO | None = None
) -> Instance:
    """Build and start an instance; StartupError with QEMU's message if QEMU would refuse."""
    io = io or _DEFAULT_IO
    inst = Instance(profile, config, scheduler)
    inst.table_factory = registry.build_table
    try:
        inst.machine = create_machine(inst, io)
    except StartupError as e:
        # every warning printed so far comes before the error
        e.warnings = list(config.warnings) + [w for w in e.warnings if w not in config.warnings]
        raise
    io.machine_created(inst)
    create_backends(inst, io)
    creation_done(inst, io)
    # qemu_init's last step: -incoming URI (defer waits for migrate-incoming)
    uri = config.incoming
    if uri and uri != "defer":
        try:
            start_incoming(inst, uri)
        except QMPError as e:
            raise StartupError(e.desc, list(config.warnings)) from None
    if inst.runstate == "running":
        inst.guest_runs()  # no -S: the vCPUs run now
    return inst


# --- phases 1-4: the machine ------------------------------------------------------------------


def machine_info(build: Any, name: str) -> dict:
    """The machine's ``query-machines`` entry (``{"name": name}`` if not recorded)."""
    return next((m for m in build.machines() if m["name"] == name), {"name": name})


def create_machine(inst: Instance, io: StartupIO) -> MachineState:
    cfg = inst.config
    build = inst.build
    # 1. qemu_create_machine
    # the default is looked up only when needed (it reads the build's recorded machine list)
    canonical, alias = select_machine(build, cfg.machine.get("type") or io.default_machine(inst), None)
    # QEMU creates no CPU for -machine none (libvirt's probe) unless -cpu is given
    props = {k: v for k, v in cfg.machine.items() if k not in ("type", "accel")}
    ms = MachineState(canonical, alias, None, props, None, dict(cfg.cpu_props), dict(cfg.smp))
    inst.machine = ms
    io.machine_selected(inst, ms)
    inst.memory = Memory(cfg.memory or default_ram_size(build, canonical), cfg.maxmem, cfg.slots)
    if cfg.cpu is not None:  # '' too: -cpu '' is refused when the CPU is created
        ms.cpu_model = cfg.cpu
    else:
        ms.cpu_model = inst.profile.defaults.get("cpu") if canonical != "none" else None
    ms.cpu_props = dict(cfg.cpu_props)
    # 2. qemu_apply_machine_options: -smp, -boot, then the other properties
    if not smp.is_complete(ms.smp):
        try:
            ms.smp = smp.parse_smp(
                machine_info(build, canonical) if ms.smp else {"name": canonical},
                {k: v for k, v in ms.smp.items() if k != ""},
                warn=lambda w: io.warn(inst, w),
            )
        except QMPError as e:
            raise StartupError(e.desc, list(cfg.warnings)) from None
    if cfg.boot:
        try:
            parse_boot(cfg.boot)
        except QMPError as e:
            raise StartupError(e.desc, list(cfg.warnings)) from None
    virt.apply_properties(inst, ms)
    # 3. configure_accelerators
    chosen = io.configure_accelerators(inst)
    if chosen is None:
        wanted = cfg.accel or [inst.profile.defaults.get("accel", "tcg")]
        accel, warnings = choose_accel(build, inst.host, wanted)
        cfg.warnings.extend(warnings)
    else:
        accel, aprops = chosen
        cfg.accel = [accel]
        cfg.accel_props = {accel: aprops}
    ms.accel = accel
    # 4. machine init (board, then the CPU it creates)
    virt.board_init(inst, ms)
    validate = targets.part(build.target, "cpu_startup", "validate")
    if validate is not None:
        validate(inst, ms)
    is_board = targets.part(build.target, "board", "is_board")
    if canonical != "none" and not (is_board is not None and is_board(canonical)):
        log.warning(
            "machine %s of target %s is not modelled: a running instance's answers beyond the "
            "build's recordings (memory size, CPUs, PCI, chardevs ...) are generic, not QEMU's",
            canonical,
            build.target,
        )
    return ms


# QEMU's machine class default (``mc->default_ram_size``) unless the target's board says otherwise
DEFAULT_RAM_SIZE = 128 << 20


def default_ram_size(build: Any, machine_type: str | None) -> int:
    """The RAM size of ``machine_type`` when ``-m`` gives none (QEMU's ``set_memory_options``)."""
    fn = targets.part(build.target, "board", "default_ram_size")
    got = fn(machine_type) if fn is not None else None
    return int(got) if got is not None else DEFAULT_RAM_SIZE


log = get_logger("qmpserver.machine")


# --- phase 5: backends --------------------------------------------------------------------------


def create_backends(inst: Instance, io: StartupIO) -> None:
    cfg = inst.config
    io.create_chardevs(inst)
    for opts, loc in _entries(cfg.blockdevs, 2):
        try:
            block.add_blockdev(inst, opts)
        except QMPError as e:
            raise BackendError(e.desc, loc) from None
    for opts, _loc in _entries(cfg.objects, 2):
        try:
            objects.add_object(inst, opts, cli=True)
        except QMPError as e:  # object_option_foreach_add reports without a location
            raise BackendError(e.desc) from None
    # qemu_create_late_backends: netdevs, monitors
    for opts, loc, legacy in _entries(cfg.netdevs, 3, False):
        try:
            netdev.add_netdev(inst, opts, legacy=bool(legacy))
        except QMPError as e:
            raise BackendError(e.desc, loc) from None
    io.create_monitors(inst)
    # qemu_resolve_machine_memdev, board init
    memdev = cfg.machine.get("memory-backend")
    objs = inst.backends.objects
    if memdev is not None:
        o = objs.get(memdev)
        if o is None or not str(o.get("qom-type", "")).startswith("memory-backend"):
            raise BackendError("Memory backend '%s' not found" % memdev)
    elif objs:
        ram_id = machine_info(inst.build, inst.machine.type).get("default-ram-id")
        if ram_id and ram_id in objs:
            raise BackendError(
                "object name '%s' is reserved for the default RAM backend, it can't be "
                "used for any other purposes. Change the object's 'id' to something else" % ram_id
            )
    # qemu_create_cli_devices
    for opts, loc, json_form in _entries(cfg.devices, 3, False):
        try:
            device.add_device(inst, opts, cli=True, json_form=bool(json_form))
        except QMPError as e:
            raise BackendError(e.desc, loc) from None
    fd.attach(inst)
    for opts in cfg.add_fds:
        fd.add_cli_fd(inst, opts)
    uri = cfg.incoming
    if uri is not None and uri != "defer" and not uri.startswith(INCOMING_SCHEMES):
        raise BackendError("-incoming %s: unknown migration protocol: %s" % (uri, uri))


# --- phase 6: qemu_machine_creation_done -----------------------------------------------------


def creation_done(inst: Instance, io: StartupIO) -> None:
    cfg = inst.config
    if cfg.globals:
        known = device.known_types(inst)
        for drv, prop, _val in cfg.globals:
            if not device.is_device_type(inst, drv, known):
                io.warn(inst, "global %s.%s has invalid class name" % (drv, prop))
    for w in netdev.net_check_clients(inst):
        io.warn(inst, w)
    describe = targets.part(inst.build.target, "abi", "describe")
    fields = describe(inst) if describe is not None else {"cpu_model": inst.machine.cpu_model}
    inst.abi = GuestABI(inst.build.target, inst.machine.type, inst.accel, **fields)


__all__ = ["BackendError", "StartupIO", "start"]
