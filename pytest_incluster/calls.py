"""The record of every API call a test made.

The client appends an :class:`ApiCall` for each HTTP attempt (retries included); the markers read
it to explain a missing 403, and the report shows it per test. Bodies are never recorded: only
method, path with query, status, reason and the server's message, so nothing secret is kept.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ApiCall:
    """One HTTP attempt against the API server, as shown in reports and failure messages."""

    method: str
    path: str  # path plus query string, relative to the server URL; never a body
    status: int | None  # None when no response arrived (connection error, timeout)
    reason: str = ""  # Status.reason from the server (e.g. "Forbidden"), or the HTTP phrase
    message: str = ""  # Status.message for errors, or the transport error; untrusted text
    duration_s: float = 0.0
    impersonated_user: str | None = None
    attempt: int = 1  # 2, 3, ... for retries of the same logical request
    test_id: str | None = None  # pytest nodeid that was running, filled in by the log
    # False for a "no" the client did not count: it came from an API server not yet confirmed
    # ready, and was asked again or raised as UnverifiedDenial (pytest_incluster.client.readiness)
    counted: bool = True
    # The server's Warning headers (Pod Security warn mode, policy warnings, deprecated APIs)
    warnings: tuple[str, ...] = ()
    # The object a request was about, "Kind/name", when the sender said so (admission checks)
    target: str = ""

    def describe(self) -> str:
        """One line such as ``GET /api/v1/namespaces/default/pods -> 403 Forbidden``."""
        status = "no response" if self.status is None else str(self.status)
        reason = f" {self.reason}" if self.reason else ""
        retry = f" (attempt {self.attempt})" if self.attempt > 1 else ""
        who = f" as {self.impersonated_user}" if self.impersonated_user else ""
        counted = "" if self.counted else " (not counted)"
        return f"{self.method} {self.path}{who} -> {status}{reason}{retry}{counted}"


@dataclass
class CallLog:
    """Thread-safe list of calls, tagged with the test that was running when each was made."""

    _calls: list[ApiCall] = field(default_factory=list)
    _by_test: dict[str, list[ApiCall]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.local = field(default_factory=threading.local, repr=False)
    current_test: str | None = None
    # Set while a session/module/class-scoped fixture runs: objects created then belong to that
    # fixture (deleted when it is torn down), not to the test that happened to trigger it.
    current_owner: str | None = None

    def record(self, call: ApiCall) -> None:
        """Append ``call``, stamping it with the test it was made for: the one named by
        :meth:`made_for` in this thread, else the running test."""
        owner = getattr(self._thread, "test_id", None) or self.current_test
        if call.test_id is None and owner is not None:
            call = dataclasses.replace(call, test_id=owner)
        with self._lock:
            self._calls.append(call)
            if call.test_id is not None:
                self._by_test.setdefault(call.test_id, []).append(call)

    @contextmanager
    def made_for(self, test_id: str | None) -> Iterator[None]:
        """Record the calls this thread makes inside the block as ``test_id``'s.

        The access checker asks a file's questions from worker threads ahead of the items that
        need them; without this, each answer would be listed under whichever test happened to
        be running when it arrived.
        """
        before = getattr(self._thread, "test_id", None)
        self._thread.test_id = test_id
        try:
            yield
        finally:
            self._thread.test_id = before

    @contextmanager
    def outside_tests(self) -> Iterator[None]:
        """Record the calls made inside the block as nobody's: the plugin's own bookkeeping
        (learning the runner's name for the access summary) is not a request of the test
        that happens to be running."""
        test, owner = self.current_test, self.current_owner
        self.current_test = self.current_owner = None
        try:
            yield
        finally:
            self.current_test, self.current_owner = test, owner

    def for_test(self, nodeid: str) -> list[ApiCall]:
        """Calls made while ``nodeid`` ran (setup, call and teardown); indexed, so a report of
        thousands of tests does not rescan the whole log for each one."""
        with self._lock:
            return list(self._by_test.get(nodeid, ()))

    def __iter__(self) -> Iterator[ApiCall]:
        with self._lock:
            return iter(list(self._calls))

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)
