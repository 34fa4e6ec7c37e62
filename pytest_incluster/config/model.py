"""The resolved cluster configuration: one immutable object per test session."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pytest_incluster.secret import Secret


@dataclass(frozen=True)
class ClusterConfig:
    """Everything needed to talk to the API server, with where each part came from.

    ``token_file`` (re-read as it rotates) and ``token`` (static, e.g. from a kubeconfig) are
    mutually exclusive; both None means no bearer auth (``kubectl proxy`` sidecar, client
    certificates). ``ca_file`` is always a path: inline kubeconfig data is written to a private
    temporary file by the resolver so fixtures and subprocesses can use it.
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
        if self.ca_file is not None:
            rows.append(("CA file", str(self.ca_file), self.sources.get("ca_file", "")))
        if self.client_cert_file is not None:
            rows.append(
                ("client certificate", str(self.client_cert_file), self.sources.get("cert", ""))
            )
        if self.insecure_skip_tls_verify:
            rows.append(("TLS verification", "DISABLED", self.sources.get("insecure", "")))
        return rows
