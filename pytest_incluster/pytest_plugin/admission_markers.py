"""What ``expect_rejected``, ``expect_admitted`` and ``expect_warning`` do while a test runs.

The markers are parsed and judged in :mod:`pytest_incluster.admission.expectation`; this module
only reads the test's requests from the call log, passes or fails the test, and keeps one
:class:`~pytest_incluster.admission.decision.AdmissionRecord` per decision in the session
state (``SessionState.admission``) for the report and the results file.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

import pytest

from pytest_incluster.admission.decision import AdmissionDecision, AdmissionRecord
from pytest_incluster.admission.expectation import (
    SIGNATURES,
    AdmissionExpectation,
    AdmissionMarkerError,
    parse_markers,
    problems,
)
from pytest_incluster.admission.observed import decisions_of
from pytest_incluster.pytest_plugin.state import get_state

if TYPE_CHECKING:
    from pytest_incluster.calls import ApiCall

ADMISSION_KEY = pytest.StashKey[AdmissionExpectation | None]()
CALLS_FROM_KEY = pytest.StashKey[int]()  # the test's calls before its call phase
SWALLOWED_KEY = pytest.StashKey[BaseException]()  # the refusal expect_rejected turned into a pass


def _api_error() -> type[BaseException]:
    from pytest_incluster.client.errors import ApiError

    return ApiError


class AdmissionHooks:
    """The admission markers at run time, and the records of every admission decision."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        errors = []
        for item in items:
            if ADMISSION_KEY in item.stash:
                continue  # an access document's admitted:/rejected: object
            markers = [(m.name, m.args, m.kwargs) for m in item.iter_markers()]
            try:
                item.stash[ADMISSION_KEY] = parse_markers(markers)
            except AdmissionMarkerError as exc:
                errors.append(
                    f"{item.nodeid}: @pytest.mark.{exc.marker}: {exc}; "
                    f"accepted: {SIGNATURES[exc.marker]}"
                )
        if errors:
            raise pytest.UsageError(
                "invalid pytest-incluster marker arguments:\n" + "\n".join(errors)
            )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        item.stash[CALLS_FROM_KEY] = len(get_state(self.config).calls.for_test(item.nodeid))
        expectation = item.stash.get(ADMISSION_KEY, None)
        if expectation is None:
            return (yield)
        try:
            yield
        except _api_error() as exc:
            # The refusal is in the call log already; judged below like any other request.
            raised: BaseException | None = exc
        else:
            raised = None
        found = problems(expectation, self._decisions(item))
        if raised is not None and expectation.outcome != "rejected" and not found:
            raise raised  # not the refusal a marker asked for: the test's own failure
        if not found:
            if raised is not None:
                item.stash[SWALLOWED_KEY] = raised
            return None
        calls = get_state(self.config).calls.for_test(item.nodeid)[item.stash[CALLS_FROM_KEY] :]
        pytest.fail(
            "\n".join(found) + "\nRequests made by this test:\n" + _listing(calls),
            pytrace=False,
        )

    def _decisions(
        self, item: pytest.Item, *, checks_only: bool = False
    ) -> list[AdmissionDecision]:
        """The decisions on the test's requests in its call phase; with ``checks_only`` only
        those of ``k8s.admission_check`` (its requests name their target object)."""
        calls = get_state(self.config).calls.for_test(item.nodeid)
        calls = calls[item.stash.get(CALLS_FROM_KEY, 0) :]
        return decisions_of(c for c in calls if not checks_only or _dry_run_check(c))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when == "call" and not report.skipped:
            expectation = item.stash.get(ADMISSION_KEY, None)
            # Without an outcome to judge, only the dry runs the test asked for are decisions
            # worth recording, not every object a test created.
            checks_only = expectation is None or expectation.outcome is None
            decisions = self._decisions(item, checks_only=checks_only)
            records = admission_records(
                self.config, item.nodeid, decisions, expectation, passed=report.passed
            )
            get_state(self.config).admission.extend(records)
        return report


def _dry_run_check(call: ApiCall) -> bool:
    """A request of ``k8s.admission_check`` (or another dry run naming its object)."""
    return bool(call.target) and "dryRun=All" in call.path


def admission_records(
    config: pytest.Config,
    test_id: str,
    decisions: Sequence[AdmissionDecision],
    expectation: AdmissionExpectation | None,
    *,
    passed: bool,
) -> list[AdmissionRecord]:
    """The records of one test's decisions; ``passed`` is the test's own result."""
    from pytest_incluster.pytest_plugin.cluster_access import runner_label

    expected = expectation.outcome if expectation and expectation.outcome else ""
    runner = runner_label(config) if any(not d.subject for d in decisions) else ""
    return [
        AdmissionRecord(
            test_id=test_id,
            subject=d.subject or runner,
            namespace=d.namespace,
            target=d.target,
            operation=d.operation,
            expected=expected,
            admitted=d.admitted,
            stage=d.stage or "",
            by=d.by,
            message=d.message,
            warnings=d.warnings,
            passed=passed if expected else None,
        )
        for d in decisions
    ]


def _listing(calls: Sequence[ApiCall]) -> str:
    """The test's requests, each write with the admission decision on it."""
    from pytest_incluster.access.markers import calls_listing
    from pytest_incluster.admission.observed import decision_of, verdict_text

    lines = calls_listing(calls).splitlines()
    return "\n".join(
        line + (f" [{verdict_text(d)}]" if (d := decision_of(call)) is not None else "")
        for line, call in zip(lines, calls, strict=False)
    ) or calls_listing(calls)
