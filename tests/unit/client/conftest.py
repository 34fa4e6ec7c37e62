"""Helpers for client unit tests: a CA file so a client can be built, and a config for it."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pytest_incluster.config.model import ClusterConfig


@pytest.fixture(scope="session")
def ca_pem() -> bytes:
    """A self-signed CA certificate (PEM) that ssl can load."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit-test-ca")])
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
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text("unit-token-0123456789\n")
    return path


@pytest.fixture
def cluster_config(tmp_path: Path, ca_pem: bytes, token_file: Path) -> ClusterConfig:
    """A configuration for a server nobody listens on (port 1 on loopback)."""
    ca = tmp_path / "ca.crt"
    ca.write_bytes(ca_pem)
    return ClusterConfig(
        server="https://127.0.0.1:1",
        namespace="unit",
        source="unit test",
        token_file=token_file,
        ca_file=ca,
    )
