"""API discovery against the real kube-apiserver: both protocols, kubectl's type resolution."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from pytest_incluster.client import K8sClient
from pytest_incluster.client import api_discovery as discovery_module
from pytest_incluster.client.api_discovery import Discovery, UnknownResourceType

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane


class Counting:
    """Records the paths a plain httpx client requested (an event hook, not a fake)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> None:
        with self._lock:
            self.paths.append(request.url.path)


@pytest.fixture
def counted(control_plane: ControlPlane) -> Iterator[tuple[httpx.Client, Counting]]:
    counter = Counting()
    with control_plane.admin_client(event_hooks={"request": [counter]}) as client:
        yield client, counter


def test_aggregated_discovery_is_two_requests_once(
    counted: tuple[httpx.Client, Counting],
) -> None:
    client, counter = counted
    discovery = Discovery(client)
    threads = [threading.Thread(target=discovery.resources) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    discovery.resolve_type("deploy")
    discovery.for_kind("v1", "Pod")
    assert counter.paths == ["/api", "/apis"]


def test_legacy_discovery_finds_the_same_types(counted: tuple[httpx.Client, Counting]) -> None:
    client, counter = counted
    aggregated = Discovery(client).resources()
    assert counter.paths == ["/api", "/apis"]
    legacy = Discovery(client, aggregated=False).resources()
    assert "/api/v1" in counter.paths
    assert "/apis/apps/v1" in counter.paths
    assert len(counter.paths) > 10  # one request per preferred group-version

    def key(r: discovery_module.ApiResource) -> tuple[object, ...]:
        return (r.group, r.version, r.name, r.singular_name, r.kind, r.namespaced,
                sorted(r.verbs), sorted(r.short_names), sorted(r.subresources))  # fmt: skip

    assert sorted(map(key, aggregated)) == sorted(map(key, legacy))
    pods = next(r for r in legacy if r.name == "pods" and r.group == "")
    assert {"log", "exec", "status", "eviction"} <= set(pods.subresources)


@pytest.mark.parametrize("aggregated", [True, False], ids=["aggregated", "legacy"])
@pytest.mark.parametrize(
    ("text", "qualified", "version"),
    [
        ("pods", "pods", "v1"),
        ("pod", "pods", "v1"),
        ("Pod", "pods", "v1"),
        ("PODS", "pods", "v1"),
        ("po", "pods", "v1"),
        ("deploy", "deployments.apps", "v1"),
        ("Deployment", "deployments.apps", "v1"),
        ("deployments.apps", "deployments.apps", "v1"),
        ("deployments.v1.apps", "deployments.apps", "v1"),
        ("deploy.apps", "deployments.apps", "v1"),
        ("hpa", "horizontalpodautoscalers.autoscaling", "v2"),
        ("horizontalpodautoscalers.v1.autoscaling", "horizontalpodautoscalers.autoscaling", "v1"),
        ("clusterroles.rbac.authorization.k8s.io", "clusterroles.rbac.authorization.k8s.io", "v1"),
        ("storageclasses.storage", "storageclasses.storage.k8s.io", "v1"),
        ("events", "events", "v1"),  # the core group wins over events.k8s.io
        ("events.events.k8s.io", "events.events.k8s.io", "v1"),
        ("ns", "namespaces", "v1"),
        ("csr", "certificatesigningrequests.certificates.k8s.io", "v1"),
        ("crds", "customresourcedefinitions.apiextensions.k8s.io", "v1"),
    ],
)  # fmt: skip
def test_type_resolution_follows_kubectl(
    control_plane: ControlPlane, aggregated: bool, text: str, qualified: str, version: str
) -> None:
    with control_plane.admin_client() as client:
        found = Discovery(client, aggregated=aggregated).resolve_type(text)
    assert (found.qualified_name, found.version) == (qualified, version)


def test_scope_and_details(control_plane: ControlPlane) -> None:
    with control_plane.admin_client() as client:
        discovery = Discovery(client)
        namespaces = discovery.resolve_type("namespaces")
        deployments = discovery.for_kind("apps/v1", "Deployment")
    assert not namespaces.namespaced
    assert deployments.namespaced
    assert deployments.short_names == ("deploy",)
    assert set(deployments.subresources) == {"scale", "status"}
    assert deployments.group_version == "apps/v1"
    assert "create" in deployments.verbs


@pytest.mark.parametrize("aggregated", [True, False], ids=["aggregated", "legacy"])
def test_unknown_type_is_an_error_in_kubectls_words(
    control_plane: ControlPlane, aggregated: bool
) -> None:
    with control_plane.admin_client() as client:
        discovery = Discovery(client, aggregated=aggregated)
        with pytest.raises(UnknownResourceType) as info:
            discovery.resolve_type("deplyments")
        assert str(info.value) == 'the server doesn\'t have a resource type "deplyments"'
        assert info.value.suggestions == ("deployments",)
        with pytest.raises(UnknownResourceType, match=r'"deployments\.nosuch\.io"'):
            discovery.resolve_type("deployments.nosuch.io")
        with pytest.raises(UnknownResourceType) as kind_info:
            discovery.for_kind("apps/v9", "Deployment")
        assert str(kind_info.value) == (
            'the server doesn\'t have a resource type "Deployment" in apiVersion "apps/v9"'
        )


def crd(group: str) -> dict[str, object]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                      "shortNames": ["wdg"]},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {"type": "object",
                                     "x-kubernetes-preserve-unknown-fields": True}}}],
        },
    }  # fmt: skip


def test_types_installed_later_are_found(
    counted: tuple[httpx.Client, Counting], admin: K8sClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, counter = counted
    group = f"t{uuid.uuid4().hex[:8]}.example.com"
    early = Discovery(client)
    late = Discovery(client)
    early.resources()
    late.resources()  # both fetched before the CRD exists
    admin.create(crd(group))
    try:
        deadline = time.monotonic() + 30
        while True:  # the CRD becomes servable asynchronously; for_kind re-fetches on a miss
            try:
                widget = early.for_kind(f"{group}/v1", "Widget")
                break
            except UnknownResourceType:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert widget.qualified_name == f"widgets.{group}"
        # resolve_type re-fetches on a miss only when its copy is old enough: a file full of
        # typos must not cost a discovery round per entry.
        monkeypatch.setattr(discovery_module, "REFRESH_ON_MISS_AFTER_S", 3600.0)
        before = len(counter.paths)
        with pytest.raises(UnknownResourceType):
            late.resolve_type("wdg")
        assert len(counter.paths) == before
        monkeypatch.setattr(discovery_module, "REFRESH_ON_MISS_AFTER_S", 0.0)
        assert late.resolve_type("wdg").qualified_name == f"widgets.{group}"
        assert counter.paths[before:] == ["/api", "/apis"]
    finally:
        admin.delete_object(
            "apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}"
        )
