"""A cookie a load balancer sets in front of the API server is still kept and sent back.

The client skips httpx's cookie jar for answers without ``Set-Cookie`` (API servers set none, and
the jar cost a tenth of each request's CPU). An affinity cookie from a load balancer, which the
fault proxy plays here (a real API server sets no cookies), must still be stored and returned on
the next request to the real server, exactly as httpx does.
"""

from __future__ import annotations

import pytest

from pytest_incluster.client import K8sClient
from pytest_incluster.config.model import ClusterConfig
from tests.reliability.cluster import MakeProxy, Runner
from tests.reliability.faultproxy import Fault, Respond

pytestmark = pytest.mark.controlplane

AFFINITY = "lb-affinity=node-2; Path=/; HttpOnly"


def test_an_affinity_cookie_is_sent_back(runner: Runner, make_proxy: MakeProxy) -> None:
    proxy = make_proxy()
    config = ClusterConfig(
        server=proxy.url,
        namespace=runner.namespace,
        source="test pod directory",
        token_file=runner.sa_dir / "token",
        ca_file=proxy.ca_file,
    )
    proxy.script(
        Fault(
            Respond(
                200,
                b'{"major": "1"}',
                headers=(("Content-Type", "application/json"), ("Set-Cookie", AFFINITY)),
            ),
            path="/version",
        )
    )
    with K8sClient(config, retries=0) as k8s:
        assert k8s.get("/readyz").request.headers.get("cookie") is None
        k8s.get("/version")  # the proxy's answer, with the cookie
        answered = k8s.get("/version")  # the real server's answer

    assert "gitVersion" in answered.json()  # the real server answered
    assert answered.request.headers.get("cookie") == "lb-affinity=node-2"
    assert [c.name for c in k8s.cookies.jar] == ["lb-affinity"]


def test_answers_without_cookies_leave_the_jar_empty(runner: Runner) -> None:
    config = ClusterConfig(
        server=runner.cp.server,
        namespace=runner.namespace,
        source="test pod directory",
        token_file=runner.sa_dir / "token",
        ca_file=runner.cp.ca_file,
    )
    with K8sClient(config, retries=0) as k8s:
        k8s.get("/version")
        second = k8s.get("/version")
    assert second.request.headers.get("cookie") is None
    assert list(k8s.cookies.jar) == []
