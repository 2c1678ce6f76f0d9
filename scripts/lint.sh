#!/usr/bin/env bash
# Lint, format check and type check, as CI runs them (scripts/test.sh calls this first).
#
#   bash scripts/lint.sh [--fix]
#
# Uses the tools of the test venv (scripts/test-venv.sh: .venv, or .venv-test next to a
# quick-start .venv; installed by scripts/test.sh from the project's [lint] extra), else those on
# PATH (a worktree without a venv of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(bash scripts/test-venv.sh)/bin"
if [ ! -x "$BIN/ruff" ] && command -v ruff >/dev/null; then
  BIN="$(dirname "$(command -v ruff)")"
fi
PATHS=(qmpserver tests bench scripts tools examples)
if [ "${1:-}" = "--fix" ]; then
  "$BIN/ruff" check --fix "${PATHS[@]}"
  "$BIN/ruff" format "${PATHS[@]}"
else
  "$BIN/ruff" check "${PATHS[@]}"
  "$BIN/ruff" format --check "${PATHS[@]}"
fi
"$BIN/mypy"
