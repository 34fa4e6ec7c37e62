"""Fill aggregated ClusterRoles (``view``, ``edit``, ``admin``) as kube-controller-manager would.

The API server creates those built-in roles with an ``aggregationRule`` and *no rules*; the
clusterrole-aggregation controller in kube-controller-manager copies in the rules of every
ClusterRole whose labels match. The local control plane runs no controller-manager, so without
this step binding ``view`` grants nothing and a local run would disagree with any real cluster.
``view`` aggregates into ``edit`` and ``edit`` into ``admin``, so it repeats until stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

CLUSTER_ROLES = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
_MAX_ROUNDS = 5  # view -> edit -> admin is three levels; more means a selector cycle


def _selected(selectors: list[dict[str, Any]], labels: Mapping[str, str]) -> bool:
    """Whether any selector matches (matchLabels only: the built-in roles use nothing else)."""
    return any(
        all(labels.get(k) == v for k, v in (s.get("matchLabels") or {}).items())
        and not s.get("matchExpressions")
        for s in selectors
    )


def aggregate_cluster_roles(admin: httpx.Client) -> int:
    """Copy matching rules into every aggregated ClusterRole; returns how many were updated."""
    updated = 0
    for _ in range(_MAX_ROUNDS):
        listing = admin.get(CLUSTER_ROLES)
        listing.raise_for_status()
        roles: list[dict[str, Any]] = listing.json()["items"]
        changed = False
        for target in roles:
            selectors = (target.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
            if not selectors:
                continue
            rules: list[dict[str, Any]] = []
            for source in roles:
                labels = source["metadata"].get("labels") or {}
                if source is target or not _selected(selectors, labels):
                    continue
                rules.extend(r for r in source.get("rules") or [] if r not in rules)
            if rules != (target.get("rules") or []):
                target["rules"] = rules
                response = admin.put(f"{CLUSTER_ROLES}/{target['metadata']['name']}", json=target)
                response.raise_for_status()
                updated += 1
                changed = True
        if not changed:
            break
    return updated
