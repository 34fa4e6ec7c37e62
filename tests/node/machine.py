"""A snapshot of what a node could leave behind on the machine: mounts, network namespaces,
kernel settings, cgroup directories, processes and libcni's state directory."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pytest_incluster.local.node.sysctls import read_sysctls

CGROUP_ROOT = Path("/sys/fs/cgroup")
NODE_COMMANDS = ("containerd", "kubelet", "kube-controller-manager", "kube-scheduler", "runc")


@dataclass(frozen=True)
class MachineSnapshot:
    mounts: frozenset[str]
    netns: frozenset[str]
    sysctls: dict[str, str]
    cgroups: frozenset[str]
    var_lib_cni: bool

    def related_processes(self, state_dir: Path) -> list[str]:
        """Processes that mention ``state_dir`` or are a node program (shims included)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            text = " ".join(a.decode(errors="replace") for a in argv if a)
            program = Path(text.split(" ", 1)[0]).name if text else ""
            if str(state_dir) in text or program.startswith(NODE_COMMANDS):
                found.append(f"{entry.name}: {text}")
        return found


def _cgroups() -> frozenset[str]:
    """Every cgroup directory, up to four levels below each hierarchy."""
    found: set[str] = set()
    for hierarchy in CGROUP_ROOT.iterdir():
        for depth in ("*", "*/*", "*/*/*", "*/*/*/*"):
            found |= {str(p) for p in hierarchy.glob(depth) if p.is_dir()}
    return frozenset(found)


def snapshot() -> MachineSnapshot:
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return MachineSnapshot(
        mounts=frozenset(Path("/proc/mounts").read_text().splitlines()),
        netns=frozenset(line.split()[0] for line in netns.stdout.splitlines() if line.strip()),
        sysctls=read_sysctls(),
        cgroups=_cgroups(),
        var_lib_cni=Path("/var/lib/cni").exists(),
    )
