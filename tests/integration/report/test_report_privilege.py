"""Runner privilege warnings, decided by the real API server's RBAC."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_incluster.client import K8sClient
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.report.privilege import CONSEQUENCE, privilege_warnings

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def sa_client(cp: ControlPlane, sa_dir: Path, namespace: str) -> K8sClient:
    return K8sClient(
        ClusterConfig(
            server=cp.server,
            namespace=namespace,
            source="test service account",
            token_file=sa_dir / "token",
            ca_file=sa_dir / "ca.crt",
        )
    )


@pytest.fixture
def runner(
    control_plane: ControlPlane, unique_namespace: str, make_service_account: Callable[..., Path]
) -> Iterator[K8sClient]:
    sa_dir = make_service_account(unique_namespace, "runner")
    with sa_client(control_plane, sa_dir, unique_namespace) as client:
        yield client


def grant_cluster_wide(cp: ControlPlane, namespace: str, rules: list[dict[str, Any]]) -> None:
    name = f"privilege-test-{uuid.uuid4().hex[:8]}"
    with cp.admin_client() as admin:
        admin.post(
            f"{RBAC}/clusterroles", json={"metadata": {"name": name}, "rules": rules}
        ).raise_for_status()
        admin.post(
            f"{RBAC}/clusterrolebindings",
            json={
                "metadata": {"name": name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": name,
                },
                "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": namespace}],
            },
        ).raise_for_status()


def test_unprivileged_runner_gets_no_warning(runner: K8sClient) -> None:
    assert privilege_warnings(runner) == []


def test_runner_that_may_impersonate_and_bind_is_named(
    runner: K8sClient, control_plane: ControlPlane, unique_namespace: str
) -> None:
    grant_cluster_wide(
        control_plane,
        unique_namespace,
        [
            {
                "apiGroups": [""],
                "resources": ["users", "serviceaccounts"],
                "verbs": ["impersonate"],
            },
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["bind"]},
        ],
    )
    assert privilege_warnings(runner) == [
        "runner privilege: the runner may bind any Role in every namespace; may impersonate "
        f"any user; may impersonate any service account; {CONSEQUENCE}."
    ]


def test_admin_is_reported_as_able_to_do_anything(admin: K8sClient) -> None:
    warnings = privilege_warnings(admin)
    assert len(warnings) == 1
    assert warnings[0].startswith("runner privilege: the runner may do anything (verb * on *")
    assert warnings[0].endswith(f"{CONSEQUENCE}.")


def test_unreachable_server_is_a_warning_not_silence(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("not-a-real-token-0123456789")
    config = ClusterConfig(
        server="https://127.0.0.1:1", namespace="default", source="test", token_file=token
    )
    with K8sClient(config, retries=0) as client:
        warnings = privilege_warnings(client)
    assert len(warnings) == 1
    assert warnings[0].startswith(
        "runner privilege: could not check whether the runner is over-privileged (ApiUnreachable"
    )
