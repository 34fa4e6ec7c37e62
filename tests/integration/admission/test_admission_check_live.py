"""``K8sClient.admission_check`` against the real kube-apiserver: each stage's refusal is told
apart (authorization, Pod Security, ValidatingAdmissionPolicy, quota, validation), warnings are
read from the Warning headers, and nothing is stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_incluster.client import K8sClient
from pytest_incluster.client.errors import NotFound
from tests.integration.access.access_rbac import bind, client_for, role, sa_subject
from tests.integration.admission.admission_world import (
    configmap,
    labelled_namespace,
    pod,
    replicas_policy,
)

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}
BASELINE_WARN_RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
}


def test_pod_security_restricted_rejects_a_privileged_pod(admin: K8sClient) -> None:
    ns = labelled_namespace(admin, "psa-restricted", RESTRICTED)
    decision = admin.admission_check(pod("root", privileged=True), namespace=ns)
    assert not decision
    assert (decision.stage, decision.by, decision.status) == ("admission", "PodSecurity", 403)
    assert decision.message.startswith(
        'pods "root" is forbidden: violates PodSecurity "restricted:latest": privileged '
        '(container "app" must not set securityContext.privileged=true)'
    )
    assert decision.target == "Pod/root"
    assert decision.namespace == ns


def test_pod_security_restricted_admits_a_compliant_pod_and_stores_nothing(
    admin: K8sClient,
) -> None:
    ns = labelled_namespace(admin, "psa-restricted", RESTRICTED)
    decision = admin.admission_check(pod("fine", restricted=True), namespace=ns)
    assert decision
    assert decision.admitted
    assert (decision.stage, decision.by, decision.message, decision.warnings) == (None, "", "", ())
    with pytest.raises(NotFound):
        admin.get_object("v1", "Pod", "fine", namespace=ns)


def test_pod_security_baseline_admits_with_the_restricted_warning(admin: K8sClient) -> None:
    ns = labelled_namespace(admin, "psa-baseline", BASELINE_WARN_RESTRICTED)
    decision = admin.admission_check(pod("plain"), namespace=ns)
    assert decision.admitted
    assert len(decision.warnings) == 1
    assert decision.warnings[0].startswith(
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false'
    )


def test_pod_security_baseline_rejects_a_privileged_pod(admin: K8sClient) -> None:
    ns = labelled_namespace(admin, "psa-baseline", BASELINE_WARN_RESTRICTED)
    decision = admin.admission_check(pod("root", privileged=True), namespace=ns)
    assert (decision.admitted, decision.stage, decision.by) == (False, "admission", "PodSecurity")
    assert 'violates PodSecurity "baseline:latest"' in decision.message


@pytest.fixture
def policy_namespace(admin: K8sClient, control_plane: ControlPlane) -> Iterator[str]:
    """A namespace bound to the replicas policy (Deny) and the same policy again (Warn)."""
    ns = labelled_namespace(admin, "vap", {})
    objects = replicas_policy(f"{ns}-deny", ns, ["Deny"]) + replicas_policy(
        f"{ns}-warn", ns, ["Warn"]
    )
    for obj in objects:
        admin.create(obj)
    _wait_until_enforced(admin, ns)
    yield ns
    admin.delete_tracked()


def _wait_until_enforced(admin: K8sClient, ns: str) -> None:
    """Policies reach the admission plugin through an informer, moments after they are created,
    and each binding on its own: wait until the Deny binding refuses *and* the Warn binding warns
    (on a busy machine the refusal has been seen without the warning)."""
    import time

    deadline = time.monotonic() + 30
    while True:
        probe = admin.admission_check(configmap("probe", 9), namespace=ns)
        if not probe.admitted and any(f"'{ns}-warn-binding'" in w for w in probe.warnings):
            return
        assert time.monotonic() < deadline, (
            f"the ValidatingAdmissionPolicies were never both enforced (last answer: admitted="
            f"{probe.admitted}, warnings={probe.warnings})"
        )
        time.sleep(0.2)


def test_validating_admission_policy_rejects_and_names_policy_and_binding(
    admin: K8sClient, policy_namespace: str
) -> None:
    ns = policy_namespace
    decision = admin.admission_check(configmap("many", 9), namespace=ns)
    assert (decision.admitted, decision.stage, decision.status) == (False, "admission", 422)
    assert decision.by == f"ValidatingAdmissionPolicy {ns}-deny (binding {ns}-deny-binding)"
    assert decision.message == (
        f"configmaps \"many\" is forbidden: ValidatingAdmissionPolicy '{ns}-deny' with binding "
        f"'{ns}-deny-binding' denied request: replicas must be at most 5"
    )
    assert decision.refusal is not None
    assert decision.refusal.matches_by(f"{ns}-deny")
    assert decision.refusal.matches_by(f"{ns}-deny-binding")
    assert not decision.refusal.matches_by("PodSecurity")


def test_validating_admission_policy_admits_and_warns_in_warn_mode(
    admin: K8sClient, policy_namespace: str
) -> None:
    ns = policy_namespace
    assert admin.admission_check(configmap("few", 3), namespace=ns).warnings == ()
    # Over the limit: Deny refuses; the refusal still carries the Warn binding's warning.
    refused = admin.admission_check(configmap("many", 9), namespace=ns)
    assert refused.warnings == (
        f"Validation failed for ValidatingAdmissionPolicy '{ns}-warn' with binding "
        f"'{ns}-warn-binding': replicas must be at most 5",
    )


def test_quota_exceeded_is_its_own_stage(admin: K8sClient) -> None:
    import time

    ns = labelled_namespace(admin, "quota", {})
    quota = admin.create(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "no-configmaps", "namespace": ns},
            "spec": {"hard": {"count/configmaps": "0"}},
        }
    )
    # The usage is kube-controller-manager's to fill in; the local control plane has none.
    quota["status"] = {"hard": {"count/configmaps": "0"}, "used": {"count/configmaps": "0"}}
    admin.put(f"/api/v1/namespaces/{ns}/resourcequotas/no-configmaps/status", json=quota)
    decision = admin.admission_check(configmap("one", 1), namespace=ns)
    deadline = time.monotonic() + 30
    while decision.admitted and time.monotonic() < deadline:  # the quota informer catches up
        time.sleep(0.2)
        decision = admin.admission_check(configmap("one", 1), namespace=ns)
    assert (decision.admitted, decision.stage, decision.status) == (False, "quota", 403)
    assert decision.by == "ResourceQuota no-configmaps"
    assert decision.message == (
        'configmaps "one" is forbidden: exceeded quota: no-configmaps, requested: '
        "count/configmaps=1, used: count/configmaps=0, limited: count/configmaps=0"
    )


def test_schema_invalid_object_is_the_validation_stage(admin: K8sClient) -> None:
    ns = labelled_namespace(admin, "invalid", {})
    broken = pod("no-image")
    del broken["spec"]["containers"][0]["image"]
    decision = admin.admission_check(broken, namespace=ns)
    assert (decision.admitted, decision.stage, decision.by, decision.status) == (
        False,
        "validation",
        "validation",
        422,
    )
    assert decision.message == (
        'Pod "no-image" is invalid: spec.containers[0].image: Required value'
    )


def test_a_runner_without_create_pods_is_refused_by_authorization(
    admin: K8sClient, make_service_account: Callable[..., Path], control_plane: ControlPlane
) -> None:
    ns = labelled_namespace(admin, "rbac", RESTRICTED)
    runner = client_for(control_plane, make_service_account(ns, "runner"))
    with runner:
        decision = runner.admission_check(pod("root", privileged=True))
    assert (decision.admitted, decision.stage, decision.status) == (False, "authorization", 403)
    assert decision.message == (
        f'pods is forbidden: User "system:serviceaccount:{ns}:runner" cannot create resource '
        f'"pods" in API group "" in the namespace "{ns}"'
    )
    assert decision.refusal is not None
    assert not decision.refusal.matches_by("PodSecurity")


def test_a_runner_with_create_pods_meets_pod_security(
    admin: K8sClient, make_service_account: Callable[..., Path], control_plane: ControlPlane
) -> None:
    ns = labelled_namespace(admin, "rbac", RESTRICTED)
    sa_dir = make_service_account(ns, "runner")
    admin.create(
        role(
            "Role",
            "pod-creator",
            [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}],
            ns,
        )
    )
    admin.create(
        bind("RoleBinding", "pod-creator", "Role", "pod-creator", [sa_subject(ns, "runner")], ns)
    )
    with client_for(control_plane, sa_dir) as runner:
        runner.wait_for_access("create pods")
        decision = runner.admission_check(pod("root", privileged=True))
    assert (decision.admitted, decision.stage, decision.by) == (False, "admission", "PodSecurity")


def test_a_missing_namespace_is_no_decision(admin: K8sClient) -> None:
    with pytest.raises(NotFound, match='namespaces "nowhere-at-all" not found'):
        admin.admission_check(pod("x"), namespace="nowhere-at-all")
