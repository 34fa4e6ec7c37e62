"""One way to build an HTTP client from a resolved :class:`ClusterConfig`.

Like lightkube's ``Client(config)``: the configuration says where the server is, how to trust it,
how to reach it and how to authenticate; this module turns that into httpx parts. ``K8sClient``
(the tests' client, its impersonating children and the report upload's client) builds on
:func:`auth_for` and :func:`transport_for`; the local control plane's admin client uses
:func:`http_client`, a plain ``httpx.Client`` without retries or the call log. So an exec
plugin, a ``proxy-url``, a ``tls-server-name`` or ``disable-compression`` apply to every
request the plugin makes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from pytest_incluster.client.auth import StaticTokenAuth, TokenFileAuth
from pytest_incluster.client.cert_rotation import CertificateRotation
from pytest_incluster.client.exec_auth import ExecCredentialAuth
from pytest_incluster.client.tls import ssl_context
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.credentials.exec_source import source_for


def auth_for(
    config: ClusterConfig, on_secret: Callable[[str], None] | None = None
) -> httpx.Auth | None:
    """Bearer auth from the token file (re-read as it rotates), the static token or the exec
    plugin, else None.

    ``on_secret`` learns every token value read, so a redactor can hide it from all output.
    """
    if config.token_file is not None:
        return TokenFileAuth(config.token_file, on_secret=on_secret)
    if config.token is not None:
        return StaticTokenAuth(config.token, on_secret=on_secret)
    if config.exec_plugin is not None:
        return ExecCredentialAuth(source_for(config.exec_plugin), on_secret=on_secret)
    return None


class WithoutCompression(httpx.BaseTransport):
    """Sends no ``Accept-Encoding`` (kubeconfig ``disable-compression``, as client-go does):
    the server then answers uncompressed, which is faster on a fast link to a big list."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "Accept-Encoding" in request.headers:
            del request.headers["Accept-Encoding"]
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def transport_for(
    config: ClusterConfig, *, max_connections: int = 16, proxy: str | None = None
) -> httpx.BaseTransport:
    """The TLS transport: verified against the cluster CA (client certificate if configured),
    through the kubeconfig's ``proxy-url`` if set (it wins over ``proxy``, the environment's
    proxy, as in client-go)."""
    context = ssl_context(config)

    def make() -> httpx.HTTPTransport:
        return httpx.HTTPTransport(
            verify=context,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            proxy=config.proxy_url or proxy,
        )

    transport: httpx.BaseTransport = (
        make()
        if config.exec_plugin is None
        else CertificateRotation(make, source_for(config.exec_plugin))
    )
    if config.disable_compression:
        transport = WithoutCompression(transport)
    return transport


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
        "auth": auth_for(config, on_secret),
        "timeout": timeout,
        "trust_env": False,
    }
    settings.update(options)
    if "transport" not in settings and "verify" not in settings:
        settings["transport"] = transport_for(config)
    return httpx.Client(**settings)
