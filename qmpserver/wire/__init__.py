"""QMP's wire format: QEMU's JSON lexer/streamer/parser and its JSON writer.

``JSON`` and ``JSONObject`` are the static types of QMP values.  They are
``Any`` on purpose: a QMP value is whatever JSON a client sent or a handler
built, and its shape is checked against the QAPI schema at run time (QEMU
``qapi/qobject-input-visitor.c``), not by the type checker; a recursive union
would only move that check into casts on every access.  The aliases exist
for the checker only: ``typing`` is not imported at run time (it stays off
the launcher's start-up path).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeAlias

    JSON: TypeAlias = Any
    JSONObject: TypeAlias = dict[str, Any]
