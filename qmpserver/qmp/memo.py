"""Replies of pure commands by request text: a repeated request answered unparsed.

A command is *pure* when its reply is a function of its arguments and of what the
instance fixed when it started (build, host, accelerator, ``-cpu``), with no event,
no deferred work and no other effect: the CPU model computations
(``query-cpu-model-expansion``, ``-baseline``, ``-comparison``), registered with
``@command(name, pure=True)``.  Parsing a 5 KB ``query-cpu-model-expansion``
request with every ``SYSREG_*`` property costs more than QEMU's whole
answer to a ``max`` expansion allows for; a client that asks the same again (a
management layer re-checking a model, a benchmark) gets the reply of the first
time, byte for byte.

The command table owns one :class:`ReplyMemo` (``CommandTable.memo``); the session
asks it before parsing, only when nothing is queued, held or observed, the output is
not pretty-printed, and the JSON stream sits between messages holding exactly one
complete message (plus whitespace) that an earlier request held byte for byte.

Key: the request text, except that a last member ``"id": <token>`` (libvirt and
qemu.qmp number their requests) is cut off and its token echoed as it came: only
tokens that the encoder writes back unchanged (a string of printable ASCII without
quote or backslash, an integer of at most 18 digits that is not ``-0``).  Same bytes
before the id, a single token of the same kind in the id's place: the same tokens,
hence the same request but for its id.  A reply is kept only when the request text
was exactly one message, the command is pure, the reply is a success with no
deferred work, and, when an id was cut off, the reply rebuilt from the token is the
reply.  ``tests/unit/qmp/test_reply_memo.py`` proves that sessions
answer the same bytes with and without the memo.
"""

from __future__ import annotations

import re

from ..wire.encode import message

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .dispatch import Entry

# "id": <token> } <whitespace>, anchored at the last '"id"' of the text
_ID_TAIL = re.compile(
    rb'"id"[ \t\r\n]*:[ \t\r\n]*("[ !#-\[\]-~]*"|0|-?[1-9][0-9]{0,17})[ \t\r\n]*\}[ \t\r\n]*\Z'
)
_WS = b" \t\r\n"
_WS_CODES = frozenset(_WS)

# bounds per command table (oldest dropped first): a thousand instances must stay small
MAX_ENTRIES = 64  # distinct requests kept
MAX_BYTES = 1 << 17  # request and reply text kept, in all
MAX_TEXT = 1 << 15  # longest request text kept


def split_id(raw: bytes) -> tuple[bytes, bytes | None]:
    """``(key, id token)``: the text before a trailing ``, "id": <token>}`` member and
    that token, or ``(raw, None)``."""
    i = raw.rfind(b'"id"')
    if i > 0:
        m = _ID_TAIL.match(raw, i)
        if m is not None:
            j = i - 1
            while j > 0 and raw[j] in _WS_CODES:
                j -= 1
            if raw[j] == 0x2C:  # ','
                return raw[:j], m.group(1)
    return raw, None


class ReplyMemo:
    """``(key, has id) -> (entry, reply text without id)`` for pure commands."""

    __slots__ = ("_entries", "_bytes")

    def __init__(self) -> None:
        self._entries: dict[tuple[bytes, bool], tuple[Entry, bytes]] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def answer(self, raw: bytes) -> bytes | None:
        """The reply message for request text ``raw`` (one whole message), or None."""
        key, tok = split_id(raw)
        hit = self._entries.get((key, tok is not None))
        if hit is None:
            return None
        entry, text = hit
        if entry.disabled is not None:  # cannot happen today: entries never change
            return None
        if tok is None:
            return text + b"}\r\n"
        return text + b', "id": ' + tok + b"}\r\n"

    def store(self, raw: bytes, entry: Entry | None, request: Any, reply: Any, after: Any) -> None:
        """Keep ``reply`` (the encoded message is rebuilt and compared) when it may be."""
        if (
            entry is None
            or not entry.pure
            or after
            or len(raw) > MAX_TEXT
            or type(request) is not dict
            or "exec-oob" in request
            or type(reply) is not dict
            or "return" not in reply
        ):
            return
        key, tok = split_id(raw)
        whole = message(reply)
        if tok is None:  # the key is the whole text: the reply as it is, id and all
            text = whole[:-3]
            full = whole
        else:
            text = message({"return": reply["return"]})[:-3]
            full = text + b', "id": ' + tok + b"}\r\n"
        if full != whole:  # the id echoed other than as it came, or another member order
            return
        entries = self._entries
        k = (key, tok is not None)
        size = len(key) + len(text)
        if k in entries or size > MAX_BYTES:
            return
        while entries and (len(entries) >= MAX_ENTRIES or self._bytes + size > MAX_BYTES):
            old = next(iter(entries))
            self._bytes -= len(old[0]) + len(entries.pop(old)[1])
        entries[k] = (entry, text)
        self._bytes += size
