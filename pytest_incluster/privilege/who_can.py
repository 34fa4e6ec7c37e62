"""Who can: the subjects bound by RoleBindings and ClusterRoleBindings that the server allows.

Every subject named by a ClusterRoleBinding, and, for a namespaced question, by a RoleBinding
in that namespace (no other binding can grant anything there), is asked about with a
SubjectAccessReview: the server decides each, so aggregation, wildcards and ``resourceNames``
count exactly as they do for a real request. ``group:system:masters`` is always allowed (the
API server lets it do everything before any authorizer is asked) and always listed.

What this cannot see: subjects that no binding names but another authorizer allows (a webhook
authorizer's users, the Node authorizer's ``system:node:*`` identities), and users whose access
comes only through a group: the group is listed, not its members (group membership lives in
the authenticator, not in the cluster).

Needs ``list`` on clusterrolebindings (and rolebindings in the namespace) and ``create`` on
subjectaccessreviews; without them :class:`WhoCanForbidden` says which is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pytest_incluster.access.bound_subject import BoundSubject, from_binding
from pytest_incluster.access.client_protocol import AccessClient, HttpSender
from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.access.grammar import CheckSpec
from pytest_incluster.access.resolve import resolve
from pytest_incluster.client.errors import ApiError, error_from_response, json_body
from pytest_incluster.errors import InclusterError

SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
RBAC_PATH = "/apis/rbac.authorization.k8s.io/v1"
MASTERS = BoundSubject("group", "system:masters")


class WhoCanForbidden(InclusterError):
    """The caller may not read bindings or create SubjectAccessReviews."""

    anchor = "who-can"


@dataclass(frozen=True)
class Binding:
    """``ClusterRoleBinding/name`` or ``RoleBinding/namespace/name``, and its role."""

    kind: str
    name: str
    namespace: str
    role: str

    @property
    def text(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.role})"


@dataclass(frozen=True)
class Allowed:
    """A subject the server allows, the bindings that name it, and the server's reason."""

    subject: BoundSubject
    bindings: tuple[Binding, ...]
    reason: str = ""


def _send(client: HttpSender, method: str, path: str, body: Any, need: str) -> Any:
    """The answer's JSON; a 403 becomes :class:`WhoCanForbidden` naming ``need``."""
    try:
        response = client.post(path, json=body) if method == "POST" else client.get(path)
        if not response.is_success:
            response.read()
            raise error_from_response(response)
    except ApiError as exc:
        if exc.code != 403:
            raise
        raise WhoCanForbidden(
            f"who-can needs {need}, which the runner may not ({exc}). Grant it with the "
            "optional who-can component (deploy/components/who-can), or drop the who-can "
            "checks."
        ) from None
    return json_body(response)


def _list(client: HttpSender, path: str, what: str) -> list[dict[str, Any]]:
    items = _send(client, "GET", path, None, f"'list' on {what}").get("items")
    return [item for item in items or [] if isinstance(item, dict)]


def bound_subjects(client: HttpSender, namespace: str | None) -> dict[BoundSubject, list[Binding]]:
    """Every subject a ClusterRoleBinding (or a RoleBinding in ``namespace``) names."""
    found: dict[BoundSubject, list[Binding]] = {MASTERS: []}
    sources = [("ClusterRoleBinding", f"{RBAC_PATH}/clusterrolebindings", "clusterrolebindings")]
    if namespace:
        sources.append(
            (
                "RoleBinding",
                f"{RBAC_PATH}/namespaces/{namespace}/rolebindings",
                f"rolebindings in namespace {namespace}",
            )
        )
    for kind, path, what in sources:
        for item in _list(client, path, what):
            meta = item.get("metadata") or {}
            ref = item.get("roleRef") or {}
            binding = Binding(
                kind,
                str(meta.get("name", "")),
                str(meta.get("namespace", "")),
                f"{ref.get('kind', '')} {ref.get('name', '')}",
            )
            for raw in item.get("subjects") or []:
                subject = from_binding(raw, binding.namespace)
                if subject is not None:
                    found.setdefault(subject, []).append(binding)
    return found


def _review_body(subject: BoundSubject, request: AccessRequest) -> dict[str, Any]:
    spec: dict[str, Any] = {"groups": list(subject.groups)}
    if subject.user_name is not None:
        spec["user"] = subject.user_name
    if request.path is not None:
        spec["nonResourceAttributes"] = {"path": request.path, "verb": request.verb}
    else:
        attributes = {
            "namespace": request.namespace or "",
            "verb": request.verb,
            "group": request.group,
            "resource": request.resource,
            "subresource": request.subresource or "",
            "name": request.name or "",
        }
        spec["resourceAttributes"] = {k: v for k, v in attributes.items() if v}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def _ask(client: HttpSender, subject: BoundSubject, request: AccessRequest) -> tuple[bool, str]:
    need = "'create' on subjectaccessreviews.authorization.k8s.io"
    status = _send(client, "POST", SAR_PATH, _review_body(subject, request), need).get("status")
    status = status if isinstance(status, dict) else {}
    return status.get("allowed") is True, str(status.get("reason") or "")


def who_can(client: HttpSender, request: AccessRequest, *, concurrency: int = 16) -> list[Allowed]:
    """The bound subjects the server allows ``request`` (``system:masters`` always), sorted."""
    namespace = request.namespace or None
    subjects = bound_subjects(client, namespace)
    others = [s for s in subjects if s != MASTERS]

    def one(subject: BoundSubject) -> tuple[BoundSubject, bool, str]:
        return (subject, *_ask(client, subject, request))

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(others) or 1))) as pool:
        answers = list(pool.map(one, others))
    found = [Allowed(MASTERS, tuple(subjects[MASTERS]), "system:masters may do everything")]
    found += [Allowed(s, tuple(subjects[s]), reason) for s, ok, reason in answers if ok]
    return sorted(found, key=lambda a: (a.subject.kind, a.subject.name))


def unexpected(found: Iterable[Allowed], expected: Iterable[BoundSubject]) -> list[Allowed]:
    """Allowed subjects not in ``expected`` (``system:masters`` never counts)."""
    wanted = set(expected) | {MASTERS}
    return [a for a in found if a.subject not in wanted]


def who_can_spec(
    client: AccessClient, spec: CheckSpec, default_namespace: str, *, concurrency: int = 16
) -> list[Allowed]:
    """:func:`who_can` for a can-i entry (``get secrets -n prod``), resolved by discovery."""
    return who_can(
        client,
        resolve(spec, client.discovery(), default_namespace).request,
        concurrency=concurrency,
    )


def who_can_ask(
    client: AccessClient,
    verb: str,
    resource: str,
    namespace: str | None = None,
    *,
    name: str | None = None,
    subresource: str | None = None,
    concurrency: int = 16,
) -> list[Allowed]:
    """``k8s.who_can("get", "secrets", "prod")``: ``namespace`` None asks about the cluster
    scope (every namespace, for a namespaced type); ``resource`` may be a ``/url``."""
    if resource.startswith("/"):
        spec = CheckSpec(verb=verb, path=resource)
    else:
        spec = CheckSpec(
            verb=verb,
            type=resource,
            name=name,
            namespace=namespace,
            all_namespaces=namespace is None,
            subresource=subresource,
        )
    return who_can_spec(client, spec, namespace or client.namespace, concurrency=concurrency)
