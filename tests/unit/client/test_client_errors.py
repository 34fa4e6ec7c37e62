"""Error bodies become typed errors whose ``str()`` is one clean line.

Real Status bodies from the real server are checked in tests/integration/client; here the
parsing rules themselves: the class per code, verbatim text, and what happens with bodies no
API server writes but proxies and load balancers in front of one do (HTML, empty, huge,
terminal escapes).
"""

from __future__ import annotations

import json

import httpx
import pytest

from pytest_incluster.client.errors import (
    AlreadyExists,
    ApiError,
    ApiUnreachable,
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServerError,
    TLSError,
    TooManyRequests,
    Unauthorized,
    clean_text,
    error_from_response,
)

FORBIDDEN_MESSAGE = (
    'pods is forbidden: User "system:serviceaccount:default:default" cannot list resource '
    '"pods" in API group "" in the namespace "default"'
)


def response(code: int, body: bytes | dict[str, object], path: str = "/api/v1/x") -> httpx.Response:
    content = json.dumps(body).encode() if isinstance(body, dict) else body
    request = httpx.Request("GET", f"https://10.96.0.1:443{path}")
    return httpx.Response(code, content=content, request=request)


def status(code: int, reason: str, message: str, **details: object) -> dict[str, object]:
    body: dict[str, object] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def test_forbidden_str_is_verbatim() -> None:
    error = error_from_response(
        response(
            403,
            status(403, "Forbidden", FORBIDDEN_MESSAGE, kind="pods"),
            "/api/v1/namespaces/default/pods",
        )
    )
    assert type(error) is Forbidden
    assert str(error) == (
        "GET /api/v1/namespaces/default/pods -> 403 Forbidden: pods is forbidden: User "
        '"system:serviceaccount:default:default" cannot list resource "pods" in API group "" in '
        'the namespace "default"'
    )
    assert error.code == 403
    assert error.reason == "Forbidden"
    assert error.server_message == FORBIDDEN_MESSAGE
    assert error.status is not None
    assert error.details == {"kind": "pods"}
    assert isinstance(error, httpx.HTTPStatusError)


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (400, "BadRequest", BadRequest),
        (401, "Unauthorized", Unauthorized),
        (404, "NotFound", NotFound),
        (409, "Conflict", Conflict),
        (409, "AlreadyExists", AlreadyExists),
        (422, "Invalid", Invalid),
        (429, "TooManyRequests", TooManyRequests),
        (500, "InternalError", ServerError),
        (503, "ServiceUnavailable", ServerError),
        (504, "Timeout", ServerError),
        (410, "Expired", ApiError),
    ],
)
def test_class_per_code(code: int, reason: str, cls: type[ApiError]) -> None:
    error = error_from_response(response(code, status(code, reason, "m")))
    assert type(error) is cls
    assert str(error) == f"GET /api/v1/x -> {code} {reason}: m"


def test_already_exists_is_a_conflict() -> None:
    error = error_from_response(
        response(409, status(409, "AlreadyExists", 'configmaps "a" already exists'))
    )
    assert isinstance(error, Conflict)


def test_query_is_part_of_the_path() -> None:
    request = httpx.Request("POST", "https://h/api/v1/namespaces/n/pods?dryRun=All")
    error = error_from_response(httpx.Response(403, content=b"{}", request=request))
    assert str(error).startswith("POST /api/v1/namespaces/n/pods?dryRun=All -> 403 Forbidden")


def test_html_body_from_a_proxy_becomes_the_message() -> None:
    error = error_from_response(response(502, b"<html><body>Bad Gateway</body></html>\n"))
    assert type(error) is ServerError
    assert error.status is None
    assert str(error) == "GET /api/v1/x -> 502: <html><body>Bad Gateway</body></html>"


def test_empty_body_uses_client_go_wording() -> None:
    error = error_from_response(response(404, b""))
    assert (
        str(error)
        == "GET /api/v1/x -> 404 NotFound: the server could not find the requested resource"
    )
    error = error_from_response(response(418, b""))
    assert str(error) == (
        "GET /api/v1/x -> 418: the server responded with the status code 418 but did not return "
        "more information"
    )


def test_truncated_json_falls_back_to_text() -> None:
    error = error_from_response(response(500, b'{"kind":"Status","message":"cut'))
    assert error.status is None
    assert error.server_message == '{"kind":"Status","message":"cut'


def test_long_body_is_cut_to_2048_characters() -> None:
    error = error_from_response(response(500, b"x" * 10_000))
    assert len(error.server_message) == 2048
    assert error.server_message.endswith("\u2026")


def test_escapes_and_control_characters_are_stripped() -> None:
    message = "bad \x1b[31mred\x1b[0m name\nsecond line\x07\x00\x9b2J end"
    error = error_from_response(response(422, status(422, "Invalid", message)))
    assert error.server_message == message  # kept as the server sent it
    assert str(error) == "GET /api/v1/x -> 422 Invalid: bad red name second line end"


def test_clean_text_removes_osc_sequences() -> None:
    assert clean_text("a\x1b]8;;http://evil\x07link\x1b]8;;\x07 b") == "alink b"


def test_status_without_kind_is_still_a_status() -> None:
    # Aggregated APIs and webhooks sometimes answer with a bare {"message": ...}.
    error = error_from_response(response(500, {"message": "webhook said no"}))
    assert str(error) == "GET /api/v1/x -> 500 InternalError: webhook said no"


def test_unreachable_and_tls_messages() -> None:
    error = ApiUnreachable("https://10.96.0.1:443", "ConnectError: [Errno 111] Connection refused")
    assert str(error) == (
        "cannot reach the API server at https://10.96.0.1:443 (ConnectError: [Errno 111] "
        "Connection refused)"
    )
    assert isinstance(error, httpx.TransportError)
    tls = TLSError(
        "https://10.96.0.1:443",
        "certificate verify failed",
        ca_file="/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        host="10.96.0.1",
    )
    assert isinstance(tls, ApiUnreachable)
    assert "using CA file /var/run/secrets/kubernetes.io/serviceaccount/ca.crt" in str(tls)
    assert "for host 10.96.0.1" in str(tls)
