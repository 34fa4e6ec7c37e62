"""expect_rejected, expect_admitted and expect_warning against the real kube-apiserver, run the
way users run them: a pytest subprocess with only ``--incluster-*`` options. Each marker passes
when the cluster decides as stated and fails, with its message, when it does not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_incluster.client import K8sClient
from tests.integration.access.access_rbac import bind, role, sa_subject
from tests.integration.admission.admission_world import labelled_namespace

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

PODS = """
import pytest

def pod(name, security=None):
    container = {"name": "app", "image": "app:1"}
    if security is not None:
        container["securityContext"] = security
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container]}}

PRIVILEGED = pod("root", {"privileged": True})
PLAIN = pod("plain")
COMPLIANT = pod("fine", {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                        "runAsNonRoot": True, "runAsUser": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"}})
"""


def _options(control_plane: ControlPlane, sa_dir: Path) -> list[str]:
    return [
        f"--incluster-server={control_plane.server}",
        f"--incluster-token-file={sa_dir / 'token'}",
        f"--incluster-ca-file={sa_dir / 'ca.crt'}",
        f"--incluster-namespace={(sa_dir / 'namespace').read_text()}",
        "-p",
        "no:cacheprovider",
    ]


def _runner(
    admin: K8sClient, make_service_account: Callable[..., Path], ns: str, *, pods: bool
) -> Path:
    sa_dir = make_service_account(ns, "runner")
    if pods:
        rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]
        admin.create(role("Role", "pod-creator", rules, ns))
        subjects = [sa_subject(ns, "runner")]
        admin.create(bind("RoleBinding", "pod-creator", "Role", "pod-creator", subjects, ns))
    return sa_dir


def test_admission_markers_pass_and_fail_on_the_clusters_decision(
    pytester: pytest.Pytester,
    admin: K8sClient,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
) -> None:
    ns = labelled_namespace(
        admin,
        "markers",
        {
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/warn": "restricted",
        },
    )
    sa_dir = _runner(admin, make_service_account, ns, pods=True)
    pytester.makepyfile(
        PODS
        + """
@pytest.mark.expect_rejected(by="PodSecurity", match="privileged")
def test_privileged_dry_run_is_rejected(k8s):
    assert not k8s.admission_check(PRIVILEGED)

@pytest.mark.expect_rejected(by="PodSecurity")
def test_privileged_create_is_rejected(k8s):
    k8s.create(PRIVILEGED)

@pytest.mark.expect_admitted
@pytest.mark.expect_warning("would violate PodSecurity .restricted")
def test_plain_pod_is_admitted_with_a_warning(k8s):
    k8s.admission_check(PLAIN)

@pytest.mark.expect_admitted
def test_compliant_pod_is_admitted(k8s):
    k8s.admission_check(COMPLIANT)

@pytest.mark.expect_rejected
def test_FAILS_compliant_pod_is_not_rejected(k8s):
    k8s.admission_check(COMPLIANT)

@pytest.mark.expect_admitted
def test_FAILS_privileged_is_not_admitted(k8s):
    k8s.admission_check(PRIVILEGED)

@pytest.mark.expect_admitted
def test_FAILS_privileged_create_is_not_admitted(k8s):
    k8s.create(PRIVILEGED)

@pytest.mark.expect_rejected(by="ValidatingAdmissionPolicy")
def test_FAILS_rejected_by_someone_else(k8s):
    k8s.admission_check(PRIVILEGED)

@pytest.mark.expect_rejected(match="hostPath")
def test_FAILS_message_does_not_match(k8s):
    k8s.admission_check(PRIVILEGED)

@pytest.mark.expect_warning("would violate PodSecurity")
def test_FAILS_compliant_pod_has_no_warning(k8s):
    k8s.admission_check(COMPLIANT)
"""
    )
    result = pytester.runpytest_subprocess(*_options(control_plane, sa_dir), "-rA")
    result.assert_outcomes(passed=4, failed=6)
    psa = 'pods "root" is forbidden: violates PodSecurity "baseline:latest": privileged *'
    result.stdout.fnmatch_lines(
        [
            "*_ test_FAILS_compliant_pod_is_not_rejected _*",
            "expected a rejection by admission, but the cluster admitted: "
            f"create Pod/fine -n {ns}: admitted",
            "Requests made by this test:",
            f"  POST /api/v1/namespaces/{ns}/pods?dryRun=All -> 201 Created [admitted]",
            "*_ test_FAILS_privileged_is_not_admitted _*",
            "expected the cluster to admit the test's requests, but: "
            f"create Pod/root -n {ns}: rejected by admission (PodSecurity): {psa}",
            "Requests made by this test:",
            f"  POST /api/v1/namespaces/{ns}/pods?dryRun=All -> 403 Forbidden "
            "[rejected by admission (PodSecurity)]",
            "*_ test_FAILS_privileged_create_is_not_admitted _*",
            "expected the cluster to admit the test's requests, but: "
            f"create Pod/root -n {ns}: rejected by admission (PodSecurity): {psa}",
            "*_ test_FAILS_rejected_by_someone_else _*",
            "expected a rejection by admission (by='ValidatingAdmissionPolicy'), but: "
            f"create Pod/root -n {ns}: rejected by admission (PodSecurity): {psa}",
            "*_ test_FAILS_message_does_not_match _*",
            "expected a rejection by admission (match='hostPath'), but: "
            f"create Pod/root -n {ns}: rejected by admission (PodSecurity): {psa}",
            "*_ test_FAILS_compliant_pod_has_no_warning _*",
            "expected a Warning matching 'would violate PodSecurity'; the server sent: none",
        ]
    )


def test_expect_rejected_fails_when_authorization_refused(
    pytester: pytest.Pytester,
    admin: K8sClient,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
) -> None:
    """The false pass of issue 15: a runner that may not create pods at all must not pass
    "privileged pods are rejected"."""
    ns = labelled_namespace(admin, "nopods", {"pod-security.kubernetes.io/enforce": "restricted"})
    sa_dir = _runner(admin, make_service_account, ns, pods=False)
    pytester.makepyfile(
        PODS
        + """
@pytest.mark.expect_rejected(by="PodSecurity")
def test_dry_run(k8s):
    k8s.admission_check(PRIVILEGED)

@pytest.mark.expect_rejected
def test_real_create(k8s):
    k8s.create(PRIVILEGED)
"""
    )
    result = pytester.runpytest_subprocess(*_options(control_plane, sa_dir), "-rA")
    result.assert_outcomes(failed=2)
    denial = (
        f'pods is forbidden: User "system:serviceaccount:{ns}:runner" cannot create resource '
        f'"pods" in API group "" in the namespace "{ns}"'
    )
    result.stdout.fnmatch_lines(
        [
            "*_ test_dry_run _*",
            f"rejected by authorization, not admission: {denial}",
            "Requests made by this test:",
            "*",
            "*",
            f"  POST /api/v1/namespaces/{ns}/pods?dryRun=All -> 403 Forbidden "
            "[rejected by authorization]",
            "*_ test_real_create _*",
            f"rejected by authorization, not admission: {denial}",
        ]
    )
