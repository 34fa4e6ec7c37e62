"""The access matrix in the HTML report: one grid per subject and namespace, resources down,
verbs across, each cell the expected and the actual answer; mismatches stand out and link to
their test. Filters (subject, namespace, mismatches only) are a few lines of inline script, so the
self-contained report works with no network access.

Every text goes through :class:`~pytest_incluster.report.htmlparts.Html` (redacted, escaped).
Fragments are single lines, like the rest of the report's markup.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Final

from pytest_incluster.access.decision import NOT_ASKED, AccessOutcome
from pytest_incluster.report.htmlparts import Html, test_anchor
from pytest_incluster.report.summary import mismatch, plural

# The verbs in the order people read them; others follow alphabetically.
VERB_ORDER: Final = (
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
)
_SHORT: Final = {
    "allowed": "allowed",
    "forbidden": "forbidden",
    NOT_ASKED: "not asked",
    "unauthorized": "unauthorized",
}
_CLASS: Final = {
    None: "ok",
    "unexpectedly allowed": "allowed",
    "unexpectedly forbidden": "forbidden",
    "not asked": "notasked",
    "other": "other",
}

MATRIX_STYLE: Final = (
    "<style>"
    ".incluster-matrix-section{color:#222;margin:8px 0 16px}"
    ".incluster-matrix-filters{margin:6px 0;font-size:13px}"
    ".incluster-matrix-filters label{margin-right:14px}"
    ".incluster-matrix{margin:10px 0}"
    ".incluster-matrix h3{margin:10px 0 2px;font-size:14px;color:#000}"
    ".incluster-grid{border-collapse:collapse;font-size:12px}"
    ".incluster-grid th,.incluster-grid td{border:1px solid #ccc;padding:2px 6px;"
    "text-align:center;white-space:nowrap}"
    ".incluster-grid th.incluster-res{text-align:left;font-family:monospace}"
    ".incluster-grid td.incluster-none{background:#f7f7f7;color:#aaa}"
    ".incluster-grid td.incluster-ok{background:#e6f4ea}"
    ".incluster-grid td.incluster-mis{font-weight:bold;outline:2px solid #c00;"
    "outline-offset:-2px}"
    ".incluster-grid td.incluster-allowed{background:#f8b4b4}"
    ".incluster-grid td.incluster-forbidden{background:#fde2b8}"
    ".incluster-grid td.incluster-notasked,.incluster-grid td.incluster-other"
    "{background:#fff3b0}"
    ".incluster-grid td a{color:#900}"
    ".incluster-cell-exp{display:block;color:#666;font-size:10px}"
    ".incluster-linked td{outline:2px solid #c00}"
    ".incluster-legend span{display:inline-block;padding:1px 6px;margin-right:6px;"
    "border:1px solid #ccc;font-size:12px}"
    "</style>"
)

# Filters: a grid shows when its subject and namespace are selected; "mismatches only" hides
# the rows (and grids) without one. Clicking a mismatch opens its test's row in the results
# table (pytest-html builds that table after load, so the link is resolved on click).
MATRIX_SCRIPT: Final = (
    "<script>(function(){"
    "var s=document.getElementById('incluster-matrix-subject'),"
    "n=document.getElementById('incluster-matrix-namespace'),"
    "m=document.getElementById('incluster-matrix-mismatches');"
    "if(!s||!n||!m)return;"
    "function apply(){document.querySelectorAll('.incluster-matrix').forEach(function(g){"
    "var rows=g.querySelectorAll('tbody tr'),shown=0;"
    "rows.forEach(function(r){var on=!m.checked||r.getAttribute('data-mismatch')==='1';"
    "r.style.display=on?'':'none';if(on)shown++;});"
    "var ok=(!s.value||g.getAttribute('data-subject')===s.value)&&"
    "(!n.value||g.getAttribute('data-namespace')===n.value)&&shown>0;"
    "g.style.display=ok?'':'none';});}"
    "[s,n,m].forEach(function(e){e.addEventListener('change',apply);});apply();"
    "document.querySelectorAll('a.incluster-test-link').forEach(function(a){"
    "a.addEventListener('click',function(ev){var id=a.getAttribute('data-test');"
    "var cells=document.querySelectorAll('td.col-testId');"
    "for(var i=0;i<cells.length;i++){if(cells[i].textContent===id){ev.preventDefault();"
    "var row=cells[i].closest('tbody');if(row){row.classList.remove('collapsed');"
    "document.querySelectorAll('.incluster-linked').forEach(function(e){"
    "e.classList.remove('incluster-linked');});row.classList.add('incluster-linked');}"
    "cells[i].scrollIntoView();return;}}});});"
    "})();</script>"
)


def verb_order(verbs: Iterable[str]) -> list[str]:
    known = [v for v in VERB_ORDER if v in verbs]
    return known + sorted(set(verbs) - set(VERB_ORDER))


def _resource_order(resource: str) -> tuple[int, str]:
    """Resources first, then non-resource URLs (``/healthz``), each alphabetically."""
    return (1 if resource.startswith("/") else 0, resource)


def _worst(outcomes: Sequence[AccessOutcome]) -> AccessOutcome:
    """The outcome a cell shows: the first mismatch, else the first check."""
    return next((o for o in outcomes if not o.passed), outcomes[0])


class MatrixHtml:
    """Builds the matrix section; every text through ``Html``."""

    def __init__(self, h: Html) -> None:
        self.h = h

    def cell(self, outcomes: Sequence[AccessOutcome]) -> tuple[str, bool]:
        """(``<td>``, whether it is a mismatch)."""
        if not outcomes:
            return '<td class="incluster-none">&middot;</td>', False
        h = self.h
        shown = _worst(outcomes)
        problem = mismatch(shown)
        actual = h.text(_SHORT.get(shown.actual, shown.actual))
        expected = h.text(_SHORT.get(shown.expected, shown.expected))
        more = f" (+{len(outcomes) - 1})" if len(outcomes) > 1 else ""
        title = h.attr(
            f"expected {shown.expected}, actual {shown.actual}; test {shown.test_id}"
            + (f"; {shown.reason}" if shown.reason else "")
        )
        if problem is None:
            return (
                f'<td class="incluster-ok" title="{title}">{actual}'
                f'<span class="incluster-cell-exp">expected {expected}{more}</span></td>'
            ), False
        link = (
            f'<a class="incluster-test-link" href="#{test_anchor(shown.test_id)}" '
            f'data-test="{h.attr(shown.test_id)}">{actual}</a>'
        )
        return (
            f'<td class="incluster-mis incluster-{_CLASS[problem]}" title="{title}">{link}'
            f'<span class="incluster-cell-exp">expected {expected}{more}</span></td>'
        ), True

    def grid(self, subject: str, namespace: str, outcomes: Sequence[AccessOutcome]) -> str:
        h = self.h
        verbs = verb_order({o.verb for o in outcomes})
        cells: dict[tuple[str, str], list[AccessOutcome]] = defaultdict(list)
        for o in outcomes:
            cells[(o.resource, o.verb)].append(o)
        rows = []
        for resource in sorted({o.resource for o in outcomes}, key=_resource_order):
            built = [self.cell(cells.get((resource, verb), ())) for verb in verbs]
            flagged = "1" if any(m for _, m in built) else "0"
            rows.append(
                f'<tr data-mismatch="{flagged}"><th class="incluster-res">{h.text(resource)}</th>'
                + "".join(td for td, _ in built)
                + "</tr>"
            )
        head = "<tr><th>resource</th>" + "".join(f"<th>{h.text(v)}</th>" for v in verbs)
        fails = sum(1 for o in outcomes if not o.passed)
        where = _namespace_label(namespace)
        return (
            f'<div class="incluster-matrix" data-subject="{h.attr(subject)}" '
            f'data-namespace="{h.attr(namespace)}"><h3>{h.text(subject)} &middot; '
            f"{h.text(where)} ({plural(len(outcomes), 'check', 'checks')}, "
            f"{plural(fails, 'mismatch', 'mismatches')})</h3>"
            f'<table class="incluster-grid"><thead>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )

    def section(self, outcomes: Sequence[AccessOutcome]) -> str:
        """The whole matrix section, or "" when the run made no access check."""
        if not outcomes:
            return ""
        h = self.h
        groups: dict[tuple[str, str], list[AccessOutcome]] = defaultdict(list)
        for o in outcomes:
            groups[(o.subject, o.namespace)].append(o)
        order = sorted(groups, key=lambda k: (-sum(not o.passed for o in groups[k]), k))
        subjects = sorted({s for s, _ in groups})
        namespaces = sorted({n for _, n in groups})
        filters = (
            '<div class="incluster-matrix-filters">'
            + _select(h, "subject", "Subject", subjects, lambda s: s)
            + _select(h, "namespace", "Namespace", namespaces, _namespace_label)
            + '<label><input type="checkbox" id="incluster-matrix-mismatches"> '
            "mismatches only</label></div>"
        )
        legend = (
            '<p class="incluster-legend">Each cell: the actual answer, the expected one below. '
            '<span style="background:#e6f4ea">as expected</span>'
            '<span style="background:#f8b4b4">unexpectedly allowed</span>'
            '<span style="background:#fde2b8">unexpectedly forbidden</span>'
            '<span style="background:#fff3b0">not asked / other</span>'
            '<span style="background:#f7f7f7">not checked</span>'
            "Click a mismatch to open its test.</p>"
        )
        grids = "".join(self.grid(s, n, groups[(s, n)]) for s, n in order)
        return (
            f'{MATRIX_STYLE}<section class="incluster-matrix-section" id="incluster-matrix">'
            f"<h2>Access matrix</h2>{filters}{legend}{grids}</section>{MATRIX_SCRIPT}"
        )


def _namespace_label(namespace: str) -> str:
    return {"": "cluster scope", "*": "all namespaces"}.get(namespace, f"namespace {namespace}")


def _select(h: Html, name: str, label: str, values: Sequence[str], show: object) -> str:
    assert callable(show)
    options = "".join(f'<option value="{h.attr(v)}">{h.text(show(v))}</option>' for v in values)
    return (
        f'<label>{label} <select id="incluster-matrix-{name}"><option value="">all</option>'
        f"{options}</select></label>"
    )
