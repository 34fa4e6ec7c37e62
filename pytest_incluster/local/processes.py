"""Child processes that cannot outlive their owner, found again by pid, and stopped for sure.

Two ownership models, because the control plane has two lifetimes:

* **owned** (a pytest session): each child runs in its own process group (a terminal's Ctrl-C
  goes to pytest, which then stops the children in order) and asks the kernel, through
  ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, to be killed when its parent dies. That covers
  ``kill -9`` of pytest, where no Python cleanup runs. The signal fires when the *thread* that
  spawned the child exits, so spawn from a long-lived thread (pytest's main thread is).
* **detached** (``pytest-incluster cluster up``): children get their own session and no death
  signal, so they outlive the CLI; their pids are recorded in the state directory and
  ``cluster down`` stops them.

A recorded pid is only trusted together with the process start time from ``/proc/PID/stat``, so
a pid reused by an unrelated process after a reboot is never signalled. Zombies count as dead:
a detached child reparented to an init that does not reap would otherwise look alive forever.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1
TAIL_LINES = 30


@dataclass(frozen=True)
class ProcessRef:
    """A pid plus its kernel start time: enough to tell "our" process from a reused pid."""

    pid: int
    start_time: int

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        start = _start_time(pid)
        return None if start is None else cls(pid, start)

    def alive(self) -> bool:
        """True while this exact process exists and is not a zombie."""
        return _start_time(self.pid) == self.start_time

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start_time": self.start_time}

    @classmethod
    def from_json(cls, data: object) -> ProcessRef | None:
        if not isinstance(data, dict):
            return None
        pid, start = data.get("pid"), data.get("start_time")
        if isinstance(pid, int) and isinstance(start, int):
            return cls(pid, start)
        return None


def _start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/PID/stat`` (start time in clock ticks); ``None`` if gone or zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; fields after it do not.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn`` that arms PR_SET_PDEATHSIG, closing the race with an early parent exit."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return arm


def spawn(
    argv: Sequence[str],
    log_file: Path,
    *,
    env: Mapping[str, str] | None = None,
    detached: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stdout and stderr appended to ``log_file`` (see the module docstring)."""
    with log_file.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            start_new_session=True,
            preexec_fn=None if detached else _die_with_parent(os.getpid()),
            close_fds=True,
        )


def terminate(
    ref: ProcessRef | None,
    popen: subprocess.Popen[bytes] | None = None,
    *,
    grace: float = 10.0,
) -> None:
    """SIGTERM the process (and its group), SIGKILL after ``grace`` seconds; wait until gone.

    ``popen`` is passed when this process spawned the child, so it is reaped rather than left
    as a zombie.
    """
    if ref is None or not ref.alive():
        _reap(popen)
        return
    _signal(ref, signal.SIGTERM)
    if not _wait_gone(ref, popen, grace):
        _signal(ref, signal.SIGKILL)
        _wait_gone(ref, popen, 10.0)
    _reap(popen)


def _signal(ref: ProcessRef, sig: signal.Signals) -> None:
    if not ref.alive():
        return
    try:
        if os.getpgid(ref.pid) == ref.pid:  # spawn() made it a group leader
            os.killpg(ref.pid, sig)
        else:
            os.kill(ref.pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(ref: ProcessRef, popen: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None and popen.poll() is not None:
            return True
        if not ref.alive():
            return True
        time.sleep(0.05)
    return not ref.alive()


def _reap(popen: subprocess.Popen[bytes] | None) -> None:
    if popen is not None:
        try:
            popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(port: int) -> bool:
    """True if a server could listen on 127.0.0.1:``port`` now (``SO_REUSEADDR``, as Go sets it,
    so connections of a dead listener lingering in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_in_use(port: int) -> bool:
    """True if something accepts connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of ``path``, indented, for quoting under an error message."""
    try:
        with path.open(errors="replace") as handle:
            tail = deque(handle, maxlen=lines)
    except OSError:
        return f"    ({path} could not be read)"
    if not tail:
        return f"    ({path} is empty)"
    return "".join(f"    {line.rstrip()}\n" for line in tail).rstrip("\n")
