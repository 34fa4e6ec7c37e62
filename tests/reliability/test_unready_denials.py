"""A "no" from an API server that is not ready yet is never counted as a verdict.

A restarted kube-apiserver opens its port before its RBAC informers have synced, and for that
moment answers a SelfSubjectAccessReview with ``allowed: false`` (no reason, no evaluation
error) and a real request with the authorizer's ``403 ... User "x" cannot list ...``: answers
indistinguishable from real denials, while ``/readyz`` says ``informer-sync failed``. (Observed
on v1.37.2 by restarting it under load; the chaos soak in tests/soak does that for real.)

The window lasts milliseconds, so these tests replay it: the fault proxy stands in for a server
that is still starting (``Starting`` below; every answer it gives is one the real server gave
during a restart) until its ``/readyz`` has been asked a few times, and forwards to the real
server from then on. Before the fix the plugin counted the first answers: an entry the runner is
allowed failed as "forbidden" and a deliberately wrong ``forbidden:`` entry passed. Now the
plugin confirms readiness with ``/readyz`` and asks again, so every verdict is the real server's;
a server that never says ready leaves the entries undecided ("could not decide").
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.reliability.cluster import MakeProxy, Runner
from tests.reliability.faultproxy import Action, FaultProxy, Respond
from tests.reliability.suite import Run, Running, wait_for_file, write_suite

pytestmark = pytest.mark.controlplane

GRANT = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
# What v1.37.2 answered during a restart (see the module doc).
NOT_READY = (
    b"[+]ping ok\n[+]log ok\n[+]etcd ok\n[+]etcd-readiness ok\n"
    b"[-]informer-sync failed: reason withheld\n"
    b"[+]poststarthook/start-apiserver-admission-initializer ok\n"
    b"[-]poststarthook/rbac/bootstrap-roles failed: reason withheld\n"
    b"readyz check failed\n"
)
UNSYNCED_REVIEW = json.dumps(
    {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": {},
        "status": {"allowed": False},
    }
).encode()


def unsynced_403(user: str, namespace: str, resource: str) -> bytes:
    message = (
        f'{resource} is forbidden: User "{user}" cannot list resource "{resource}" in API '
        f'group "" in the namespace "{namespace}"'
    )
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "Forbidden",
            "details": {"kind": resource},
            "code": 403,
        }
    ).encode()


class Starting:
    """The proxy's chaos function: once :meth:`restart` has dropped every client connection, a
    server that is starting until ``/readyz`` was asked ``polls`` times (None: never); then the
    real server behind the proxy again."""

    def __init__(self, runner: Runner, polls: int | None) -> None:
        self.runner = runner
        self.polls = polls
        self.started = False
        self.asked = 0
        self.lock = threading.Lock()

    def restart(self, proxy: FaultProxy) -> None:
        """As a restart does: every connection is gone, and the new process is not ready."""
        with self.lock:
            self.started = True
        proxy.drop_connections()

    def __call__(self, method: str, target: str) -> Action | None:
        with self.lock:
            if not self.started or (self.polls is not None and self.asked >= self.polls):
                return None
            if target.startswith("/readyz"):
                self.asked += 1
                return Respond(500, NOT_READY, (("Content-Type", "text/plain"),))
        if "/selfsubjectaccessreviews" in target:
            return Respond(201, UNSYNCED_REVIEW)
        prefix = f"/api/v1/namespaces/{self.runner.namespace}/"
        if target.startswith(prefix):
            resource = target[len(prefix) :].split("?")[0].split("/")[0]
            body = unsynced_403(self.runner.username, self.runner.namespace, resource)
            return Respond(403, body)
        return None


# Runs first (files are collected in name order): holds the session while the outer test
# "restarts" the server behind the proxy, after the header's own requests and before any check.
RESTART_SUITE = """
import time
from pathlib import Path

HERE = Path(__file__).parent


def test_the_server_restarts_now():
    (HERE / "header-done").write_text("")
    deadline = time.monotonic() + 60
    while not (HERE / "restarted").exists():
        assert time.monotonic() < deadline, "the outer test never restarted the server"
        time.sleep(0.05)
"""


REVIEW_ACCESS = """
allowed:
  - list configmaps
  - get configmaps
forbidden:
  - list secrets
  - watch configmaps   # planted: the runner may watch them, so this entry must fail
"""

REQUEST_ACCESS = """
mode: request
allowed:
  - list configmaps
forbidden:
  - list secrets
"""


def _run(
    runner: Runner,
    make_proxy: MakeProxy,
    suite_dir: Path,
    access: str | None,
    starting: Starting,
    **options: str,
) -> Run:
    files = {"test_0_restart.py": RESTART_SUITE}
    if access is not None:
        files["unready.access.yaml"] = access
    write_suite(suite_dir, files)
    proxy = make_proxy(per_connection_upstream=True)
    proxy.chaos = starting
    running = Running(suite_dir, *runner.args(proxy.url, proxy.ca_file, **options), "-v")
    try:
        wait_for_file(suite_dir / "header-done", 60, running)
        starting.restart(proxy)
        (suite_dir / "restarted").write_text("")
        return running.wait(timeout=120)
    finally:
        running.stop()


def test_review_answers_from_a_starting_server_are_confirmed_before_they_count(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    runner.grant(GRANT)
    starting = Starting(runner, polls=3)
    run = _run(runner, make_proxy, suite_dir, REVIEW_ACCESS, starting)
    assert run.outcomes() == {"passed": 4, "failed": 1}, run.describe()
    assert "unready.access.yaml::self::allowed::list configmaps PASSED" in run.stdout
    assert "unready.access.yaml::self::allowed::get configmaps PASSED" in run.stdout
    assert "unready.access.yaml::self::forbidden::list secrets PASSED" in run.stdout
    # The planted entry fails for the right reason: the server (once ready) allows it.
    section = run.section("watch configmaps")
    assert "expected forbidden, was allowed: RBAC: allowed by RoleBinding" in section, section
    assert starting.asked == 3
    # The first answers came before /readyz said ok; the call log shows them asked again.
    calls = [(c["method"], c["path"].split("?")[0], c["status"]) for c in run.calls()]
    readyz = [status for _, path, status in calls if path == "/readyz"]
    assert readyz.count(500) == 3, calls
    assert readyz[-1] == 200, calls


def test_request_answers_from_a_starting_server_are_confirmed_before_they_count(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    runner.grant(GRANT)
    starting = Starting(runner, polls=2)
    # One check at a time: the first one meets the starting server, whichever it is.
    run = _run(
        runner,
        make_proxy,
        suite_dir,
        REQUEST_ACCESS,
        starting,
        concurrency="1",
    )
    assert run.ret == 0, run.describe()
    assert run.outcomes() == {"passed": 3}, run.describe()
    prefix = f"/api/v1/namespaces/{runner.namespace}/configmaps"
    statuses = [c["status"] for c in run.calls() if c["path"].startswith(prefix)]
    # The starting server's 403 was not counted; the ready server's answer was.
    assert statuses == [403, 200], statuses
    assert starting.asked == 2


def test_a_server_that_never_says_ready_leaves_denials_undecided(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    runner.grant(GRANT)
    access = "allowed: [list configmaps]\nforbidden: [list secrets]\n"
    run = _run(
        runner,
        make_proxy,
        suite_dir,
        access,
        Starting(runner, polls=None),
        timeout="3",
    )
    assert run.outcomes() == {"passed": 1, "failed": 2}, run.describe()
    assert "Traceback" not in run.output
    for entry in ("list configmaps", "list secrets"):
        section = run.section(entry)
        assert (
            f"could not decide '{entry}': POST /apis/authorization.k8s.io/v1/"
            "selfsubjectaccessreviews -> 201: not counted as a denial, because the API server did "
            "not confirm that it was ready (GET /readyz answered 500: informer-sync failed: reason "
            "withheld; poststarthook/rbac/bootstrap-roles failed: reason withheld)"
        ) in section, section


MARKED_SUITE = """
import pytest


@pytest.mark.expect_forbidden(verb="list", resource="secrets")
def test_cannot_list_secrets(k8s, k8s_namespace):
    k8s.get(f"/api/v1/namespaces/{k8s_namespace}/secrets")
"""


def test_an_expect_forbidden_test_meeting_an_unconfirmed_no_fails_with_one_paragraph(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    runner.grant(GRANT)
    write_suite(suite_dir, {"test_1_marked.py": MARKED_SUITE})
    run = _run(runner, make_proxy, suite_dir, None, Starting(runner, polls=None), timeout="3")
    assert run.outcomes() == {"passed": 1, "failed": 1}, run.describe()
    section = run.section("test_cannot_list_secrets")
    assert "Traceback" not in section, section
    assert "raise " not in section, section
    assert (
        "could not decide: expected 403 Forbidden (verb=list, resource=secrets), but GET "
        f"/api/v1/namespaces/{runner.namespace}/secrets -> 403: not counted as a denial, because "
        "the API server did not confirm that it was ready"
    ) in section, section
