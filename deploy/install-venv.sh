#!/bin/sh
# Installs pytest-incluster into a new virtualenv the way the runner image does
# (deploy/Dockerfile runs exactly this; tests/integration/deploy runs it too):
#
#   sh deploy/install-venv.sh VENV [PROJECT]      PROJECT: the repository root (default: .)
#
# Dependencies come only from deploy/requirements.lock, every file checked against its hash
# (--require-hashes; wheels only, so no package's build code runs). The project itself is built
# from PROJECT with --no-deps (nothing beyond the lock) and without build isolation: its build
# backend (setuptools) is installed from deploy/build-requirements.lock first, also by hash,
# and removed afterwards. pip reads its index and cache settings from the environment as usual
# (PIP_INDEX_URL for a mirror: the hashes make any mirror safe).
set -eu
venv=$1
project=${2:-.}
python=${PYTHON:-python3}

"$python" -m venv "$venv"
pip="$venv/bin/python -m pip --disable-pip-version-check"
$pip install --require-hashes --only-binary=:all: -r "$project/deploy/requirements.lock"
$pip install --require-hashes --only-binary=:all: -r "$project/deploy/build-requirements.lock"
$pip install --no-deps --no-build-isolation --no-index "$project"
$pip uninstall --yes setuptools
