"""What a pod sees: the service environment variables and the service-account directory.

Replicates client-go's ``InClusterConfig`` and clientcmd's in-cluster namespace lookup (see
research notes, client-semantics §1.1): ``https://`` + host:port from the environment with IPv6
hosts bracketed, the namespace from ``POD_NAMESPACE``, then the ``namespace`` file, then
``default``. The environment is always a parameter so tests never write ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pytest_incluster.config.errors import ConfigError

SERVICE_HOST = "KUBERNETES_SERVICE_HOST"
SERVICE_PORT = "KUBERNETES_SERVICE_PORT"
POD_NAMESPACE = "POD_NAMESPACE"
# Used when the service-account directory exists but the variables do not (a pod with
# enableServiceLinks: false still has them; a sidecar-less test harness may not).
DEFAULT_SERVER = "https://kubernetes.default.svc"
ENV_SOURCE = f"{SERVICE_HOST}/PORT"


def join_host_port(host: str, port: str) -> str:
    """``host:port``, bracketing IPv6 hosts (``:`` or a ``%`` zone) like Go's JoinHostPort."""
    if ":" in host or "%" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def server_from_env(environ: Mapping[str, str]) -> str | None:
    """The in-cluster server URL from the service variables; None when the host is unset.

    An empty host counts as unset (as in client-go). A host without a port is an error rather
    than a guess: port 443 is common but not universal, and a wrong guess is a confusing timeout.
    """
    host = environ.get(SERVICE_HOST, "").strip()
    if not host:
        return None
    port = environ.get(SERVICE_PORT, "").strip()
    if not port:
        state = "is empty" if SERVICE_PORT in environ else "is not set"
        raise ConfigError(
            f"{SERVICE_HOST} is set ({host}) but {SERVICE_PORT} {state}; both come from the "
            "pod's service links. Set both (the port of the kubernetes service, usually 443), "
            "or pass --incluster-server https://HOST:PORT.",
            anchor="service-port",
        )
    if not port.isdigit():
        raise ConfigError(
            f"{SERVICE_PORT} is {port!r}, which is not a port number. Set it to the port of the "
            "kubernetes service (usually 443), or pass --incluster-server https://HOST:PORT.",
            anchor="service-port",
        )
    return "https://" + join_host_port(host, port)


def namespace_from_file(sa_dir: Path) -> str | None:
    """The stripped content of ``sa_dir/namespace``, or None when missing, unreadable or blank."""
    try:
        text = (sa_dir / "namespace").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None
