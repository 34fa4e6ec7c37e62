"""The fleet page: many clusters' results in one self-contained HTML file (no script or style
from the network): a totals table per cluster, then one row per check and one column per
cluster, where a cluster that answered differently from the majority stands out.

Every text goes through :class:`~pytest_incluster.report.htmlparts.Html` (redacted again,
escaped): a results file is data from a cluster, never markup.
"""

from __future__ import annotations

from typing import Final

from pytest_incluster.report.htmlparts import Html
from pytest_incluster.report.redact import Redactor
from pytest_incluster.results.fleet import NOT_RUN, Cell, Fleet, FleetRow

FLEET_STYLE: Final = (
    "<style>"
    "body{font-family:Helvetica,Arial,sans-serif;color:#222;margin:12px;font-size:13px}"
    "h1{font-size:20px;margin:4px 0}h2{font-size:15px;margin:12px 0 4px}p{margin:4px 0}"
    "td.fleet-total-differs{background:#ffd27a;font-weight:bold}"
    "table{border-collapse:collapse;font-size:12px;margin:6px 0 16px}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;white-space:nowrap}"
    "thead th{background:#f0f0f0;position:sticky;top:0}"
    "td.fleet-cell{text-align:center}"
    "td.fleet-fail{color:#900;font-weight:bold}"
    "td.fleet-differs{background:#ffd27a;outline:2px solid #c60;outline-offset:-2px}"
    "td.fleet-notrun{color:#999}"
    "tr.fleet-row-differs th{background:#fff3d6}"
    ".fleet-legend span{display:inline-block;padding:1px 6px;margin-right:6px;"
    "border:1px solid #ccc;font-size:12px}"
    "</style>"
)
FLEET_SCRIPT: Final = (
    "<script>(function(){var c=document.getElementById('fleet-differs-only');"
    "if(!c)return;c.addEventListener('change',function(){"
    "document.querySelectorAll('#fleet-checks tbody tr').forEach(function(r){"
    "r.style.display=(!c.checked||r.classList.contains('fleet-row-differs'))?'':'none';});});"
    "})();</script>"
)
_TOTALS: Final = (
    ("decisions", "checks"),
    ("passed", "passed"),
    ("failed", "failed"),
    ("unexpectedly_allowed", "unexpectedly allowed"),
    ("unexpectedly_forbidden", "unexpectedly forbidden"),
    ("differs_from_majority", "differs from majority"),
)


class FleetHtml:
    """Renders a :class:`~pytest_incluster.results.fleet.Fleet` as one page."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.h = Html(redactor or Redactor())

    def cluster_head(self, fleet: Fleet, index: int) -> str:
        """The cluster's name, a link to its report when one was given."""
        column = fleet.clusters[index]
        name = self.h.text(column.label)
        if column.report_url:
            name = f'<a href="{self.h.attr(column.report_url)}">{name}</a>'
        return f"<th>{name}</th>"

    def totals(self, fleet: Fleet) -> str:
        h = self.h
        head = "<tr><th>cluster</th><th>server</th><th>version</th>" + "".join(
            f"<th>{h.text(label)}</th>" for _, label in _TOTALS
        )
        rows = []
        for index, column in enumerate(fleet.clusters):
            totals = fleet.totals(index)
            cluster = column.document.cluster
            cells = "".join(
                f'<td class="fleet-total-differs">{totals[key]}</td>'
                if key == "differs_from_majority" and totals[key]
                else f"<td>{totals.get(key, 0)}</td>"
                for key, _ in _TOTALS
            )
            rows.append(
                f"<tr>{self.cluster_head(fleet, index)}"
                f"<td>{h.text(cluster.server)}</td><td>{h.text(cluster.version)}</td>{cells}</tr>"
            )
        return (
            f'<table id="fleet-totals"><thead>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def cell(self, cell: Cell) -> str:
        h = self.h
        classes = ["fleet-cell"]
        if cell.differs:
            classes.append("fleet-differs")
        if cell.actual == NOT_RUN:
            classes.append("fleet-notrun")
            title = "this cluster did not run this check"
        else:
            title = f"expected {cell.expected}; test {cell.test_id}"
            if not cell.passed:
                classes.append("fleet-fail")
        mark = "" if cell.passed or cell.actual == NOT_RUN else " \u2717"
        return (
            f'<td class="{" ".join(classes)}" title="{h.attr(title)}">'
            f"{h.text(cell.actual)}{mark}</td>"
        )

    def row(self, row: FleetRow) -> str:
        h = self.h
        subject, verb, resource, namespace = row.key
        where = {"": "(cluster)", "*": "(all)"}.get(namespace, namespace)
        majority = row.majority if row.majority is not None else "split"
        cls = ' class="fleet-row-differs"' if row.differs else ""
        return (
            f"<tr{cls}><th>{h.text(subject)}</th><th>{h.text(verb)}</th>"
            f"<th>{h.text(resource)}</th><th>{h.text(where)}</th>"
            f"<td>{h.text(majority)}</td>{''.join(self.cell(c) for c in row.cells)}</tr>"
        )

    def page(self, fleet: Fleet) -> str:
        h = self.h
        differing = sum(1 for r in fleet.rows if r.differs)
        heads = "".join(self.cluster_head(fleet, i) for i in range(len(fleet.clusters)))
        checks = (
            '<table id="fleet-checks"><thead><tr><th>subject</th><th>verb</th><th>resource</th>'
            f"<th>namespace</th><th>majority</th>{heads}</tr></thead>"
            f"<tbody>{''.join(self.row(r) for r in fleet.rows)}</tbody></table>"
        )
        summary = h.text(
            f"{len(fleet.clusters)} clusters, {len(fleet.rows)} checks, "
            f"{differing} where a cluster differs from the majority."
        )
        legend = (
            '<p class="fleet-legend"><span class="fleet-differs" style="background:#ffd27a">'
            "differs from the majority</span><span>\u2717 not as expected</span>"
            '<span style="color:#999">not run</span></p>'
        )
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            "<title>pytest-incluster fleet</title>"
            f"{FLEET_STYLE}</head><body><h1>pytest-incluster fleet</h1>"
            f'<p id="fleet-summary">{summary}</p><h2>Clusters</h2>{self.totals(fleet)}'
            f'<h2>Checks</h2>{legend}<label><input type="checkbox" id="fleet-differs-only"> '
            f"differences only</label>{checks}{FLEET_SCRIPT}</body></html>\n"
        )
