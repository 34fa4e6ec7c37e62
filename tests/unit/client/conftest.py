"""Helpers for client unit tests: a CA file so a client can be built, and a config for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_incluster.config.model import ClusterConfig
from tests.support.certs import self_signed_ca


@pytest.fixture(scope="session")
def ca_pem() -> bytes:
    """A self-signed CA certificate (PEM) that ssl can load."""
    return self_signed_ca("unit-test-ca")[0]


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
