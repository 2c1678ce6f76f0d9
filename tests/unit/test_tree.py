"""Facts about the committed tree itself."""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# a developer's checkout, home or source directory: meaningless on anyone else's machine
LOCAL_PATH = re.compile(r"(?<![\w.])/(?:work|home/[a-z_][\w-]*|Users/\w+)/[\w.-]+")


def tracked_text_files():
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    for name in out.stdout.decode().split("\0"):
        path = REPO / name
        if name and path.suffix in {".py", ".md", ".yaml", ".yml", ".sh", ".json", ".toml", ".txt", ""}:
            if path.is_file():
                yield name, path


def test_no_path_of_a_developer_machine():
    hits = []
    for name, path in tracked_text_files():
        if name == "tests/unit/test_tree.py":
            continue
        text = path.read_text(errors="replace")
        hits += [f"{name}: {m.group(0)}" for m in LOCAL_PATH.finditer(text)]
    assert hits == [], "cite upstream files by their repository path instead"
