"""pytest-html integration: title, environment, per-test API calls, access summary.

Registered only when pytest-html is installed and active; it uses nothing but pytest-html 4's
documented hooks and pytest-metadata's ``metadata_key`` stash, which pytest-html renders as the
"Environment" table.
"""

from __future__ import annotations

import html
import importlib.metadata
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from pytest_incluster.pytest_plugin.run_context_hooks import run_context
from pytest_incluster.pytest_plugin.state import SessionState, get_state
from pytest_incluster.report.htmlparts import SORT_SCRIPT, STYLE, Html
from pytest_incluster.report.matrix_html import MatrixHtml
from pytest_incluster.version import __version__

if TYPE_CHECKING:
    from pytest_incluster.report.ending import RunEnd

TITLE = "pytest-incluster report"
# pytest-metadata's rows that describe the runner's machine rather than the run: every plugin
# installed (test-only ones such as hypothesis or anyio included) and the kernel. The versions
# that matter for reading the report are listed by :meth:`HtmlReportPlugin.environment`;
# rows added by the user (``--metadata``, CI variables) are kept.
_NOT_SHOWN = ("Packages", "Plugins", "Platform")
# The distributions whose versions the report shows (besides Python and the cluster).
_VERSIONS = (("pytest", "pytest"), ("pytest-html", "pytest-html"), ("httpx", "httpx"))
Interruption = Callable[[pytest.Session], "RunEnd | None"]


def _metadata(config: pytest.Config) -> dict[str, Any] | None:
    try:
        from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - pytest-html depends on pytest-metadata
        return None
    metadata: dict[str, Any] | None = config.stash.get(metadata_key, None)
    return metadata


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def report_warnings(state: SessionState) -> list[str]:
    """The session's warnings, plus one for disabled TLS verification if nobody added it."""
    warnings = list(dict.fromkeys(state.warnings))
    insecure = state.cluster_config is not None and state.cluster_config.insecure_skip_tls_verify
    if insecure and not any("TLS" in w for w in warnings):
        warnings.insert(
            0,
            "TLS verification of the API server is DISABLED: anyone on the network path could "
            "impersonate the API server.",
        )
    return warnings


class HtmlReportPlugin:
    """pytest-html hooks; everything it inserts is redacted and escaped."""

    def __init__(self, config: pytest.Config, interruption: Interruption) -> None:
        self.config = config
        self.interruption = interruption  # the report plugin's: how the run ended early

    @property
    def state(self) -> SessionState:
        return get_state(self.config)

    @property
    def html(self) -> Html:
        return Html(self.state.redactor)

    # -- title and environment --------------------------------------------------------------

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = TITLE

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # pytest-html keeps a reference to the metadata dict and renders it at its (trylast)
        # sessionfinish. Not earlier: identity and version are only known once the header or a
        # test connected, and pytest-metadata would print these HTML values in the -v header.
        from pytest_incluster.pytest_plugin.header import ensure_server_version

        ensure_server_version(self.state)
        metadata = _metadata(self.config)
        if metadata is not None:
            for key in _NOT_SHOWN:
                metadata.pop(key, None)
            metadata.update(self.environment())

    def environment(self) -> dict[str, str]:
        """Rows for the Environment table, as HTML (pytest-html inserts values as markup)."""
        state, h = self.state, self.html
        rows: dict[str, str] = {
            label: h.text(value) for label, value in run_context(self.config).rows()
        }
        cluster = state.cluster_config
        if cluster is not None:
            rows["Kubernetes server"] = h.text(cluster.server)
            rows["Kubernetes version"] = h.text(state.server_version or "unknown")
        elif state.cluster_error is not None:
            first = str(state.cluster_error).split(". ")[0]
            rows["Kubernetes server"] = h.text(f"none ({first})")
        else:
            rows["Kubernetes server"] = "not used in this run"
        identity = state.identity
        if identity is not None:
            rows["Identity"] = h.text(getattr(identity, "username", "") or "unknown")
            groups = [str(g) for g in getattr(identity, "groups", ())]
            rows["Groups"] = h.text(", ".join(groups) or "(none)")
        if cluster is not None:
            rows["Namespace"] = h.text(cluster.namespace)
            rows["Configuration source"] = h.text(cluster.source)
            rows["TLS verification"] = (
                '<b style="color:#c00">DISABLED</b>'
                if cluster.insecure_skip_tls_verify
                else "verified"
            )
        rows["pytest-incluster"] = h.text(__version__)
        for label, distribution in _VERSIONS:
            rows[label] = h.text(_version(distribution))
        warnings = report_warnings(state)
        if warnings:
            rows["Warnings"] = "<br>".join(
                f'<b style="color:#c00">{h.text(w)}</b>' for w in warnings
            )
        return rows

    # -- results table ----------------------------------------------------------------------

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        # pytest-html inserts the test id unescaped; a parametrized id may carry server data.
        test_id = report.nodeid + ("" if report.when == "call" else f"::{report.when}")
        raw = f'<td class="col-testId">{test_id}</td>'
        if len(cells) > 1 and cells[1] == raw:
            cells[1] = f'<td class="col-testId">{html.escape(test_id)}</td>'

    def pytest_html_results_table_html(self, report: Any, data: list[str]) -> None:
        """Put the error message, the access checks and the API calls above the log."""
        errors = []
        info = getattr(report, "incluster_error", None)
        if isinstance(info, dict):
            errors.append(info)
        calls: list[Any] = []
        outcomes: list[Any] = []
        when = getattr(report, "when", None)
        if when == "call" or (when == "setup" and not report.passed):
            state = self.state
            calls = state.calls.for_test(report.nodeid)
            outcomes = [o for o in state.outcomes if o.test_id == report.nodeid]
        block = self.html.test_block(
            errors=errors, calls=calls, outcomes=outcomes, test_id=report.nodeid if outcomes else ""
        )
        if not block:
            return
        longrepr = getattr(report, "longreprtext", "")
        typed = bool(errors and errors[0].get("typed"))
        if typed and longrepr and data and data[0] == html.escape(longrepr) + "\n":
            # A typed error explains itself; keep its traceback one click away.
            data[0] = f"<details><summary>Traceback</summary>{data[0].rstrip()}\n</details>"
        data.insert(0, block)

    # -- summary ----------------------------------------------------------------------------

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
    ) -> None:
        h = self.html
        prefix.append(STYLE)
        notes = report_warnings(self.state)
        ended = self.interruption(session)
        if ended:
            notes.insert(0, ended.note)
        prefix.append(h.warnings_box(notes))
        prefix.append(h.run_context(run_context(self.config).rows()))
        summary.append(MatrixHtml(h).section(self.state.outcomes))
        summary.append(h.access_summary(self.state.outcomes, self.state.admission))
        from pytest_incluster.report.least_privilege_html import least_privilege_tables

        summary.append(least_privilege_tables(h, self.state.extra_permissions, self.state.who_can))
        postfix.append(SORT_SCRIPT)
