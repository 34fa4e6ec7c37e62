"""The evaluation engine against the real authorizer: Roles, ClusterRoles, the built-in
view/edit/admin roles, impersonation, all three modes, and that probing changes nothing."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from pytest_incluster.access.check import AccessChecker, Check, CheckResult, check_access
from pytest_incluster.access.decision import AccessDecision, AccessRequest
from pytest_incluster.access.grammar import GrammarError, parse_entry
from pytest_incluster.access.matrix import Mode, Subject
from pytest_incluster.access.review import review
from pytest_incluster.calls import CallLog
from pytest_incluster.client import K8sClient
from pytest_incluster.client.api_discovery import UnknownResourceType
from tests.integration.access.access_rbac import Shop, bind, client_for, sa_subject

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

# (service account, entry, expected); "{ns}" is the test's namespace.
TABLE = [
    ("api", "get pods", "allowed"),
    ("api", "list pods", "allowed"),
    ("api", "get pods/web --subresource=log", "allowed"),
    ("api", "create deployments.apps", "allowed"),
    ("api", "create deploy", "allowed"),
    ("api", "list secrets", "forbidden"),
    ("api", "list pods -n kube-system", "forbidden"),
    ("api", "list pods -A", "forbidden"),
    ("api", "watch pods", "forbidden"),
    ("api", "delete pods", "forbidden"),
    ("api", "list nodes", "allowed"),
    ("api", "list nodes -n kube-system", "allowed"),
    ("api", "get namespaces/{ns}", "allowed"),  # authorized in its own namespace
    ("api", "get namespaces/default", "forbidden"),
    ("api", "delete namespaces", "forbidden"),
    ("api", "create clusterrolebindings.rbac.authorization.k8s.io", "forbidden"),
    ("api", "get /healthz", "allowed"),
    ("api", "get /metrics", "forbidden"),
    ("api", "bind roles", "forbidden"),
    ("viewer", "list pods", "allowed"),
    ("viewer", "list deployments.apps", "allowed"),
    ("viewer", "watch configmaps", "allowed"),
    ("viewer", "get secrets", "forbidden"),
    ("viewer", "create configmaps", "forbidden"),
    ("editor", "create configmaps", "allowed"),
    ("editor", "get secrets", "allowed"),
    ("editor", "update configmaps/x", "allowed"),
    ("editor", "patch services", "allowed"),
    ("editor", "delete deployments.apps/x", "allowed"),
    ("editor", "deletecollection pods", "allowed"),
    ("editor", "create pods --subresource=eviction", "allowed"),
    ("editor", "create roles.rbac.authorization.k8s.io", "forbidden"),
    ("boss", "create roles.rbac.authorization.k8s.io", "allowed"),
    ("boss", "create rolebindings.rbac.authorization.k8s.io", "allowed"),
    ("boss", "delete namespaces/{ns}", "forbidden"),
    ("boss", "create resourcequotas", "forbidden"),
    ("nobody", "get pods", "forbidden"),
    ("nobody", "create selfsubjectaccessreviews.authorization.k8s.io", "allowed"),
]
NO_REQUEST_FORM = {"bind roles"}


def checks(shop: Shop, mode: Mode) -> list[Check]:
    return [
        Check(Subject(shop.who(sa)), parse_entry(entry.format(ns=shop.ns)), mode)
        for sa, entry, _ in TABLE
    ]


def verdicts(results: list[CheckResult]) -> list[tuple[str, str, str]]:
    out = []
    for (sa, entry, _), result in zip(TABLE, results, strict=True):
        answer = result.decision.verdict if result.decision is not None else "none"
        out.append((sa, entry, result.error or answer))
    return out


EXPECTED = [(sa, entry, expected) for sa, entry, expected in TABLE]


@pytest.mark.parametrize("mode", ["review", "request", "both"])
def test_every_mode_gives_the_authorizers_answers(
    runner: K8sClient, shop: Shop, mode: Mode
) -> None:
    checker = AccessChecker(lambda: runner)
    try:
        results = checker.evaluate(checks(shop, mode))
    finally:
        checker.close()
    assert verdicts(results) == EXPECTED
    assert not [r for r in results if r.disagreement]
    for (_, entry, _), result in zip(TABLE, results, strict=True):
        decision = result.decision
        assert decision is not None
        assert not result.notes or "could not verify" not in " ".join(result.notes)
        if mode == "review" or entry in NO_REQUEST_FORM:
            assert decision.method == "review"
        else:
            assert decision.method == "request"
        if mode != "review" and entry in NO_REQUEST_FORM:
            assert decision.note == (
                "verb 'bind' has no request form; answered by review (SelfSubjectAccessReview)"
            )


def test_answers_carry_the_authorizers_reason(runner: K8sClient, shop: Shop) -> None:
    checker = AccessChecker(lambda: runner)
    api = Subject(shop.who("api"))
    try:
        allowed, forbidden_real, node = checker.evaluate(
            [
                Check(api, parse_entry("get pods")),
                Check(api, parse_entry("list secrets -n kube-system"), "request"),
                Check(api, parse_entry("list nodes -n kube-system")),
            ]
        )
    finally:
        checker.close()
    assert allowed.review is not None
    assert allowed.review.reason == (
        f'RBAC: allowed by RoleBinding "api/{shop.ns}" of Role "api" to ServiceAccount '
        f'"api/{shop.ns}"'
    )
    assert allowed.review.subject == shop.who("api")
    assert allowed.request == AccessRequest(
        verb="get", resource="pods", version="v1", namespace=shop.ns
    )
    assert forbidden_real.real is not None
    assert forbidden_real.real.reason == (
        f'secrets is forbidden: User "{shop.who("api")}" cannot list resource "secrets" in API '
        'group "" in the namespace "kube-system"'
    )
    assert node.request is not None
    assert node.request.namespace is None  # cluster-scoped: the namespace is dropped
    assert node.notes == ("nodes is cluster-scoped: -n kube-system does not apply",)


def test_impersonated_service_account_must_exist(runner: K8sClient, shop: Shop) -> None:
    checker = AccessChecker(lambda: runner)
    try:
        (result,) = checker.evaluate(
            [Check(Subject(shop.who("ghost")), parse_entry("list secrets"), "both")]
        )
    finally:
        checker.close()
    assert result.error == (
        f'ServiceAccount "ghost" does not exist in namespace "{shop.ns}": answers for '
        f"{shop.who('ghost')} would describe an identity no pod can have. Create the "
        "ServiceAccount or correct 'as:'"
    )


def test_existence_unverifiable_is_a_note_not_a_failure(
    control_plane: ControlPlane, admin: K8sClient, shop: Shop
) -> None:
    # "nobody" gets only the right to impersonate: it cannot read ServiceAccounts.
    admin.apply(
        bind(
            "ClusterRoleBinding",
            f"{shop.ns}-nobody-impersonates",
            "ClusterRole",
            f"{shop.ns}-impersonator",
            [sa_subject(shop.ns, "nobody")],
        )
    )
    with client_for(control_plane, shop.dirs["nobody"]) as nobody:
        nobody.wait_for_access(
            AccessRequest(verb="impersonate", resource="serviceaccounts", namespace=shop.ns)
        )
        checker = AccessChecker(lambda: nobody)
        try:
            (result,) = checker.evaluate([Check(Subject(shop.who("api")), parse_entry("get pods"))])
        finally:
            checker.close()
    assert result.error == ""
    assert result.decision is not None
    assert result.decision.allowed
    expected = (
        f"could not verify that ServiceAccount {shop.ns}/api exists (the runner may not get "
        f"serviceaccounts in {shop.ns})"
    )
    assert result.notes == (expected,)
    assert result.decision.note == expected


@pytest.mark.parametrize("mode", ["review", "request"])
def test_a_runner_that_may_not_impersonate_is_told_so(
    control_plane: ControlPlane, shop: Shop, mode: Mode
) -> None:
    with client_for(control_plane, shop.dirs["viewer"]) as viewer:
        checker = AccessChecker(lambda: viewer)
        try:
            (result,) = checker.evaluate([Check(Subject("alice"), parse_entry("get pods"), mode)])
        finally:
            checker.close()
    assert result.error.startswith("the runner may not impersonate alice: ")
    # v1.36+ words it for constrained impersonation: "cannot impersonate-on:user-info:get ..."
    assert f'User "{shop.who("viewer")}" cannot impersonate' in result.error
    assert result.error.endswith(
        "Grant the runner the 'impersonate' verb on that user/serviceaccount (and its groups), "
        "or drop 'as:'"
    )


def test_unknown_types_and_subresources_are_errors_not_answers(
    runner: K8sClient, shop: Shop
) -> None:
    checker = AccessChecker(lambda: runner)
    api = Subject(shop.who("api"))
    try:
        results = checker.evaluate(
            [
                Check(api, parse_entry("get deplyments")),
                Check(api, parse_entry("get pods --subresource=logs")),
                Check(api, parse_entry("get widgets.nosuch.example.com")),
            ]
        )
    finally:
        checker.close()
    assert [r.error for r in results] == [
        'the server doesn\'t have a resource type "deplyments"; did you mean "deployments"?',
        'the server doesn\'t have a subresource "logs" of "pods" (it has: attach, binding, '
        "ephemeralcontainers, eviction, exec, log, portforward, proxy, resize, status)",
        'the server doesn\'t have a resource type "widgets.nosuch.example.com"',
    ]
    assert all(r.decision is None for r in results)


def test_groups_are_impersonated_with_the_user(
    admin: K8sClient, runner: K8sClient, shop: Shop
) -> None:
    group = f"ops-{shop.ns}"
    admin.apply(
        bind(
            "RoleBinding", "ops", "ClusterRole", "view", [{"kind": "Group", "name": group}], shop.ns
        )
    )
    admin.impersonate("probe-user", [group]).wait_for_access(
        AccessRequest(verb="list", resource="pods", namespace=shop.ns)
    )
    checker = AccessChecker(lambda: runner)
    try:
        with_group, without = checker.evaluate(
            [
                Check(Subject("alice", (group,)), parse_entry("list pods"), "both"),
                Check(Subject("alice"), parse_entry("list pods"), "both"),
            ]
        )
    finally:
        checker.close()
    assert (with_group.error, without.error) == ("", "")
    assert with_group.review is not None
    assert with_group.real is not None
    assert without.review is not None
    assert (with_group.review.allowed, with_group.real.allowed) == (True, True)
    assert not without.review.allowed


def test_answers_are_cached_and_asked_concurrently(runner: K8sClient, shop: Shop) -> None:
    lock = threading.Lock()
    in_flight = peak = calls = 0

    def counting_review(
        client: Any, request: AccessRequest, *, subject: str = ""
    ) -> AccessDecision:
        nonlocal in_flight, peak, calls
        with lock:
            in_flight += 1
            calls += 1
            peak = max(peak, in_flight)
        try:
            return review(client, request, subject=subject)
        finally:
            with lock:
                in_flight -= 1

    checker = AccessChecker(lambda: runner, reviewer=counting_review)
    try:
        first = checker.evaluate(checks(shop, "review"))
        asked = checker.round_trips
        second = checker.evaluate(checks(shop, "review"))
        assert checker.round_trips == asked  # the second batch cost nothing
    finally:
        checker.close()
    subjects = {sa for sa, _, _ in TABLE}
    # One SSAR per distinct question: "create deploy" is "create deployments.apps", and
    # "list nodes -n kube-system" is "list nodes" (cluster-scoped); plus one ServiceAccount
    # GET per subject.
    assert calls == len(TABLE) - 2
    assert asked == calls + len(subjects)
    assert verdicts(first) == verdicts(second) == EXPECTED
    assert 1 < peak <= 16


def test_request_mode_changes_nothing(admin: K8sClient, runner: K8sClient, shop: Shop) -> None:
    keep = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "keep", "namespace": shop.ns},
        "data": {"k": "v"},
    }
    admin.apply(keep)
    entries = [
        "delete configmaps/keep",
        "update configmaps/keep",
        "patch configmaps/keep",
        "deletecollection configmaps",
        "create configmaps",
        "create configmaps/new-one",
        "delete configmaps",
    ]
    checker = AccessChecker(lambda: runner)
    editor = Subject(shop.who("editor"))
    try:
        results = checker.evaluate([Check(editor, parse_entry(e), "request") for e in entries])
    finally:
        checker.close()
    assert [(r.error, r.real is not None and r.real.allowed) for r in results] == [
        ("", True)
    ] * len(entries)
    items = admin.get(f"/api/v1/namespaces/{shop.ns}/configmaps").json()["items"]
    assert [(i["metadata"]["name"], i.get("data")) for i in items] == [("keep", {"k": "v"})]


def test_admission_refusal_still_means_authorized(
    admin: K8sClient, runner: K8sClient, shop: Shop
) -> None:
    doomed = f"doomed-{uuid.uuid4().hex[:8]}"
    admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": doomed}})
    admin.apply(
        bind(
            "RoleBinding", "editor", "ClusterRole", "edit", [sa_subject(shop.ns, "editor")], doomed
        )
    )
    admin.impersonate(shop.who("editor")).wait_for_access(
        AccessRequest(verb="create", resource="configmaps", namespace=doomed)
    )
    # It stays Terminating: there is no namespace controller here.
    admin.delete_object("v1", "Namespace", doomed)
    checker = AccessChecker(lambda: runner)
    try:
        (result,) = checker.evaluate(
            [
                Check(
                    Subject(shop.who("editor")),
                    parse_entry(f"create configmaps -n {doomed}"),
                    "both",
                )
            ]
        )
    finally:
        checker.close()
    assert result.error == ""
    assert not result.disagreement
    assert result.real is not None
    assert result.real.allowed
    assert "because it is being terminated" in result.real.reason
    assert result.real.note == (
        "authorization passed; a later stage (admission) refused the request"
    )


def test_check_access_for_one_entry(runner: K8sClient, shop: Shop) -> None:
    decision = runner.check_access("get serviceaccounts")
    assert decision.allowed
    assert decision.request.namespace == shop.ns  # the client's namespace
    assert not check_access(runner, "list secrets").allowed
    real = check_access(runner, "get serviceaccounts/api", mode="request")
    assert (real.allowed, real.method) == (True, "request")
    fallback = check_access(runner, "impersonate serviceaccounts/api", mode="request")
    assert fallback.allowed
    assert fallback.method == "review"
    assert fallback.note == "verb 'impersonate' has no request form; answered by review"
    impersonated = check_access(runner.impersonate(shop.who("api")), "list pods")
    assert impersonated.allowed
    assert impersonated.subject == shop.who("api")
    with pytest.raises(UnknownResourceType):
        check_access(runner, "get deplyments")
    with pytest.raises(GrammarError):
        check_access(runner, "lst pods")


def test_unanswered_questions_are_asked_again(runner: K8sClient, shop: Shop) -> None:
    """A timeout cannot be provoked on demand from a real server, so the first review call is
    made to fail the way httpx reports one; every other call is real."""
    failures = [httpx.ReadTimeout("timed out (injected)")]

    def flaky_review(client: Any, request: AccessRequest, *, subject: str = "") -> AccessDecision:
        if failures:
            raise failures.pop()
        return review(client, request, subject=subject)

    checker = AccessChecker(lambda: runner, reviewer=flaky_review)
    check = Check(Subject(shop.who("api")), parse_entry("get pods"))
    try:
        (first,) = checker.evaluate([check])
        (second,) = checker.evaluate([check])
    finally:
        checker.close()
    assert first.error == "timed out (injected)"
    assert second.error == ""
    assert second.review is not None
    assert second.review.allowed


def test_an_answer_is_read_while_later_questions_are_still_asked(
    runner: K8sClient, shop: Shop
) -> None:
    """The overlap pytest relies on: the first item's answer is there while the last item's
    question is still unanswered, so pytest reports item 1 while the server works on item N.
    The last review is held until released (by the test, or by a safety timer so a wrong
    implementation fails instead of hanging)."""
    release = threading.Event()
    held = parse_entry("list secrets")

    def holding_review(client: Any, request: AccessRequest, *, subject: str = "") -> AccessDecision:
        if request.resource == "secrets":
            release.wait(timeout=30)
        return review(client, request, subject=subject)

    safety = threading.Timer(15, release.set)
    safety.start()
    checker = AccessChecker(lambda: runner, reviewer=holding_review)
    who = Subject(shop.who("api"))
    try:
        pending = checker.submit([Check(who, parse_entry("get pods")), Check(who, held)])
        first = pending[0].result()
        held_when_first_was_read = not release.is_set()
        release.set()
        last = pending[1].result()
    finally:
        release.set()
        safety.cancel()
        checker.close()
    assert held_when_first_was_read
    assert first.review is not None
    assert first.review.allowed
    assert last.review is not None
    assert not last.review.allowed
    assert checker.round_trips == 3  # two reviews and the ServiceAccount's existence


def test_each_request_is_listed_under_the_check_that_asked_it(
    control_plane: ControlPlane, shop: Shop
) -> None:
    """The worker threads send later items' questions while the first item runs; each review
    is still recorded as the call of the item whose check asked it (the report lists it
    there), not of whichever test was running when the answer came back. A question asked
    again by another item is answered from the cache and is nobody's new call."""
    log = CallLog()
    entries = [
        f"{verb} {resource}{where}"
        for verb in ("get", "list", "create", "delete")
        for resource in ("pods", "secrets", "configmaps", "services")
        for where in ("", " -n kube-system")
    ]
    with client_for(control_plane, shop.runner_dir, call_log=log) as client:
        checker = AccessChecker(lambda: client, made_for=log.made_for)
        log.current_test = "item-0"  # the first item is running while all are asked
        try:
            pending = checker.submit(
                [
                    Check(Subject(), parse_entry(e), asked_by=f"item-{i}")
                    for i, e in enumerate(entries)
                ]
                + [Check(Subject(), parse_entry(entries[3]), asked_by="item-again")]
            )
            results = [p.result() for p in pending]
        finally:
            checker.close()
    assert all(r.error == "" for r in results)
    reviews = {
        test: [
            c
            for c in log.for_test(test)
            if c.path.endswith("/selfsubjectaccessreviews") and c.counted
        ]
        for test in [f"item-{i}" for i in range(len(entries))] + ["item-again"]
    }
    assert {test: len(calls) for test, calls in reviews.items()} == {
        **{f"item-{i}": 1 for i in range(len(entries))},
        "item-again": 0,
    }
