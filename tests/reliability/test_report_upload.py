"""The report upload is as reliable as the tests' requests, and reaches the server the same way.

The upload (``--incluster-report-configmap``) is built like the tests' client: retries on 429
and 503 (waiting for ``Retry-After``), the same TLS settings, and ``--incluster-trust-env``'s
proxy. The faults come from the fault proxy (the only non-real part, see faultproxy.py: a real
kube-apiserver cannot be made to answer 429 or 503 on demand); the forward proxy is a real
``CONNECT`` proxy (tests/support/connectproxy.py) in front of an address nobody listens on, so
what arrives at all went through it.
"""

from __future__ import annotations

import gzip
from base64 import b64decode
from pathlib import Path
from typing import Any

import pytest

from pytest_incluster.report.upload import upload_report
from tests.reliability.cluster import MakeProxy, Runner
from tests.reliability.faultproxy import Fault, throttle, unavailable
from tests.reliability.suite import Run, run_pytest, write_suite
from tests.support.connectproxy import ConnectProxy

pytestmark = pytest.mark.controlplane

SUITE = """
def test_lists_configmaps(k8s):
    assert k8s.get(f"/api/v1/namespaces/{k8s.namespace}/configmaps").status_code == 200
"""

REPORT_RULES = [
    {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "verbs": ["get", "list", "create", "update", "delete"],
    }
]


REPORT_ARGS = ("--incluster-report-configmap=report", "--junitxml=junit.xml", "-p", "no:html")


def run_with_report(suite_dir: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """The one-test suite run with its report stored in the ConfigMap ``report``."""
    write_suite(suite_dir, {"test_lists.py": SUITE})
    return run_pytest(suite_dir, *args, *REPORT_ARGS, env=env)


def stored(runner: Runner, name: str = "report") -> dict[str, Any]:
    """The report's index ConfigMap as the admin reads it from the real server."""
    with runner.cp.admin_client() as admin:
        response = admin.get(f"/api/v1/namespaces/{runner.namespace}/configmaps/{name}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stored_junit(runner: Runner) -> str:
    return gzip.decompress(b64decode(stored(runner)["binaryData"]["junit.xml.gz"])).decode()


def outcomes(proxy: Any, path: str, method: str) -> list[str]:
    return [seen.outcome for seen in proxy.seen_for(path, method)]


def test_a_throttled_create_is_retried_after_retry_after_and_the_report_stored(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    runner.grant(REPORT_RULES)
    proxy = make_proxy()
    configmaps = f"/api/v1/namespaces/{runner.namespace}/configmaps"
    proxy.script(
        Fault(unavailable(), path=f"{configmaps}/report", method="GET", times=1),
        Fault(throttle(retry_after=1), path=configmaps, method="POST", times=1),
    )
    run = run_with_report(suite_dir, *runner.args(proxy.url, proxy.ca_file))
    assert run.ret == 0, run.describe()
    assert f"incluster: report stored in ConfigMap {runner.namespace}/report" in run.stdout
    assert "WARNING" not in run.output, run.describe()
    # The 503 to the first read and the 429 to the create were each asked again.
    assert outcomes(proxy, f"{configmaps}/report", "GET")[:2] == [
        "respond 503",
        "forwarded 404",
    ]
    assert outcomes(proxy, configmaps, "POST") == ["respond 429", "forwarded 201"]
    assert 'name="test_lists_configmaps"' in stored_junit(runner)


def test_a_replacement_answered_503_is_retried_and_the_report_stored(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path, tmp_path: Path
) -> None:
    runner.grant(REPORT_RULES)
    earlier = tmp_path / "earlier.xml"
    earlier.write_text("<testsuites>an earlier run</testsuites>")
    with runner.cp.admin_client() as admin:
        upload_report(admin, runner.namespace, "report", {"junit.xml": earlier})
    proxy = make_proxy()
    path = f"/api/v1/namespaces/{runner.namespace}/configmaps/report"
    proxy.script(Fault(unavailable(), path=path, method="PUT", times=2))
    run = run_with_report(suite_dir, *runner.args(proxy.url, proxy.ca_file))
    assert run.ret == 0, run.describe()
    assert f"incluster: report stored in ConfigMap {runner.namespace}/report" in run.stdout
    assert outcomes(proxy, path, "PUT") == ["respond 503", "respond 503", "forwarded 200"]
    assert 'name="test_lists_configmaps"' in stored_junit(runner)


def proxied_run(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path, *extra: str
) -> tuple[Run, ConnectProxy, Any]:
    """An inner run whose server address (127.0.0.2) only the CONNECT proxy can reach."""
    runner.grant(REPORT_RULES)
    server = make_proxy(hosts=("127.0.0.2",))  # forwards to the real server, no faults
    hidden = ("127.0.0.2", server.port)  # nothing listens there: only the route reaches it
    with ConnectProxy({hidden: ("127.0.0.1", server.port)}) as forward:
        run = run_with_report(
            suite_dir,
            *runner.args(f"https://127.0.0.2:{server.port}", server.ca_file, unreachable_after="1"),
            *extra,
            env={
                "HTTPS_PROXY": forward.url,
                "https_proxy": forward.url,
                "NO_PROXY": "",
                "no_proxy": "",
            },
        )
    return run, forward, server


def test_trust_env_sends_the_tests_and_the_upload_through_the_proxy(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    run, forward, server = proxied_run(runner, make_proxy, suite_dir, "--incluster-trust-env")
    assert run.ret == 0, run.describe()
    assert f"incluster: report stored in ConfigMap {runner.namespace}/report" in run.stdout
    assert set(forward.tunnels) == {f"127.0.0.2:{server.port}"}
    configmaps = f"/api/v1/namespaces/{runner.namespace}/configmaps"
    assert outcomes(server, configmaps, "POST") == ["forwarded 201"]
    assert 'name="test_lists_configmaps"' in stored_junit(runner)


def test_without_trust_env_neither_the_tests_nor_the_upload_use_the_proxy(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    run, forward, server = proxied_run(runner, make_proxy, suite_dir)
    assert run.ret == 1, run.describe()
    assert forward.tunnels == []
    assert server.seen == []
    assert "cannot reach the API server at https://127.0.0.2" in run.stdout
    assert "incluster WARNING: --incluster-report-configmap: cannot store the report" in (
        run.stdout
    )


def test_the_stored_report_says_which_run_it_was(runner: Runner, suite_dir: Path) -> None:
    """The index ConfigMap names the cluster, the suite version and the Job and pod, so a
    report fetched later is never mistaken for another cluster's or another suite's."""
    from pytest_incluster.report.run_context import suite_version

    runner.grant(REPORT_RULES)
    run = run_with_report(
        suite_dir,
        *runner.args(),
        env={
            "INCLUSTER_CLUSTER_NAME": "staging-eu",
            "INCLUSTER_JOB_NAME": "access-gate-7",
            "INCLUSTER_POD_NAME": "access-gate-7-x2x9k",
        },
    )
    assert run.ret == 0, run.describe()
    annotations = stored(runner)["metadata"]["annotations"]
    version = suite_version(suite_dir, [suite_dir / "test_lists.py"]).digest
    assert {k: v for k, v in annotations.items() if k.split("/")[1] in WHICH_RUN} == {
        "pytest-incluster.io/cluster": "staging-eu",
        "pytest-incluster.io/suite-version": version,
        "pytest-incluster.io/job": "access-gate-7",
        "pytest-incluster.io/pod": "access-gate-7-x2x9k",
    }
    assert f"incluster: suite version {version} (sha256 of 1 collected test file)" in run.stdout


WHICH_RUN = ("cluster", "suite-version", "job", "pod")
