"""The results document: its JSON form, reading it back, and what a reader refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_incluster.access.decision import AccessOutcome
from pytest_incluster.report.redact import Redactor
from pytest_incluster.results.document import (
    SCHEMA,
    SCHEMA_VERSION,
    AdmissionDecision,
    Cluster,
    Decision,
    Identity,
    ResultsDocument,
    load,
    stage_of,
)
from pytest_incluster.results.errors import ResultsError


def decision(actual: str = "allowed", expected: str = "allowed", **kw: str) -> Decision:
    fields = {
        "subject": "alice",
        "verb": "get",
        "resource": "secrets",
        "namespace": "team-a",
        "test_id": "t.py::test_a",
        "outcome": "passed",
        "reason": "",
    } | kw
    return Decision(
        expected=expected,
        actual=actual,
        stage=stage_of(actual),
        **fields,  # type: ignore[arg-type]
    )


def document(*decisions: Decision, name: str = "prod-eu") -> ResultsDocument:
    return ResultsDocument(
        Cluster(name, "https://10.0.0.1:443", "v1.37.2"),
        Identity("system:serviceaccount:ci:runner", ("system:authenticated",)),
        decisions,
    )


def test_a_document_round_trips_through_its_file(tmp_path: Path) -> None:
    original = ResultsDocument(
        Cluster("prod-eu", "https://10.0.0.1:443", "v1.37.2"),
        Identity("system:serviceaccount:ci:runner", ("system:serviceaccounts",)),
        (decision(), decision("allowed", "forbidden", verb="create", outcome="failed")),
        (
            AdmissionDecision(
                subject="alice",
                operation="create",
                target="Pod/root",
                namespace="team-a",
                expected="rejected",
                actual="admitted",
                stage="",
                by="",
                message="",
                test_id="test_pods.py::test_root",
                outcome="failed",
            ),
        ),
        run={"suite_version": "1a2b3c4d5e6f"},
        tests={"passed": 1, "failed": 1},
    )
    path = tmp_path / "results.json"
    path.write_text(original.to_json())
    assert load(path) == original
    data = json.loads(path.read_text())
    assert (data["schema"], data["version"]) == (SCHEMA, SCHEMA_VERSION)
    assert data["totals"] == {
        "decisions": 2,
        "passed": 1,
        "failed": 1,
        "unexpectedly_allowed": 1,
        "unexpectedly_forbidden": 0,
        "not_asked": 0,
        "other": 0,
        "admission": 1,
        "admission_failed": 1,
    }
    assert data["decisions"][1] == {
        "subject": "alice",
        "verb": "create",
        "resource": "secrets",
        "namespace": "team-a",
        "expected": "forbidden",
        "actual": "allowed",
        "stage": "authorization",
        "reason": "",
        "test_id": "t.py::test_a",
        "outcome": "failed",
    }


def test_the_admission_list_is_empty_when_no_admission_check_ran() -> None:
    data = json.loads(document(decision()).to_json())
    assert data["admission"] == []
    assert data["totals"]["admission"] == 0


@pytest.mark.parametrize(
    ("actual", "stage"),
    [
        ("allowed", "authorization"),
        ("forbidden", "authorization"),
        ("unauthorized", "authentication"),
        ("not asked", "none"),
        ("error", "undecided"),
        ("disagree", "undecided"),
    ],
)
def test_the_stage_says_which_step_decided(actual: str, stage: str) -> None:
    assert stage_of(actual) == stage


def test_a_decision_is_built_from_an_access_outcome() -> None:
    outcome = AccessOutcome("t.py::test_b", "bob", "list", "pods", "", "forbidden", "allowed", "r")
    assert Decision.of(outcome, "failed") == Decision(
        "bob",
        "list",
        "pods",
        "",
        "forbidden",
        "allowed",
        "authorization",
        "r",
        "t.py::test_b",
        "failed",
    )


def test_redacted_masks_every_string_and_keeps_the_rest() -> None:
    token = "s3cr3t-token-value-0123456789"
    redactor = Redactor()
    redactor.add_secret(token)
    leaky = ResultsDocument(
        Cluster("prod", f"https://{token}@10.0.0.1", ""),
        Identity(token, (token,)),
        (decision(reason=f"Bearer {token}", test_id=f"t.py::test[{token}]"),),
        run={"job": token},
    )
    text = leaky.redacted(redactor.redact).to_json()
    assert token not in text
    assert json.loads(text)["decisions"][0]["actual"] == "allowed"
    # Without redaction the same document would carry it: the check above is not vacuous.
    assert token in leaky.to_json()


def test_a_missing_file_is_one_paragraph(tmp_path: Path) -> None:
    with pytest.raises(ResultsError) as info:
        load(tmp_path / "nope.json")
    assert str(info.value) == (
        f"cannot read the results file {tmp_path / 'nope.json'}: No such file or directory. "
        "Give the path of a file written by pytest --incluster-results."
    )


def test_an_html_report_is_refused_as_not_json(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text("<html></html>")
    with pytest.raises(ResultsError, match=r"is not JSON .*Give the file that pytest "):
        load(path)


def test_other_json_and_newer_versions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"tests": []}')
    with pytest.raises(ResultsError) as info:
        load(path)
    assert str(info.value) == (
        f"the results file {path} cannot be used: it is not a pytest-incluster results "
        "document (schema 'pytest-incluster/results'). Give a file that pytest "
        "--incluster-results wrote."
    )
    newer = json.loads(document().to_json()) | {"version": SCHEMA_VERSION + 1}
    path.write_text(json.dumps(newer))
    with pytest.raises(ResultsError, match="has schema version 2; this pytest-incluster reads"):
        load(path)
