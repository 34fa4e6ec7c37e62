"""The one-line run summary and the termination log."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_incluster.access.decision import AccessOutcome, Expectation
from pytest_incluster.report.summary import (
    TERMINATION_LOG_ENV,
    AccessCounts,
    mismatch,
    summary_line,
    termination_log_path,
    usage_error_line,
    write_termination_log,
)


def outcome(expected: Expectation, actual: str, subject: str = "alice") -> AccessOutcome:
    return AccessOutcome("t.py::t", subject, "get", "pods", "ns", expected, actual)


@pytest.mark.parametrize(
    ("expected", "actual", "kind"),
    [
        ("forbidden", "forbidden", None),
        ("forbidden", "allowed", "unexpectedly allowed"),
        ("unauthorized", "allowed", "unexpectedly allowed"),
        ("allowed", "forbidden", "unexpectedly forbidden"),
        ("allowed", "unauthorized", "unexpectedly forbidden"),
        ("allowed", "error", "other"),
        ("forbidden", "unauthorized", "other"),
        ("forbidden", "not asked", "not asked"),
        ("allowed", "not asked", "not asked"),
    ],
)
def test_mismatch_kinds(expected: Expectation, actual: str, kind: str | None) -> None:
    assert mismatch(outcome(expected, actual)) == kind


def test_summary_line_counts_results_and_access_mismatches() -> None:
    outcomes = [
        outcome("forbidden", "forbidden"),
        outcome("forbidden", "allowed"),
        outcome("allowed", "forbidden"),
        outcome("allowed", "forbidden"),
    ]
    line = summary_line({"passed": 5, "failed": 2, "skipped": 1}, outcomes)
    assert line == (
        "pytest-incluster: 5 passed, 2 failed, 0 errors, 1 skipped; access checks: 4, "
        "1 unexpectedly allowed, 2 unexpectedly forbidden"
    )
    assert AccessCounts.of(outcomes).passed == 1


def test_summary_line_counts_checks_the_server_was_not_asked_apart() -> None:
    outcomes = [outcome("forbidden", "not asked"), outcome("allowed", "not asked")]
    line = summary_line({"failed": 2}, outcomes)
    assert line == (
        "pytest-incluster: 0 passed, 2 failed, 0 errors; access checks: 2, 0 unexpectedly "
        "allowed, 0 unexpectedly forbidden, 2 not asked"
    )
    assert AccessCounts.of(outcomes).not_asked == 2


def test_summary_line_mentions_interruption_and_storage() -> None:
    line = summary_line(
        {"error": 1}, [], ended="interrupted by SIGTERM", stored_in="ConfigMap ns/r"
    )
    assert line.endswith("; interrupted by SIGTERM; report: ConfigMap ns/r")


@pytest.mark.parametrize(("errors", "words"), [(0, "0 errors"), (1, "1 error"), (2, "2 errors")])
def test_summary_line_uses_plural_forms(errors: int, words: str) -> None:
    line = summary_line({"passed": 1, "failed": 1, "error": errors}, [])
    assert line.startswith(f"pytest-incluster: 1 passed, 1 failed, {words}; access checks: 0,")


@pytest.mark.parametrize(("count", "words"), [(1, "1 other mismatch"), (2, "2 other mismatches")])
def test_other_mismatches_use_plural_forms(count: int, words: str) -> None:
    line = summary_line({}, [outcome("allowed", "error")] * count)
    assert line.endswith(f"0 unexpectedly forbidden, {words}")


def test_usage_error_line_is_one_line_without_counts() -> None:
    line = usage_error_line("invalid arguments:\n  a.py::t: bad\n  b.py::u: worse\n")
    assert line == (
        "pytest-incluster: usage error, no test ran: invalid arguments: a.py::t: bad b.py::u: worse"
    )


def test_env_override_and_empty_env_switch_the_file(tmp_path: Path) -> None:
    target = tmp_path / "termination-log"
    assert termination_log_path({TERMINATION_LOG_ENV: str(target)}) == target
    assert termination_log_path({TERMINATION_LOG_ENV: ""}) is None


def test_default_path_only_when_it_exists_and_is_writable() -> None:
    found = termination_log_path({})
    default = Path("/dev/termination-log")
    assert found == (default if default.exists() else None)


def test_write_truncates_to_the_kubelet_limit_without_splitting_a_character(
    tmp_path: Path,
) -> None:
    target = tmp_path / "log"
    assert write_termination_log("é" * 5000, {TERMINATION_LOG_ENV: str(target)}) is None
    data = target.read_bytes()
    assert len(data) <= 4096
    assert data.decode("utf-8").rstrip("\n") == "é" * 2047


def test_unwritable_path_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    problem = write_termination_log("x", {TERMINATION_LOG_ENV: str(tmp_path / "no" / "dir")})
    assert problem is not None
    assert TERMINATION_LOG_ENV in problem
