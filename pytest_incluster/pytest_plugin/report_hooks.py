"""The report's pytest hooks: redaction of every output, the run summary, SIGTERM, upload.

``register(config)`` is the only entry point: the main plugin calls it from its (tryfirst)
``pytest_configure`` after putting the :class:`SessionState` in the stash.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_incluster.access.decision import AccessOutcome
from pytest_incluster.admission.decision import AdmissionRecord
from pytest_incluster.calls import ApiCall
from pytest_incluster.privilege.findings import ExtraPermissionRow, WhoCanRow
from pytest_incluster.pytest_plugin.run_context_hooks import run_context
from pytest_incluster.pytest_plugin.settings import listing_only
from pytest_incluster.pytest_plugin.state import SessionState, get_state
from pytest_incluster.pytest_plugin.xdist import is_xdist_worker
from pytest_incluster.report.ending import RunEnd, RunningTest, interrupt_cause, run_end
from pytest_incluster.report.interrupt import SigtermHandler, Terminated, TerminatedTest
from pytest_incluster.report.scrub import (
    DebugLogRedaction,
    LogFilterInstaller,
    TerminalRedaction,
    pytest_log_handlers,
    redact_report,
    redact_warning,
)
from pytest_incluster.report.summary import summary_line, usage_error_line, write_termination_log

if TYPE_CHECKING:
    import httpx

PLUGIN_NAME = "incluster-report"
HTML_PLUGIN_NAME = "incluster-report-html"
CONFIGMAP_FLAG = "--incluster-report-configmap"

# Exceptions that are pytest outcomes, not errors with a message worth a headline.
_OUTCOMES = (
    pytest.skip.Exception,
    pytest.fail.Exception,
    pytest.xfail.Exception,
    pytest.exit.Exception,
)


def register(config: pytest.Config) -> None:
    """Register the report plugins; call once from ``pytest_configure(tryfirst=True)``.

    Must run before pytest-html's own ``pytest_configure``: with
    ``--incluster-report-configmap`` it makes the HTML report self-contained (its ``assets``
    directory would not be stored) and, without ``--html``, asks pytest-html for one in a
    temporary directory so there is something to store.
    """
    if config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    report = ReportPlugin(config)
    config.pluginmanager.register(report, PLUGIN_NAME)
    if config.pluginmanager.hasplugin("html"):
        from pytest_incluster.pytest_plugin.html_report import HtmlReportPlugin

        config.pluginmanager.register(
            HtmlReportPlugin(config, report.interruption), HTML_PLUGIN_NAME
        )


def _configmap_setting(config: pytest.Config) -> tuple[str | None, str]:
    from pytest_incluster.pytest_plugin.settings import get_setting

    got = get_setting(config, "report_configmap")
    return (str(got.value) if got.value else None), got.source


class ReportPlugin:
    """Redaction hooks, result counting, SIGTERM handling, termination log, ConfigMap upload."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = is_xdist_worker(config)
        redactor = self.state.redactor
        self.results: Counter[str] = Counter()
        self.sigterm = SigtermHandler()
        self.log_filters = LogFilterInstaller(redactor)
        self.terminal = TerminalRedaction(redactor)
        self.running = RunningTest()
        self.stopped_by: BaseException | None = None  # what pytest_keyboard_interrupt got
        self.interrupted_test: str | None = None  # the test running when it came
        self.terminated_test: str | None = None  # the test SIGTERM interrupted
        self.notes: list[str] = []  # shown at the end of the terminal summary
        self.stored_in = ""
        self._temp_dir: Path | None = None
        self.configmap, self.configmap_source = _configmap_setting(config)
        DebugLogRedaction(redactor).install(config)  # as early as a plugin can
        self._add_user_patterns()
        if self.configmap and not self.is_worker:
            self._prepare_html(self.configmap)

    @property
    def state(self) -> SessionState:
        return get_state(self.config)

    # -- set-up -----------------------------------------------------------------------------

    def _option(self) -> str:
        """The option, and where its value came from unless that is the option itself."""
        source = self.configmap_source
        return CONFIGMAP_FLAG if source == CONFIGMAP_FLAG else f"{CONFIGMAP_FLAG} (from {source})"

    def _prepare_html(self, name: str) -> None:
        from pytest_incluster.report.upload import name_problem

        problem = name_problem(name)
        if problem:
            raise pytest.UsageError(
                f"{self._option()} is {name!r}, which is not a "
                f"valid ConfigMap name: {problem}. Choose a name such as 'pytest-report'."
            )
        option = self.config.option
        if not hasattr(option, "htmlpath"):
            return  # pytest-html is not installed or disabled; the JUnit XML may still go
        if listing_only(self.config):
            # Nothing is stored (the summary says so): no report is written to a temporary
            # directory that no one would be told about.
            return
        option.self_contained_html = True
        if not option.htmlpath:
            try:
                self._temp_dir = Path(tempfile.mkdtemp(prefix="pytest-incluster-report-"))
            except OSError as exc:
                self.notes.append(
                    f"no HTML report to store: cannot create a temporary file ({exc})"
                )
                return
            option.htmlpath = str(self._temp_dir / "report.html")

    def _add_user_patterns(self) -> None:
        redactor = self.state.redactor
        for patterns in self.config.hook.pytest_incluster_redact(config=self.config):
            for pattern in patterns or ():
                try:
                    if not isinstance(pattern, str | re.Pattern):
                        raise TypeError(
                            f"expected a str or re.Pattern, got {type(pattern).__name__}"
                        )
                    redactor.add_pattern(pattern)
                except (re.error, TypeError) as exc:
                    raise pytest.UsageError(
                        f"pytest_incluster_redact returned {pattern!r}, which is not a usable "
                        f"regular expression ({exc}). Fix or remove it in the conftest.py or "
                        "plugin that implements the hook."
                    ) from None

    def _add_known_secrets(self) -> None:
        """Teach the redactor the configured token, in case no client has read it yet."""
        cluster = self.state.cluster_config
        if cluster is None:
            return
        if cluster.token is not None:
            self.state.redactor.add_secret(cluster.token.reveal())
        if cluster.token_file is not None:
            # An unreadable token file is reported by the client, where it matters.
            with contextlib.suppress(OSError):
                self.state.redactor.add_secret(cluster.token_file.read_text(errors="replace"))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.terminal.install(self.config)
        self.log_filters.install(pytest_log_handlers(self.config))
        if not self.is_worker:
            self.sigterm.install()
        self._add_known_secrets()

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._add_user_patterns()  # conftest.py files below the root are loaded by now

    # tryfirst wrappers: the outermost, so the test code and every other wrapper have unwound.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        # Tests and fixtures may add handlers to the root logger (logging.basicConfig).
        self.log_filters.install(pytest_log_handlers(self.config))
        return (yield from self._stop_after_sigterm(item))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        return (yield from self._stop_after_sigterm(item))

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        return (yield from self._stop_after_sigterm(item))

    def _stop_after_sigterm(self, item: pytest.Item) -> Generator[None, None, None]:
        """Make SIGTERM in a test phase that phase's failure, then stop after the test.

        pytest does not record a KeyboardInterrupt as a result; it abandons the test, which is
        then missing from the reports (and nameless in the JUnit file). As an ordinary error
        with the original traceback, it is the interrupted phase's result, showing where the
        test was; the test's teardown runs as usual, and ``shouldstop`` ends the run after it.
        """
        try:
            return (yield)
        except Terminated as exc:
            self.terminated_test = item.nodeid
            item.session.shouldstop = str(exc)
            raise TerminatedTest(str(exc)).with_traceback(exc.__traceback__) from None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        # Before the first test (and under xdist, whose controller collects nothing). A run
        # that only lists tests stores nothing, so it does not ask.
        if self.configmap and not self.is_worker and not listing_only(self.config):
            self._refuse_foreign_configmap(self.configmap)
        return (yield)

    def _refuse_foreign_configmap(self, name: str) -> None:
        """Stop the run before any test if the report would have to replace a ConfigMap that
        pytest-incluster did not create; the upload checks again (it may appear meanwhile)."""
        from pytest_incluster.report.upload import find_foreign

        try:
            client, namespace = self._http_client()
        except Exception:  # no cluster: the upload says so at the end
            return
        with client:
            problem = find_foreign(client, namespace, name)
        if problem:
            self.configmap = None  # nothing is uploaded
            raise pytest.UsageError(f"{self._option()} is {name!r}: {problem}. No test was run.")

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.running.start(nodeid, location)

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.running.finish(nodeid)

    # -- reports ----------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        # tryfirst: the outermost wrapper, so this runs after every other plugin changed the
        # report and before anything (JUnit, terminal, pytest-html, xdist) reads it.
        report = yield
        redactor = self.state.redactor
        excinfo = call.excinfo
        if report.failed and excinfo is not None and not isinstance(excinfo.value, _OUTCOMES):
            kind = type(excinfo.value)
            report.incluster_error = {  # type: ignore[attr-defined]
                "type": kind.__name__,
                "message": redactor.redact(str(excinfo.value)),
                "when": call.when,
                "typed": kind.__module__.startswith("pytest_incluster."),
            }
        if self.is_worker and call.when == "teardown":
            # xdist: the controller renders the report; hand it this test's calls and checks.
            state = self.state
            report.incluster_calls = [  # type: ignore[attr-defined]
                dataclasses.asdict(c) for c in state.calls.for_test(item.nodeid)
            ]
            report.incluster_outcomes = [  # type: ignore[attr-defined]
                dataclasses.asdict(o) for o in state.outcomes if o.test_id == item.nodeid
            ]
            report.incluster_extra_permissions = [  # type: ignore[attr-defined]
                dataclasses.asdict(e) for e in state.extra_permissions if e.test_id == item.nodeid
            ]
            report.incluster_who_can = [  # type: ignore[attr-defined]
                dataclasses.asdict(w) for w in state.who_can if w.test_id == item.nodeid
            ]
            report.incluster_admission = [  # type: ignore[attr-defined]
                dataclasses.asdict(a) for a in state.admission if a.test_id == item.nodeid
            ]
        redact_report(report, redactor)
        return report

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        redact_report(report, self.state.redactor)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.is_worker:
            self._merge_worker_data(report)
        self.running.reported(report)
        status = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        category = status[0] if status else ""
        if category:
            self.results[str(category)] += 1

    def _merge_worker_data(self, report: pytest.TestReport) -> None:
        calls = getattr(report, "incluster_calls", None)
        outcomes = getattr(report, "incluster_outcomes", None)
        state = self.state
        for fields in calls or ():
            state.calls.record(ApiCall(**fields))
        for fields in outcomes or ():
            state.outcomes.append(AccessOutcome(**fields))
        for fields in getattr(report, "incluster_extra_permissions", None) or ():
            state.extra_permissions.append(ExtraPermissionRow(**fields))
        for fields in getattr(report, "incluster_who_can", None) or ():
            state.who_can.append(WhoCanRow(**fields))
        for fields in getattr(report, "incluster_admission", None) or ():
            state.admission.append(
                AdmissionRecord(**{**fields, "warnings": tuple(fields["warnings"])})
            )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.results["error"] += 1

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: Any) -> None:
        redact_warning(warning_message, self.state.redactor)

    # -- end of the session -----------------------------------------------------------------

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Remember what stopped the run, and give the test it cut short its missing result.

        Without that result the JUnit file holds a ``<testcase>`` without a name (junitxml
        opened it when the setup finished) and no report says which test was interrupted.
        Under pytest-xdist the controller does not know which of the workers' tests ran.
        """
        self.stopped_by = excinfo.value
        cause = interrupt_cause(excinfo.value)
        self.interrupted_test = self.running.nodeid
        if cause is None or self.config.pluginmanager.has_plugin("dsession"):
            return
        report = self.running.interrupted_report(cause)
        if report is not None:
            self.config.hook.pytest_runtest_logreport(report=report)

    def interruption(self, session: pytest.Session) -> RunEnd | None:
        """How the run ended early (SIGTERM, Ctrl-C, collection errors...), or None."""
        # A test may catch Terminated itself and carry on: only a SIGTERM that stopped the run
        # (pytest_keyboard_interrupt, or a test failed by it, e.g. with -x) interrupted it.
        stopped = self.stopped_by is not None or self.terminated_test is not None
        return run_end(
            self.stopped_by,
            session.exitstatus,
            running=self.terminated_test or self.interrupted_test,
            sigterm=self.sigterm.interrupted and stopped,
        )

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        # trylast wrapper = innermost: the code after yield runs once pytest-html and junitxml
        # have written their files, and before the terminal summary is printed.
        self.sigterm.finishing = True
        try:
            return (yield)
        finally:
            if not self.is_worker:
                self._finish(session)

    def _finish(self, session: pytest.Session) -> None:
        self._add_known_secrets()
        files = self._written_files()
        for path in files.values():
            self._sweep(path)
        listing = listing_only(self.config)
        if self.configmap and listing:
            self.notes.append(
                f"{CONFIGMAP_FLAG} {self.configmap}: not stored, {listing} runs no tests"
            )
        elif self.configmap:
            self._upload(files, self._summary(session))
            if not self.stored_in and files:
                where = " and ".join(str(path) for path in files.values())
                self.notes.append(
                    f"{CONFIGMAP_FLAG}: the report was not stored in a ConfigMap; the local "
                    f"files are kept: {where}"
                )
        problem = write_termination_log(self._summary(session), os.environ)
        if problem:
            self.notes.append(problem)

    def _summary(self, session: pytest.Session) -> str:
        """The one-line summary, for the termination log and the ConfigMap."""
        if session.exitstatus == pytest.ExitCode.USAGE_ERROR:
            # pytest calls pytest_sessionfinish while the UsageError propagates; no test ran.
            error = sys.exc_info()[1]
            message = str(error) if isinstance(error, pytest.UsageError) else ""
            return self.state.redactor.redact(usage_error_line(message, stored_in=self.stored_in))
        ended = self.interruption(session)
        return summary_line(
            self.results,
            self.state.outcomes,
            ended=ended.summary if ended else "",
            stored_in=self.stored_in,
        )

    def _written_files(self) -> dict[str, Path]:
        """Report files this run wrote: name to store them under -> local path."""
        files: dict[str, Path] = {}
        # pytest-html's --html and pytest's --junitxml options, stored under these names.
        for stored_as, option in (("report.html", "htmlpath"), ("junit.xml", "xmlpath")):
            value = getattr(self.config.option, option, None)
            if not value:
                continue
            path = Path(os.path.expandvars(value)).expanduser()
            path = path if path.is_absolute() else self.config.invocation_params.dir / path
            if path.is_file():
                files[stored_as] = path
        from pytest_incluster.pytest_plugin.results_hooks import results_path

        results = results_path(self.config)
        if results is not None and results.is_file():
            files["results.json"] = results  # written by results_hooks before this runs
        return files

    def _sweep(self, path: Path) -> None:
        """Last line of defence for files other plugins filled (metadata, suite properties)."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return
        masked = self.state.redactor.redact_markup(text)
        if masked != text:
            path.write_text(masked, encoding="utf-8")

    def _upload(self, files: dict[str, Path], summary: str) -> None:
        # Imported here: the upload needs the HTTP client, which a run without
        # --incluster-report-configmap (or a --collect-only) should not pay to import.
        from pytest_incluster.report.upload import DOMAIN, UploadError, upload_report

        name = self.configmap
        assert name is not None
        if not files:
            self.notes.append(
                f"{CONFIGMAP_FLAG} {name}: there was no report to store; pytest-html is not "
                "active and --junitxml was not given."
            )
            return
        redactor = self.state.redactor
        try:
            client, namespace = self._http_client()
        except Exception as exc:  # no cluster must not cost the test results
            self.notes.append(
                f"{CONFIGMAP_FLAG} {name}: the report was not stored: {redactor.redact(str(exc))}"
            )
            return
        try:
            with client:
                about = run_context(self.config).annotations(DOMAIN)
                names = upload_report(client, namespace, name, files, summary=summary, about=about)
        except UploadError as exc:
            self.notes.append(f"{CONFIGMAP_FLAG}: {redactor.redact(str(exc))}")
            return
        except Exception as exc:  # a failed upload must not cost the test results
            self.notes.append(
                f"{CONFIGMAP_FLAG}: the report was not stored: {type(exc).__name__}: "
                f"{redactor.redact(str(exc))}"
            )
            return
        parts = f" ({len(names)} parts)" if len(names) > 1 else ""
        self.stored_in = f"ConfigMap {namespace}/{name}{parts}"

    def _http_client(self) -> tuple[httpx.Client, str]:
        """A client for the upload, built exactly like the tests' client (same TLS, proxy
        settings, retries on 429/503 with ``Retry-After``, breaker), so the report is stored
        as reliably as the tests' requests were sent.

        Not the session's client itself: the upload must not appear in the last test's API
        calls, so this one has no call log.
        """
        from pytest_incluster.pytest_plugin.cluster_access import cluster_config, new_client

        namespace = cluster_config(self.config).namespace
        return new_client(self.config, call_log=None), namespace

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.stored_in:
            terminalreporter.write_line(f"incluster: report stored in {self.stored_in}")
        for note in self.notes:
            terminalreporter.write_line(f"incluster WARNING: {note}", yellow=True, bold=True)

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.sigterm.uninstall()
        self.log_filters.uninstall()
        self.terminal.uninstall()
        temp = self._temp_dir
        # Kept only when a report meant for the ConfigMap was not stored: the terminal printed
        # where it is. A run refused before any test (a foreign ConfigMap: ``configmap`` is
        # then None) has nothing to keep.
        if temp is not None and (
            self.stored_in or self.configmap is None or not _holds_files(temp)
        ):
            shutil.rmtree(temp, ignore_errors=True)


def _holds_files(directory: Path) -> bool:
    try:
        return any(directory.iterdir())
    except OSError:
        return False
