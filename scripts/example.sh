#!/usr/bin/env bash
# Runs example_tests/ against a throwaway local control plane, as the service account a Job
# would use, and writes report.html. Usage: bash scripts/example.sh [extra pytest args]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"

# The "=" forms matter: pytest picks its rootdir and ini file from every argument naming an
# existing path, so "--incluster-local-apply deploy/local" as two words would make the repository
# root the rootdir and skip example_tests/pytest.ini.
"$VENV/bin/python" -m pytest example_tests \
    --incluster-local \
    --incluster-local-apply=deploy/local \
    --incluster-local-as=pytest-incluster/pytest-incluster \
    --html=report.html --self-contained-html "$@"
echo "==> report written to $ROOT/report.html"
