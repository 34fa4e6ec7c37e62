"""The session control plane is a real, correctly configured kube-apiserver."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from pytest_incluster.local.controlplane import ControlPlane, process_rss_kib
from pytest_incluster.local.processes import port_in_use
from pytest_incluster.local.versions import selected_kubernetes_version

pytestmark = pytest.mark.controlplane


def test_ready_with_default_namespace_and_release_version(control_plane: ControlPlane) -> None:
    with control_plane.admin_client() as client:
        readyz = client.get("/readyz")
        default = client.get("/api/v1/namespaces/default")
        version = client.get("/version").json()
    assert (readyz.status_code, readyz.text) == (200, "ok")
    assert default.json()["status"]["phase"] == "Active"
    # The builder's ldflags make /version report the release, not v0.0.0-master.
    assert version["gitVersion"] == selected_kubernetes_version()
    assert (version["major"], version["minor"]) == (
        "1",
        selected_kubernetes_version().split(".")[1],
    )


def test_admin_is_a_cluster_admin_by_client_certificate(control_plane: ControlPlane) -> None:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    with control_plane.admin_client() as client:
        who = client.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json=review)
    user = who.json()["status"]["userInfo"]
    assert user["username"] == "pytest-incluster-admin"
    assert "system:masters" in user["groups"]


def test_serving_certificate_names_every_in_cluster_address(control_plane: ControlPlane) -> None:
    cert = x509.load_pem_x509_certificate(control_plane.pki.serving_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    }
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {
        "127.0.0.1",
        "::1",
        "10.0.0.1",
    }
    # And the real server presents it: a handshake checking an in-cluster name succeeds.
    context = ssl.create_default_context(cafile=str(control_plane.ca_file))
    with (
        socket.create_connection(("127.0.0.1", control_plane.apiserver_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="kubernetes.default.svc") as tls,
    ):
        assert tls.version() is not None


def test_anonymous_requests_are_authenticated_as_anonymous(control_plane: ControlPlane) -> None:
    context = ssl.create_default_context(cafile=str(control_plane.ca_file))
    with httpx.Client(base_url=control_plane.server, verify=context, trust_env=False) as client:
        version = client.get("/version")
        pods = client.get("/api/v1/namespaces/default/pods")
    assert version.status_code == 200  # system:public-info-viewer
    assert pods.status_code == 403
    assert 'User "system:anonymous"' in pods.json()["message"]


def test_pod_security_admission_is_enforced(
    control_plane: ControlPlane, unique_namespace: str
) -> None:
    from pytest_incluster.local.provision import ensure_namespace

    ensure_namespace(
        control_plane, unique_namespace, {"pod-security.kubernetes.io/enforce": "restricted"}
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged"},
        "spec": {
            "containers": [
                {"name": "c", "image": "busybox", "securityContext": {"privileged": True}}
            ]
        },
    }
    with control_plane.admin_client() as client:
        created = client.post(f"/api/v1/namespaces/{unique_namespace}/pods", json=pod)
    assert created.status_code == 403
    assert 'violates PodSecurity "restricted:latest"' in created.json()["message"]


def test_attach_finds_the_running_control_plane(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    attached = ControlPlane.attach(control_plane.state_dir)
    assert attached is not None
    assert attached.server == control_plane.server
    assert attached.apiserver_ref == control_plane.apiserver_ref
    assert ControlPlane.attach(tmp_path) is None


def test_start_refuses_a_state_dir_with_a_live_control_plane(
    control_plane: ControlPlane,
) -> None:
    from pytest_incluster.local.controlplane import ControlPlaneError

    with pytest.raises(ControlPlaneError, match="already running") as raised:
        ControlPlane.start(control_plane.state_dir, assets=control_plane.assets)
    assert "cluster down" in str(raised.value)
    assert control_plane.running


def test_both_processes_report_their_memory(control_plane: ControlPlane) -> None:
    etcd, apiserver = (
        process_rss_kib(control_plane.etcd_ref),
        process_rss_kib(control_plane.apiserver_ref),
    )
    assert etcd is not None
    assert apiserver is not None
    assert apiserver > etcd > 1024


def test_apiserver_restarts_on_the_same_port_keeping_objects(
    control_plane: ControlPlane, unique_namespace: str
) -> None:
    server, old = control_plane.server, control_plane.apiserver_ref
    control_plane.stop_apiserver()
    try:
        assert not port_in_use(control_plane.apiserver_port)
        with (
            control_plane.admin_client(timeout=2.0) as client,
            pytest.raises(httpx.ConnectError),
        ):
            client.get("/readyz")
    finally:
        control_plane.start_apiserver()
    assert control_plane.server == server
    assert control_plane.apiserver_ref != old
    with control_plane.admin_client() as client:
        assert client.get(f"/api/v1/namespaces/{unique_namespace}").status_code == 200
    reattached = ControlPlane.attach(control_plane.state_dir)
    assert reattached is not None
    assert reattached.apiserver_ref == control_plane.apiserver_ref
