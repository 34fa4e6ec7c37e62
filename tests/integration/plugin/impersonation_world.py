"""A runner that may impersonate exactly user ``jane`` and group ``developers``, for plugin runs.

Made in the test's own namespace; the ClusterRole and ClusterRoleBinding carry the namespace in
their names so tests never share them. What each identity may do there:

* the runner (ServiceAccount ``runner``): ``impersonate`` on users ``jane`` and groups
  ``developers`` only (``resourceNames``; in particular not ``system:authenticated``), and
  create/get/list/delete ConfigMaps. No Secrets.
* group ``developers``: create/get/delete Secrets. No ConfigMaps.
* user ``jane`` on her own: nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_incluster.access.decision import AccessRequest

if TYPE_CHECKING:
    from pytest_incluster.client import K8sClient
    from pytest_incluster.local.controlplane import ControlPlane

RBAC = "rbac.authorization.k8s.io/v1"


@dataclass(frozen=True)
class World:
    ns: str
    sa_dir: Path
    server: str

    @property
    def runner(self) -> str:
        return f"system:serviceaccount:{self.ns}:runner"

    def options(self) -> list[str]:
        """The plugin's options for running as the runner (as the pod would)."""
        return [
            f"--incluster-server={self.server}",
            f"--incluster-token-file={self.sa_dir / 'token'}",
            f"--incluster-ca-file={self.sa_dir / 'ca.crt'}",
            f"--incluster-namespace={self.ns}",
            "-p",
            "no:cacheprovider",
        ]


def _role(kind: str, name: str, rules: list[dict[str, Any]], ns: str = "") -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": ns} if ns else {})}
    return {"apiVersion": RBAC, "kind": kind, "metadata": metadata, "rules": rules}


def _binding(
    kind: str, name: str, role_kind: str, subject: dict[str, str], ns: str = ""
) -> dict[str, Any]:
    metadata = {"name": name, **({"namespace": ns} if ns else {})}
    return {
        "apiVersion": RBAC,
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "subjects": [subject],
    }


def make_world(
    admin: K8sClient,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
    ns: str,
) -> World:
    sa_dir = make_service_account(ns, "runner")
    runner = {"kind": "ServiceAccount", "name": "runner", "namespace": ns}
    developers = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "developers"}
    impersonate = f"{ns}-impersonate-jane"
    objects = [
        _role(
            "ClusterRole",
            impersonate,
            [
                {
                    "apiGroups": [""],
                    "resources": ["users"],
                    "verbs": ["impersonate"],
                    "resourceNames": ["jane"],
                },
                {
                    "apiGroups": [""],
                    "resources": ["groups"],
                    "verbs": ["impersonate"],
                    "resourceNames": ["developers"],
                },
            ],
        ),
        _binding("ClusterRoleBinding", impersonate, "ClusterRole", runner),
        _role(
            "Role",
            "runner",
            [
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "verbs": ["create", "get", "list", "delete"],
                }
            ],
            ns,
        ),
        _binding("RoleBinding", "runner", "Role", runner, ns),
        _role(
            "Role",
            "developers",
            [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "get", "delete"]}],
            ns,
        ),
        _binding("RoleBinding", "developers", "Role", developers, ns),
    ]
    for obj in objects:
        admin.apply(obj)
    world = World(ns=ns, sa_dir=sa_dir, server=control_plane.server)
    # The authorizer learns of new bindings through informers; wait for each of them.
    as_runner = admin.impersonate(world.runner)
    developers_group = AccessRequest(verb="impersonate", resource="groups", name="developers")
    as_runner.wait_for_access(developers_group)
    as_runner.wait_for_access(AccessRequest(verb="list", resource="configmaps", namespace=ns))
    admin.impersonate("jane", ["developers"]).wait_for_access(
        AccessRequest(verb="create", resource="secrets", namespace=ns)
    )
    return world


def delete_cluster_objects(admin: K8sClient, ns: str) -> None:
    """The cluster-scoped grants (namespaced ones go with the namespace's name)."""
    for kind in ("ClusterRoleBinding", "ClusterRole"):
        admin.delete_object("rbac.authorization.k8s.io/v1", kind, f"{ns}-impersonate-jane")
