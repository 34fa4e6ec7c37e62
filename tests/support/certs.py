"""Throwaway certificates for tests that need a CA the real control plane did not issue."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from pytest_incluster.local.pki import new_ca


def self_signed_ca(common_name: str = "test-ca") -> tuple[bytes, bytes]:
    """A self-signed CA certificate and its private key, both PEM."""
    key, cert = new_ca(common_name)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem
