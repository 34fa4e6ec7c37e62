"""Failure messages and report rows for access items (pure: results are built by hand)."""

from __future__ import annotations

from pytest_incluster.access.check import Check, CheckResult
from pytest_incluster.access.decision import AccessDecision, AccessRequest
from pytest_incluster.access.grammar import parse_entry
from pytest_incluster.access.matrix import Expected, MatrixEntry, Subject
from pytest_incluster.access.verdict import judge, outcome

API = "system:serviceaccount:shop:api"
SECRETS = AccessRequest(verb="list", resource="secrets", version="v1", namespace="kube-system")
GRANT = 'RBAC: allowed by RoleBinding "api/shop" of Role "api" to ServiceAccount "api/shop"'


def entry(expected: Expected, text: str = "list secrets -n kube-system") -> MatrixEntry:
    return MatrixEntry(expected=expected, text=text, spec=parse_entry(text), line=12)


def result(**kwargs: object) -> CheckResult:
    check = Check(Subject(API), parse_entry("list secrets -n kube-system"))
    return CheckResult(check, request=SECRETS, namespaced=True, **kwargs)  # type: ignore[arg-type]


def decision(allowed: bool, reason: str = "", **kwargs: object) -> AccessDecision:
    return AccessDecision(SECRETS, allowed, reason=reason, subject=API, **kwargs)  # type: ignore[arg-type]


def test_expected_forbidden_was_allowed_names_the_grant() -> None:
    verdict = judge(entry("forbidden"), API, result(review=decision(True, GRANT)), "shop.yaml:12")
    assert not verdict.passed
    assert verdict.actual == "allowed"
    assert verdict.message.splitlines() == [
        f"expected forbidden, was allowed: {GRANT}",
        "  answered by: SelfSubjectAccessReview",
        f"  subject: {API}",
        "  asked:   list secrets -n kube-system",
        "  entry:   shop.yaml:12",
    ]


def test_expected_allowed_was_forbidden_explains_the_silence() -> None:
    verdict = judge(entry("allowed"), API, result(review=decision(False)), "f:1")
    assert verdict.message.splitlines()[0] == (
        "expected allowed, was forbidden: no rule grants it (RBAC states no reason for a denial)"
    )


def test_evaluation_error_and_notes_are_shown() -> None:
    answer = decision(False, evaluation_error='clusterrole "gone" not found', note="n1")
    verdict = judge(entry("allowed"), API, result(review=answer), "f:1")
    lines = verdict.message.splitlines()
    assert lines[0].endswith('; evaluation error: clusterrole "gone" not found')
    assert "  note:    n1" in lines


def test_passing_entries_have_no_message() -> None:
    verdict = judge(entry("allowed"), API, result(review=decision(True, GRANT)), "f:1")
    assert (verdict.passed, verdict.actual, verdict.reason, verdict.message) == (
        True,
        "allowed",
        GRANT,
        "",
    )


def test_disagreement_fails_whatever_was_expected_and_names_both_answers() -> None:
    real = decision(False, "secrets is forbidden: ...", method="request")
    both = result(review=decision(True, GRANT), real=real)
    for expected in ("allowed", "forbidden"):
        verdict = judge(entry(expected), API, both, "f:1")
        assert not verdict.passed
        assert verdict.actual == "disagree"
        assert verdict.message.splitlines()[0] == (
            f"review and real request disagree (expected {expected}): SelfSubjectAccessReview "
            f"says allowed ({GRANT}), the real request says forbidden (secrets is forbidden: ...)"
        )


def test_errors_fail_with_the_finding() -> None:
    verdict = judge(
        entry("forbidden"), API, result(error='ServiceAccount "api" does not exist'), "f:1"
    )
    assert verdict.actual == "error"
    assert verdict.message.splitlines()[0] == (
        "could not decide 'list secrets -n kube-system': ServiceAccount \"api\" does not exist"
    )


def test_outcome_rows() -> None:
    e = entry("forbidden")
    r = result(review=decision(False))
    row = outcome("shop.access.yaml::x", e, API, r, judge(e, API, r, "f:1"))
    assert (row.subject, row.verb, row.resource, row.namespace) == (
        API,
        "list",
        "secrets",
        "kube-system",
    )
    assert (row.expected, row.actual, row.passed) == ("forbidden", "forbidden", True)
    everywhere = CheckResult(
        Check(Subject(), parse_entry("list pods -A")),
        request=AccessRequest(verb="list", resource="pods", version="v1"),
        review=AccessDecision(AccessRequest(verb="list", resource="pods"), True),
        namespaced=True,
    )
    all_ns = outcome("x", entry("allowed", "list pods -A"), "self", everywhere, judge(
        entry("allowed", "list pods -A"), "self", everywhere, "f:1"
    ))  # fmt: skip
    assert all_ns.namespace == "*"
    path = CheckResult(
        Check(Subject(), parse_entry("get /healthz")),
        request=AccessRequest(verb="get", path="/healthz"),
        review=AccessDecision(AccessRequest(verb="get", path="/healthz"), True),
    )
    e2 = entry("allowed", "get /healthz")
    assert outcome("x", e2, "self", path, judge(e2, "self", path, "f:1")).resource == "/healthz"
