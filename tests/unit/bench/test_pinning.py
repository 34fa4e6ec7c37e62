"""``bench/run --pin`` (bench/pinning.py) splits the CPUs and pins every thread of a process.

Real processes: a child Python with a second thread, whose affinity is read back per thread
from the kernel; skipped only where the machine has a single CPU to give.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.pinning import pin_process, split_cpus
from bench.relay import RelayProcess

_ALLOWED = sorted(os.sched_getaffinity(0))
needs_two = pytest.mark.skipif(len(_ALLOWED) < 2, reason="pinning needs two CPUs to split")

_TWO_THREADS = (
    "import threading, sys\n"
    "threading.Thread(target=sys.stdin.read, daemon=True).start()\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)


def _affinities(pid: int) -> dict[int, set[int]]:
    return {
        int(task.name): os.sched_getaffinity(int(task.name))
        for task in Path(f"/proc/{pid}/task").iterdir()
    }


@needs_two
def test_the_server_gets_the_upper_half_and_the_contenders_the_rest() -> None:
    pinning = split_cpus()
    assert pinning.server
    assert pinning.contenders
    assert not pinning.server & pinning.contenders
    assert sorted(pinning.contenders | pinning.server) == _ALLOWED
    assert max(pinning.contenders) < min(pinning.server)


def test_one_cpu_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    with pytest.raises(ValueError, match="at least two CPUs"):
        split_cpus()


@needs_two
def test_every_thread_of_the_process_is_pinned() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _TWO_THREADS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            before = _affinities(child.pid)
            assert len(before) == 2
            assert all(cpus == set(_ALLOWED) for cpus in before.values())
            target = frozenset({_ALLOWED[-1]})
            assert pin_process(child.pid, target) == 2
            assert all(cpus == set(target) for cpus in _affinities(child.pid).values())
        finally:
            child.kill()


@needs_two
def test_a_relay_given_cpus_runs_there_and_one_without_stays_free() -> None:
    target = frozenset({_ALLOWED[-1]})
    with (
        RelayProcess("127.0.0.1", 9, 0, cpus=target) as pinned,
        RelayProcess("127.0.0.1", 9, 0) as free,
    ):
        assert all(c == set(target) for c in _affinities(pinned._proc.pid).values())
        assert all(c == set(_ALLOWED) for c in _affinities(free._proc.pid).values())


def test_pin_on_one_cpu_is_a_usage_error_naming_the_option(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.cli import parse_args

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--pin"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--pin needs at least two CPUs" in err
    assert "run without --pin" in err
    assert "Traceback" not in err
    monkeypatch.undo()
    assert parse_args([]).pin is False
