"""The soak's own instruments, without a cluster: the comparison with the oracle catches every
kind of wrong verdict (so a soak cannot pass vacuously), and the node ids it expects are the ones
the plugin collects (so no item goes unmatched).
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.soak.files import write_suite
from tests.soak.matrix import Check, candidate_checks, plant, sample_checks
from tests.soak.oracle import Expectation, Outcome, classify

ALLOWED = Check("alice", "review", "list", "configmaps", "soak-00")
FORBIDDEN = Check("self", "request", "delete", "secrets", "soak-01")
PLANTED = Check("app-0", "both", "get", "configmaps", "soak-02", "cm-0")


def _expectations() -> list[Expectation]:
    return [
        Expectation("a.access.yaml::alice+team-a::allowed::list configmaps", ALLOWED, True, False),
        Expectation("s.access.yaml::self::forbidden::delete secrets", FORBIDDEN, False, False),
        # The file says forbidden on purpose; the truth is allowed: the item must fail.
        Expectation("p.access.yaml::x::forbidden::get configmaps/cm-0", PLANTED, True, True),
    ]


def _correct() -> dict[str, Outcome]:
    return {
        "a.access.yaml::alice+team-a::allowed::list configmaps": Outcome("passed"),
        "s.access.yaml::self::forbidden::delete secrets": Outcome("passed"),
        "p.access.yaml::x::forbidden::get configmaps/cm-0": Outcome(
            "failed", "expected forbidden, was allowed: RBAC: allowed by RoleBinding ..."
        ),
    }


def test_a_run_that_agrees_with_the_oracle_is_all_decided() -> None:
    tally = classify(_expectations(), _correct())
    assert (tally.decided, tally.planted_caught, tally.undecided) == (3, 1, 0)
    assert tally.ok


@pytest.mark.parametrize(
    ("nodeid", "flipped", "kind"),
    [
        # A false finding: the plugin says forbidden where the oracle says allowed.
        (
            "a.access.yaml::alice+team-a::allowed::list configmaps",
            Outcome("failed", "expected allowed, was forbidden: no rule grants it"),
            "wrong",
        ),
        # A false "allowed" for a forbidden check.
        (
            "s.access.yaml::self::forbidden::delete secrets",
            Outcome("failed", "expected forbidden, was allowed: configmaps ... -> 200"),
            "wrong",
        ),
        # A false pass: the deliberate mismatch went unnoticed.
        ("p.access.yaml::x::forbidden::get configmaps/cm-0", Outcome("passed"), "wrong"),
        # Review and real request disagree: one of them is wrong.
        (
            "a.access.yaml::alice+team-a::allowed::list configmaps",
            Outcome("failed", "review and real request disagree (expected allowed): ..."),
            "wrong",
        ),
        # No verdict, said clearly: undecided, not wrong.
        (
            "s.access.yaml::self::forbidden::delete secrets",
            Outcome("failed", "could not decide 'delete secrets -n soak-01': ... ReadTimeout"),
            "undecided",
        ),
        # Any other failure of an item whose file is right is a false finding too.
        (
            "s.access.yaml::self::forbidden::delete secrets",
            Outcome("failed", "AttributeError: 'NoneType' object has no attribute 'x'"),
            "wrong",
        ),
        # A planted item that fails, but not because of its mismatch: no verdict anyone can use.
        (
            "p.access.yaml::x::forbidden::get configmaps/cm-0",
            Outcome("failed", "AttributeError: 'NoneType' object has no attribute 'x'"),
            "unclear",
        ),
    ],
)
def test_one_flipped_outcome_is_caught(nodeid: str, flipped: Outcome, kind: str) -> None:
    results = {**_correct(), nodeid: flipped}
    tally = classify(_expectations(), results)
    assert not tally.ok if kind != "undecided" else tally.ok
    counts = {
        "wrong": len(tally.wrong),
        "unclear": len(tally.unclear),
        "undecided": tally.undecided,
    }
    assert counts == {k: int(k == kind) for k in counts}
    if kind == "wrong":
        assert tally.wrong[0]["nodeid"] == nodeid


def test_an_item_without_a_result_is_missing_and_fails_the_soak() -> None:
    results = _correct()
    del results["s.access.yaml::self::forbidden::delete secrets"]
    tally = classify(_expectations(), results)
    assert tally.missing == ["s.access.yaml::self::forbidden::delete secrets"]
    assert not tally.ok


def test_expected_node_ids_are_the_ones_the_plugin_collects(tmp_path: Path) -> None:
    rng = random.Random(7)
    namespaces = ["soak-00", "soak-01", "soak-02"]
    candidates = candidate_checks(namespaces)
    truth = {c: rng.random() < 0.4 for c in candidates}
    checks = sample_checks(rng, candidates, truth, 400)
    expectations = write_suite(tmp_path, rng, checks, truth, plant(rng, checks))
    assert len({e.nodeid for e in expectations}) == len(checks) == 400
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    ids = {line for line in collected.stdout.splitlines() if ".access.yaml::" in line}
    assert ids == {e.nodeid for e in expectations}, collected.stdout[-2000:]
    # The files state the oracle's truth except where planted.
    planted = [e for e in expectations if e.planted]
    assert planted
    assert all(f"::{e.written}::" in e.nodeid for e in expectations)
    assert all(e.written != ("allowed" if e.allowed else "forbidden") for e in planted)
