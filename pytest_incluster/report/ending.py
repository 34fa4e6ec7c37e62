"""How a run ended, in words, and the record of the test an interruption cut short.

pytest gives several different ends the same exit code 2 (``INTERRUPTED``): Ctrl-C, the SIGTERM a
Job's pod gets (raised as :class:`~pytest_incluster.report.interrupt.Terminated`), and pytest
stopping itself with ``Session.Interrupted`` (errors during collection, ``--stepwise``). The
summary line, the HTML report and the ConfigMap annotation must tell them apart: "interrupted by
KeyboardInterrupt" for a module that fails to import sends the reader looking for someone who
pressed Ctrl-C.

A KeyboardInterrupt inside a test also leaves that test without a result: pytest never makes
the report of the phase that was cut short, and the JUnit writer, which opened an entry for the
test when its setup finished, writes it without a name. SIGTERM inside a test phase is turned
into an ordinary failure of that phase (see ``interrupt.py``); for Ctrl-C, and for a SIGTERM
that lands between two phases, :class:`RunningTest` follows the test being run so that
:meth:`RunningTest.interrupted_report` can give it the missing result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import pytest

from pytest_incluster.report.interrupt import Terminated

Phase = Literal["setup", "call", "teardown"]


@dataclass(frozen=True)
class RunEnd:
    """An early end: ``summary`` for the one-line summary, ``note`` for the HTML report."""

    summary: str
    note: str


def interrupt_cause(exc: BaseException) -> str | None:
    """``"SIGTERM"`` or ``"KeyboardInterrupt"`` for an interruption from outside the run, None
    for pytest stopping itself (``Session.Interrupted``) or anything else."""
    if isinstance(exc, Terminated):
        return "SIGTERM"
    if isinstance(exc, pytest.Session.Interrupted):
        return None
    if isinstance(exc, KeyboardInterrupt):
        return "KeyboardInterrupt"
    return None


def run_end(
    stopped_by: BaseException | None,
    exitstatus: int,
    *,
    running: str | None = None,
    sigterm: bool = False,
) -> RunEnd | None:
    """How the run ended early, or None if it ran to its end.

    ``stopped_by`` is the exception pytest passed to ``pytest_keyboard_interrupt`` (None if it
    did not call it); ``running`` the test that was running when the run was interrupted;
    ``sigterm`` whether a SIGTERM stopped the run (pytest then stops itself after the test,
    with ``Session.Interrupted``).
    """
    cause = "SIGTERM" if sigterm else interrupt_cause(stopped_by) if stopped_by else None
    if cause is not None:
        during = f" while {running} was running" if running else ""
        text = f"interrupted by {cause}{during}"
        return RunEnd(text, f"the run was {text}; the tests after it did not run")
    if isinstance(stopped_by, pytest.Session.Interrupted):
        # pytest's own words: "1 error during collection", "Test failed, continuing ...".
        reason = str(stopped_by).strip().rstrip(".")
        return RunEnd(
            f"stopped early: {reason}",
            f"the run stopped early ({reason}); the tests after that point did not run",
        )
    if isinstance(stopped_by, pytest.exit.Exception):
        reason = stopped_by.msg.strip().rstrip(".")
        return RunEnd(
            f"stopped by pytest.exit(): {reason}",
            f"the run was stopped by pytest.exit() ({reason})",
        )
    if exitstatus == pytest.ExitCode.INTERNAL_ERROR:
        text = "stopped by an internal error of pytest or a plugin (see the log)"
        return RunEnd(text, f"the run was {text}")
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        return RunEnd("no tests were collected", "no tests were collected")
    return None


class RunningTest:
    """The test whose ``pytest_runtest_logstart`` came without its ``logfinish`` yet, and the
    phase it is in (judged from the reports logged for it so far)."""

    def __init__(self) -> None:
        self.nodeid: str | None = None
        self.location: tuple[str, int | None, str] | None = None
        self.phase: Phase = "setup"
        self._since = time.monotonic()

    def start(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.nodeid, self.location, self.phase = nodeid, location, "setup"
        self._since = time.monotonic()

    def reported(self, report: pytest.TestReport) -> None:
        if report.nodeid != self.nodeid:
            return
        if report.when == "setup":
            # A failed or skipped setup has no call phase.
            self.phase = "call" if report.passed else "teardown"
        elif report.when == "call":
            self.phase = "teardown"
        self._since = time.monotonic()

    def finish(self, nodeid: str) -> None:
        if nodeid == self.nodeid:
            self.nodeid = self.location = None

    def interrupted_report(self, cause: str) -> pytest.TestReport | None:
        """The missing result of the running test: its current phase failed with the cause."""
        if self.nodeid is None or self.location is None:
            return None
        return pytest.TestReport(
            nodeid=self.nodeid,
            location=self.location,
            keywords={},
            outcome="failed",
            longrepr=(
                f"interrupted by {cause} during {self.phase}: the test did not finish, "
                "and the tests after it did not run"
            ),
            when=self.phase,
            duration=time.monotonic() - self._since,
        )
