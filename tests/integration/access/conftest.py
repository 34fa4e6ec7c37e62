"""Real RBAC for access-matrix tests: subjects, roles and a least-privilege runner.

Everything is created in the test's own namespace (``unique_namespace``), except the
ClusterRoleBindings, whose names carry that namespace so tests never share them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.client import K8sClient
from pytest_incluster.config.model import ClusterConfig

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

RBAC = "rbac.authorization.k8s.io/v1"
SA_PREFIX = "system:serviceaccount"


def role(
    kind: str, name: str, rules: list[dict[str, Any]], namespace: str | None = None
) -> dict[str, Any]:
    metadata: dict[str, str] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": RBAC, "kind": kind, "metadata": metadata, "rules": rules}


def bind(
    kind: str,
    name: str,
    role_kind: str,
    role_name: str,
    subjects: list[Mapping[str, str]],
    namespace: str | None = None,
) -> dict[str, Any]:
    metadata: dict[str, str] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": list(subjects),
    }


def sa_subject(namespace: str, name: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def client_for(control_plane: ControlPlane, sa_dir: Path, **kwargs: Any) -> K8sClient:
    """A K8sClient exactly as in a pod whose service account is mounted at ``sa_dir``."""
    config = ClusterConfig(
        server=control_plane.server,
        namespace=(sa_dir / "namespace").read_text().strip(),
        source="test pod directory",
        token_file=sa_dir / "token",
        ca_file=sa_dir / "ca.crt",
    )
    return K8sClient(config, **kwargs)


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


@dataclass
class Shop:
    """The RBAC world of one test, in namespace ``ns``.

    * ``api``: Role ``api`` (get/list pods, get pods/log, create deployments.apps) by a
      RoleBinding, plus ClusterRole ``<ns>-node-reader`` (get/list nodes) by a
      ClusterRoleBinding, plus get on its own namespace object;
    * ``viewer``, ``editor``, ``boss``: the built-in ``view``, ``edit``, ``admin`` ClusterRoles
      bound in ``ns`` only;
    * ``runner``: what the tests run as (a pod token): may impersonate ServiceAccounts, users
      and groups, and get ServiceAccounts in ``ns``, nothing else.
    """

    ns: str
    runner_dir: Path

    def who(self, name: str) -> str:
        return f"{SA_PREFIX}:{self.ns}:{name}"


@pytest.fixture
def shop(
    admin: K8sClient,
    make_service_account: Callable[..., Path],
    unique_namespace: str,
) -> Shop:
    ns = unique_namespace
    runner_dir = make_service_account(ns, "runner")
    for name in ("api", "viewer", "editor", "boss", "nobody"):
        make_service_account(ns, name)
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
    world = Shop(ns=ns, runner_dir=runner_dir)
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
