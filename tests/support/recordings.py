"""libvirt ``.replies`` recordings as raw (command, reply) pairs, split into probe passes.

(``qmpserver.profiles.replies.parse_replies`` is the importer's parser; it keeps the
outcome without the ``id``.  Tests that compare whole replies use this.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.peers import REQUIRE

# libvirt 9.0's own recordings of QEMU 4.2 .. 8.0 (aarch64, x86_64), fetched from Debian's
# source package by scripts/fetch-libvirt-capsdata.sh into the git-ignored .cache/ (not committed)
CAPSDATA = Path(__file__).resolve().parents[2] / ".cache" / "libvirt-capsdata" / "9.0.0"
CAPSDATA_NAMES = tuple(
    "caps_%s.replies" % t
    for t in (
        "4.2.0.aarch64", "4.2.0.x86_64", "5.0.0.aarch64", "5.0.0.x86_64", "5.1.0.x86_64",
        "5.2.0.aarch64", "5.2.0.x86_64", "6.0.0.aarch64", "6.0.0.x86_64", "6.1.0.x86_64",
        "6.2.0.aarch64", "6.2.0.x86_64", "7.0.0.aarch64", "7.0.0.x86_64", "7.1.0.x86_64",
        "7.2.0.x86_64", "8.0.0.x86_64",
    )
)  # fmt: skip


def capsdata_path(name: str) -> Path:
    """The path of one fetched libvirt 9.0 file (a recording, or ``cputestdata/<file>``); skips
    the test when it was not fetched (fails it under QMPSERVER_REQUIRE_REAL_PEERS=1)."""
    path = CAPSDATA / name
    if not path.is_file():
        msg = "%s is absent: run scripts/fetch-libvirt-capsdata.sh" % path
        if REQUIRE:
            pytest.fail(msg + " (QMPSERVER_REQUIRE_REAL_PEERS=1)")
        pytest.skip(msg)
    return path


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
