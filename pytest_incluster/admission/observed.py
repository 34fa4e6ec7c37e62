"""Admission decisions read back from the call log.

A test may ask with ``k8s.admission_check`` or simply ``k8s.create(...)``; either way every write
request it sent is in the call log with its status, message and ``Warning`` headers, which is
all a decision needs. Reviews (SelfSubjectAccessReview, TokenReview...) are writes the plugin
and ``can_i`` send, not objects admission decides on, so they are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pytest_incluster.admission.classify import refusal
from pytest_incluster.admission.decision import AdmissionDecision
from pytest_incluster.calls import ApiCall

OPERATION_OF = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_REVIEW_GROUPS = ("/apis/authorization.k8s.io/", "/apis/authentication.k8s.io/")
_NAMESPACE = re.compile(r"/namespaces/(?P<ns>[^/?]+)/")
_RESOURCE = re.compile(r"/(?:namespaces/[^/?]+/)?(?P<rest>[^/?]+(?:/[^/?]+)?)(?:\?|$)")
_APPLY = "fieldManager="


def decision_of(call: ApiCall) -> AdmissionDecision | None:
    """The decision in one recorded call, or None when it is no admission decision (a read, a
    review, no answer, or an error such as 404 that decides nothing about the object)."""
    operation = OPERATION_OF.get(call.method)
    if operation is None or call.status is None or not call.counted:
        return None
    if call.path.startswith(_REVIEW_GROUPS):
        return None
    if operation == "patch" and _APPLY in call.path:
        operation = "apply"
    found = refusal(call.status, call.message) if call.status >= 400 else None
    if call.status >= 400 and found is None:
        return None
    namespace = _NAMESPACE.search(call.path)
    return AdmissionDecision(
        admitted=found is None,
        target=call.target or _resource_of(call.path),
        namespace=namespace["ns"] if namespace else "",
        operation=operation,
        status=call.status,
        message=call.message if found is not None else "",
        warnings=call.warnings,
        refusal=found,
        subject=call.impersonated_user or "",
    )


def _resource_of(path: str) -> str:
    """``pods`` or ``pods/web`` from a request path (without the API prefix)."""
    path = re.sub(r"^/(?:api/[^/]+|apis/[^/]+/[^/]+)", "", path)
    found = _RESOURCE.search(path)
    return found["rest"] if found else path


def decisions_of(calls: Iterable[ApiCall]) -> list[AdmissionDecision]:
    """The admission decisions among ``calls``, in order."""
    return [d for d in map(decision_of, calls) if d is not None]


def verdict_text(decision: AdmissionDecision) -> str:
    """``admitted``, ``admitted; warning: ...`` or ``rejected by admission (PodSecurity)``: the
    decision as the call log shows it next to the request."""
    if decision.refusal is None:
        text = "admitted"
    else:
        by = f" ({decision.by})" if decision.by and decision.by != decision.stage else ""
        text = f"rejected by {decision.stage}{by}"
    if decision.warnings:
        text += "; warning: " + " | ".join(decision.warnings)
    return text
