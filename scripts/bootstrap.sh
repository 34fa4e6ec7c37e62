#!/usr/bin/env bash
# Shared set-up for scripts/test.sh and scripts/example.sh: a virtualenv with the project
# installed, and the control-plane binaries (built from Go modules once, then cached outside
# the repository). Sourcing it exports VENV and KUBEBUILDER_ASSETS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
echo "==> installing pytest-incluster and its test dependencies"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e "$ROOT[test,local,bench]"

echo "==> control-plane binaries (etcd, kube-apiserver, kubectl)"
KUBEBUILDER_ASSETS="$("$VENV/bin/pytest-incluster" assets)"
export KUBEBUILDER_ASSETS VENV ROOT
echo "    KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
