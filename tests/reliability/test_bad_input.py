"""Scenario 6: bad configuration and bad input are one-paragraph messages, never tracebacks.

Configuration (no API server needed): each case is a full inner run, with the message it must
print (on one line: the problem and the fix together) and its exit status, 1 when the tests that
need a cluster error, 4 for a usage error that stops pytest before any test. Runs go three at a
time to keep the module fast; each is still its own subprocess with its own environment.

Access files: ``load_matrix`` raises nothing but ``MatrixError`` whatever bytes the file holds
(hypothesis mutates, truncates and garbles valid files); a malformed file in a real run is one
``[invalid]`` item listing ``file:line`` problems.

Responses (behind the fault proxy, the only non-real part): a success body that is HTML or cut
short, a connection closed mid-body and a 403 written as an HTML page each fail the test with
one line naming the request; a hostile ``Status`` message (markup, ANSI/OSC escapes) reaches the
terminal with no raw escape character and the HTML report with its markup escaped.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.cluster import MakeProxy, Runner
from tests.reliability.faultproxy import CertAuthority, Fault, Respond, status_body
from tests.reliability.suite import Run, run_pytest, write_suite
from tests.support.htmlreport import read_report

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

NEEDS_CLUSTER = """
def test_needs_a_cluster(k8s):
    k8s.get("/version")
"""

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(frozen=True)
class Case:
    """One bad configuration: options, environment, extra files, what must be printed."""

    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    ini: str = ""
    message: tuple[str, ...] = ()  # all on one line of the output
    ret: int = 1


def _cases(base: Path, control_plane: ControlPlane) -> dict[str, Case]:
    ca = CertAuthority.generate().write(base / "ca.crt")
    (base / "empty-token").write_text(" \n\n")
    (base / "token").write_text("not-a-real-token-but-long-enough")
    (base / "not-pem.crt").write_text("this is not a certificate\n")
    (base / "bad-kubeconfig").write_text("apiVersion: v1\nclusters: [ {name: x\nusers: []\n")
    good_kubeconfig = control_plane.admin_kubeconfig
    server = "--incluster-server=https://127.0.0.1:9"
    token = f"--incluster-token-file={base / 'token'}"
    ca_arg = f"--incluster-ca-file={ca}"
    missing = base / "missing"
    bad_access = "as: system:serviceaccount:Shop:api\nallowed: [lsit pods]\nbogus: 1\n"
    return {
        "token-file-missing": Case(
            (server, f"--incluster-token-file={missing / 'token'}", ca_arg),
            message=(
                f"Cannot read the token file {missing / 'token'} (from --incluster-token-file): "
                "No such file or directory.",
                "Fix the path",
            ),
        ),
        "token-file-empty": Case(
            (server, f"--incluster-token-file={base / 'empty-token'}", ca_arg),
            message=(
                f"The token file {base / 'empty-token'} (from --incluster-token-file) is empty.",
                "Fix the path",
            ),
        ),
        "ca-file-missing": Case(
            (server, token, f"--incluster-ca-file={missing / 'ca.crt'}"),
            message=(
                f"Cannot read the CA certificate file {missing / 'ca.crt'} (from "
                "--incluster-ca-file): No such file or directory.",
                "Fix the path",
            ),
        ),
        "ca-file-not-pem": Case(
            (server, token, f"--incluster-ca-file={base / 'not-pem.crt'}"),
            message=(
                f"The CA certificate file {base / 'not-pem.crt'} (from --incluster-ca-file) "
                "does not contain a PEM certificate",
            ),
        ),
        "sa-dir-given-but-absent": Case(
            (f"--incluster-sa-dir={missing / 'sa'}",),
            message=(
                f"The service-account directory {missing / 'sa'} (from --incluster-sa-dir) "
                "does not exist",
                "fix the path or leave the option unset",
            ),
        ),
        "outside-a-pod-nothing-found": Case(
            message=(
                f"No Kubernetes cluster found. Looked for a pod's service-account directory at "
                f"{SA_DIR} (missing)",
                "--incluster-local",
            ),
        ),
        "service-host-without-port": Case(
            env={"KUBERNETES_SERVICE_HOST": "10.0.0.1"},
            message=(
                "KUBERNETES_SERVICE_HOST is set (10.0.0.1) but KUBERNETES_SERVICE_PORT is not set",
                "--incluster-server https://HOST:PORT",
            ),
        ),
        "kubeconfig-malformed": Case(
            (f"--incluster-kubeconfig={base / 'bad-kubeconfig'}",),
            message=(f"kubeconfig {base / 'bad-kubeconfig'}: is not valid YAML at line",),
        ),
        "context-unknown": Case(
            (f"--incluster-kubeconfig={good_kubeconfig}", "--incluster-context=nope"),
            message=(
                "has no context named 'nope' (from --incluster-context); it defines: "
                "pytest-incluster.",
            ),
        ),
        "timeout-not-a-number": Case(
            ("--incluster-timeout=abc",),
            message=(
                "ERROR: --incluster-timeout (from --incluster-timeout) must be a positive "
                "number, got 'abc'.",
            ),
            ret=4,
        ),
        "timeout-nan": Case(
            ("--incluster-timeout=nan", server, token, ca_arg),
            message=("--incluster-timeout (from --incluster-timeout) must be a positive", "nan"),
            ret=4,
        ),
        "timeout-infinite": Case(
            ("--incluster-timeout=inf", server, token, ca_arg),
            message=("--incluster-timeout (from --incluster-timeout) must be a positive", "inf"),
            ret=4,
        ),
        "retries-negative": Case(
            ("--incluster-retries=-1",),
            message=(
                "--incluster-retries (from --incluster-retries) must be zero or a positive "
                "whole number, got '-1'.",
            ),
            ret=4,
        ),
        "concurrency-zero-in-ini": Case(
            ini="incluster_concurrency = 0\n",
            message=(
                "--incluster-concurrency (from ini incluster_concurrency) must be a positive "
                "whole number, got '0'.",
            ),
            ret=4,
        ),
        "option-misspelt": Case(
            ("--incluster-retry=3",),
            message=("unrecognized arguments: --incluster-retry=3",),
            ret=4,
        ),
        "access-file-malformed": Case(
            (server, token, ca_arg),
            files={"bad.access.yaml": bad_access},
            message=(
                "bad.access.yaml:1: 'system:serviceaccount:Shop:api' is not a ServiceAccount "
                "user name",
            ),
        ),
    }


@dataclass
class CaseRuns:
    cases: dict[str, Case]
    runs: dict[str, Run]


@pytest.fixture(scope="module")
def config_runs(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> CaseRuns:
    """Every configuration case run once, three inner runs at a time."""
    base = tmp_path_factory.mktemp("bad-config")
    cases = _cases(base, control_plane)

    def run(name: str) -> Run:
        case = cases[name]
        directory = write_suite(
            base / name, {"test_cluster.py": NEEDS_CLUSTER, **case.files}, dump_calls=False
        )
        if case.ini:
            with (directory / "pytest.ini").open("a") as ini:
                ini.write(case.ini)
        return run_pytest(directory, *case.args, env=case.env, timeout=120)

    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = dict(zip(cases, pool.map(run, cases), strict=True))
    return CaseRuns(cases, runs)


CASE_NAMES = [
    "token-file-missing",
    "token-file-empty",
    "ca-file-missing",
    "ca-file-not-pem",
    "sa-dir-given-but-absent",
    "outside-a-pod-nothing-found",
    "service-host-without-port",
    "kubeconfig-malformed",
    "context-unknown",
    "timeout-not-a-number",
    "timeout-nan",
    "timeout-infinite",
    "retries-negative",
    "concurrency-zero-in-ini",
    "option-misspelt",
    "access-file-malformed",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_configuration_is_one_paragraph_and_a_failed_run(
    name: str, config_runs: CaseRuns
) -> None:
    case, run = config_runs.cases[name], config_runs.runs[name]
    assert run.ret == case.ret, run.describe()
    assert "Traceback" not in run.output, run.describe()
    lines = [line for line in run.output.splitlines() if case.message[0] in line]
    assert lines, f"{case.message[0]!r} not printed:\n{run.describe()}"
    assert any(all(part in line for part in case.message) for line in lines), run.describe()


def test_every_configuration_case_is_checked(config_runs: CaseRuns) -> None:
    assert sorted(CASE_NAMES) == sorted(config_runs.cases)


# -- access files: fuzzed -------------------------------------------------------------------

VALID_ACCESS = b"""\
as: system:serviceaccount:shop:api
namespace: shop
mode: both
markers: [smoke]
allowed:
  - get pods
  - create deployments.apps -n shop
  - get pods/web --subresource=log
forbidden:
  - list secrets -A
  - get /metrics
---
allowed: [list configmaps]
"""

_YAMLISH = st.sampled_from(
    [
        b":",
        b"-",
        b"[",
        b"]",
        b"{",
        b"}",
        b"&a",
        b"*a",
        b"!!python/object:os.system",
        b"!tag",
        b"\t",
        b"\n",
        b"---",
        b"...",
        b"%YAML 1.1",
        b"'",
        b'"',
        b"\\",
        b"\x00",
        b"\xff",
        b"\xef\xbb\xbf",
        b"\xc3",
        b"\xe2\x80\xae",
        b"? ",
        b"|",
        b">",
        b"#",
        b"<<: *a",
        b"as:",
        b"allowed:",
    ]
)


@st.composite
def mutated_access_files(draw: st.DrawFn) -> bytes:
    """A valid access file with bytes replaced, inserted, deleted, or cut off."""
    data = bytearray(VALID_ACCESS)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        where = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        if how == "replace":
            data[where] = draw(st.integers(0, 255))
        elif how == "insert":
            data[where:where] = draw(_YAMLISH | st.binary(min_size=1, max_size=4))
        elif how == "delete":
            del data[where : where + draw(st.integers(1, 8))]
        else:
            del data[where:]
    return bytes(data)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=mutated_access_files()
    | st.binary(max_size=300)
    | st.text(alphabet=string.printable + "\u00e9\u202e\x85", max_size=300).map(str.encode)
)
def test_load_matrix_raises_only_matrix_error_whatever_the_file_holds(
    content: bytes, tmp_path: Path
) -> None:
    from pytest_incluster.access.matrix import MatrixError, load_matrix

    path = tmp_path / "fuzz.access.yaml"
    path.write_bytes(content)
    try:
        docs = load_matrix(path)
    except MatrixError as exc:
        text = str(exc)
        assert text.startswith(str(path)), text
        assert "Traceback" not in text
    else:
        assert docs, "a file that loads holds at least one document"


# -- responses: not JSON, cut short, hostile -----------------------------------------------

MALFORMED_SUITE = """
def test_identity_answer_is_html(k8s):
    k8s.whoami()


def test_answer_is_cut_on_the_wire(k8s):
    k8s.get(f"/api/v1/namespaces/{k8s.namespace}/configmaps", params={"labelSelector": "cut"})


def test_forbidden_page_is_html(k8s):
    k8s.get(f"/api/v1/namespaces/{k8s.namespace}/configmaps", params={"labelSelector": "page"})
"""

MALFORMED_ACCESS = "allowed: [list configmaps]\n"

HTML_PAGE = b"<html><head><title>502</title></head><body><h1>Bad gateway</h1></body></html>"


def _exception_lines(section: str) -> list[str]:
    return [line for line in section.splitlines() if line.startswith("E ")]


def test_malformed_response_bodies_fail_with_one_line_naming_the_request(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    runner.grant([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}])
    proxy = make_proxy()
    proxy.script(
        Fault(
            Respond(201, HTML_PAGE, (("Content-Type", "text/html"),)),
            path="/selfsubjectreviews",
            times=100,
        ),
        Fault(
            Respond(201, b'{"kind":"SelfSubjectAccessReview","status":{"allo'),
            path="/selfsubjectaccessreviews",
            times=1000,
        ),
        Fault(
            Respond(200, b'{"kind":"ConfigMapList","items":[', declared_length=4096),
            path="labelSelector=cut",
            times=100,
        ),
        # Twice: a 403 over a connection no /readyz "ok" has vouched for yet is asked again
        # once readiness is confirmed (pytest_incluster.client.readiness); the repeat counts.
        Fault(
            Respond(403, HTML_PAGE, (("Content-Type", "text/html"),)),
            path="labelSelector=page",
            times=2,
        ),
    )
    write_suite(
        suite_dir, {"test_bodies.py": MALFORMED_SUITE, "truncated.access.yaml": MALFORMED_ACCESS}
    )
    run = run_pytest(suite_dir, *runner.args(proxy.url, proxy.ca_file))
    assert run.ret == 1, run.describe()
    assert run.outcomes() == {"failed": 4}, run.describe()
    assert "Traceback" not in run.output

    # A non-JSON success body: the error names the request and says the body is not JSON.
    lines = _exception_lines(run.section("test_identity_answer_is_html"))
    assert any("selfsubjectreviews" in line and "JSON" in line for line in lines), lines
    # A truncated review answer: the access check could not be decided, and the message says why.
    section = run.section("list configmaps")
    decided = [
        line for line in section.splitlines() if "could not decide 'list configmaps'" in line
    ]
    assert decided, section
    assert "JSON" in decided[0], section
    # Cut on the wire: the client's own one-line error.
    lines = _exception_lines(run.section("test_answer_is_cut_on_the_wire"))
    assert any(
        f"cannot reach the API server at {proxy.url}" in line
        and "peer closed connection without sending complete message body" in line
        for line in lines
    ), lines
    # A 403 written as an HTML page: its text, on one line, as the denial.
    section = run.section("test_forbidden_page_is_html")
    assert "access denied: <html><head><title>502</title></head><body><h1>Bad gateway" in section


HOSTILE = (
    'configmaps is forbidden: User "system:serviceaccount:{ns}:runner" cannot list resource '
    '"configmaps" in API group "" in the namespace "{ns}": <script>alert(1)</script> '
    "\x1b[2J\x1b[31mRED\x1b[0m \x1b]8;;https://evil.example\x07click\x1b]8;;\x07 \x9b31m\x07"
)

HOSTILE_SUITE = """
import pytest


def listing(k8s, case):
    path = f"/api/v1/namespaces/{k8s.namespace}/configmaps"
    k8s.get(path, params={"labelSelector": case})


def test_unmarked_denial(k8s):
    listing(k8s, "hostile-a")


@pytest.mark.expect_forbidden(verb="list", resource="secrets")
def test_denial_of_something_else(k8s):
    listing(k8s, "hostile-b")


@pytest.mark.expect_forbidden(verb="list", resource="configmaps")
def test_expected_denial(k8s):
    listing(k8s, "hostile-c")
"""

_RAW_CONTROL = re.compile("[\x07\x1b\x9b\x9d]")


def test_hostile_server_message_is_neutralised_in_terminal_and_report(
    runner: Runner, make_proxy: MakeProxy, suite_dir: Path
) -> None:
    proxy = make_proxy()
    message = HOSTILE.format(ns=runner.namespace)
    body = status_body(403, "Forbidden", message)
    assert "\\u001b" in body.decode()  # json escapes ESC: the client's parser restores it
    proxy.script(Fault(Respond(403, body), path="labelSelector=hostile", times=100))
    write_suite(suite_dir, {"test_hostile.py": HOSTILE_SUITE})
    run = run_pytest(suite_dir, *runner.args(proxy.url, proxy.ca_file), "--html=report.html")
    assert run.outcomes() == {"failed": 2, "passed": 1}, run.describe()
    assert "Traceback" not in run.output

    # Terminal: the message is shown, its escape sequences are not.
    assert "<script>alert(1)</script>" in run.section("test_unmarked_denial")
    raw = sorted({repr(c) for c in _RAW_CONTROL.findall(run.output)})
    assert not raw, f"raw control characters {raw} reached the terminal:\n{run.describe()}"

    # HTML report: shown as text, never as markup, and no raw escape anywhere.
    page, data = read_report(suite_dir / "report.html")
    logs = "\n".join(_strings(data["tests"]))
    assert "alert(1)" in logs
    for where, text in (("page", page), ("test logs", logs)):
        assert "<script>alert(1)" not in text, f"unescaped markup in the report's {where}"
        raw = sorted({repr(c) for c in _RAW_CONTROL.findall(text)})
        assert not raw, f"raw control characters {raw} in the report's {where}"


def _strings(value: object) -> Iterator[str]:
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
