"""Scenario 7: what tests create through ``k8s.create``/``k8s.apply`` is removed, and only that.

One inner run with a failing test (the shared ``cleanup_run``), checked from several angles:

* objects a test created (``create`` and ``apply``) are gone after the run, also when the test
  failed;
* a namespace made by a session-scoped fixture stays usable for every test of the session and
  is deleted at the end: it is left ``Terminating`` (deletionTimestamp set; no namespace
  controller runs here to finish it) and the run does not wait for it;
* an object held by a finalizer is deleted but waited for only a bounded time;
* nothing the suite did not create is touched: a ConfigMap and a namespace that existed before
  keep their resourceVersion, and an object the test created but someone else deleted and
  re-created under the same name is left alone (cleanup deletes by uid).

A second run is stopped with SIGTERM in the middle of a test, as Kubernetes stops a Job's pod:
it ends promptly, the running test's object and the session's namespace are cleaned up, and the
tests after it never run.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.reliability.cluster import Runner, post
from tests.reliability.suite import Run, Running, run_pytest, wait_for_file, write_suite

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

COMMON = """
import json
import os
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def configmap(name, **metadata):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **metadata},
            "data": {"made": "by the suite"}}


@pytest.fixture(scope="session")
def suite_namespace(k8s):
    name = os.environ["SUITE_NAMESPACE"]
    k8s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name
"""

SUITE = (
    COMMON
    + """

def test_a_failing_test_is_cleaned_up_too(k8s):
    k8s.create(configmap("made-by-a-failing-test"))
    assert False, "fails on purpose"


def test_apply_is_cleaned_up(k8s):
    k8s.apply(configmap("made-by-apply"))


def test_first_test_in_the_suite_namespace(k8s, suite_namespace):
    k8s.create(configmap("first"), namespace=suite_namespace)


def test_second_test_in_the_suite_namespace(k8s, suite_namespace):
    k8s.create(configmap("second"), namespace=suite_namespace)


def test_an_object_recreated_by_someone_else_is_left_alone(k8s):
    mine = k8s.create(configmap("recreated"))
    path = f"/api/v1/namespaces/{k8s.namespace}/configmaps"
    k8s.request("DELETE", f"{path}/recreated")
    theirs = k8s.post(path, json=configmap("recreated")).json()  # not through the helpers
    (HERE / "uids.json").write_text(
        json.dumps({"mine": mine["metadata"]["uid"], "theirs": theirs["metadata"]["uid"]})
    )


def test_an_object_held_by_a_finalizer(k8s):
    k8s.create(configmap("held", finalizers=["example.com/hold"]))
"""
)

INTERRUPTED = (
    COMMON
    + """

def test_interrupted_while_running(k8s, suite_namespace):
    k8s.create(configmap("made-before-sigterm"))
    k8s.create(configmap("made-before-sigterm"), namespace=suite_namespace)
    (HERE / "created").write_text("")
    time.sleep(120)


def test_never_runs(k8s):
    k8s.create(configmap("made-after-sigterm"))
"""
)

RULES = [
    {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "verbs": ["create", "get", "list", "delete", "patch", "update"],
    },
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create", "get", "delete"]},
]


def _get(cp: ControlPlane, path: str) -> dict[str, Any] | None:
    with cp.admin_client() as admin:
        response = admin.get(path)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def _configmap(cp: ControlPlane, namespace: str, name: str) -> dict[str, Any] | None:
    return _get(cp, f"/api/v1/namespaces/{namespace}/configmaps/{name}")


def _release(cp: ControlPlane, namespace: str, name: str) -> None:
    """Remove the test finalizer so the held ConfigMap can finally go."""
    with cp.admin_client() as admin:
        admin.patch(
            f"/api/v1/namespaces/{namespace}/configmaps/{name}",
            json={"metadata": {"finalizers": None}},
            headers={"Content-Type": "application/merge-patch+json"},
        )


@dataclass
class CleanupRun:
    cp: ControlPlane
    namespace: str
    suite_namespace: str
    bystander_namespace: str
    before: dict[str, str]  # resourceVersion of what existed before the run
    run: Run


def _setup_runner(
    cp: ControlPlane, make_service_account: Callable[..., Path], stem: str
) -> tuple[Runner, str, str]:
    """A runner with cluster-wide configmap/namespace rights (so cleanup *could* do harm), a
    ConfigMap it did not create in its namespace, and a namespace it did not create."""
    namespace = f"{stem}-{uuid.uuid4().hex[:8]}"
    runner = Runner(cp, namespace, make_service_account(namespace, "runner"))
    runner.grant(RULES, cluster=True)
    bystander = f"bystander-{uuid.uuid4().hex[:8]}"
    post(cp, "/api/v1/namespaces", {"metadata": {"name": bystander}})
    post(cp, f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": "keep-me"}})
    return runner, bystander, f"suite-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def cleanup_run(
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> CleanupRun:
    cp = control_plane
    runner, bystander, suite_ns = _setup_runner(cp, make_service_account, "cleanup")
    kept = _configmap(cp, runner.namespace, "keep-me")
    other = _get(cp, f"/api/v1/namespaces/{bystander}")
    assert kept is not None
    assert other is not None
    before = {
        "keep-me": kept["metadata"]["resourceVersion"],
        "bystander": other["metadata"]["resourceVersion"],
    }
    suite_dir = write_suite(
        tmp_path_factory.mktemp("cleanup") / "suite", {"test_objects.py": SUITE}
    )
    run = run_pytest(suite_dir, *runner.args(), env={"SUITE_NAMESPACE": suite_ns}, timeout=180)
    if _configmap(cp, runner.namespace, "held") is not None:
        _release(cp, runner.namespace, "held")
    return CleanupRun(cp, runner.namespace, suite_ns, bystander, before, run)


def test_the_run_ends_promptly_with_the_failure_reported(cleanup_run: CleanupRun) -> None:
    run = cleanup_run.run
    assert run.ret == 1, run.describe()
    assert "fails on purpose" in run.section("test_a_failing_test_is_cleaned_up_too")
    # The finalizer-held object is waited for at most 10 s; the namespace not at all.
    assert run.duration < 45, run.describe()


def test_objects_created_by_tests_are_gone_even_after_a_failure(cleanup_run: CleanupRun) -> None:
    cp, ns = cleanup_run.cp, cleanup_run.namespace
    for name in ("made-by-a-failing-test", "made-by-apply"):
        assert _configmap(cp, ns, name) is None, name


def test_an_object_held_by_a_finalizer_was_deleted_without_blocking(
    cleanup_run: CleanupRun,
) -> None:
    calls = cleanup_run.run.calls()
    deletes = [
        c
        for c in calls
        if c["method"] == "DELETE"
        and c["path"].endswith(f"/{cleanup_run.namespace}/configmaps/held")
    ]
    assert [c["status"] for c in deletes] == [200], deletes


def test_nothing_the_suite_did_not_create_is_touched(cleanup_run: CleanupRun) -> None:
    cp, ns = cleanup_run.cp, cleanup_run.namespace
    kept = _configmap(cp, ns, "keep-me")
    assert kept is not None
    assert kept["metadata"]["resourceVersion"] == cleanup_run.before["keep-me"]
    bystander = _get(cp, f"/api/v1/namespaces/{cleanup_run.bystander_namespace}")
    assert bystander is not None
    assert "deletionTimestamp" not in bystander["metadata"]
    assert bystander["metadata"]["resourceVersion"] == cleanup_run.before["bystander"]
    uids = json.loads((cleanup_run.run.directory / "uids.json").read_text())
    recreated = _configmap(cp, ns, "recreated")
    assert recreated is not None, "cleanup deleted an object someone else re-created"
    assert recreated["metadata"]["uid"] == uids["theirs"] != uids["mine"]


def test_a_session_namespace_lives_for_the_session_and_is_left_terminating(
    cleanup_run: CleanupRun,
) -> None:
    run = cleanup_run.run
    assert run.outcomes() == {"failed": 1, "passed": 5}, run.describe()
    namespace = _get(cleanup_run.cp, f"/api/v1/namespaces/{cleanup_run.suite_namespace}")
    assert namespace is not None
    assert namespace["metadata"].get("deletionTimestamp"), namespace["metadata"]
    assert namespace["status"]["phase"] == "Terminating"


def test_sigterm_mid_test_cleans_up_and_stops_promptly(
    control_plane: ControlPlane, make_service_account: Callable[..., Path], tmp_path: Path
) -> None:
    cp = control_plane
    runner, _, suite_ns = _setup_runner(cp, make_service_account, "sigterm")
    suite_dir = write_suite(tmp_path / "suite", {"test_interrupted.py": INTERRUPTED})
    running = Running(suite_dir, *runner.args(), env={"SUITE_NAMESPACE": suite_ns})
    try:
        wait_for_file(suite_dir / "created", 60, running)
        signalled = time.monotonic()
        running.signal(signal.SIGTERM)
        run = running.wait(timeout=60)
    finally:
        running.stop()
    assert time.monotonic() - signalled < 20, run.describe()
    assert run.ret == 2, run.describe()  # pytest's "interrupted"
    assert "Traceback" not in run.output, run.describe()
    assert _configmap(cp, runner.namespace, "made-before-sigterm") is None
    assert _configmap(cp, suite_ns, "made-before-sigterm") is None
    assert _configmap(cp, runner.namespace, "made-after-sigterm") is None
    namespace = _get(cp, f"/api/v1/namespaces/{suite_ns}")
    assert namespace is not None
    assert namespace["metadata"].get("deletionTimestamp"), "the session's namespace was kept"
    assert _configmap(cp, runner.namespace, "keep-me") is not None
