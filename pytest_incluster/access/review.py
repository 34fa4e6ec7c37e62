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

from collections.abc import Mapping
from typing import Any

from pytest_incluster.access.client_protocol import HttpSender
from pytest_incluster.access.decision import AccessDecision, AccessRequest
from pytest_incluster.client.errors import error_from_response, json_body

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


def review(client: HttpSender, request: AccessRequest, *, subject: str = "") -> AccessDecision:
    """Ask the server about ``request`` as ``client``'s identity.

    Works with the plugin's raising client and with a plain ``httpx.Client``; a failed review
    (for example 401, or 403 from a server without the default grants) raises
    :class:`~pytest_incluster.client.errors.ApiError` rather than reading as "forbidden".
    """
    response = client.post(SSAR_PATH, json=review_body(request))
    if not response.is_success:
        response.read()
        raise error_from_response(response)
    body = json_body(response)
    status = body.get("status") if isinstance(body, dict) else None
    return decision_from_status(
        request, status if isinstance(status, Mapping) else {}, subject=subject
    )
