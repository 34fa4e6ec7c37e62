"""Run one child process and measure it: wall time, exit code and its own peak RSS.

``os.wait4`` returns the resource usage of exactly the child waited for, so the peak RSS of
one pytest run is not mixed up with kubectl's or the control plane's (``RUSAGE_CHILDREN`` is a
maximum over every child ever reaped). Output goes to a file, never a pipe, so a chatty child
cannot block on a full pipe and distort its own timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Variables that would point a child at another cluster, a proxy, or other Python code.
_SCRUBBED = (
    "KUBECONFIG",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "POD_NAMESPACE",
    "PYTHONPATH",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def clean_env() -> dict[str, str]:
    """The environment for every child: ours minus anything that could change what it does."""
    return {
        k: v for k, v in os.environ.items() if k not in _SCRUBBED and k != "PYTHONDONTWRITEBYTECODE"
    }


def pod_env(pycache: Path, *, filling: bool = False) -> dict[str, str]:
    """:func:`clean_env` as in the runner image, emulated with a private bytecode cache.

    ``deploy/Dockerfile`` sets ``PYTHONDONTWRITEBYTECODE=1`` on a read-only root file system:
    the image has the ``.pyc`` files pip compiled, but never pytest's assertion-rewrite caches,
    so every module pytest marks for rewriting (all of ``pytest_incluster``, as an entry-point
    plugin, and the other plugins) is rewritten and compiled on every run. ``filling``: write
    to ``pycache`` (the "image build"); :func:`drop_rewrite_caches` then removes what the image
    would not have. pytest also needs :data:`POD_PYTEST_ARGS`.
    """
    env = clean_env() | {
        "PYTHONPYCACHEPREFIX": str(pycache),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),  # for -p bench.podshim
    }
    return env if filling else env | {"PYTHONDONTWRITEBYTECODE": "1"}


# pytest arguments that make the developer's virtualenv look like the runner image: only the
# image's plugins (pytest-html, pytest-metadata, anyio via httpx, pytest-incluster), and
# pytest-incluster marked for rewriting as a wheel install would be (bench/podshim.py).
POD_PYTEST_ARGS = (
    "-p",
    "bench.podshim",
    "-p",
    "no:xdist",
    "-p",
    "no:xdist.looponfail",
    "-p",
    "no:hypothesispytest",
)


def drop_rewrite_caches(pycache: Path) -> int:
    """Delete pytest's assertion-rewrite caches (``*-pytest-*.pyc``) under ``pycache``."""
    dropped = 0
    for cached in pycache.rglob("*-pytest-*.pyc"):
        cached.unlink()
        dropped += 1
    return dropped


@dataclass(frozen=True)
class ChildRun:
    """What one child did."""

    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    max_rss_kib: int
    output: str  # stdout and stderr, interleaved


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 900.0,
) -> ChildRun:
    """Run ``argv`` to completion; ``log`` receives its output and is read back."""
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        killer = threading.Timer(timeout, proc.kill)  # a hung child must not hang the bench
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(
        argv=tuple(argv),
        returncode=proc.returncode,
        wall_s=wall,
        max_rss_kib=usage.ru_maxrss,  # KiB on Linux
        output=log.read_text(errors="replace"),
    )


def python() -> str:
    """The interpreter children use: the one running the bench (the project's virtualenv)."""
    return sys.executable
