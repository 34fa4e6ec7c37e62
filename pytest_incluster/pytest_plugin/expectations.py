"""What the ``expect_*`` and ``impersonate`` markers do while a test runs.

A reader finds "what does expect_forbidden do at run time" in :class:`ExpectationHooks`; the
markers are parsed (and their errors worded) in :mod:`pytest_incluster.access.markers`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_incluster.access.decision import AccessOutcome, Expectation
from pytest_incluster.access.markers import (
    Denial,
    ExpectSpec,
    ImpersonateSpec,
    MarkerError,
    calls_listing,
    denial_mismatch,
    marker_error_message,
    parse_expect,
    parse_impersonate,
)
from pytest_incluster.pytest_plugin.state import get_state

if TYPE_CHECKING:
    from pytest_incluster.calls import ApiCall
    from pytest_incluster.client import K8sClient

EXPECT_KEY = pytest.StashKey[ExpectSpec | None]()
IMPERSONATE_KEY = pytest.StashKey[ImpersonateSpec | None]()
IMPERSONATED_KEY: pytest.StashKey[K8sClient] = pytest.StashKey()  # the marked test's client
CALLS_FROM_KEY = pytest.StashKey[int]()  # the test's calls before its call phase
RAISED_KEY = pytest.StashKey[BaseException]()  # the error an expect_* marker turned into a pass


def _error_types() -> tuple[type[BaseException], type[BaseException]]:
    from pytest_incluster.client.errors import Forbidden, Unauthorized

    return Forbidden, Unauthorized


class ExpectationHooks:
    """What ``expect_forbidden``, ``expect_unauthorized``, ``expect_allowed`` and
    ``impersonate`` do when a test runs, and the access-summary row of each marked test."""

    def __init__(self, config: pytest.Config) -> None:
        from pytest_incluster.pytest_plugin.settings import listing_only

        self.config = config
        # --setup-plan runs the setup hooks (not the fixtures): impersonation must not ask the
        # server then.
        self.listing = listing_only(config) is not None

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        problems = []
        for item in items:
            try:
                item.stash[EXPECT_KEY] = parse_expect(item)
            except MarkerError as exc:
                name = next(m.name for m in item.iter_markers() if m.name.startswith("expect_"))
                problems.append(marker_error_message(item, name, exc))
            try:
                item.stash[IMPERSONATE_KEY] = parse_impersonate(item)
            except MarkerError as exc:
                problems.append(marker_error_message(item, "impersonate", exc))
        if problems:
            raise pytest.UsageError(
                "invalid pytest-incluster marker arguments:\n" + "\n".join(problems)
            )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        spec = item.stash.get(IMPERSONATE_KEY, None)
        if spec is None or self.listing:
            return (yield)
        from pytest_incluster.pytest_plugin.impersonate_marker import (
            FIXTURE,
            impersonated_client,
            missing_argument_message,
        )

        if FIXTURE not in _test_arguments(item):
            pytest.fail(missing_argument_message(item, spec), pytrace=False)
        # Errors the test (before its fixtures run) if the runner may not impersonate.
        item.stash[IMPERSONATED_KEY] = impersonated_client(self.config, spec)
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        try:
            return (yield)
        finally:
            client = item.stash.get(IMPERSONATED_KEY, None)
            if client is not None:
                del item.stash[IMPERSONATED_KEY]
                client.close()  # its objects are the test's; SessionHooks deletes them

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        item.stash[CALLS_FROM_KEY] = len(get_state(self.config).calls.for_test(item.nodeid))
        funcargs: dict[str, Any] | None = getattr(item, "funcargs", None)
        impersonated = item.stash.get(IMPERSONATED_KEY, None)
        runner_client = None
        if impersonated is not None and funcargs is not None and "k8s" in funcargs:
            # Only the test's own argument acts as the user, and only while the test runs:
            # fixtures already hold the session client, which is never switched.
            runner_client, funcargs["k8s"] = funcargs["k8s"], impersonated
        try:
            return (yield from self._expectation(item))
        finally:
            if runner_client is not None and funcargs is not None:
                funcargs["k8s"] = runner_client

    def _expectation(self, item: pytest.Item) -> Generator[None, None, None]:
        """Pass or fail the test by its ``expect_*`` marker (the summary row comes later)."""
        spec = item.stash.get(EXPECT_KEY, None)
        if spec is None or spec.kind == "allowed":
            return (yield)
        forbidden, unauthorized = _error_types()
        wanted = forbidden if spec.kind == "forbidden" else unauthorized
        try:
            yield
        except wanted as exc:
            item.stash[RAISED_KEY] = exc
            message = _server_text(exc)
            problems = (
                denial_mismatch(spec, Denial.parse(message)) if spec.kind == "forbidden" else []
            )
            if not problems:
                return None
        else:
            calls = get_state(self.config).calls.for_test(item.nodeid)
            pytest.fail(
                f"expected {spec.describe()}, but the test ended without one.\n"
                f"Requests made by this test:\n{calls_listing(calls)}"
                + _caught_note(spec, calls[item.stash.get(CALLS_FROM_KEY, 0) :]),
                pytrace=False,
            )
        # Outside the except block, so the report is this message, not a chained traceback.
        pytest.fail(
            f"expected {spec.describe()}, got a 403 for something else:\n"
            + "\n".join(f"  {p}" for p in problems)
            + f"\nserver said: {message}",
            pytrace=False,
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when != "call":
            return report
        forbidden, _ = _error_types()
        excinfo = call.excinfo
        spec = item.stash.get(EXPECT_KEY, None)
        if excinfo is not None and isinstance(excinfo.value, forbidden):
            message = _server_text(excinfo.value)
            # The server's words first; the (pruned, --tb-styled) traceback after them.
            report.longrepr = f"access denied: {message}\n\n{item.repr_failure(excinfo)}"
        elif excinfo is not None and spec is not None and _unverified(excinfo.value):
            # Not the test's fault and not a verdict: the paragraph says which, without a
            # traceback into the client that would read like a bug in the test.
            report.longrepr = undecided_message(spec, excinfo.value)
        if spec is not None and not report.skipped:
            raised = item.stash.get(RAISED_KEY, None) or (excinfo.value if excinfo else None)
            self._record(item, spec, raised)
        return report

    def _record(self, item: pytest.Item, spec: ExpectSpec, raised: BaseException | None) -> None:
        """The summary row: what the server decided about the test's own requests."""
        from pytest_incluster.access.matrix import Subject
        from pytest_incluster.access.observed import observations, server_verdict
        from pytest_incluster.pytest_plugin.cluster_access import runner_label

        state = get_state(self.config)
        calls = state.calls.for_test(item.nodeid)[item.stash.get(CALLS_FROM_KEY, 0) :]
        verdict = server_verdict(spec, observations(calls, raised))
        marked = item.stash.get(IMPERSONATE_KEY, None)
        decisive = verdict.decisive
        user = decisive.user if decisive is not None else (marked.user if marked else None)
        if user is None:
            denial = Denial.parse(decisive.message) if decisive is not None else None
            subject = runner_label(self.config, denial.user if denial else "")
        elif marked is not None and user == marked.user:
            subject = Subject(user, marked.groups).label
        else:
            subject = Subject(user).label
        info = decisive.info if decisive is not None else None
        expected: Expectation = spec.kind
        state.outcomes.append(
            AccessOutcome(
                test_id=item.nodeid,
                subject=subject,
                verb=(info.verb if info else spec.verb) or "*",
                resource=(info.resource if info else spec.resource) or "(the test's requests)",
                namespace=(info.namespace if info else spec.namespace) or "",
                expected=expected,
                actual=verdict.actual,
                reason=verdict.reason,
            )
        )


def _test_arguments(item: pytest.Item) -> tuple[str, ...]:
    """The names a test function takes (empty for items that are not functions)."""
    import inspect

    function = getattr(item, "function", None)
    if function is None:
        return ()
    try:
        return tuple(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return ()


def _caught_note(spec: ExpectSpec, calls: list[ApiCall]) -> str:
    """Why no error arrived although the server refused: the test caught it itself."""
    from pytest_incluster.access.observed import observations, server_verdict

    verdict = server_verdict(spec, observations(calls, None))
    if verdict.actual != spec.kind or verdict.decisive is None:
        return ""
    return (
        f"\nThe server did refuse {verdict.decisive.describe()}, but the test caught that error "
        "itself; let it propagate out of the test."
    )


def _unverified(exc: BaseException) -> bool:
    from pytest_incluster.client.errors import UnverifiedDenial

    return isinstance(exc, UnverifiedDenial)


def undecided_message(spec: ExpectSpec, exc: BaseException) -> str:
    """Why an ``expect_*`` test has no verdict: its "no" came from a server not known to be
    ready, so it proves nothing either way (see :class:`~pytest_incluster.client.errors.
    UnverifiedDenial`); the test fails rather than pass or report a false finding."""
    from pytest_incluster.errors import help_url

    return (
        f"could not decide: expected {spec.describe()}, but {_server_text(exc)}. "
        "The test neither passes nor counts as a finding; run it again once the API server "
        f"answers /readyz with ok (see {help_url('not-counted-as-a-denial')})."
    )


def _server_text(exc: BaseException) -> str:
    """The server's message, safe for a terminal: it is untrusted text, so control characters
    (ANSI escapes, OSC sequences, BEL) are removed before it is shown anywhere."""
    from pytest_incluster.client.errors import clean_text

    return clean_text(str(getattr(exc, "server_message", "") or exc))
