"""Scenario: the cluster is gone, and maybe comes back.

* A server that accepts connections and never answers (a ``SilentListener``: the one part here
  a real server cannot be made to do on demand): with the default options, the header's request
  and the first test's each wait for the connect timeout once; then the API server has been
  found unreachable ``--incluster-unreachable-after`` (2) times in a row, and the remaining
  tests error at once with the same message, without a connection. With the option at 0 every
  request is sent again.
* The real kube-apiserver stopped, then started again: the first requests are refused, the
  next fail without being sent, and once the server is back the next test uses it again.

The counts of connections and of attempts in the call log are the evidence, not durations.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.reliability.cluster import Runner
from tests.reliability.suite import Running, wait_for_file, write_suite
from tests.support.certs import self_signed_ca
from tests.support.listener import SilentListener

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

THREE_TESTS = """
def test_list_configmaps(k8s):
    k8s.get(f"/api/v1/namespaces/{k8s.namespace}/configmaps")


def test_whoami(k8s):
    k8s.whoami()


def test_read_version(k8s):
    k8s.get("/version")
"""

NOT_SENT = (
    "; not sent: the last {n} requests got no answer, so requests fail at once until the server "
    "answers again; it is tried again 5 s after the last attempt (--incluster-unreachable-after)"
)


def _silent_args(tmp_path: Path, url: str, *extra: str) -> list[str]:
    token = tmp_path / "token"
    token.write_text("silent-server-token-0123456789")
    ca = tmp_path / "ca.crt"
    ca.write_bytes(self_signed_ca("silent-ca")[0])
    return [
        f"--incluster-server={url}",
        f"--incluster-token-file={token}",
        f"--incluster-ca-file={ca}",
        "--incluster-namespace=default",
        *extra,
    ]


def _error_line(section: str) -> str:
    """The ``E   ...ApiUnreachable: <message>`` line of a failure section, without the prefix."""
    lines = [line for line in section.splitlines() if "ApiUnreachable: " in line]
    assert lines, section
    return lines[0].split("ApiUnreachable: ", 1)[1]


def test_a_silent_server_is_given_up_on_after_two_requests(suite_dir: Path, tmp_path: Path) -> None:
    write_suite(suite_dir, {"test_gone.py": THREE_TESTS})
    with SilentListener() as silent:
        running = Running(suite_dir, *_silent_args(tmp_path, silent.url))
        try:
            run = running.wait(timeout=120)
        finally:
            running.stop()
        connections = silent.connections
    assert run.ret == 1, run.describe()
    assert run.outcomes() == {"failed": 3}, run.describe()
    assert "Traceback" not in run.output
    # The header's /version, then the first test's request; nothing after that.
    assert connections == 2, run.describe()
    first = _error_line(run.section("test_list_configmaps"))
    assert first.startswith(f"cannot reach the API server at {silent.url} (ConnectTimeout: ")
    assert "not sent" not in first
    for name in ("test_whoami", "test_read_version"):
        assert _error_line(run.section(name)) == first + NOT_SENT.format(n=2), run.describe()
    calls = run.calls()
    assert [(c["path"], c["attempt"], c["status"]) for c in calls] == [
        ("/version", 1, None),
        ("/api/v1/namespaces/default/configmaps", 1, None),
    ]


def test_with_unreachable_after_zero_every_request_is_sent(suite_dir: Path, tmp_path: Path) -> None:
    write_suite(suite_dir, {"test_gone.py": THREE_TESTS})
    with SilentListener() as silent:
        args = _silent_args(
            tmp_path, silent.url, "--incluster-unreachable-after=0", "--incluster-timeout=1"
        )
        running = Running(suite_dir, *args)
        try:
            run = running.wait(timeout=120)
        finally:
            running.stop()
        connections = silent.connections
    assert run.outcomes() == {"failed": 3}, run.describe()
    assert connections == 4, run.describe()
    assert "not sent" not in run.output


COMES_BACK = """
import time
from pathlib import Path

import pytest
from pytest_incluster.client import ApiUnreachable

HERE = Path(__file__).parent


def test_1_refused(k8s):
    k8s.get("/version")


def test_2_not_sent(k8s):
    k8s.get("/version")


def test_3_used_again_once_back(k8s):
    (HERE / "down").write_text("")
    deadline = time.monotonic() + 120
    while not (HERE / "restarted").exists():
        assert time.monotonic() < deadline, "the outer test never restarted the API server"
        time.sleep(0.05)
    refused = []
    while True:
        try:
            k8s.get("/version")
            break
        except ApiUnreachable as exc:
            refused.append(exc)
            assert time.monotonic() < deadline, refused[-1]
            time.sleep(0.2)
    (HERE / "refused-while-waiting").write_text(str(len(refused)))
    assert all(not exc.sent for exc in refused), [str(exc) for exc in refused]


def test_4_the_suite_goes_on(k8s):
    assert k8s.get(f"/api/v1/namespaces/{k8s.namespace}/configmaps").status_code == 200
"""

READ_CONFIGMAPS = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]


@pytest.fixture
def comeback_runner(restartable_control_plane: ControlPlane, tmp_path: Path) -> Runner:
    """ServiceAccount ``comeback-test/runner`` on the restartable control plane."""
    from pytest_incluster.local.provision import write_pod_dir
    from tests.reliability.cluster import grant

    cp = restartable_control_plane
    cp.start_apiserver()  # a no-op unless an earlier test left it stopped
    sa_dir = write_pod_dir(cp, "comeback-test", "runner", tmp_path / "sa", create=True)
    grant(cp, "comeback-test", ("comeback-test", "runner"), READ_CONFIGMAPS)
    return Runner(cp, "comeback-test", sa_dir)


def test_a_stopped_server_is_given_up_on_and_used_again_when_it_is_back(
    restartable_control_plane: ControlPlane, comeback_runner: Runner, suite_dir: Path
) -> None:
    cp = restartable_control_plane
    write_suite(suite_dir, {"test_comeback.py": COMES_BACK})
    cp.stop_apiserver()
    running = Running(suite_dir, *comeback_runner.args(retries="1"))
    try:
        wait_for_file(suite_dir / "down", 120, running)
        cp.start_apiserver()
        (suite_dir / "restarted").write_text("")
        run = running.wait(timeout=180)
    finally:
        running.stop()
        cp.start_apiserver()
    assert run.ret == 1, run.describe()
    assert run.outcomes() == {"failed": 2, "passed": 2}, run.describe()
    refused = (
        f"cannot reach the API server at {cp.server} (ConnectError: [Errno 111] Connection refused)"
    )
    assert _error_line(run.section("test_1_refused")) == refused, run.describe()
    assert _error_line(run.section("test_2_not_sent")) == refused + NOT_SENT.format(n=2)
    # The server was tried again only after the interval: what test 3 asked before that was
    # refused without a connection, and its first request that was sent got the answer.
    attempts = [
        (c["path"], c["status"])
        for c in run.calls()
        if c["test_id"] == "test_comeback.py::test_3_used_again_once_back"
    ]
    assert attempts == [("/version", 200)], attempts
