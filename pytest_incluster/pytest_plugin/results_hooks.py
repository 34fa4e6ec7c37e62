"""``--incluster-results PATH``: the run's decisions as a JSON document machines read.

The document (:mod:`pytest_incluster.results.document`) is written at the end of the session,
before the report plugin stores the report files in a ConfigMap, so it is stored with them as
``results.json``. Every string passes through the session's redactor first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pytest_incluster.pytest_plugin.run_context_hooks import run_context
from pytest_incluster.pytest_plugin.settings import BY_NAME, get_setting, listing_only
from pytest_incluster.pytest_plugin.state import get_state
from pytest_incluster.pytest_plugin.xdist import is_xdist_worker
from pytest_incluster.results.document import (
    AdmissionDecision,
    Cluster,
    Decision,
    Identity,
    ResultsDocument,
)
from pytest_incluster.version import __version__

PLUGIN_NAME = "incluster-results"
FLAG = BY_NAME["results"].flag
# A test's worst result wins: one failed phase makes the test failed.
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def results_path(config: pytest.Config) -> Path | None:
    """Where ``--incluster-results`` (or ``incluster_results``) writes, relative to the
    directory pytest was started in; None when it is not set."""
    value = get_setting(config, "results").value
    if not value:
        return None
    path = Path(os.path.expandvars(str(value))).expanduser()
    return path if path.is_absolute() else config.invocation_params.dir / path


def register(config: pytest.Config) -> None:
    """Register the writer when the option is set (never on an xdist worker)."""
    if results_path(config) is None or is_xdist_worker(config):
        return
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(ResultsHooks(config), PLUGIN_NAME)


def _phase_outcome(report: pytest.TestReport) -> str:
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return "skipped" if report.skipped else "passed"


class ResultsHooks:
    """Remembers each test's result, writes the document when the session ends."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.test_outcomes: dict[str, str] = {}
        self.note = ""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = _phase_outcome(report)
        current = self.test_outcomes.get(report.nodeid)
        if current is None or _RANK[outcome] > _RANK[current]:
            self.test_outcomes[report.nodeid] = outcome

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = results_path(self.config)
        if path is None or listing_only(self.config):
            return
        text = self.document().to_json()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            self.note = (
                f"{FLAG} {path}: the results were not written ({exc.strerror or exc}); "
                "give a path in a writable directory."
            )

    def document(self) -> ResultsDocument:
        state = get_state(self.config)
        redact = state.redactor.redact
        cluster = state.cluster_config
        context = run_context(self.config)
        identity = None
        if state.identity is not None:
            groups: Iterable[Any] = getattr(state.identity, "groups", ())
            identity = Identity(
                getattr(state.identity, "username", ""), tuple(str(g) for g in groups)
            )
        decisions = tuple(
            Decision.of(o, self.test_outcomes.get(o.test_id, "unknown")) for o in state.outcomes
        )
        run = {
            "pytest_incluster": __version__,
            "suite_version": context.suite.digest if context.suite else "",
            "job": context.job,
            "pod": context.pod,
        }
        tests: dict[str, int] = {}
        for outcome in self.test_outcomes.values():
            tests[outcome] = tests.get(outcome, 0) + 1
        document = ResultsDocument(
            cluster=Cluster(
                name=context.cluster_name,
                server=cluster.server if cluster is not None else "",
                version=state.server_version or "",
            ),
            identity=identity,
            decisions=decisions,
            admission=tuple(
                AdmissionDecision.of(r, self.test_outcomes.get(r.test_id, "unknown"))
                for r in state.admission
            ),
            run={k: v for k, v in run.items() if v},
            tests=tests,
        )
        return document.redacted(redact)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.note:
            terminalreporter.write_line(f"incluster WARNING: {self.note}", yellow=True, bold=True)
