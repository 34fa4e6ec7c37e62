"""The opt-in ValidatingAdmissionPolicy example (example_tests/admission_policy) against the real
kube-apiserver: the overlay ships the policy and its test, and the test passes as a runner that
has only deploy/'s grants, after the policy is installed; without the policy it fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_incluster.client import K8sClient
from tests.integration.access.access_rbac import bind, role, sa_subject
from tests.integration.admission.admission_world import labelled_namespace
from tests.support.deploy import EXAMPLES, Layout, example_overlay, render

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

EXAMPLE = EXAMPLES / "admission_policy" / "test_admission_policy.py"


def _run_example(
    pytester: pytest.Pytester, cp: ControlPlane, sa_dir: Path, ns: str
) -> pytest.RunResult:
    pytester.makepyfile(test_admission_policy=EXAMPLE.read_text())
    return pytester.runpytest_subprocess(
        f"--incluster-server={cp.server}",
        f"--incluster-token-file={sa_dir / 'token'}",
        f"--incluster-ca-file={sa_dir / 'ca.crt'}",
        f"--incluster-namespace={ns}",
        "-p",
        "no:cacheprovider",
    )


def test_the_policy_example_passes_once_the_policy_is_installed(
    pytester: pytest.Pytester,
    kubectl: Path,
    tmp_path: Path,
    admin: K8sClient,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
) -> None:
    layout = Layout(
        tmp_path, render(kubectl, example_overlay(tmp_path, ["EXAMPLES/admission_policy"]))
    )
    assert "test_admission_policy.py" in layout.tests_configmap["data"]
    policy_docs = [d for d in layout.docs if d["kind"].startswith("ValidatingAdmissionPolicy")]
    assert [d["kind"] for d in policy_docs] == [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    assert all("namespace" not in d["metadata"] for d in policy_docs)  # cluster-scoped

    ns = labelled_namespace(admin, "policy-example", {})
    sa_dir = make_service_account(ns, "runner")
    # deploy/base/rbac-report.yaml's create on configmaps is what the dry runs need.
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]
    admin.create(role("Role", "report", rules, ns))
    admin.create(bind("RoleBinding", "report", "Role", "report", [sa_subject(ns, "runner")], ns))

    before = _run_example(pytester, control_plane, sa_dir, ns)
    before.assert_outcomes(passed=1, failed=1)  # no policy: nothing rejects the ConfigMap

    for doc in policy_docs:
        admin.create(doc)
    try:
        probe = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "probe",
                "labels": {"example.pytest-incluster.io/policy": "owner-required"},
            },
        }
        deadline = time.monotonic() + 30
        while admin.admission_check(probe, namespace=ns).admitted:
            assert time.monotonic() < deadline, "the example policy was never enforced"
            time.sleep(0.2)
        after = _run_example(pytester, control_plane, sa_dir, ns)
        after.assert_outcomes(passed=2)
    finally:
        admin.delete_tracked()
