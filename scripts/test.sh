#!/usr/bin/env bash
# The project's tests: lint, types, then the whole suite against a real local control plane.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"

echo "==> ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "==> mypy --strict"
"$VENV/bin/mypy"
echo "==> pytest"
"$VENV/bin/python" -m pytest "$@"
