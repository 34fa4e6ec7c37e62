"""Scenario 4: ``k8s.wait_for_access`` waits for an RBAC change to take effect, within a bound.

The inner suite runs as ServiceAccount ``runner``, which may create RoleBindings and bind the
Role ``secret-reader`` (list secrets) but has no binding to it yet.

* A RoleBinding created while the wait is already polling (from a thread, 1.5 s in) makes the
  wait return the allowed decision, and the real request then succeeds.
* When that binding is deleted (the plugin's cleanup at the end of the test), waiting for
  ``allowed=False`` returns the forbidden decision.
* Waiting for something that never happens raises ``AccessWaitTimeout`` after about
  ``timeout`` seconds, carrying the last decision, and its message names the check, the last
  verdict, who was asked about, what was waited for and the last reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.cluster import Runner, post
from tests.reliability.suite import run_pytest, write_suite

pytestmark = pytest.mark.controlplane

SUITE = """
import threading
import time

import pytest

from pytest_incluster.client import AccessWaitTimeout


def binding(k8s):
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "runner-reads-secrets", "namespace": k8s.namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "secret-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": k8s.namespace}],
    }


def test_a_new_binding_is_waited_for(k8s):
    assert not k8s.check_access("list secrets")
    grant = threading.Timer(1.5, lambda: k8s.create(binding(k8s)))
    started = time.monotonic()
    grant.start()
    try:
        decision = k8s.wait_for_access("list secrets", allowed=True, timeout=30, interval=0.2)
    finally:
        grant.join()
    assert decision.allowed
    assert time.monotonic() - started >= 1.5, "the first decision was already 'allowed'"
    k8s.get(f"/api/v1/namespaces/{k8s.namespace}/secrets")


def test_a_removed_binding_is_waited_for(k8s):
    # The binding above was created through k8s.create, so the plugin deleted it when that
    # test ended.
    decision = k8s.wait_for_access("list secrets", allowed=False, timeout=30, interval=0.2)
    assert not decision.allowed


def test_waiting_in_vain_is_bounded(k8s):
    started = time.monotonic()
    with pytest.raises(AccessWaitTimeout) as info:
        k8s.wait_for_access("delete secrets", allowed=True, timeout=2, interval=0.25)
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 5, elapsed
    assert info.value.decision.allowed is False
    assert info.value.decision.request.verb == "delete"


def test_waiting_in_vain_fails_with_the_last_decision(k8s):
    k8s.wait_for_access("delete secrets", allowed=True, timeout=1, interval=0.25)
"""


def test_wait_for_access_follows_rbac_changes(runner: Runner, suite_dir: Path) -> None:
    ns = runner.namespace
    post(
        runner.cp,
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
        {
            "metadata": {"name": "secret-reader"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
        },
    )
    runner.grant(
        [
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["rolebindings"],
                "verbs": ["create", "get", "delete"],
            },
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["roles"],
                "verbs": ["bind"],
                "resourceNames": ["secret-reader"],
            },
        ]
    )
    write_suite(suite_dir, {"test_rbac.py": SUITE})
    run = run_pytest(suite_dir, *runner.args())
    assert run.outcomes() == {"passed": 3, "failed": 1}, run.describe()
    section = run.section("test_waiting_in_vain_fails_with_the_last_decision")
    assert "AccessWaitTimeout" in section, section
    assert (
        f"After 1s, 'delete secrets -n {ns}' is still forbidden for the runner (waited for "
        "allowed); last reason: " in section
    ), section
    assert "Traceback" not in run.output
    # The binding the first test created is gone.
    with runner.cp.admin_client() as admin:
        path = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"
        response = admin.get(f"{path}/runner-reads-secrets")
    assert response.status_code == 404
