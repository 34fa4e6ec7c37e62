"""Python 3.13+'s strict X.509 checks against cluster CAs that kubectl accepts.

From Python 3.13, ``ssl.create_default_context`` sets ``VERIFY_X509_STRICT``. These tests run
on any Python: the ``python_313_default`` fixture makes ``ssl.create_default_context`` set the
flag as 3.13 does (on 3.13 it is already set). The server is the fault proxy (a real TLS server
forwarding to the shared kube-apiserver; see faultproxy.py) with a certificate from a CA that
has no keyUsage, as many Go-made cluster CAs lack one extension or another. (The local control
plane's own certificates pass the strict checks: tests/local/test_strict_tls.py.)

For the cluster's own CA (``ca_file``) the client verifies as kubectl does, without the strict
profile checks; through the system trust store the checks stay, and the TLS error says which
check failed and what to do.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from pytest_incluster.client import K8sClient, TLSError
from pytest_incluster.config.model import ClusterConfig
from tests.reliability.cluster import MakeProxy, Runner
from tests.reliability.faultproxy import CertAuthority, FaultProxy
from tests.support.certs import ca_without_key_usage

pytestmark = pytest.mark.controlplane

STRICT_NOTE = (
    " The certificate chain fails one of OpenSSL's strict X.509 checks (VERIFY_X509_STRICT, on "
    "by default from Python 3.13), which kubectl does not apply. Give the cluster's CA with "
    "--incluster-ca-file (or in the kubeconfig): pytest-incluster then verifies it as kubectl "
    "does. Otherwise re-issue the certificate with the missing extension (a CA needs keyUsage "
    "keyCertSign)."
)


@pytest.fixture
def python_313_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ssl.create_default_context`` as in Python 3.13: ``VERIFY_X509_STRICT`` set."""
    original = ssl.create_default_context

    def strict_by_default(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = original(*args, **kwargs)
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        return context

    monkeypatch.setattr(ssl, "create_default_context", strict_by_default)


@pytest.fixture
def no_keyusage_proxy(make_proxy: MakeProxy) -> FaultProxy:
    return make_proxy(ca=CertAuthority(*ca_without_key_usage()))


def client(runner: Runner, server: str, ca_file: Path | None) -> K8sClient:
    config = ClusterConfig(
        server=server,
        namespace=runner.namespace,
        source="test",
        ca_file=ca_file,
        token_file=runner.sa_dir / "token",
    )
    return K8sClient(config, retries=0)


def whoami(runner: Runner, server: str, ca_file: Path | None) -> str:
    with client(runner, server, ca_file) as k8s:
        return k8s.whoami().username


def handshake_error(server: str, ca_file: Path) -> str:
    """What OpenSSL itself says about ``server``'s chain with the strict checks on."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(server)
    context = ssl.create_default_context(cafile=str(ca_file))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    with (
        socket.create_connection((url.hostname, url.port)) as raw,
        pytest.raises(ssl.SSLCertVerificationError) as info,
    ):
        context.wrap_socket(raw, server_hostname=url.hostname)
    return str(info.value)


def test_the_strict_checks_reject_these_chains(
    runner: Runner, no_keyusage_proxy: FaultProxy
) -> None:
    """The premise: with the strict checks, OpenSSL refuses the proxy's chain."""
    assert "CA cert does not include key usage extension" in handshake_error(
        no_keyusage_proxy.url, no_keyusage_proxy.ca_file
    )


def test_cluster_ca_without_key_usage_is_trusted_like_kubectl(
    runner: Runner, no_keyusage_proxy: FaultProxy, python_313_default: None
) -> None:
    assert whoami(runner, no_keyusage_proxy.url, no_keyusage_proxy.ca_file) == runner.username


@pytest.fixture
def system_trust(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``set(path)``: the CA file OpenSSL's default trust store reads (``SSL_CERT_FILE``)."""
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return lambda path: monkeypatch.setenv("SSL_CERT_FILE", str(path))


def test_strict_failure_through_the_system_trust_store_is_explained(
    runner: Runner, no_keyusage_proxy: FaultProxy, python_313_default: None, system_trust: Any
) -> None:
    system_trust(no_keyusage_proxy.ca_file)
    with pytest.raises(TLSError) as info:
        whoami(runner, no_keyusage_proxy.url, None)
    message = str(info.value)
    assert "CA cert does not include key usage extension" in message
    assert message.endswith(STRICT_NOTE)


def test_other_tls_failures_get_no_strict_note(
    runner: Runner, make_proxy: MakeProxy, python_313_default: None, system_trust: Any
) -> None:
    proxy = make_proxy()  # its CA has keyUsage; the trust store holds another CA
    system_trust(runner.cp.ca_file)
    with pytest.raises(TLSError) as info:
        whoami(runner, proxy.url, None)
    message = str(info.value)
    assert "certificate verify failed: unable to get local issuer certificate" in message
    assert "strict" not in message
