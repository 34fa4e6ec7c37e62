"""Access-item node ids work wherever pytest takes or writes a node id, against real RBAC.

A document with ``as:`` and ``groups:`` once gave ids like ``jane[developers]::allowed::...``,
which pytest reads as parametrization: ``pytest NODEID`` found nothing and JUnit XML split the
id in the wrong place. Every check here takes the ids from ``--collect-only`` rather than
spelling them, so it tests the property (an id survives the round trip), not just one scheme.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.client import K8sClient
from tests.integration.access.access_rbac import Shop, bind, role
from tests.integration.access.test_access_matrix_e2e import RECORDER, plugin_args

pytestmark = pytest.mark.controlplane

pytest_plugins = ["pytester"]

# The group may get pods; nothing grants list, so "list pods" is the one wrong expectation.
TEAM = """\
as: jane
groups: [developers]
allowed:
  - get pods
  - list pods
forbidden:
  - list secrets
---
as: "ops::bot[1]"
forbidden: [list secrets]
"""


@pytest.fixture
def team(shop: Shop, admin: K8sClient, pytester: pytest.Pytester) -> Shop:
    """``team.access.yaml`` in the pytester directory, its group's Role bound in ``shop.ns``."""
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    admin.apply(role("Role", "developers", [rule], shop.ns))
    group = {"kind": "Group", "name": "developers", "apiGroup": "rbac.authorization.k8s.io"}
    admin.apply(bind("RoleBinding", "developers", "Role", "developers", [group], shop.ns))
    request = AccessRequest(verb="get", resource="pods", namespace=shop.ns)
    admin.impersonate("jane", groups=["developers"]).wait_for_access(request, timeout=10)
    pytester.makeconftest(RECORDER)
    (pytester.path / "team.access.yaml").write_text(TEAM)
    return shop


@pytest.fixture
def run(pytester: pytest.Pytester, team: Shop, control_plane: Any) -> Any:
    def go(*args: str) -> tuple[pytest.RunResult, list[str]]:
        result = pytester.runpytest_subprocess(*plugin_args(team, control_plane.server), *args)
        recorded = json.loads((pytester.path / "recorded.json").read_text())
        return result, [o["test_id"] for o in recorded["outcomes"]]

    return go


def collected_ids(run: Any) -> list[str]:
    result, _ = run("--collect-only", "-q")
    return [line for line in result.outlines if line.startswith("team.access.yaml::")]


def test_ids_are_readable(run: Any) -> None:
    assert collected_ids(run) == [
        "team.access.yaml::jane+developers::allowed::get pods",
        "team.access.yaml::jane+developers::allowed::list pods",
        "team.access.yaml::jane+developers::forbidden::list secrets",
        "team.access.yaml::ops:_:bot(1)::forbidden::list secrets",
    ]


def test_each_id_selects_exactly_its_check(run: Any) -> None:
    for node in collected_ids(run):
        result, ran = run(node)
        assert ran == [node], result.stdout.str()
        assert result.parseoutcomes().get("error") is None


def test_deselect_removes_exactly_that_check(run: Any) -> None:
    ids = collected_ids(run)
    for node in ids:
        result, ran = run("--deselect", node)
        assert ran == [i for i in ids if i != node], result.stdout.str()
        result.stdout.fnmatch_lines(["*1 deselected*"])


def test_keyword_selects_by_subject_with_groups(run: Any) -> None:
    result, ran = run("-k", "jane+developers and list")
    assert ran == [
        "team.access.yaml::jane+developers::allowed::list pods",
        "team.access.yaml::jane+developers::forbidden::list secrets",
    ], result.stdout.str()
    _, ran = run("-k", "developers")
    assert len(ran) == 3
    _, ran = run("-k", "bot")
    assert ran == ["team.access.yaml::ops:_:bot(1)::forbidden::list secrets"]


def test_last_failed_reruns_only_the_failure(run: Any) -> None:
    first, ran = run()
    first.assert_outcomes(passed=3, failed=1)
    assert len(ran) == 4
    again, ran = run("--lf")
    again.assert_outcomes(failed=1, deselected=3)
    assert ran == ["team.access.yaml::jane+developers::allowed::list pods"]


def test_junit_names_each_testcase_by_its_id(run: Any, pytester: pytest.Pytester) -> None:
    ids = collected_ids(run)
    run("--junitxml=junit.xml")
    cases = ET.parse(Path(pytester.path, "junit.xml")).getroot().iter("testcase")
    got = {(case.get("classname"), case.get("name")): case for case in cases}
    expected = set()
    for node in ids:
        file, subject, expectation, entry = node.split("::")
        expected.add((f"{file}.{subject}.{expectation}", entry))
    assert set(got) == expected
    failed = got[("team.access.yaml.jane+developers.allowed", "list pods")]
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("expected allowed, was forbidden")


def test_tb_line_prints_one_line_per_failure(run: Any) -> None:
    result, _ = run("--tb=line")
    result.assert_outcomes(passed=3, failed=1)
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "FAILURES" in line)
    assert lines[start + 1].startswith("team.access.yaml:5: expected allowed, was forbidden: ")
    assert "short test summary" in lines[start + 2]  # nothing more than the one line
    assert "answered by:" not in result.stdout.str()
    # Without --tb=line the whole explanation is still there.
    full, _ = run()
    full.stdout.fnmatch_lines(
        [
            "expected allowed, was forbidden: *",
            "  answered by: SelfSubjectAccessReview",
            "  subject: jane+developers",
            "  asked:   list pods -n *",
            "  entry:   team.access.yaml:5",
        ]
    )
