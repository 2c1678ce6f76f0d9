"""The semantic check of a ppc64 host file beyond its JSON Schema (the profile loader runs it
through :data:`qmpserver.arch.steps.HOST_CHECKS`): every KVM capability it answers is one
``models/ppc64/kvm-caps.yaml`` names, with an integer answer, so a misspelt capability is an
error at load time instead of reading as 0 (``spapr._cap``: what KVM says of a cap it does
not know)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ...models import MODELS_DIR, read_yaml
from ..arm64.sysreg import DataError

_caps: dict[str, Any] | None = None


def caps_table() -> dict[str, Any]:
    global _caps
    if _caps is None:
        _caps = read_yaml(os.path.join(MODELS_DIR, "ppc64", "kvm-caps.yaml"))["caps"]
    return _caps


def check_host(host: Mapping[str, Any], file: str | None) -> None:
    """Raise :class:`DataError` (file, dotted path, expectation) at the first problem."""
    known = caps_table()
    for name, val in ((host.get("kvm") or {}).get("caps") or {}).items():
        if name not in known:
            raise DataError(
                file, "kvm.caps.%s" % name, "unknown capability (add it to models/ppc64/kvm-caps.yaml)"
            )
        if not isinstance(val, int) or isinstance(val, bool) or val < 0:
            raise DataError(file, "kvm.caps.%s" % name, "expected a non-negative integer, got %r" % (val,))
