"""SIGTERM ends the run like Ctrl-C, so an interrupted Job still cleans up and reports.

Kubernetes stops a Job's pod (``activeDeadlineSeconds``, a deleted Job, node drain) with SIGTERM
and, a grace period later, SIGKILL. Python's default SIGTERM action kills the process at once: no
fixture teardown, no ``pytest_sessionfinish``, so no cleanup of test namespaces and no report.
And if pytest is the container's PID 1, SIGTERM is ignored altogether until the SIGKILL.

:class:`SigtermHandler` turns the first SIGTERM during the test run into :class:`Terminated`, a
``KeyboardInterrupt``, so that a test's ``except Exception`` cannot swallow it. Once the test
code has unwound, the report plugin re-raises it as :class:`TerminatedTest`, an ordinary error:
pytest then records the interrupted phase as failed (the test keeps its name and result in
every report), tears the test down, stops before the next test (``session.shouldstop``), calls
``pytest_sessionfinish`` (pytest-html writes the report of the tests that ran) and exits with
code 2. A SIGTERM outside a test (during collection) stops the run like Ctrl-C. Once the session
is finishing, and after the first SIGTERM, SIGTERM is only noted, so cleanup and the report
upload are not cut short by a second signal.

Installed only in the main process of the main thread: under pytest-xdist the controller gets
the signal and stops the run; workers keep the default action, because the controller shuts
them down (and their tests' results are already on the controller).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from pytest_incluster.errors import InclusterError


class Terminated(KeyboardInterrupt):
    """The run was stopped by SIGTERM."""


class TerminatedTest(InclusterError):
    """SIGTERM interrupted this test; raised where pytest records the phase's result."""


class SigtermHandler:
    """Install with :meth:`install`; :meth:`uninstall` puts the previous handler back."""

    def __init__(self) -> None:
        self.received = False  # a SIGTERM arrived at some point
        self.interrupted = False  # ... and stopped the run (raised Terminated)
        self.finishing = False
        self._previous: Any = None
        self._installed = False

    def install(self) -> bool:
        """Take over SIGTERM; False where that is impossible (not the main thread)."""
        if self._installed or threading.current_thread() is not threading.main_thread():
            return False
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        self._installed = True
        return True

    def uninstall(self) -> None:
        if self._installed:
            # None: the previous handler was not installed from Python; restore the default.
            previous = signal.SIG_DFL if self._previous is None else self._previous
            signal.signal(signal.SIGTERM, previous)
            self._installed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        __tracebackhide__ = True  # a test's failure ends at the line the signal interrupted
        first = not self.received
        self.received = True
        if first and not self.finishing:
            self.interrupted = True
            raise Terminated(
                "SIGTERM received (e.g. the Job's activeDeadlineSeconds or the pod was "
                "deleted): stopping the run, cleaning up and writing the report"
            )
