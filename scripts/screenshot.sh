#!/usr/bin/env bash
# Renders the example suite's HTML report to docs/report.png (the picture in README.md).
# Runs scripts/example.sh first, so the picture always shows a real run; then takes the
# screenshot with headless Chromium (installed with apt-get when missing and run as root).
# Usage: bash scripts/screenshot.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
OUT="$ROOT/docs/report.png"

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

bash "$ROOT/scripts/example.sh"

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
