"""Failing fast when the API server does not answer (``Breaker`` and ``K8sClient.send``).

The breaker's own rules are tested with a fake clock. The client is tested against a real
socket that accepts connections and never answers (``SilentListener``), counting what it was
sent; the real-server cases (stopped, restarted) are in tests/reliability.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from pytest_incluster.calls import CallLog
from pytest_incluster.client import ApiUnreachable, K8sClient
from pytest_incluster.client.breaker import RETRY_INTERVAL_S, Breaker, Refusal, Ticket
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.pytest_plugin.settings import BY_NAME
from tests.support.listener import SilentListener

FAST = httpx.Timeout(2.0, connect=0.3)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fail(breaker: Breaker, reason: str = "ConnectError: refused") -> None:
    ticket = breaker.admit()
    assert isinstance(ticket, Ticket)
    breaker.unreachable(ticket, reason)


def test_opens_after_threshold_failures_in_a_row() -> None:
    breaker = Breaker(2, clock=Clock())
    fail(breaker, "ConnectTimeout: first")
    assert not breaker.is_open
    fail(breaker, "ConnectTimeout: second")
    refusal = breaker.admit()
    assert refusal == Refusal("ConnectTimeout: second", 2, RETRY_INTERVAL_S)


def test_any_answer_resets_the_count() -> None:
    breaker = Breaker(2, clock=Clock())
    fail(breaker)
    breaker.answered(Ticket())
    fail(breaker)
    assert isinstance(breaker.admit(), Ticket)


def test_a_request_sent_before_the_last_answer_does_not_count() -> None:
    """Six requests stall while later ones are answered (a slow node, a dropped connection):
    when the stalled ones time out, the server has answered since they were sent."""
    clock = Clock()
    breaker = Breaker(2, clock=clock)
    stalled = [breaker.admit() for _ in range(6)]
    clock.now += 1
    later = breaker.admit()
    assert isinstance(later, Ticket)
    breaker.answered(later)
    clock.now += 10
    for ticket in stalled:
        assert isinstance(ticket, Ticket)
        breaker.unreachable(ticket, "ReadTimeout: The read operation timed out")
    assert not breaker.is_open
    assert isinstance(breaker.admit(), Ticket)
    # Requests sent after that answer and failing do count.
    fail(breaker)
    fail(breaker)
    assert breaker.is_open


def test_zero_never_opens() -> None:
    breaker = Breaker(0, clock=Clock())
    for _ in range(10):
        fail(breaker)
    assert isinstance(breaker.admit(), Ticket)


def test_one_trial_request_after_the_interval_and_only_one_at_a_time() -> None:
    clock = Clock()
    breaker = Breaker(2, interval=5.0, clock=clock)
    fail(breaker)
    fail(breaker)
    clock.now += 4.9
    assert isinstance(breaker.admit(), Refusal)
    clock.now += 0.1
    trial = breaker.admit()
    assert trial == Ticket(trial=True)
    assert isinstance(breaker.admit(), Refusal)  # while the trial is under way
    breaker.unreachable(trial, "ConnectTimeout: still gone")
    refusal = breaker.admit()
    assert isinstance(refusal, Refusal)
    assert (refusal.reason, refusal.failures) == ("ConnectTimeout: still gone", 3)
    clock.now += 5.0
    trial = breaker.admit()
    assert trial == Ticket(trial=True)
    breaker.answered(trial)  # the server is back
    assert breaker.admit() == Ticket()
    assert not breaker.is_open


def test_an_abandoned_trial_lets_the_next_request_try() -> None:
    clock = Clock()
    breaker = Breaker(1, interval=5.0, clock=clock)
    fail(breaker)
    clock.now += 5.0
    trial = breaker.admit()
    assert isinstance(trial, Ticket)
    breaker.abandoned(trial)
    assert breaker.admit() == Ticket(trial=True)


def test_refusal_note_names_the_option_and_the_interval() -> None:
    assert Refusal("ConnectTimeout: x", 2, 5.0).note == (
        "not sent: the last 2 requests got no answer, so requests fail at once until the "
        "server answers again; it is tried again 5 s after the last attempt "
        "(--incluster-unreachable-after)"
    )
    assert f" {RETRY_INTERVAL_S:g} s after the last attempt" in BY_NAME["unreachable_after"].help


def test_a_silent_server_is_tried_n_times_then_requests_fail_at_once(
    cluster_config: ClusterConfig,
) -> None:
    with SilentListener() as silent:
        config = replace(cluster_config, server=silent.url)
        log = CallLog()
        with K8sClient(config, timeout=FAST, call_log=log, unreachable_after=2) as client:
            messages = []
            for _ in range(4):
                with pytest.raises(ApiUnreachable) as info:
                    client.get("/version")
                messages.append((str(info.value), info.value.sent))
            with pytest.raises(ApiUnreachable) as info:
                client.impersonate("jane").get("/version")  # shares the count
            messages.append((str(info.value), info.value.sent))
        connections = silent.connections
    first = messages[0][0]
    assert first.startswith(f"cannot reach the API server at {silent.url} (ConnectTimeout: ")
    assert first.endswith("timed out)")
    assert messages[0] == (first, True)
    assert messages[1] == (first, True)
    not_sent = (
        f"{first}; not sent: the last 2 requests got no answer, so requests fail at once until "
        "the server answers again; it is tried again 5 s after the last attempt "
        "(--incluster-unreachable-after)"
    )
    assert messages[2:] == [(not_sent, False)] * 3
    # A connect timeout is not retried: one connection per request that was sent.
    assert connections == 2
    assert [(c.attempt, c.status) for c in log] == [(1, None), (1, None)]


def test_without_the_breaker_every_request_waits_for_its_timeout(
    cluster_config: ClusterConfig,
) -> None:
    with SilentListener() as silent:
        config = replace(cluster_config, server=silent.url)
        with K8sClient(config, timeout=FAST, unreachable_after=0) as client:
            for _ in range(3):
                with pytest.raises(ApiUnreachable) as info:
                    client.get("/version")
                assert info.value.sent
        assert silent.connections == 3
