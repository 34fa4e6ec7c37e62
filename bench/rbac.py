"""The benchmark's RBAC: what a realistic CI runner ServiceAccount is granted.

Several Roles and RoleBindings across the ten team namespaces, one in ``kube-system`` and one in
``default``, a ClusterRoleBinding for reading namespaces, and the built-in ``view`` ClusterRole
bound (by RoleBindings) in four namespaces. Resource names, wildcards, subresources and
non-resource URLs all appear, so the generated checks hit every kind of RBAC rule.

``view`` is an aggregated ClusterRole: its rules are filled in by kube-controller-manager's
aggregation controller, which the local control plane does not run. :func:`aggregate_view` does
the controller's job (the union of the rules of every ClusterRole labelled
``rbac.authorization.k8s.io/aggregate-to-view``), otherwise binding ``view`` would grant nothing.

``view`` is deliberately not bound in the runner's own namespace: it grants ``namespaces``, and
``kubectl auth can-i list namespaces`` sends the kubeconfig's namespace along, so kubectl would
answer "yes" where the API server refuses the real request. That is a known kubectl pitfall, not
something this benchmark is about (see entries.py).
"""

from __future__ import annotations

from typing import Any

import httpx

from bench.entries import RUNNER_NAME, RUNNER_NAMESPACE

VIEW_NAMESPACES = ("shop", "search", "frontend", "monitoring")
AGGREGATE_TO_VIEW = "rbac.authorization.k8s.io/aggregate-to-view=true"

Rule = dict[str, Any]


def _rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> Rule:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch"]

# Role name -> (rules, namespaces it is created and bound in)
ROLES: dict[str, tuple[list[Rule], tuple[str, ...]]] = {
    "deployer": (
        [
            _rule(["apps"], ["deployments"], READ + WRITE),
            _rule(["apps"], ["deployments/scale"], ["get", "update", "patch"]),
            _rule([""], ["services"], READ + WRITE),
            _rule([""], ["configmaps"], [*READ, *WRITE, "delete"]),
        ],
        ("shop", "frontend", "backend", "staging"),
    ),
    "job-runner": (
        [
            _rule(["batch"], ["jobs"], ["create", "get", "list", "watch", "delete"]),
            _rule(["batch"], ["cronjobs"], READ),
            _rule([""], ["pods"], READ),
            _rule([""], ["pods/log"], ["get"]),
        ],
        ("data", "ml", "ci"),
    ),
    "ml-batch-admin": ([_rule(["batch"], ["*"], ["*"])], ("ml",)),
    "secret-reader": (
        [_rule([""], ["secrets"], ["get"], resourceNames=["db-credentials", "api-key"])],
        ("payments", "shop"),
    ),
    "rbac-viewer": (
        [_rule(["rbac.authorization.k8s.io"], ["roles", "rolebindings"], READ)],
        ("staging", "ci"),
    ),
    "pod-debugger": (
        [
            _rule([""], ["pods"], ["get", "list"]),
            _rule([""], ["pods/log"], ["get"]),
            _rule([""], ["pods/exec"], ["create"]),
        ],
        ("monitoring", "backend"),
    ),
    "service-reader": ([_rule([""], ["services", "endpoints"], READ)], ("default", "payments")),
    "root-ca-reader": (
        [_rule([""], ["configmaps"], ["get"], resourceNames=["kube-root-ca.crt"])],
        ("kube-system",),
    ),
    "ingress-editor": (
        [_rule(["networking.k8s.io"], ["ingresses"], [*READ, *WRITE, "delete"])],
        ("frontend", "search"),
    ),
}
CLUSTER_ROLE = "bench-namespace-reader"


def _subject() -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": RUNNER_NAME, "namespace": RUNNER_NAMESPACE}


def _binding(namespace: str, name: str, role_kind: str, role: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [_subject()],
    }


def manifests() -> list[dict[str, Any]]:
    """Every RBAC object, in an order that applies cleanly (namespaces must already exist)."""
    docs: list[dict[str, Any]] = []
    for role, (rules, namespaces) in ROLES.items():
        for namespace in namespaces:
            docs.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "Role",
                    "metadata": {"name": role, "namespace": namespace},
                    "rules": rules,
                }
            )
            docs.append(_binding(namespace, f"bench-{role}", "Role", role))
    for namespace in VIEW_NAMESPACES:
        docs.append(_binding(namespace, "bench-view", "ClusterRole", "view"))
    docs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": CLUSTER_ROLE},
            "rules": [_rule([""], ["namespaces"], READ)],
        }
    )
    docs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": CLUSTER_ROLE},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": CLUSTER_ROLE,
            },
            "subjects": [_subject()],
        }
    )
    return docs


def aggregate_view(admin: httpx.Client) -> int:
    """Fill ``view``'s rules as the aggregation controller would; returns the rule count."""
    listing = admin.get(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        params={"labelSelector": AGGREGATE_TO_VIEW},
    )
    listing.raise_for_status()
    rules: list[Rule] = []
    for item in sorted(listing.json()["items"], key=lambda i: i["metadata"]["name"]):
        for rule in item.get("rules") or []:
            if rule not in rules:
                rules.append(rule)
    if not rules:
        raise RuntimeError(f"no ClusterRole is labelled {AGGREGATE_TO_VIEW}; cannot build view")
    response = admin.patch(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/view",
        json={"rules": rules},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    response.raise_for_status()
    return len(rules)
