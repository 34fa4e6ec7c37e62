"""How ``mode: request`` turns a question into a real request, as plain data (no server)."""

from __future__ import annotations

import json

import pytest

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.access.probe import (
    NEVER_MATCHING_SELECTOR,
    PROBE_NAME,
    Probe,
    ProbeFailed,
    build_probe,
    interpret,
)
from pytest_incluster.access.resolve import Resolved
from pytest_incluster.client.api_discovery import ApiResource

PODS = ApiResource(
    name="pods", singular_name="pod", kind="Pod", group="", version="v1", namespaced=True,
    subresources=("log", "exec", "eviction", "status"),
)  # fmt: skip
DEPLOYMENTS = ApiResource(
    name="deployments", singular_name="deployment", kind="Deployment", group="apps",
    version="v1", namespaced=True, subresources=("scale", "status"),
)  # fmt: skip
NAMESPACES = ApiResource(
    name="namespaces", singular_name="namespace", kind="Namespace", group="", version="v1",
    namespaced=False,
)  # fmt: skip


def resolved(resource: ApiResource, verb: str, **kw: str | None) -> Resolved:
    request = AccessRequest(
        verb=verb, resource=resource.name, group=resource.group, version=resource.version, **kw
    )
    return Resolved(request, resource)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            resolved(PODS, "get", namespace="shop"),
            Probe("GET", f"/api/v1/namespaces/shop/pods/{PROBE_NAME}"),
        ),
        (
            resolved(PODS, "get", namespace="shop", name="web", subresource="log"),
            Probe("GET", "/api/v1/namespaces/shop/pods/web/log"),
        ),
        (
            resolved(PODS, "list", namespace="shop"),
            Probe("GET", "/api/v1/namespaces/shop/pods", (("limit", "1"),)),
        ),
        (resolved(PODS, "list"), Probe("GET", "/api/v1/pods", (("limit", "1"),))),
        (
            resolved(PODS, "list", namespace="shop", name="web"),
            Probe(
                "GET",
                "/api/v1/namespaces/shop/pods",
                (("fieldSelector", "metadata.name=web"), ("limit", "1")),
            ),
        ),
        (
            resolved(PODS, "watch", namespace="shop"),
            Probe(
                "GET",
                "/api/v1/namespaces/shop/pods",
                (("watch", "1"), ("timeoutSeconds", "1")),
            ),
        ),
        (
            resolved(DEPLOYMENTS, "create", namespace="shop"),
            Probe(
                "POST",
                "/apis/apps/v1/namespaces/shop/deployments",
                (("dryRun", "All"),),
                body={
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": PROBE_NAME, "namespace": "shop"},
                },
            ),
        ),
        (
            resolved(NAMESPACES, "create"),
            Probe(
                "POST",
                "/api/v1/namespaces",
                (("dryRun", "All"),),
                body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PROBE_NAME}},
            ),
        ),
        (
            resolved(DEPLOYMENTS, "update", namespace="shop", name="web"),
            Probe(
                "PUT",
                "/apis/apps/v1/namespaces/shop/deployments/web",
                (("dryRun", "All"),),
                body={
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": "shop"},
                },
            ),
        ),
        (
            resolved(DEPLOYMENTS, "patch", namespace="shop", name="web", subresource="scale"),
            Probe(
                "PATCH",
                "/apis/apps/v1/namespaces/shop/deployments/web/scale",
                (("dryRun", "All"),),
                body={},
                content_type="application/merge-patch+json",
            ),
        ),
        (
            resolved(NAMESPACES, "delete", name="shop", namespace="shop"),
            Probe("DELETE", "/api/v1/namespaces/shop", (("dryRun", "All"),)),
        ),
        (
            resolved(PODS, "deletecollection", namespace="shop"),
            Probe(
                "DELETE",
                "/api/v1/namespaces/shop/pods",
                (("dryRun", "All"), ("labelSelector", NEVER_MATCHING_SELECTOR)),
            ),
        ),
        (
            resolved(PODS, "create", namespace="shop", subresource="eviction"),
            Probe(
                "POST",
                f"/api/v1/namespaces/shop/pods/{PROBE_NAME}/eviction",
                (("dryRun", "All"),),
                body={},
            ),
        ),
        (Resolved(AccessRequest(verb="get", path="/healthz")), Probe("GET", "/healthz")),
        (Resolved(AccessRequest(verb="head", path="/livez")), Probe("HEAD", "/livez")),
    ],
)
def test_request_forms(question: Resolved, expected: Probe) -> None:
    assert build_probe(question) == expected


@pytest.mark.parametrize(
    ("question", "why"),
    [
        (resolved(PODS, "bind", namespace="shop"), "verb 'bind' has no request form"),
        (resolved(PODS, "*", namespace="shop"), "verb '*' has no request form"),
        (
            resolved(PODS, "create", namespace="shop", name="web", subresource="exec"),
            "a real request to pods/web/exec could act on that object",
        ),
        (
            resolved(PODS, "list", namespace="shop", subresource="log"),
            "'list' of a subresource has no request form",
        ),
        (
            Resolved(AccessRequest(verb="post", path="/api")),
            "verb 'post' on a non-resource URL could change something",
        ),
        (
            Resolved(AccessRequest(verb="get", path="/apis/*")),
            "the path /apis/* is a wildcard",
        ),
        (
            Resolved(AccessRequest(verb="impersonate", resource="users", name="alice")),
            "'users' is not a resource type one request can address",
        ),
    ],
)
def test_checks_without_a_safe_request_form_say_why(question: Resolved, why: str) -> None:
    built = build_probe(question)
    assert isinstance(built, str)
    assert built.startswith(why)


def test_unnamed_exec_is_probed_against_the_probe_object() -> None:
    built = build_probe(resolved(PODS, "create", namespace="shop", subresource="exec"))
    assert isinstance(built, Probe)
    assert built.path == f"/api/v1/namespaces/shop/pods/{PROBE_NAME}/exec"


def status(code: int, reason: str, message: str) -> bytes:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
            "reason": reason, "code": code}  # fmt: skip
    return json.dumps(body).encode()


LIST = resolved(PODS, "list", namespace="shop")
LIST_PROBE = Probe("GET", "/api/v1/namespaces/shop/pods", (("limit", "1"),))
DENIAL = (
    'pods is forbidden: User "system:serviceaccount:shop:api" cannot list resource "pods" in '
    'API group "" in the namespace "shop"'
)


def test_authorizer_403_is_forbidden_with_its_message() -> None:
    decision = interpret(LIST, LIST_PROBE, 403, status(403, "Forbidden", DENIAL), subject="x")
    assert (decision.allowed, decision.reason, decision.method) == (False, DENIAL, "request")


def test_admission_403_means_authorization_passed() -> None:
    message = 'pods "p" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1'
    decision = interpret(LIST, LIST_PROBE, 403, status(403, "Forbidden", message))
    assert decision.allowed
    assert decision.note == "authorization passed; a later stage (admission) refused the request"
    assert message in decision.reason


def test_other_client_errors_mean_authorization_passed() -> None:
    decision = interpret(LIST, LIST_PROBE, 404, status(404, "NotFound", 'pods "x" not found'))
    assert decision.allowed
    assert decision.reason == (
        'GET /api/v1/namespaces/shop/pods?limit=1 -> 404 NotFound: pods "x" not found'
    )
    assert decision.note == "authorization passed; the server then answered 404 NotFound"


@pytest.mark.parametrize("code", [401, 429, 500, 503])
def test_undecided_answers_are_errors(code: int) -> None:
    with pytest.raises(ProbeFailed, match=f"-> {code}"):
        interpret(LIST, LIST_PROBE, code, b"")


def test_refused_impersonation_is_the_runners_problem() -> None:
    message = (
        'serviceaccounts "api" is forbidden: User "system:serviceaccount:ci:runner" cannot '
        'impersonate resource "serviceaccounts" in API group "" in the namespace "shop"'
    )
    with pytest.raises(ProbeFailed, match="the runner may not impersonate this subject"):
        interpret(LIST, LIST_PROBE, 403, status(403, "Forbidden", message), impersonating=True)
