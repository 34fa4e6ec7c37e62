"""The run's identity in a pytest session: cluster name, suite version, Job and pod.

The suite version is computed from the collected items (on the pytest-xdist controller, which
collects nothing itself, from the test ids the first worker reports); the header prints the
cluster, Job and pod, and the line after "collected N items" the suite version. The report
(:mod:`.html_report`) shows all of them; see :mod:`pytest_incluster.report.run_context`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest

from pytest_incluster.pytest_plugin.settings import get_setting
from pytest_incluster.pytest_plugin.state import get_state
from pytest_incluster.report.run_context import RunContext, files_of, suite_version


def run_context(config: pytest.Config) -> RunContext:
    """What identifies this run, as far as it is known now."""
    name = get_setting(config, "cluster_name").value
    return RunContext.of(str(name or ""), os.environ, get_state(config).suite)


def _remember_suite(config: pytest.Config, items: Sequence[pytest.Item]) -> None:
    state = get_state(config)
    if state.suite is None and items:
        state.suite = suite_version(config.rootpath, [item.path for item in items])


class RunContextHooks:
    """Computes the suite version once the tests are collected, and prints it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        _remember_suite(self.config, session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        state = get_state(self.config)
        if state.suite is None and ids:
            root = self.config.rootpath
            state.suite = suite_version(root, files_of(ids, root))

    def pytest_report_collectionfinish(
        self, config: pytest.Config, items: Sequence[pytest.Item]
    ) -> list[str]:
        _remember_suite(config, items)
        suite = get_state(config).suite
        if suite is None or config.get_verbosity() < 0:
            return []
        return [f"incluster: suite version {suite.describe()}"]
