"""HTML fragments for the pytest-html report: per-test API calls, the access summary, warnings.

Every piece of text goes through :meth:`Html.text`: redacted, control characters and
bidirectional overrides made visible (``\\x1b``, ``\\u202e``), then HTML-escaped. Server
messages are untrusted; a 403 body saying ``<script>`` must be shown, not run.

Fragments are single lines: pytest-html wraps every log line that starts with ``E`` in a span,
which must never cut through our markup.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from pytest_incluster.access.decision import AccessOutcome
from pytest_incluster.admission.decision import AdmissionRecord
from pytest_incluster.calls import ApiCall
from pytest_incluster.report.admission_table import admission_section, call_note
from pytest_incluster.report.redact import Redactor
from pytest_incluster.report.summary import AccessCounts, mismatch

MAX_CALL_ROWS: Final = 200
MAX_ERROR_CHARS: Final = 4000

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)

STYLE: Final = (
    "<style>"
    # pytest-html's body text is grey (#999); ours is content, not chrome.
    ".incluster-test,.incluster-access{color:#222}"
    ".incluster-access h3{color:#000;margin:12px 0 2px}"
    ".incluster-test{white-space:normal;font-family:Helvetica,Arial,sans-serif;"
    "margin:4px 0 10px}"
    ".incluster-error{border-left:4px solid #c00;background:#fde8e8;padding:6px 8px;"
    "margin:0 0 6px;font-family:monospace}"
    ".incluster-error b{font-family:Helvetica,Arial,sans-serif}"
    ".incluster-table{border-collapse:collapse;margin:4px 0 8px;font-size:12px}"
    ".incluster-table caption{text-align:left;font-weight:bold;padding:2px 0}"
    ".incluster-table th,.incluster-table td{border:1px solid #ccc;padding:2px 6px;"
    "text-align:left;vertical-align:top}"
    ".incluster-table tr.incluster-denied td,.incluster-table tr.incluster-fail td"
    "{background:#fde8e8}"
    ".incluster-table tr.incluster-message td{color:#900;font-family:monospace}"
    ".incluster-sortable th{cursor:pointer}"
    ".incluster-sortable th[data-dir=asc]:after{content:' \\25B2'}"
    ".incluster-sortable th[data-dir=desc]:after{content:' \\25BC'}"
    ".incluster-warning{border:2px solid #c00;background:#fde8e8;color:#900;"
    "padding:8px 10px;margin:8px 0;font-weight:bold}"
    "</style>"
)

# Click a header to sort by that column (numbers numerically); click again to reverse.
SORT_SCRIPT: Final = (
    "<script>(function(){"
    "document.querySelectorAll('table.incluster-sortable').forEach(function(t){"
    "var hs=t.tHead?t.tHead.rows[0].cells:[];"
    "Array.prototype.forEach.call(hs,function(th,i){th.addEventListener('click',function(){"
    "var asc=th.getAttribute('data-dir')!=='asc';"
    "Array.prototype.forEach.call(hs,function(h){h.removeAttribute('data-dir');});"
    "th.setAttribute('data-dir',asc?'asc':'desc');"
    "var b=t.tBodies[0];var rows=Array.prototype.slice.call(b.rows);"
    "rows.sort(function(x,y){var a=x.cells[i].textContent,c=y.cells[i].textContent;"
    "var na=parseFloat(a),nc=parseFloat(c);"
    "var r=(isNaN(na)||isNaN(nc))?a.localeCompare(c):na-nc;return asc?r:-r;});"
    "rows.forEach(function(r){b.appendChild(r);});});});});})();</script>"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class Html:
    """Builds the fragments; holds the redactor every text passes through."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def text(self, value: object, *, limit: int | None = None) -> str:
        """Redacted, visible, escaped ``value``; newlines become ``<br>``."""
        text = self.redactor.redact(str(value)).replace("\r\n", "\n")
        if limit is not None and len(text) > limit:
            text = text[: limit - 1] + "\u2026"
        lines = (html.escape(_INVISIBLE.sub(_visible, line)) for line in text.split("\n"))
        return "<br>".join(lines)

    def attr(self, value: object) -> str:
        """Like :meth:`text`, for an attribute value: one line (newlines become spaces)."""
        return self.text(str(value).replace("\r", " ").replace("\n", " "))

    def cell(self, value: object, tag: str = "td", attrs: str = "") -> str:
        return f"<{tag}{attrs}>{self.text(value)}</{tag}>"

    def row(self, values: Iterable[object], attrs: str = "", tag: str = "td") -> str:
        return f"<tr{attrs}>{''.join(self.cell(v, tag) for v in values)}</tr>"

    # -- per test ---------------------------------------------------------------------------

    def error(self, info: Mapping[str, object]) -> str:
        """The typed error's message, shown above the traceback."""
        kind = self.text(info.get("type", "Error"))
        when = info.get("when", "call")
        where = "" if when == "call" else f" (in {self.text(when)})"
        message = self.text(info.get("message", ""), limit=MAX_ERROR_CHARS)
        return f'<div class="incluster-error"><b>{kind}{where}:</b> {message}</div>'

    def calls_table(self, calls: Sequence[ApiCall]) -> str:
        head = self.row(
            ("#", "Method", "Path", "Status", "Reason", "Duration", "As user"), tag="th"
        )
        body = []
        for number, call in enumerate(calls[:MAX_CALL_ROWS], start=1):
            denied = call.status in (401, 403)
            failed = call.status is None or call.status >= 400
            status = "no response" if call.status is None else str(call.status)
            attempt = f" (attempt {call.attempt})" if call.attempt > 1 else ""
            attempt += "" if call.counted else " (not counted)"
            cls = ' class="incluster-denied"' if failed else ""
            body.append(
                self.row(
                    (
                        number,
                        call.method,
                        call.path,
                        status + attempt,
                        call.reason,
                        _duration(call.duration_s),
                        call.impersonated_user or "",
                    ),
                    cls,
                )
            )
            note = call_note(call)
            if note:
                body.append(
                    f'<tr class="incluster-message"><td></td><td colspan="6">'
                    f"admission: {self.text(note, limit=MAX_ERROR_CHARS)}</td></tr>"
                )
            if failed and call.message:
                label = "server said" if denied or call.status is not None else "error"
                body.append(
                    f'<tr class="incluster-message"><td></td><td colspan="6">'
                    f"{label}: {self.text(call.message, limit=MAX_ERROR_CHARS)}</td></tr>"
                )
        if len(calls) > MAX_CALL_ROWS:
            body.append(
                f'<tr><td colspan="7">{len(calls) - MAX_CALL_ROWS} more calls not shown</td></tr>'
            )
        return (
            f'<table class="incluster-table incluster-calls"><caption>API calls ({len(calls)})'
            f"</caption><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"
        )

    def outcomes_table(
        self, outcomes: Sequence[AccessOutcome], caption: str, *, with_subject: bool = True
    ) -> str:
        """The outcomes, one row each; ``with_subject=False`` under a subject's own heading,
        where a Subject column would repeat that heading on every row."""
        columns = (
            "Verb",
            "Resource",
            "Namespace",
            "Expected",
            "Actual",
            "Result",
            "Test",
            "Reason",
        )
        head = self.row((("Subject",) if with_subject else ()) + columns, tag="th")
        body = []
        for o in outcomes:
            problem = mismatch(o)
            result = "passed" if problem is None else f"FAILED: {problem}"
            cls = "" if problem is None else ' class="incluster-fail"'
            values = (
                o.verb,
                o.resource,
                o.namespace or "(cluster)",
                o.expected,
                o.actual,
                result,
                o.test_id,
                o.reason,
            )
            body.append(self.row(((o.subject,) if with_subject else ()) + values, cls))
        return (
            f'<table class="incluster-table incluster-sortable incluster-outcomes">'
            f"<caption>{self.text(caption)}</caption><thead>{head}</thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
        )

    def test_block(
        self,
        *,
        errors: Sequence[Mapping[str, object]],
        calls: Sequence[ApiCall],
        outcomes: Sequence[AccessOutcome],
        test_id: str = "",
    ) -> str:
        """Everything pytest-incluster knows about one test, or "" when it knows nothing;
        with ``test_id``, the block carries the id the access matrix links to."""
        parts = [self.error(e) for e in errors]
        if outcomes:
            parts.append(self.outcomes_table(outcomes, f"Access checks ({len(outcomes)})"))
        if calls:
            parts.append(self.calls_table(calls))
        if not parts:
            return ""
        element_id = f' id="{test_anchor(test_id)}"' if test_id else ""
        return f'<div class="incluster-test"{element_id}>{"".join(parts)}</div>'

    # -- summary ----------------------------------------------------------------------------

    def run_context(self, rows: Sequence[tuple[str, str]]) -> str:
        """One line above the results naming the run (cluster, suite version, Job, pod)."""
        if not rows:
            return ""
        parts = " \u00b7 ".join(f"<b>{self.text(k)}</b> {self.text(v)}" for k, v in rows)
        return f'<p class="incluster-run">{parts}</p>'

    def warnings_box(self, warnings: Iterable[str]) -> str:
        return "".join(
            f'<div class="incluster-warning">Warning: {self.text(w)}</div>' for w in warnings
        )

    def access_summary(
        self, outcomes: Sequence[AccessOutcome], admission: Sequence[AdmissionRecord] = ()
    ) -> str:
        """Counts per subject, then every outcome grouped by subject (failures first), then
        the admission decisions."""
        head = '<section class="incluster-access" id="incluster-access-summary">'
        head += "<h2>Access summary</h2>"
        if not outcomes:
            none = "" if admission else "<p>No access checks were recorded in this run.</p>"
            return head + none + admission_section(self, admission) + "</section>"
        counts = AccessCounts.of(outcomes)
        failed = counts.total - counts.passed
        totals = (
            f"{counts.total} access checks: {counts.passed} passed, {failed} failed "
            f"({counts.unexpectedly_allowed} unexpectedly allowed, "
            f"{counts.unexpectedly_forbidden} unexpectedly forbidden"
            + (f", {counts.not_asked} not asked" if counts.not_asked else "")
            + (f", {counts.other} other" if counts.other else "")
            + ")."
        )
        by_subject: dict[str, list[AccessOutcome]] = defaultdict(list)
        for o in outcomes:
            by_subject[o.subject].append(o)
        order = sorted(by_subject, key=lambda s: (-_failures(by_subject[s]), s))
        rows = []
        groups = []
        for subject in order:
            group = sorted(by_subject[subject], key=lambda o: (o.passed, o.verb, o.resource))
            fails = _failures(group)
            cls = ' class="incluster-fail"' if fails else ""
            rows.append(self.row((subject, len(group), len(group) - fails, fails), cls))
            groups.append(
                f"<h3>{self.text(subject)}</h3>"
                + self.outcomes_table(
                    group,
                    f"{len(group)} checks: {len(group) - fails} passed, {fails} failed",
                    with_subject=False,
                )
            )
        subjects = (
            '<table class="incluster-table incluster-sortable" id="incluster-access-subjects">'
            f"<thead>{self.row(('Subject', 'Checks', 'Passed', 'Failed'), tag='th')}</thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        return (
            f'{head}<p class="incluster-access-totals">{self.text(totals)}</p>'
            f"{subjects}{''.join(groups)}{admission_section(self, admission)}</section>"
        )


def test_anchor(test_id: str) -> str:
    """A stable element id for a test's block (the test id itself may hold any character)."""
    return "incluster-test-" + hashlib.sha256(test_id.encode()).hexdigest()[:12]


test_anchor.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def _failures(outcomes: Iterable[AccessOutcome]) -> int:
    return sum(1 for o in outcomes if not o.passed)


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"
