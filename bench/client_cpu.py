"""Client CPU per review, by HTTP stack: what the GIL-bound share of A costs, and what a lighter
stack could save.

A cannot go below pytest's own work (E) plus the Python work of sending the reviews, because
both run under one GIL in pytest's process (the split probe, :mod:`bench.split`, measured what
moving the second to another process buys). This measures that second part directly: the same
reviews, one after another over one kept-alive connection to the API server (direct, RTT 0),
from the calling thread, with

``http.client``
    the standard library alone (one write per request, JSON by hand): the least a Python client
    can spend;
``httpcore``
    httpx's transport layer (h11) without the client on top;
``httpx``
    a plain ``httpx.Client`` made and asked as D's (:mod:`bench.floor_client`);
``plugin``
    the plugin's ``K8sClient`` with its call log and :func:`~pytest_incluster.access.review.review`,
    as A's worker threads send them (retries, readiness, breaker, token file).

Interleaved rounds; the CPU is the calling thread's own (``RUSAGE_THREAD``, user plus system,
so other threads of the bench do not count), and the API server's CPU over the same batches is
read from ``/proc/PID/stat`` for comparison. Every answer is compared with the truth, so a stack
that answers fast and wrong fails the run like any contender.
"""

from __future__ import annotations

import http.client
import json
import os
import resource
import ssl
import statistics
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpcore

from bench.entries import Entry
from bench.floor_client import SSAR, ask, is_allowed, plain_client
from pytest_incluster.access.review import review
from pytest_incluster.calls import CallLog
from pytest_incluster.client import K8sClient
from pytest_incluster.config.cluster_discovery import resolve
from pytest_incluster.config.options import Options, Sourced

STACKS = ("http.client", "httpcore", "httpx", "plugin")
Asker = Callable[[Entry], bool]


def _allowed(payload: bytes) -> bool:
    return is_allowed(json.loads(payload))


def _tls(sa_dir: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(sa_dir / "ca.crt"))


def _raw_headers(sa_dir: Path) -> list[tuple[str, str]]:
    """What the two stacks without a client on top send with every review."""
    return [
        ("Authorization", f"Bearer {(sa_dir / 'token').read_text().strip()}"),
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ]


@contextmanager
def _http_client(server: str, sa_dir: Path) -> Iterator[Asker]:
    parts = urlsplit(server)
    connection = http.client.HTTPSConnection(parts.hostname or "", parts.port, context=_tls(sa_dir))
    headers = dict(_raw_headers(sa_dir))

    def ask_once(entry: Entry) -> bool:
        body = json.dumps(entry.review_body()).encode()
        connection.request("POST", SSAR, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status != 201:
            raise RuntimeError(f"http.client: review answered {response.status}")
        return _allowed(payload)

    try:
        yield ask_once
    finally:
        connection.close()


@contextmanager
def _httpcore(server: str, sa_dir: Path) -> Iterator[Asker]:
    url = server.rstrip("/") + SSAR
    headers = _raw_headers(sa_dir)
    with httpcore.ConnectionPool(ssl_context=_tls(sa_dir), max_connections=1) as pool:

        def ask_once(entry: Entry) -> bool:
            body = json.dumps(entry.review_body()).encode()
            response = pool.request("POST", url, headers=headers, content=body)
            if response.status != 201:
                raise RuntimeError(f"httpcore: review answered {response.status}")
            return _allowed(response.content)

        yield ask_once


@contextmanager
def _httpx(server: str, sa_dir: Path) -> Iterator[Asker]:
    with plain_client(server, sa_dir) as client:
        yield lambda entry: ask(client, entry.review_body())


@contextmanager
def _plugin(server: str, sa_dir: Path) -> Iterator[Asker]:
    options = Options(server=Sourced(server, "bench"), sa_dir=Sourced(str(sa_dir), "bench"))
    with K8sClient(resolve(options, {}), call_log=CallLog()) as client:

        def ask(entry: Entry) -> bool:
            return review(client, entry.access_request()).allowed

        yield ask


_MAKERS: dict[str, Callable[[str, Path], Any]] = {
    "http.client": _http_client,
    "httpcore": _httpcore,
    "httpx": _httpx,
    "plugin": _plugin,
}


def _thread_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    server: str,
    sa_dir: Path,
    entries: Sequence[Entry],
    truth: Sequence[bool],
    *,
    rounds: int,
    server_pid: int | None,
) -> tuple[dict[str, Any], list[str]]:
    """Per stack, the calling thread's CPU per review (medians of ``rounds`` interleaved
    rounds over ``entries``), the server's, and the answers that disagreed with ``truth``."""
    client_us: dict[str, list[float]] = {stack: [] for stack in STACKS}
    server_us: list[float] = []
    wrong: list[str] = []
    n = len(entries)
    for _ in range(rounds):
        for stack in STACKS:
            with _MAKERS[stack](server, sa_dir) as ask:
                ask(entries[0])  # the connection and TLS handshake are not what is measured
                server_before = _process_cpu(server_pid) if server_pid else 0.0
                before = _thread_cpu()
                answers = [ask(entry) for entry in entries]
                client_us[stack].append((_thread_cpu() - before) / n * 1e6)
                if server_pid:
                    server_us.append((_process_cpu(server_pid) - server_before) / n * 1e6)
            wrong += [
                f"{stack}: {entry.matrix_text()} answered {got}, expected {want}"
                for entry, got, want in zip(entries, answers, truth, strict=True)
                if got != want
            ]
    medians = {stack: statistics.median(v) for stack, v in client_us.items()}
    base = medians["http.client"]
    return {
        "reviews": n,
        "rounds": rounds,
        "client_cpu_us": {stack: round(v, 1) for stack, v in medians.items()},
        "samples_us": {stack: [round(x, 1) for x in v] for stack, v in client_us.items()},
        "over_http_client": {stack: round(v / base, 2) for stack, v in medians.items()},
        "server_cpu_us": round(statistics.median(server_us), 1) if server_us else None,
    }, wrong
