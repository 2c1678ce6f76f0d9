"""Command handlers, registered by name.

A handler is ``fn(ctx, args) -> result``: ``ctx.instance`` is the instance,
``args`` the validated arguments (a dict).  It returns the ``return`` value
or raises ``QMPError``; it never parses JSON or formats argument errors (the
schema engine did that).  Whether a command exists at all is decided by the
build's schema: a handler without a schema command is never reachable, a
schema command without a handler answers its recorded or default value.
"""

from __future__ import annotations

import importlib

HANDLERS: dict = {}

# topic modules holding handlers; imported once, when the first table is built
MODULES = ("core", "introspection", "hmp", "qom", "machine", "cpu", "migration", "devices", "misc")
_loaded = False


def command(name: str):
    def deco(fn):
        HANDLERS[name] = fn
        return fn
    return deco


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    for mod in MODULES:
        try:
            importlib.import_module("qmpserver.commands." + mod)
        except ModuleNotFoundError as e:
            if e.name != "qmpserver.commands." + mod:
                raise
    _loaded = True


def build_table(instance):
    from ..qmp.dispatch import CommandTable
    load_all()
    build = instance.build
    return CommandTable(build.schema, HANDLERS, instance=instance, policy=instance.config.compat,
                        recorded=lambda n, a: build.recorded_reply(n, a, instance.accel))
