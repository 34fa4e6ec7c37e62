"""The report's admission parts: every decision with its stage and who decided, and warnings.

Rendered through the report's :class:`Html` writer, so every value is redacted
and escaped like the rest of the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from pytest_incluster.admission.decision import AdmissionRecord
from pytest_incluster.admission.observed import decision_of, verdict_text
from pytest_incluster.calls import ApiCall


class Html(Protocol):
    """The escaping, redacting cell writer of :mod:`~pytest_incluster.report.htmlparts`."""

    def text(self, value: object, *, limit: int | None = None) -> str: ...
    def row(self, values: Iterable[object], attrs: str = "", tag: str = "td") -> str: ...


COLUMNS = (
    "Subject",
    "Operation",
    "Object",
    "Namespace",
    "Expected",
    "Decision",
    "Stage",
    "By",
    "Result",
    "Test",
    "Message",
    "Warnings",
)


def admission_section(h: Html, records: Sequence[AdmissionRecord]) -> str:
    """The access summary's admission table, failures first; "" when there were none."""
    if not records:
        return ""
    failed = sum(1 for r in records if r.passed is False)
    body = []
    for r in sorted(records, key=lambda r: (r.passed is not False, r.subject, r.target)):
        result = {True: "passed", False: "FAILED", None: ""}[r.passed]
        cls = ' class="incluster-fail"' if r.passed is False else ""
        values = (
            r.subject,
            r.operation,
            r.target,
            r.namespace or "(cluster)",
            r.expected or "-",
            "admitted" if r.admitted else "rejected",
            r.stage,
            r.by,
            result,
            r.test_id,
            r.message,
            "\n".join(r.warnings),
        )
        body.append(h.row(values, cls))
    caption = f"Admission decisions ({len(records)}, {failed} failed)"
    return (
        '<table class="incluster-table incluster-sortable incluster-admission">'
        f"<caption>{h.text(caption)}</caption><thead>{h.row(COLUMNS, tag='th')}</thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def call_note(call: ApiCall) -> str:
    """The admission decision on a call, for the call log: dry runs, refusals after
    authorization, and any request the server warned about; "" otherwise."""
    decision = decision_of(call)
    if decision is None:
        return ""
    if decision.admitted and not decision.warnings and "dryRun=All" not in call.path:
        return ""
    return verdict_text(decision)
