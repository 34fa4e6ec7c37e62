"""Wait until the admission policies just applied are enforced by the API server.

kube-apiserver does not enforce a ValidatingAdmissionPolicy the moment it is stored: it reads
policies and bindings through informers and compiles them on a periodic refresh, so for a short
while after ``kubectl apply`` a request the policy forbids is still admitted. CI saw it: the
example suite, run right after ``--incluster-local-apply`` installed the example policy, got
"admitted" for the ConfigMap the policy rejects. A verdict taken in that window is false.

No status field says "enforced", so we ask the server: a marker policy and binding of our own,
applied after the user's, that deny a dry-run ConfigMap carrying a one-off label. Once the marker
denies, the refresh that compiled it had every policy and binding stored before it (an informer
delivers its kind's changes in order). The marker is deleted again. Only validating admission
policies are covered: they are GA in every supported release.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx

from pytest_incluster.local.errors import LocalError

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

POLICY_API = "/apis/admissionregistration.k8s.io/v1"
MARKER_PREFIX = "pytest-incluster-policy-ready-"
MARKER_LABEL = "pytest-incluster.io/policy-ready"
PROBE_NAMESPACE = "default"  # created by kube-apiserver itself, so it is always there
DEFAULT_TIMEOUT = 30.0
_APPLIED_POLICY_RE = re.compile(
    r"^validatingadmissionpolicy(binding)?\.admissionregistration\.k8s\.io/", re.MULTILINE
)


class PolicyNotEnforcedError(LocalError):
    """The applied policies were not in effect in time; the message says what to check."""


def applies_admission_policies(kubectl_output: str) -> bool:
    """Whether ``kubectl apply`` output names a ValidatingAdmissionPolicy or its binding."""
    return _APPLIED_POLICY_RE.search(kubectl_output) is not None


def _marker(token: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The marker policy, its binding, and the ConfigMap only the marker denies."""
    name = MARKER_PREFIX + token
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["configmaps"],
                    }
                ]
            },
            "validations": [{"expression": "false", "message": name}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"objectSelector": {"matchLabels": {MARKER_LABEL: token}}},
        },
    }
    probe = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {MARKER_LABEL: token}},
    }
    return policy, binding, probe


def _denied_by_marker(response: httpx.Response, name: str) -> bool:
    if response.status_code < 400:
        return False
    try:
        message = response.json().get("message", "")
    except ValueError:
        return False
    return isinstance(message, str) and name in message


def wait_until_policies_enforced(cp: ControlPlane, timeout: float = DEFAULT_TIMEOUT) -> float:
    """Block until policies stored so far are enforced; returns the seconds it took."""
    token = uuid.uuid4().hex[:10]
    name = MARKER_PREFIX + token
    policy, binding, probe = _marker(token)
    started = time.monotonic()
    with cp.admin_client() as client:
        try:
            for path, body in (
                (f"{POLICY_API}/validatingadmissionpolicies", policy),
                (f"{POLICY_API}/validatingadmissionpolicybindings", binding),
            ):
                created = client.post(path, json=body)
                if created.status_code not in (200, 201):
                    raise PolicyNotEnforcedError(
                        f"Could not create the marker {body['kind']} {name} that shows when the "
                        f"applied admission policies are in effect (HTTP {created.status_code}). "
                        "The local control plane may be overloaded; run again."
                    )
            probe_path = f"/api/v1/namespaces/{PROBE_NAMESPACE}/configmaps?dryRun=All"
            while True:
                if _denied_by_marker(client.post(probe_path, json=probe), name):
                    return time.monotonic() - started
                if time.monotonic() - started > timeout:
                    raise PolicyNotEnforcedError(
                        "The ValidatingAdmissionPolicies applied to the local control plane were "
                        f"not in effect {timeout:.0f} s later (a marker policy applied after them "
                        "still admitted its test object), so admission verdicts would be wrong. "
                        "Check kube-apiserver's log in the state directory for policy errors."
                    )
                time.sleep(0.05)
        finally:
            for kind in ("validatingadmissionpolicybindings", "validatingadmissionpolicies"):
                client.delete(f"{POLICY_API}/{kind}/{name}")
