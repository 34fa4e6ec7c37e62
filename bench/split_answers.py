"""Where the HTTP work runs: the runtime of the split probe (:mod:`bench.split`).

A pytest plugin (``-p bench.split_answers``) with one fixture, ``answer``: item *i* gets the
server's answer to review *i*, asked up to :data:`AHEAD` items ahead like the plugin asks an
access file's questions. The reviews are sent by one of three answer sources, chosen by
``BENCH_SPLIT_MODE``:

``none``     no request; the answer is the expected one (the items' own cost with a fixture)
``threads``  16 worker threads in the pytest process sharing one httpx client (the plugin's way)
``process``  the same threads and client in another Python process (its own GIL), the reviews
             and answers passed over its stdin/stdout as JSON lines

Nothing here is the plugin: the probe measures only what moving the HTTP work out of pytest's
interpreter would buy, on the same machine, at the same RTT, in the same run as A and D.
``python -m bench.split_answers SERVER SA_DIR`` is the other process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, Protocol

import httpx
import pytest

from bench.floor_client import ask, plain_client

CONCURRENCY = 16  # the plugin's default --incluster-concurrency
AHEAD = 4 * CONCURRENCY  # the plugin's window (pytest_plugin/access_files.py)


def _client(server: str, sa_dir: Path) -> httpx.Client:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    return plain_client(server, sa_dir, limits=limits)


class AnswerSource(Protocol):
    def send(self, index: int, body: dict[str, Any]) -> None: ...
    def get(self, index: int) -> bool: ...
    def close(self) -> None: ...


class InProcess:
    """The reviews on worker threads of this interpreter (they share its GIL with pytest)."""

    def __init__(self, server: str, sa_dir: Path) -> None:
        self._client = _client(server, sa_dir)
        self._pool = ThreadPoolExecutor(max_workers=CONCURRENCY)
        self._futures: dict[int, Future[bool]] = {}

    def send(self, index: int, body: dict[str, Any]) -> None:
        self._futures[index] = self._pool.submit(ask, self._client, body)

    def get(self, index: int) -> bool:
        return self._futures.pop(index).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()


class OtherProcess:
    """The reviews in a child interpreter; this one only writes and reads JSON lines.

    Reads are done by the caller when it needs an answer (no reader thread), so the pytest
    process runs a single Python thread.
    """

    def __init__(self, server: str, sa_dir: Path) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.split_answers", server, str(sa_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._to: IO[bytes] = self._proc.stdin
        self._from: IO[bytes] = self._proc.stdout
        self._arrived: dict[int, bool] = {}

    def send(self, index: int, body: dict[str, Any]) -> None:
        self._to.write(json.dumps([index, body]).encode() + b"\n")
        self._to.flush()

    def get(self, index: int) -> bool:
        while index not in self._arrived:
            line = self._from.readline()
            if not line:
                raise RuntimeError("the answering process ended early")
            got, allowed = json.loads(line)
            self._arrived[int(got)] = bool(allowed)
        return self._arrived.pop(index)

    def close(self) -> None:
        self._to.close()
        self._proc.wait(timeout=60)


def serve(server: str, sa_dir: Path) -> None:
    """The other process: one review per input line, answers written as they arrive."""
    client = _client(server, sa_dir)
    out = sys.stdout.buffer
    lock = threading.Lock()

    def work(index: int, body: dict[str, Any]) -> None:
        line = json.dumps([index, ask(client, body)]).encode() + b"\n"
        with lock:
            out.write(line)
            out.flush()

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        for line in sys.stdin.buffer:
            index, body = json.loads(line)
            pool.submit(work, index, body)
    client.close()


# ---- the pytest side ----------------------------------------------------------------------


class _Probe:
    def __init__(self) -> None:
        state = json.loads(Path(os.environ["BENCH_SPLIT_STATE"]).read_text())
        self.mode = os.environ["BENCH_SPLIT_MODE"]
        self.bodies: list[dict[str, Any]] = state["bodies"]
        self.truth: list[bool] = state["truth"]
        self.server: str = state["server"]
        self.sa_dir = Path(state["sa_dir"])
        self.source: AnswerSource | None = None
        self.sent = 0

    def answer(self, index: int) -> bool:
        if self.mode == "none":
            return self.truth[index]
        source = self.source
        if source is None:
            if self.mode == "threads":
                source = InProcess(self.server, self.sa_dir)
            else:
                source = OtherProcess(self.server, self.sa_dir)
            self.source = source
        while self.sent < min(len(self.bodies), index + AHEAD):
            source.send(self.sent, self.bodies[self.sent])
            self.sent += 1
        return source.get(index)


_PROBE: _Probe | None = None


@pytest.fixture
def answer(request: pytest.FixtureRequest) -> tuple[bool, bool]:
    """(the server's answer, the expected one) for this item's review (``test_<index>``)."""
    global _PROBE
    if _PROBE is None:
        _PROBE = _Probe()
    index = int(request.node.name.rsplit("_", 1)[1])
    return _PROBE.answer(index), _PROBE.truth[index]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _PROBE is not None and _PROBE.source is not None:
        _PROBE.source.close()


if __name__ == "__main__":
    serve(sys.argv[1], Path(sys.argv[2]))
