"""can_i, wait_for_access and impersonation against the real authorizer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.calls import CallLog
from pytest_incluster.client import AccessWaitTimeout, Forbidden, K8sClient
from tests.support.wording import constrained_impersonation, impersonation_denied

pytestmark = pytest.mark.controlplane


def allowed_for_real(client: K8sClient, path: str) -> bool:
    try:
        client.get(path)
    except Forbidden:
        return False
    return True


def test_can_i_agrees_with_real_requests(
    runner: K8sClient, grant: object, unique_namespace: str
) -> None:
    ns = unique_namespace
    grant([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}])  # type: ignore[operator]
    runner.wait_for_access(AccessRequest(verb="list", resource="configmaps", namespace=ns))
    cases = [
        (runner.can_i("list", "configmaps"), f"/api/v1/namespaces/{ns}/configmaps"),
        (runner.can_i("list", "pods"), f"/api/v1/namespaces/{ns}/pods"),
        (runner.can_i("list", "configmaps", namespace=""), "/api/v1/configmaps"),
        (runner.can_i("list", "namespaces", namespace=""), "/api/v1/namespaces"),
        (runner.can_i_path("get", "/version"), "/version"),
        (runner.can_i_path("get", "/metrics"), "/metrics"),
    ]
    verdicts = [(bool(decision), allowed_for_real(runner, path)) for decision, path in cases]
    assert verdicts == [
        (True, True),
        (False, False),
        (False, False),
        (False, False),
        (True, True),
        (False, False),
    ]
    decision = cases[0][0]
    assert decision.request.namespace == ns  # namespace=None means the client's namespace
    assert decision.method == "review"


def test_can_i_splits_resource_forms(runner: K8sClient, grant: object) -> None:
    grant([{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}])  # type: ignore[operator]
    decision = runner.wait_for_access(
        AccessRequest(verb="get", resource="pods", subresource="log", namespace=runner.namespace)
    )
    assert decision.allowed
    assert runner.can_i("get", "pods/log").allowed
    assert not runner.can_i("get", "pods").allowed
    assert runner.can_i("get", "pods/log").request.subresource == "log"
    assert runner.can_i("list", "deployments.apps").request.group == "apps"


def test_wait_for_access_times_out_with_the_last_decision(
    runner: K8sClient, unique_namespace: str
) -> None:
    with pytest.raises(AccessWaitTimeout) as info:
        runner.wait_for_access(
            AccessRequest(verb="delete", resource="secrets", namespace=unique_namespace),
            timeout=0.3,
            interval=0.1,
        )
    assert str(info.value).startswith(
        f"After 0.3s, 'delete secrets -n {unique_namespace}' is still forbidden for the runner "
        "(waited for allowed); last reason: "
    )
    assert info.value.decision.allowed is False
    assert isinstance(info.value, AssertionError)


@pytest.fixture
def impersonator(admin: K8sClient, unique_namespace: str) -> Iterator[str]:
    """A ClusterRole letting ``<ns>/runner`` impersonate user ``alice-<id>`` and group
    ``dev-<id>``; yields the suffix. Cluster-scoped objects are deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    name = f"impersonate-{suffix}"
    with admin.tracking():
        admin.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": name},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["users"],
                        "verbs": ["impersonate"],
                        "resourceNames": [f"alice-{suffix}"],
                    },
                    {
                        "apiGroups": [""],
                        "resources": ["groups"],
                        "verbs": ["impersonate"],
                        "resourceNames": [f"dev-{suffix}"],
                    },
                ],
            }
        )
        admin.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": name,
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": "runner", "namespace": unique_namespace}
                ],
            }
        )
        yield suffix


def test_impersonation_denied_without_the_verb(runner: K8sClient, unique_namespace: str) -> None:
    # Since v1.36 the server checks constrained impersonation (verb
    # "impersonate-on:<mode>:<verb>" on the request itself) and reports that when the legacy
    # "impersonate users" is denied too; v1.35 reports the legacy check.
    with pytest.raises(Forbidden) as info:
        runner.impersonate("mallory").get("/api")
    assert info.value.server_message == impersonation_denied(
        f"system:serviceaccount:{unique_namespace}:runner", "mallory", "/api"
    )
    assert not runner.can_i("impersonate", "users", name="mallory", namespace="")


def test_impersonation_allowed(
    runner: K8sClient, impersonator: str, unique_namespace: str, calls: CallLog
) -> None:
    alice = f"alice-{impersonator}"
    runner.wait_for_access(
        AccessRequest(verb="impersonate", resource="users", name=alice), timeout=10
    )
    as_alice = runner.impersonate(alice)
    identity = as_alice.whoami()
    assert identity.username == alice
    assert identity.groups == ("system:authenticated",)
    assert calls_as(calls, alice)
    with pytest.raises(Forbidden) as info:
        as_alice.get(f"/api/v1/namespaces/{unique_namespace}/pods")
    assert f'User "{alice}" cannot list resource "pods"' in info.value.server_message
    assert not as_alice.can_i("list", "pods")
    assert as_alice.can_i("list", "pods").subject == alice
    # The original client is still itself.
    assert runner.whoami().username == f"system:serviceaccount:{unique_namespace}:runner"


def calls_as(calls: CallLog, user: str) -> bool:
    return any(c.impersonated_user == user for c in calls)


def test_impersonated_groups_keep_system_authenticated(
    runner: K8sClient, impersonator: str
) -> None:
    # The runner may not impersonate system:authenticated; the server adds it by itself.
    alice, dev = f"alice-{impersonator}", f"dev-{impersonator}"
    runner.wait_for_access(
        AccessRequest(verb="impersonate", resource="groups", name=dev), timeout=10
    )
    identity = runner.impersonate(alice, [dev]).whoami()
    assert identity.username == alice
    assert identity.groups == (dev, "system:authenticated")


def test_impersonating_a_group_not_granted_is_forbidden(
    runner: K8sClient, impersonator: str
) -> None:
    alice = f"alice-{impersonator}"
    runner.wait_for_access(
        AccessRequest(verb="impersonate", resource="users", name=alice), timeout=10
    )
    with pytest.raises(Forbidden) as info:
        runner.impersonate(alice, ["system:masters"]).get("/api")
    denied = (
        "cannot impersonate-on:user-info:get path"
        if constrained_impersonation()
        else 'cannot impersonate resource "groups" in API group "" at the cluster scope'
    )
    assert denied in info.value.server_message
    assert not runner.can_i("impersonate", "groups", name="system:masters", namespace="")


def test_impersonate_acts_as_the_user_and_leaves_the_runner_itself(
    runner: K8sClient, impersonator: str
) -> None:
    alice = f"alice-{impersonator}"
    runner.wait_for_access(
        AccessRequest(verb="impersonate", resource="users", name=alice), timeout=10
    )
    with runner.impersonate(alice) as acting:
        assert acting.whoami().username == alice
        assert runner.whoami().username.startswith("system:serviceaccount:")


def test_can_i_asks_about_cluster_scoped_types_without_a_namespace(
    runner: K8sClient, admin: K8sClient, unique_namespace: str, calls: CallLog
) -> None:
    # A RoleBinding in the runner's namespace to a ClusterRole that names nodes: a review "in
    # the namespace" would say yes, yet listing nodes (a cluster-scoped request) is denied.
    ns = unique_namespace
    name = f"nodes-reader-{uuid.uuid4().hex[:8]}"
    with admin.tracking():
        admin.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": name},
                "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}],
            }
        )
        admin.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": name, "namespace": ns},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": name,
                },
                "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": ns}],
            }
        )
        runner.wait_for_access(AccessRequest(verb="list", resource="nodes", namespace=ns))
        decision = runner.can_i("list", "nodes")
        assert decision.request.namespace is None
        assert not decision.allowed
        assert not allowed_for_real(runner, "/api/v1/nodes")
        assert runner.can_i("list", "nodes", namespace=ns).allowed  # what kubectl -n would say
        assert runner.can_i("list", "configmaps").request.namespace == ns


def test_check_access_and_wait_for_an_entry(runner: K8sClient, grant: object) -> None:
    grant([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}])  # type: ignore[operator]
    decision = runner.wait_for_access("list configmaps", timeout=10)
    assert decision.allowed
    assert runner.check_access("get configmaps").allowed
    assert not runner.check_access("delete configmaps").allowed
    assert runner.wait_for_access("delete configmaps", allowed=False).verdict == "forbidden"
