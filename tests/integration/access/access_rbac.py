"""RBAC objects and pod-style clients for the access integration tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    dirs: dict[str, Path]  # service account -> its pod-style credential directory

    @property
    def runner_dir(self) -> Path:
        return self.dirs["runner"]

    def who(self, name: str) -> str:
        return f"{SA_PREFIX}:{self.ns}:{name}"
