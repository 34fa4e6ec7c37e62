"""The dry-run request behind ``K8sClient.admission_check``.

The object is sent exactly as the real request would be, with ``dryRun=All``: the API server
authorizes it, runs every admission plugin, policy and webhook, quota and validation, and stores
nothing. A refusal is returned as a decision (not raised); answers that decide nothing about
the object still raise: no such namespace (404), an object that already exists (409: check it
with ``operation="update"`` or ``"apply"``), server errors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pytest_incluster.admission.classify import refusal
from pytest_incluster.admission.decision import OPERATIONS, AdmissionDecision, Operation
from pytest_incluster.client.errors import ApiError, warning_texts
from pytest_incluster.client.paths import resource_path
from pytest_incluster.client.transport import TARGET_EXTENSION

if TYPE_CHECKING:
    import httpx

    from pytest_incluster.client.api_discovery import Discovery

APPLY_PATCH = "application/apply-patch+yaml"


class DryRunClient(Protocol):
    """What a dry run needs of a client (``K8sClient`` provides it)."""

    @property
    def namespace(self) -> str: ...
    @property
    def impersonated_user(self) -> str | None: ...
    def discovery(self) -> Discovery: ...
    def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> httpx.Response: ...


def target_of(obj: Mapping[str, Any]) -> str:
    """``Kind/name`` of a manifest (``generateName`` when it has no name)."""
    meta = obj.get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or "(unnamed)"
    return f"{obj.get('kind', '(no kind)')}/{name}"


def admission_check(
    client: DryRunClient,
    obj: Mapping[str, Any],
    *,
    namespace: str | None = None,
    operation: Operation = "create",
) -> AdmissionDecision:
    """Send ``obj`` as a server-side dry run of ``operation`` and return the server's decision."""
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version:
        raise ValueError("the object needs 'apiVersion' and 'kind' strings")
    meta = dict(obj.get("metadata") or {})
    name = str(meta.get("name") or "")
    if operation != "create" and not name:
        raise ValueError(f"{operation} needs metadata.name")
    resource = client.discovery().for_kind(api_version, kind)
    ns = (namespace or meta.get("namespace") or client.namespace) if resource.namespaced else None
    body = dict(obj)
    if ns is not None:
        body["metadata"] = {**meta, "namespace": ns}
    target = target_of(obj)
    path = resource_path(resource, namespace=ns, name=None if operation == "create" else name)
    decision = AdmissionDecision(
        admitted=True,
        target=target,
        namespace=ns or "",
        operation=operation,
        status=0,
        subject=client.impersonated_user or "",
    )
    try:
        response = _send(client, operation, path, body, target)
    except ApiError as exc:
        found = refusal(exc.code, exc.server_message)
        if found is None:
            raise
        return _replace(
            decision,
            admitted=False,
            status=exc.code,
            message=exc.server_message,
            warnings=warning_texts(exc.response),
            refusal=found,
        )
    return _replace(decision, status=response.status_code, warnings=warning_texts(response))


def _replace(decision: AdmissionDecision, **changes: Any) -> AdmissionDecision:
    import dataclasses

    return dataclasses.replace(decision, **changes)


def _send(
    client: DryRunClient, operation: Operation, path: str, body: dict[str, Any], target: str
) -> httpx.Response:
    extensions = {TARGET_EXTENSION: target}
    params = {"dryRun": "All"}
    if operation == "create":
        return client.request("POST", path, json=body, params=params, extensions=extensions)
    if operation == "update":
        return client.request("PUT", path, json=body, params=params, extensions=extensions)
    return client.request(
        "PATCH",
        path,
        content=json.dumps(body).encode(),
        headers={"Content-Type": APPLY_PATCH},
        params={**params, "fieldManager": "pytest-incluster", "force": "true"},
        extensions=extensions,
    )
