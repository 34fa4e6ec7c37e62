"""``pki.verify``: a restart reuses the generated files only if they can still serve.

No control plane is needed: these build and damage PKI directories directly.
"""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pytest_incluster.local.pki import PkiError, generate, verify


def _expired_ca() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pytest-incluster-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2021, 1, 2, tzinfo=datetime.UTC))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_a_generated_directory_verifies(tmp_path: Path) -> None:
    generated = generate(tmp_path)
    assert verify(tmp_path) == generated


Damage = Callable[[Path, Path], None]


def _unlink(name: str) -> Damage:
    return lambda pki, other: (pki / name).unlink()


def _garbage(name: str) -> Damage:
    return lambda pki, other: (pki / name).write_text("not PEM\n")


def _from_other(name: str) -> Damage:
    return lambda pki, other: shutil.copy(other / name, pki / name)


def _swap_keys(pki: Path, other: Path) -> None:
    shutil.copy(pki / "admin.key", pki / "apiserver.key")


def _expire_ca(pki: Path, other: Path) -> None:
    (pki / "ca.crt").write_bytes(_expired_ca())


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (_unlink("sa.key"), "{pki}/sa.key is missing"),
        (_unlink("ca.crt"), "{pki}/ca.crt is missing"),
        (_garbage("ca.crt"), "{pki}/ca.crt does not hold a PEM certificate"),
        (_garbage("admin.key"), "{pki}/admin.key does not hold an unencrypted PEM private key"),
        (_garbage("sa.pub"), "{pki}/sa.pub does not hold a PEM public key"),
        (_from_other("ca.crt"), "{pki}/apiserver.crt was not signed by {pki}/ca.crt"),
        (_from_other("admin.crt"), "{pki}/admin.crt was not signed by {pki}/ca.crt"),
        (_swap_keys, "{pki}/apiserver.key is not the key of {pki}/apiserver.crt"),
        (_from_other("sa.pub"), "{pki}/sa.pub is not the public half of {pki}/sa.key"),
        (_expire_ca, "{pki}/ca.crt expired on 2021-01-02"),
    ],
)
def test_damage_is_named(tmp_path: Path, damage: Damage, problem: str) -> None:
    pki, other = tmp_path / "pki", tmp_path / "other"
    generate(pki)
    generate(other)
    damage(pki, other)
    with pytest.raises(PkiError) as raised:
        verify(pki)
    assert str(raised.value) == problem.format(pki=pki)
