"""Helpers for configuration tests: a fake pod filesystem and real PEM certificates.

Everything lives under ``tmp_path``; nothing reads ``os.environ`` or ``/var/run``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_pem_cert(common_name: str = "test-ca") -> tuple[bytes, bytes]:
    """A self-signed CA certificate and its key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


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
