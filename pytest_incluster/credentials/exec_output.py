"""Reading a plugin's stdout: an ``ExecCredential`` with a token or a client certificate.

The checks and their order follow client-go: the document must be JSON with ``kind:
ExecCredential`` and the ``apiVersion`` the kubeconfig configured; ``status`` must hold a
``token`` or both ``clientCertificateData`` and ``clientKeyData``; ``expirationTimestamp``
(RFC 3339), when given, says until when the credential may be reused. Stricter than client-go,
a credential that has already expired is refused: using it would fail every request with 401
and run the plugin again for each.

Problems are :class:`OutputProblem` texts that never contain the output itself (it is a
secret); the runner adds the place and the plugin's stderr.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pytest_incluster.errors import InclusterError
from pytest_incluster.secret import Secret

KIND = "ExecCredential"


class OutputProblem(InclusterError):
    """Why stdout is not a usable credential; ``str()`` never quotes the output."""

    anchor = "exec-plugin"


@dataclass(frozen=True)
class ExecCredential:
    """What a plugin returned. ``expires`` is None for a credential without expiry."""

    token: Secret | None
    client_certificate: bytes | None  # PEM, not secret
    client_key: Secret | None  # PEM
    expires: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires

    def secrets(self) -> list[str]:
        """The values a redactor must hide."""
        found = []
        if self.token:
            found.append(self.token.reveal())
        if self.client_key:
            found.append(self.client_key.reveal())
        return found


def _document(stdout: bytes) -> dict[str, Any]:
    try:
        document = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        what = "nothing" if not stdout.strip() else "text that is not JSON"
        raise OutputProblem(f"it printed {what} instead of an {KIND}") from None
    if not isinstance(document, dict):
        raise OutputProblem(f"it printed JSON that is not an {KIND} object")
    return document


def _expiry(status: dict[str, Any]) -> datetime | None:
    value = status.get("expirationTimestamp")
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise OutputProblem(
            f"its expirationTimestamp {value!r} is not an RFC 3339 time such as "
            "2030-01-02T15:04:05Z"
        ) from None
    if parsed.tzinfo is None:
        raise OutputProblem(f"its expirationTimestamp {value!r} has no time zone (add Z)")
    return parsed


def _text(status: dict[str, Any], key: str) -> str:
    value = status.get(key) or ""
    if not isinstance(value, str):
        raise OutputProblem(f"its status.{key} is not a string")
    return value


def parse_credential(stdout: bytes, api_version: str, now: datetime) -> ExecCredential:
    """The credential in ``stdout``; OutputProblem when it is not one client-go would use."""
    document = _document(stdout)
    returned = document.get("apiVersion")
    if not returned:
        raise OutputProblem(f"its {KIND} has no apiVersion (expected {api_version})")
    if returned != api_version:
        raise OutputProblem(
            f"it is configured to use API version {api_version}, and the plugin returned "
            f"version {returned}"
        )
    if document.get("kind") != KIND:
        raise OutputProblem(f"it printed kind {document.get('kind')!r}, not {KIND}")
    status = document.get("status")
    if not isinstance(status, dict):
        raise OutputProblem(f"its {KIND} has no status")
    token = _text(status, "token").strip()
    cert = _text(status, "clientCertificateData")
    key = _text(status, "clientKeyData")
    if not token and not cert and not key:
        raise OutputProblem("it returned neither a token nor a client certificate and key")
    if bool(cert) != bool(key):
        raise OutputProblem("it returned only a client certificate or a key, not both")
    credential = ExecCredential(
        token=Secret(token) if token else None,
        client_certificate=cert.encode() if cert else None,
        client_key=Secret(key) if key else None,
        expires=_expiry(status),
    )
    if credential.expired(now):
        assert credential.expires is not None
        raise OutputProblem(
            "it returned a credential that had already expired "
            f"(expirationTimestamp {credential.expires.isoformat()}, the time here is "
            f"{now.replace(microsecond=0).isoformat()})"
        )
    return credential
