"""The client's plain-data parts and its behaviour with nobody listening.

Paths, impersonation headers and review bodies are pure functions; the unreachable-server case
uses a real closed port on loopback, not a fake.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.access.review import decision_from_status, review_body
from pytest_incluster.calls import CallLog
from pytest_incluster.client import (
    ApiUnreachable,
    Identity,
    Impersonation,
    K8sClient,
)
from pytest_incluster.client.impersonation import impersonated_headers
from pytest_incluster.client.paths import api_prefix, resource_path, split_api_version
from pytest_incluster.client.tracking import delete_options
from pytest_incluster.config.errors import ConfigError
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.secret import Secret


@dataclass(frozen=True)
class Res:
    name: str
    group: str
    version: str
    namespaced: bool


def test_paths() -> None:
    pods = Res("pods", "", "v1", True)
    deployments = Res("deployments", "apps", "v1", True)
    roles = Res("clusterroles", "rbac.authorization.k8s.io", "v1", False)
    assert resource_path(pods, namespace="a") == "/api/v1/namespaces/a/pods"
    assert resource_path(pods, namespace="a", name="p") == "/api/v1/namespaces/a/pods/p"
    assert resource_path(deployments, namespace="a", name="d") == (
        "/apis/apps/v1/namespaces/a/deployments/d"
    )
    assert resource_path(roles, namespace="ignored", name="r") == (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/r"
    )
    assert (
        resource_path(pods, namespace="a", name="x/../y") == "/api/v1/namespaces/a/pods/x%2F..%2Fy"
    )
    with pytest.raises(ValueError, match="namespaced"):
        resource_path(pods, namespace=None)
    assert split_api_version("apps/v1") == ("apps", "v1")
    assert split_api_version("v1") == ("", "v1")
    assert api_prefix("", "v1") == "/api/v1"


def test_paths_across_namespaces_and_to_subresources() -> None:
    """The probe's paths (``list pods -A``, ``get pods/web --subresource=log``) come from here."""
    pods = Res("pods", "", "v1", True)
    assert resource_path(pods, namespace=None, all_namespaces=True) == "/api/v1/pods"
    assert resource_path(pods, namespace="a", all_namespaces=True) == "/api/v1/namespaces/a/pods"
    assert resource_path(pods, namespace="a", name="w", subresource="log") == (
        "/api/v1/namespaces/a/pods/w/log"
    )
    with pytest.raises(ValueError, match="namespaced"):
        resource_path(pods, namespace="", all_namespaces=False)


def test_one_delete_options_body() -> None:
    assert delete_options() == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Background",
    }
    assert delete_options(uid="u-1", dry_run=True) == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "propagationPolicy": "Background",
        "preconditions": {"uid": "u-1"},
        "dryRun": ["All"],
    }


def test_impersonation_headers_replace_any_previous_ones() -> None:
    before = [
        ("Accept", "application/json"),
        ("impersonate-user", "old"),
        ("Impersonate-Group", "g"),
    ]
    assert impersonated_headers(before, Impersonation.of("new", ["ops"])) == [
        ("Accept", "application/json"),
        ("Impersonate-User", "new"),
        ("Impersonate-Group", "ops"),
    ]
    assert impersonated_headers(before, None) == [("Accept", "application/json")]


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ((), ()),
        (("dev",), ("dev",)),
        (("dev", "system:authenticated"), ("dev", "system:authenticated")),
        (("system:unauthenticated",), ("system:unauthenticated",)),
        (("dev", "dev"), ("dev",)),
    ],
)
def test_impersonation_sends_exactly_the_chosen_groups(
    groups: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    # The server adds system:authenticated itself; sending it would need one more grant.
    assert Impersonation.of("alice", groups).groups == expected


def test_impersonation_headers_one_per_group() -> None:
    headers = Impersonation.of("alice", ["a", "b"], uid="42").headers()
    assert headers == [
        ("Impersonate-User", "alice"),
        ("Impersonate-Group", "a"),
        ("Impersonate-Group", "b"),
        ("Impersonate-Uid", "42"),
    ]
    with pytest.raises(ValueError, match="needs a user"):
        Impersonation.of("", ["a"])


def test_review_body_for_resources_and_paths() -> None:
    request = AccessRequest(verb="create", resource="pods", namespace="ns", subresource="exec")
    assert review_body(request) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "namespace": "ns",
                "verb": "create",
                "resource": "pods",
                "subresource": "exec",
            }
        },
    }
    everywhere = AccessRequest(verb="list", resource="deployments", group="apps")
    assert review_body(everywhere)["spec"] == {
        "resourceAttributes": {"verb": "list", "group": "apps", "resource": "deployments"}
    }
    assert review_body(AccessRequest(verb="get", path="/metrics"))["spec"] == {
        "nonResourceAttributes": {"path": "/metrics", "verb": "get"}
    }


def test_decision_from_status() -> None:
    request = AccessRequest(verb="get", path="/metrics")
    decision = decision_from_status(
        request, {"allowed": False, "reason": "no", "unknownField": 1}, subject="bob"
    )
    assert not decision
    assert (decision.denied, decision.reason, decision.subject) == (False, "no", "bob")
    assert decision_from_status(request, {"allowed": True})


def test_identity_from_user_info() -> None:
    identity = Identity.from_user_info(
        {
            "username": "system:serviceaccount:a:b",
            "uid": "u",
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/pod-name": ["p"]},
        }
    )
    assert identity.is_service_account
    assert identity.groups == ("system:serviceaccounts", "system:authenticated")
    assert identity.extra == {"authentication.kubernetes.io/pod-name": ("p",)}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_is_one_clean_error(cluster_config: ClusterConfig) -> None:
    port = closed_port()
    config = replace(cluster_config, server=f"https://127.0.0.1:{port}")
    log = CallLog()
    with (
        K8sClient(config, retries=1, call_log=log) as client,
        pytest.raises(ApiUnreachable) as info,
    ):
        client.get("/api")
    assert str(info.value) == (
        f"cannot reach the API server at https://127.0.0.1:{port} "
        "(ConnectError: [Errno 111] Connection refused)"
    )
    assert info.value.__suppress_context__
    assert [(c.attempt, c.status) for c in log] == [(1, None), (2, None)]


def test_client_repr_and_auth_never_show_the_token(cluster_config: ClusterConfig) -> None:
    static = replace(cluster_config, token_file=None, token=Secret("static-secret-value"))
    for config in (cluster_config, static):
        with K8sClient(config) as client:
            texts = [repr(client), str(client), repr(client.auth), repr(config), str(config)]
            texts.append(repr(client.build_request("GET", "/api").headers))
            for text in texts:
                assert "unit-token" not in text
                assert "static-secret-value" not in text
    with K8sClient(cluster_config) as client:
        assert repr(client) == "K8sClient(server='https://127.0.0.1:1', namespace='unit')"
        child = client.impersonate("alice")
        assert repr(child) == (
            "K8sClient(server='https://127.0.0.1:1', namespace='unit', impersonating='alice')"
        )


def test_no_token_means_no_authorization_header(cluster_config: ClusterConfig) -> None:
    config = replace(cluster_config, token_file=None)
    with K8sClient(config) as client:
        assert client.auth is None
        assert "Authorization" not in client.build_request("GET", "/api").headers


def test_bad_ca_file_is_a_config_error(cluster_config: ClusterConfig, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("garbage")
    with pytest.raises(ConfigError, match=f"Cannot load the CA certificate file {bad}"):
        K8sClient(replace(cluster_config, ca_file=bad))


def test_impersonation_headers_on_requests(cluster_config: ClusterConfig) -> None:
    with K8sClient(cluster_config) as client:
        child = client.impersonate("alice", ["dev"])
        request = child.build_request("GET", "/api")
        assert request.headers.get_list("Impersonate-Group") == ["dev"]
        assert request.headers["Impersonate-User"] == "alice"
        assert "Impersonate-User" not in client.build_request("GET", "/api").headers
        child.close()  # the shared pool stays usable for the parent
        assert not client.is_closed


def test_httpx_timeout_default(cluster_config: ClusterConfig) -> None:
    with K8sClient(cluster_config) as client:
        assert client.timeout == httpx.Timeout(30.0, connect=5.0)


def test_a_client_cannot_be_switched_to_act_as_someone_else(cluster_config: ClusterConfig) -> None:
    """Impersonation makes a new client; the one fixtures share never changes who it is (a
    switch would let a test's identity leak into fixtures cached by the session)."""
    with K8sClient(cluster_config) as client:
        child = client.impersonate("alice", ["ops"])
        assert client.impersonated_user is None
        assert "Impersonate-User" not in client.build_request("GET", "/api").headers
        assert child.build_request("GET", "/api").headers["Impersonate-User"] == "alice"
        with pytest.raises(AttributeError):
            client.impersonation = child.impersonation  # type: ignore[misc]
        public = [name for name in dir(client) if "impersonat" in name and name[0] != "_"]
        assert sorted(public) == ["impersonate", "impersonated_user", "impersonation"], public


HTTPX_METHODS = (
    "request",
    "stream",
    "send",
    "build_request",
    "get",
    "head",
    "options",
    "post",
    "put",
    "patch",
    "delete",
)


@pytest.mark.parametrize("method", HTTPX_METHODS)
def test_httpx_methods_keep_httpx_signatures(method: str) -> None:
    """``K8sClient`` is presented as an httpx client: ``k8s.delete(url)`` and friends must take
    exactly httpx's arguments (the object helpers have names of their own)."""
    import inspect

    ours = inspect.signature(getattr(K8sClient, method))
    theirs = inspect.signature(getattr(httpx.Client, method))
    assert list(ours.parameters) == list(theirs.parameters), method
    for name, parameter in theirs.parameters.items():
        assert ours.parameters[name].kind == parameter.kind, (method, name)
