"""Marker arguments are validated strictly; messages name the test and the accepted signature."""

from __future__ import annotations

import pytest

from pytest_incluster.access.markers import (
    Denial,
    ExpectSpec,
    calls_listing,
    denial_mismatch,
)
from pytest_incluster.calls import ApiCall

POD_LIST_403 = (
    'pods is forbidden: User "system:serviceaccount:default:default" cannot list resource '
    '"pods" in API group "" in the namespace "default"'
)


def test_denial_parses_namespaced_message() -> None:
    denial = Denial.parse(POD_LIST_403)
    assert denial == Denial("system:serviceaccount:default:default", "list", "pods", "default")


def test_denial_parses_cluster_scope_and_group() -> None:
    message = (
        'clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "u" cannot create '
        'resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster '
        "scope"
    )
    denial = Denial.parse(message)
    assert denial == Denial("u", "create", "clusterrolebindings.rbac.authorization.k8s.io", "")


def test_denial_parses_subresource_and_path() -> None:
    sub = Denial.parse(
        'pods "web" is forbidden: User "u" cannot get resource "pods/log" in API group "" in '
        'the namespace "shop"'
    )
    assert sub == Denial("u", "get", "pods/log", "shop")
    path = Denial.parse('forbidden: User "u" cannot get path "/metrics"')
    assert path == Denial("u", "get", "/metrics", "")


def test_denial_of_unknown_text_is_none() -> None:
    assert Denial.parse("something else entirely") is None


def test_mismatch_lists_each_filter() -> None:
    denial = Denial.parse(POD_LIST_403)
    spec = ExpectSpec("forbidden", verb="get", resource="secrets", namespace="kube-system")
    assert denial_mismatch(spec, denial) == [
        "verb: expected 'get', was 'list'",
        "resource: expected 'secrets', was 'pods'",
        "namespace: expected 'kube-system', was 'default'",
    ]
    assert denial_mismatch(ExpectSpec("forbidden", verb="list", resource="pods"), denial) == []


def test_resource_filter_matches_subresource_base() -> None:
    denial = Denial("u", "get", "pods/log", "shop")
    assert denial_mismatch(ExpectSpec("forbidden", resource="pods"), denial) == []
    assert denial_mismatch(ExpectSpec("forbidden", resource="pods/log"), denial) == []


def test_calls_listing() -> None:
    calls = [
        ApiCall("GET", "/api/v1/namespaces/default/pods", 200, "OK"),
        ApiCall("GET", "/api", None, message="boom", attempt=2, impersonated_user="jane"),
    ]
    assert calls_listing(calls) == (
        "  GET /api/v1/namespaces/default/pods -> 200 OK\n"
        "  GET /api as jane -> no response (attempt 2)"
    )
    assert calls_listing([]) == "  (the test made no API requests)"


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        (
            'expect_forbidden(verbs="list")',
            "@pytest.mark.expect_forbidden: unexpected argument 'verbs'; accepted: "
            "expect_forbidden(verb=None, resource=None, namespace=None)",
        ),
        (
            "expect_forbidden(verb=3)",
            "@pytest.mark.expect_forbidden: verb= must be a non-empty string, got 3; accepted: "
            "expect_forbidden(verb=None, resource=None, namespace=None)",
        ),
        (
            'expect_forbidden(verb="lsit")',
            "@pytest.mark.expect_forbidden: unknown verb 'lsit' (did you mean 'list'?); valid "
            "verbs: approve, attest, bind, create, delete, deletecollection, escalate, get, head, "
            "impersonate, list, options, patch, post, proxy, put, sign, update, use, watch; "
            "accepted: expect_forbidden(verb=None, resource=None, namespace=None)",
        ),
        (
            'expect_forbidden("LIST", "secrets")',
            "@pytest.mark.expect_forbidden: unknown verb 'LIST' (did you mean 'list'?); valid "
            "verbs: approve, *; accepted: expect_forbidden(verb=None, resource=None, "
            "namespace=None)",
        ),
        (
            'expect_forbidden(verb="frobnicate")',
            "@pytest.mark.expect_forbidden: unknown verb 'frobnicate'; valid verbs: approve, *",
        ),
        (
            'expect_forbidden(verb="*")',
            "@pytest.mark.expect_forbidden: verb='*' never appears in a 403; leave verb out to "
            "accept any verb; accepted: expect_forbidden(verb=None, resource=None, namespace=None)",
        ),
        (
            'expect_unauthorized("x")',
            "@pytest.mark.expect_unauthorized: takes no arguments; accepted: expect_unauthorized()",
        ),
        (
            "impersonate()",
            "@pytest.mark.impersonate: requires the user to act as, e.g. impersonate('jane'); "
            "accepted: impersonate(user, groups=None)",
        ),
        (
            'impersonate("jane", groups="ops")',
            "@pytest.mark.impersonate: groups= must be a list of group names, got 'ops'; "
            "accepted: impersonate(user, groups=None)",
        ),
    ],
)
def test_bad_marker_arguments_are_a_usage_error(
    pytester: pytest.Pytester, marker: str, expected: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.{marker}
        def test_it():
            pass

        def test_other():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: invalid pytest-incluster marker arguments:", f"test_*.py::test_it: {expected}"]
    )


def test_every_verb_a_denial_can_name_is_accepted(pytester: pytest.Pytester) -> None:
    from pytest_incluster.access.grammar import DENIAL_VERBS

    pytester.makepyfile(
        "import pytest\n"
        + "".join(
            f"@pytest.mark.expect_forbidden({verb!r})\ndef test_{verb}():\n    pass\n"
            for verb in sorted(DENIAL_VERBS)
        )
    )
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"{len(DENIAL_VERBS)} tests collected*"])
    assert {"list", "post", "deletecollection", "impersonate"} <= DENIAL_VERBS


def test_conflicting_expectations(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.expect_forbidden
        @pytest.mark.expect_allowed
        def test_it():
            pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*test_it: @pytest.mark.expect_*: conflicting markers expect_allowed, expect_forbidden;*"]
    )


def test_markers_are_registered_with_signatures(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.expect_forbidden(verb=None, resource=None, namespace=None):*",
            "@pytest.mark.expect_unauthorized:*",
            "@pytest.mark.expect_allowed:*",
            "@pytest.mark.impersonate(user, groups=None):*",
        ]
    )


def test_markers_valid_under_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.expect_allowed
        def test_it():
            pass
        """
    )
    result = pytester.runpytest("--strict-markers", "-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("-p", "no:incluster", "--markers")
    assert "expect_forbidden" not in result.stdout.str()
    assert result.ret == 0
