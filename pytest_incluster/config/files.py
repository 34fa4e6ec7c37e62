"""Checks on the files a configuration points at, done once when the session starts.

A missing CA or an empty token file found at configure time is one clear message naming the file
and where its path came from; found later it would be a TLS or 401 error in the middle of the
first test, blamed on the test. The token's value is never kept here: only whether it is usable.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pytest_incluster.config.errors import ConfigError
from pytest_incluster.secret import Secret


def read_token_file(
    path: Path, source: str, *, fix: str, error: type[ConfigError] = ConfigError
) -> Secret:
    """The token in ``path``, stripped; ``error`` naming the file, its source and ``fix``.

    The one place a token file is read: the start-up check, the rotating client auth and the
    ``k8s_token`` fixture all come here, so they agree on what "unusable" means and say it the
    same way.
    """
    try:
        token = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError as exc:
        raise error(
            f"Cannot read the token file {path} (from {source}): {exc.strerror or exc}. {fix}",
            anchor="token-file",
        ) from None
    if not token:
        raise error(f"The token file {path} (from {source}) is empty. {fix}", anchor="token-file")
    return Secret(token)


def check_token_file(path: Path, source: str, *, fix: str) -> None:
    """Raise ConfigError unless ``path`` is a readable file with a non-blank token."""
    read_token_file(path, source, fix=fix)


def check_ca_file(path: Path, source: str, *, fix: str) -> None:
    """Raise ConfigError unless ``path`` holds at least one PEM certificate Python can load.

    Failing here is what "fail closed" means: without a CA there is no verification, and we never
    fall back to an unverified connection.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the CA certificate file {path} (from {source}): "
            f"{exc.strerror or exc}. {fix}",
            anchor="ca-file",
        ) from None
    if not data.strip():
        raise ConfigError(
            f"The CA certificate file {path} (from {source}) is empty. {fix}", anchor="ca-file"
        )
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            f"The CA certificate file {path} (from {source}) does not contain a PEM certificate "
            f"Python can load ({exc}). {fix}",
            anchor="ca-file",
        ) from None


def check_readable(path: Path, what: str, source: str, *, fix: str) -> None:
    """Raise ConfigError unless ``path`` is a readable regular file (client cert, key)."""
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the {what} {path} (from {source}): {exc.strerror or exc}. {fix}",
            anchor="client-certificate",
        ) from None
    if not path.is_file():
        raise ConfigError(
            f"The {what} {path} (from {source}) is not a regular file. {fix}",
            anchor="client-certificate",
        )
