"""Objects the admission tests send: pods that do and do not meet Pod Security levels, a
ValidatingAdmissionPolicy with its bindings, a quota, and the namespaces they live in."""

from __future__ import annotations

import uuid
from typing import Any

from pytest_incluster.client import K8sClient


def pod(name: str, *, privileged: bool = False, restricted: bool = False) -> dict[str, Any]:
    """A pod: ``privileged`` fails baseline and restricted; ``restricted`` meets restricted;
    neither meets baseline but not restricted (so restricted ``warn`` mode warns)."""
    container: dict[str, Any] = {"name": "app", "image": "app:1"}
    spec: dict[str, Any] = {"containers": [container]}
    if privileged:
        container["securityContext"] = {"privileged": True}
    if restricted:
        container["securityContext"] = {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def labelled_namespace(admin: K8sClient, stem: str, labels: dict[str, str]) -> str:
    """A new namespace with ``labels`` (Pod Security levels are namespace labels)."""
    name = f"{stem}-{uuid.uuid4().hex[:8]}"
    admin.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    )
    return name


def replicas_policy(name: str, namespace: str, actions: list[str]) -> list[dict[str, Any]]:
    """A ConfigMap policy: ``data.replicas`` must not exceed 5, bound to ``namespace`` only."""
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
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["configmaps"],
                    }
                ]
            },
            "validations": [
                {
                    "expression": "int(object.data.replicas) <= 5",
                    "message": "replicas must be at most 5",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": f"{name}-binding"},
        "spec": {
            "policyName": name,
            "validationActions": actions,
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
            },
        },
    }
    return [policy, binding]


def configmap(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"replicas": str(replicas)},
    }
