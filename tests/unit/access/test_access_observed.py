"""Reading a test's call log as the server's decisions (``access.observed``)."""

from __future__ import annotations

from pytest_incluster.access.observed import observe_call
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
