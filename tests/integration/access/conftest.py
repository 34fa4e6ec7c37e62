"""Real RBAC for access-matrix tests: subjects, roles and a least-privilege runner.

Everything is created in the test's own namespace (``unique_namespace``), except the
ClusterRoleBindings, whose names carry that namespace so tests never share them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.client import K8sClient
from tests.integration.access.access_rbac import Shop, bind, client_for, role, sa_subject

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane


@pytest.fixture(scope="session")
def aggregated_cluster_roles(control_plane: ControlPlane) -> None:
    """``view``/``edit``/``admin`` hold their aggregated rules (the control plane fills them at
    start, as kube-controller-manager would); checked here because the tests rely on it."""
    with control_plane.admin_client() as admin:
        view = admin.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/view").json()
    assert view.get("rules"), "the local control plane did not aggregate the view ClusterRole"


@pytest.fixture
def shop(
    aggregated_cluster_roles: None,
    admin: K8sClient,
    make_service_account: Callable[..., Path],
    unique_namespace: str,
) -> Shop:
    ns = unique_namespace
    dirs = {
        name: make_service_account(ns, name)
        for name in ("runner", "api", "viewer", "editor", "boss", "nobody")
    }
    objects = [
        role(
            "Role",
            "api",
            [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]},
                {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
            ],
            ns,
        ),
        bind("RoleBinding", "api", "Role", "api", [sa_subject(ns, "api")], ns),
        role(
            "ClusterRole",
            f"{ns}-node-reader",
            [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}],
        ),
        bind(
            "ClusterRoleBinding",
            f"{ns}-node-reader",
            "ClusterRole",
            f"{ns}-node-reader",
            [sa_subject(ns, "api")],
        ),
        bind("RoleBinding", "viewer", "ClusterRole", "view", [sa_subject(ns, "viewer")], ns),
        bind("RoleBinding", "editor", "ClusterRole", "edit", [sa_subject(ns, "editor")], ns),
        bind("RoleBinding", "boss", "ClusterRole", "admin", [sa_subject(ns, "boss")], ns),
        role(
            "ClusterRole",
            f"{ns}-impersonator",
            [
                {
                    "apiGroups": [""],
                    "resources": ["serviceaccounts", "users", "groups"],
                    "verbs": ["impersonate"],
                }
            ],
        ),
        bind(
            "ClusterRoleBinding",
            f"{ns}-runner-impersonates",
            "ClusterRole",
            f"{ns}-impersonator",
            [sa_subject(ns, "runner")],
        ),
        role(
            "Role",
            "runner",
            [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get"]}],
            ns,
        ),
        bind("RoleBinding", "runner", "Role", "runner", [sa_subject(ns, "runner")], ns),
    ]
    for obj in objects:
        admin.apply(obj)
    world = Shop(ns=ns, dirs=dirs)
    # The authorizer learns of new bindings through informers; wait for the last ones.
    for name, (verb, resource, group) in {
        "runner": ("get", "serviceaccounts", ""),
        "boss": ("create", "roles", "rbac.authorization.k8s.io"),
        "api": ("list", "nodes", ""),
    }.items():
        request = AccessRequest(verb=verb, resource=resource, group=group, namespace=ns)
        admin.impersonate(world.who(name)).wait_for_access(request, timeout=10)
    return world


@pytest.fixture
def runner(control_plane: ControlPlane, shop: Shop) -> Iterator[K8sClient]:
    """The least-privilege runner's pod-style client."""
    with client_for(control_plane, shop.runner_dir) as client:
        yield client
