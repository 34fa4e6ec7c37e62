"""What the expect_* markers do with the errors a test raises, and their messages verbatim.

The errors are built from API-server-shaped responses with ``error_from_response``; the real
server's bodies are exercised in tests/integration/plugin/test_pod_faithful.py.
"""

from __future__ import annotations

import pytest

HELPERS = """
import json
import httpx
from pytest_incluster.client.errors import error_from_response

def status_error(code, reason, message, method="GET", path="/api/v1/namespaces/default/pods"):
    request = httpx.Request(method, "https://k8s.test" + path)
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
            "reason": reason, "code": code}
    return error_from_response(httpx.Response(code, request=request, content=json.dumps(body)))

PODS = ('pods is forbidden: User "system:serviceaccount:default:default" cannot list resource '
        '"pods" in API group "" in the namespace "default"')
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(helpers=HELPERS)
    return pytester


def test_expect_forbidden_passes_on_matching_403(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from helpers import status_error, PODS

        @pytest.mark.expect_forbidden
        def test_any():
            raise status_error(403, "Forbidden", PODS)

        @pytest.mark.expect_forbidden(verb="list", resource="pods", namespace="default")
        def test_filtered():
            raise status_error(403, "Forbidden", PODS)

        @pytest.mark.expect_forbidden("list", "pods")
        def test_positional():
            raise status_error(403, "Forbidden", PODS)
        """
    )
    suite.runpytest().assert_outcomes(passed=3)


def test_expect_forbidden_fails_when_filters_differ(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from helpers import status_error, PODS

        @pytest.mark.expect_forbidden(verb="get", namespace="kube-system")
        def test_it():
            raise status_error(403, "Forbidden", PODS)
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "expected 403 Forbidden (verb=get, namespace=kube-system), got a 403 for "
            "something else:",
            "  verb: expected 'get', was 'list'",
            "  namespace: expected 'kube-system', was 'default'",
            "server said: " + "pods is forbidden: *",
        ]
    )


def test_expect_forbidden_without_403_lists_the_requests(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from pytest_incluster.calls import ApiCall
        from pytest_incluster.pytest_plugin.state import get_state

        @pytest.mark.expect_forbidden(resource="secrets")
        def test_it(pytestconfig):
            calls = get_state(pytestconfig).calls
            calls.record(ApiCall("GET", "/api/v1/namespaces/default/secrets", 200, "OK"))
            calls.record(ApiCall("POST", "/api/v1/namespaces", 201, "Created"))
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "expected 403 Forbidden (resource=secrets), but the test ended without one.",
            "Requests made by this test:",
            "  GET /api/v1/namespaces/default/secrets -> 200 OK",
            "  POST /api/v1/namespaces -> 201 Created",
        ]
    )


def test_expect_forbidden_lets_other_errors_fail_as_usual(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from helpers import status_error

        @pytest.mark.expect_forbidden
        def test_not_found():
            raise status_error(404, "NotFound", 'pods "x" not found')

        @pytest.mark.expect_forbidden
        def test_plain_bug():
            assert 1 == 2
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(['*NotFound*pods "x" not found*', "*assert 1 == 2*"])


def test_expect_unauthorized(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from helpers import status_error, PODS

        @pytest.mark.expect_unauthorized
        def test_401():
            raise status_error(401, "Unauthorized", "Unauthorized")

        @pytest.mark.expect_unauthorized
        def test_403_is_not_401():
            raise status_error(403, "Forbidden", PODS)

        @pytest.mark.expect_unauthorized
        def test_nothing():
            pass
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "expected 401 Unauthorized, but the test ended without one.",
            "Requests made by this test:",
            "  (the test made no API requests)",
        ]
    )


def test_unexpected_403_reads_access_denied(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        """
        import pytest
        from helpers import status_error, PODS

        @pytest.mark.expect_allowed
        def test_marked():
            raise status_error(403, "Forbidden", PODS)

        def test_unmarked():
            raise status_error(403, "Forbidden", PODS)
        """
    )
    result = suite.runpytest()
    result.assert_outcomes(failed=2)
    denied = (
        'access denied: pods is forbidden: User "system:serviceaccount:default:default" cannot '
        'list resource "pods" in API group "" in the namespace "default"'
    )
    # Each failure section opens with the server's words (CI=true also repeats them, untruncated,
    # in the short summary, so count sections rather than occurrences).
    result.stdout.fnmatch_lines(["*_ test_marked _*", denied, "*_ test_unmarked _*", denied])


def test_expectations_feed_the_access_summary(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        """
        from pytest_incluster.pytest_plugin.state import get_state

        def pytest_sessionfinish(session):
            for o in get_state(session.config).outcomes:
                print(f"OUTCOME {o.test_id.split('::')[1]} {o.subject} {o.verb} {o.resource} "
                      f"ns={o.namespace} expected={o.expected} actual={o.actual} "
                      f"passed={o.passed}")
        """
    )
    suite.makepyfile(
        """
        import pytest
        from helpers import status_error, PODS

        @pytest.mark.expect_forbidden(verb="list")
        def test_denied():
            raise status_error(403, "Forbidden", PODS)

        @pytest.mark.expect_allowed
        def test_allowed_but_denied():
            raise status_error(403, "Forbidden", PODS)

        def test_unmarked_is_not_counted():
            pass
        """
    )
    result = suite.runpytest("-s")
    result.stdout.fnmatch_lines(
        [
            "*OUTCOME test_denied self (system:serviceaccount:default:default) list pods "
            "ns=default expected=forbidden actual=forbidden passed=True",
            "OUTCOME test_allowed_but_denied self (system:serviceaccount:default:default) list "
            "pods ns=default expected=allowed actual=forbidden passed=False",
        ]
    )
    assert "test_unmarked_is_not_counted" not in "".join(
        line for line in result.outlines if "OUTCOME" in line
    )
