"""Real RBAC for access-matrix tests: subjects, roles and a least-privilege runner.

Everything is created in the test's own namespace (``unique_namespace``), except the
ClusterRoleBindings, whose names carry that namespace so tests never share them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.client import K8sClient
from pytest_incluster.config.model import ClusterConfig
from tests.integration.access.access_rbac import Shop, bind, client_for, role, sa_subject

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane


@pytest.fixture(scope="session")
def admin(control_plane: ControlPlane) -> Iterator[K8sClient]:
    """A K8sClient with the admin client certificate (system:masters)."""
    config = ClusterConfig(
        server=control_plane.server,
        namespace="default",
        source="test admin",
        ca_file=control_plane.ca_file,
        client_cert_file=control_plane.admin_cert_file,
        client_key_file=control_plane.admin_key_file,
    )
    with K8sClient(config) as client:
        yield client


def _selected(selectors: list[dict[str, Any]], labels: Mapping[str, str]) -> bool:
    return any(
        all(labels.get(k) == v for k, v in (s.get("matchLabels") or {}).items())
        and not s.get("matchExpressions")
        for s in selectors
    )


@pytest.fixture(scope="session")
def aggregated_cluster_roles(admin: K8sClient) -> None:
    """Fill ``view``/``edit``/``admin`` the way kube-controller-manager would.

    Those built-in ClusterRoles are *aggregated*: the API server creates them empty and the
    clusterrole-aggregation controller (part of kube-controller-manager, which the test control
    plane does not run) copies in the rules of every ClusterRole their selectors match. ``view``
    is itself aggregated into ``edit``, and ``edit`` into ``admin``, so this repeats until
    nothing changes, as the controller converges.
    """
    path = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
    for _ in range(5):
        roles = admin.get(path).json()["items"]
        changed = False
        for target in roles:
            rule = target.get("aggregationRule")
            if not rule:
                continue
            selectors = rule.get("clusterRoleSelectors") or []
            rules: list[dict[str, Any]] = []
            for source in roles:
                labels = source["metadata"].get("labels") or {}
                if source is target or not _selected(selectors, labels):
                    continue
                rules.extend(r for r in source.get("rules") or [] if r not in rules)
            if rules != (target.get("rules") or []):
                target["rules"] = rules
                admin.put(f"{path}/{target['metadata']['name']}", json=target)
                changed = True
        if not changed:
            return


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
