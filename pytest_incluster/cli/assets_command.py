"""``pytest-incluster assets``: the control-plane binaries, downloaded or built, on stdout."""

from __future__ import annotations

from pathlib import Path

from pytest_incluster.cli.console import progress


def run_assets(directory: Path | None, kubernetes_version: str | None, node: bool = False) -> int:
    """``assets``: print a directory holding the binaries (progress goes to stderr).

    ``node`` also builds kubelet, kube-controller-manager and kube-scheduler into the cache.
    """
    from pytest_incluster.local.assets import resolve_assets, resolve_node_assets

    found = resolve_assets(directory, kubernetes_version=kubernetes_version, progress=progress)
    if node:
        resolve_node_assets(kubernetes_version=kubernetes_version, progress=progress)
    print(found)
    return 0
