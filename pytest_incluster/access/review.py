"""SelfSubjectAccessReview: ask the API server whether the caller may do something.

The one place an :class:`AccessRequest` becomes a review and the answer an
:class:`AccessDecision`, shared by ``K8sClient.can_i`` and the access matrix. A review needs no
permission (``system:basic-user`` grants it to every authenticated user) and changes nothing.
With impersonation headers on the client it answers for the impersonated user.

Mapping notes (research notes §2.5, §2.10): a subresource is a separate field, never
``"pods/exec"``; ``namespace`` ``""`` means all namespaces for a namespaced resource; RBAC never
sets ``denied`` (``allowed=False, denied=False`` is its "no").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pytest_incluster.access.client_protocol import HttpSender
from pytest_incluster.access.decision import AccessDecision, AccessRequest
from pytest_incluster.client.errors import error_from_response, json_body
from pytest_incluster.client.readiness import VERIFY_DENIAL

SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def review_body(request: AccessRequest) -> dict[str, Any]:
    """The SelfSubjectAccessReview object for ``request``; empty attributes are left out."""
    spec: dict[str, Any]
    if request.path is not None:
        spec = {"nonResourceAttributes": {"path": request.path, "verb": request.verb}}
    else:
        attributes = {
            "namespace": request.namespace or "",
            "verb": request.verb,
            "group": request.group,
            "version": request.version,
            "resource": request.resource,
            "subresource": request.subresource or "",
            "name": request.name or "",
        }
        spec = {"resourceAttributes": {k: v for k, v in attributes.items() if v}}
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": spec,
    }


def decision_from_status(
    request: AccessRequest, status: Mapping[str, Any], *, subject: str = ""
) -> AccessDecision:
    """The decision in a review's ``status`` (unknown fields tolerated)."""
    return AccessDecision(
        request=request,
        allowed=status.get("allowed") is True,
        denied=status.get("denied") is True,
        reason=str(status.get("reason") or ""),
        evaluation_error=str(status.get("evaluationError") or ""),
        method="review",
        subject=subject,
    )


def is_denial(body: bytes) -> bool:
    """Whether a review's answer body says "not allowed" (what a starting server also says)."""
    try:
        status = json.loads(body).get("status")
    except (ValueError, AttributeError):
        return False  # not a review answer; reading it fails later with its own message
    return isinstance(status, Mapping) and status.get("allowed") is not True


def review(client: HttpSender, request: AccessRequest, *, subject: str = "") -> AccessDecision:
    """Ask the server about ``request`` as ``client``'s identity.

    Works with the plugin's raising client and with a plain ``httpx.Client``; a failed review
    (for example 401, or 403 from a server without the default grants) raises
    :class:`~pytest_incluster.client.errors.ApiError` rather than reading as "forbidden".

    With the plugin's client an ``allowed: false`` only counts from a server known to be ready
    (the request is marked with :data:`~pytest_incluster.client.readiness.VERIFY_DENIAL`; see
    :mod:`pytest_incluster.client.readiness`); otherwise
    :class:`~pytest_incluster.client.errors.UnverifiedDenial` is raised.
    """
    response = client.post(
        SSAR_PATH, json=review_body(request), extensions={VERIFY_DENIAL: is_denial}
    )
    if not response.is_success:
        response.read()
        raise error_from_response(response)
    body = json_body(response)
    status = body.get("status") if isinstance(body, dict) else None
    return decision_from_status(
        request, status if isinstance(status, Mapping) else {}, subject=subject
    )
