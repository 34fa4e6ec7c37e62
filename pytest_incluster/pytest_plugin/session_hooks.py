"""Session wiring: state, the plugin's parts, per-test bookkeeping, cleanup and shutdown.

``plugin.py`` stays thin and calls :func:`configure`; this module registers the parts that only
make sense once options are parsed (fixtures, :class:`~.expectations.ExpectationHooks`, local
mode, the report).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from pytest_incluster.pytest_plugin.state import STATE_KEY, SessionState, get_state


def configure(config: pytest.Config) -> None:
    """Create the session state and register the plugin's parts (called from plugin.py)."""
    from pytest_incluster.pytest_plugin import fixtures, results_hooks
    from pytest_incluster.pytest_plugin import report_hooks as report_plugin
    from pytest_incluster.pytest_plugin.admission_markers import AdmissionHooks
    from pytest_incluster.pytest_plugin.expectations import ExpectationHooks
    from pytest_incluster.pytest_plugin.run_context_hooks import RunContextHooks
    from pytest_incluster.pytest_plugin.settings import (
        get_setting,
        listing_only,
        options_from_pytest,
        validate,
    )
    from pytest_incluster.report.redact import Redactor

    validate(config)
    state = SessionState(options=options_from_pytest(config), redactor=Redactor())
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(fixtures, "incluster-fixtures")
    config.pluginmanager.register(ExpectationHooks(config), "incluster-expectations")
    config.pluginmanager.register(AdmissionHooks(config), "incluster-admission")
    config.pluginmanager.register(SessionHooks(config), "incluster-session")
    config.pluginmanager.register(RunContextHooks(config), "incluster-run-context")
    if get_setting(config, "local").value and not listing_only(config):
        from pytest_incluster.pytest_plugin import local_mode as localmode

        localmode.configure(config)
    report_plugin.register(config)
    results_hooks.register(config)


class SessionHooks:
    """Per-test call attribution, object cleanup, the terminal header, and shutdown."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.cleanup_problems: list[str] = []

    @property
    def state(self) -> SessionState:
        return get_state(self.config)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.state.calls.current_test = item.nodeid
        try:
            return (yield)
        finally:
            self.state.calls.current_test = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        try:
            yield
        finally:
            # Objects this test created through k8s.create/apply; the test's own fixtures
            # have been torn down by now, so nothing still uses them.
            self._delete_tracked(item.nodeid, item.nodeid)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        """Objects a session/module/class fixture creates live as long as that fixture.

        The cleanup finalizer is added before the fixture runs, so it runs after the fixture's
        own teardown (finalizers run last-in, first-out).
        """
        if fixturedef.scope == "function":
            return (yield)
        owner = f"{fixturedef.scope} fixture {fixturedef.argname} #{id(fixturedef)}"

        fixturedef.addfinalizer(lambda: self._delete_tracked(owner, owner))
        calls = self.state.calls
        previous, calls.current_owner = calls.current_owner, owner
        try:
            return (yield)
        finally:
            calls.current_owner = previous

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        from pytest_incluster.pytest_plugin.header import header_lines

        return header_lines(config)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Tests and wider-scoped fixtures have cleaned up after themselves by now; whatever is
        # still tracked was created outside both (a hook, a conftest at import). Delete it
        # while the client (and the report) still exist.
        self._delete_tracked(None, "session")
        from pytest_incluster.pytest_plugin.header import ensure_server_version

        ensure_server_version(self.state)

    def _delete_tracked(self, owner: str | None, label: str) -> None:
        """Delete the objects ``owner`` created (all, for None); remember what was left."""
        client = self.state.client
        if client is not None:
            result = client.delete_tracked(test_id=owner)
            if not result.ok:
                self.cleanup_problems.append(f"{label}: {result.describe()}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from pytest_incluster.pytest_plugin.header import unshown_warnings

        for warning in unshown_warnings(self.config):
            terminalreporter.write_line(f"incluster WARNING: {warning}", yellow=True)
        for problem in self.cleanup_problems:
            terminalreporter.write_line(f"incluster cleanup: {problem}", yellow=True)

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        state = self.state
        if state.client is not None:  # its objects were deleted at sessionfinish
            state.client.close()
            state.client = None
        if state.local_session is not None:
            state.local_session.stop()
            state.local_session = None
