"""The ground truth, and the comparison of the plugin's outcomes with it.

The truth of a check is what the API server's authorizer says, asked by the admin with a
SubjectAccessReview (``authorization.k8s.io/v1``) for the subject's user and groups as the
server would see them after impersonation (:meth:`tests.soak.matrix.Subject.identity`), on a
quiet server: after the RBAC objects are applied and before any fault. Nothing of the plugin is
used to ask: the attributes come from the generator (:meth:`tests.soak.matrix.Check.attributes`),
and the client is plain httpx with the admin certificate.

:func:`classify` then sorts every item of the plugin's run:

* **decided**: the item's outcome agrees with the oracle. For an ordinary item (its file states
  the truth) that is "passed"; for a planted item (its file states the opposite on purpose) it is
  "failed" with ``expected <file>, was <truth>``.
* **undecided**: failed with ``could not decide ...``: the plugin said it has no answer.
* **wrong**: any other outcome. An ordinary item that failed claims a mismatch that does not
  exist (a false finding); a planted item that passed hides one that does (a false pass).
* **unclear** / **missing**: a failure worded neither way, or an item with no result at all.
  Both end the soak in failure too: a message nobody can act on is not a verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from tests.soak.matrix import SUBJECTS, Check

SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
Verdict = Literal["allowed", "forbidden"]
_SUBJECTS = {s.key: s for s in SUBJECTS}


def word(allowed: bool) -> Verdict:
    return "allowed" if allowed else "forbidden"


def _ask(
    client: httpx.Client, user: str, groups: tuple[str, ...], uid: str, spec: dict[str, Any]
) -> bool:
    identity: dict[str, Any] = {"user": user, "groups": list(groups)}
    if uid:
        identity["uid"] = uid
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {**spec, **identity},
    }
    response = client.post(SAR_PATH, json=body)
    response.raise_for_status()
    status = response.json().get("status", {})
    if status.get("evaluationError"):
        raise RuntimeError(f"the oracle's review failed: {status['evaluationError']}")
    return status.get("allowed") is True


def truth(
    client: httpx.Client,
    checks: Iterable[Check],
    runner: str,
    *,
    runner_uid: str = "",
    workers: int = 8,
) -> dict[Check, bool]:
    """The authorizer's answer for each check. A ``both`` check is asked with the review's and
    the real request's attributes; where the two differ (a name-restricted rule that matches
    only one) it is left out, since its two answers are rightly different.

    The runner's own token carries its ServiceAccount's uid (``runner_uid``); an impersonated
    subject carries none, as the plugin sends no ``Impersonate-Uid``. (RBAC does not look at
    the uid; it is there so the question is exactly the one the server answers.)"""

    def one(check: Check) -> tuple[Check, bool | None]:
        subject = _SUBJECTS[check.subject]
        user, groups = subject.identity(runner)
        uid = runner_uid if subject.user is None else ""
        as_review = _ask(client, user, groups, uid, check.attributes(as_request=False))
        if check.mode == "review":
            return check, as_review
        as_request = _ask(client, user, groups, uid, check.attributes(as_request=True))
        if check.mode == "request":
            return check, as_request
        return check, as_review if as_review == as_request else None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        answers = list(pool.map(one, list(checks)))
    return {check: allowed for check, allowed in answers if allowed is not None}


@dataclass(frozen=True)
class Expectation:
    """What one item of the run must do: its check, the truth, and what its file says."""

    nodeid: str
    check: Check
    allowed: bool  # the oracle's truth
    planted: bool  # the file says the opposite of the truth

    @property
    def written(self) -> Verdict:
        """The expectation written in the access file."""
        return word(self.allowed != self.planted)


@dataclass(frozen=True)
class Outcome:
    """What pytest reported for one item: ``passed``/``failed``/``skipped`` and the failure's
    first line."""

    outcome: str
    message: str = ""


@dataclass
class Tally:
    decided: int = 0
    planted_caught: int = 0  # planted items among the decided: mismatches the plugin found
    undecided: int = 0
    wrong: list[dict[str, str]] = field(default_factory=list)
    unclear: list[dict[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    undecided_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not (self.wrong or self.unclear or self.missing)


UNDECIDED = "could not decide"


def _reason_kind(message: str) -> str:
    """A short, stable summary of why an item was undecided (for the report's histogram)."""
    text = message.split("': ", 1)[-1]
    for marker in (
        "did not confirm that it was ready",
        "ReadTimeout",
        "cannot reach the API server",
        "got no answer",
        "TooManyRequests",
        "ServiceUnavailable",
        "Unauthorized",
        "API discovery",
        "cannot impersonate",
        "could not verify",
    ):
        if marker in text:
            return marker
    return text[:80]


def classify(expectations: Iterable[Expectation], results: Mapping[str, Outcome]) -> Tally:
    """Sort every expected item into decided / undecided / wrong / unclear / missing."""
    tally = Tally()
    for exp in expectations:
        result = results.get(exp.nodeid)
        if result is None:
            tally.missing.append(exp.nodeid)
            continue
        kind = _kind(exp, result)
        if kind == "decided":
            tally.decided += 1
            tally.planted_caught += exp.planted
        elif kind == "undecided":
            tally.undecided += 1
            tally.undecided_reasons[_reason_kind(result.message)] += 1
        else:
            row = {
                "nodeid": exp.nodeid,
                "truth": word(exp.allowed),
                "file_says": exp.written,
                "planted": str(exp.planted).lower(),
                "outcome": result.outcome,
                "message": result.message[:500],
            }
            (tally.wrong if kind == "wrong" else tally.unclear).append(row)
    return tally


def _kind(exp: Expectation, result: Outcome) -> str:
    if result.outcome == "failed" and result.message.startswith(UNDECIDED):
        return "undecided"
    if not exp.planted:
        if result.outcome == "passed":
            return "decided"
        return "wrong" if result.outcome == "failed" else "unclear"
    if result.outcome == "passed":
        return "wrong"  # a false pass: the deliberate mismatch went unnoticed
    found = f"expected {exp.written}, was {word(exp.allowed)}"
    if result.outcome == "failed" and result.message.startswith(found):
        return "decided"
    if result.outcome == "failed" and result.message.startswith("expected "):
        return "wrong"
    if result.outcome == "failed" and result.message.startswith("review and real request"):
        return "wrong"
    return "unclear"
