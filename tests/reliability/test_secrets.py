"""Scenario 8: no credential leaves the run, however verbose and however it fails.

The inner suite runs as ServiceAccount ``runner`` with every verbosity switch on:
``-vv --showlocals --log-level=DEBUG --log-cli-level=DEBUG --log-file`` (so httpx's and
httpcore's debug logging is captured, shown live and written), ``--html``, ``--junitxml`` with
``junit_logging=all``, and ``--debug`` (pytest's trace of every hook call with its arguments and
result, fixture values and assertion comparisons included, in ``pytestdebug.log``). Its tests
fail on purpose with credentials in their locals, assertion messages, captured stdout/stderr and
log records:

* the runner's own token (the ``k8s_token`` fixture), also base64-encoded;
* a token the runner obtains with TokenRequest for another ServiceAccount, and the whole
  TokenRequest response body;
* the admin credential: the control plane's admin client key (PEM), read from its file and as
  the base64 ``client-key-data`` of a kubeconfig.

None of them may appear in stdout, stderr, the log file, the HTML report, the JUnit XML,
``pytestdebug.log``, the ``--incluster-results`` document or the call log the suite dumps.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.reliability.cluster import Runner, post
from tests.reliability.suite import run_pytest, write_suite

pytestmark = pytest.mark.controlplane

SUITE = """
import base64
import logging
import os
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).parent
log = logging.getLogger("suite")


def test_runner_token(k8s_token, k8s):
    encoded = base64.b64encode(k8s_token.encode()).decode()
    print("token:", k8s_token, encoded)
    print(f"Authorization: Bearer {k8s_token}", file=sys.stderr)
    log.debug("the token is %s (base64 %s)", k8s_token, encoded)
    k8s.get("/version", headers={"X-Debug": k8s_token})
    assert k8s_token == "expected-something-else", f"token {k8s_token} base64 {encoded}"


def test_tokenrequest_token(k8s):
    path = f"/api/v1/namespaces/{k8s.namespace}/serviceaccounts/victim/token"
    response = k8s.post(path, json={"apiVersion": "authentication.k8s.io/v1",
                                    "kind": "TokenRequest", "spec": {}})
    body = response.text
    issued = response.json()["status"]["token"]
    (HERE / "issued.token").write_text(issued)  # for the outer test to search for; not output
    print(body)
    log.info("TokenRequest answered %s", body)
    log.debug("issued %s", issued)
    assert issued.startswith("not-a-jwt"), f"issued {issued} in {body}"


def test_access_check_about_the_token(k8s_token, pytestconfig, request):
    # What a check records when the server's reason and the resource name carry the token.
    from pytest_incluster.access.decision import AccessOutcome
    from pytest_incluster.pytest_plugin.state import get_state

    get_state(pytestconfig).outcomes.append(AccessOutcome(
        request.node.nodeid, f"self ({k8s_token})", "get", f"secrets/{k8s_token}", "default",
        "forbidden", "forbidden", f"RBAC: no rule for {k8s_token}"))


def test_admin_credential():
    key = Path(os.environ["ADMIN_KEY_FILE"]).read_text()
    kubeconfig = yaml.safe_load(Path(os.environ["ADMIN_KUBECONFIG_INLINE"]).read_text())
    user = kubeconfig["users"][0]["user"]
    print(key)
    print(user["client-key-data"], file=sys.stderr)
    log.debug("admin key %s", key)
    assert key == "", key
"""

RULES = [{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}]


def _body_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM block (what a leak would show), without the armour."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def _fragments(label: str, secret: str, size: int = 24) -> Iterator[tuple[str, str]]:
    """Overlapping ``size``-character pieces of ``secret``."""
    for start in range(0, max(len(secret) - size, 0) + 1, size // 2):
        yield f"{label} (a {size}-character piece)", secret[start : start + size]


def _outputs(directory: Path, stdout: str, stderr: str) -> Iterator[tuple[str, str]]:
    yield "stdout", stdout
    yield "stderr", stderr
    for name in ("debug.log", "report.html", "junit.xml", "pytestdebug.log", "results.json"):
        yield name, (directory / name).read_text(errors="replace")
    for path in sorted(directory.glob("calls-*.json")):
        yield path.name, path.read_text()


def test_no_credential_reaches_any_output(runner: Runner, suite_dir: Path, tmp_path: Path) -> None:
    cp = runner.cp
    post(
        cp,
        f"/api/v1/namespaces/{runner.namespace}/serviceaccounts",
        {"metadata": {"name": "victim"}},
    )
    runner.grant(RULES)
    key_pem = cp.admin_key_file.read_text()
    inline = yaml.safe_load(cp.admin_kubeconfig.read_text())
    key_data = base64.b64encode(key_pem.encode()).decode()
    inline["users"][0]["user"] = {
        "client-certificate-data": base64.b64encode(cp.admin_cert_file.read_bytes()).decode(),
        "client-key-data": key_data,
    }
    inline_kubeconfig = tmp_path / "admin-inline.kubeconfig"
    inline_kubeconfig.write_text(yaml.safe_dump(inline))
    write_suite(suite_dir, {"test_leaks.py": SUITE})
    run = run_pytest(
        suite_dir,
        *runner.args(),
        "-vv",
        "--showlocals",
        "--log-level=DEBUG",
        "--log-cli-level=DEBUG",
        "--log-file=debug.log",
        "--log-file-level=DEBUG",
        "--html=report.html",
        "--junitxml=junit.xml",
        "--incluster-results=results.json",
        "-o",
        "junit_logging=all",
        "--debug=pytestdebug.log",
        env={
            "ADMIN_KEY_FILE": str(cp.admin_key_file),
            "ADMIN_KUBECONFIG_INLINE": str(inline_kubeconfig),
        },
    )
    assert run.outcomes() == {"failed": 3, "passed": 1}, run.describe()
    issued = (suite_dir / "issued.token").read_text()
    token = (runner.sa_dir / "token").read_text()
    assert len(issued) > 100
    secrets = [
        ("runner token", token),
        ("runner token (base64)", base64.b64encode(token.encode()).decode()),
        ("TokenRequest token", issued),
        ("admin key (client-key-data)", key_data),
        *((f"admin key line {i}", line) for i, line in enumerate(_body_lines(key_pem))),
        # Fragments count too: a long value shown by --showlocals is cut to its head and tail.
        *_fragments("runner token signature", token.rsplit(".", 1)[1]),
        *_fragments("TokenRequest token signature", issued.rsplit(".", 1)[1]),
        # Past the ASN.1 and PEM armour every P-256 key shares.
        *_fragments("admin key (client-key-data)", key_data[120:]),
    ]
    leaks = sorted(
        {
            f"{where}: {what}"
            for where, text in _outputs(suite_dir, run.stdout, run.stderr)
            for what, secret in secrets
            if secret in text
        }
    )
    assert not leaks, "\n".join(leaks)
    # The outputs were really produced (a leak check on empty files would prove nothing).
    assert "test_tokenrequest_token" in (suite_dir / "junit.xml").read_text()
    assert "HTTP Request: POST" in (suite_dir / "debug.log").read_text()
    trace = (suite_dir / "pytestdebug.log").read_text()
    assert "finish pytest_fixture_setup --> *** [hook]" in trace  # the k8s_token fixture
    assert "pytest_assertrepr_compare [hook]" in trace
    assert "eyJ" not in trace  # nothing JWT-like, not even a token the plugin never saw
    results = (suite_dir / "results.json").read_text()
    assert '"resource": "secrets/***"' in results  # the decision is there, its token masked
