"""Bearer authentication from an exec credential plugin.

Each request takes the plugin's current credential (run again once it expired). A 401 makes the
plugin run again, as client-go does; unlike client-go, the rejected request is then sent once
more when the plugin returned a different token, so the test that met a revoked or rotated
token does not fail for it (the same rule as ``TokenFileAuth``). A plugin that returns a client
certificate instead authenticates in the TLS handshake (see ``client/tls.py``); its requests
carry no bearer header.

An explicit ``Authorization`` header on a request wins, as in client-go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator

import httpx

from pytest_incluster.credentials.exec_source import ExecCredentialSource

logger = logging.getLogger("pytest_incluster.client")


class ExecCredentialAuth(httpx.Auth):
    """Bearer token from ``source``; the plugin runs now, so a broken one fails here."""

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self, source: ExecCredentialSource, *, on_secret: Callable[[str], None] | None = None
    ) -> None:
        self.source = source
        if on_secret is not None:
            source.add_secret_sink(on_secret)
        source.current()

    def __repr__(self) -> str:
        return f"ExecCredentialAuth(command={self.source.plugin.command!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "Authorization" in request.headers:
            yield request
            return
        credential = self.source.current()
        if credential.token:
            request.headers["Authorization"] = f"Bearer {credential.token.reveal()}"
        response = yield request
        if response.status_code != 401:
            return
        fresh = self.source.renew_after_rejection(credential)
        if not fresh.token or fresh.token == credential.token:
            return
        logger.info(
            "401 from %s; the exec plugin gave a new token, retrying once", request.url.path
        )
        request.headers["Authorization"] = f"Bearer {fresh.token.reveal()}"
        yield request
