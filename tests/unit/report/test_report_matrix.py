"""The access matrix in the HTML report, and the ``--incluster-results`` document of the same
run (the suite of test_report_html.py: recorded API calls and access outcomes as data)."""

from __future__ import annotations

import json

import pytest

from pytest_incluster.report.htmlparts import test_anchor
from tests.support.htmlreport import read_report
from tests.unit.report.test_report_html import CONFTEST, TESTS

HOLE = "test_suite.py::test_hole_in_rbac"


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=TESTS)
    return pytester


def test_matrix_stands_above_the_access_tables_with_mismatches_linked(
    suite: pytest.Pytester,
) -> None:
    result = suite.runpytest("--html", "report.html", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    page, data = read_report(suite.path / "report.html")
    matrix = page[page.index('<section class="incluster-matrix-section"') :]
    matrix = matrix[: matrix.index("</section>")]
    assert page.index('id="incluster-matrix"') < page.index('id="incluster-access-summary"')
    assert "<h3>alice &middot; namespace tests (2 checks, 2 mismatches)</h3>" in matrix
    # Rows are resources, columns the verbs in reading order.
    assert "<thead><tr><th>resource</th><th>create</th><th>delete</th></tr></thead>" in matrix
    # The hole: allowed where forbidden was expected, red, linked to its test.
    assert (
        '<td class="incluster-mis incluster-allowed" title="expected forbidden, actual allowed; '
        f'test {HOLE}"><a class="incluster-test-link" href="#{test_anchor(HOLE)}" '
        f'data-test="{HOLE}">allowed</a><span class="incluster-cell-exp">expected forbidden'
        "</span></td>"
    ) in matrix
    assert '<td class="incluster-mis incluster-forbidden"' in matrix
    # A check that held is shown without a link; an unchecked verb is an empty cell.
    assert (
        '<td class="incluster-ok" title="expected allowed, actual allowed; test '
        'test_suite.py::test_lists_pods; RBAC: allowed by RoleBinding viewer/tests">allowed'
    ) in matrix
    assert '<td class="incluster-none">&middot;</td>' in matrix
    assert '<tr data-mismatch="1"><th class="incluster-res">secrets</th>' in matrix
    assert '<tr data-mismatch="0"><th class="incluster-res">pods</th>' in matrix
    # The link's target: the test's own block in the results table.
    rows = data["tests"][HOLE]
    assert f'<div class="incluster-test" id="{test_anchor(HOLE)}">' in rows[0]["log"]
    # The filters offer every subject and namespace.
    assert '<option value="alice">alice</option>' in matrix
    assert '<option value="tests">namespace tests</option>' in matrix
    assert 'id="incluster-matrix-mismatches"' in matrix
    # The hostile server message is in a title, escaped; never markup.
    assert "<script>alert" not in page


def test_no_matrix_without_access_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    pytester.runpytest("--html", "report.html", "-p", "no:cacheprovider", "--incluster-sa-dir", "x")
    page, _ = read_report(pytester.path / "report.html")
    assert "incluster-matrix-section" not in page
    assert "No access checks were recorded in this run." in page


def test_results_document_lists_every_decision_with_its_test_outcome(
    suite: pytest.Pytester,
) -> None:
    result = suite.runpytest(
        "-p",
        "no:cacheprovider",
        "--incluster-results=out/results.json",
        "--incluster-cluster-name=prod-eu",
    )
    result.assert_outcomes(passed=2, failed=2)
    data = json.loads((suite.path / "out" / "results.json").read_text())
    assert data["schema"] == "pytest-incluster/results"
    assert data["version"] == 1
    assert data["cluster"] == {
        "name": "prod-eu",
        "server": "https://10.0.0.1:443",
        "version": "v1.37.2",
    }
    assert data["identity"] == {
        "username": "system:serviceaccount:tests:runner",
        "groups": ["system:serviceaccounts", "system:authenticated"],
    }
    assert data["tests"] == {"passed": 2, "failed": 2}
    assert data["totals"]["decisions"] == 3
    assert data["totals"]["unexpectedly_allowed"] == 1
    assert data["admission"] == []
    hole = next(d for d in data["decisions"] if d["test_id"] == HOLE)
    assert hole == {
        "subject": "alice",
        "verb": "create",
        "resource": "secrets",
        "namespace": "tests",
        "expected": "forbidden",
        "actual": "allowed",
        "stage": "authorization",
        "reason": "",
        "test_id": HOLE,
        "outcome": "failed",
    }
    assert len(data["run"]["suite_version"]) == 12


def test_without_the_option_no_results_file_is_written(suite: pytest.Pytester) -> None:
    suite.runpytest("-p", "no:cacheprovider")
    assert not list(suite.path.rglob("*.json"))


def test_an_unwritable_results_path_is_a_warning_not_a_crash(suite: pytest.Pytester) -> None:
    (suite.path / "file").write_text("")
    result = suite.runpytest("-p", "no:cacheprovider", "--incluster-results=file/results.json")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.re_match_lines(
        [
            r"incluster WARNING: --incluster-results .*file/results.json: the results were not "
            r"written \(File exists\); give a path in a writable directory\."
        ]
    )


def test_the_admission_checks_records_are_in_the_document(suite: pytest.Pytester) -> None:
    # The admission markers and access-document items add an AdmissionRecord to the session
    # state as they judge (tests/integration/plugin/test_admission_*_live.py); here one is
    # added the same way, to show the document takes every record with its test's outcome.
    suite.makepyfile(
        test_admission="""
from pytest_incluster.admission.decision import AdmissionRecord
from pytest_incluster.pytest_plugin.state import get_state


def test_webhook(pytestconfig, request):
    get_state(pytestconfig).admission.append(AdmissionRecord(
        test_id=request.node.nodeid, subject="alice", namespace="tests", target="Pod/root",
        operation="create", expected="rejected", admitted=True, stage="", by="",
        message="", passed=False))
    raise AssertionError("admitted")
"""
    )
    suite.runpytest("-p", "no:cacheprovider", "--incluster-results=results.json")
    data = json.loads((suite.path / "results.json").read_text())
    assert data["admission"] == [
        {
            "subject": "alice",
            "operation": "create",
            "target": "Pod/root",
            "namespace": "tests",
            "expected": "rejected",
            "actual": "admitted",
            "stage": "",
            "by": "",
            "message": "",
            "test_id": "test_admission.py::test_webhook",
            "outcome": "failed",
        }
    ]
    assert (data["totals"]["admission"], data["totals"]["admission_failed"]) == (1, 1)
