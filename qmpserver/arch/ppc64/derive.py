"""Facts derived from a ppc64 build when its profile is compiled (``Build.derived``), so that
a launcher start reads them precompiled instead of parsing YAML:

* ``spapr``: the pseries spapr capability data of the build's QEMU version
  (``models/ppc64/spapr-caps-<major>.<minor>.yaml``, :mod:`.spapr`);
* ``ppc_cpu``: its ``-cpu`` lookup data (``models/ppc64/cpu-lookup-<major>.<minor>.yaml``,
  :mod:`.cpu`);
* ``pseries``: the ``qom-get /machine`` answers of a started pseries machine per version
  (``models/ppc64/pseries-machine-<major>.<minor>.yaml``, :mod:`.board`).

A version without a file gets no key: its rules then answer "not measured" (see the modules).
"""

from __future__ import annotations

import os
from typing import Any

from ... import models

FILES = {
    "spapr": "ppc64/spapr-caps-%d.%d.yaml",
    "ppc_cpu": "ppc64/cpu-lookup-%d.%d.yaml",
    "pseries": "ppc64/pseries-machine-%d.%d.yaml",
}


def build_derived(build: Any, deps: set[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, pattern in FILES.items():
        path = os.path.join(models.MODELS_DIR, pattern % tuple(build.version[:2]))
        if deps is not None:
            deps.add(path)  # recompile when it appears or changes
        if os.path.exists(path):
            out[key] = models.read_yaml(path)
    return out
