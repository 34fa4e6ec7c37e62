"""``pytest-incluster report merge|diff``: results files of many runs, brought together.

``merge RESULTS.json... --html fleet.html [--json merged.json] [--report-url CLUSTER=URL]...``
writes the fleet page (clusters x checks, differences from the majority highlighted) and,
optionally, the merged data. ``diff OLD.json NEW.json`` prints every check whose answer or
expectation changed (or that only one run made) and exits 1 when there is one, 0 when none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pytest_incluster.report.fleet_html import FleetHtml
from pytest_incluster.report.summary import plural
from pytest_incluster.results.diff import diff
from pytest_incluster.results.document import load
from pytest_incluster.results.errors import ResultsError
from pytest_incluster.results.fleet import Fleet, merge

MERGED_SCHEMA = "pytest-incluster/fleet"


def _report_urls(pairs: Sequence[str]) -> dict[str, str]:
    urls = {}
    for pair in pairs:
        cluster, sep, url = pair.partition("=")
        if not sep or not cluster or not url:
            raise ResultsError(
                f"--report-url {pair!r} is not CLUSTER=URL. Give the cluster's name (as in its "
                "results file) and its report's address, e.g. --report-url "
                "prod-eu=https://ci.example/prod-eu/report.html."
            )
        urls[cluster] = url
    return urls


def merged_json(fleet: Fleet) -> str:
    """The fleet as data: each cluster's document and, per check, the majority and who differs."""
    data = {
        "schema": MERGED_SCHEMA,
        "version": 1,
        "clusters": [
            {"label": c.label, "report_url": c.report_url, "results": c.document.to_dict()}
            for c in fleet.clusters
        ],
        "checks": [
            {
                "subject": row.key[0],
                "verb": row.key[1],
                "resource": row.key[2],
                "namespace": row.key[3],
                "majority": row.majority,
                "answers": {
                    c.label: cell.actual for c, cell in zip(fleet.clusters, row.cells, strict=True)
                },
                "differs": [
                    c.label
                    for c, cell in zip(fleet.clusters, row.cells, strict=True)
                    if cell.differs
                ],
            }
            for row in fleet.rows
        ],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ResultsError(
            f"cannot write {path}: {exc.strerror or exc}. Give a path in a writable directory."
        ) from None


def run_merge(
    results: Sequence[Path], html: Path, json_path: Path | None, report_urls: Sequence[str]
) -> int:
    fleet = merge([(path, load(path)) for path in results], _report_urls(report_urls))
    _write(html, FleetHtml().page(fleet))
    if json_path is not None:
        _write(json_path, merged_json(fleet))
    differing = sum(1 for r in fleet.rows if r.differs)
    print(
        f"{plural(len(fleet.clusters), 'cluster', 'clusters')}, "
        f"{plural(len(fleet.rows), 'check', 'checks')}, {differing} where a cluster "
        f"differs from the majority: {html}"
    )
    return 0


def run_diff(old: Path, new: Path) -> int:
    changes = diff(load(old), load(new))
    for change in changes:
        print(change.describe())
    if not changes:
        print(f"no decision changed between {old} and {new}")
        return 0
    print(f"{plural(len(changes), 'decision', 'decisions')} changed between {old} and {new}")
    return 1
