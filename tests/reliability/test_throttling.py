"""Scenario 2: throttling (429 + Retry-After), 503 and connection resets, behind the fault proxy.

The proxy (the only non-real part, see faultproxy.py) answers selected requests with a scripted
fault and forwards everything else to the real API server. One inner run covers every case;
each inner test uses its own label selector or field manager so exactly its requests are hit.
What must hold:

* idempotent requests (GET) are retried after 429 with ``Retry-After`` (waiting at least that
  long), after 503, and after a reset connection, and then succeed;
* a POST is never retried blindly: not after 503, not after a reset, not after a 429 without
  ``Retry-After``; only a 429 *with* ``Retry-After`` (API Priority and Fairness rejected it
  before running it) is retried;
* retries are bounded: at most ``--incluster-retries`` extra attempts, and no wait that would
  overrun the request's deadline (a ``Retry-After: 3600`` is not slept);
* every attempt is in the call log with its attempt number, and the pytest-html report shows
  those rows.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.cluster import MakeProxy, Runner
from tests.reliability.faultproxy import Fault, Reset, throttle, unavailable
from tests.reliability.suite import run_pytest, write_suite
from tests.support.htmlreport import read_report

pytestmark = pytest.mark.controlplane

SUITE = """
import time

import pytest

from pytest_incluster.client import ApiUnreachable, ServerError, TooManyRequests


def configmaps(k8s):
    return f"/api/v1/namespaces/{k8s.namespace}/configmaps"


def listing(k8s, case):
    return k8s.get(configmaps(k8s), params={"labelSelector": case, "limit": "1"})


def create(k8s, case):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": case}}
    return k8s.post(configmaps(k8s), params={"fieldManager": case}, json=body)


def test_get_429_with_retry_after_is_retried(k8s):
    started = time.monotonic()
    assert listing(k8s, "get-429").status_code == 200
    assert time.monotonic() - started >= 2.0, "Retry-After: 1 was not honoured twice"


def test_get_503_is_retried(k8s):
    assert listing(k8s, "get-503").status_code == 200


def test_get_reset_is_retried(k8s):
    assert listing(k8s, "get-reset").status_code == 200


def test_post_503_is_not_retried(k8s):
    with pytest.raises(ServerError):
        create(k8s, "post-503")


def test_post_reset_is_not_retried(k8s):
    with pytest.raises(ApiUnreachable, match="cannot reach the API server at"):
        create(k8s, "post-reset")


def test_post_429_without_retry_after_is_not_retried(k8s):
    with pytest.raises(TooManyRequests):
        create(k8s, "post-throttle-bare")


def test_post_429_with_retry_after_is_retried(k8s):
    assert create(k8s, "post-throttle-ra").status_code == 201


def test_retries_are_bounded(k8s):
    started = time.monotonic()
    with pytest.raises(ServerError):
        listing(k8s, "always-503")
    assert time.monotonic() - started < 6.0


def test_retry_after_beyond_the_deadline_is_not_slept(k8s):
    started = time.monotonic()
    with pytest.raises(TooManyRequests):
        listing(k8s, "retry-after-hour")
    assert time.monotonic() - started < 3.0
"""

CONFIGMAP_RULES = [
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create"]}
]


def _attempts(calls: list[dict[str, Any]], marker: str) -> list[tuple[int, int | None]]:
    """(attempt, status) of the calls whose path contains ``marker``, in order."""
    return [(c["attempt"], c["status"]) for c in calls if marker in c["path"]]


def test_throttling_and_server_errors_are_retried_only_when_safe(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    runner.grant(CONFIGMAP_RULES)
    proxy = make_proxy()
    proxy.script(
        Fault(throttle(retry_after=1), path="labelSelector=get-429", times=2),
        Fault(unavailable(), path="labelSelector=get-503", times=2),
        Fault(Reset(), path="labelSelector=get-reset", times=1),
        Fault(unavailable(), path="fieldManager=post-503", method="POST", times=5),
        Fault(Reset(), path="fieldManager=post-reset", method="POST", times=5),
        Fault(throttle(retry_after=None), path="fieldManager=post-throttle-bare", times=5),
        Fault(
            throttle(retry_after=1), path="fieldManager=post-throttle-ra", method="POST", times=1
        ),
        Fault(unavailable(), path="labelSelector=always-503", times=100),
        Fault(throttle(retry_after=3600), path="labelSelector=retry-after-hour", times=100),
    )
    write_suite(suite_dir, {"test_faults.py": SUITE})
    run = run_pytest(
        suite_dir,
        *runner.args(proxy.url, proxy.ca_file, retries="3", timeout="10"),
        "--html=report.html",
    )
    assert run.ret == 0, run.describe()
    assert run.outcomes() == {"passed": 9}, run.describe()
    calls = run.calls()

    # Idempotent GETs: retried, then answered by the real server.
    assert _attempts(calls, "labelSelector=get-429") == [(1, 429), (2, 429), (3, 200)]
    assert _attempts(calls, "labelSelector=get-503") == [(1, 503), (2, 503), (3, 200)]
    assert _attempts(calls, "labelSelector=get-reset") == [(1, None), (2, 200)]
    # POSTs: one attempt each, unless the server said when to come back.
    for case, status in (("post-503", 503), ("post-reset", None), ("post-throttle-bare", 429)):
        assert _attempts(calls, f"fieldManager={case}") == [(1, status)], case
        assert len(proxy.seen_for(f"fieldManager={case}", "POST")) == 1, case
    assert _attempts(calls, "fieldManager=post-throttle-ra") == [(1, 429), (2, 201)]
    # Bounded: retries + 1 attempts at most, and a one-hour Retry-After is not waited for.
    assert _attempts(calls, "labelSelector=always-503") == [(n, 503) for n in (1, 2, 3, 4)]
    assert _attempts(calls, "labelSelector=retry-after-hour") == [(1, 429)]

    # The report shows every attempt, numbered.
    _, data = read_report(suite_dir / "report.html")
    rows = defaultdict(str)
    for nodeid, entries in data["tests"].items():
        rows[nodeid] = " ".join(str(e.get("log", "")) for e in entries)
    log = rows["test_faults.py::test_get_429_with_retry_after_is_retried"]
    assert "<td>429</td>" in log
    assert "<td>429 (attempt 2)</td>" in log
    assert "<td>200 (attempt 3)</td>" in log
    log = rows["test_faults.py::test_get_reset_is_retried"]
    assert "<td>no response</td>" in log
    assert "<td>200 (attempt 2)</td>" in log
