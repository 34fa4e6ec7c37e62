"""The TLS context for the API server: verify against the cluster CA, never silently less.

Verification is switched off only when the configuration says ``insecure_skip_tls_verify``
(the pytest layer prints the warning). Without a CA file the system trust store is used, which
still verifies; there is no path from "CA missing" to "not verified".

Strict X.509 checks: from Python 3.13, ``ssl.create_default_context`` sets
``VERIFY_X509_STRICT``, OpenSSL's RFC 5280 conformance checks (a CA certificate must carry
keyUsage, a leaf an authorityKeyIdentifier, a CA's basicConstraints must be critical, ...).
Many cluster CAs fail them: kubeadm, k3s and cloud providers' CAs made by Go's crypto/x509 or by
older tooling often lack one of these extensions, and kubectl, client-go and the kubelet (Go's
verifier) do not apply such checks. For the cluster's own CA (``ca_file``: the service
account's ``ca.crt`` or the kubeconfig's certificate-authority) the flag is therefore cleared:
we trust exactly what kubectl trusts with that file, and the chain, signatures, validity and
host name are still verified. With the system trust store (public CAs, which must conform
anyway) Python's default stays, and a failure of a strict check is explained by
:func:`strict_check_note`.
"""

from __future__ import annotations

import ssl

from pytest_incluster.config.errors import ConfigError
from pytest_incluster.config.model import ClusterConfig


def ssl_context(config: ClusterConfig) -> ssl.SSLContext:
    """An SSLContext for ``config``; ConfigError naming the file when a PEM cannot be loaded."""
    try:
        if config.insecure_skip_tls_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif config.ca_file is not None:
            context = ssl.create_default_context(cafile=str(config.ca_file))
            # As kubectl: no strict RFC 5280 profile checks for the cluster's CA (see above).
            context.verify_flags &= ~ssl.VERIFY_X509_STRICT
        else:
            context = ssl.create_default_context()
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"Cannot load the CA certificate file {config.ca_file} "
            f"(from {config.sources.get('ca_file', config.source)}): {exc}. Point "
            "--incluster-ca-file at the cluster's CA bundle (PEM).",
            anchor="ca-file",
        ) from None
    if config.client_cert_file is not None:
        try:
            context.load_cert_chain(
                str(config.client_cert_file),
                str(config.client_key_file) if config.client_key_file else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"Cannot load the client certificate {config.client_cert_file} with key "
                f"{config.client_key_file} (from {config.sources.get('cert', config.source)}): "
                f"{exc}. Check that both are PEM and that the key matches the certificate.",
                anchor="ca-file",
            ) from None
    return context


# OpenSSL's messages for the checks only VERIFY_X509_STRICT makes (x509_vfy.c, OpenSSL 3).
STRICT_ONLY_FAILURES = (
    "CA cert does not include key usage extension",
    "Path length given without key usage keyCertSign",
    "Missing Authority Key Identifier",
    "Missing Subject Key Identifier",
    "Basic Constraints of CA cert not marked critical",
    "Authority Key Identifier marked critical",
    "Subject Key Identifier marked critical",
    "Subject empty and Subject Alt Name extension not critical",
    "Empty Subject Alternative Name extension",
    "Certificate Signature Algorithm and TBS Signature Algorithm mismatch",
)


def strict_check_note(reason: str) -> str:
    """A sentence for the TLS error when ``reason`` is a failure of a strict X.509 check only,
    else ""; the check that failed is in ``reason`` already."""
    if not any(failure in reason for failure in STRICT_ONLY_FAILURES):
        return ""
    return (
        " The certificate chain fails one of OpenSSL's strict X.509 checks "
        "(VERIFY_X509_STRICT, on by default from Python 3.13), which kubectl does not apply. "
        "Give the cluster's CA with --incluster-ca-file (or in the kubeconfig): "
        "pytest-incluster then verifies it as kubectl does. Otherwise re-issue the "
        "certificate with the missing extension (a CA needs keyUsage keyCertSign)."
    )
