"""Splitting a report across ConfigMaps, and ConfigMap names (no server needed)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from pytest_incluster.report.upload import (
    compress,
    name_problem,
    part_names,
    split_parts,
)


def test_small_files_share_one_part() -> None:
    parts = split_parts({"a.gz": b"x" * 10, "b.gz": b"y" * 20}, limit=100)
    assert parts == [{"a.gz": b"x" * 10, "b.gz": b"y" * 20}]


def test_large_blob_is_split_and_pieces_concatenate_back_in_part_order() -> None:
    blob = os.urandom(2500)
    other = os.urandom(700)
    parts = split_parts({"report.html.gz": blob, "junit.xml.gz": other}, limit=1000)
    assert all(sum(len(p) for p in part.values()) <= 1000 for part in parts)
    assert len(parts) == 4  # 3200 bytes in 1000-byte parts
    assert b"".join(p.get("report.html.gz", b"") for p in parts) == blob
    assert b"".join(p.get("junit.xml.gz", b"") for p in parts) == other
    # The second file starts in the room the first left in part 3.
    assert "junit.xml.gz" in parts[2]


def test_blob_exactly_filling_a_part_does_not_leave_an_empty_part() -> None:
    parts = split_parts({"a.gz": b"x" * 1000}, limit=1000)
    assert parts == [{"a.gz": b"x" * 1000}]


def test_non_positive_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_parts({"a.gz": b"x"}, limit=0)


def test_part_names_number_from_one_after_the_index() -> None:
    assert part_names("report", 3) == ["report", "report-1", "report-2"]
    assert part_names("report", 1) == ["report"]


@pytest.mark.parametrize("name", ["pytest-report", "a", "run.42.report", "a" * 63])
def test_valid_names(name: str) -> None:
    assert name_problem(name) is None


def test_a_name_longer_than_a_label_value_is_refused() -> None:
    # NAME is also the value of the label pytest-incluster.io/report: 63 characters at most.
    assert name_problem("r" * 64) == (
        "it must be at most 63 characters, not 64: it is also the value of the label "
        "pytest-incluster.io/report, and label values are limited to 63 characters"
    )


@pytest.mark.parametrize(
    ("name", "words"),
    [("Report", "lower-case"), ("-x", "DNS subdomain"), ("a_b", "DNS"), ("a" * 250, "at most")],
)
def test_invalid_names_say_why(name: str, words: str) -> None:
    problem = name_problem(name)
    assert problem is not None
    assert words in problem


def test_compress_is_deterministic_gzip(tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    path.write_text("<html>" * 1000)
    first = compress({"report.html": path})
    second = compress({"report.html": path})
    assert first == second
    assert gzip.decompress(first["report.html.gz"]) == path.read_bytes()


def test_compress_refuses_a_name_that_is_not_a_configmap_key(tmp_path: Path) -> None:
    path = tmp_path / "r"
    path.write_text("x")
    with pytest.raises(ValueError, match="not a valid ConfigMap key"):
        compress({"dir/report.html": path})
