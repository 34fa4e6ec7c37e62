"""Plain data for access questions and the server's answers.

Shared by the client's ``can_i``, the access-matrix files, the ``expect_*`` markers and the
report, so all of them speak about one access check in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Expectation = Literal["allowed", "forbidden", "unauthorized"]
# An outcome's ``actual`` when no real request of the expected kind reached the server.
NOT_ASKED = "not asked"
Method = Literal["review", "request"]


@dataclass(frozen=True)
class AccessRequest:
    """One question: may the subject do ``verb`` on a resource, or on a non-resource path.

    Exactly one of ``resource`` and ``path`` is set. ``namespace`` None means "not namespaced /
    all namespaces" as in SelfSubjectAccessReview's ``resourceAttributes.namespace == ""``.
    """

    verb: str
    resource: str = ""  # plural resource name, e.g. "pods", "deployments"
    group: str = ""  # API group, "" for the core group
    version: str = ""
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    path: str | None = None  # non-resource URL such as "/healthz"

    @property
    def is_resource(self) -> bool:
        return self.path is None

    def describe(self) -> str:
        """kubectl-like text: ``list pods -n default``, ``get deployments.apps/web``."""
        if self.path is not None:
            return f"{self.verb} {self.path}"
        target = self.resource + (f".{self.group}" if self.group else "")
        if self.name:
            target += f"/{self.name}"
        text = f"{self.verb} {target}"
        if self.subresource:
            text += f" --subresource={self.subresource}"
        if self.namespace:
            text += f" -n {self.namespace}"
        return text


@dataclass(frozen=True)
class AccessDecision:
    """The server's answer; truthy when allowed.

    ``denied`` is only true when an authorizer explicitly denied; RBAC never does (it has "no
    opinion"), so ``allowed=False, denied=False`` is the normal RBAC "no".
    """

    request: AccessRequest
    allowed: bool
    denied: bool = False
    reason: str = ""
    evaluation_error: str = ""
    method: Method = "review"
    subject: str = ""  # who was asked about: impersonated user or the runner's own username
    note: str = ""  # e.g. "verb 'bind' has no request form; answered by review"

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def verdict(self) -> Literal["allowed", "forbidden"]:
        return "allowed" if self.allowed else "forbidden"


@dataclass(frozen=True)
class AccessOutcome:
    """One row of the report's access summary: an expectation compared with what happened."""

    test_id: str
    subject: str
    verb: str
    resource: str  # resource[.group][/name] or a non-resource path
    namespace: str
    expected: Expectation
    actual: str  # "allowed", "forbidden", "unauthorized", NOT_ASKED, or "error"
    reason: str = ""  # authorizer reason or server message

    @property
    def passed(self) -> bool:
        return self.expected == self.actual
