"""A pod-faithful run: plain ``pytest``, no ``--incluster-*`` option, the service-account
directory at the real path in a private mount namespace, ``KUBERNETES_SERVICE_HOST/PORT`` set,
against the real kube-apiserver. Whatever the plugin believes about pods is checked here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pytest_incluster.local.versions import selected_kubernetes_version
from tests.support.podmount import run_in_pod

pytestmark = pytest.mark.controlplane

SUITE = """
import pytest
from pytest_incluster.client import Forbidden


def test_discovery(k8s):
    body = k8s.get("/api").json()
    assert body["kind"] == "APIVersions"
    assert "v1" in body["versions"]


def test_configuration_is_the_pod_one(k8s_config, k8s_server, k8s_namespace, k8s_ca_file):
    assert k8s_server == "{server}"
    assert str(k8s_config.token_file) == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert str(k8s_ca_file) == "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    assert k8s_namespace == "default"


def test_identity(k8s_identity):
    assert k8s_identity.username == "system:serviceaccount:default:default"
    assert "system:serviceaccounts:default" in k8s_identity.groups


@pytest.mark.expect_forbidden(verb="list", resource="pods", namespace="default")
def test_cannot_list_pods(k8s):
    k8s.get("/api/v1/namespaces/default/pods")


@pytest.mark.expect_forbidden(verb="list", resource="namespaces")
def test_cannot_list_namespaces(k8s):
    k8s.get("/api/v1/namespaces")


@pytest.mark.expect_forbidden
def test_wrongly_expected_forbidden(k8s):
    k8s.get("/version")


def test_unmarked_denial(k8s):
    k8s.get("/api/v1/namespaces/default/secrets")


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "path"),
    [
        ("list", "pods", "default", "/api/v1/namespaces/default/pods"),
        ("list", "namespaces", "", "/api/v1/namespaces"),
        ("get", "serviceaccounts", "default", "/api/v1/namespaces/default/serviceaccounts"),
    ],
)
def test_can_i_agrees_with_the_real_request(k8s, verb, resource, namespace, path):
    decision = k8s.can_i(verb, resource, namespace=namespace)
    try:
        k8s.get(path)
        real = True
    except Forbidden:
        real = False
    assert bool(decision) == real


def test_can_i_path_agrees(k8s):
    assert k8s.can_i_path("get", "/version")
    assert not k8s.can_i_path("get", "/metrics")
"""


def test_pod_faithful_run(
    control_plane: object, make_service_account: object, tmp_path: Path
) -> None:
    server: str = control_plane.server  # type: ignore[attr-defined]
    sa_dir: Path = make_service_account("default", "default")  # type: ignore[operator]
    port = urlsplit(server).port
    pod_server = f"https://127.0.0.1:{port}"
    (tmp_path / "test_in_pod.py").write_text(SUITE.replace("{server}", pod_server))
    result = run_in_pod(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-rA", "test_in_pod.py"],
        sa_dir,
        pod_server,
        cwd=tmp_path,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert (
        f"incluster: server {pod_server} | kubernetes {selected_kubernetes_version()} | identity "
        "system:serviceaccount:default:default" in out
    ), out
    for passed in (
        "test_discovery",
        "test_configuration_is_the_pod_one",
        "test_identity",
        "test_cannot_list_pods",
        "test_cannot_list_namespaces",
        "test_can_i_path_agrees",
    ):
        assert f"PASSED test_in_pod.py::{passed}" in out, out
    assert out.count("PASSED test_in_pod.py::test_can_i_agrees_with_the_real_request") == 3, out
    assert "FAILED test_in_pod.py::test_wrongly_expected_forbidden" in out, out
    assert (
        "expected 403 Forbidden, but the test ended without one.\n"
        "Requests made by this test:\n"
        "  GET /version -> 200 OK"
    ) in out, out
    assert (
        'access denied: secrets is forbidden: User "system:serviceaccount:default:default" '
        'cannot list resource "secrets" in API group "" in the namespace "default"'
    ) in out, out
    assert "2 failed, 9 passed" in out, out
