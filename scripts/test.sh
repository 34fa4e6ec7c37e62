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
# Every test that talks to a control plane runs against each supported Kubernetes release
# (pytest_incluster/kube_versions.py states them; a unit test keeps this line equal to it). The
# newest runs the whole suite; the older ones run the tests marked `controlplane`.
KUBERNETES_VERSIONS="v1.35.4 v1.36.3 v1.37.2"
NEWEST="${KUBERNETES_VERSIONS##* }"
NODE_FLAG=
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then NODE_FLAG=--node; fi
OLDER="${KUBERNETES_VERSIONS% *}"
# The older releases' binaries are resolved (on a fresh machine: built, about 5 minutes each)
# in the background while the newest release is tested, at nice 19 so the build only takes CPU
# the tests leave idle. Its own session, so an early exit stops the whole build (trap below).
prebuild_log="$(mktemp)"
env -u KUBEBUILDER_ASSETS setsid bash -c 'for v in $1; do
    nice -n 19 "$2" assets --kubernetes-version "$v" $3 >/dev/null || exit 1; done' prebuild "$OLDER" "$VENV/bin/pytest-incluster" "$NODE_FLAG" \
    >"$prebuild_log" 2>&1 </dev/null &
prebuild=$!
trap 'kill -- "-$prebuild" 2>/dev/null || true; rm -f "$prebuild_log"' EXIT
failed=""
for version in $NEWEST $OLDER; do
    if [ "$version" != "$NEWEST" ] && [ -n "$prebuild" ]; then
        wait "$prebuild" || { cat "$prebuild_log"; echo "==> building $OLDER failed"; exit 1; }
        prebuild=""
    fi
    # Without KUBEBUILDER_ASSETS (bootstrap.sh exports the newest release's): it comes first.
    assets="$(env -u KUBEBUILDER_ASSETS "$VENV/bin/pytest-incluster" assets \
        --kubernetes-version "$version" $NODE_FLAG)"
    if [ "$version" = "$NEWEST" ]; then
        echo "==> pytest: the whole suite, control plane Kubernetes $version"
        selection=()
    else
        echo "==> pytest: the control-plane tests on Kubernetes $version"
        selection=(-m controlplane)
    fi
    started=$SECONDS
    status=0
    INCLUSTER_KUBERNETES_VERSION="$version" KUBEBUILDER_ASSETS="$assets" \
        "$VENV/bin/python" -m pytest "${selection[@]}" "$@" || status=$?
    # 5: no test selected, e.g. `bash scripts/test.sh tests/unit` on an older release.
    if [ "$status" -ne 0 ] && { [ "$version" = "$NEWEST" ] || [ "$status" -ne 5 ]; }; then
        failed="$failed $version"
    fi
    echo "==> Kubernetes $version: $((SECONDS - started)) s"
done
if [ -n "$failed" ]; then
    echo "==> FAILED on Kubernetes:$failed"
    exit 1
fi
