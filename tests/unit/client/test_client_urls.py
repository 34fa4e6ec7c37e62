"""The client remembers the absolute URL of a repeated path; it must be httpx's own join.

Joining a path to the base URL was a sixth of a review's client CPU, so ``K8sClient`` keeps the
result per path string. These tests hold the remembered URL to what httpx makes of the same
path, including a server URL with a path prefix (a Rancher-style proxy) and query strings.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from pytest_incluster.client import K8sClient
from pytest_incluster.config.model import ClusterConfig


@pytest.mark.parametrize("server", ["https://127.0.0.1:1", "https://127.0.0.1:1/k8s/clusters/c-1/"])
@pytest.mark.parametrize(
    "path",
    [
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "api/v1/namespaces/a/pods?limit=1",
        "/api/v1/namespaces/a%2Fb/pods",
        "https://10.0.0.1:6443/version",
    ],
)
def test_urls_are_httpxs_join(cluster_config: ClusterConfig, server: str, path: str) -> None:
    config = replace(cluster_config, server=server)
    with K8sClient(config) as k8s, httpx.Client(base_url=server) as plain:
        expected = plain.build_request("GET", path).url
        first = k8s.build_request("GET", path).url
        again = k8s.build_request("POST", path).url  # remembered
        assert first == again == expected


def test_params_still_apply_to_a_remembered_url(cluster_config: ClusterConfig) -> None:
    with K8sClient(cluster_config) as k8s:
        k8s.build_request("GET", "/api/v1/pods")
        request = k8s.build_request("GET", "/api/v1/pods", params={"limit": "5"})
        assert str(request.url) == "https://127.0.0.1:1/api/v1/pods?limit=5"
        assert str(k8s.build_request("GET", "/api/v1/pods").url).endswith("/api/v1/pods")


def test_an_impersonating_copy_builds_the_same_urls(cluster_config: ClusterConfig) -> None:
    with K8sClient(cluster_config) as k8s:
        as_jane = k8s.impersonate("jane")
        request = as_jane.build_request("GET", "/api/v1/pods")
        assert request.url == k8s.build_request("GET", "/api/v1/pods").url
        assert request.headers["Impersonate-User"] == "jane"
