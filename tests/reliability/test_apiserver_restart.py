"""Scenario 1: kube-apiserver goes away during a run.

* Restarted mid-suite (``ControlPlane.stop_apiserver()``/``start_apiserver()``, same port, same
  certificates, etcd untouched): requests in flight fail to connect, are retried within their
  deadline (``--incluster-timeout``), and the suite passes. That includes requests that reach
  the new process in the moment after it opens its port and before it is ready: it then answers
  403 (its RBAC caches are still empty), which after a lost connection means "not ready", not
  "forbidden". The call log shows attempts that got no response followed by their next attempt.
* Gone for longer than the deadline: every test fails with ``cannot reach the API server at URL
  (...)`` and the run ends within a bound computed from the configured timeout and retries.
* Accepting connections but never answering (the fault proxy's ``Hang``: the one case here a
  real server cannot be made to do on demand): a request fails after the configured timeout and
  is not retried (a read timeout may mean the request ran); after two such requests in a row
  (``--incluster-unreachable-after``) the remaining tests fail at once without a request, so
  the run does not hang.

These use a control plane of their own (``restartable_control_plane``) so the restart cannot
disturb other tests; the hang case uses the shared one behind the proxy.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.reliability.cluster import MakeProxy, Runner, grant
from tests.reliability.faultproxy import Fault, Hang
from tests.reliability.suite import Running, run_pytest, wait_for_file, write_suite

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

DURING_RESTART = """
import threading
import time
from pathlib import Path

HERE = Path(__file__).parent
READERS = 6


def test_reads_survive_a_restart(k8s):
    # Several readers, so that some request is always in flight: during the outage, and in the
    # moments after the new process opens its port but before it is ready.
    path = f"/api/v1/namespaces/{k8s.namespace}/configmaps"
    errors = []
    stop = threading.Event()

    def read():
        while not stop.is_set():
            try:
                k8s.get(path, params={"limit": "1"})
            except Exception as exc:
                errors.append(str(exc))
                return
            time.sleep(0.02)

    readers = [threading.Thread(target=read) for _ in range(READERS)]
    for reader in readers:
        reader.start()
    (HERE / "ready").write_text("")
    deadline = time.monotonic() + 180
    while not (HERE / "restarted").exists() and time.monotonic() < deadline and not errors:
        time.sleep(0.05)
    time.sleep(1.0)  # and a little longer against the restarted server
    stop.set()
    for reader in readers:
        reader.join()
    assert not errors, errors
    assert (HERE / "restarted").exists(), "the outer test never restarted the API server"


def test_the_suite_goes_on_after_the_restart(k8s):
    assert k8s.get(f"/api/v1/namespaces/{k8s.namespace}/configmaps").status_code == 200
"""

UNREACHABLE = """
def test_list_configmaps(k8s):
    k8s.get(f"/api/v1/namespaces/{k8s.namespace}/configmaps")


def test_whoami(k8s):
    k8s.whoami()


def test_read_version(k8s):
    k8s.get("/version")
"""

READ_CONFIGMAPS = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]


@pytest.fixture
def restart_runner(restartable_control_plane: ControlPlane, tmp_path: Path) -> Runner:
    """ServiceAccount ``restart-test/runner`` on the restartable control plane."""
    from pytest_incluster.local.provision import write_pod_dir

    cp = restartable_control_plane
    cp.start_apiserver()  # a no-op unless an earlier test left it stopped
    sa_dir = write_pod_dir(cp, "restart-test", "runner", tmp_path / "sa", create=True)
    grant(cp, "restart-test", ("restart-test", "runner"), READ_CONFIGMAPS)
    return Runner(cp, "restart-test", sa_dir)


def test_requests_in_flight_survive_an_apiserver_restart(
    restartable_control_plane: ControlPlane, restart_runner: Runner, suite_dir: Path
) -> None:
    cp = restartable_control_plane
    write_suite(suite_dir, {"test_restart.py": DURING_RESTART})
    # Retries back off 0.25 s, 0.5 s, ... up to 5 s each (jittered down to half): 15 retries
    # cover at least ~29 s of outage, inside the 60 s deadline of each request.
    running = Running(suite_dir, *restart_runner.args(retries="15", timeout="60"))
    try:
        wait_for_file(suite_dir / "ready", 60, running)
        time.sleep(0.5)  # requests are flowing
        down = time.monotonic()
        cp.stop_apiserver()
        time.sleep(1.0)  # requests now meet a closed port
        cp.start_apiserver()
        outage = time.monotonic() - down
        (suite_dir / "restarted").write_text("")
        run = running.wait(timeout=180)
    finally:
        running.stop()
    assert run.ret == 0, run.describe()
    assert run.outcomes() == {"passed": 2}, run.describe()
    calls = run.calls()
    lost = [c for c in calls if c["status"] is None]
    assert lost, f"no request met the outage ({outage:.1f}s); the test proved nothing"
    retried_ok = [c for c in calls if c["status"] == 200 and c["attempt"] > 1]
    assert retried_ok, "no request succeeded on a retry"
    # Every attempt that got no answer was followed by a next attempt of its request (readers
    # run concurrently, so count attempts instead of pairing them).
    lost_by_attempt = Counter(c["attempt"] for c in lost)
    sent_by_attempt = Counter(c["attempt"] for c in calls)
    for attempt, count in lost_by_attempt.items():
        assert sent_by_attempt[attempt + 1] >= count, (attempt, lost_by_attempt, sent_by_attempt)


def test_a_server_gone_for_longer_than_the_deadline_fails_fast(
    restartable_control_plane: ControlPlane, restart_runner: Runner, suite_dir: Path
) -> None:
    cp = restartable_control_plane
    write_suite(suite_dir, {"test_unreachable.py": UNREACHABLE})
    cp.stop_apiserver()
    run = run_pytest(suite_dir, *restart_runner.args(retries="3", timeout="2"), timeout=120)
    assert run.ret == 1, run.describe()
    assert run.outcomes() == {"failed": 3}, run.describe()
    assert "Traceback" not in run.output
    for name in ("test_list_configmaps", "test_whoami", "test_read_version"):
        section = run.section(name)
        assert f"cannot reach the API server at {cp.server} (" in section, section
    # Four request series (the header's, then one per test), each bounded by the 2 s deadline
    # (a refused connection is retried three times with at most 1.75 s of backoff), plus start-up.
    assert run.duration < 30, run.describe()


def test_a_server_that_never_answers_fails_after_the_timeout(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    runner.grant(READ_CONFIGMAPS)
    proxy = make_proxy()
    proxy.script(Fault(Hang(20), times=1000))
    write_suite(suite_dir, {"test_unreachable.py": UNREACHABLE})
    run = run_pytest(suite_dir, *runner.args(proxy.url, proxy.ca_file, timeout="2"), timeout=120)
    assert run.ret == 1, run.describe()
    assert run.outcomes() == {"failed": 3}, run.describe()
    assert "Traceback" not in run.output
    for name in ("test_list_configmaps", "test_whoami", "test_read_version"):
        section = run.section(name)
        assert f"cannot reach the API server at {proxy.url} (ReadTimeout" in section, section
    # A read timeout is never retried: the header's /version and the first test's request each
    # waited once; the other two tests were failed without a request.
    assert len(proxy.received) == 2, proxy.received
    for name in ("test_whoami", "test_read_version"):
        assert "; not sent: the last 2 requests got no answer" in run.section(name)
    # Two requests of at most 2 s each, plus start-up: far below the 20 s the server hangs.
    assert run.duration < 25, run.describe()
