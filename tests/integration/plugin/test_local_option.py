"""``--incluster-local``: one option gives a real control plane and a pod-faithful identity,
with and without pytest-xdist (where the controller starts it once and workers share it)."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pytest_incluster.local.versions import selected_kubernetes_version

pytestmark = pytest.mark.controlplane

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: api-view, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {kind: ServiceAccount, name: api, namespace: shop}
"""

SUITE = """
import os
import pytest

@pytest.mark.parametrize("n", range(4))
def test_runs_as_the_service_account(k8s, k8s_identity, k8s_namespace, k8s_config, n):
    with open("servers.txt", "a") as seen:
        seen.write(f"{k8s_config.server} {os.getpid()}\\n")
    assert k8s_identity.username == "system:serviceaccount:shop:api"
    assert k8s_namespace == "shop"
    assert k8s_config.token_file.name == "token"
    # view (aggregated, filled by the local control plane) allows this; secrets are excluded.
    k8s.get("/api/v1/namespaces/shop/configmaps")

@pytest.mark.expect_forbidden(verb="list", resource="secrets", namespace="shop")
def test_view_does_not_read_secrets(k8s):
    k8s.get("/api/v1/namespaces/shop/secrets")
"""


@pytest.fixture
def local_suite(
    pytester: pytest.Pytester, k8s_assets: Path, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(k8s_assets))
    # The run's temporary directories (the control plane's state among them) land here.
    (pytester.path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(pytester.path / "tmp"))
    (pytester.path / "rbac.yaml").write_text(MANIFEST)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def _args(extra: list[str]) -> list[str]:
    return [
        "--incluster-local",
        "--incluster-local-apply=rbac.yaml",
        "--incluster-local-as=shop/api",
        "-p",
        "no:cacheprovider",
        "-s",
        *extra,
    ]


def _state_dirs_left(pytester: pytest.Pytester) -> list[str]:
    return [p.name for p in (pytester.path / "tmp").glob("pytest-incluster-local-*")]


def test_local_option(local_suite: pytest.Pytester) -> None:
    result = local_suite.runpytest_subprocess(*_args([]))
    result.assert_outcomes(passed=5)
    # The state directory it made (keys, tokens, logs) went with the control plane.
    assert _state_dirs_left(local_suite) == []
    result.stdout.fnmatch_lines(
        [
            f"incluster: server https://127.0.0.1:* | kubernetes {selected_kubernetes_version()} | "
            "identity "
            "system:serviceaccount:shop:api * | namespace shop | source local control plane as "
            "shop/api"
        ]
    )


def test_local_option_under_xdist_shares_one_control_plane(local_suite: pytest.Pytester) -> None:
    result = local_suite.runpytest_subprocess(*_args(["-n", "2"]))
    result.assert_outcomes(passed=5)
    rows = [line.split() for line in (local_suite.path / "servers.txt").read_text().splitlines()]
    assert len({pid for _, pid in rows}) == 2, rows  # both workers ran tests...
    servers = {server for server, _ in rows}
    assert len(servers) == 1, rows  # ...against the one control plane the controller started
    port = urlsplit(servers.pop()).port
    assert port is not None
    with socket.socket() as probe:  # and it is gone once the run has ended
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert _state_dirs_left(local_suite) == []


def test_local_option_bad_service_account_is_a_usage_error(local_suite: pytest.Pytester) -> None:
    result = local_suite.runpytest_subprocess(
        "--incluster-local", "--incluster-local-as=not-a-pair", "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --incluster-local: *not-a-pair*"])
    assert "Traceback" not in result.stderr.str()
