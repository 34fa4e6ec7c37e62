#!/usr/bin/env bash
# Runs example_tests/ against a throwaway local control plane, as the service account a Job
# would use, and writes report.html. Usage: bash scripts/example.sh [extra pytest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"

"$VENV/bin/python" -m pytest example_tests \
    --incluster-local \
    --incluster-local-apply deploy/base \
    --incluster-local-as pytest-incluster/pytest-incluster \
    --html report.html --self-contained-html "$@"
echo "==> report written to $ROOT/report.html"
