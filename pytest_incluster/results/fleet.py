"""Many clusters' results side by side: one row per check, one column per cluster, and for each
row the majority's answer, so the cluster that differs from the fleet stands out.

A check is identified by :attr:`Decision.key` (subject, verb, resource, namespace). A cluster
that did not run a check has the value :data:`NOT_RUN` there, which counts like any other answer:
a check that only one cluster lacks is a difference worth seeing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_incluster.results.document import Decision, ResultsDocument
from pytest_incluster.results.errors import ResultsError

NOT_RUN = "not run"
Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Cell:
    """What one cluster decided for one check (the first decision when several tests asked)."""

    actual: str  # the server's answer, or NOT_RUN
    expected: str  # "" when not run
    test_id: str
    differs: bool  # not the majority's answer (every cell of a split row differs)

    @property
    def passed(self) -> bool:
        return self.actual == self.expected


@dataclass(frozen=True)
class FleetRow:
    key: Key
    majority: str | None  # None when no answer is more common than every other
    cells: tuple[Cell, ...]  # in the order of Fleet.clusters

    @property
    def differs(self) -> bool:
        return any(c.differs for c in self.cells)


@dataclass(frozen=True)
class ClusterColumn:
    """One cluster: its label, its document, and a link to its report when one was given."""

    label: str
    document: ResultsDocument
    report_url: str = ""


@dataclass(frozen=True)
class Fleet:
    clusters: tuple[ClusterColumn, ...]
    rows: tuple[FleetRow, ...]

    def totals(self, index: int) -> dict[str, int]:
        """Per-cluster totals: the document's own, plus how many checks differ from the fleet."""
        totals = self.clusters[index].document.totals
        totals["differs_from_majority"] = sum(1 for r in self.rows if r.cells[index].differs)
        return totals


def majority(values: Sequence[str]) -> str | None:
    """The value more common than every other, or None on a tie for first place."""
    ranked = Counter(values).most_common()
    if not ranked:
        return None
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def _first_by_key(decisions: Sequence[Decision]) -> dict[Key, Decision]:
    by_key: dict[Key, Decision] = {}
    for decision in decisions:
        current = by_key.get(decision.key)
        # A failed decision wins: it is the one worth a look.
        if current is None or (current.passed and not decision.passed):
            by_key[decision.key] = decision
    return by_key


def unique_labels(documents: Sequence[tuple[Path, ResultsDocument]]) -> list[str]:
    """Each cluster's label (name, else server URL); two files of one cluster are refused."""
    labels: dict[str, Path] = {}
    for path, document in documents:
        label = document.cluster.label
        if label in labels:
            raise ResultsError(
                f"the results files {labels[label]} and {path} are both of cluster {label!r}. "
                "Give each cluster's run its own --incluster-cluster-name (or INCLUSTER_"
                "CLUSTER_NAME), or merge only one run per cluster."
            )
        labels[label] = path
    return list(labels)


def merge(
    documents: Sequence[tuple[Path, ResultsDocument]], report_urls: Mapping[str, str] | None = None
) -> Fleet:
    """The fleet of ``documents`` (path, document); ``report_urls`` maps a cluster label to
    its report's URL."""
    urls = dict(report_urls or {})
    labels = unique_labels(documents)
    unknown = sorted(set(urls) - set(labels))
    if unknown:
        raise ResultsError(
            f"--report-url names {', '.join(map(repr, unknown))}, which no results file is "
            f"about; the clusters are {', '.join(map(repr, labels))}."
        )
    columns = tuple(
        ClusterColumn(label, document, urls.get(label, ""))
        for label, (_, document) in zip(labels, documents, strict=True)
    )
    by_cluster = [_first_by_key(c.document.decisions) for c in columns]
    keys = sorted({key for found in by_cluster for key in found})
    rows = []
    for key in keys:
        found = [by_key.get(key) for by_key in by_cluster]
        answers = [d.actual if d is not None else NOT_RUN for d in found]
        top = majority(answers)
        cells = tuple(
            Cell(
                actual=answer,
                expected=d.expected if d is not None else "",
                test_id=d.test_id if d is not None else "",
                differs=len(columns) > 1 and answer != top,
            )
            for d, answer in zip(found, answers, strict=True)
        )
        rows.append(FleetRow(key, top, cells))
    return Fleet(columns, tuple(rows))
