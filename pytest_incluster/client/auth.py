"""Bearer authentication that keeps up with token rotation and never shows the token.

A pod's projected service-account token is rewritten by the kubelet before it expires; a client
that read it once gets 401 an hour into a long test run. ``TokenFileAuth`` follows client-go's
cached file token source (research notes §1.2): re-read at most once a minute (monotonic clock),
strip whitespace, keep the last good token if a re-read fails, and re-read straight after a 401.
Unlike client-go it then retries that request once, but only when the file now holds a different
token, so a test never fails on the one request that raced a rotation, and a genuinely rejected
token is not sent twice.

The token only exists as a :class:`Secret`; it is revealed in exactly one place, the header
assignment, and every value read is handed to ``on_secret`` so the report's redactor knows it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path

import httpx

from pytest_incluster.client.errors import TokenFileError
from pytest_incluster.secret import Secret

logger = logging.getLogger("pytest_incluster.client")

REREAD_PERIOD_S = 60.0

SecretSink = Callable[[str], None]


def _set_bearer(request: httpx.Request, token: Secret | None) -> None:
    # An explicit Authorization header on the request wins, as in client-go.
    if token and "Authorization" not in request.headers:
        request.headers["Authorization"] = f"Bearer {token.reveal()}"


def read_token_file(path: Path) -> Secret:
    """The token in ``path``, stripped; :class:`TokenFileError` (one paragraph, the plugin's
    own) when the file cannot be read or is empty, never a bare ``OSError``.

    The reason is in parentheses, not after a colon: ``.../token: No such file`` reads like a
    ``token: value`` pair, and the report's redaction would mask the reason as a secret.
    """
    try:
        token = Secret(path.read_text(encoding="utf-8", errors="replace").strip())
    except OSError as exc:
        raise TokenFileError(
            f"Cannot read the bearer token file {path} ({exc.strerror or exc}). Check "
            "that the file is mounted and readable (a pod's service-account token is "
            "mounted unless automountServiceAccountToken is false), or pass "
            "--incluster-token-file.",
            anchor="token-file",
        ) from None
    if not token:
        raise TokenFileError(
            f"The bearer token file {path} is empty. Check that the file is mounted and "
            "written (a pod's service-account token is mounted unless "
            "automountServiceAccountToken is false), or pass --incluster-token-file.",
            anchor="token-file",
        )
    return token


class TokenFileAuth(httpx.Auth):
    """Bearer token read from a file, re-read as it rotates.

    A failed re-read with an earlier good token logs one warning (through ``logging``, not
    ``warnings``: under ``filterwarnings = error`` a warning would turn a harmless rotation hiccup
    into a failure of whichever test happened to be running) and keeps the old token; the warning
    is repeated only after a later read has succeeded again.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        path: Path,
        *,
        on_secret: SecretSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        period: float = REREAD_PERIOD_S,
    ) -> None:
        self.path = path
        self._on_secret = on_secret
        self._clock = clock
        self._period = period
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._read_at = 0.0
        self._warned = False
        # Read now so a bad file fails at client creation and the redactor learns the token
        # before anything could print it.
        with self._lock:
            self._reload()

    def __repr__(self) -> str:
        return f"TokenFileAuth(path={str(self.path)!r})"

    def _read(self) -> Secret:
        return read_token_file(self.path)

    def _reload(self) -> Secret | None:
        """Re-read the file (lock held); on failure keep the previous token if there is one."""
        try:
            token = self._read()
        except TokenFileError as exc:
            if self._token is None:
                raise
            if not self._warned:
                self._warned = True
                logger.warning("%s Keeping the previously read token.", exc)
            self._read_at = self._clock()
            return self._token
        self._warned = False
        self._read_at = self._clock()
        if token != self._token and self._on_secret is not None:
            self._on_secret(token.reveal())
        self._token = token
        return token

    def current(self) -> Secret | None:
        """The token to send now, re-reading the file when the last read is a minute old."""
        with self._lock:
            if self._token is None or self._clock() - self._read_at >= self._period:
                return self._reload()
            return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        sent = self.current()
        explicit = "Authorization" in request.headers
        _set_bearer(request, sent)
        response = yield request
        if response.status_code != 401 or explicit:
            return
        with self._lock:
            fresh = self._reload()
        if fresh is None or fresh == sent:
            return
        logger.info("401 from %s; the token file changed, retrying once", request.url.path)
        request.headers["Authorization"] = f"Bearer {fresh.reveal()}"
        yield request


class StaticTokenAuth(httpx.Auth):
    """A fixed bearer token (from a kubeconfig's ``token``); nothing to re-read."""

    requires_request_body = False
    requires_response_body = False

    def __init__(self, token: Secret, *, on_secret: SecretSink | None = None) -> None:
        self._token = token
        if on_secret is not None and token:
            on_secret(token.reveal())

    def __repr__(self) -> str:
        return "StaticTokenAuth(token=Secret('***'))"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        _set_bearer(request, self._token)
        yield request
