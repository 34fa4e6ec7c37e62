"""Certificates and keys for a local control plane: made on a fresh start, checked on a restart.

* a CA that signs both the serving certificate and the admin client certificate; the same file is
  kube-apiserver's ``--client-ca-file`` and the ``ca.crt`` pods (and our pod-style directories)
  trust;
* a serving certificate whose SANs cover every name a client may use for the API server, in
  particular ``10.0.0.1``, the first address of ``--service-cluster-ip-range=10.0.0.0/24``, and
  the ``kubernetes.default.svc`` names in-cluster clients use;
* an admin client certificate, ``CN=pytest-incluster-admin, O=system:masters``: the apiserver maps
  CN to the user and O to groups, and ``system:masters`` is bound to ``cluster-admin`` by the RBAC
  bootstrap hook, so no controller-manager is needed;
* an RSA key pair for signing service-account tokens (``sa.key`` private, ``sa.pub`` public).

TLS keys are ECDSA P-256 (instant to generate); the token key is RSA-2048 because RS256 is what
every JWT consumer understands. Private keys are written with mode 0600.

The CA's private key is never written: nothing can be re-issued later. A control plane restarted
after a crash therefore reuses these exact files, and :func:`verify` checks first that they are
all there, parse, belong together and are still valid, so a damaged directory is reported instead
of surfacing as a TLS or token error much later.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pytest_incluster.local.errors import LocalError

ADMIN_USER = "pytest-incluster-admin"
ADMIN_GROUP = "system:masters"
SERVING_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
SERVING_IPS = ("127.0.0.1", "::1", "10.0.0.1")
_VALIDITY = datetime.timedelta(days=365)


class PkiError(LocalError):
    """A generated file is missing, unreadable, mismatched or expired; the message names it."""


@dataclass(frozen=True)
class Pki:
    """Paths of the generated files (all inside one directory)."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path

    @classmethod
    def in_dir(cls, directory: Path) -> Pki:
        return cls(
            ca_cert=directory / "ca.crt",
            serving_cert=directory / "apiserver.crt",
            serving_key=directory / "apiserver.key",
            admin_cert=directory / "admin.crt",
            admin_key=directory / "admin.key",
            sa_key=directory / "sa.key",
            sa_pub=directory / "sa.pub",
        )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)  # O_CREAT's mode does not apply to an existing file


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate small clock skew
        .not_valid_after(now + _VALIDITY)
    )


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """Digital signature always (ECDSA); certificate and CRL signing for the CA only."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    san: x509.SubjectAlternativeName | None = None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject, ca_name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(signs_certificates=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        # Python 3.13's default context verifies with VERIFY_X509_STRICT, which refuses a
        # certificate without the key identifier of the CA that signed it.
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def new_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A fresh self-signed CA (key and certificate) that may sign leaf certificates only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(signs_certificates=True),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def generate(directory: Path) -> Pki:
    """Write a fresh CA, serving and admin certificates and SA keys into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki.in_dir(directory)

    ca_key, ca_cert = new_ca("pytest-incluster-ca")
    ca_name = ca_cert.subject
    _write(pki.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))

    san = x509.SubjectAlternativeName(
        [x509.DNSName(n) for n in SERVING_DNS_NAMES]
        + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVING_IPS]
    )
    key, cert = _leaf(
        ca_key, ca_name, _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, san
    )
    _write(pki.serving_cert, cert.public_bytes(serialization.Encoding.PEM))
    _write(pki.serving_key, _pem_key(key), private=True)

    key, cert = _leaf(
        ca_key, ca_name, _name(ADMIN_USER, ADMIN_GROUP), ExtendedKeyUsageOID.CLIENT_AUTH
    )
    _write(pki.admin_cert, cert.public_bytes(serialization.Encoding.PEM))
    _write(pki.admin_key, _pem_key(key), private=True)

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write(pki.sa_key, _pem_key(sa_key), private=True)
    _write(
        pki.sa_pub,
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return pki


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PkiError(f"{path} is missing") from None
    except OSError as error:
        raise PkiError(f"{path} cannot be read ({error.strerror or error})") from None


def _certificate(path: Path, now: datetime.datetime) -> x509.Certificate:
    try:
        cert = x509.load_pem_x509_certificate(_read(path))
    except ValueError:
        raise PkiError(f"{path} does not hold a PEM certificate") from None
    if cert.not_valid_after_utc < now:
        expired = cert.not_valid_after_utc.strftime("%Y-%m-%d")
        raise PkiError(f"{path} expired on {expired}")
    return cert


def _private_key(path: Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError):
        raise PkiError(f"{path} does not hold an unencrypted PEM private key") from None


def _der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verify(directory: Path) -> Pki:
    """Check that the files :func:`generate` wrote into ``directory`` can serve again.

    Every file must exist and parse; the serving and admin certificates must be signed by the
    CA, match their private keys and not have expired; ``sa.pub`` must be ``sa.key``'s public
    half. Raises :class:`PkiError` naming the first file that fails.
    """
    pki = Pki.in_dir(directory)
    now = datetime.datetime.now(datetime.UTC)
    ca = _certificate(pki.ca_cert, now)
    pairs = ((pki.serving_cert, pki.serving_key), (pki.admin_cert, pki.admin_key))
    for cert_path, key_path in pairs:
        cert = _certificate(cert_path, now)
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise PkiError(f"{cert_path} was not signed by {pki.ca_cert}") from None
        if _der(_private_key(key_path).public_key()) != _der(cert.public_key()):
            raise PkiError(f"{key_path} is not the key of {cert_path}")
    sa_public = _private_key(pki.sa_key).public_key()
    try:
        recorded = serialization.load_pem_public_key(_read(pki.sa_pub))
    except ValueError:
        raise PkiError(f"{pki.sa_pub} does not hold a PEM public key") from None
    if _der(sa_public) != _der(recorded):
        raise PkiError(f"{pki.sa_pub} is not the public half of {pki.sa_key}")
    return pki
