"""Kubeconfig cluster fields against the real kube-apiserver: tls-server-name, proxy-url (a
real CONNECT proxy program), a CA bundle of several CAs, and disable-compression.

The API server's certificate names ``localhost``, ``kubernetes``... and ``127.0.0.1``; the
tests connect to ``127.0.0.1`` and choose the name the certificate is checked against.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from pytest_incluster.client import K8sClient, TLSError
from pytest_incluster.client.connect import http_client
from pytest_incluster.client.errors import ProxyRefused
from pytest_incluster.config.cluster_discovery import resolve
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.config.options import Options, Sourced
from tests.support.certs import self_signed_ca

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

PROXY = Path(__file__).resolve().parents[2] / "support" / "connect_proxy.py"


def kubeconfig_config(control_plane: ControlPlane, tmp_path: Path, **cluster: Any) -> ClusterConfig:
    """resolve() for a kubeconfig with the admin client certificate and ``cluster`` fields."""
    body = {
        "server": control_plane.server,
        "certificate-authority": str(control_plane.ca_file),
        **cluster,
    }
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": body}],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate": str(control_plane.admin_cert_file),
                    "client-key": str(control_plane.admin_key_file),
                },
            }
        ],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "admin"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    options = Options(
        sa_dir=Sourced(str(tmp_path / "no-sa"), "default"),
        kubeconfig=Sourced(str(path), "--incluster-kubeconfig"),
    )
    return resolve(options, {}, home=tmp_path, private_dir=tmp_path)


# -- tls-server-name ---------------------------------------------------------------------------


def test_tls_server_name_in_the_certificate_is_accepted(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    config = kubeconfig_config(control_plane, tmp_path, **{"tls-server-name": "kubernetes"})
    with K8sClient(config) as client:
        assert client.whoami().username == "pytest-incluster-admin"


def test_tls_server_name_not_in_the_certificate_is_refused(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """127.0.0.1 is in the certificate, so only checking the given name can fail here."""
    config = kubeconfig_config(
        control_plane, tmp_path, **{"tls-server-name": "api.not-in-the-cert.example"}
    )
    with K8sClient(config, retries=0) as client, pytest.raises(TLSError) as info:
        client.get("/version")
    assert "not trusted for host api.not-in-the-cert.example using CA file" in str(info.value)


# -- a CA bundle -------------------------------------------------------------------------------


def test_a_ca_bundle_with_an_unrelated_ca_first_verifies(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    bundle = self_signed_ca("unrelated-ca")[0] + control_plane.ca_file.read_bytes()
    config = kubeconfig_config(
        control_plane,
        tmp_path,
        **{
            "certificate-authority": None,
            "certificate-authority-data": base64.b64encode(bundle).decode(),
        },
    )
    with K8sClient(config) as client:
        assert client.whoami().username == "pytest-incluster-admin"


def test_a_ca_bundle_without_the_cluster_ca_is_refused(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    bundle = self_signed_ca("unrelated-ca")[0] + self_signed_ca("another-ca")[0]
    config = kubeconfig_config(
        control_plane,
        tmp_path,
        **{
            "certificate-authority": None,
            "certificate-authority-data": base64.b64encode(bundle).decode(),
        },
    )
    with K8sClient(config, retries=0) as client, pytest.raises(TLSError):
        client.get("/version")


# -- proxy-url ---------------------------------------------------------------------------------

StartProxy = Callable[..., str]


@pytest.fixture
def start_proxy(tmp_path: Path) -> Iterator[StartProxy]:
    """``start_proxy(log, refuse=False) -> "http://127.0.0.1:PORT"``: a real CONNECT proxy."""
    processes: list[subprocess.Popen[str]] = []

    def start(log: Path, *, refuse: bool = False) -> str:
        command = [sys.executable, str(PROXY), str(log), *(["--refuse"] if refuse else [])]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
        )
        processes.append(process)
        assert process.stdout is not None
        return f"http://127.0.0.1:{process.stdout.readline().strip()}"

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_requests_go_through_the_proxy_url(
    control_plane: ControlPlane, tmp_path: Path, start_proxy: StartProxy
) -> None:
    log = tmp_path / "proxy.log"
    proxy = start_proxy(log)
    config = kubeconfig_config(control_plane, tmp_path, **{"proxy-url": proxy})
    with K8sClient(config) as client:
        assert client.whoami().username == "pytest-incluster-admin"
    port = control_plane.server.rsplit(":", 1)[1]
    assert log.read_text().splitlines()[0] == f"CONNECT 127.0.0.1:{port}"
    # The report upload's plain client goes the same way.
    with http_client(config) as plain:
        assert plain.get("/version").status_code == 200
    assert len(log.read_text().splitlines()) == 2


def test_without_proxy_url_the_proxy_is_not_used(
    control_plane: ControlPlane, tmp_path: Path, start_proxy: StartProxy
) -> None:
    log = tmp_path / "proxy.log"
    start_proxy(log)
    with K8sClient(kubeconfig_config(control_plane, tmp_path)) as client:
        client.get("/version")
    assert not log.exists()


def test_proxy_url_wins_over_the_environment_proxy(
    control_plane: ControlPlane,
    tmp_path: Path,
    start_proxy: StartProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As in client-go: with --incluster-trust-env, HTTPS_PROXY is used only without proxy-url."""
    env_log, url_log = tmp_path / "env-proxy.log", tmp_path / "url-proxy.log"
    monkeypatch.setenv("HTTPS_PROXY", start_proxy(env_log))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    config = kubeconfig_config(control_plane, tmp_path, **{"proxy-url": start_proxy(url_log)})
    with K8sClient(config, trust_env=True) as client:
        client.get("/version")
    assert len(url_log.read_text().splitlines()) == 1
    assert not env_log.exists()
    # Without proxy-url the environment's proxy is the one used.
    with K8sClient(kubeconfig_config(control_plane, tmp_path), trust_env=True) as client:
        client.get("/version")
    assert len(env_log.read_text().splitlines()) == 1


def test_a_proxy_that_refuses_connect_is_reported(
    control_plane: ControlPlane, tmp_path: Path, start_proxy: StartProxy
) -> None:
    proxy = start_proxy(tmp_path / "proxy.log", refuse=True)
    config = kubeconfig_config(control_plane, tmp_path, **{"proxy-url": proxy})
    with K8sClient(config, retries=0) as client, pytest.raises(ProxyRefused) as info:
        client.get("/version")
    assert str(info.value) == (
        f"The proxy {proxy} (proxy-url from kubeconfig ~/kubeconfig context ctx, cluster 'c', "
        f"user 'admin') did not open a tunnel to the API server at {control_plane.server} "
        "(ProxyError: 403 Forbidden). Check that the proxy is running and allows CONNECT to the "
        "API server's host and port (and any credentials it needs), or remove proxy-url to "
        "reach the server directly."
    )
    assert info.value.help_url == "README.md#proxy"


# -- disable-compression -----------------------------------------------------------------------


def _big_list_encoding(config: ClusterConfig, admin: K8sClient, namespace: str) -> str | None:
    """Content-Encoding of a list larger than the API server's gzip threshold (128 KiB)."""
    for index in range(3):
        admin.post(
            f"/api/v1/namespaces/{namespace}/configmaps",
            json={"metadata": {"name": f"big-{index}"}, "data": {"filler": "x" * 100_000}},
        )
    with K8sClient(config) as client:
        response = client.get(f"/api/v1/namespaces/{namespace}/configmaps")
        assert len(response.json()["items"]) >= 3
        return response.headers.get("Content-Encoding")


def test_responses_are_compressed_by_default(
    control_plane: ControlPlane, tmp_path: Path, admin: K8sClient, unique_namespace: str
) -> None:
    config = kubeconfig_config(control_plane, tmp_path)
    assert _big_list_encoding(config, admin, unique_namespace) == "gzip"


def test_disable_compression_asks_for_uncompressed_responses(
    control_plane: ControlPlane, tmp_path: Path, admin: K8sClient, unique_namespace: str
) -> None:
    config = kubeconfig_config(control_plane, tmp_path, **{"disable-compression": True})
    assert _big_list_encoding(config, admin, unique_namespace) is None
