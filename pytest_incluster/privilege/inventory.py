"""Everything a subject may do in one namespace, or at the cluster scope, as the server says.

A namespace: the SelfSubjectRulesReview's rules expanded against discovery (exact for RBAC,
which authorizes a request in a namespace by the ClusterRoleBindings plus that namespace's
RoleBindings, exactly the rules the review returns). When the server says the rules are
incomplete (``incomplete: true``: an authorizer such as Node or a webhook cannot list them),
every served resource and verb is also asked with a SelfSubjectAccessReview (a sweep), and the
inventory says so.

The cluster scope: the rules review needs a namespace and mixes that namespace's RoleBindings
into its answer, so it is asked about a namespace that does not exist (a random name: no
RoleBinding can be created in a namespace that does not exist), which leaves exactly the
ClusterRoleBindings' rules: cluster-scoped types, every namespace (``-A``) and non-resource
URLs. When incomplete, every cluster-scoped type and verb, every namespaced one with ``-A`` and
the well-known URLs are asked with access reviews as well.

What a sweep cannot see: permissions on named objects only (``resourceNames``, or the Node
authorizer's "secrets of pods on this node"), because names cannot be enumerated; the rules
review still contributes the RBAC ones.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

from pytest_incluster.access.client_protocol import AccessClient
from pytest_incluster.privilege.expand import (
    SPECIAL_VERBS,
    Target,
    expand_cluster,
    expand_namespace,
    expand_non_resource,
    targets,
)
from pytest_incluster.privilege.permission import Permission, sorted_permissions
from pytest_incluster.privilege.rules_review import RulesReview, rules_review
from pytest_incluster.privilege.sweep import Answer, allowed, ask_all

Method = Literal["rules", "sweep"]
# Non-resource URLs every API server serves; asked about when the rules are incomplete.
WELL_KNOWN_PATHS = (
    "/api",
    "/apis",
    "/healthz",
    "/livez",
    "/readyz",
    "/version",
    "/openapi/v2",
    "/openapi/v3",
    "/metrics",
    "/logs",
    "/debug/pprof",
)
_NAMED_VERBS = ("get", "update", "patch", "delete")


@dataclass(frozen=True)
class Inventory:
    """What the subject may do in ``namespace`` (None: the cluster scope), and how we know."""

    namespace: str | None
    permissions: tuple[Permission, ...]
    method: Method
    why: str = ""  # the server's evaluationError when it said the rules are incomplete
    reviews: int = 0  # SelfSubjectAccessReviews asked
    reasons: dict[Permission, str] = field(default_factory=dict, compare=False)

    @property
    def scope(self) -> str:
        return f"namespace {self.namespace}" if self.namespace else "the cluster scope"

    @property
    def how(self) -> str:
        """One sentence for stderr and the snapshot's comments: which method, and why."""
        if self.method == "rules":
            return f"{self.scope}: SelfSubjectRulesReview (complete), expanded against discovery"
        why = f" ({self.why})" if self.why else ""
        return (
            f"{self.scope}: the server said the rules are incomplete{why}; swept "
            f"{self.reviews} SelfSubjectAccessReviews over every served resource and verb"
        )


def _all_verbs(target: Target) -> list[str]:
    special = () if target.subresource else SPECIAL_VERBS.get((target.group, target.resource), ())
    return sorted(set(target.verbs) | set(special))


def namespace_sweep(served: list[Target], namespace: str) -> set[Permission]:
    """Every served namespaced resource and verb in ``namespace``, and the namespace object."""
    found: set[Permission] = set()
    for t in served:
        if t.group == "" and t.resource == "namespaces":
            found.update(
                Permission(v, t.resource, "", t.subresource, name=namespace)
                for v in t.verbs
                if v in _NAMED_VERBS
            )
        elif t.namespaced:
            found.update(
                Permission(v, t.resource, t.group, t.subresource, namespace=namespace)
                for v in _all_verbs(t)
            )
    return found


def cluster_sweep(served: list[Target], review: RulesReview) -> set[Permission]:
    """Every cluster-scoped type and verb, every namespaced one with ``-A``, the URLs."""
    found = {
        Permission(v, t.resource, t.group, t.subresource, all_namespaces=t.namespaced)
        for t in served
        for v in _all_verbs(t)
    }
    found.update(Permission("get", path=p) for p in WELL_KNOWN_PATHS)
    return found | expand_non_resource(review.non_resource_rules)


def _reasons(answers: list[Answer]) -> dict[Permission, str]:
    return {a.permission: a.reason for a in answers if a.allowed}


def namespace_inventory(client: AccessClient, namespace: str, concurrency: int) -> Inventory:
    """What ``client``'s subject may do in ``namespace``."""
    served = targets(client.discovery().resources())
    review = rules_review(client, namespace)
    found = expand_namespace(review.resource_rules, served, namespace)
    if not review.incomplete:
        return Inventory(namespace, tuple(sorted_permissions(found)), "rules")
    answers = ask_all(client, namespace_sweep(served, namespace) - found, concurrency)
    found |= allowed(answers)
    return Inventory(
        namespace,
        tuple(sorted_permissions(found)),
        "sweep",
        why=review.evaluation_error,
        reviews=len(answers),
        reasons=_reasons(answers),
    )


def nowhere() -> str:
    """A namespace name nobody has created: its rules review holds only cluster-wide rules."""
    return f"pytest-incluster-nowhere-{secrets.token_hex(8)}"


def cluster_inventory(client: AccessClient, concurrency: int) -> Inventory:
    """What ``client``'s subject may do at the cluster scope."""
    served = targets(client.discovery().resources())
    review = rules_review(client, nowhere())
    found = expand_cluster(review.resource_rules, served)
    urls = expand_non_resource(review.non_resource_rules)
    if not review.incomplete:
        return Inventory(None, tuple(sorted_permissions(found | urls)), "rules")
    answers = ask_all(client, cluster_sweep(served, review) - found - urls, concurrency)
    return Inventory(
        None,
        tuple(sorted_permissions(found | urls | allowed(answers))),
        "sweep",
        why=review.evaluation_error,
        reviews=len(answers),
        reasons=_reasons(answers),
    )
