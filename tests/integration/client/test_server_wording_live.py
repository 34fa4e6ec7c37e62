"""Every server message the plugin reads, as the release under test words it.

The plugin turns API-server wording into verdicts: the authorization filter's 403 (who was refused
what, where), the impersonation filter's 403, a 403 from a later stage (admission), and the
``Status`` bodies behind typed errors. ``scripts/test.sh`` runs this module against every
supported release; where the wording differs between them (impersonation since v1.36), the
expected text is chosen by the release and both forms are shown to lead to the same verdict.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from pytest_incluster.access.markers import AUTHZ_DENIAL, Denial
from pytest_incluster.access.observed import server_decision
from pytest_incluster.client import AlreadyExists, Forbidden, Invalid, K8sClient, NotFound
from tests.support.wording import impersonation_denied

pytestmark = pytest.mark.controlplane


def refused(client: K8sClient, path: str) -> str:
    """The server's message of the 403 that ``GET path`` gets."""
    with pytest.raises(Forbidden) as info:
        client.get(path)
    return info.value.server_message


def me(namespace: str) -> str:
    return f"system:serviceaccount:{namespace}:runner"


def test_a_namespaced_denial_names_user_verb_resource_and_namespace(
    runner: K8sClient, unique_namespace: str
) -> None:
    message = refused(runner, f"/api/v1/namespaces/{unique_namespace}/secrets")
    assert message == (
        f'secrets is forbidden: User "{me(unique_namespace)}" cannot list resource "secrets" in '
        f'API group "" in the namespace "{unique_namespace}"'
    )
    assert server_decision(403, message) == "forbidden"
    assert Denial.parse(message) == Denial(
        me(unique_namespace), "list", "secrets", unique_namespace
    )


def test_a_cluster_scope_group_resource_denial(runner: K8sClient, unique_namespace: str) -> None:
    message = refused(runner, "/apis/apps/v1/deployments")
    assert message == (
        f'deployments.apps is forbidden: User "{me(unique_namespace)}" cannot list resource '
        '"deployments" in API group "apps" at the cluster scope'
    )
    assert Denial.parse(message) == Denial(me(unique_namespace), "list", "deployments.apps", "")


def test_a_subresource_denial(runner: K8sClient, unique_namespace: str) -> None:
    message = refused(runner, f"/api/v1/namespaces/{unique_namespace}/pods/web/log")
    assert Denial.parse(message) == Denial(
        me(unique_namespace), "get", "pods/log", unique_namespace
    )
    assert server_decision(403, message) == "forbidden"


def test_a_non_resource_url_denial(runner: K8sClient, unique_namespace: str) -> None:
    message = refused(runner, "/metrics")
    assert message == f'forbidden: User "{me(unique_namespace)}" cannot get path "/metrics"'
    assert Denial.parse(message) == Denial(me(unique_namespace), "get", "/metrics", "")


def test_the_impersonation_denial_of_this_release(runner: K8sClient, unique_namespace: str) -> None:
    """v1.36 turned ConstrainedImpersonation on by default (beta; alpha and off in v1.35): the
    server then words the denial with the constrained verb. Both forms name the runner, and the
    plugin reads both as "the runner may not impersonate", never as the subject's denial."""
    message = refused(runner.impersonate("mallory"), "/api")
    expected = impersonation_denied(me(unique_namespace), "mallory", "/api")
    assert message == expected
    assert AUTHZ_DENIAL.search(message)
    denial = Denial.parse(message)
    assert denial is not None
    assert denial.user == me(unique_namespace)  # the runner, not mallory


def _pod(name: str, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox", **container}]},
    }


def test_an_admission_refusal_is_not_an_authorization_denial(
    admin: K8sClient, unique_namespace: str
) -> None:
    admin.patch(
        f"/api/v1/namespaces/{unique_namespace}",
        json={"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    with pytest.raises(Forbidden) as info:
        admin.create(
            _pod("root", securityContext={"privileged": True}),
            namespace=unique_namespace,
            dry_run=True,
        )
    message = info.value.server_message
    assert message.startswith('pods "root" is forbidden: violates PodSecurity "restricted:latest"')
    assert server_decision(403, message) == "allowed"  # authorization said yes
    assert Denial.parse(message) is None


def test_status_bodies_become_typed_errors(admin: K8sClient, unique_namespace: str) -> None:
    name = f"cm-{uuid.uuid4().hex[:8]}"
    with pytest.raises(NotFound) as missing:
        admin.get(f"/api/v1/namespaces/{unique_namespace}/configmaps/{name}")
    assert (missing.value.reason, missing.value.server_message) == (
        "NotFound",
        f'configmaps "{name}" not found',
    )
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    admin.create(config_map, namespace=unique_namespace)
    with pytest.raises(AlreadyExists) as exists:
        admin.create(config_map, namespace=unique_namespace)
    assert exists.value.server_message == f'configmaps "{name}" already exists'
    with pytest.raises(Invalid) as invalid:
        admin.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_A_Name"}},
            namespace=unique_namespace,
            dry_run=True,
        )
    assert invalid.value.reason == "Invalid"
    assert invalid.value.server_message.startswith('ConfigMap "Not_A_Name" is invalid: ')
