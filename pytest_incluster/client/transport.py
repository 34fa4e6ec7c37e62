"""Retries and the call log, as a transport wrapper so every attempt is seen.

Rules (client-go's, research notes §3.1, made stricter where a test runner needs it):

* 429 and 503 are retried on idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE), waiting
  ``max(Retry-After, backoff)``. POST and PATCH are retried on 429 only when the server sent a
  ``Retry-After`` (API Priority and Fairness rejected the request before running it).
* A connection that failed before anything was sent (refused, unresolvable) is retried for every
  method; a reset or protocol error after sending only for idempotent methods.
* Read timeouts are never retried: the request may have run. A connect timeout (no TCP or TLS
  answer within the connect timeout, during which the kernel already resends its SYN) costs
  that whole timeout again for each retry, and a server that never answered is rarely there a
  moment later: against a server that accepts connections but never answers, retrying turned
  each request into 20 s of waiting, so it is not retried. The one exception: a server that
  answered this client within the last ``RECENT_ANSWER_S`` seconds and now lets a connect time
  out is most likely restarting (a loaded kube-apiserver can open its port seconds before it
  completes TLS handshakes), so that request gets exactly one more attempt.
* TLS verification failures, 401, 403 and every other status are never retried: they do not get
  better by asking again, and a 403 is a test result, not a glitch.
* Backoff is exponential with jitter and a cap; the whole series stays inside ``budget`` seconds
  (waits that would overrun it are not started), and at most ``retries`` extra attempts are made.

Each attempt becomes an :class:`~pytest_incluster.calls.ApiCall` with its attempt number; bodies
are never recorded. Error bodies are read here (they are small) so the call log and the error
raised later both see the server's Status.
"""

from __future__ import annotations

import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from pytest_incluster.calls import ApiCall, CallLog
from pytest_incluster.client.errors import clean_text, parse_error_body, request_path

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUS = frozenset({429, 503})
# A kube-apiserver that has just restarted opens its port before its authentication and RBAC
# caches are filled, and answers 401/403 meanwhile. Only right after this request lost its
# connection are these taken as "still starting" and retried (within the same bounds).
STARTUP_STATUS = frozenset({401, 403})
# A connect timeout within this many seconds of the server's last answer is retried once.
RECENT_ANSWER_S = 60.0
_NOT_SENT = (httpx.ConnectError,)
_LOST_AFTER_SEND = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
_STRIPPED_HEADERS = {b"content-encoding", b"content-length", b"transfer-encoding"}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; ``budget`` bounds the whole series in seconds."""

    retries: int = 3
    backoff_base: float = 0.25
    backoff_cap: float = 5.0
    budget: float = 30.0


def is_tls_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a certificate problem: failed verification or a
    wrong host. Other SSL errors (a connection torn down mid-record) are transport failures and
    must not send the user off checking their CA file."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError | ssl.CertificateError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


# POSTs that only ask a question: the server stores nothing, so repeating one is harmless.
_REVIEW_PATHS = (
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
)


def side_effect_free(request: httpx.Request) -> bool:
    """A write that cannot change anything: an access/identity review, or ``dryRun=All``."""
    if request.url.path in _REVIEW_PATHS:
        return True
    return bool(request.url.params.get("dryRun") == "All")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as whole seconds (the HTTP-date form is ignored, as in client-go)."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(int(value))
    return None


def _buffered(response: httpx.Response, request: httpx.Request) -> httpx.Response:
    """A copy of an error ``response`` with its (decoded) body in memory."""
    content = response.read()
    response.close()
    headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _STRIPPED_HEADERS]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=content,
        request=request,
        extensions=response.extensions,
    )


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport with bounded retries and per-attempt call logging."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        policy: RetryPolicy | None = None,
        call_log: CallLog | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self.call_log = call_log
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._last_answer: float | None = None  # monotonic time of the server's last answer

    def _answered_recently(self) -> bool:
        last = self._last_answer
        return last is not None and self._clock() - last <= RECENT_ANSWER_S

    def _record(
        self,
        request: httpx.Request,
        status: int | None,
        reason: str,
        message: str,
        started: float,
        attempt: int,
    ) -> None:
        if self.call_log is None:
            return
        self.call_log.record(
            ApiCall(
                method=request.method,
                path=request_path(request),
                status=status,
                reason=reason,
                message=clean_text(message),
                duration_s=round(self._clock() - started, 6),
                impersonated_user=request.headers.get("Impersonate-User"),
                attempt=attempt,
            )
        )

    def _backoff(self, attempt: int) -> float:
        delay = min(self.policy.backoff_cap, self.policy.backoff_base * 2.0 ** (attempt - 1))
        return delay * (0.5 + self._jitter() / 2)

    def _wait(self, wait: float, series_start: float) -> bool:
        """Sleep ``wait`` seconds unless that would overrun the budget; True if slept."""
        if self._clock() + wait - series_start > self.policy.budget:
            return False
        self._sleep(wait)
        return True

    @staticmethod
    def _replayable(request: httpx.Request) -> bool:
        return isinstance(request.stream, httpx.ByteStream)

    def _error_retryable(
        self, request: httpx.Request, exc: httpx.TransportError, attempt: int
    ) -> bool:
        if is_tls_failure(exc):
            return False
        if isinstance(exc, httpx.ConnectTimeout):
            return attempt == 1 and self._answered_recently()
        if isinstance(exc, _NOT_SENT):
            return True
        return isinstance(exc, _LOST_AFTER_SEND) and (
            request.method in IDEMPOTENT or side_effect_free(request)
        )

    @staticmethod
    def _status_retryable(request: httpx.Request, response: httpx.Response) -> bool:
        if response.status_code not in RETRY_STATUS:
            return False
        if request.method in IDEMPOTENT:
            return True
        return response.status_code == 429 and retry_after_seconds(response) is not None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        series_start = self._clock()
        attempt = 0
        lost_connection = False
        while True:
            attempt += 1
            started = self._clock()
            may_retry = attempt <= self.policy.retries and self._replayable(request)
            try:
                response = self.inner.handle_request(request)
            except httpx.TransportError as exc:
                self._record(request, None, "", f"{type(exc).__name__}: {exc}", started, attempt)
                lost_connection = True
                if not (may_retry and self._error_retryable(request, exc, attempt)):
                    raise
                if not self._wait(self._backoff(attempt), series_start):
                    raise
                continue
            self._last_answer = self._clock()
            if response.status_code >= 400:
                response = _buffered(response, request)
                _, reason, message = parse_error_body(response.status_code, response.content)
            else:
                reason, message = response.reason_phrase, ""
            self._record(request, response.status_code, reason, message, started, attempt)
            starting = (
                lost_connection
                and response.status_code in STARTUP_STATUS
                and (request.method in IDEMPOTENT or side_effect_free(request))
            )
            if may_retry and (starting or self._status_retryable(request, response)):
                wait = max(retry_after_seconds(response) or 0.0, self._backoff(attempt))
                if self._wait(wait, series_start):
                    response.close()
                    continue
            return response

    def close(self) -> None:
        self.inner.close()
