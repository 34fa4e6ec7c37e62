"""Scenario 9: a 5,000-entry access matrix under ``pytest -n 2``.

One access file lists 25 namespaced resource types x 8 verbs x 25 namespaces = 5,000 entries for
the runner, which may read everything (get/list/watch, cluster-wide) and write nothing; each
entry's expectation is set accordingly. The run reaches the real API server through a TCP relay
(relay.py) that only counts connections, which is how the client-side limit is measured from
outside the client.

* every entry passes, nothing errors;
* the real API server never answered 429 (API Priority and Fairness did not reject anything):
  the client's call log holds no 429, and the server's own
  ``apiserver_flowcontrol_rejected_requests_total`` did not grow;
* ``--incluster-concurrency=4`` holds: with two worker processes at most 2 x 4 connections
  (so at most 2 x 4 HTTP/1.1 requests in flight) were ever open at once.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.reliability.cluster import Runner
from tests.reliability.relay import TcpRelay
from tests.reliability.suite import run_pytest, write_suite

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

RESOURCES = (
    "pods",
    "configmaps",
    "secrets",
    "services",
    "serviceaccounts",
    "endpoints",
    "persistentvolumeclaims",
    "replicationcontrollers",
    "resourcequotas",
    "limitranges",
    "podtemplates",
    "deployments.apps",
    "statefulsets.apps",
    "daemonsets.apps",
    "replicasets.apps",
    "controllerrevisions.apps",
    "jobs.batch",
    "cronjobs.batch",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "networkpolicies.networking.k8s.io",
    "ingresses.networking.k8s.io",
    "poddisruptionbudgets.policy",
    "leases.coordination.k8s.io",
    "endpointslices.discovery.k8s.io",
)
READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
NAMESPACES = tuple(f"load-{i:02d}" for i in range(25))
WORKERS = 2
CONCURRENCY = 4

_REJECTED = re.compile(r"^apiserver_flowcontrol_rejected_requests_total\{[^}]*\} (\S+)$", re.M)


def access_file() -> str:
    """The 5,000-entry document (reads allowed, writes forbidden)."""
    allowed: list[str] = []
    forbidden: list[str] = []
    for verb, resource, namespace in itertools.product(READ + WRITE, RESOURCES, NAMESPACES):
        (allowed if verb in READ else forbidden).append(f"  - {verb} {resource} -n {namespace}")
    assert len(allowed) + len(forbidden) == 5000
    return "allowed:\n" + "\n".join(allowed) + "\nforbidden:\n" + "\n".join(forbidden) + "\n"


def rejected_total(cp: ControlPlane) -> float:
    """Sum of API Priority and Fairness rejections since the server started."""
    with cp.admin_client() as admin:
        text = admin.get("/metrics").text
    return sum(float(value) for value in _REJECTED.findall(text))


def test_five_thousand_entries_under_xdist(runner: Runner, suite_dir: Path) -> None:
    runner.grant([{"apiGroups": ["*"], "resources": ["*"], "verbs": list(READ)}], cluster=True)
    write_suite(suite_dir, {"runner.access.yaml": access_file()})
    rejected_before = rejected_total(runner.cp)
    with TcpRelay("127.0.0.1", runner.cp.apiserver_port) as relay:
        run = run_pytest(
            suite_dir,
            *runner.args(relay.url, concurrency=str(CONCURRENCY)),
            "-n",
            str(WORKERS),
            "-q",
            timeout=400,
        )
    tail = run.describe()[-6000:]
    assert run.ret == 0, tail
    assert run.outcomes() == {"passed": 5000}, tail
    # No throttling anywhere.
    calls = run.calls()
    assert [c for c in calls if c["status"] == 429] == []
    assert rejected_total(runner.cp) == rejected_before
    reviews = sum(1 for c in calls if c["path"].endswith("/selfsubjectaccessreviews"))
    assert reviews >= 5000, reviews
    # Each worker asks only about the items it runs (plus at most a batch beyond), so the two
    # workers together do not ask every question twice.
    assert reviews < 5000 * 1.2, reviews
    # Never more connections (so requests in flight) than the limit, per worker.
    assert 2 <= relay.max_open <= WORKERS * CONCURRENCY, relay.max_open
