"""The resolved cluster configuration: one immutable object per test session."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pytest_incluster.config.exec_spec import ExecPlugin
from pytest_incluster.secret import Secret


@dataclass(frozen=True)
class ClusterConfig:
    """Everything needed to talk to the API server, with where each part came from.

    ``token_file`` (re-read as it rotates) and ``token`` (static, e.g. from a kubeconfig) are
    mutually exclusive; both None means no bearer auth (``kubectl proxy`` sidecar, client
    certificates). ``ca_file`` is always a path: inline kubeconfig data is written to a private
    temporary file by the resolver so fixtures and subprocesses can use it.

    ``exec_plugin`` (a kubeconfig user's credential plugin) replaces token and client
    certificate: the client runs it for a token or a certificate when it needs one.
    ``tls_server_name`` is the name the server's certificate is checked against (and sent as
    SNI) instead of the URL's host; ``proxy_url`` an HTTP(S) proxy reached with CONNECT;
    ``disable_compression`` asks for uncompressed responses (no ``Accept-Encoding``).
    """

    server: str
    namespace: str
    source: str  # overall, e.g. "in-cluster service account (/var/run/secrets/...)"
    sources: dict[str, str] = field(default_factory=dict)  # field name -> where it came from
    token_file: Path | None = None
    token: Secret | None = None
    ca_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    insecure_skip_tls_verify: bool = False
    exec_plugin: ExecPlugin | None = None
    tls_server_name: str | None = None
    proxy_url: str | None = None
    disable_compression: bool = False

    def describe(self) -> list[tuple[str, str, str]]:
        """(setting, value, source) rows for the terminal header and the report; no secrets."""
        rows = [
            ("server", self.server, self.sources.get("server", self.source)),
            ("namespace", self.namespace, self.sources.get("namespace", self.source)),
        ]
        if self.token_file is not None:
            rows.append(("token file", str(self.token_file), self.sources.get("token", "")))
        elif self.token is not None:
            rows.append(("token", "(static token)", self.sources.get("token", "")))
        elif self.exec_plugin is not None:
            rows.append(
                ("exec credential plugin", self.exec_plugin.command, self.sources.get("exec", ""))
            )
        if self.ca_file is not None:
            rows.append(("CA file", str(self.ca_file), self.sources.get("ca_file", "")))
        if self.client_cert_file is not None:
            rows.append(
                ("client certificate", str(self.client_cert_file), self.sources.get("cert", ""))
            )
        if self.tls_server_name is not None:
            rows.append(("TLS server name", self.tls_server_name, self.sources.get("tls", "")))
        if self.proxy_url is not None:
            rows.append(("proxy", shown_proxy(self.proxy_url), self.sources.get("proxy", "")))
        if self.insecure_skip_tls_verify:
            rows.append(("TLS verification", "DISABLED", self.sources.get("insecure", "")))
        return rows


def shown_proxy(url: str) -> str:
    """``url`` without a user or password, for headers and messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    host = authority.rpartition("@")[2]
    return f"{scheme}://{host}{slash}{path}"
