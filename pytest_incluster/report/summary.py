"""The run's result in one line, and where it goes when the run is a Kubernetes Job.

``kubectl describe pod`` and ``kubectl get job -o yaml`` show a container's termination message
(``/dev/termination-log``, at most 4096 bytes) without anyone fetching logs, so a one-line
summary there answers "did the access suite pass?" at a glance.

The path can be changed with the environment variable ``PYTEST_INCLUSTER_TERMINATION_LOG``
(an empty value switches the file off). Without it, ``/dev/termination-log`` is written only
when it already exists and is writable, i.e. inside a pod; the plugin never creates it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from pytest_incluster.access.decision import NOT_ASKED, AccessOutcome

TERMINATION_LOG_ENV: Final = "PYTEST_INCLUSTER_TERMINATION_LOG"
DEFAULT_TERMINATION_LOG: Final = "/dev/termination-log"
MAX_TERMINATION_MESSAGE: Final = 4096

Mismatch = Literal["unexpectedly allowed", "unexpectedly forbidden", "not asked", "other"]


def mismatch(outcome: AccessOutcome) -> Mismatch | None:
    """How an access outcome went wrong, or None if it matched its expectation.

    "unexpectedly allowed" (expected a denial, the server allowed it) is the dangerous kind: it
    is a hole in the cluster's RBAC. "unexpectedly forbidden" is a broken workload. "not asked"
    means no real request of the expected kind reached the server (the test only asked
    ``k8s.can_i``, made no request, or was refused something else first), so the server
    decided nothing either way.
    """
    if outcome.passed:
        return None
    if outcome.actual == "allowed":
        return "unexpectedly allowed"
    if outcome.expected == "allowed" and outcome.actual in ("forbidden", "unauthorized"):
        return "unexpectedly forbidden"
    if outcome.actual == NOT_ASKED:
        return "not asked"
    return "other"


@dataclass(frozen=True)
class AccessCounts:
    total: int
    passed: int
    unexpectedly_allowed: int
    unexpectedly_forbidden: int
    not_asked: int
    other: int

    @classmethod
    def of(cls, outcomes: Iterable[AccessOutcome]) -> AccessCounts:
        kinds = Counter(mismatch(o) for o in outcomes)
        return cls(
            total=sum(kinds.values()),
            passed=kinds[None],
            unexpectedly_allowed=kinds["unexpectedly allowed"],
            unexpectedly_forbidden=kinds["unexpectedly forbidden"],
            not_asked=kinds["not asked"],
            other=kinds["other"],
        )


def plural(count: int, singular: str, plural_form: str) -> str:
    """``1 error``, ``2 errors``, ``0 errors``."""
    return f"{count} {singular if count == 1 else plural_form}"


def summary_line(
    results: Mapping[str, int],
    outcomes: Iterable[AccessOutcome],
    *,
    ended: str = "",
    stored_in: str = "",
) -> str:
    """E.g. ``pytest-incluster: 5 passed, 1 failed, 0 errors; access checks: 4, 1 unexpectedly
    allowed, 0 unexpectedly forbidden; report: ConfigMap ns/name``.

    ``results`` counts pytest's result categories (``passed``, ``failed``, ``error``,
    ``skipped``, ``xfailed``, ``xpassed``). ``ended`` says how the run ended early, e.g.
    ``interrupted by SIGTERM while t.py::test_x was running``.
    """
    text = (
        f"pytest-incluster: {results.get('passed', 0)} passed, {results.get('failed', 0)} "
        f"failed, {plural(results.get('error', 0), 'error', 'errors')}"
    )
    for category in ("skipped", "xfailed", "xpassed"):
        if results.get(category):
            text += f", {results[category]} {category}"
    access = AccessCounts.of(outcomes)
    text += (
        f"; access checks: {access.total}, {access.unexpectedly_allowed} unexpectedly allowed, "
        f"{access.unexpectedly_forbidden} unexpectedly forbidden"
    )
    if access.not_asked:
        text += f", {access.not_asked} not asked"
    if access.other:
        text += f", {plural(access.other, 'other mismatch', 'other mismatches')}"
    if ended:
        text += f"; {ended}"
    if stored_in:
        text += f"; report: {stored_in}"
    return text


def usage_error_line(message: str, *, stored_in: str = "") -> str:
    """The summary of a run that a usage error stopped before any test ran (exit code 4):
    pytest's message on one line, not a count of tests that never ran."""
    words = " ".join(line.strip() for line in message.splitlines() if line.strip())
    text = f"pytest-incluster: usage error, no test ran: {words or 'see the log'}"
    if stored_in:
        text += f"; report: {stored_in}"
    return text


def termination_log_path(environ: Mapping[str, str]) -> Path | None:
    """Where the summary goes: the env override, else ``/dev/termination-log`` in a pod."""
    if TERMINATION_LOG_ENV in environ:
        value = environ[TERMINATION_LOG_ENV]
        return Path(value) if value else None
    default = Path(DEFAULT_TERMINATION_LOG)
    if default.exists() and os.access(default, os.W_OK):
        return default
    return None


def write_termination_log(line: str, environ: Mapping[str, str]) -> str | None:
    """Write ``line`` (truncated to the kubelet's 4096 bytes); return a problem, or None."""
    path = termination_log_path(environ)
    if path is None:
        return None
    head = line.encode("utf-8")[: MAX_TERMINATION_MESSAGE - 1].decode("utf-8", errors="ignore")
    data = head.encode("utf-8") + b"\n"
    try:
        path.write_bytes(data)
    except OSError as exc:
        return f"could not write the summary to {path} ({TERMINATION_LOG_ENV}): {exc}"
    return None
