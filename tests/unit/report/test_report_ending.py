"""The records a run leaves when it ends early: the termination log and the HTML report say what
stopped it, not a Ctrl-C nobody pressed or a count of tests that never ran.

Real pytest runs (pytester subprocesses) without a cluster: none of this needs one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_incluster.report.ending import run_end
from pytest_incluster.report.interrupt import Terminated
from tests.support.htmlreport import read_report

ACCESS = "access checks: 0, 0 unexpectedly allowed, 0 unexpectedly forbidden"


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> tuple[pytest.Pytester, Path]:
    """pytester without a cluster, writing the termination log to ``termination-log``."""
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(pytester.path / "home"))
    log = pytester.path / "termination-log"
    monkeypatch.setenv("PYTEST_INCLUSTER_TERMINATION_LOG", str(log))
    return pytester, log


def test_collection_import_error_is_not_called_a_keyboard_interrupt(
    run: tuple[pytest.Pytester, Path],
) -> None:
    pytester, log = run
    pytester.makepyfile(
        test_broken="import module_that_does_not_exist\n\ndef test_a():\n    pass\n",
        test_fine="def test_b():\n    pass\n",
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--html=report.html")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*Interrupted: 1 error during collection*"])
    assert log.read_text() == (
        f"pytest-incluster: 0 passed, 0 failed, 1 error; {ACCESS}; stopped early: 1 error "
        "during collection\n"
    )
    page, _ = read_report(pytester.path / "report.html")
    assert "KeyboardInterrupt" not in page
    assert (
        "the run stopped early (1 error during collection); the tests after that point did not run"
    ) in page


def test_two_collection_errors_are_two_errors(run: tuple[pytest.Pytester, Path]) -> None:
    pytester, log = run
    pytester.makepyfile(
        test_one="import module_that_does_not_exist\n",
        test_two="import another_module_that_does_not_exist\n",
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert log.read_text() == (
        f"pytest-incluster: 0 passed, 0 failed, 2 errors; {ACCESS}; stopped early: 2 errors "
        "during collection\n"
    )


def test_invalid_marker_arguments_record_the_usage_error_not_zero_counts(
    run: tuple[pytest.Pytester, Path],
) -> None:
    pytester, log = run
    pytester.makepyfile(
        test_markers="""
        import pytest

        @pytest.mark.expect_forbidden(verbs="list")
        def test_a():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert log.read_text() == (
        "pytest-incluster: usage error, no test ran: invalid pytest-incluster marker "
        "arguments: test_markers.py::test_a: @pytest.mark.expect_forbidden: unexpected "
        "argument 'verbs'; accepted: expect_forbidden(verb=None, resource=None, "
        "namespace=None)\n"
    )


def test_a_complete_run_records_counts_only(run: tuple[pytest.Pytester, Path]) -> None:
    pytester, log = run
    pytester.makepyfile(
        test_mixed="""
        import pytest

        @pytest.fixture
        def broken():
            raise RuntimeError("setup failed")

        def test_passes():
            pass

        def test_fails():
            assert False

        def test_errors(broken):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert log.read_text() == f"pytest-incluster: 1 passed, 1 failed, 1 error; {ACCESS}\n"


@pytest.mark.parametrize(
    ("stopped_by", "exitstatus", "summary"),
    [
        (None, pytest.ExitCode.OK, None),
        (None, pytest.ExitCode.TESTS_FAILED, None),
        (
            pytest.Session.Interrupted("1 error during collection"),
            pytest.ExitCode.INTERRUPTED,
            "stopped early: 1 error during collection",
        ),
        (KeyboardInterrupt(), pytest.ExitCode.INTERRUPTED, "interrupted by KeyboardInterrupt"),
        (Terminated("x"), pytest.ExitCode.INTERRUPTED, "interrupted by SIGTERM"),
        (
            pytest.exit.Exception("enough", returncode=3),
            3,
            "stopped by pytest.exit(): enough",
        ),
        (
            None,
            pytest.ExitCode.INTERNAL_ERROR,
            "stopped by an internal error of pytest or a plugin (see the log)",
        ),
        (None, pytest.ExitCode.NO_TESTS_COLLECTED, "no tests were collected"),
    ],
)
def test_run_end_names_what_stopped_the_run(
    stopped_by: BaseException | None, exitstatus: int, summary: str | None
) -> None:
    ended = run_end(stopped_by, exitstatus)
    assert (ended.summary if ended else None) == summary


def test_sigterm_that_stopped_the_run_is_named_with_the_test() -> None:
    # pytest stops itself after the test SIGTERM failed (Session.Interrupted): still SIGTERM.
    ended = run_end(
        pytest.Session.Interrupted("SIGTERM received"),
        pytest.ExitCode.INTERRUPTED,
        running="t.py::test_x",
        sigterm=True,
    )
    assert ended is not None
    assert ended.summary == "interrupted by SIGTERM while t.py::test_x was running"
    assert ended.note == (
        "the run was interrupted by SIGTERM while t.py::test_x was running; the tests after it "
        "did not run"
    )
