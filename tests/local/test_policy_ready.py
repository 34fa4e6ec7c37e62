"""Applied ValidatingAdmissionPolicies are enforced before anything runs against them.

Against real kube-apiservers: the shared one, and one started with the ValidatingAdmissionPolicy
admission plugin switched off (a server that stores policies but never enforces them, the one
way to make the wait run out on demand).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from pytest_incluster.local.controlplane import ControlPlane
from pytest_incluster.local.policy_ready import (
    MARKER_PREFIX,
    POLICY_API,
    PolicyNotEnforcedError,
    applies_admission_policies,
    wait_until_policies_enforced,
)
from pytest_incluster.local.provision import apply_manifests

pytestmark = pytest.mark.controlplane

POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: {name}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["configmaps"]
  validations:
    - expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels"
      message: "{name} wants an owner"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {name}
spec:
  policyName: {name}
  validationActions: [Deny]
  matchResources:
    objectSelector:
      matchLabels:
        test.pytest-incluster.io/policy: {name}
"""


def _dry_run(client: httpx.Client, name: str) -> httpx.Response:
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "no-owner", "labels": {"test.pytest-incluster.io/policy": name}},
    }
    return client.post("/api/v1/namespaces/default/configmaps?dryRun=All", json=body)


def _names(client: httpx.Client, kind: str) -> list[str]:
    response = client.get(f"{POLICY_API}/{kind}")
    assert response.status_code == 200, response.text
    return [item["metadata"]["name"] for item in response.json()["items"]]


def _delete(client: httpx.Client, name: str) -> None:
    for kind in ("validatingadmissionpolicybindings", "validatingadmissionpolicies"):
        client.delete(f"{POLICY_API}/{kind}/{name}")


def test_the_first_request_after_apply_is_judged_by_the_policy(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    name = f"owner-{uuid.uuid4().hex[:8]}"
    manifest = tmp_path / "policy.yaml"
    manifest.write_text(POLICY.format(name=name))
    with control_plane.admin_client() as client:
        try:
            apply_manifests(control_plane, [manifest])
            refused = _dry_run(client, name)
            assert refused.status_code == 422, refused.text
            assert f"{name} wants an owner" in refused.json()["message"]
            # Our marker is gone; the user's policy and binding stay.
            for kind in ("validatingadmissionpolicies", "validatingadmissionpolicybindings"):
                names = _names(client, kind)
                assert name in names
                assert not [n for n in names if n.startswith(MARKER_PREFIX)]
        finally:
            _delete(client, name)


def test_a_server_that_never_enforces_policies_is_reported(
    k8s_assets: Path, tmp_path: Path
) -> None:
    class WithoutPolicies(ControlPlane):
        def _apiserver_argv(self) -> list[str]:
            return [
                *super()._apiserver_argv(),
                "--disable-admission-plugins=ValidatingAdmissionPolicy",
            ]

    cp = WithoutPolicies.start(tmp_path / "state", assets=k8s_assets)
    try:
        with pytest.raises(PolicyNotEnforcedError) as raised:
            wait_until_policies_enforced(cp, timeout=3.0)
        message = str(raised.value)
        assert "were not in effect 3 s later" in message
        assert "kube-apiserver's log" in message
        with cp.admin_client() as client:
            for kind in ("validatingadmissionpolicies", "validatingadmissionpolicybindings"):
                assert not [n for n in _names(client, kind) if n.startswith(MARKER_PREFIX)]
    finally:
        cp.stop()


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("validatingadmissionpolicy.admissionregistration.k8s.io/p serverside-applied\n", True),
        ("validatingadmissionpolicybinding.admissionregistration.k8s.io/p created\n", True),
        ("configmap/p serverside-applied\nnamespace/n unchanged\n", False),
        ("mutatingwebhookconfiguration.admissionregistration.k8s.io/p created\n", False),
        ("", False),
    ],
)
def test_only_output_naming_a_validating_admission_policy_triggers_the_wait(
    output: str, expected: bool
) -> None:
    assert applies_admission_policies(output) is expected
