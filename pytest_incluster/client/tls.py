"""The TLS context for the API server: verify against the cluster CA, never silently less.

Verification is switched off only when the configuration says ``insecure_skip_tls_verify``
(the pytest layer prints the warning). Without a CA file the system trust store is used, which
still verifies; there is no path from "CA missing" to "not verified".
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
