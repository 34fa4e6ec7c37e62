"""Denials from an API server that is not ready yet are confirmed with ``/readyz`` before they
count (``RetryTransport`` + ``readiness.Vouches``).

``Server`` below is a fake transport: it answers each request with the next scripted answer and
says which connection carried it (httpcore's ``network_stream`` extension). It stands in for what
a real kube-apiserver does only for a few milliseconds of a restart, which cannot be produced on
demand: a 403 or ``allowed: false`` before its RBAC caches are filled, and ``/readyz`` answering
500 meanwhile. The same behaviour against the real server is covered end to end by
tests/reliability/test_unready_denials.py (through the fault proxy) and by the chaos soak
(tests/soak), which restarts a real kube-apiserver.
"""

from __future__ import annotations

import json

import httpx
import pytest

from pytest_incluster.calls import CallLog
from pytest_incluster.client.readiness import UNVERIFIED, VERIFY_DENIAL, unverified_reason
from pytest_incluster.client.transport import RetryPolicy, RetryTransport

API = "https://10.96.0.1"
SSAR = f"{API}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
PODS = f"{API}/api/v1/namespaces/shop/pods?limit=1"
NOT_READY = b"[+]ping ok\n[-]informer-sync failed: reason withheld\nreadyz check failed\n"
FORBIDDEN = json.dumps(
    {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'pods is forbidden: User "system:serviceaccount:shop:runner" cannot list '
        'resource "pods" in API group "" in the namespace "shop"',
        "reason": "Forbidden",
        "code": 403,
    }
).encode()


def review_answer(allowed: bool) -> bytes:
    status = {"allowed": allowed}
    return json.dumps({"kind": "SelfSubjectAccessReview", "status": status}).encode()


def is_denial(body: bytes) -> bool:
    return json.loads(body)["status"]["allowed"] is not True


class Conn:
    """Stands for one TCP connection (the stream object httpcore puts in the extensions)."""


Step = tuple[str, Conn | None, int, bytes]  # (path expected, connection, status, body)


class Server(httpx.BaseTransport):
    """Scripted answers, each over a given connection (see module doc). ``readyz``, when set,
    answers every ``/readyz`` the script does not (a server stuck in one state)."""

    def __init__(self, *steps: Step, readyz: Step | None = None) -> None:
        self.steps = list(steps)
        self.readyz = readyz
        self.seen: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url.path)
        scripted = self.steps and self.steps[0][0] == request.url.path
        if request.url.path == "/readyz" and self.readyz is not None and not scripted:
            step = self.readyz
        else:
            step = self.steps.pop(0)
        path, conn, status, body = step
        if status == 0:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        assert request.url.path == path, (request.url.path, path, self.seen)
        extensions = {"network_stream": conn} if conn is not None else {}
        return httpx.Response(status, content=body, extensions=extensions)


class Harness:
    def __init__(
        self, *steps: Step, retries: int = 3, budget: float = 30.0, readyz: Step | None = None
    ) -> None:
        self.server = Server(*steps, readyz=readyz)
        self.log = CallLog()
        self.now = 0.0
        self.sleeps: list[float] = []
        self.transport = RetryTransport(
            self.server,
            policy=RetryPolicy(retries=retries, budget=budget),
            call_log=self.log,
            sleep=self._sleep,
            clock=self._clock,
            jitter=lambda: 1.0,
            readyz_url=f"{API}/readyz",
        )

    def _clock(self) -> float:
        self.now += 0.001  # every step takes a moment, so "before" and "after" differ
        return self.now

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def get(self, url: str = PODS) -> httpx.Response:
        request = httpx.Request("GET", url, headers={"Authorization": "Bearer t0ken"})
        return self.transport.handle_request(request)

    def review(self) -> httpx.Response:
        request = httpx.Request(
            "POST",
            SSAR,
            json={"kind": "SelfSubjectAccessReview"},
            extensions={VERIFY_DENIAL: is_denial},
        )
        return self.transport.handle_request(request)

    def calls(self) -> list[tuple[str, int | None, int]]:
        return [(c.path, c.status, c.attempt) for c in self.log]


def test_a_403_over_a_new_connection_is_asked_again_once_readyz_says_ok() -> None:
    a = Conn()
    h = Harness(
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),
        ("/readyz", a, 500, NOT_READY),
        ("/readyz", a, 200, b"ok"),
        ("/api/v1/namespaces/shop/pods", a, 200, b"{}"),
    )
    response = h.get()
    assert response.status_code == 200
    assert h.calls() == [
        ("/api/v1/namespaces/shop/pods?limit=1", 403, 1),
        ("/readyz", 500, 1),
        ("/readyz", 200, 2),
        ("/api/v1/namespaces/shop/pods?limit=1", 200, 2),
    ]
    assert not unverified_reason(response)
    # The call log keeps the first answer, marked as not counted (reports and the access
    # summary read it as deciding nothing).
    assert [c.counted for c in h.log] == [False, True, True, True]
    assert next(iter(h.log)).describe() == (
        "GET /api/v1/namespaces/shop/pods?limit=1 -> 403 Forbidden (not counted)"
    )


def test_a_denied_review_over_a_new_connection_is_asked_again() -> None:
    a, b = Conn(), Conn()
    h = Harness(
        ("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", a, 201, review_answer(False)),
        ("/readyz", b, 200, b"ok"),
        ("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", b, 201, review_answer(True)),
    )
    response = h.review()
    assert json.loads(response.read())["status"]["allowed"] is True
    assert [path for path, _, _ in h.calls()] == [
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "/readyz",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    ]


def test_a_denial_over_a_connection_vouched_before_the_question_counts_at_once() -> None:
    a = Conn()
    h = Harness(
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),
        ("/readyz", a, 200, b"ok"),
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),  # the same question asked again
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),  # a later question
        ("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", a, 201, review_answer(False)),
    )
    assert h.get().status_code == 403
    assert h.get().status_code == 403
    response = h.review()
    assert json.loads(response.read())["status"]["allowed"] is False
    assert not unverified_reason(response)
    assert h.server.seen.count("/readyz") == 1
    assert h.server.steps == []


def test_an_allowed_answer_is_never_questioned() -> None:
    h = Harness(
        ("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", Conn(), 201, review_answer(True))
    )
    assert h.review().status_code == 201
    assert h.server.seen == ["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]


def test_a_connection_opened_after_the_vouch_is_checked_again() -> None:
    """A restarted server is reached over new connections only, so a connection first seen after
    the last ``ok`` is not vouched for, however recently that ``ok`` came."""
    old, new = Conn(), Conn()
    h = Harness(
        ("/api/v1/namespaces/shop/pods", old, 200, b"{}"),
        ("/api/v1/namespaces/shop/pods", old, 403, FORBIDDEN),
        ("/readyz", old, 200, b"ok"),
        ("/api/v1/namespaces/shop/pods", old, 403, FORBIDDEN),
        ("/api/v1/namespaces/shop/pods", new, 403, FORBIDDEN),  # after a silent reconnect
        ("/readyz", new, 403, FORBIDDEN),  # the new process's RBAC is not filled yet
        ("/readyz", new, 500, NOT_READY),
        ("/readyz", new, 200, b"ok"),
        ("/api/v1/namespaces/shop/pods", new, 200, b"{}"),
    )
    h.get()
    assert h.get().status_code == 403
    assert h.get().status_code == 200
    assert h.server.steps == []


def test_a_denial_answered_before_its_connection_was_vouched_is_asked_again() -> None:
    """The ``ok`` came after the question was sent: the process may have become ready between
    answering and ``/readyz``, so the earlier "no" is asked again instead of trusted."""
    a, b = Conn(), Conn()
    h = Harness(
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),
        ("/readyz", b, 200, b"ok"),  # vouches for a as well, but only from now on
        ("/api/v1/namespaces/shop/pods", a, 200, b"{}"),
    )
    assert h.get().status_code == 200


def test_a_server_that_never_says_ready_gives_an_unverified_denial_within_the_budget() -> None:
    a = Conn()
    h = Harness(
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),
        *[("/readyz", a, 500, NOT_READY)] * 50,
        budget=5.0,
    )
    response = h.get()
    assert response.status_code == 403
    assert unverified_reason(response) == (
        "the API server did not confirm that it was ready (GET /readyz answered 500: "
        "informer-sync failed: reason withheld)"
    )
    assert sum(h.sleeps) <= 5.0
    assert max(h.sleeps) <= 1.0  # /readyz is polled at least once a second


def test_after_a_whole_budget_without_ok_later_denials_poll_readyz_once() -> None:
    a = Conn()
    refused = json.dumps(
        {
            "kind": "Status",
            "message": 'forbidden: User "runner" cannot get path "/readyz"',
            "reason": "Forbidden",
            "code": 403,
        }
    ).encode()
    h = Harness(
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),
        readyz=("/readyz", a, 403, refused),
        budget=3.0,
    )
    first = h.get()
    assert unverified_reason(first) == (
        "the API server did not confirm that it was ready (GET /readyz answered 403: "
        'forbidden: User "runner" cannot get path "/readyz")'
    )
    polls = h.server.seen.count("/readyz")
    assert polls > 1
    second = h.get()
    assert h.server.seen.count("/readyz") == polls + 1
    assert unverified_reason(second) == unverified_reason(first)


def test_a_question_that_came_late_in_its_budget_is_not_remembered_as_never_ready() -> None:
    """A request that spent its budget waiting for a restarted server gets one or two /readyz
    answers before it runs out: that says nothing about the server staying unready."""
    a = Conn()
    h = Harness(
        ("/api/v1/namespaces/shop/pods", None, 0, b""),  # down: refused, retried...
        ("/api/v1/namespaces/shop/pods", None, 0, b""),
        ("/api/v1/namespaces/shop/pods", None, 0, b""),
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),  # ...up, not ready
        ("/readyz", a, 500, NOT_READY),  # and the budget is spent
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),
        ("/readyz", a, 500, NOT_READY),
        ("/readyz", a, 200, b"ok"),
        ("/api/v1/namespaces/shop/pods", a, 200, b"{}"),
        budget=2.0,
    )
    assert "informer-sync failed" in unverified_reason(h.get())
    assert h.get().status_code == 200  # polled until ok, not given up after one poll


def test_a_server_down_for_the_whole_budget_is_not_remembered_as_never_ready() -> None:
    a = Conn()
    h = Harness(
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),
        readyz=("/readyz", None, 0, b""),  # refused: the port is closed
        budget=3.0,
    )
    assert unverified_reason(h.get()) == (
        "the API server did not confirm that it was ready (GET /readyz got no answer: ConnectError)"
    )
    h.server.readyz = None
    h.server.steps = [
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),
        ("/readyz", a, 500, NOT_READY),
        ("/readyz", a, 200, b"ok"),
        ("/api/v1/namespaces/shop/pods", a, 200, b"{}"),
    ]
    assert h.get().status_code == 200


@pytest.mark.parametrize(
    ("url", "resent"),
    [
        (f"{API}/api/v1/namespaces/shop/configmaps?dryRun=All", True),
        (f"{API}/api/v1/namespaces/shop/configmaps", False),
    ],
)
def test_a_write_that_may_not_be_repeated_counts_once_readiness_is_confirmed(
    url: str, resent: bool
) -> None:
    a = Conn()
    steps: list[Step] = [
        ("/api/v1/namespaces/shop/configmaps", a, 403, FORBIDDEN),
        ("/readyz", a, 200, b"ok"),
    ]
    if resent:
        steps.append(("/api/v1/namespaces/shop/configmaps", a, 403, FORBIDDEN))
    h = Harness(*steps)
    response = h.transport.handle_request(httpx.Request("POST", url, json={}))
    assert response.status_code == 403
    assert not unverified_reason(response)
    assert h.server.steps == []
    # Counted: the repeated answer, or (not repeatable) the one answer, once /readyz said ok.
    denials = [c for c in h.log if c.path.startswith("/api/")]
    assert [c.counted for c in denials] == ([False, True] if resent else [True])


def test_a_write_that_may_not_be_repeated_is_unverified_when_readiness_is_not_confirmed() -> None:
    a = Conn()
    h = Harness(
        ("/api/v1/namespaces/shop/configmaps", a, 403, FORBIDDEN),
        *[("/readyz", a, 500, NOT_READY)] * 20,
        budget=2.0,
    )
    url = f"{API}/api/v1/namespaces/shop/configmaps"
    response = h.transport.handle_request(httpx.Request("POST", url, json={}))
    assert "informer-sync failed" in response.extensions[UNVERIFIED]
    assert [c.counted for c in h.log if c.path.startswith("/api/")] == [False]


def test_asking_again_is_bounded_when_every_answer_uses_a_new_connection() -> None:
    steps: list[Step] = []
    for _ in range(5):
        conn = Conn()
        steps += [
            ("/api/v1/namespaces/shop/pods", conn, 403, FORBIDDEN),
            ("/readyz", conn, 200, b"ok"),
        ]
    h = Harness(*steps)
    response = h.get()
    assert response.status_code == 403
    assert "asked again 4 times" in unverified_reason(response)


def test_readyz_goes_as_the_runner_without_impersonation() -> None:
    seen: list[httpx.Headers] = []
    a = Conn()

    class Recording(Server):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.headers)
            return super().handle_request(request)

    h = Harness()
    h.transport.inner = Recording(
        ("/api/v1/namespaces/shop/pods", a, 403, FORBIDDEN),
        ("/readyz", a, 200, b"ok"),
        ("/api/v1/namespaces/shop/pods", a, 200, b"{}"),
    )
    request = httpx.Request(
        "GET",
        PODS,
        headers={"Authorization": "Bearer t0ken", "Impersonate-User": "alice"},
    )
    h.transport.handle_request(request)
    readyz = seen[1]
    assert readyz["Authorization"] == "Bearer t0ken"
    assert "Impersonate-User" not in readyz


def test_without_connection_information_answers_are_taken_as_they_come() -> None:
    h = Harness(("/api/v1/namespaces/shop/pods", None, 403, FORBIDDEN))
    response = h.get()
    assert response.status_code == 403
    assert not unverified_reason(response)
    assert h.server.seen == ["/api/v1/namespaces/shop/pods"]
