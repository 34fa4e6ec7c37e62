"""Retry rules and per-attempt call logging of ``RetryTransport``.

``Faults`` below is a fake transport. It stands in for faults a real API server cannot be made
to produce on demand: API Priority and Fairness throttling (429 with Retry-After), a 503 from an
apiserver that is shutting down, a connection reset half-way through a request, and a TLS
failure at a chosen attempt. Everything the real server can do (401, 403, Status bodies) is
tested against it in tests/integration/client.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator

import httpx
import pytest

from pytest_incluster.calls import CallLog
from pytest_incluster.client.transport import RetryPolicy, RetryTransport

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Faults(httpx.BaseTransport):
    """Answers each attempt with the next scripted response or exception (see module doc)."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            return step(request)
        return step


def throttled(retry_after: str | None = "2", code: int = 429) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = (
        b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Too many requests, '
        b'please try again later.","reason":"TooManyRequests","code":429}'
    )
    return httpx.Response(code, headers=headers, content=body)


def ok() -> httpx.Response:
    return httpx.Response(200, json={"kind": "APIVersions"})


class Harness:
    def __init__(self, *steps: Step, retries: int = 3, budget: float = 30.0) -> None:
        self.faults = Faults(*steps)
        self.log = CallLog()
        self.sleeps: list[float] = []
        self.now = 0.0
        self.transport = RetryTransport(
            self.faults,
            policy=RetryPolicy(retries=retries, budget=budget, backoff_base=0.25, backoff_cap=5),
            call_log=self.log,
            sleep=self._sleep,
            clock=lambda: self.now,
            jitter=lambda: 1.0,  # the top of the jitter range: backoff is exactly base * 2**n
        )

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def send(self, method: str = "GET", **kwargs: object) -> httpx.Response:
        request = httpx.Request(method, "https://10.96.0.1/api/v1/pods?limit=1", **kwargs)  # type: ignore[arg-type]
        return self.transport.handle_request(request)

    def attempts(self) -> list[tuple[int, int | None]]:
        return [(c.attempt, c.status) for c in self.log]


def test_429_honours_retry_after_then_succeeds() -> None:
    h = Harness(throttled("2"), throttled("1"), ok())
    assert h.send().status_code == 200
    assert h.sleeps == [2.0, 1.0]
    assert h.attempts() == [(1, 429), (2, 429), (3, 200)]
    first = next(iter(h.log))
    assert first.reason == "TooManyRequests"
    assert first.message == "Too many requests, please try again later."
    assert first.path == "/api/v1/pods?limit=1"


def test_backoff_is_exponential_and_used_when_longer_than_retry_after() -> None:
    h = Harness(throttled(None, 503), throttled(None, 503), throttled("0", 503), ok())
    h.send()
    assert h.sleeps == [0.25, 0.5, 1.0]


def test_backoff_is_capped_and_jittered() -> None:
    log = CallLog()
    sleeps: list[float] = []
    transport = RetryTransport(
        Faults(*[throttled(None, 503)] * 8, ok()),
        policy=RetryPolicy(retries=8, budget=1000, backoff_base=1, backoff_cap=4),
        call_log=log,
        sleep=sleeps.append,
        clock=lambda: 0.0,
        jitter=lambda: 0.0,  # the bottom of the range: half the backoff
    )
    transport.handle_request(httpx.Request("GET", "https://h/api"))
    assert sleeps == [0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]


def test_retries_are_bounded() -> None:
    h = Harness(*[throttled("1")] * 5, retries=3)
    assert h.send().status_code == 429
    assert [a for a, _ in h.attempts()] == [1, 2, 3, 4]
    assert len(h.faults.steps) == 1


def test_total_time_is_bounded_by_the_budget() -> None:
    h = Harness(throttled("20"), throttled("20"), ok(), budget=30)
    assert h.send().status_code == 429  # a second 20 s wait would overrun 30 s
    assert h.sleeps == [20.0]


def test_retry_after_longer_than_the_budget_is_not_waited_for() -> None:
    h = Harness(throttled("3600"), ok(), budget=30)
    assert h.send().status_code == 429
    assert h.sleeps == []


def test_http_date_retry_after_falls_back_to_backoff() -> None:
    h = Harness(throttled("Wed, 21 Oct 2015 07:28:00 GMT"), ok())
    assert h.send().status_code == 200
    assert h.sleeps == [0.25]


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_503_is_retried_for_idempotent_methods(method: str) -> None:
    h = Harness(throttled("1", 503), ok())
    assert h.send(method).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_503_is_not_retried_for_writes(method: str) -> None:
    h = Harness(throttled("1", 503), ok())
    assert h.send(method, content=b"{}").status_code == 503
    assert h.sleeps == []


@pytest.mark.parametrize(
    "url",
    [
        "https://10.96.0.1/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "https://10.96.0.1/api/v1/namespaces/x/configmaps?dryRun=All",
    ],
)
@pytest.mark.parametrize("answer", [throttled(None, 503), throttled(None, 429)])
def test_throttled_side_effect_free_posts_are_retried(url: str, answer: httpx.Response) -> None:
    h = Harness(answer, ok())
    request = httpx.Request("POST", url, json={"kind": "SelfSubjectAccessReview"})
    assert h.transport.handle_request(request).status_code == 200
    assert h.attempts() == [(1, answer.status_code), (2, 200)]


def test_post_429_is_retried_only_with_retry_after() -> None:
    h = Harness(throttled("1"), ok())
    assert h.send("POST", content=b"{}").status_code == 200
    h = Harness(throttled(None), ok())
    assert h.send("POST", content=b"{}").status_code == 429


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422, 500, 502, 504])
def test_other_statuses_are_never_retried(code: int) -> None:
    h = Harness(httpx.Response(code, content=b"{}"), ok())
    assert h.send().status_code == code
    assert h.attempts() == [(1, code)]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connect_errors_are_retried_for_every_method(method: str) -> None:
    h = Harness(httpx.ConnectError("[Errno 111] Connection refused"), ok())
    assert h.send(method, content=b"{}").status_code == 200
    calls = list(h.log)
    assert (calls[0].status, calls[0].attempt) == (None, 1)
    assert calls[0].message == "ConnectError: [Errno 111] Connection refused"


@pytest.mark.parametrize(
    "timeout",
    [
        httpx.ConnectTimeout("_ssl.c:989: The handshake operation timed out"),
        httpx.ReadTimeout("The read operation timed out"),
    ],
)
def test_timeouts_are_not_retried(timeout: httpx.TimeoutException) -> None:
    # Each retry would cost the whole timeout again (see the module docstring of transport);
    # this server never answered, so nothing suggests it is merely restarting.
    h = Harness(timeout, ok())
    with pytest.raises(type(timeout)):
        h.send("GET")
    assert h.attempts() == [(1, None)]
    assert h.sleeps == []


def handshake_timeout() -> httpx.ConnectTimeout:
    return httpx.ConnectTimeout("_ssl.c:989: The handshake operation timed out")


def test_a_connect_timeout_right_after_an_answer_gets_one_more_attempt() -> None:
    # The server answered a moment ago: it is most likely restarting, not gone.
    h = Harness(ok(), handshake_timeout(), ok())
    assert h.send("GET").status_code == 200
    h.now += 10.0
    assert h.send("GET").status_code == 200
    assert h.attempts() == [(1, 200), (1, None), (2, 200)]


def test_a_connect_timeout_is_retried_only_once_even_after_an_answer() -> None:
    h = Harness(ok(), handshake_timeout(), handshake_timeout(), ok())
    h.send("GET")
    with pytest.raises(httpx.ConnectTimeout):
        h.send("GET")
    assert h.attempts() == [(1, 200), (1, None), (2, None)]


def test_a_connect_timeout_long_after_the_last_answer_is_not_retried() -> None:
    h = Harness(ok(), handshake_timeout(), ok())
    h.send("GET")
    h.now += 61.0
    with pytest.raises(httpx.ConnectTimeout):
        h.send("GET")
    assert h.attempts() == [(1, 200), (1, None)]


def test_a_read_timeout_is_not_retried_even_after_an_answer() -> None:
    h = Harness(ok(), httpx.ReadTimeout("The read operation timed out"), ok())
    h.send("GET")
    with pytest.raises(httpx.ReadTimeout):
        h.send("GET")
    assert h.attempts() == [(1, 200), (1, None)]


def test_reset_after_sending_is_retried_for_get_only() -> None:
    h = Harness(httpx.ReadError("[Errno 104] Connection reset by peer"), ok())
    assert h.send("GET").status_code == 200
    h = Harness(httpx.RemoteProtocolError("Server disconnected"), ok())
    with pytest.raises(httpx.RemoteProtocolError):
        h.send("POST", content=b"{}")
    assert h.attempts() == [(1, None)]


def test_exhausted_connection_retries_reraise() -> None:
    h = Harness(*[httpx.ConnectError("refused")] * 3, retries=2)
    with pytest.raises(httpx.ConnectError):
        h.send()
    assert h.attempts() == [(1, None), (2, None), (3, None)]


def test_tls_failures_are_not_retried() -> None:
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error = httpx.ConnectError("certificate verify failed")
    error.__cause__ = cause
    h = Harness(error, ok())
    with pytest.raises(httpx.ConnectError):
        h.send()
    assert h.attempts() == [(1, None)]


def test_streaming_bodies_are_not_replayed() -> None:
    def body() -> Iterator[bytes]:
        yield b"{}"

    h = Harness(throttled("1", 503), ok())
    assert h.send("PUT", content=body()).status_code == 503


def test_impersonated_user_is_recorded() -> None:
    h = Harness(ok())
    h.send(headers={"Impersonate-User": "alice", "Authorization": "Bearer secret-xyz"})
    call = next(iter(h.log))
    assert call.impersonated_user == "alice"
    assert "secret-xyz" not in repr(call)


def test_error_bodies_reach_the_client_intact() -> None:
    body = b'{"kind":"Status","message":"nope","reason":"Forbidden","code":403}'
    gzipped = httpx.Response(
        403,
        headers={"Content-Encoding": "gzip"},
        content=__import__("gzip").compress(body),
    )
    h = Harness(gzipped)
    response = h.send()
    assert response.read() == body
    assert next(iter(h.log)).message == "nope"


@pytest.mark.parametrize(
    ("url", "retried"),
    [
        ("https://10.96.0.1/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", True),
        ("https://10.96.0.1/apis/authentication.k8s.io/v1/selfsubjectreviews", True),
        ("https://10.96.0.1/api/v1/namespaces/x/configmaps?dryRun=All", True),
        ("https://10.96.0.1/api/v1/namespaces/x/configmaps", False),
    ],
)
def test_side_effect_free_posts_are_retried_after_a_lost_connection(
    url: str, retried: bool
) -> None:
    lost = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    harness = Harness(lost, ok())
    request = httpx.Request("POST", url, json={"kind": "SelfSubjectAccessReview"})
    if retried:
        assert harness.transport.handle_request(request).status_code == 200
        assert len(harness.faults.requests) == 2
    else:
        with pytest.raises(httpx.RemoteProtocolError):
            harness.transport.handle_request(request)
        assert len(harness.faults.requests) == 1


def test_a_torn_down_tls_record_is_not_called_a_certificate_problem() -> None:
    from pytest_incluster.client.transport import is_tls_failure

    assert not is_tls_failure(ssl.SSLError(1, "[SSL: BAD_RECORD_TYPE] bad record type"))
    assert is_tls_failure(ssl.SSLCertVerificationError(1, "certificate verify failed"))
