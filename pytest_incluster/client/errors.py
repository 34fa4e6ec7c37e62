"""Typed errors for what the API server said, or why it could not be asked.

A failing access test is read from its error line, so ``str()`` of every error here is one line
a person can act on: ``GET /api/v1/namespaces/default/pods -> 403 Forbidden: pods is forbidden:
User "..." cannot list ...``. Server text is untrusted (object names, webhook messages, proxy
HTML), so control characters and ANSI escapes are stripped and non-Status bodies are cut to
2048 characters, like client-go's ``maxUnstructuredResponseTextBytes``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from pytest_incluster.client.tls import strict_check_note
from pytest_incluster.config.errors import ConfigError
from pytest_incluster.errors import InclusterError

MAX_BODY_TEXT = 2048

# CSI and OSC escape sequences, then any remaining C0/C1 control character except tab/newline,
# which are folded to spaces separately so a message stays one line.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b.?"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[\t\n]+")

# The Status.reason values client-go uses when a response carries no Status body.
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
# client-go's NewGenericServerResponse wording, used when the body is empty.
_GENERIC = {
    400: "the server rejected our request for an unknown reason",
    401: "the server has asked for the client to provide credentials",
    403: "the server does not allow access to the requested resource",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    409: "the server reported a conflict",
    422: "the server rejected our request due to an error in our request",
    429: "the server has received too many requests and has asked us to try again later",
    500: "an error on the server has prevented the request from succeeding",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be "
    "processing the request",
}


def clean_text(text: str, limit: int = MAX_BODY_TEXT) -> str:
    """``text`` without escape sequences or control characters, on one line, at most ``limit``."""
    text = _ESCAPES.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _CONTROL.sub("", text).strip()
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text


_WARNING_HEADER = re.compile(r'^\s*\d{3}\s+\S+\s+"(?P<text>(?:[^"\\]|\\.)*)"')


def warning_texts(response: httpx.Response) -> tuple[str, ...]:
    """The texts of the response's ``Warning`` headers (RFC 7234 ``299 - "text"``, one header
    each): Pod Security ``warn`` mode, policies with ``validationActions: [Warn]``, deprecated
    APIs. Untrusted text, cleaned like messages."""
    texts = []
    for header in response.headers.get_list("Warning"):
        m = _WARNING_HEADER.match(header)
        text = re.sub(r"\\(.)", r"\1", m["text"]) if m else header
        texts.append(clean_text(text))
    return tuple(texts)


def request_path(request: httpx.Request) -> str:
    """Path plus query as sent, e.g. ``/api/v1/namespaces/x/pods?dryRun=All``."""
    return request.url.raw_path.decode("ascii", errors="replace")


def parse_error_body(code: int, content: bytes) -> tuple[dict[str, Any] | None, str, str]:
    """(Status dict or None, reason, message) from an error response body.

    A JSON object with ``reason`` or ``message`` is taken as a Status (aggregated APIs and
    webhooks sometimes omit ``kind``); anything else becomes the message text itself.
    """
    status: dict[str, Any] | None = None
    try:
        parsed = json.loads(content) if content else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and ("message" in parsed or "reason" in parsed):
        status = parsed
    fallback_reason = _REASONS.get(code, "")
    if status is not None:
        reason = status.get("reason")
        message = status.get("message")
        return (
            status,
            str(reason) if reason else fallback_reason,
            str(message) if message is not None else "",
        )
    text = content.decode("utf-8", errors="replace")
    message = clean_text(text) if text.strip() else ""
    if not message:
        message = _GENERIC.get(
            code,
            f"the server responded with the status code {code} but did not return more information",
        )
    return None, fallback_reason, message


class ApiError(httpx.HTTPStatusError, InclusterError):
    """A non-2xx answer from the API server, with the parsed ``Status`` when there was one.

    Subclasses ``httpx.HTTPStatusError`` so code written for plain httpx still catches it.
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        status: dict[str, Any] | None,
        reason: str,
        message: str,
    ) -> None:
        self.status = status
        self.code = response.status_code
        self.reason = reason
        self.server_message = message
        self.method = response.request.method
        self.path = request_path(response.request)
        text = f"{self.method} {self.path} -> {self.code}"
        if reason:
            text += f" {clean_text(reason, 200)}"
        if message:
            text += f": {clean_text(message)}"
        super().__init__(text, request=response.request, response=response)

    @property
    def details(self) -> dict[str, Any]:
        """``Status.details`` (name, group, kind, causes), or an empty dict."""
        details = (self.status or {}).get("details")
        return details if isinstance(details, dict) else {}


class BadRequest(ApiError):
    """400: malformed request (also: impersonating groups without a user)."""


class Unauthorized(ApiError):
    """401: the server did not accept our credentials (expired, invalid or wrong audience)."""


class Forbidden(ApiError):
    """403: authenticated, but an authorizer or admission said no."""

    anchor = "access-denied"


class NotFound(ApiError):
    """404: no such object, or no such resource type."""


class Conflict(ApiError):
    """409: optimistic-lock or apply conflict, a failed precondition, or already existing."""


class AlreadyExists(Conflict):
    """409 with reason AlreadyExists: a create for a name that is taken."""


class Invalid(ApiError):
    """422: the object failed validation; ``details['causes']`` lists the fields."""


class TooManyRequests(ApiError):
    """429: API Priority and Fairness rejected the request (retried before this is raised)."""


class ServerError(ApiError):
    """5xx: the server (or a webhook, or an aggregated API) failed."""


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Invalid,
    429: TooManyRequests,
}


class MalformedResponse(ApiError):
    """A 2xx answer whose body is not the JSON the API promises (a proxy page, a cut-off
    body). Raised instead of a bare ``JSONDecodeError`` so the user sees which request it was."""


def json_body(response: httpx.Response) -> Any:
    """``response.json()``, or :class:`MalformedResponse` naming the request and the body."""
    try:
        return response.json()
    except ValueError as exc:
        shown = clean_text(response.text, 200) or "(empty)"
        raise MalformedResponse(
            response,
            status=None,
            reason="",
            message=f"the response body is not valid JSON ({exc}); it begins: {shown}",
        ) from None


def error_from_response(response: httpx.Response) -> ApiError:
    """The typed error for a non-2xx ``response`` whose body has been read."""
    status, reason, message = parse_error_body(response.status_code, response.content)
    cls = _BY_CODE.get(response.status_code, ApiError)
    if response.status_code >= 500:
        cls = ServerError
    elif cls is Conflict and reason == "AlreadyExists":
        cls = AlreadyExists
    return cls(response, status=status, reason=reason, message=message)


class UnverifiedDenial(httpx.HTTPError, InclusterError):
    """A "no" (403, or ``allowed: false``) from an API server not known to be ready.

    A kube-apiserver answers before its RBAC caches are filled and then denies what it would
    allow (see :mod:`pytest_incluster.client.readiness`); the client confirms readiness and asks
    again, and raises this when that did not succeed within the request's budget. It is not a
    :class:`Forbidden`: nothing here proves the subject lacks the permission, so neither an
    ``expect_forbidden`` test nor an access check may count it.
    """

    anchor = "not-counted-as-a-denial"

    def __init__(self, response: httpx.Response, why: str) -> None:
        self.response = response
        self.code = response.status_code
        self.why = clean_text(why, 600)
        request = response.request
        super().__init__(
            f"{request.method} {request_path(request)} -> {self.code}: not counted as a denial, "
            f"because {self.why}"
        )
        self.request = request


class ApiUnreachable(httpx.TransportError, InclusterError):
    """No HTTP answer: refused, reset, timed out or not resolvable.

    ``str()`` is ``cannot reach the API server at URL (reason)``; the original httpx error is
    ``__cause__``-free on purpose (its traceback can hold request headers) and kept as
    ``.reason`` text only. ``sent`` is False when the request was not sent at all because
    earlier ones got no answer (see :mod:`~pytest_incluster.client.breaker`); ``note`` then
    says so after the last real failure's message.
    """

    anchor = "cannot-reach"

    def __init__(
        self,
        server: str,
        reason: str,
        *,
        request: httpx.Request | None = None,
        note: str = "",
    ) -> None:
        self.server = server
        self.reason = clean_text(reason, 500)
        self.note = note
        self.sent = not note
        message = self._message()
        super().__init__(f"{message}; {note}" if note else message, request=request)

    def _message(self) -> str:
        return f"cannot reach the API server at {self.server} ({self.reason})"


class ProxyRefused(ApiUnreachable):
    """The kubeconfig's ``proxy-url`` did not open a tunnel (CONNECT) to the API server."""

    anchor = "proxy"

    def __init__(
        self,
        server: str,
        reason: str,
        *,
        proxy: str,
        source: str,
        request: httpx.Request | None = None,
    ) -> None:
        self.proxy = proxy
        self.source = source
        super().__init__(server, reason, request=request)

    def _message(self) -> str:
        return (
            f"The proxy {self.proxy} (proxy-url from {self.source}) did not open a tunnel to "
            f"the API server at {self.server} ({self.reason}). Check that the proxy is running "
            "and allows CONNECT to the API server's host and port (and any credentials it "
            "needs), or remove proxy-url to reach the server directly."
        )


class TLSError(ApiUnreachable):
    """The TLS handshake failed: the server's certificate is not trusted for this host."""

    anchor = "tls-verification-failed"

    def __init__(
        self,
        server: str,
        reason: str,
        *,
        ca_file: str,
        host: str,
        request: httpx.Request | None = None,
    ) -> None:
        self.ca_file = ca_file
        self.host = host
        super().__init__(server, reason, request=request)

    def _message(self) -> str:
        return (
            f"TLS verification failed for the API server at {self.server}: its certificate is "
            f"not trusted for host {self.host} using CA file {self.ca_file} ({self.reason}). "
            "Check that the CA file belongs to this cluster (--incluster-ca-file, or the "
            "kubeconfig's certificate-authority) and that the server URL uses a name or IP in "
            "the certificate." + strict_check_note(self.reason)
        )


class TokenFileError(ConfigError):
    """The token file could not be read and there is no earlier token to keep using."""


class AccessWaitTimeout(AssertionError, InclusterError):
    """``wait_for_access`` gave up; carries the last decision seen."""

    anchor = "wait-for-access"

    def __init__(self, message: str, decision: Any) -> None:
        super().__init__(message)
        self.decision = decision


class CleanupError(InclusterError):
    """Objects a test created could not be deleted; the message lists them."""

    anchor = "cleanup"


class IdentityUnavailable(InclusterError, LookupError):
    """The server serves no SelfSubjectReview API, so it cannot say who the client is.

    Still a ``LookupError`` for code written against the earlier bare ``LookupError``.
    """
