"""What ``expect_rejected``, ``expect_admitted`` and ``expect_warning`` demand, and the judgement.

Parsing takes a marker's name and arguments (no pytest here): a typo such as
``expect_rejected(by_="PodSecurity")`` or a regex that does not compile is an error at
collection, never a silently weaker test. Judging compares the demand with the decisions the
server made about the test's requests; the failure texts are the product.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pytest_incluster.admission.decision import AdmissionDecision
from pytest_incluster.errors import InclusterError

Outcome = Literal["rejected", "admitted"]

SIGNATURES = {
    "expect_rejected": "expect_rejected(by=None, match=None)",
    "expect_admitted": "expect_admitted()",
    "expect_warning": "expect_warning(match)",
}
RBAC_MARKERS = ("expect_forbidden", "expect_unauthorized", "expect_allowed")


class AdmissionMarkerError(InclusterError):
    """An admission marker or access-document entry has arguments it does not accept."""

    anchor = "admission"

    def __init__(self, message: str, marker: str = "") -> None:
        super().__init__(message)
        self.marker = marker


@dataclass(frozen=True)
class AdmissionExpectation:
    """The demand: an outcome (or none), optionally who refuses and a message or warning regex."""

    outcome: Outcome | None = None
    by: str | None = None
    match: str | None = None  # regex searched in the refusal's message
    warning: str | None = None  # regex searched in the Warning headers

    def describe(self) -> str:
        if self.outcome == "admitted":
            return "the cluster to admit the test's requests"
        if self.outcome == "rejected":
            filters = [f"{k}={v!r}" for k, v in (("by", self.by), ("match", self.match)) if v]
            return "a rejection by admission" + (f" ({', '.join(filters)})" if filters else "")
        return f"a Warning matching {self.warning!r}"


def _regex(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise AdmissionMarkerError(f"{name}= must be a non-empty string, got {value!r}")
    try:
        re.compile(value)
    except re.error as exc:
        raise AdmissionMarkerError(f"{name}= is not a valid regular expression: {exc}") from None
    return value


def _arguments(
    name: str, args: Sequence[Any], kwargs: Mapping[str, Any], names: tuple[str, ...]
) -> dict[str, Any]:
    if len(args) > len(names):
        raise AdmissionMarkerError(
            f"takes at most {len(names)} positional argument{'s' if len(names) != 1 else ''}"
        )
    merged = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key not in names:
            raise AdmissionMarkerError(f"unexpected argument {key!r}")
        if key in merged:
            raise AdmissionMarkerError(f"argument {key!r} given twice")
        merged[key] = value
    return merged


def _outcome(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> AdmissionExpectation:
    if name == "expect_admitted":
        _arguments(name, args, kwargs, ())
        return AdmissionExpectation("admitted")
    given = _arguments(name, args, kwargs, ("by", "match"))
    by = given.get("by")
    if by is not None and (not isinstance(by, str) or not by):
        raise AdmissionMarkerError(f"by= must be a non-empty string, got {by!r}")
    return AdmissionExpectation("rejected", by, _regex("match", given.get("match")))


def _warning(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    pattern = _regex("match", _arguments("expect_warning", args, kwargs, ("match",)).get("match"))
    if pattern is None:
        raise AdmissionMarkerError(
            "requires the warning to look for, e.g. expect_warning('PodSecurity')"
        )
    return pattern


def parse_markers(
    markers: Sequence[tuple[str, Sequence[Any], Mapping[str, Any]]],
) -> AdmissionExpectation | None:
    """The expectation from ``(name, args, kwargs)`` of a test's markers, closest first (the
    closest of each marker wins, as for other pytest markers). Raises AdmissionMarkerError
    naming the marker the error is about."""
    names = {name for name, _, _ in markers}
    outcome = next((m for m in markers if m[0] in ("expect_rejected", "expect_admitted")), None)
    warning = next((m for m in markers if m[0] == "expect_warning"), None)
    if outcome is None and warning is None:
        return None
    if {"expect_rejected", "expect_admitted"} <= names:
        raise AdmissionMarkerError(
            "conflicting markers expect_admitted, expect_rejected; use only one", "expect_rejected"
        )
    rbac = sorted(names & set(RBAC_MARKERS))
    if rbac and outcome is not None:
        raise AdmissionMarkerError(
            f"conflicting markers {outcome[0]}, {rbac[0]}; use only one", outcome[0]
        )
    expectation = AdmissionExpectation()
    if outcome is not None:
        try:
            expectation = _outcome(*outcome)
        except AdmissionMarkerError as exc:
            raise AdmissionMarkerError(str(exc), outcome[0]) from None
    if warning is not None:
        try:
            pattern = _warning(warning[1], warning[2])
        except AdmissionMarkerError as exc:
            raise AdmissionMarkerError(str(exc), "expect_warning") from None
        expectation = AdmissionExpectation(
            expectation.outcome, expectation.by, expectation.match, pattern
        )
    return expectation


# -- the judgement ---------------------------------------------------------------------------


def satisfies(expectation: AdmissionExpectation, decision: AdmissionDecision) -> bool:
    """Whether ``decision`` is the rejection ``expectation`` asks for."""
    refusal = decision.refusal
    if refusal is None or refusal.stage == "authorization" or refusal.dry_run_unsupported:
        return False
    if expectation.by is not None and not refusal.matches_by(expectation.by):
        return False
    return expectation.match is None or re.search(expectation.match, decision.message) is not None


def problems(
    expectation: AdmissionExpectation, decisions: Sequence[AdmissionDecision]
) -> list[str]:
    """Why ``decisions`` do not meet ``expectation``: empty when they do."""
    found: list[str] = []
    if expectation.outcome == "rejected":
        found += _rejection_problems(expectation, decisions)
    elif expectation.outcome == "admitted":
        found += _admission_problems(decisions)
    if expectation.warning is not None:
        warnings = [w for d in decisions for w in d.warnings]
        if not any(re.search(expectation.warning, w) for w in warnings):
            seen = "; ".join(warnings) if warnings else "none"
            found.append(
                f"expected a Warning matching {expectation.warning!r}; the server sent: {seen}"
            )
    return found


def _rejection_problems(
    expectation: AdmissionExpectation, decisions: Sequence[AdmissionDecision]
) -> list[str]:
    if any(satisfies(expectation, d) for d in decisions):
        return []
    refused = [d for d in decisions if d.refusal is not None]
    for d in refused:
        if d.stage == "authorization":
            return [f"rejected by authorization, not admission: {d.message}"]
    for d in refused:
        if d.refusal is not None and d.refusal.dry_run_unsupported:
            return [f"no verdict: {d.message} ({d.refusal.note})"]
    if refused:
        return [f"expected {expectation.describe()}, but: {d.describe()}" for d in refused]
    if not decisions:
        return [f"expected {expectation.describe()}, but the test sent no write request"]
    admitted = "; ".join(d.describe() for d in decisions)
    return [f"expected {expectation.describe()}, but the cluster admitted: {admitted}"]


def _admission_problems(decisions: Sequence[AdmissionDecision]) -> list[str]:
    if not decisions:
        return ["expected the cluster to admit the test's requests, but it sent no write request"]
    return [
        f"expected the cluster to admit the test's requests, but: {d.describe()}"
        for d in decisions
        if not d.admitted
    ]
