"""Checking an API server URL before anything is sent to it.

A bearer token sent over plain HTTP can be read by anyone on the path, so ``http://`` is accepted
only for loopback addresses: that is how a ``kubectl proxy`` sidecar is reached (it adds its own
credentials), and the traffic never leaves the pod.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pytest_incluster.config.errors import ConfigError


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (the only hosts plain HTTP may use)."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def check_server(url: str, source: str) -> str:
    """Return ``url`` without a trailing slash, or raise ConfigError naming ``source``."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(
            f"The API server URL {url!r} from {source} is not a valid URL ({exc}). "
            "Give it as https://HOST:PORT, for example https://10.96.0.1:443.",
            anchor="server-url",
        ) from None
    del port
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ConfigError(
            f"The API server URL {url!r} from {source} must start with https:// and name a host, "
            "for example https://10.96.0.1:443 (http:// is accepted only for a kubectl proxy on "
            "127.0.0.1).",
            anchor="server-url",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"The API server URL {url!r} from {source} uses plain http:// to a host that is not "
            "loopback, which would send credentials unencrypted. Use https://, or reach the API "
            "through a kubectl proxy sidecar at http://127.0.0.1:8001.",
            anchor="server-url",
        )
    return url.rstrip("/")
