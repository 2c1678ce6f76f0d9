#!/usr/bin/env bash
# Print the virtual environment that scripts/test.sh installs the test stack into (and that
# scripts/lint.sh takes its tools from).
#
# That is .venv, unless .venv already holds a qmpserver that is not an editable install of this
# checkout: the README's quick start makes one with `pip install .`, and turning it into an
# editable install would break what was installed from it (a launcher written by
# `qmpserver install-launcher` then fails with "No module named 'qmpserver'"). The tests then get
# their own .venv-test and .venv is left alone. $QMPSERVER_VENV overrides the choice.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${QMPSERVER_VENV:-}" ]; then
  echo "$QMPSERVER_VENV"
  exit 0
fi
if [ ! -e .venv ]; then
  echo .venv
  exit 0
fi
# -I: only the venv's own site-packages, not this checkout (the current directory)
state=$(.venv/bin/python -I - "$PWD" 2>/dev/null <<'PYEOF' || echo broken
import json, os, sys, urllib.parse
from importlib import metadata

try:
    dist = metadata.distribution("qmpserver")
except metadata.PackageNotFoundError:
    print("absent")
    raise SystemExit(0)
info = json.loads(dist.read_text("direct_url.json") or "{}")
url = urllib.parse.urlparse(info.get("url", ""))
here = os.path.realpath(sys.argv[1])
path = os.path.realpath(urllib.parse.unquote(url.path)) if url.scheme == "file" else None
print("editable" if info.get("dir_info", {}).get("editable") and path == here else "installed")
PYEOF
)
case "$state" in
  absent | editable) echo .venv ;;
  *) echo .venv-test ;;
esac
