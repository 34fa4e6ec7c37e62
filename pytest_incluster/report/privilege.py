"""Is the runner itself too powerful for its negative tests to mean anything?

An access suite proves "X may not do Y" by impersonating X or by running as X. If the runner may
do everything, may grant itself any role (``escalate``/``bind``), or may impersonate anyone, a
passing negative test says little about the cluster's real exposure, and a bug in the test's own
impersonation would silently test the runner instead. The header and the report say so.
"""

from __future__ import annotations

from typing import Protocol

from pytest_incluster.access.decision import AccessDecision

CONSEQUENCE = "negative tests prove little under such an identity"
PREFIX = "runner privilege"

RBAC_GROUP = "rbac.authorization.k8s.io"

# (verb, resource, group, what it means); all asked cluster-wide (namespace "").
CHECKS: tuple[tuple[str, str, str, str], ...] = (
    ("escalate", "clusterroles", RBAC_GROUP, "may escalate ClusterRoles"),
    ("escalate", "roles", RBAC_GROUP, "may escalate Roles in every namespace"),
    ("bind", "clusterroles", RBAC_GROUP, "may bind any ClusterRole"),
    ("bind", "roles", RBAC_GROUP, "may bind any Role in every namespace"),
    ("impersonate", "users", "", "may impersonate any user"),
    ("impersonate", "groups", "", "may impersonate any group"),
    ("impersonate", "serviceaccounts", "", "may impersonate any service account"),
)


class CanI(Protocol):
    """The part of :class:`pytest_incluster.client.K8sClient` this module needs."""

    def can_i(
        self, verb: str, resource: str, *, group: str = ..., namespace: str = ...
    ) -> AccessDecision: ...


def privilege_warnings(client: CanI) -> list[str]:
    """Warnings (at most one line) naming the runner's dangerous permissions.

    Each permission is one SelfSubjectAccessReview. ``*`` on ``*`` in all groups is reported
    alone: it implies the rest. A check that cannot be
    asked (the API is unreachable, the review is refused) becomes one warning naming the error,
    because silence would read as "the runner is safely unprivileged".
    """
    try:
        if client.can_i("*", "*", group="*", namespace=""):
            return [
                f"{PREFIX}: the runner may do anything (verb * on * in every API group, "
                f"cluster-wide), like cluster-admin; {CONSEQUENCE}."
            ]
        found = [
            meaning
            for verb, resource, group, meaning in CHECKS
            if client.can_i(verb, resource, group=group, namespace="")
        ]
    except Exception as exc:  # a failed check is reported, never fatal
        return [
            f"{PREFIX}: could not check whether the runner is over-privileged "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})."
        ]
    if not found:
        return []
    return [f"{PREFIX}: the runner {'; '.join(found)}; {CONSEQUENCE}."]
