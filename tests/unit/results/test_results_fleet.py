"""Merging clusters: the majority per check, the cells that differ from it, the totals."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_incluster.results.errors import ResultsError
from pytest_incluster.results.fleet import NOT_RUN, majority, merge
from tests.unit.results.test_results_document import decision, document


def test_majority_is_the_most_common_answer_and_none_on_a_tie() -> None:
    assert majority(["forbidden", "allowed", "forbidden"]) == "forbidden"
    assert majority(["allowed", "forbidden"]) is None
    assert majority(["allowed"]) == "allowed"


def test_the_cluster_that_answers_differently_is_the_one_highlighted() -> None:
    ok = decision("forbidden", "forbidden")
    fleet = merge(
        [
            (Path("a.json"), document(ok, name="a")),
            (Path("b.json"), document(decision("allowed", "forbidden"), name="b")),
            (Path("c.json"), document(ok, name="c")),
        ]
    )
    (row,) = fleet.rows
    assert row.majority == "forbidden"
    assert [c.differs for c in row.cells] == [False, True, False]
    assert [fleet.totals(i)["differs_from_majority"] for i in range(3)] == [0, 1, 0]
    assert fleet.totals(1)["unexpectedly_allowed"] == 1


def test_agreeing_clusters_highlight_nothing() -> None:
    same = decision("forbidden", "forbidden")
    fleet = merge([(Path(f"{n}.json"), document(same, name=n)) for n in "abc"])
    assert not any(c.differs for row in fleet.rows for c in row.cells)


def test_a_tie_marks_every_cell_of_the_row() -> None:
    fleet = merge(
        [
            (Path("a.json"), document(decision("allowed"), name="a")),
            (Path("b.json"), document(decision("forbidden"), name="b")),
        ]
    )
    (row,) = fleet.rows
    assert row.majority is None
    assert [c.differs for c in row.cells] == [True, True]


def test_a_check_one_cluster_did_not_run_is_a_difference() -> None:
    both = decision("forbidden", "forbidden")
    extra = decision("forbidden", "forbidden", verb="delete")
    fleet = merge(
        [
            (Path("a.json"), document(both, extra, name="a")),
            (Path("b.json"), document(both, extra, name="b")),
            (Path("c.json"), document(both, name="c")),
        ]
    )
    delete = next(r for r in fleet.rows if r.key[1] == "delete")
    assert [c.actual for c in delete.cells] == ["forbidden", "forbidden", NOT_RUN]
    assert [c.differs for c in delete.cells] == [False, False, True]


def test_two_files_of_one_cluster_are_refused() -> None:
    with pytest.raises(ResultsError) as info:
        merge([(Path("a.json"), document(name="x")), (Path("b.json"), document(name="x"))])
    assert str(info.value).startswith(
        "the results files a.json and b.json are both of cluster 'x'. Give each cluster's run "
        "its own --incluster-cluster-name"
    )


def test_a_report_url_for_an_unknown_cluster_is_refused() -> None:
    with pytest.raises(ResultsError) as info:
        merge([(Path("a.json"), document(name="a"))], {"prod": "https://ci/prod.html"})
    assert str(info.value) == (
        "--report-url names 'prod', which no results file is about; the clusters are 'a'."
    )
