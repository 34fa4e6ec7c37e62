"""Cluster-side helpers of the reliability tests: admin requests, grants, the runner identity."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.reliability.faultproxy import FaultProxy

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

RBAC = "/apis/rbac.authorization.k8s.io/v1"
MakeProxy = Callable[..., FaultProxy]


def post(cp: ControlPlane, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST as the admin; 409 (already there) is fine, anything else non-2xx fails the test."""
    with cp.admin_client() as client:
        response = client.post(path, json=body)
    if response.status_code != 409:
        assert response.is_success, f"POST {path} -> {response.status_code}: {response.text}"
    result: dict[str, Any] = response.json()
    return result


def grant(
    cp: ControlPlane,
    namespace: str,
    sa: tuple[str, str],
    rules: list[dict[str, Any]],
    *,
    cluster: bool = False,
) -> str:
    """Bind a new (Cluster)Role with ``rules`` to ServiceAccount ``sa`` = (namespace, name).

    ``cluster``: a ClusterRole and ClusterRoleBinding (``namespace`` is ignored). Returns the
    name of the role and binding.
    """
    name = f"grant-{uuid.uuid4().hex[:8]}"
    subject = {"kind": "ServiceAccount", "namespace": sa[0], "name": sa[1]}
    kind = "ClusterRole" if cluster else "Role"
    where = RBAC if cluster else f"{RBAC}/namespaces/{namespace}"
    post(cp, f"{where}/{kind.lower()}s", {"metadata": {"name": name}, "rules": rules})
    post(
        cp,
        f"{where}/{kind.lower()}bindings",
        {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
            "subjects": [subject],
        },
    )
    return name


@dataclass
class Runner:
    """The ServiceAccount an inner run acts as: ``<namespace>/runner``, with a pod-style dir."""

    cp: ControlPlane
    namespace: str
    sa_dir: Path

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:runner"

    def grant(self, rules: list[dict[str, Any]], *, cluster: bool = False) -> str:
        return grant(self.cp, self.namespace, (self.namespace, "runner"), rules, cluster=cluster)

    def args(
        self, server: str | None = None, ca_file: Path | None = None, **extra: str
    ) -> list[str]:
        """``--incluster-*`` options for this runner (server/CA default to the real ones).

        Values are attached with ``=``: pytest's early parse would take a separate path value
        for a test path and move the rootdir.
        """
        args = [
            f"--incluster-server={server or self.cp.server}",
            f"--incluster-token-file={self.sa_dir / 'token'}",
            f"--incluster-ca-file={ca_file or self.cp.ca_file}",
            f"--incluster-namespace={self.namespace}",
        ]
        args += [f"--incluster-{k.replace('_', '-')}={v}" for k, v in extra.items()]
        return args
