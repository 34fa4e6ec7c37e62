"""Turn a parsed entry into the exact question the authorizer answers.

``get deploy`` becomes ``verb=get, resource=deployments, group=apps, namespace=<default>``. The
TYPE goes through the server's discovery, so a type the server does not serve is an error
(:class:`~pytest_incluster.client.api_discovery.UnknownResourceType`) instead of the "yes" a
wildcard rule gives ``kubectl auth can-i`` for any string. Cluster-scoped types drop the
namespace, as the server does when it authorizes a real request.

A few resources exist only for the authorizer and never appear in discovery; they are accepted
by their full names: ``users`` and ``groups`` for ``impersonate``,
``userextras.authentication.k8s.io`` and ``uids.authentication.k8s.io`` likewise, and
``signers.certificates.k8s.io`` for ``approve``/``sign``/``attest``.

One more server rule is copied: a request for the namespace object ``namespaces/NAME`` is
authorized *in* namespace NAME (``requestinfo.go`` takes the namespace from the path), so a
RoleBinding there can grant ``get`` on its own namespace; the question carries that namespace.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.access.grammar import CheckSpec
from pytest_incluster.client.api_discovery import ApiResource, Discovery
from pytest_incluster.errors import InclusterError

# type as written (lower-case) -> (resource, group); all cluster-scoped.
VIRTUAL_RESOURCES = {
    "users": ("users", ""),
    "groups": ("groups", ""),
    "userextras.authentication.k8s.io": ("userextras", "authentication.k8s.io"),
    "uids.authentication.k8s.io": ("uids", "authentication.k8s.io"),
    "signers.certificates.k8s.io": ("signers", "certificates.k8s.io"),
}


class UnknownSubresource(InclusterError):
    """``--subresource`` names what the resource lacks (``pods --subresource=logs``)."""

    anchor = "access-file"

    def __init__(self, resource: ApiResource, subresource: str) -> None:
        self.resource = resource
        self.subresource = subresource
        has = ", ".join(resource.subresources) or "none"
        super().__init__(
            f'the server doesn\'t have a subresource "{subresource}" of '
            f'"{resource.qualified_name}" (it has: {has})'
        )


@dataclass(frozen=True)
class Resolved:
    """The authorizer's question plus what discovery said about the type (None: not a type)."""

    request: AccessRequest
    resource: ApiResource | None = None
    note: str = ""

    @property
    def namespaced(self) -> bool:
        """Whether a namespace applies (``*`` counts as namespaced, like kubectl treats it)."""
        if self.resource is not None:
            return self.resource.namespaced
        return self.request.resource == "*"


def resolve(spec: CheckSpec, discovery: Discovery, default_namespace: str | None) -> Resolved:
    """The request ``spec`` asks about; raises UnknownResourceType or UnknownSubresource."""
    if spec.path is not None:
        return Resolved(AccessRequest(verb=spec.verb, path=spec.path))
    chosen = None if spec.all_namespaces else (spec.namespace or default_namespace)
    lowered = spec.type.lower()
    if lowered == "*" or lowered.startswith("*."):
        group = lowered[2:] if lowered.startswith("*.") else ""
        return Resolved(_request(spec, "*", group, "", chosen))
    if lowered in VIRTUAL_RESOURCES:
        resource, group = VIRTUAL_RESOURCES[lowered]
        return Resolved(_request(spec, resource, group, "", None), note=_scope_note(spec, lowered))
    found = discovery.resolve_type(spec.type)
    if spec.subresource and spec.subresource not in found.subresources:
        raise UnknownSubresource(found, spec.subresource)
    namespace = chosen if found.namespaced else None
    if found.group == "" and found.name == "namespaces" and spec.name:
        namespace = spec.name
    note = "" if found.namespaced else _scope_note(spec, found.qualified_name)
    return Resolved(_request(spec, found.name, found.group, found.version, namespace), found, note)


def _request(
    spec: CheckSpec, resource: str, group: str, version: str, namespace: str | None
) -> AccessRequest:
    return AccessRequest(
        verb=spec.verb,
        resource=resource,
        group=group,
        version=version,
        namespace=namespace,
        name=spec.name,
        subresource=spec.subresource,
    )


def _scope_note(spec: CheckSpec, what: str) -> str:
    if spec.namespace:
        return f"{what} is cluster-scoped: -n {spec.namespace} does not apply"
    return ""
