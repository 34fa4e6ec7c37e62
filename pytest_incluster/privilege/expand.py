"""Rules expanded against discovery: one :class:`Permission` per served resource and verb.

The matching copies RBAC's (``k8s.io/kubernetes`` ``pkg/apis/rbac/v1/evaluation_helpers.go``):
``*`` matches every group, resource (subresources included) and verb; ``*/scale`` matches the
``scale`` subresource of every resource; ``resourceNames`` restrict a rule to those objects;
non-resource URLs match exactly or, when the rule ends in ``*``, by prefix.

A ``*`` verb stands for the verbs discovery lists for the resource plus the verbs that exist
only for the authorizer (``bind``/``escalate`` on roles, ``impersonate`` on service accounts,
users and groups, ``approve``/``sign``/``attest`` on signers): those are the ones a
least-privilege review must never miss. A verb a rule names explicitly is kept as named.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pytest_incluster.access.grammar import NON_RESOURCE_VERBS, RESOURCE_VERBS
from pytest_incluster.access.resolve import VIRTUAL_RESOURCES
from pytest_incluster.client.api_discovery import ApiResource
from pytest_incluster.privilege.permission import Permission
from pytest_incluster.privilege.rules_review import NonResourceRule, ResourceRule

RBAC = "rbac.authorization.k8s.io"
# (group, resource) -> verbs that exist only for the authorizer, never in discovery.
SPECIAL_VERBS: dict[tuple[str, str], tuple[str, ...]] = {
    (RBAC, "roles"): ("bind", "escalate"),
    (RBAC, "clusterroles"): ("bind", "escalate"),
    ("", "serviceaccounts"): ("impersonate",),
    ("", "users"): ("impersonate",),
    ("", "groups"): ("impersonate",),
    ("authentication.k8s.io", "userextras"): ("impersonate",),
    ("authentication.k8s.io", "uids"): ("impersonate",),
    ("certificates.k8s.io", "signers"): ("approve", "sign", "attest"),
}
_CONCRETE_VERBS = RESOURCE_VERBS - {"*"}


@dataclass(frozen=True)
class Target:
    """A served (or authorizer-only) resource type with one of its subresources ("" = none)."""

    group: str
    resource: str
    subresource: str
    namespaced: bool
    verbs: tuple[str, ...]

    @property
    def combined(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def targets(resources: Iterable[ApiResource]) -> list[Target]:
    """Every (type, subresource) discovery serves, once per group and plural, plus the
    authorizer-only types (cluster-scoped)."""
    seen: dict[tuple[str, str, str], Target] = {}
    for res in resources:
        for sub in ("", *res.subresources):
            key = (res.group, res.name, sub)
            if key not in seen:
                seen[key] = Target(res.group, res.name, sub, res.namespaced, res.verbs_of(sub))
    for resource, group in VIRTUAL_RESOURCES.values():
        seen.setdefault((group, resource, ""), Target(group, resource, "", False, ()))
    return list(seen.values())


def group_matches(rule: ResourceRule, group: str) -> bool:
    return "*" in rule.api_groups or group in rule.api_groups


def resource_matches(rule: ResourceRule, target: Target) -> bool:
    """RBAC's ``ResourceMatches``: ``*``, the exact ``res[/sub]``, or ``*/sub``."""
    for wanted in rule.resources:
        if wanted in ("*", target.combined):
            return True
        if target.subresource and wanted == f"*/{target.subresource}":
            return True
    return False


def rule_verbs(rule: ResourceRule, target: Target) -> list[str]:
    """The concrete verbs ``rule`` grants on ``target``."""
    if "*" in rule.verbs:
        special = (
            () if target.subresource else SPECIAL_VERBS.get((target.group, target.resource), ())
        )
        return sorted(set(target.verbs) | set(special))
    return sorted(v for v in set(rule.verbs) if v in _CONCRETE_VERBS)


def _namespace_object(target: Target) -> bool:
    return target.group == "" and target.resource == "namespaces"


def expand_namespace(
    rules: Iterable[ResourceRule], served: list[Target], namespace: str
) -> set[Permission]:
    """What the rules grant on namespaced types in ``namespace``, and on the namespace object
    itself (``get namespaces/NAMESPACE`` is authorized in that namespace)."""
    found: set[Permission] = set()
    for rule in rules:
        for target in served:
            in_scope = target.namespaced or _namespace_object(target)
            if not in_scope or not group_matches(rule, target.group):
                continue
            if not resource_matches(rule, target):
                continue
            found.update(_permissions(rule, target, namespace))
    return found


def _permissions(rule: ResourceRule, target: Target, namespace: str) -> Iterator[Permission]:
    for verb in rule_verbs(rule, target):
        if _namespace_object(target):
            if rule.resource_names and namespace not in rule.resource_names:
                continue
            yield Permission(verb, target.resource, "", target.subresource, name=namespace)
            continue
        for name in rule.resource_names or ("",):
            yield Permission(
                verb, target.resource, target.group, target.subresource, name, namespace
            )


def expand_cluster(rules: Iterable[ResourceRule], served: list[Target]) -> set[Permission]:
    """What cluster-wide rules grant: cluster-scoped types, and namespaced types across all
    namespaces (``-A``). Exact only for rules that come from ClusterRoleBindings alone (a rules
    review of a namespace without RoleBindings, see :func:`.inventory.nowhere`)."""
    found: set[Permission] = set()
    for rule in rules:
        for target in served:
            if not group_matches(rule, target.group) or not resource_matches(rule, target):
                continue
            for verb in rule_verbs(rule, target):
                for name in rule.resource_names or ("",):
                    found.add(
                        Permission(
                            verb,
                            target.resource,
                            target.group,
                            target.subresource,
                            name,
                            all_namespaces=target.namespaced,
                        )
                    )
    return found


def expand_non_resource(rules: Iterable[NonResourceRule]) -> set[Permission]:
    """``VERB /url`` for each verb and URL; the URL ``*`` is written ``/*``."""
    found: set[Permission] = set()
    for rule in rules:
        verbs = ["*"] if "*" in rule.verbs else [v for v in rule.verbs if v in NON_RESOURCE_VERBS]
        for url in rule.urls:
            path = url if url.startswith("/") else "/" + url
            found.update(Permission(verb, path=path) for verb in verbs)
    return found
