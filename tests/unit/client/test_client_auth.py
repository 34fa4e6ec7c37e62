"""Token file re-reading: rotation, the one-minute period, keeping the last good token, 401.

The auth flow is driven directly (it is a generator of requests and responses), with a fake
clock; no HTTP is involved. The server side of a rejected token is covered against the real
kube-apiserver in tests/integration/client.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from pytest_incluster.client.auth import StaticTokenAuth, TokenFileAuth
from pytest_incluster.client.errors import TokenFileError
from pytest_incluster.secret import Secret


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bearer(auth: httpx.Auth, headers: dict[str, str] | None = None) -> str | None:
    request = httpx.Request("GET", "https://h/api", headers=headers)
    flow = auth.sync_auth_flow(request)
    sent = next(flow)
    value: str | None = sent.headers.get("Authorization")
    return value


def test_token_is_stripped_and_sent(token_file: Path) -> None:
    seen: list[str] = []
    auth = TokenFileAuth(token_file, on_secret=seen.append)
    assert bearer(auth) == "Bearer unit-token-0123456789"
    assert seen == ["unit-token-0123456789"]


def test_reread_at_most_once_a_minute(token_file: Path) -> None:
    clock = Clock()
    seen: list[str] = []
    auth = TokenFileAuth(token_file, clock=clock, on_secret=seen.append)
    token_file.write_text("rotated")
    clock.now += 59.9
    assert bearer(auth) == "Bearer unit-token-0123456789"
    clock.now += 0.1
    assert bearer(auth) == "Bearer rotated"
    assert seen == ["unit-token-0123456789", "rotated"]


def test_unchanged_token_is_not_reported_again(token_file: Path) -> None:
    clock = Clock()
    seen: list[str] = []
    auth = TokenFileAuth(token_file, clock=clock, on_secret=seen.append)
    clock.now += 120
    bearer(auth)
    assert seen == ["unit-token-0123456789"]


@pytest.mark.parametrize("damage", ["delete", "empty"])
def test_failed_reread_keeps_the_last_token_and_logs_once(
    token_file: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    clock = Clock()
    auth = TokenFileAuth(token_file, clock=clock)
    if damage == "delete":
        token_file.unlink()
    else:
        token_file.write_text("  \n")
    caplog.set_level(logging.WARNING, logger="pytest_incluster.client")
    for _ in range(3):
        clock.now += 61
        assert bearer(auth) == "Bearer unit-token-0123456789"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(token_file) in warnings[0].getMessage()
    assert "Keeping the previously read token" in warnings[0].getMessage()
    assert "unit-token" not in caplog.text
    # After a good read the warning may come again for a new failure.
    token_file.write_text("fresh")
    clock.now += 61
    assert bearer(auth) == "Bearer fresh"
    token_file.unlink()
    clock.now += 61
    assert bearer(auth) == "Bearer fresh"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2


@pytest.mark.parametrize(("content", "problem"), [(None, "Cannot read"), ("\n", "is empty")])
def test_no_token_ever_is_an_error(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    with pytest.raises(TokenFileError, match=problem) as info:
        TokenFileAuth(path)
    assert str(path) in str(info.value)
    assert "--incluster-token-file" in str(info.value)


def drive_401(auth: TokenFileAuth, token_file: Path, new_content: str | None) -> list[str | None]:
    """Send a request, answer 401, optionally rotate first; return the Authorization values sent."""
    request = httpx.Request("GET", "https://h/api/v1/pods")
    flow = auth.sync_auth_flow(request)
    sent = [next(flow).headers.get("Authorization")]
    if new_content is not None:
        token_file.write_text(new_content)
    try:
        retry = flow.send(httpx.Response(401, request=request))
    except StopIteration:
        return sent
    sent.append(retry.headers.get("Authorization"))
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(401, request=retry))
    return sent


def test_401_rereads_immediately_and_retries_once(token_file: Path) -> None:
    clock = Clock()
    auth = TokenFileAuth(token_file, clock=clock)  # no time passes: the period is not the reason
    sent = drive_401(auth, token_file, "rotated-now")
    assert sent == ["Bearer unit-token-0123456789", "Bearer rotated-now"]
    assert bearer(auth) == "Bearer rotated-now"


def test_401_with_an_unchanged_file_is_not_retried(token_file: Path) -> None:
    auth = TokenFileAuth(token_file, clock=Clock())
    assert drive_401(auth, token_file, None) == ["Bearer unit-token-0123456789"]


def test_explicit_authorization_header_wins_and_is_not_retried(token_file: Path) -> None:
    auth = TokenFileAuth(token_file)
    assert bearer(auth, {"Authorization": "Bearer mine"}) == "Bearer mine"
    request = httpx.Request("GET", "https://h/api", headers={"Authorization": "Bearer mine"})
    flow = auth.sync_auth_flow(request)
    next(flow)
    token_file.write_text("rotated")
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(401, request=request))


def test_static_token_auth(token_file: Path) -> None:
    seen: list[str] = []
    auth = StaticTokenAuth(Secret("static-secret-value"), on_secret=seen.append)
    assert bearer(auth) == "Bearer static-secret-value"
    assert seen == ["static-secret-value"]


def test_reprs_never_show_the_token(token_file: Path) -> None:
    file_auth = TokenFileAuth(token_file)
    static = StaticTokenAuth(Secret("static-secret-value"))
    for text in (repr(file_auth), str(file_auth), repr(static), str(static), repr(vars(static))):
        assert "unit-token" not in text
        assert "static-secret-value" not in text
    assert repr(file_auth) == f"TokenFileAuth(path={str(token_file)!r})"
    request = httpx.Request("GET", "https://h/api")
    next(file_auth.sync_auth_flow(request))
    assert "unit-token" not in repr(request.headers)
