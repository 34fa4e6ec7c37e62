"""The kernel settings the kubelet changes at start, recorded before and restored after.

kubelet v1.37 sets ``vm.overcommit_memory=1``, ``kernel.panic=10`` and
``kernel.panic_on_oops=1`` (its "kernel tunables"; ``protectKernelDefaults: true`` would make it
refuse to start instead). These are machine-wide, so the node records the values it found in its
state file before the kubelet starts, keeps the first record across a crash and a restart, and
writes them back at ``cluster down``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

KUBELET_SYSCTLS = ("vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops")
PROC_SYS = Path("/proc/sys")


def _path(name: str) -> Path:
    return PROC_SYS / name.replace(".", "/")


def read_sysctls(names: tuple[str, ...] = KUBELET_SYSCTLS) -> dict[str, str]:
    return {name: _path(name).read_text().strip() for name in names}


def restore_sysctls(saved: Mapping[str, str]) -> list[str]:
    """Write back ``saved``; returns ``name: now -> saved`` for each value that had changed."""
    changed: list[str] = []
    for name, value in saved.items():
        now = _path(name).read_text().strip()
        if now != value:
            _path(name).write_text(value + "\n")
            changed.append(f"{name}: {now} -> {value}")
    return changed
