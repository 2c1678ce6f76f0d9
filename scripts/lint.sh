#!/usr/bin/env bash
# Lint, format check and type check, as CI runs them (scripts/test.sh calls this first).
#
#   bash scripts/lint.sh [--fix]
#
# Uses the tools of .venv (installed by scripts/test.sh from the project's [lint] extra).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${QMPSERVER_VENV:-.venv}/bin"
PATHS=(qmpserver tests bench scripts tools examples)
if [ "${1:-}" = "--fix" ]; then
  "$BIN/ruff" check --fix "${PATHS[@]}"
  "$BIN/ruff" format "${PATHS[@]}"
else
  "$BIN/ruff" check "${PATHS[@]}"
  "$BIN/ruff" format --check "${PATHS[@]}"
fi
"$BIN/mypy"
