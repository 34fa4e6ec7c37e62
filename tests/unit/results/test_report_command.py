"""``pytest-incluster report diff`` and ``report merge``, as the console script runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_incluster.cli.main import main
from pytest_incluster.results.document import ResultsDocument
from tests.unit.results.test_results_document import decision, document


def write(path: Path, doc: ResultsDocument) -> Path:
    path.write_text(doc.to_json())
    return path


def test_diff_of_equal_runs_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write(tmp_path / "old.json", document(decision("forbidden", "forbidden")))
    new = write(tmp_path / "new.json", document(decision("forbidden", "forbidden")))
    assert main(["report", "diff", str(old), str(new)]) == 0
    assert capsys.readouterr().out == f"no decision changed between {old} and {new}\n"


def test_diff_lists_every_changed_decision_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = decision("forbidden", "forbidden", verb="list")
    old = write(
        tmp_path / "old.json",
        document(kept, decision("forbidden", "forbidden"), decision("allowed", verb="delete")),
    )
    new = write(
        tmp_path / "new.json",
        document(
            kept,
            decision("allowed", "forbidden"),
            decision("allowed", resource="/metrics", namespace="", verb="get"),
        ),
    )
    assert main(["report", "diff", str(old), str(new)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "removed: alice: delete secrets in namespace team-a: was allowed (expected allowed)",
        "added: alice: get /metrics (non-resource URL): allowed (expected allowed)",
        "changed: alice: get secrets in namespace team-a: allowed (expected forbidden), "
        "was forbidden (expected forbidden)",
        f"3 decisions changed between {old} and {new}",
    ]


def test_diff_of_an_unusable_file_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(tmp_path / "old.json", document())
    assert main(["report", "diff", str(old), str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err == (
        f"pytest-incluster: error: cannot read the results file {tmp_path / 'missing.json'}: "
        "No such file or directory. Give the path of a file written by pytest "
        "--incluster-results.\n"
    )


def test_merge_writes_the_page_and_the_merged_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [
        write(tmp_path / "a.json", document(decision("forbidden", "forbidden"), name="a")),
        write(tmp_path / "b.json", document(decision("allowed", "forbidden"), name="b")),
        write(tmp_path / "c.json", document(decision("forbidden", "forbidden"), name="c")),
    ]
    html, merged = tmp_path / "out" / "fleet.html", tmp_path / "merged.json"
    args = ["report", "merge", *map(str, files), "--html", str(html), "--json", str(merged)]
    assert main([*args, "--report-url", "b=https://ci.example/b/report.html"]) == 0
    assert capsys.readouterr().out == (
        f"3 clusters, 1 check, 1 where a cluster differs from the majority: {html}\n"
    )
    page = html.read_text()
    assert '<th><a href="https://ci.example/b/report.html">b</a></th>' in page
    row = page.split('<tbody><tr class="fleet-row-differs">')[1].split("</tr>")[0]
    assert row.count('class="fleet-cell fleet-differs fleet-fail"') == 1
    assert row.index("fleet-differs fleet-fail") > row.index("<th>alice</th>")
    cells = row.split("<td")[2:]
    assert ["fleet-differs" in c for c in cells] == [False, True, False]
    data = json.loads(merged.read_text())
    assert data["checks"][0]["majority"] == "forbidden"
    assert data["checks"][0]["differs"] == ["b"]
    assert [c["label"] for c in data["clusters"]] == ["a", "b", "c"]


def test_merge_escapes_what_the_files_say(tmp_path: Path) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    files = [
        write(tmp_path / "a.json", document(decision(subject=hostile), name=hostile)),
        write(tmp_path / "b.json", document(decision(), name="b")),
    ]
    html = tmp_path / "fleet.html"
    assert main(["report", "merge", *map(str, files), "--html", str(html)]) == 0
    page = html.read_text()
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_report_url_without_a_cluster_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = write(tmp_path / "a.json", document(name="a"))
    args = ["report", "merge", str(one), "--html", str(tmp_path / "f.html")]
    assert main([*args, "--report-url", "https://x"]) == 2
    assert "--report-url 'https://x' is not CLUSTER=URL." in capsys.readouterr().err
    assert not (tmp_path / "f.html").exists()
