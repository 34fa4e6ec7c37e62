#!/usr/bin/env bash
# The project's tests: lint, types, then the whole suite against a real local control plane.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"

# The report tests open the HTML report in a real headless Chromium (Debian's package).
if ! command -v chromium >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the report rendering tests"
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null
    fi
fi

echo "==> ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "==> mypy --strict"
"$VENV/bin/mypy"
# The unit tests on the newest Python as well (3.13+: its ssl module verifies more strictly).
echo "==> unit tests on the newest Python"
NEWEST_PYTHON="$(bash "$ROOT/scripts/newest-python.sh")"
"$NEWEST_PYTHON" -m pytest tests/unit -q -p no:cacheprovider
echo "==> pytest"
"$VENV/bin/python" -m pytest "$@"
