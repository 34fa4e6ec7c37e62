"""The cgroup directories containerd creates for the node's containers, removed afterwards.

With the ``cgroupfs`` driver and no QoS cgroups, containerd puts each container's cgroup under
``<hierarchy>/k8s.io/<container id>`` in every cgroup-v1 hierarchy (and the empty v2 one). runc
removes the ``<container id>`` directories when a container is deleted; the ``k8s.io`` parents
stay. The node records the hierarchies where ``k8s.io`` did not exist before it started and
removes those directories again (only empty ones can be removed, so another node's are safe).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CONTAINERD_PARENT = "k8s.io"


def new_cgroup_parents(root: Path = CGROUP_ROOT) -> list[str]:
    """The ``k8s.io`` directories that do not exist yet (one per hierarchy)."""
    return sorted(
        str(hierarchy / CONTAINERD_PARENT)
        for hierarchy in root.iterdir()
        if hierarchy.is_dir() and not (hierarchy / CONTAINERD_PARENT).exists()
    )


def remove_cgroup_parents(paths: Sequence[str]) -> None:
    """``rmdir`` each recorded directory and any empty cgroups left below it, deepest first."""
    for path in map(Path, paths):
        if not path.is_dir():
            continue
        children = sorted(
            (p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        )
        for directory in [*children, path]:
            with contextlib.suppress(OSError):
                directory.rmdir()
