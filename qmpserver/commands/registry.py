"""Command handlers, registered by name, from an explicit list of topic modules.

A handler is ``fn(ctx, args) -> result``: ``ctx.instance`` is the instance,
``args`` the validated arguments (a dict).  It returns the ``return`` value
or raises ``QMPError``; it never parses JSON or formats argument errors (the
schema engine did that).  Whether a command exists at all is decided by the
build's schema: a handler without a schema command is never reachable, a
schema command without a handler answers its recorded or default value.

Every command has exactly one handler: :func:`command` refuses a second
registration of a name, so which module answers never depends on import
order.  The topic modules are listed in :data:`MODULES`; the file name says
what each answers.
"""

from __future__ import annotations

import importlib

from ..qapi.defaults import has_effects
from ..qmp.dispatch import CommandTable

TYPE_CHECKING = False  # typing is not imported on the launcher's path
if TYPE_CHECKING:
    from typing import Any, Callable

HANDLERS: dict[str, Callable[..., Any]] = {}
#: commands whose reply depends only on their arguments and on what the instance fixed
#: at start-up (no event, no effect): replayed for a repeated request (qmp/memo.py)
PURE: set[str] = set()
#: commands whose recorded answer (this build, these arguments, this accelerator) wins over
#: the handler; the value is None (always) or fn(ctx, args) -> bool (when the recorded
#: question is the one asked: e.g. no -cpu option changes that CPU model's expansion)
REPLAY: dict[str, Any] = {}

# topic modules holding handlers (qmpserver/commands/<name>.py); imported once,
# when the first command table is built
MODULES = (
    "core",  # qmp_capabilities, run state: stop/cont/system_*/quit, query-status ...
    "introspection",  # query-qmp-schema, query-commands, query-version ...
    "hmp",  # human-monitor-command
    "qom",  # qom-list/get/set, qom-list-types, qom-/device-list-properties
    "machine",  # query-machines, GIC/MTE capabilities, vCPUs, memory summary
    "cpu",  # query-cpu-definitions, -model-expansion, -baseline, -comparison
    "migration",  # migrate*, capabilities, parameters, blockers
    "chardev",  # query-chardev, chardev-add/-remove, query-chardev-backends
    "objects",  # object-add/-del, query-iothreads, query-memdev
    "block",  # blockdev-add/-del, query-block, query-named-block-nodes
    "blockjob",  # block jobs, transaction, blockdev-create, bitmaps (qemu-storage-daemon)
    "netdev",  # netdev_add/_del, set_link
    "device",  # device_add/_del
    "fd",  # getfd, closefd, add-fd, remove-fd, query-fdsets
    "display",  # query-display-options, query-vnc, set_password, expire_password, send-key
    "balloon",  # query-balloon, balloon
    "dump",  # dump-guest-memory, query-dump
)
_loaded = False


class DuplicateCommand(RuntimeError):
    """Two handlers for one command name: a programming error, caught at import."""


def command(
    name: str, pure: bool = False, replay: bool | Callable[..., bool] = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        other = HANDLERS.get(name)
        if other is not None and other is not fn:
            raise DuplicateCommand(
                "command %r registered twice: %s.%s and %s.%s"
                % (name, other.__module__, other.__qualname__, fn.__module__, fn.__qualname__)
            )
        HANDLERS[name] = fn
        if pure:
            PURE.add(name)
        if replay:
            REPLAY[name] = None if replay is True else replay
        return fn

    return deco


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in MODULES:
        importlib.import_module("qmpserver.commands." + mod)
    _loaded = True


#: How a command of a build is answered (:func:`coverage`), in the order listings show them.
COVERAGE_CLASSES = ("modelled", "recorded", "defaulted", "refused")


def coverage(build: Any) -> dict[str, str]:
    """How each command of the build's schema is answered, by name (the one owner of this
    classification: ``profiles show --coverage``, ``GET /api/v1/profiles/NAME``):

    * ``modelled``: a handler answers (:data:`HANDLERS`);
    * ``recorded``: no handler, the build recorded answers to it (for the arguments it
      recorded; other arguments are answered as below);
    * ``defaulted``: no handler, no recording, read-only: the default of its return type
      (an error in strict mode; :meth:`qmpserver.qmp.dispatch.CommandTable.unmodelled`);
    * ``refused``: no handler, no recording, with effects: a GenericError naming it."""
    load_all()
    recorded = build.recorded_commands()
    out = {}
    for n in build.schema.commands:
        if n in HANDLERS:
            out[n] = "modelled"
        elif n in recorded:
            out[n] = "recorded"
        else:
            out[n] = "refused" if has_effects(n) else "defaulted"
    return out


def unmodelled(build: Any) -> list[str]:
    """Commands of the build's schema that no handler models and no recording answers (the
    ``defaulted`` and ``refused`` ones of :func:`coverage`)."""
    return sorted(n for n, c in coverage(build).items() if c in ("defaulted", "refused"))


def build_table(instance: Any) -> Any:
    load_all()
    build = instance.build

    def on_default(name: str) -> None:
        for fn in instance.default_listeners:
            fn(name)

    return CommandTable(
        build.schema,
        HANDLERS,
        instance=instance,
        policy=instance.config.compat,
        recorded=lambda n, a: build.recorded(n, a, instance.accel),
        pure=PURE,
        replay=REPLAY,
        strict=instance.config.strict,
        build=build.name,
        on_default=on_default,
    )
