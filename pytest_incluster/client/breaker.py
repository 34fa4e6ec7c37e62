"""Failing fast when the API server is gone, instead of waiting out every test's timeout.

A server that accepts connections but never answers costs each request its full connect or read
timeout; with hundreds of tests that is hours of waiting for the same answer. So the client
counts requests in a row that got no HTTP answer at all (refused, reset, timed out; after their
own retries). Once ``threshold`` of them failed in a row, further requests are not sent: they
raise at once with the last failure's message and a note saying so.

"In a row" is in the order requests were sent: a request that fails after the server answered
another one sent later says nothing about the server being gone (a few requests that stalled
while the rest were answered), so it is not counted.

The server is not given up on: once :data:`RETRY_INTERVAL_S` seconds have passed since the last
request that got no answer, one request is let through (the others keep failing at once while
it is under way). Any HTTP answer, whatever its status, closes the breaker again, so a server
that comes back after a restart is used again.

One breaker serves a client and every client made from it by ``impersonate()``; the
session's client is shared by all tests, so the count runs across tests. A pytest-xdist worker
has its own session client, and so its own count.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

RETRY_INTERVAL_S = 5.0


@dataclass(frozen=True)
class Ticket:
    """Permission to send one request; ``trial`` marks the one request let through while open,
    ``issued`` when it was given (on the breaker's clock)."""

    trial: bool = False
    issued: float = field(default=float("-inf"), compare=False)


@dataclass(frozen=True)
class Refusal:
    """Why a request was not sent: the last real failure and how many came in a row."""

    reason: str
    failures: int
    interval: float

    @property
    def note(self) -> str:
        """The sentence added to the last failure's message."""
        last = "request" if self.failures == 1 else f"{self.failures} requests"
        return (
            f"not sent: the last {last} got no answer, so requests fail at once until the "
            f"server answers again; it is tried again {self.interval:g} s after the last "
            "attempt (--incluster-unreachable-after)"
        )


class Breaker:
    """Counts requests in a row without an HTTP answer; see the module docstring.

    ``threshold`` 0 switches it off: every request is sent. Thread-safe: the access checks send
    many requests at once through one client.
    """

    def __init__(
        self,
        threshold: int,
        *,
        interval: float = RETRY_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._reason = ""
        self._failed_at = 0.0
        self._answered_at = float("-inf")  # when the server last answered
        self._trial_running = False

    @property
    def failures(self) -> int:
        """Requests in a row that got no answer (0 after any answer)."""
        return self._failures

    @property
    def is_open(self) -> bool:
        """True while requests are refused (apart from the periodic trial)."""
        return self.threshold > 0 and self._failures >= self.threshold

    def admit(self) -> Ticket | Refusal:
        """A :class:`Ticket` to send the request, or the :class:`Refusal` to raise instead."""
        with self._lock:
            now = self._clock()
            if not self.is_open:
                return Ticket(issued=now)
            due = now - self._failed_at >= self.interval
            if due and not self._trial_running:
                self._trial_running = True
                return Ticket(trial=True, issued=now)
            return Refusal(self._reason, self._failures, self.interval)

    def answered(self, ticket: Ticket) -> None:
        """The server sent an HTTP answer (any status): it is reachable."""
        with self._lock:
            self._failures = 0
            self._answered_at = max(self._answered_at, self._clock())
            if ticket.trial:
                self._trial_running = False

    def unreachable(self, ticket: Ticket, reason: str) -> None:
        """The request got no answer; ``reason`` is what refused requests will quote. Not
        counted when the server answered a request sent after this one."""
        with self._lock:
            if ticket.trial:
                self._trial_running = False
            if ticket.issued < self._answered_at:
                return
            self._failures += 1
            self._reason = reason
            self._failed_at = self._clock()

    def abandoned(self, ticket: Ticket) -> None:
        """The request ended without telling whether the server answered (e.g. interrupted)."""
        if ticket.trial:
            with self._lock:
                self._trial_running = False
