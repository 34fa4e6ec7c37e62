"""Who the API server says we are, from SelfSubjectReview (``kubectl auth whoami``).

Asking the server beats decoding the token: it reports the identity after authentication and
impersonation, including groups and extra values the token does not carry. ``v1`` is GA since
Kubernetes 1.28; older servers are asked through ``v1beta1`` and ``v1alpha1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from pytest_incluster.client.errors import (
    ApiError,
    IdentityUnavailable,
    error_from_response,
    json_body,
)

REVIEW_VERSIONS = ("v1", "v1beta1", "v1alpha1")


@dataclass(frozen=True)
class Identity:
    """The authenticated user: name, uid, groups and extra attributes."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_service_account(self) -> bool:
        return self.username.startswith("system:serviceaccount:")

    @classmethod
    def from_user_info(cls, info: Mapping[str, Any]) -> Identity:
        extra = info.get("extra") or {}
        return cls(
            username=str(info.get("username", "")),
            uid=str(info.get("uid", "")),
            groups=tuple(str(g) for g in info.get("groups") or ()),
            extra={str(k): tuple(str(v) for v in vs or ()) for k, vs in extra.items()},
        )


def _post(client: httpx.Client, version: str) -> httpx.Response | None:
    """The review response, or None when this API version is not served (404)."""
    body = {"apiVersion": f"authentication.k8s.io/{version}", "kind": "SelfSubjectReview"}
    path = f"/apis/authentication.k8s.io/{version}/selfsubjectreviews"
    try:
        response = client.post(path, json=body)
    except ApiError as exc:
        if exc.code == 404:
            return None
        raise
    if response.status_code == 404:
        return None
    if not response.is_success:
        response.read()
        raise error_from_response(response)
    return response


def whoami(client: httpx.Client) -> Identity:
    """The identity ``client`` authenticates as (works with any httpx client on the server)."""
    for version in REVIEW_VERSIONS:
        response = _post(client, version)
        if response is not None:
            info = (json_body(response).get("status") or {}).get("userInfo") or {}
            return Identity.from_user_info(info)
    raise IdentityUnavailable(
        "The API server serves no SelfSubjectReview API (authentication.k8s.io v1, v1beta1 or "
        "v1alpha1), so it cannot say who the client is; Kubernetes 1.28 or later serves it."
    )
