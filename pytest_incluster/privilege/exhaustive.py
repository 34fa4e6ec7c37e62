"""``exhaustive: true``: what the subject may do beyond the document's ``allowed:`` list.

An allowed entry covers a permission when it names the same verb (or ``*``), the same type
(``*`` covers every type), subresource and scope, and either no object name or the same one;
``-A`` covers every namespace. An ``ignore:`` glob (``fnmatch``, on the permission's can-i
text) accepts a permission without listing it. Each extra permission is asked once more with
a SelfSubjectAccessReview, whose ``reason`` names the binding and role that grant it when the
authorizer is RBAC.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_incluster.access.client_protocol import AccessClient
from pytest_incluster.access.grammar import CheckSpec
from pytest_incluster.access.resolve import resolve
from pytest_incluster.privilege.inventory import Inventory
from pytest_incluster.privilege.permission import Permission
from pytest_incluster.privilege.sweep import ask_all


@dataclass(frozen=True)
class Extra:
    """A permission the document does not allow, and the server's reason (the binding)."""

    permission: Permission
    reason: str = ""

    @property
    def line(self) -> str:
        return f"{self.permission.text}  ({self.reason})" if self.reason else self.permission.text


@dataclass(frozen=True)
class Grant:
    """An ``allowed:`` entry, resolved: what it covers."""

    verb: str
    resource: str  # "*" = every type
    group: str
    subresource: str
    name: str
    namespace: str | None  # None: cluster scope; "*": every namespace (-A)
    path: str = ""

    def covers(self, p: Permission) -> bool:
        if self.verb not in ("*", p.verb):
            return False
        if self.path or p.path:
            return bool(self.path and p.path) and _url_covers(self.path, p.path)
        if self.resource == "*":
            if self.group and self.group != p.group:  # "*.apps": every type of one group
                return False
        elif (self.resource, self.group) != (p.resource, p.group):
            return False
        if self.subresource != p.subresource or self.name not in ("", p.name):
            return False
        scope = "*" if p.all_namespaces else p.namespace
        return self.namespace in ("*", scope)


def _url_covers(rule: str, path: str) -> bool:
    if rule in ("/*", path):
        return True
    return rule.endswith("*") and path.startswith(rule[:-1])


def grant(spec: CheckSpec, client: AccessClient, default_namespace: str) -> Grant:
    """What ``spec`` covers; raises UnknownResourceType like any access entry."""
    if spec.path is not None:
        return Grant(spec.verb, "", "", "", "", None, path=spec.path)
    resolved = resolve(spec, client.discovery(), default_namespace)
    request = resolved.request
    if spec.all_namespaces and resolved.namespaced:
        namespace: str | None = "*"
    else:
        namespace = request.namespace if resolved.namespaced else None
    name = request.name or ""
    if request.resource == "namespaces" and request.group == "":
        namespace = None
    return Grant(
        spec.verb,
        request.resource,
        request.group,
        request.subresource or "",
        name,
        namespace,
    )


def ignored(permission: Permission, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(permission.text, pattern) for pattern in patterns)


def extras(
    client: AccessClient,
    inventory: Inventory,
    grants: Iterable[Grant],
    patterns: Sequence[str],
    concurrency: int,
) -> list[Extra]:
    """The inventory's permissions no grant covers and no pattern ignores, each with the
    server's reason."""
    allowed = list(grants)
    beyond = [
        p
        for p in inventory.permissions
        if not any(g.covers(p) for g in allowed) and not ignored(p, patterns)
    ]
    unknown = [p for p in beyond if p not in inventory.reasons and not p.path]
    asked = {a.permission: a.reason for a in ask_all(client, unknown, concurrency)}
    reasons = {**inventory.reasons, **asked}
    return [Extra(p, reasons.get(p, "")) for p in beyond]
