"""Whole runs of pytest with the plugin, as a pod's service account against the real API server.

Each run is a subprocess (``runpytest_subprocess``) with the environment a pod has: the service
variables and a service-account directory. It checks what a user of a Job sees: the report in a
ConfigMap, fetched with deploy/fetch-report.sh, the termination message, the warning when the
upload is not allowed, and that the token appears in no output at all.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from pytest_incluster.local.versions import selected_kubernetes_version
from tests.support.htmlreport import read_report, test_log

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

FETCH = Path(__file__).resolve().parents[3] / "deploy" / "fetch-report.sh"
SUITE = r"""
import base64
import os
import pytest

# The server decodes %1B to ESC: its 403 message then carries markup and an escape sequence.
HOSTILE_NAME = "<img src=x onerror=alert(1)>%1B[31m"


@pytest.mark.expect_forbidden(verb="get", resource="pods")
def test_runner_may_not_read_pods(k8s, k8s_namespace):
    k8s.get(f"/api/v1/namespaces/{k8s_namespace}/pods/{HOSTILE_NAME}")


@pytest.mark.expect_allowed
def test_runner_may_read_configmaps(k8s, k8s_namespace):
    k8s.get(f"/api/v1/namespaces/{k8s_namespace}/configmaps?limit=1")


def test_big_output():
    # Incompressible captured output makes the report larger than one ConfigMap.
    print(base64.b64encode(os.urandom(int(os.environ.get("BIG_OUTPUT", "0")))).decode())
"""


@pytest.fixture
def run_as_pod(
    pytester: pytest.Pytester, control_plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., pytest.RunResult]:
    """``run(sa_dir, *pytest_args, **env)``: pytest in a subprocess with a pod's environment."""
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(urlsplit(control_plane.server).port))
    monkeypatch.delenv("KUBECONFIG", raising=False)

    def run(sa_dir: Path, *args: str, **env: str) -> pytest.RunResult:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return pytester.runpytest_subprocess(
            # One token: pytest's early parse would take a separate value for a path argument
            # and move the rootdir.
            f"--incluster-sa-dir={sa_dir}",
            "-p",
            "no:cacheprovider",
            *args,
        )

    return run


def grant(cp: ControlPlane, namespace: str, name: str, rules: list[dict[str, Any]]) -> None:
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
    with cp.admin_client() as client:
        client.post(
            f"{rbac}/roles",
            json={"metadata": {"name": name}, "rules": rules},
        ).raise_for_status()
        client.post(
            f"{rbac}/rolebindings",
            json={
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": "runner", "namespace": namespace}],
            },
        ).raise_for_status()


REPORT_RULES = [
    {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "verbs": ["get", "list", "create", "update", "delete"],
    }
]


def test_report_is_stored_in_configmaps_and_fetched(
    pytester: pytest.Pytester,
    control_plane: ControlPlane,
    unique_namespace: str,
    make_service_account: Callable[..., Path],
    kubectl: Path,
    run_as_pod: Callable[..., pytest.RunResult],
) -> None:
    sa_dir = make_service_account(unique_namespace, "runner")
    grant(control_plane, unique_namespace, "report", REPORT_RULES)
    pytester.makepyfile(test_suite=SUITE)
    termination = pytester.path / "termination-log"
    result = run_as_pod(
        sa_dir,
        "--html",
        "report.html",
        "--junitxml",
        "junit.xml",
        "--incluster-report-configmap",
        "suite-report",
        "--incluster-results=out/results.json",
        BIG_OUTPUT=str(1024 * 1024),
        PYTEST_INCLUSTER_TERMINATION_LOG=str(termination),
    )
    result.assert_outcomes(passed=3)
    stored = [line for line in result.outlines if line.startswith("incluster: report stored")]
    assert len(stored) == 1
    assert stored[0].startswith(
        f"incluster: report stored in ConfigMap {unique_namespace}/suite-report ("
    )
    parts = int(stored[0].split("(")[1].split()[0])
    assert parts >= 2

    summary = termination.read_text()
    assert summary == (
        "pytest-incluster: 3 passed, 0 failed, 0 errors; access checks: 2, 0 unexpectedly "
        f"allowed, 0 unexpectedly forbidden; report: ConfigMap {unique_namespace}/suite-report "
        f"({parts} parts)\n"
    )

    out = pytester.path / "fetched"
    fetched = subprocess.run(
        ["bash", str(FETCH), "suite-report", "-n", unique_namespace, "-o", str(out)],
        env={
            **os.environ,
            "KUBECTL": str(kubectl),
            "KUBECONFIG": str(control_plane.admin_kubeconfig),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert fetched.returncode == 0, fetched.stderr
    assert (out / "report.html").read_bytes() == (pytester.path / "report.html").read_bytes()
    assert (out / "junit.xml").read_bytes() == (pytester.path / "junit.xml").read_bytes()
    results = (pytester.path / "out" / "results.json").read_bytes()
    assert (out / "results.json").read_bytes() == results
    assert json.loads(results)["totals"]["decisions"] == 2
    assert fetched.stdout.splitlines()[-1].startswith("pytest-incluster: 3 passed")
    # The console script reads the same chunked report back to the same bytes.
    command = Path(sys.executable).parent / "pytest-incluster"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "POD_"))}
    by_command = subprocess.run(
        [str(command), "fetch-report", "suite-report", "-n", unique_namespace, "-o", "cli"],
        cwd=pytester.path,
        env={**env, "KUBECONFIG": str(control_plane.admin_kubeconfig)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert by_command.returncode == 0, by_command.stderr
    summary_line = fetched.stdout.splitlines()[-1]
    assert by_command.stdout == (
        f"wrote cli/report.html\nwrote cli/junit.xml\nwrote cli/results.json\n{summary_line}\n"
    )
    for name in ("report.html", "junit.xml", "results.json"):
        assert (pytester.path / "cli" / name).read_bytes() == (out / name).read_bytes()

    page, data = read_report(out / "report.html")
    assert "<style>" in page  # made self-contained: the assets directory is not stored
    assert "assets/style.css" not in page
    env = data["environment"]
    assert env["Identity"] == f"system:serviceaccount:{unique_namespace}:runner"
    assert env["Namespace"] == unique_namespace
    assert env["Kubernetes version"] == selected_kubernetes_version()
    denied = test_log(data, "test_suite.py::test_runner_may_not_read_pods")
    # The real server's 403 message carries the hostile name: shown escaped, never as markup.
    assert "&lt;img src=x onerror=alert(1)&gt;\\x1b[31m" in denied
    assert "<img src=x" not in page
    assert "\x1b" not in page
    assert "<td>GET</td><td>/api/v1/namespaces/" in denied
    assert "<td>403</td><td>Forbidden</td>" in denied
    allowed = test_log(data, "test_suite.py::test_runner_may_read_configmaps")
    assert "?limit=1</td><td>200</td>" in allowed
    assert "2 access checks: 2 passed, 0 failed" in page


def test_a_quiet_run_without_a_header_still_names_the_server_version(
    pytester: pytest.Pytester,
    unique_namespace: str,
    make_service_account: Callable[..., Path],
    run_as_pod: Callable[..., pytest.RunResult],
) -> None:
    # -q prints no header, which is where the version used to be asked.
    pytester.makepyfile("def test_reads(k8s):\n    k8s.get('/api')\n")
    result = run_as_pod(make_service_account(unique_namespace, "runner"), "-q", "--html=r.html")
    result.assert_outcomes(passed=1)
    assert not any("kubernetes v1." in line for line in result.outlines)
    _, data = read_report(pytester.path / "r.html")
    assert data["environment"]["Kubernetes version"] == selected_kubernetes_version()


def test_upload_that_is_not_allowed_is_a_warning_not_a_failure(
    pytester: pytest.Pytester,
    control_plane: ControlPlane,
    unique_namespace: str,
    make_service_account: Callable[..., Path],
    run_as_pod: Callable[..., pytest.RunResult],
) -> None:
    sa_dir = make_service_account(unique_namespace, "runner")
    pytester.makepyfile("def test_ok():\n    pass\n")
    termination = pytester.path / "termination-log"
    temp = pytester.mkdir("tmp")
    result = run_as_pod(
        sa_dir,
        "--incluster-report-configmap",
        "r",
        "--junitxml=junit.xml",
        PYTEST_INCLUSTER_TERMINATION_LOG=str(termination),
        TMPDIR=str(temp),
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"incluster WARNING: --incluster-report-configmap: cannot store the report in "
            f"ConfigMap {unique_namespace}/r: 403 Forbidden: configmaps is forbidden: User "
            f'"system:serviceaccount:{unique_namespace}:runner" cannot create resource '
            '"configmaps"*Grant the runner*',
        ]
    )
    assert termination.read_text() == (
        "pytest-incluster: 1 passed, 0 failed, 0 errors; access checks: 0, 0 unexpectedly "
        "allowed, 0 unexpectedly forbidden\n"
    )
    # The report that could not be stored is still where the terminal says it is.
    assert_report_kept(result, temp, pytester.path / "junit.xml")


def assert_report_kept(result: pytest.RunResult, temp: Path, junit: Path) -> None:
    """The HTML report (in a temporary directory: no --html) and the JUnit file exist after the
    run, at the paths the terminal printed, and the terminal says they were kept."""
    [html] = list(temp.glob("pytest-incluster-report-*/report.html"))
    result.stdout.fnmatch_lines(
        [
            "incluster WARNING: --incluster-report-configmap: the report was not stored in a "
            f"ConfigMap; the local files are kept: {html} and {junit}",
            f"*Generated html report: {html.as_uri()}*",
        ]
    )
    assert "<html" in html.read_text()
    assert "test_" in junit.read_text()


def test_existing_configmap_of_someone_else_stops_the_run_before_any_test(
    pytester: pytest.Pytester,
    control_plane: ControlPlane,
    unique_namespace: str,
    make_service_account: Callable[..., Path],
    run_as_pod: Callable[..., pytest.RunResult],
) -> None:
    sa_dir = make_service_account(unique_namespace, "runner")
    grant(control_plane, unique_namespace, "report", REPORT_RULES)
    with control_plane.admin_client() as admin:
        created = admin.post(
            f"/api/v1/namespaces/{unique_namespace}/configmaps",
            json={"metadata": {"name": "shared"}, "data": {"settings": "keep me"}},
        )
        assert created.status_code == 201, created.text
    before = created.json()
    pytester.makepyfile(
        "import pathlib\n\ndef test_runs():\n    pathlib.Path('ran').write_text('')\n"
    )
    termination = pytester.path / "termination-log"
    temp = pytester.mkdir("tmp")
    result = run_as_pod(
        sa_dir,
        "--incluster-report-configmap=shared",
        PYTEST_INCLUSTER_TERMINATION_LOG=str(termination),
        TMPDIR=str(temp),
    )
    message = (
        f"--incluster-report-configmap is 'shared': ConfigMap "
        f"{unique_namespace}/shared already exists and was not created by pytest-incluster (it "
        "has no label pytest-incluster.io/report=shared), so it was left unchanged. Choose "
        "another name, or delete that ConfigMap if it is yours and no longer needed. No test "
        "was run."
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line] == [f"ERROR: {message}"]
    assert not (pytester.path / "ran").exists()
    assert termination.read_text() == f"pytest-incluster: usage error, no test ran: {message}\n"
    with control_plane.admin_client() as admin:
        after = admin.get(f"/api/v1/namespaces/{unique_namespace}/configmaps/shared").json()
    assert after == before  # same resourceVersion and data
    # The HTML report of a run that never ran is not kept in a temporary directory either.
    assert list(temp.iterdir()) == []


def test_configmap_of_someone_else_created_during_the_run_is_not_overwritten(
    pytester: pytest.Pytester,
    control_plane: ControlPlane,
    unique_namespace: str,
    make_service_account: Callable[..., Path],
    run_as_pod: Callable[..., pytest.RunResult],
) -> None:
    sa_dir = make_service_account(unique_namespace, "runner")
    grant(control_plane, unique_namespace, "report", REPORT_RULES)
    pytester.makepyfile(
        """
        def test_someone_takes_the_name(k8s, k8s_namespace):
            k8s.post(
                f"/api/v1/namespaces/{k8s_namespace}/configmaps",
                json={"metadata": {"name": "late"}, "data": {"settings": "keep me"}},
            )
        """
    )
    temp = pytester.mkdir("tmp")
    result = run_as_pod(
        sa_dir, "--incluster-report-configmap=late", "--junitxml=junit.xml", TMPDIR=str(temp)
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "incluster WARNING: --incluster-report-configmap: cannot store the report: "
            f"ConfigMap {unique_namespace}/late already exists and was not created by "
            "pytest-incluster (it has no label pytest-incluster.io/report=late), so it was left "
            "unchanged. Choose another name, or delete that ConfigMap if it is yours and no "
            "longer needed.",
        ]
    )
    assert_report_kept(result, temp, pytester.path / "junit.xml")
    with control_plane.admin_client() as admin:
        after = admin.get(f"/api/v1/namespaces/{unique_namespace}/configmaps/late").json()
    assert after["data"] == {"settings": "keep me"}
    assert "binaryData" not in after
    assert "labels" not in after["metadata"]


def test_a_name_too_long_for_the_label_is_refused_before_the_run(
    pytester: pytest.Pytester, run_as_pod: Callable[..., pytest.RunResult], tmp_path: Path
) -> None:
    pytester.makepyfile(
        "import pathlib\n\ndef test_runs():\n    pathlib.Path('ran').write_text('')\n"
    )
    name = "r" * 64
    result = run_as_pod(tmp_path, f"--incluster-report-configmap={name}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line] == [
        f"ERROR: --incluster-report-configmap is '{name}', which is not a "
        "valid ConfigMap name: it must be at most 63 characters, not 64: it is also the value of "
        "the label pytest-incluster.io/report, and label values are limited to 63 characters. "
        "Choose a name such as 'pytest-report'."
    ]
    assert not (pytester.path / "ran").exists()


LEAKY_SUITE = r"""
import logging
import sys

import httpx

log = logging.getLogger("suite")


def test_fails_with_the_token_everywhere(k8s, k8s_token, k8s_server, k8s_ca_file,
                                         record_property):
    import ssl
    headers = {"Authorization": f"Bearer {k8s_token}"}
    print("token:", k8s_token)
    print("header:", headers, file=sys.stderr)
    log.debug("using token %s", k8s_token)
    record_property("token", k8s_token)
    # A plain httpx request of the test's own, with DEBUG logging of httpx and httpcore.
    context = ssl.create_default_context(cafile=str(k8s_ca_file))
    with httpx.Client(base_url=k8s_server, verify=context, headers=headers) as client:
        client.get("/version")
    k8s.get("/version")
    assert k8s_token == "not-the-token", f"unexpected token {k8s_token}"
"""


def test_token_appears_in_no_output_of_a_failing_verbose_run(
    pytester: pytest.Pytester,
    control_plane: ControlPlane,
    unique_namespace: str,
    make_service_account: Callable[..., Path],
    run_as_pod: Callable[..., pytest.RunResult],
) -> None:
    sa_dir = make_service_account(unique_namespace, "runner")
    token = (sa_dir / "token").read_text().strip()
    pytester.makepyfile(test_leaky=LEAKY_SUITE)
    result = run_as_pod(
        sa_dir,
        "-vv",
        "--showlocals",
        "--tb=long",
        "-rA",
        "--log-level=DEBUG",
        "--log-cli-level=DEBUG",
        "--log-file=run.log",
        "--log-file-level=DEBUG",
        "--html=report.html",
        "--self-contained-html",
        "--junitxml=junit.xml",
        "-o",
        "junit_logging=all",
        "-o",
        "junit_family=xunit1",
        "--debug=pytestdebug.log",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1)
    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in pytester.path.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".xml", ".log", ".css", ".txt"):
            outputs[str(path.relative_to(pytester.path))] = path.read_text(errors="replace")
    assert {"report.html", "junit.xml", "run.log", "pytestdebug.log"} <= set(outputs)
    forms = [token, base64.b64encode(token.encode()).decode(), token.split(".")[1]]
    for where, text in outputs.items():
        for form in forms:
            assert form not in text, f"the token leaked into {where}"
        assert "eyJ" not in text, f"something JWT-like leaked into {where}"
    stdout = outputs["stdout"]
    assert "unexpected token ***" in stdout
    assert "Authorization': 'Bearer ***'" in stdout
    assert "httpcore" in outputs["run.log"]  # the transport's debug logging was on
    assert "using token ***" in outputs["run.log"]
    assert "token: ***" in outputs["junit.xml"]
    # pytest --debug traced the fixture's value and both sides of the failed comparison.
    debug = outputs["pytestdebug.log"]
    assert "finish pytest_fixture_setup --> *** [hook]" in debug
    assert "pytest_assertrepr_compare [hook]" in debug
    assert "        left: ***" in debug
