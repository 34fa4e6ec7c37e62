"""Compare an expectation with what the server said, and say it in words people act on.

A failed access check is read in a CI log by someone who did not write it, so the first line is
the whole story (``expected forbidden, was allowed: RBAC: allowed by RoleBinding ...``) and the
lines below say who was asked about, the exact question, and how it was answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_incluster.access.decision import AccessDecision, AccessOutcome, AccessRequest
from pytest_incluster.access.matrix import MatrixEntry
from pytest_incluster.access.question import CheckResult

_NO_REASON = "no rule grants it (RBAC states no reason for a denial)"


@dataclass(frozen=True)
class Verdict:
    """Whether an entry held, plus the words for the report and the failure."""

    passed: bool
    actual: str  # "allowed", "forbidden", "error" or "disagree"
    reason: str
    message: str  # the failure text ("" when passed)


def _how(decision: AccessDecision) -> str:
    if decision.method == "request":
        return "the real request"
    return "SelfSubjectAccessReview"


def _reason(decision: AccessDecision) -> str:
    parts = [decision.reason or ("" if decision.allowed else _NO_REASON)]
    if decision.evaluation_error:
        parts.append(f"evaluation error: {decision.evaluation_error}")
    return "; ".join(p for p in parts if p)


def _details(subject: str, asked: str, result: CheckResult, line: str) -> list[str]:
    rows = [f"  subject: {subject}", f"  asked:   {asked}"]
    decision = result.decision
    if decision is not None and decision.note:
        rows.append(f"  note:    {decision.note}")
    elif result.notes:
        rows.append(f"  note:    {'; '.join(result.notes)}")
    rows.append(f"  entry:   {line}")
    return rows


def judge(entry: MatrixEntry, subject: str, result: CheckResult, where: str) -> Verdict:
    """The verdict on ``entry`` for ``subject`` given ``result``; ``where`` is ``file:line``."""
    asked = result.request.describe() if result.request is not None else entry.text
    details = _details(subject, asked, result, where)
    if result.error:
        message = "\n".join([f"could not decide '{entry.text}': {result.error}", *details])
        return Verdict(False, "error", result.error, message)
    review, real = result.review, result.real
    if result.disagreement and review is not None and real is not None:
        reason = (
            f"SelfSubjectAccessReview says {review.verdict} ({_reason(review) or 'no reason'}), "
            f"the real request says {real.verdict} ({_reason(real) or 'no reason'})"
        )
        message = "\n".join(
            [f"review and real request disagree (expected {entry.expected}): {reason}", *details]
        )
        return Verdict(False, "disagree", reason, message)
    decision = result.decision
    if decision is None:  # pragma: no cover - every undecided result carries an error
        return Verdict(False, "error", "no answer", f"could not decide '{entry.text}'")
    reason = _reason(decision)
    if decision.verdict == entry.expected:
        return Verdict(True, decision.verdict, reason, "")
    headline = f"expected {entry.expected}, was {decision.verdict}"
    first = f"{headline}: {reason}" if reason else headline
    message = "\n".join([first, f"  answered by: {_how(decision)}", *details])
    return Verdict(False, decision.verdict, reason, message)


def _target(request: AccessRequest | None, fallback: str) -> str:
    if request is None:
        return fallback
    if request.path is not None:
        return request.path
    text = request.resource + (f".{request.group}" if request.group else "")
    if request.name:
        text += f"/{request.name}"
    if request.subresource:
        text += f" --subresource={request.subresource}"
    return text


def outcome(
    test_id: str, entry: MatrixEntry, subject: str, result: CheckResult, verdict: Verdict
) -> AccessOutcome:
    """The report row for one item. Namespace ``*`` means all namespaces, ``""`` none."""
    request = result.request
    if request is None or request.path is not None:
        namespace = ""
    elif request.namespace is None:
        namespace = "*" if result.namespaced else ""
    else:
        namespace = request.namespace
    return AccessOutcome(
        test_id=test_id,
        subject=subject,
        verb=entry.spec.verb,
        resource=_target(request, entry.spec.path or entry.spec.type),
        namespace=namespace,
        expected=entry.expected,
        actual=verdict.actual,
        reason=verdict.reason,
    )
