"""The TLS context for the API server: verify against the cluster CA, never silently less.

Verification is switched off only when the configuration says ``insecure_skip_tls_verify``
(the pytest layer prints the warning). Without a CA file the system trust store is used, which
still verifies; there is no path from "CA missing" to "not verified". A CA file may hold several
CAs (a bundle); any of them may sign the server's certificate.

``tls_server_name`` (a kubeconfig's ``tls-server-name``) replaces the URL's host as the name
sent in SNI and checked against the certificate, on every connection, direct or through a
proxy: the context itself substitutes it, so no connection path can forget it.

A client certificate from an exec plugin is loaded from memory by way of a private file that
exists only during the load (``ssl`` reads keys from files only), and is reloaded when the
plugin returns a new one; connections opened afterwards present the new certificate (and
``client/cert_rotation.py`` makes sure later requests open new connections).

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

import os
import shutil
import ssl
import tempfile
from typing import Any

from pytest_incluster.config.errors import ConfigError
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.credentials.exec_output import ExecCredential
from pytest_incluster.credentials.exec_source import source_for


class _ServerNameContext(ssl.SSLContext):
    """An SSLContext that always uses ``server_name`` for SNI and hostname verification."""

    server_name: str

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["server_hostname"] = self.server_name
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        kwargs["server_hostname"] = self.server_name
        return super().wrap_bio(*args, **kwargs)


def _new_context(config: ClusterConfig) -> ssl.SSLContext:
    if config.tls_server_name is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        context = _ServerNameContext(ssl.PROTOCOL_TLS_CLIENT)
        context.server_name = config.tls_server_name
    # The verification flags Python's default context has (from 3.13: VERIFY_X509_STRICT and
    # VERIFY_X509_PARTIAL_CHAIN), which the plain constructor does not set.
    context.verify_flags = ssl.create_default_context().verify_flags
    return context


def _verifying_context(config: ClusterConfig) -> ssl.SSLContext:
    """What ``ssl.create_default_context`` makes, in the class the server name needs."""
    context = _new_context(config)
    if config.insecure_skip_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif config.ca_file is not None:
        context.load_verify_locations(cafile=str(config.ca_file))
        # As kubectl: no strict RFC 5280 profile checks for the cluster's CA (see above).
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    return context


def load_exec_certificate(context: ssl.SSLContext, credential: ExecCredential, where: str) -> None:
    """Load the plugin's client certificate and key into ``context`` (no-op for a token)."""
    if credential.client_certificate is None or credential.client_key is None:
        return
    directory = tempfile.mkdtemp(prefix="pytest-incluster-exec-")  # 0700
    path = os.path.join(directory, "client.pem")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(credential.client_certificate.rstrip() + b"\n")
            handle.write(credential.client_key.reveal().encode())
        context.load_cert_chain(path)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise ConfigError(
            f"{where}: the exec credential plugin returned a client certificate and key that "
            f"cannot be used ({reason}). Check that both are PEM and that the key matches the "
            "certificate.",
            anchor="exec-plugin",
        ) from None
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _exec_certificate(context: ssl.SSLContext, config: ClusterConfig) -> None:
    plugin = config.exec_plugin
    if plugin is None:
        return
    source = source_for(plugin)
    load_exec_certificate(context, source.current(), plugin.where)
    source.add_listener(lambda credential: load_exec_certificate(context, credential, plugin.where))


def ssl_context(config: ClusterConfig) -> ssl.SSLContext:
    """An SSLContext for ``config``; ConfigError naming the file when a PEM cannot be loaded."""
    try:
        context = _verifying_context(config)
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
    _exec_certificate(context, config)
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
