"""Retries and the call log, as a transport wrapper so every attempt is seen.

Rules (client-go's, research notes §3.1, made stricter where a test runner needs it):

* 429 and 503 are retried on idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) and on
  writes that cannot change anything (access and identity reviews, ``dryRun=All``), waiting
  ``max(Retry-After, backoff)``. Other POSTs and PATCHes are retried on 429 only when the server
  sent a ``Retry-After`` (API Priority and Fairness rejected the request before running it).
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
* Except a "no" that may come from an API server that is not ready yet (see
  :mod:`~pytest_incluster.client.readiness`): a 403, or a 2xx the request marks as a denial
  (``allowed: false``), over a connection no ``/readyz`` ``ok`` had vouched for when the request
  was sent. Then ``/readyz`` is polled until it answers ``ok``, and the request is sent again if
  that is safe (idempotent or side-effect free). A denial that cannot be confirmed this way
  within the budget is returned marked unverified, and the client raises
  :class:`~pytest_incluster.client.errors.UnverifiedDenial` instead of reporting a verdict. A
  403 to a request that may not be repeated counts once readiness is confirmed right after it.
* Backoff is exponential with jitter and a cap; the whole series stays inside ``budget`` seconds
  (waits that would overrun it are not started), and at most ``retries`` extra attempts are made
  (asking again after confirming readiness is bounded separately, by ``MAX_CONFIRMATIONS``).

Each attempt becomes an :class:`~pytest_incluster.calls.ApiCall` with its attempt number; bodies
are never recorded. Error bodies are read here (they are small) so the call log and the error
raised later both see the server's Status.
"""

from __future__ import annotations

import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from pytest_incluster.calls import ApiCall, CallLog
from pytest_incluster.client.errors import (
    clean_text,
    parse_error_body,
    request_path,
    warning_texts,
)
from pytest_incluster.client.readiness import (
    READY_BODY,
    UNVERIFIED,
    VERIFY_DENIAL,
    DenialCheck,
    Vouches,
)

# A request extension naming the object a request is about ("Pod/web"), kept in its ApiCall
TARGET_EXTENSION = "incluster_target"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUS = frozenset({429, 503})
# A kube-apiserver that has just restarted opens its port before its authentication and RBAC
# caches are filled, and answers 401/403 meanwhile. Only right after this request lost its
# connection are these taken as "still starting" and retried (within the same bounds). A 403
# over a connection that no /readyz "ok" vouched for is handled before, by confirming readiness.
STARTUP_STATUS = frozenset({401, 403})
# A connect timeout within this many seconds of the server's last answer is retried once.
RECENT_ANSWER_S = 60.0
# How often one request is asked again after readiness was confirmed (each time its answer came
# over a connection opened meanwhile, so not yet vouched for).
MAX_CONFIRMATIONS = 4
# The longest pause between two /readyz polls: a starting server becomes ready within moments of
# its RBAC caches filling, and waiting longer only delays the answer.
READYZ_POLL_CAP = 1.0
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
        readyz_url: str | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self.call_log = call_log
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._last_answer: float | None = None  # monotonic time of the server's last answer
        # The API server's /readyz; None disables verifying denials (plain retry behaviour).
        self.readyz_url = readyz_url
        self.vouches = Vouches()
        # Why the last readiness confirmation failed for its whole budget (a server that never
        # says ready, or a runner that may not read /readyz): later ones then poll only once.
        self._unconfirmable = ""
        self._unconfirmable_lock = threading.Lock()

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
        *,
        counted: bool = True,
        warnings: tuple[str, ...] = (),
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
                counted=counted,
                warnings=warnings,
                target=str(request.extensions.get(TARGET_EXTENSION, "")),
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
        if request.method in IDEMPOTENT or side_effect_free(request):
            return True
        return response.status_code == 429 and retry_after_seconds(response) is not None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        series_start = self._clock()
        attempt = 0
        confirmations = 0
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
            self.vouches.note(response)
            if response.status_code >= 400:
                response = _buffered(response, request)
                _, reason, message = parse_error_body(response.status_code, response.content)
            else:
                reason, message = response.reason_phrase, ""
                if self._denial_to_verify(request, response, started):
                    response = _buffered(response, request)
            answer = (request, response.status_code, reason, message, started, attempt)
            warnings = warning_texts(response)
            if not self._unconfirmed_denial(request, response, started):
                self._record(*answer, warnings=warnings)
            else:
                # A request safe to repeat never counts this answer (it is asked again, or
                # raised as unverified); another one counts it if readiness is confirmed now,
                # so its call is recorded once that is known.
                safe = request.method in IDEMPOTENT or side_effect_free(request)
                if safe:
                    self._record(*answer, counted=False)
                ask_again = safe and confirmations < MAX_CONFIRMATIONS and self._replayable(request)
                why = self._confirm_ready(request, series_start)
                if not safe:
                    self._record(*answer, counted=not why, warnings=warnings)
                if not why and ask_again:
                    confirmations += 1
                    response.close()
                    continue
                if why or safe:
                    response.extensions[UNVERIFIED] = why or (
                        "the API server confirmed it was ready only after answering, and the "
                        f"question was asked again {MAX_CONFIRMATIONS} times already"
                    )
                return response
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

    # -- denials from a server that may not be ready (see pytest_incluster.client.readiness) --

    def _denial_to_verify(
        self, request: httpx.Request, response: httpx.Response, started: float
    ) -> bool:
        """A 2xx the request marked as possibly a denial, over a connection not vouched for."""
        check = request.extensions.get(VERIFY_DENIAL)
        return (
            callable(check)
            and self.readyz_url is not None
            and self.vouches.verifiable(response)
            and not self.vouches.vouched_before(response, started)
        )

    def _unconfirmed_denial(
        self, request: httpx.Request, response: httpx.Response, started: float
    ) -> bool:
        """A "no" that is not yet known to come from a ready server."""
        if self.readyz_url is None or not self.vouches.verifiable(response):
            return False
        if self.vouches.vouched_before(response, started):
            return False
        if response.status_code == 403:
            return True
        check: DenialCheck | None = request.extensions.get(VERIFY_DENIAL)
        return response.is_success and check is not None and check(response.content)

    def _confirm_ready(self, like: httpx.Request, series_start: float) -> str:
        """Poll ``/readyz`` (with ``like``'s credential, never its impersonation) until it
        answers ``ok``, within the series' budget. Returns "" when confirmed, else why not."""
        with self._unconfirmable_lock:
            give_up_early = bool(self._unconfirmable)
        headers = {"Accept": "text/plain"}
        for name in ("Authorization", "User-Agent"):
            if name in like.headers:
                headers[name] = like.headers[name]
        timeout = like.extensions.get("timeout")
        poll = 0
        polling_since = self._clock()
        always_answered = True
        while True:
            poll += 1
            readyz = httpx.Request(
                "GET",
                str(self.readyz_url),
                headers=headers,
                extensions={"timeout": timeout} if timeout is not None else {},
            )
            answered, last, retry_after = self._poll_readyz(readyz, poll)
            if not last:
                with self._unconfirmable_lock:
                    self._unconfirmable = ""
                return ""
            always_answered = always_answered and answered
            wait = max(min(self._backoff(poll), READYZ_POLL_CAP), retry_after or 0.0)
            if give_up_early or not self._wait(wait, series_start):
                why = f"the API server did not confirm that it was ready ({last})"
                # Remember only a server that was up and not ready (or refused /readyz) for
                # most of a budget: not one that was down, nor a request that came late.
                polled = self._clock() - polling_since
                if always_answered and polled >= self.policy.budget / 2:
                    with self._unconfirmable_lock:
                        self._unconfirmable = why
                return why

    def _poll_readyz(self, readyz: httpx.Request, poll: int) -> tuple[bool, str, float | None]:
        """One ``/readyz`` request: (got an HTTP answer, "" if ready else what it said,
        Retry-After). An ``ok`` vouches for every connection seen so far."""
        started = self._clock()
        try:
            response = self.inner.handle_request(readyz)
        except httpx.TransportError as exc:
            self._record(readyz, None, "", f"{type(exc).__name__}: {exc}", started, poll)
            return False, f"GET /readyz got no answer: {type(exc).__name__}", None
        self.vouches.note(response)
        try:
            body = response.read()
        except httpx.HTTPError as exc:
            self._record(readyz, None, "", f"{type(exc).__name__}: {exc}", started, poll)
            return False, f"GET /readyz got no answer: {type(exc).__name__}", None
        finally:
            response.close()
        status = response.status_code
        _, reason, message = parse_error_body(status, body) if status >= 400 else (None, "", "")
        self._record(readyz, status, reason or response.reason_phrase, message, started, poll)
        if status == 200 and body.strip() == READY_BODY:
            self.vouches.vouch_all(self._clock())
            return True, "", None
        text = body.decode("utf-8", errors="replace")
        failing = [line[3:] for line in text.splitlines() if line.startswith("[-]")]
        said = clean_text("; ".join(failing) if failing else message or text, 300)
        return True, f"GET /readyz answered {status}: {said}", retry_after_seconds(response)

    def close(self) -> None:
        self.inner.close()
