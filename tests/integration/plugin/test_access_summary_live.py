"""The access summary reports what the real API server decided about each marked test's own
requests, not what the test did with the answer; one identity is one subject, with ``-q`` too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.plugin.impersonation_world import (
    World,
    delete_cluster_objects,
    make_world,
)

if TYPE_CHECKING:
    from pytest_incluster.client import K8sClient
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

RECORDER = """
import json
from dataclasses import asdict

def pytest_sessionfinish(session):
    from pytest_incluster.pytest_plugin.state import get_state

    with open("outcomes.json", "w") as out:
        json.dump([asdict(o) for o in get_state(session.config).outcomes], out)
"""

TESTS = """
import pytest
from pytest_incluster.client import Forbidden


@pytest.mark.expect_forbidden(verb="list", resource="secrets")
def test_catches_its_own_forbidden(k8s, k8s_namespace):
    try:
        k8s.get(f"/api/v1/namespaces/{k8s_namespace}/secrets")
    except Forbidden:
        pass


@pytest.mark.expect_forbidden(verb="list", resource="secrets")
def test_only_asks(k8s):
    assert not k8s.can_i("list", "secrets")


@pytest.mark.expect_forbidden(resource="secrets")
def test_refused_something_else(k8s):
    k8s.get("/api/v1/nodes")


@pytest.mark.expect_forbidden(verb="list", resource="configmaps")
def test_really_allowed(k8s, k8s_namespace):
    k8s.get(f"/api/v1/namespaces/{k8s_namespace}/configmaps")


@pytest.mark.expect_forbidden(verb="list", resource="secrets")
def test_denied(k8s, k8s_namespace):
    k8s.get(f"/api/v1/namespaces/{k8s_namespace}/secrets")


@pytest.mark.expect_allowed
def test_allowed(k8s, k8s_namespace):
    k8s.get(f"/api/v1/namespaces/{k8s_namespace}/configmaps")


@pytest.mark.expect_allowed
def test_allowed_only_asks(k8s):
    assert k8s.can_i("list", "configmaps")


@pytest.mark.impersonate("jane", groups=["developers"])
@pytest.mark.expect_forbidden(verb="list", resource="configmaps")
def test_developers_cannot_list_configmaps(k8s, k8s_namespace):
    k8s.get(f"/api/v1/namespaces/{k8s_namespace}/configmaps")
"""


@pytest.fixture
def world(
    admin: K8sClient,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
    unique_namespace: str,
) -> Iterator[World]:
    yield make_world(admin, control_plane, make_service_account, unique_namespace)
    delete_cluster_objects(admin, unique_namespace)


def run_quietly(
    pytester: pytest.Pytester, world: World, monkeypatch: pytest.MonkeyPatch
) -> tuple[pytest.RunResult, dict[str, dict[str, Any]], str]:
    """Run TESTS and a runner access document with ``-q`` (no header, so nothing has asked
    who the runner is); return the result, the outcomes by test name and the summary line."""
    termination_log = pytester.path / "termination-log"
    monkeypatch.setenv("PYTEST_INCLUSTER_TERMINATION_LOG", str(termination_log))
    monkeypatch.setenv("COLUMNS", "400")
    pytester.makeconftest(RECORDER)
    pytester.makepyfile(test_summary=TESTS)
    (pytester.path / "runner.access.yaml").write_text("allowed: [list configmaps]\n")
    result = pytester.runpytest_subprocess(*world.options(), "-q")
    outcomes = json.loads((pytester.path / "outcomes.json").read_text())
    by_name = {o["test_id"].split("::")[-1]: o for o in outcomes}
    return result, by_name, termination_log.read_text().strip()


def test_the_summary_reports_what_the_server_decided(
    pytester: pytest.Pytester, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, outcomes, line = run_quietly(pytester, world, monkeypatch)
    result.assert_outcomes(passed=5, failed=4)
    ns, runner = world.ns, world.runner
    secrets_denied = (
        f'secrets is forbidden: User "{runner}" cannot list resource "secrets" in API group "" '
        f'in the namespace "{ns}"'
    )
    rows = {
        name: (o["verb"], o["resource"], o["namespace"], o["expected"], o["actual"], o["reason"])
        for name, o in outcomes.items()
    }
    assert rows == {
        "test_catches_its_own_forbidden": (
            "list",
            "secrets",
            ns,
            "forbidden",
            "forbidden",
            secrets_denied + " (the test caught this error itself)",
        ),
        "test_only_asks": (
            "list",
            "secrets",
            "",
            "forbidden",
            "not asked",
            "only access reviews, which make no real request: POST "
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews -> 201 Created",
        ),
        "test_refused_something_else": (
            "*",
            "secrets",
            "",
            "forbidden",
            "not asked",
            f'the server refused something else: nodes is forbidden: User "{runner}" cannot '
            'list resource "nodes" in API group "" at the cluster scope',
        ),
        "test_really_allowed": (
            "list",
            "configmaps",
            ns,
            "forbidden",
            "allowed",
            f"GET /api/v1/namespaces/{ns}/configmaps -> 200 OK",
        ),
        "test_denied": ("list", "secrets", ns, "forbidden", "forbidden", secrets_denied),
        "test_allowed": (
            "list",
            "configmaps",
            ns,
            "allowed",
            "allowed",
            f"GET /api/v1/namespaces/{ns}/configmaps -> 200 OK",
        ),
        "test_allowed_only_asks": (
            "*",
            "(the test's requests)",
            "",
            "allowed",
            "not asked",
            "only access reviews, which make no real request: POST "
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews -> 201 Created",
        ),
        "test_developers_cannot_list_configmaps": (
            "list",
            "configmaps",
            ns,
            "forbidden",
            "forbidden",
            f'configmaps is forbidden: User "jane" cannot list resource "configmaps" in API '
            f'group "" in the namespace "{ns}"',
        ),
        "list configmaps": (
            "list",
            "configmaps",
            ns,
            "allowed",
            "allowed",
            'RBAC: allowed by RoleBinding "runner/' + ns + '" of Role "runner" to '
            f'ServiceAccount "runner/{ns}"',
        ),
    }
    assert line == (
        "pytest-incluster: 5 passed, 4 failed, 0 errors; access checks: 9, 1 unexpectedly "
        "allowed, 0 unexpectedly forbidden, 3 not asked"
    )
    result.stdout.fnmatch_lines(
        [
            "expected 403 Forbidden (verb=list, resource=secrets), but the test ended without one.",
            "Requests made by this test:",
            # The first "no" on a new connection is asked again once /readyz says ok
            # (pytest_incluster.client.readiness); only the repeat counts.
            f"  GET /api/v1/namespaces/{ns}/secrets -> 403 Forbidden (not counted)",
            "  GET /readyz -> 200 OK",
            f"  GET /api/v1/namespaces/{ns}/secrets -> 403 Forbidden (attempt 2)",
            f"The server did refuse GET /api/v1/namespaces/{ns}/secrets -> 403 Forbidden, but "
            "the test caught that error itself; let it propagate out of the test.",
        ]
    )


def test_one_identity_is_one_subject_with_q(
    pytester: pytest.Pytester, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, outcomes, _ = run_quietly(pytester, world, monkeypatch)
    subjects = {name: o["subject"] for name, o in outcomes.items()}
    jane = subjects.pop("test_developers_cannot_list_configmaps")
    assert jane == "jane+developers"
    assert set(subjects.values()) == {f"self ({world.runner})"}


def test_requests_are_read_as_the_server_reads_them(world: World, control_plane: Any) -> None:
    """``request_info`` against the server's own reading, which a 403 spells out."""
    from pytest_incluster.access.markers import Denial
    from pytest_incluster.access.observed import request_info
    from pytest_incluster.client import Forbidden
    from tests.integration.access.access_rbac import client_for

    ns = world.ns
    requests = [
        ("GET", f"/api/v1/namespaces/{ns}/secrets"),
        ("GET", f"/api/v1/namespaces/{ns}/secrets/x"),
        ("GET", f"/api/v1/namespaces/{ns}/secrets?watch=1&timeoutSeconds=1"),
        ("GET", f"/api/v1/namespaces/{ns}/secrets?watch=false"),
        ("GET", f"/api/v1/namespaces/{ns}/secrets?fieldSelector=metadata.name%3Dx"),
        ("GET", f"/api/v1/watch/namespaces/{ns}/secrets"),
        ("POST", f"/api/v1/namespaces/{ns}/secrets"),
        ("PUT", f"/api/v1/namespaces/{ns}/secrets/x"),
        ("PATCH", f"/api/v1/namespaces/{ns}/secrets/x"),
        ("DELETE", f"/api/v1/namespaces/{ns}/secrets/x"),
        ("DELETE", f"/api/v1/namespaces/{ns}/secrets"),
        ("GET", f"/api/v1/namespaces/{ns}/pods/x/log"),
        ("POST", f"/api/v1/namespaces/{ns}/pods/x/eviction"),
        ("GET", f"/apis/apps/v1/namespaces/{ns}/deployments"),
        ("GET", "/apis/apps/v1/deployments"),
        ("GET", "/api/v1/nodes"),
        ("GET", "/api/v1/nodes/n1/proxy/metrics"),
        ("GET", "/api/v1/namespaces"),
        ("GET", "/api/v1/namespaces/kube-system"),
        ("PUT", "/api/v1/namespaces/kube-system/finalize"),
        ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles"),
        ("GET", "/metrics"),
        ("POST", "/logs"),
    ]
    seen = []
    with client_for(control_plane, world.sa_dir) as runner:
        for method, path in requests:
            with pytest.raises(Forbidden) as denied:
                runner.request(method, path, content=b"{}")
            denial = Denial.parse(denied.value.server_message)
            assert denial is not None, denied.value.server_message
            seen.append((denial.verb, denial.resource, denial.namespace))
    ours = [request_info(method, path) for method, path in requests]
    assert [(i.verb, i.resource, i.namespace) for i in ours] == seen
