"""Scenario 5: a serving certificate the client must not trust.

Four cases, each a full inner run:

* the real API server, with ``--incluster-ca-file`` naming a CA that did not sign it;
* the fault proxy with a certificate from its own CA, the client trusting the cluster's CA;
* the fault proxy with an expired certificate from the CA the client trusts;
* the fault proxy with a certificate for another host (``wrong-host.example``), same CA.

Each must fail the test with ``TLSError``'s message naming the CA file and the host, in the
header as in the test, without a Python traceback; and nothing may fall back to an unverified
connection: behind the proxy no HTTP request (so no bearer token) ever arrives, and a failed
verification is not retried either (every attempt in the call log is a first attempt, and
the proxy saw exactly one failed handshake per attempt).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from tests.reliability.cluster import MakeProxy, Runner
from tests.reliability.faultproxy import CertAuthority
from tests.reliability.suite import run_pytest, write_suite

pytestmark = pytest.mark.controlplane

SUITE = """
def test_list_configmaps(k8s):
    k8s.get(f"/api/v1/namespaces/{k8s.namespace}/configmaps")
"""

CASES = {
    "wrong-ca-real-server": "certificate verify failed",
    "wrong-ca-proxy": "certificate verify failed",
    "expired": "certificate has expired",
    "wrong-host": "mismatch",
}


@pytest.mark.parametrize("case", list(CASES))
def test_untrusted_certificate_is_a_clear_error_and_never_bypassed(
    case: str, runner: Runner, make_proxy: MakeProxy, suite_dir: Path, tmp_path: Path
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    proxy = None
    if case == "wrong-ca-real-server":
        ca_file = CertAuthority.generate("some other CA").write(tmp_path / "other-ca.crt")
        server = runner.cp.server
    elif case == "wrong-ca-proxy":
        proxy = make_proxy()
        ca_file, server = runner.cp.ca_file, proxy.url
    elif case == "expired":
        proxy = make_proxy(
            not_before=now - datetime.timedelta(days=30), not_after=now - datetime.timedelta(days=1)
        )
        ca_file, server = proxy.ca_file, proxy.url
    else:
        proxy = make_proxy(hosts=("wrong-host.example",))
        ca_file, server = proxy.ca_file, proxy.url
    write_suite(suite_dir, {"test_tls.py": SUITE})
    run = run_pytest(suite_dir, *runner.args(server, ca_file))

    assert run.ret == 1, run.describe()
    assert run.outcomes() == {"failed": 1}, run.describe()
    assert "Traceback" not in run.output
    expected = (
        f"TLS verification failed for the API server at {server}: its certificate is not "
        f"trusted for host 127.0.0.1 using CA file {ca_file} ("
    )
    section = run.section("test_list_configmaps")
    assert expected in section, section
    assert CASES[case] in section, section
    header = next(line for line in run.stdout.splitlines() if line.startswith("incluster: "))
    assert "TLS verification failed" in header, header
    attempts = run.calls()
    assert attempts, "the client never tried to connect"
    assert [c["attempt"] for c in attempts] == [1] * len(attempts), "verification was retried"
    assert {c["status"] for c in attempts} == {None}
    if proxy is not None:
        assert proxy.received == [], "a request got through an untrusted TLS connection"
        assert proxy.handshake_failures == len(attempts), (proxy.handshake_failures, attempts)
