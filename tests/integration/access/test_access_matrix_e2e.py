"""Access files run by pytest with the plugin, as a pod would run them, against real RBAC."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from tests.integration.access.access_rbac import Shop

pytestmark = pytest.mark.controlplane

pytest_plugins = ["pytester"]

# Dumps what the plugin recorded, so the outer test can check outcomes and API calls.
RECORDER = """
import json
from dataclasses import asdict

def pytest_sessionfinish(session):
    from pytest_incluster.pytest_plugin.state import get_state
    state = get_state(session.config)
    with open("recorded.json", "w") as out:
        json.dump({
            "outcomes": [asdict(o) for o in state.outcomes],
            "calls": [
                [c.method, c.path, c.impersonated_user, c.attempt, c.status] for c in state.calls
            ],
        }, out)
"""


def matrix(shop: Shop) -> str:
    api, viewer = shop.who("api"), shop.who("viewer")
    checks = """\
        allowed:
          - get pods
          - create deployments.apps
          - get pods --subresource=log
          - get /healthz
          - list nodes
        forbidden:
          - list secrets
          - list secrets -n kube-system
          - delete namespaces
          - create clusterrolebindings.rbac.authorization.k8s.io
        """
    docs = [
        f"as: {api}\nmode: review\nmarkers: [smoke]\n{textwrap.dedent(checks)}",
        f"as: {api}\nmode: request\nnamespace: {shop.ns}\n{textwrap.dedent(checks)}",
        f"as: {api}\nmode: both\n{textwrap.dedent(checks)}",
        f"as: {viewer}\nallowed: [list pods]\nforbidden:\n  - get secrets\n  - get pods\n",
        f"as: {shop.who('ghost')}\nforbidden: [list secrets]\n",
        "allowed: [get serviceaccounts]\nforbidden: [list secrets, get deplyments]\n",
    ]
    return "---\n".join(docs)


def plugin_args(shop: Shop, server: str) -> list[str]:
    return [
        f"--incluster-server={server}",
        f"--incluster-token-file={shop.runner_dir / 'token'}",
        f"--incluster-ca-file={shop.runner_dir / 'ca.crt'}",
        f"--incluster-namespace={shop.ns}",
        "-p",
        "pytester",
    ]


@pytest.fixture
def run(
    pytester: pytest.Pytester, shop: Shop, control_plane: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    monkeypatch.setenv("COLUMNS", "400")  # short summary lines keep their message
    pytester.makeconftest(RECORDER)
    pytester.makeini("[pytest]\nmarkers =\n    smoke: quick access checks\n")
    (pytester.path / "shop.access.yaml").write_text(matrix(shop))

    def go(*args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
        result = pytester.runpytest_subprocess(
            *plugin_args(shop, control_plane.server), "-rfE", "--strict-markers", *args
        )
        recorded = json.loads((pytester.path / "recorded.json").read_text())
        return result, recorded

    return go


def test_matrix_in_all_modes_with_one_wrong_expectation(run: Any, shop: Shop) -> None:
    result, recorded = run()
    api = shop.who("api")
    ghost = shop.who("ghost")
    # 3 x 9 for api, 3 for viewer, 1 for ghost, 3 for the runner itself.
    result.assert_outcomes(passed=31, failed=3)
    result.stdout.fnmatch_lines(
        [
            f"FAILED shop.access.yaml::{shop.who('viewer')}::forbidden::get pods - expected "
            f'forbidden, was allowed: RBAC: allowed by RoleBinding "viewer/{shop.ns}" of '
            f'ClusterRole "view" to ServiceAccount "viewer/{shop.ns}"',
            f"FAILED shop.access.yaml::{ghost}::forbidden::list secrets - could not decide "
            f'\'list secrets\': ServiceAccount "ghost" does not exist in namespace "{shop.ns}"*',
            "FAILED shop.access.yaml::self::forbidden::get deplyments - could not decide 'get "
            "deplyments': the server doesn't have a resource type \"deplyments\"; did you mean "
            '"deployments"?',
        ]
    )
    # The full failure: first line says it all, then who, what, how, where.
    result.stdout.fnmatch_lines(
        [
            "expected forbidden, was allowed: RBAC: allowed by RoleBinding*",
            "  answered by: SelfSubjectAccessReview",
            f"  subject: {shop.who('viewer')}",
            f"  asked:   get pods -n {shop.ns}",
            "  entry:   shop.access.yaml:*",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    passed = {(o["subject"], o["verb"], o["resource"], o["namespace"], o["actual"])
              for o in recorded["outcomes"] if o["expected"] == o["actual"]}  # fmt: skip
    assert (api, "get", "pods", shop.ns, "allowed") in passed
    assert (api, "list", "secrets", "kube-system", "forbidden") in passed
    assert (api, "list", "nodes", "", "allowed") in passed
    assert (api, "get", "/healthz", "", "allowed") in passed
    assert len(recorded["outcomes"]) == 34
    wrong = [o for o in recorded["outcomes"] if o["expected"] != o["actual"]]
    assert sorted(o["actual"] for o in wrong) == ["allowed", "error", "error"]


def test_each_question_is_asked_once_and_discovery_fetched_once(run: Any, shop: Shop) -> None:
    _, recorded = run()
    calls = recorded["calls"]
    paths = [path.split("?")[0] for _, path, _, _, _ in calls]
    assert paths.count("/api") == 1
    assert paths.count("/apis") == 1
    # First attempts only: a "no" over a connection no /readyz "ok" had vouched for yet is asked
    # again once readiness is confirmed (pytest_incluster.client.readiness), which is not a
    # second question.
    reviews = [c for c in calls if c[1].endswith("/selfsubjectaccessreviews") and c[3] == 1]
    # review + both documents ask the same 9 questions for api: asked once. The request
    # document asks for real (8 requests; "list nodes" reads all nodes once).
    api_reviews = [c for c in reviews if c[2] == shop.who("api")]
    assert len(api_reviews) == 9
    assert ("GET", "/readyz", None, 1, 200) in [tuple(c) for c in calls]
    sa_gets = [p for p in paths if "/serviceaccounts/" in p]
    assert sorted(sa_gets) == sorted(
        f"/api/v1/namespaces/{shop.ns}/serviceaccounts/{name}"
        for name in ("api", "viewer", "ghost")
    )


def test_selection_by_keyword_marker_and_node_id(run: Any, shop: Shop) -> None:
    by_marker, recorded = run("-m", "smoke")
    by_marker.assert_outcomes(passed=9)
    assert {o["subject"] for o in recorded["outcomes"]} == {shop.who("api")}
    by_keyword, _ = run("-k", "viewer and secrets")
    by_keyword.assert_outcomes(passed=1)
    node = f"shop.access.yaml::{shop.who('viewer')}::forbidden::get pods"
    by_id, recorded = run(node)
    by_id.assert_outcomes(failed=1)
    assert [o["test_id"] for o in recorded["outcomes"]] == [node]


def test_bad_file_does_not_stop_good_ones(run: Any, pytester: pytest.Pytester) -> None:
    (pytester.path / "typo.access.yaml").write_text("allowed:\n  - lst pods\n")
    result, _ = run("-k", "self or typo")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(["*typo.access.yaml:2: allowed entry 'lst pods': unknown verb*"])
