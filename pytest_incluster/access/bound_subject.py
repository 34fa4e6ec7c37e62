"""A subject as RBAC bindings name it: ``user:alice``, ``group:ops``,
``serviceaccount:prod:vault``; the words of a ``who-can:`` list and of who-can results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pytest_incluster.config.names import DNS_LABEL

Kind = Literal["user", "group", "serviceaccount"]
KINDS: tuple[Kind, ...] = ("user", "group", "serviceaccount")
EXAMPLE = "[group:ops, serviceaccount:prod:vault, user:alice]"
SA_USER_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True, order=True)
class BoundSubject:
    """``kind`` and ``name``; a ServiceAccount's name is ``NAMESPACE:NAME``."""

    kind: Kind
    name: str

    @property
    def text(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def user_name(self) -> str | None:
        """The user name the API server sees (None for a group)."""
        if self.kind == "group":
            return None
        return SA_USER_PREFIX + self.name if self.kind == "serviceaccount" else self.name

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups a request by this subject carries (a group: itself alone)."""
        if self.kind == "group":
            return (self.name,)
        if self.kind == "serviceaccount":
            namespace = self.name.partition(":")[0]
            return (
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            )
        return ("system:authenticated",)


def from_binding(raw: object, binding_namespace: str = "") -> BoundSubject | None:
    """The subject of one ``subjects[]`` entry of a binding (None if malformed)."""
    if not isinstance(raw, dict):
        return None
    kind, name = raw.get("kind"), raw.get("name")
    if not isinstance(kind, str) or not isinstance(name, str) or not name:
        return None
    if kind == "ServiceAccount":
        namespace = raw.get("namespace") or binding_namespace
        return BoundSubject("serviceaccount", f"{namespace}:{name}") if namespace else None
    if kind == "User":
        return BoundSubject("user", name)
    if kind == "Group":
        return BoundSubject("group", name)
    return None


def parse_bound_subject(text: str) -> BoundSubject:
    """``group:ops`` -> BoundSubject; raises ValueError saying what the form is."""
    kind, sep, name = text.strip().partition(":")
    if not sep or kind not in KINDS or not name:
        raise ValueError(
            f"'{text}' is not a subject; write user:NAME, group:NAME or "
            f"serviceaccount:NAMESPACE:NAME (example: {EXAMPLE})"
        )
    if kind == "serviceaccount":
        namespace, sep, sa = name.partition(":")
        if not sep or not DNS_LABEL.match(namespace) or not sa:
            raise ValueError(
                f"'{text}' is not a ServiceAccount; the form is serviceaccount:NAMESPACE:NAME "
                f"(example: {EXAMPLE})"
            )
    return BoundSubject(kind, name)
