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

# A real node (`cluster up --node`, the end-to-end Job tests) needs root, Debian's container
# runtime and image tools, and kubelet, kube-controller-manager and kube-scheduler built here.
NODE_PACKAGES="containerd runc containernetworking-plugins mmdebstrap buildah iptables iproute2"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=""
    for package in $NODE_PACKAGES; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $package"
    done
    if [ -n "$missing" ]; then
        echo "==> installing Debian packages for the real node:$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
    NODE_FLAG=--node
    echo "==> control-plane and node binaries (etcd, kube-apiserver, kubectl, kubelet, ...)"
else
    NODE_FLAG=
    echo "==> control-plane binaries (etcd, kube-apiserver, kubectl)"
fi
KUBEBUILDER_ASSETS="$("$VENV/bin/pytest-incluster" assets $NODE_FLAG)"
export KUBEBUILDER_ASSETS VENV ROOT
echo "    KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
