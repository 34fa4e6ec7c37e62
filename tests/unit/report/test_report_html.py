"""The pytest-html report: environment, per-test API calls, access summary, escaping.

The API calls and access outcomes are recorded into the session state as data (what the client
and the markers record in a real run); the API-server round trip is covered in
``tests/integration/report``.
"""

from __future__ import annotations

import re

import pytest

from pytest_incluster.report.htmlparts import test_anchor
from tests.support.htmlreport import read_report, test_log

CONFTEST = r"""
import pytest
from pytest_incluster.access.decision import AccessOutcome
from pytest_incluster.calls import ApiCall
from pytest_incluster.client.identity import Identity
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.pytest_plugin.state import get_state

HOSTILE = '<script>alert(1)</script> \x1b[31mred\x1b[0m'


@pytest.fixture(autouse=True, scope="session")
def _cluster_facts(pytestconfig):
    # What the header and the client would have learned; set after the header was printed.
    state = get_state(pytestconfig)
    state.cluster_config = ClusterConfig(
        server="https://10.0.0.1:443", namespace="tests", source="in-cluster service account",
        insecure_skip_tls_verify=True,
    )
    state.server_version = "v1.37.2"
    state.identity = Identity("system:serviceaccount:tests:runner",
                              groups=("system:serviceaccounts", "system:authenticated"))


@pytest.fixture
def record(pytestconfig, request):
    state = get_state(pytestconfig)

    def call(method, path, status, reason="", message="", **kw):
        state.calls.record(ApiCall(method, path, status, reason, message, **kw))

    def check(subject, verb, resource, expected, actual, reason=""):
        state.outcomes.append(AccessOutcome(request.node.nodeid, subject, verb, resource,
                                            "tests", expected, actual, reason))

    return call, check
"""

TESTS = r"""
import httpx
import pytest
from pytest_incluster.client.errors import error_from_response
from conftest import HOSTILE


def test_lists_pods(record):
    call, check = record
    call("GET", "/api/v1/namespaces/tests/pods?labelSelector=app%3Dweb", 200, "OK",
         duration_s=0.021)
    check("system:serviceaccount:tests:viewer", "list", "pods", "allowed", "allowed",
          "RBAC: allowed by RoleBinding viewer/tests")


def test_denied_delete(record):
    call, check = record
    message = f'pods "{HOSTILE}" is forbidden: User "alice" cannot delete resource "pods"'
    call("DELETE", "/api/v1/namespaces/tests/pods/x", 403, "Forbidden", message,
         impersonated_user="alice")
    check("alice", "delete", "pods", "allowed", "forbidden", message)
    request = httpx.Request("DELETE", "https://10.0.0.1/api/v1/namespaces/tests/pods/x")
    response = httpx.Response(403, request=request, json={
        "kind": "Status", "reason": "Forbidden", "message": message, "code": 403})
    raise error_from_response(response)


def test_hole_in_rbac(record):
    call, check = record
    call("POST", "/api/v1/namespaces/kube-system/secrets?dryRun=All", 201, "Created")
    check("alice", "create", "secrets", "forbidden", "allowed")
    assert False, "alice may create secrets in kube-system"


@pytest.mark.parametrize("name", ["<img src=x onerror=alert(2)>"])
def test_param(name):
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=TESTS)
    return pytester


@pytest.mark.parametrize("self_contained", [False, True])
def test_report_has_environment_calls_checks_and_summary(
    suite: pytest.Pytester, self_contained: bool
) -> None:
    args = ["--html", "out/report.html", "-p", "no:cacheprovider"]
    if self_contained:
        args.append("--self-contained-html")
    result = suite.runpytest(*args)
    result.assert_outcomes(passed=2, failed=2)
    page, data = read_report(suite.path / "out" / "report.html")

    assert '<title id="head-title">pytest-incluster report</title>' in page
    env = data["environment"]
    assert env["Kubernetes server"] == "https://10.0.0.1:443"
    assert env["Kubernetes version"] == "v1.37.2"
    assert env["Identity"] == "system:serviceaccount:tests:runner"
    assert env["Groups"] == "system:serviceaccounts, system:authenticated"
    assert env["Namespace"] == "tests"
    assert env["Configuration source"] == "in-cluster service account"
    assert "DISABLED" in env["TLS verification"]
    assert env["pytest-incluster"]
    assert re.search(r'<div class="incluster-warning">Warning: TLS verification[^<]*DISABLED', page)

    listed = test_log(data, "test_suite.py::test_lists_pods")
    assert "API calls (1)" in listed
    assert "<td>GET</td><td>/api/v1/namespaces/tests/pods?labelSelector=app%3Dweb</td>" in listed
    assert "<td>200</td><td>OK</td><td>21 ms</td>" in listed
    assert "RBAC: allowed by RoleBinding viewer/tests" in listed

    denied = test_log(data, "test_suite.py::test_denied_delete")
    # The typed error's message first, then checks and calls, the traceback folded away.
    anchor = test_anchor("test_suite.py::test_denied_delete")  # the access matrix links here
    assert denied.startswith(
        f'<div class="incluster-test" id="{anchor}"><div class="incluster-error">'
        "<b>Forbidden:</b> DELETE /api/v1/namespaces/tests/pods/x -&gt; 403"
    )
    assert "<td>alice</td>" in denied
    assert "server said: pods &quot;&lt;script&gt;alert(1)&lt;/script&gt;" in denied
    assert "\\x1b[31mred" in denied
    assert "<details><summary>Traceback</summary>" in denied
    assert "<script>alert(1)" not in page

    hole = test_log(data, "test_suite.py::test_hole_in_rbac")
    assert "<b>AssertionError:</b> alice may create secrets in kube-system" in hole
    assert "<details>" not in hole  # a plain assertion keeps its traceback open
    assert "FAILED: unexpectedly allowed" in hole

    summary = page[page.index('id="incluster-access-summary"') :]
    assert "3 access checks: 1 passed, 2 failed (1 unexpectedly allowed, 1 unexpectedly " in (
        summary
    )
    assert '<tr class="incluster-fail"><td>alice</td><td>2</td><td>0</td><td>2</td></tr>' in summary
    assert "<h3>system:serviceaccount:tests:viewer</h3>" in summary

    row = data["tests"]["test_suite.py::test_param[<img src=x onerror=alert(2)>]"][0]
    assert row["resultsTableRow"][1] == (
        '<td class="col-testId">test_suite.py::test_param[&lt;img src=x onerror=alert(2)&gt;]</td>'
    )
    assert all("<img" not in cell for cell in row["resultsTableRow"])


def test_report_without_any_cluster_says_so(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest(
        "--html", "report.html", "-p", "no:cacheprovider", "--incluster-sa-dir", "missing"
    )
    result.assert_outcomes(passed=1)
    page, data = read_report(pytester.path / "report.html")
    server = data["environment"]["Kubernetes server"]
    assert server.startswith("none (The service-account directory missing (from --incluster-sa-")
    assert "No access checks were recorded in this run." in page


def test_calls_and_checks_made_on_xdist_workers_reach_the_report(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-n", "2", "--html", "report.html", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    page, data = read_report(suite.path / "report.html")
    assert "API calls (1)" in test_log(data, "test_suite.py::test_lists_pods")
    assert "server said: pods &quot;&lt;script&gt;" in test_log(
        data, "test_suite.py::test_denied_delete"
    )
    assert "3 access checks: 1 passed, 2 failed" in page
