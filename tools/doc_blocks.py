"""The code blocks of README.md and docs/, and the ledger that says how each is checked.

    python tools/doc_blocks.py            # list every block: hash, file:line, state, first line
    python tools/doc_blocks.py --update   # after a doc change: add new blocks as 'unreviewed',
                                          # drop entries whose block is gone or changed

The ledger, tests/unit/docs/doc_blocks.yaml, has one entry per block, keyed by the hash of its
text (file and line are informative, so moving a block costs nothing; changing it makes a new
block).  ``check`` is one of

- ``run``: executed by tests/unit/docs/test_doc_blocks.py: a transcript whose ``$ qmpserver …``,
  ``$ qmpserver-qemu …`` and ``$ python3 examples/…`` lines it runs, comparing what they print
  with the lines after them (a line ``...`` stands for any lines), or whose ``$ curl …`` lines it
  sends to the HTTP API of a server it starts (the JSON shown, ``...`` elided, must be there); a ``python`` block defining
  ``test_*`` functions, which must pass under pytest; a ``-> {...}`` / ``<- {...}`` QMP exchange,
  sent to an instance of the entry's ``profile`` (and ``machine``), each reply compared exactly;
  a ``yaml`` quote of the models/ file named by ``model`` (a string ending in `` ...`` is a
  prefix); a synopsis (``qmpserver profiles list [--kind K]``), checked against the parser; or an
  instance's JSON answer, compared with creating the request block whose hash ``request`` names;
  or JSON (``//`` comments allowed) that the ``qmpserver`` command line in ``command`` prints;
- ``test``: checked by the test named in ``by`` (``path`` or ``path::function``, then optional
  words; e.g. docs/cli.md's --help blocks);
- ``not-run``: with ``why`` (needs root, libvirt, a container, a network, or is not a command);
- ``unreviewed``: added by ``--update``; the test fails until someone picks one of the above.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ROOT / "tests" / "unit" / "docs" / "doc_blocks.yaml"
KEYS = (
    "hash",
    "file",
    "line",
    "first",
    "check",
    "by",
    "why",
    "profile",
    "machine",
    "model",
    "request",
    "command",
)
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks_of(path: Path) -> list[dict]:
    """Fenced blocks and indented (4-space, after a blank line, outside lists) blocks."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            indent, fence, lang = m.groups()
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(fence[:3]):
                j += 1
            body = [ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines[i + 1 : j]]
            out.append(_block(path, i + 1, lang, body))
            i = j + 1
            continue
        prev = lines[i - 1] if i else ""
        if lines[i].startswith("    ") and not prev.strip() and not _in_list(lines, i):
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                j += 1
            while j > i and not lines[j - 1].strip():
                j -= 1
            out.append(_block(path, i + 1, "", [ln[4:] for ln in lines[i:j]]))
            i = j
            continue
        i += 1
    return out


def _in_list(lines: list[str], i: int) -> bool:
    """An indented line continuing a list item is not a code block."""
    k = i - 1
    while k >= 0 and (not lines[k].strip() or lines[k].startswith(" ")):
        k -= 1
    return k >= 0 and bool(re.match(r"^\s*([-*+]|\d+\.)\s", lines[k])) and k >= i - 40


def _block(path: Path, line: int, lang: str, body: list[str]) -> dict:
    text = "\n".join(body) + "\n"
    return {
        "hash": hashlib.sha256(text.encode()).hexdigest()[:16],
        "file": str(path.relative_to(ROOT)),
        "line": line,
        "lang": lang,
        "text": text,
        "first": next((b.strip() for b in body if b.strip()), "")[:100],
    }


def all_blocks() -> list[dict]:
    return [b for f in doc_files() for b in blocks_of(f)]


def load_ledger() -> list[dict]:
    import yaml

    if not LEDGER.exists():
        return []
    return yaml.safe_load(LEDGER.read_text()) or []


def save_ledger(entries: list[dict]) -> None:
    import yaml

    head = "# How each code block of README.md and docs/ is checked; see tools/doc_blocks.py.\n"
    LEDGER.write_text(head + yaml.safe_dump(entries, sort_keys=False, width=100, allow_unicode=True))


def update() -> tuple[int, int]:
    """Add new blocks as unreviewed, drop entries of blocks that are gone; (added, dropped)."""
    blocks = all_blocks()
    ledger = {e["hash"]: e for e in load_ledger()}
    entries, added = [], 0
    for b in blocks:
        e = ledger.pop(b["hash"], None)
        if e is None:
            e = {"hash": b["hash"], "check": "unreviewed"}
            added += 1
        e.update({"file": b["file"], "line": b["line"], "first": b["first"]})
        entries.append({k: e[k] for k in KEYS if k in e})
    save_ledger(entries)
    return added, len(ledger)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--update"]:
        added, dropped = update()
        print(
            f"{LEDGER.relative_to(ROOT)}: {added} new block(s) marked unreviewed, {dropped} stale entries dropped"
        )
        return 0
    states = {e["hash"]: e["check"] for e in load_ledger()}
    for b in all_blocks():
        print(f"{b['hash']}  {b['file']}:{b['line']}  {states.get(b['hash'], 'MISSING'):10}  {b['first']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
