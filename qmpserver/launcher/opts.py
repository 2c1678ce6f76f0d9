"""Compatibility name: the option syntaxes moved to :mod:`qmpserver.qapi.opts`.

Kept for callers outside the launcher (``http/control.py``,
``arch/arm64/cli.py``); the launcher itself imports ``qapi.opts``.
"""

from __future__ import annotations

from ..qapi.opts import (SIZE_HINT, OptsError, OptsList, Parsed, QemuOptsError,  # noqa: F401
                         id_wellformed, keyval_merge, keyval_parse, parse_bool, parse_cpu, parse_opts,
                         qemu_opts_parse, split_commas, strtosz)

__all__ = ["SIZE_HINT", "OptsError", "OptsList", "Parsed", "QemuOptsError", "id_wellformed", "keyval_merge",
           "keyval_parse", "parse_bool", "parse_cpu", "parse_opts", "qemu_opts_parse", "split_commas",
           "strtosz"]
