"""SelfSubjectRulesReview: the rules the server's authorizers say a subject has in a namespace.

The server answers for the caller (or the impersonated subject). RBAC enumerates its rules
fully; an authorizer that cannot (the Node authorizer for ``system:node:*`` identities, a
webhook) makes the server set ``incomplete: true`` and usually ``evaluationError``: then the
rules are a lower bound and :mod:`.sweep` asks about each permission instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_incluster.access.client_protocol import HttpSender
from pytest_incluster.client.errors import error_from_response, json_body

SSRR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"


@dataclass(frozen=True)
class ResourceRule:
    """One resource rule as the server states it (``*`` wildcards kept)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class NonResourceRule:
    """Verbs on non-resource URLs (``/healthz``, ``/healthz/*``, ``*``)."""

    verbs: tuple[str, ...]
    urls: tuple[str, ...]


@dataclass(frozen=True)
class RulesReview:
    """The answer for one namespace; ``incomplete`` means other authorizers may allow more."""

    namespace: str
    resource_rules: tuple[ResourceRule, ...]
    non_resource_rules: tuple[NonResourceRule, ...]
    incomplete: bool
    evaluation_error: str = ""


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def parse_rules(namespace: str, status: Mapping[str, Any]) -> RulesReview:
    """The rules in a review's ``status`` (unknown fields tolerated)."""
    resource_rules = tuple(
        ResourceRule(
            verbs=_strings(raw.get("verbs")),
            api_groups=_strings(raw.get("apiGroups")),
            resources=_strings(raw.get("resources")),
            resource_names=_strings(raw.get("resourceNames")),
        )
        for raw in status.get("resourceRules") or []
        if isinstance(raw, Mapping)
    )
    non_resource_rules = tuple(
        NonResourceRule(verbs=_strings(raw.get("verbs")), urls=_strings(raw.get("nonResourceURLs")))
        for raw in status.get("nonResourceRules") or []
        if isinstance(raw, Mapping)
    )
    return RulesReview(
        namespace=namespace,
        resource_rules=resource_rules,
        non_resource_rules=non_resource_rules,
        incomplete=status.get("incomplete") is True,
        evaluation_error=str(status.get("evaluationError") or ""),
    )


def rules_review(client: HttpSender, namespace: str) -> RulesReview:
    """Ask the server for the caller's rules in ``namespace`` (a namespace is required)."""
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": namespace},
    }
    response = client.post(SSRR_PATH, json=body)
    if not response.is_success:
        response.read()
        raise error_from_response(response)
    answer = json_body(response)
    status = answer.get("status") if isinstance(answer, Mapping) else None
    return parse_rules(namespace, status if isinstance(status, Mapping) else {})
