"""libvirt ``.replies`` recordings as raw (command, reply) pairs, split into probe passes.

(``qmpserver.profiles.replies.parse_replies`` is the importer's parser; it keeps the
outcome without the ``id``.  Tests that compare whole replies use this.)
"""

from __future__ import annotations

import json
import re

_NON_WS = re.compile(r"\S")


def split_passes(text: str) -> list[list[tuple[dict, dict]]]:
    """The recording as passes of (command, reply) pairs (each qmp_capabilities starts one)."""
    dec = json.JSONDecoder()
    objs, i = [], 0
    while True:
        m = _NON_WS.search(text, i)
        if not m:
            break
        obj, i = dec.raw_decode(text, m.start())
        objs.append(obj)
    passes: list = []
    for cmd, reply in zip(objs[::2], objs[1::2]):
        if cmd["execute"] == "qmp_capabilities":
            passes.append([])
        passes[-1].append((cmd, reply))
    return passes
