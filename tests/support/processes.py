"""Find the etcd and kube-apiserver processes a test started, and crash them like a reboot would."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from pytest_incluster.local.processes import ProcessRef


def processes_mentioning(path: Path) -> list[int]:
    """Pids whose command line mentions ``path``: any etcd or kube-apiserver started there."""
    needle = str(path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ref = ProcessRef.of(int(entry.name))
        if needle in cmdline and ref is not None and ref.alive():
            found.append(int(entry.name))
    return found


def can_bind(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


def crash(*refs: ProcessRef | None) -> None:
    """``kill -9`` each process and wait until it is gone: no cleanup runs, as in a crash."""
    alive = [ref for ref in refs if ref is not None and ref.alive()]
    assert alive, "nothing to crash"
    for ref in alive:
        os.kill(ref.pid, signal.SIGKILL)
    assert wait_until(lambda: not any(ref.alive() for ref in alive))
