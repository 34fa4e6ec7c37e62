"""Clients against the real kube-apiserver: an admin one, and a pod-style one per test.

The pod-style client goes through :func:`resolve` with a service-account directory from
``make_service_account`` and the ``KUBERNETES_SERVICE_HOST/PORT`` a pod would have, so the
configuration path users take inside a cluster is the one tested here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from pytest_incluster.calls import CallLog
from pytest_incluster.client import K8sClient
from pytest_incluster.config.cluster_discovery import resolve
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.config.options import Options, Sourced

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane


def pod_env(control_plane: ControlPlane) -> dict[str, str]:
    """The service variables a pod would see (the API server is on loopback here)."""
    return {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(urlsplit(control_plane.server).port),
    }


def pod_config(control_plane: ControlPlane, sa_dir: Path) -> ClusterConfig:
    """``resolve()`` as in a pod whose service account is mounted at ``sa_dir``."""
    options = Options(sa_dir=Sourced(str(sa_dir), "default"))
    return resolve(options, pod_env(control_plane), home=sa_dir)


@pytest.fixture
def runner_dir(make_service_account: Callable[..., Path], unique_namespace: str) -> Path:
    """A pod-style directory for ServiceAccount ``<unique_namespace>/runner`` (no grants)."""
    return make_service_account(unique_namespace, "runner")


@pytest.fixture
def calls() -> CallLog:
    return CallLog()


@pytest.fixture
def runner(control_plane: ControlPlane, runner_dir: Path, calls: CallLog) -> Iterator[K8sClient]:
    """The pod-style client of the runner ServiceAccount, logging into ``calls``."""
    with K8sClient(pod_config(control_plane, runner_dir), call_log=calls) as client:
        yield client


def role(namespace: str, name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": rules,
    }


def binding(
    namespace: str, name: str, role_kind: str, role_name: str, subject: dict[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
        "metadata": {"name": name, **({"namespace": namespace} if namespace else {})},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": [subject],
    }


Grant = Callable[..., None]


@pytest.fixture
def grant(admin: K8sClient, unique_namespace: str) -> Grant:
    """``grant(rules, sa="runner")``: a Role with ``rules`` bound to ``<ns>/<sa>`` in the
    test's namespace (the namespace is unique, so nothing needs deleting)."""

    def give(rules: list[dict[str, Any]], *, sa: str = "runner") -> None:
        ns = unique_namespace
        admin.apply(role(ns, f"{sa}-grants", rules))
        subject = {"kind": "ServiceAccount", "name": sa, "namespace": ns}
        admin.apply(binding(ns, f"{sa}-grants", "Role", f"{sa}-grants", subject))

    return give
