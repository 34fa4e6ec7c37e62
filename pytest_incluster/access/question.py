"""What the access checker is asked and what it answers, as plain data.

Kept apart from :mod:`~pytest_incluster.access.check` (the engine, which needs the HTTP
client): collecting an access file builds a :class:`Check` per entry, and ``--collect-only``
should not pay for importing httpx and the client to do that.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_incluster.access.decision import AccessDecision, AccessRequest
from pytest_incluster.access.grammar import CheckSpec
from pytest_incluster.access.matrix import Mode, Subject


@dataclass(frozen=True)
class Check:
    """One question to evaluate: who, what (unresolved), how, and the document's namespace."""

    subject: Subject
    spec: CheckSpec
    mode: Mode = "review"
    namespace: str | None = None  # None: the runner's namespace
    asked_by: str | None = None  # the test this check is for (its requests are listed there)


@dataclass(frozen=True)
class CheckResult:
    """The answer(s) to one :class:`Check`; ``error`` set means it could not be decided."""

    check: Check
    request: AccessRequest | None = None
    review: AccessDecision | None = None
    real: AccessDecision | None = None
    error: str = ""
    notes: tuple[str, ...] = ()
    namespaced: bool = False  # the type is namespaced (so namespace None means "all")

    @property
    def decision(self) -> AccessDecision | None:
        """The answer that counts: the real request's when there was one, else the review's."""
        return self.real if self.real is not None else self.review

    @property
    def disagreement(self) -> bool:
        """``mode: both`` and the two answers differ."""
        return (
            self.review is not None
            and self.real is not None
            and self.review.allowed != self.real.allowed
        )
