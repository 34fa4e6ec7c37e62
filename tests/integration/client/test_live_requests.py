"""Requests, errors, identity and TLS against the real kube-apiserver, configured as in a pod."""

from __future__ import annotations

import base64
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
import yaml

from pytest_incluster.calls import CallLog
from pytest_incluster.client import (
    ApiUnreachable,
    Forbidden,
    K8sClient,
    NotFound,
    TLSError,
    TokenFileAuth,
    Unauthorized,
)
from pytest_incluster.config.cluster_discovery import resolve
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.config.options import Options, Sourced
from tests.support.certs import self_signed_ca

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane


def test_pod_style_configuration(
    runner: K8sClient, runner_dir: Path, unique_namespace: str
) -> None:
    config = runner.config
    assert config.token_file == runner_dir / "token"
    assert config.ca_file == runner_dir / "ca.crt"
    assert config.namespace == unique_namespace
    assert config.sources["server"] == "KUBERNETES_SERVICE_HOST/PORT"


def test_discovery_document_and_call_log(runner: K8sClient, calls: CallLog) -> None:
    body = runner.get("/api").json()
    assert body["kind"] == "APIVersions"
    assert [(c.method, c.path, c.status, c.reason, c.attempt) for c in calls] == [
        ("GET", "/api", 200, "OK", 1)
    ]


def test_server_version(runner: K8sClient) -> None:
    assert runner.server_version().startswith("v1.")


def test_listing_pods_is_forbidden_verbatim(
    runner: K8sClient, unique_namespace: str, calls: CallLog
) -> None:
    ns = unique_namespace
    with pytest.raises(Forbidden) as info:
        runner.get(f"/api/v1/namespaces/{ns}/pods")
    message = (
        f'pods is forbidden: User "system:serviceaccount:{ns}:runner" cannot list resource '
        f'"pods" in API group "" in the namespace "{ns}"'
    )
    assert str(info.value) == f"GET /api/v1/namespaces/{ns}/pods -> 403 Forbidden: {message}"
    assert info.value.server_message == message
    assert info.value.details == {"kind": "pods"}
    # The first "no" on a new connection counts only once /readyz has said "ok" (a starting
    # server denies what it would allow; pytest_incluster.client.readiness): asked again.
    assert [(c.path, c.status, c.reason, c.message, c.attempt, c.counted) for c in calls] == [
        (f"/api/v1/namespaces/{ns}/pods", 403, "Forbidden", message, 1, False),
        ("/readyz", 200, "OK", "", 1, True),
        (f"/api/v1/namespaces/{ns}/pods", 403, "Forbidden", message, 2, True),
    ]


def test_cluster_scope_and_non_resource_messages(runner: K8sClient, unique_namespace: str) -> None:
    user = f"system:serviceaccount:{unique_namespace}:runner"
    with pytest.raises(Forbidden) as info:
        runner.get("/api/v1/nodes")
    assert info.value.server_message == (
        f'nodes is forbidden: User "{user}" cannot list resource "nodes" in API group "" at the '
        "cluster scope"
    )
    with pytest.raises(Forbidden) as info:
        runner.get("/metrics")
    assert info.value.server_message == f'forbidden: User "{user}" cannot get path "/metrics"'


def test_not_found_verbatim(admin: K8sClient, unique_namespace: str) -> None:
    path = f"/api/v1/namespaces/{unique_namespace}/configmaps/nope"
    with pytest.raises(NotFound) as info:
        admin.get(path)
    assert str(info.value) == f'GET {path} -> 404 NotFound: configmaps "nope" not found'


def test_garbage_token_is_unauthorized_and_sent_once(
    control_plane: ControlPlane, runner: K8sClient, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("garbage-token-value")
    calls = CallLog()
    config = replace(runner.config, token_file=token)
    with K8sClient(config, call_log=calls) as client, pytest.raises(Unauthorized) as info:
        client.get("/api")
    assert str(info.value) == "GET /api -> 401 Unauthorized: Unauthorized"
    assert [(c.status, c.attempt) for c in calls] == [(401, 1)]
    assert "garbage-token-value" not in repr(info.value)


def test_401_rereads_the_rotated_token_and_retries_once(
    runner: K8sClient, runner_dir: Path, tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("stale-token")
    calls = CallLog()
    with K8sClient(replace(runner.config, token_file=token), call_log=calls) as client:
        # The kubelet rotates the file; the cached (stale) token is still within its minute.
        token.write_text((runner_dir / "token").read_text())
        assert client.get("/api").status_code == 200
    assert [c.status for c in calls] == [401, 200]


def test_secrets_seen_by_the_redactor(runner_dir: Path, runner: K8sClient) -> None:
    seen: list[str] = []
    with K8sClient(runner.config, on_secret=seen.append) as client:
        client.get("/api")
        assert seen == [(runner_dir / "token").read_text().strip()]
        assert seen[0] not in repr(client)
        assert isinstance(client.auth, TokenFileAuth)


def test_whoami(runner: K8sClient, unique_namespace: str) -> None:
    identity = runner.whoami()
    assert identity.username == f"system:serviceaccount:{unique_namespace}:runner"
    assert f"system:serviceaccounts:{unique_namespace}" in identity.groups
    assert "system:authenticated" in identity.groups
    assert identity.uid


def other_ca(tmp_path: Path) -> Path:
    path = tmp_path / "other-ca.crt"
    path.write_bytes(self_signed_ca("some-other-ca")[0])
    return path


def test_wrong_ca_is_a_tls_error(runner: K8sClient, tmp_path: Path) -> None:
    ca = other_ca(tmp_path)
    calls = CallLog()
    config = replace(runner.config, ca_file=ca)
    with K8sClient(config, call_log=calls) as client, pytest.raises(TLSError) as info:
        client.get("/api")
    message = str(info.value)
    assert message.startswith(f"TLS verification failed for the API server at {config.server}")
    assert f"for host 127.0.0.1 using CA file {ca}" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert len(calls) == 1  # never retried


@pytest.fixture
def relay(control_plane: ControlPlane) -> Iterator[str]:
    """``127.0.0.2:<port>`` relaying bytes to the API server, whose certificate does not name
    127.0.0.2: the real server's real certificate, reached under a wrong host."""
    target = ("127.0.0.1", urlsplit(control_plane.server).port)
    listener = socket.socket()
    listener.bind(("127.0.0.2", 0))
    listener.listen()
    stop = threading.Event()

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(target)
            threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.2:{listener.getsockname()[1]}"
    stop.set()
    listener.close()
    thread.join(timeout=5)


def test_certificate_for_another_host_is_a_tls_error(runner: K8sClient, relay: str) -> None:
    config = replace(runner.config, server=f"https://{relay}")
    with K8sClient(config) as client, pytest.raises(TLSError) as info:
        client.get("/api")
    assert "for host 127.0.0.2 using CA file" in str(info.value)
    assert "IP address mismatch" in str(info.value)


def test_stopped_server_is_unreachable(runner: K8sClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config: ClusterConfig = replace(runner.config, server=f"https://127.0.0.1:{port}")
    with K8sClient(config, retries=0) as client, pytest.raises(ApiUnreachable) as info:
        client.get("/api")
    assert str(info.value).startswith(f"cannot reach the API server at https://127.0.0.1:{port} (")
    assert not isinstance(info.value, TLSError)


@pytest.fixture
def kubectl_proxy(control_plane: ControlPlane, kubectl: Path) -> Iterator[str]:
    """A real ``kubectl proxy`` on loopback (as a sidecar would run), with admin credentials."""
    process = subprocess.Popen(
        [
            str(kubectl),
            "--kubeconfig",
            str(control_plane.admin_kubeconfig),
            "proxy",
            "--port=0",
            "--address=127.0.0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "Starting to serve on 127.0.0.1:PORT"
        address = line.strip().rsplit(" ", 1)[-1]
        assert address.startswith("127.0.0.1:"), line
        yield f"http://{address}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_kubectl_proxy_sidecar_without_a_token(
    control_plane: ControlPlane, runner_dir: Path, kubectl_proxy: str
) -> None:
    options = Options(
        sa_dir=Sourced(str(runner_dir), "default"),
        server=Sourced(kubectl_proxy, "--incluster-server"),
    )
    config = resolve(options, {}, home=runner_dir)
    assert config.token_file is None
    calls = CallLog()
    with K8sClient(config, call_log=calls) as client:
        assert client.get("/api").json()["kind"] == "APIVersions"
        assert client.whoami().username == "pytest-incluster-admin"  # the proxy's, not ours
    assert calls  # requests went through the retrying, logging transport


def test_workstation_kubeconfig_with_client_certificate(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    options = Options(
        sa_dir=Sourced(str(tmp_path / "no-sa"), "default"),
        kubeconfig=Sourced(str(control_plane.admin_kubeconfig), "--incluster-kubeconfig"),
    )
    config = resolve(options, {}, home=tmp_path, private_dir=tmp_path)
    assert config.client_cert_file is not None
    with K8sClient(config) as client:
        assert client.whoami().username == "pytest-incluster-admin"


def test_workstation_kubeconfig_with_inline_token_and_ca(
    control_plane: ControlPlane, runner_dir: Path, unique_namespace: str, tmp_path: Path
) -> None:
    token = (runner_dir / "token").read_text()
    ca = base64.b64encode(control_plane.ca_file.read_bytes()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "ci",
        "clusters": [
            {
                "name": "c",
                "cluster": {"server": control_plane.server, "certificate-authority-data": ca},
            }
        ],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [
            {"name": "ci", "context": {"cluster": "c", "user": "u", "namespace": unique_namespace}}
        ],
    }
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text(yaml.safe_dump(doc))
    options = Options(sa_dir=Sourced(str(tmp_path / "no-sa"), "default"))
    config = resolve(options, {}, home=tmp_path, private_dir=tmp_path)
    assert config.source == "kubeconfig ~/.kube/config context ci"
    seen: list[str] = []
    with K8sClient(config, on_secret=seen.append) as client:
        assert client.whoami().username == f"system:serviceaccount:{unique_namespace}:runner"
        assert client.namespace == unique_namespace
    assert seen == [token]
    assert token not in repr(config)
