#!/usr/bin/env bash
# Renders the example suite's HTML report to docs/report.png (the picture in README.md).
# Runs scripts/example.sh first, so the picture always shows a real run; then takes the
# screenshot with headless Chromium (installed with apt-get when missing and run as root).
# With "failed-gate", the run adds docs/failed-gate/rbac-drift.yaml (the runner was given
# "edit": the suite's forbidden checks fail) and the picture is docs/failed-gate.png.
# Usage: bash scripts/screenshot.sh [failed-gate]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
OUT="$ROOT/docs/report.png"
EXTRA=()
case "${1:-}" in
    "") ;;
    failed-gate)
        OUT="$ROOT/docs/failed-gate.png"
        EXTRA=(--incluster-local-apply=docs/failed-gate/rbac-drift.yaml
            --incluster-cluster-name=local-example)
        ;;
    *)
        echo "screenshot: unknown argument '$1'; usage: bash scripts/screenshot.sh [failed-gate]" >&2
        exit 2
        ;;
esac

if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "screenshot: $CHROMIUM is missing; install Chromium (Debian: apt-get install chromium)" \
            "or set CHROMIUM to its path" >&2
        exit 1
    fi
    echo "==> installing chromium"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

if [ ${#EXTRA[@]} -eq 0 ]; then
    bash "$ROOT/scripts/example.sh"
else
    # The failing run is the point of this picture: its exit status 1 is expected.
    status=0
    bash "$ROOT/scripts/example.sh" "${EXTRA[@]}" || status=$?
    if [ "$status" -ne 1 ]; then
        echo "screenshot: the failed-gate run exited $status, not 1 (tests failed)" >&2
        exit 1
    fi
fi

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$OUT")"
echo "==> rendering report.html to $OUT"
rm -f "$OUT"
# Chromium logs harmless D-Bus complaints on stderr; show them only when it fails.
if ! "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --screenshot="$OUT" --window-size=1400,2000 "file://$ROOT/report.html" \
    >"$profile/chromium.log" 2>&1 || [ ! -s "$OUT" ]; then
    cat "$profile/chromium.log" >&2
    echo "screenshot: Chromium did not write $OUT" >&2
    exit 1
fi
echo "==> wrote $OUT"
