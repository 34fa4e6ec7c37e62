"""One way to build an HTTP client from a resolved :class:`ClusterConfig`.

Like lightkube's ``Client(config)``: the configuration says where the server is, how to trust it
and how to authenticate; this module turns that into httpx parts. ``K8sClient`` (the tests'
client, its impersonating children and the report upload's client) builds on :func:`auth_for`
and :func:`transport_for`; the local control plane's admin client uses :func:`http_client`, a
plain ``httpx.Client`` without retries or the call log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from pytest_incluster.client.auth import StaticTokenAuth, TokenFileAuth
from pytest_incluster.client.tls import ssl_context
from pytest_incluster.config.model import ClusterConfig


def auth_for(
    config: ClusterConfig, on_secret: Callable[[str], None] | None = None
) -> httpx.Auth | None:
    """Bearer auth from the token file (re-read as it rotates) or the static token, else None.

    ``on_secret`` learns every token value read, so a redactor can hide it from all output.
    """
    if config.token_file is not None:
        return TokenFileAuth(config.token_file, on_secret=on_secret)
    if config.token is not None:
        return StaticTokenAuth(config.token, on_secret=on_secret)
    return None


def transport_for(
    config: ClusterConfig, *, max_connections: int = 16, proxy: str | None = None
) -> httpx.HTTPTransport:
    """The TLS transport: verified against the cluster CA (client certificate if configured)."""
    return httpx.HTTPTransport(
        verify=ssl_context(config),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        proxy=proxy,
    )


def http_client(
    config: ClusterConfig,
    *,
    on_secret: Callable[[str], None] | None = None,
    timeout: httpx.Timeout | float = 30.0,
    **options: Any,
) -> httpx.Client:
    """A plain ``httpx.Client`` for ``config``'s server; ``options`` override the defaults.

    Proxy variables are ignored (``trust_env=False``): they could route around the CA check.
    """
    settings: dict[str, Any] = {
        "base_url": config.server,
        "verify": ssl_context(config),
        "auth": auth_for(config, on_secret),
        "timeout": timeout,
        "trust_env": False,
    }
    settings.update(options)
    return httpx.Client(**settings)
