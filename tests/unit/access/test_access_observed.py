"""Reading a test's call log as the server's decisions (``access.observed``)."""

from __future__ import annotations

from pytest_incluster.access.markers import ExpectSpec
from pytest_incluster.access.observed import (
    RequestInfo,
    observations,
    observe_call,
    server_verdict,
)
from pytest_incluster.calls import ApiCall

DENIAL = (
    'secrets is forbidden: User "system:serviceaccount:shop:runner" cannot list resource '
    '"secrets" in API group "" in the namespace "shop"'
)


def test_a_denial_decides_forbidden() -> None:
    call = ApiCall("GET", "/api/v1/namespaces/shop/secrets", 403, "Forbidden", DENIAL)
    assert observe_call(call).decision == "forbidden"


def test_a_denial_the_client_did_not_count_decides_nothing() -> None:
    """A "no" from a server not yet confirmed ready (asked again, or raised as
    UnverifiedDenial) must not make the access summary say "forbidden"."""
    call = ApiCall(
        "GET", "/api/v1/namespaces/shop/secrets", 403, "Forbidden", DENIAL, counted=False
    )
    assert observe_call(call).decision is None


def test_an_allowed_row_names_the_tests_request_not_the_clients_discovery() -> None:
    """``k8s.create`` first asks discovery (GET /api, /apis); the row must still say what the
    test did: create configmaps in its namespace, not "get /api" at the cluster scope."""
    calls = [
        ApiCall("GET", "/api", 200, "OK"),
        ApiCall("GET", "/apis", 200, "OK"),
        ApiCall("GET", "/api/v1", 200, "OK"),
        ApiCall("POST", "/api/v1/namespaces/shop/configmaps?dryRun=All", 201, "Created"),
    ]
    verdict = server_verdict(ExpectSpec("allowed"), observations(calls, None))
    assert verdict.actual == "allowed"
    assert verdict.decisive is not None
    assert verdict.decisive.info == RequestInfo("create", "configmaps", "shop")
    assert verdict.reason == (
        "POST /api/v1/namespaces/shop/configmaps -> 201 Created; GET /api -> 200 OK; "
        "GET /apis -> 200 OK; and 1 more"
    )


def test_an_allowed_row_of_non_resource_requests_only_names_the_first() -> None:
    calls = [ApiCall("GET", "/healthz", 200, "OK"), ApiCall("GET", "/version", 200, "OK")]
    verdict = server_verdict(ExpectSpec("allowed"), observations(calls, None))
    assert verdict.decisive is not None
    assert verdict.decisive.info == RequestInfo("get", "/healthz", "")
