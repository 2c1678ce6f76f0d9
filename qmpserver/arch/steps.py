"""Per-host-architecture steps of the profile compile pipeline.

:mod:`qmpserver.profiles.loader` compiles a profile in a fixed order (resolve
files, check them, derive, build the schema) and calls, for the host's
architecture, the steps listed here; what it derives from a build is the
``derive`` part of the build's target (:data:`qmpserver.arch.targets.TARGETS`).
A new architecture adds its row; nothing registers itself at import time, and
nothing here imports :mod:`qmpserver.profiles` (the arch layer is below it).

* ``HOST_CHECKS[arch](host, file)``: semantic checks of a resolved host file
  beyond its JSON Schema; raise :class:`qmpserver.models.DataFileError`
  (file, field path, expectation);
* ``HOST_STEPS[arch](host)``: facts derived from a host, stored as
  ``Host.derived``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .arm64 import derive as _arm64_derive
from .arm64 import kvm as _arm64_kvm
from .ppc64 import host as _ppc64_host

__all__ = ["HOST_CHECKS", "HOST_STEPS"]

HOST_CHECKS: Mapping[str, Callable[[Mapping[str, Any], str | None], None]] = {
    "aarch64": _arm64_kvm.check_host,
    "ppc64": _ppc64_host.check_host,
}

HOST_STEPS: Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "aarch64": _arm64_derive.host_derived,
}
