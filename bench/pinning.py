"""``--pin``: the API server on CPUs of its own, as if it ran elsewhere.

On this machine the API server, etcd, the relay and every contender share the same cores, so a
contender that uses more CPU also slows the server it waits for; in a cluster the server runs on
other machines. With ``--pin`` the CPUs the bench may use are split in two halves: etcd,
kube-apiserver and the relay (the server and "the network") run on the upper half, the bench
and everything it starts (A, A', B, C, D, E, the split probe) on the lower half. On two cores
that is one core each: the contenders get one CPU, like a runner pod with a limit of one CPU,
and none of them is slowed by the server's work or slows it.

The affinity is set per thread (``/proc/PID/task``; new threads inherit their creator's), and
only on processes the bench started, which end with it: nothing outlives the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the server side and the contenders run on."""

    server: frozenset[int]
    contenders: frozenset[int]

    def describe(self) -> str:
        return (
            f"etcd, kube-apiserver and the relay pinned to CPU {cpu_list(self.server)}, "
            f"the contenders to CPU {cpu_list(self.contenders)}"
        )

    def as_json(self) -> dict[str, list[int]]:
        return {"server_cpus": sorted(self.server), "contender_cpus": sorted(self.contenders)}


def cpu_list(cpus: Iterable[int]) -> str:
    """``0,1``: CPUs as the logs and RESULTS.md name them."""
    return ",".join(str(c) for c in sorted(cpus))


def split_cpus() -> Pinning:
    """The upper half of the CPUs this process may use for the server, the rest for the
    contenders; ``ValueError`` with fewer than two."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise ValueError(f"--pin needs at least two CPUs; this process may use {len(allowed)}")
    half = len(allowed) // 2
    return Pinning(server=frozenset(allowed[half:]), contenders=frozenset(allowed[:half]))


def pin_process(pid: int, cpus: frozenset[int]) -> int:
    """Pin every thread of process ``pid`` to ``cpus``; returns how many threads were pinned."""
    pinned = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except ProcessLookupError:
            continue  # the thread ended meanwhile
        pinned += 1
    return pinned
