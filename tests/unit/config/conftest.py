"""Helpers for configuration tests: a fake pod filesystem and real PEM certificates.

Everything lives under ``tmp_path``; nothing reads ``os.environ`` or ``/var/run``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.certs import self_signed_ca


def make_pem_cert(common_name: str = "test-ca") -> tuple[bytes, bytes]:
    """A self-signed CA certificate and its key, both PEM."""
    return self_signed_ca(common_name)


@pytest.fixture(scope="session")
def pem() -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM)."""
    return make_pem_cert()


@pytest.fixture
def make_sa_dir(tmp_path: Path, pem: tuple[bytes, bytes]) -> Callable[..., Path]:
    """Factory for a pod-style service-account directory under tmp_path."""

    def make(
        *,
        token: str | None = "tok-abc\n",
        ca: bytes | None = None,
        namespace: str | None = "team-a\n",
        name: str = "sa",
    ) -> Path:
        directory = tmp_path / name
        directory.mkdir()
        if token is not None:
            (directory / "token").write_text(token)
        (directory / "ca.crt").write_bytes(pem[0] if ca is None else ca)
        if namespace is not None:
            (directory / "namespace").write_text(namespace)
        return directory

    return make
