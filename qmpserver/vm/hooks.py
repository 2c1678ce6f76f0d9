"""Extension points filled by topic modules (machine properties, CPU, MTE).

A resolver is ``fn(instance, machine_state)``: it validates and resolves its
part of the configuration and raises ``StartupError`` on failure.  Topic
modules register themselves on import (see ``qmpserver.commands``).

``property_resolvers`` run first, before the accelerator is chosen (QEMU
applies ``-machine`` properties before ``configure_accelerators``);
``machine_resolvers`` run after it.
"""

property_resolvers: list = []
machine_resolvers: list = []
