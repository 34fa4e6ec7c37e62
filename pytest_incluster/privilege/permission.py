"""One thing a subject may do, written in ``kubectl auth can-i`` grammar."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_incluster.access.decision import AccessRequest


@dataclass(frozen=True)
class Permission:
    """``verb`` on a resource (``resource``/``group``, optional ``name`` and ``subresource``)
    in ``namespace`` (None: cluster-scoped type; ``all_namespaces``: ``-A``), or ``verb`` on
    the non-resource URL ``path``."""

    verb: str
    resource: str = ""
    group: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str | None = None
    all_namespaces: bool = False
    path: str = ""

    @property
    def type_name(self) -> str:
        """``deployments.apps``; the plural alone for the core group."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def text(self) -> str:
        """``get pods/web --subresource=log -n shop``, ``list nodes``, ``get /healthz``."""
        if self.path:
            return f"{self.verb} {self.path}"
        words = [self.verb, self.type_name + (f"/{self.name}" if self.name else "")]
        if self.subresource:
            words.append(f"--subresource={self.subresource}")
        if self.all_namespaces:
            words.append("-A")
        elif self.namespace:
            words.append(f"-n {self.namespace}")
        return " ".join(words)

    @property
    def sort_key(self) -> tuple[str, ...]:
        """Resources before URLs; by type, subresource, name, scope, then verb."""
        return (
            "1" if self.path else "0",
            self.path or self.type_name,
            self.subresource,
            self.name,
            self.namespace or ("*" if self.all_namespaces else ""),
            self.verb,
        )

    def request(self) -> AccessRequest:
        """The SelfSubjectAccessReview question this permission answers ("" = all namespaces)."""
        if self.path:
            return AccessRequest(verb=self.verb, path=self.path)
        namespace = self.namespace or ""
        if self.group == "" and self.resource == "namespaces" and self.name:
            namespace = self.name  # the API server authorizes namespaces/NAME in NAME
        return AccessRequest(
            verb=self.verb,
            resource=self.resource,
            group=self.group,
            namespace=namespace,
            name=self.name or None,
            subresource=self.subresource or None,
        )


def sorted_permissions(permissions: set[Permission] | list[Permission]) -> list[Permission]:
    """``permissions`` in the snapshot's order (stable across runs and clusters)."""
    return sorted(set(permissions), key=lambda p: p.sort_key)
