"""Listing tests contacts no cluster: ``--collect-only``, ``--fixtures``, ``--fixtures-per-test``
and ``--setup-plan`` run nothing, so the header does not ask the server, no local control plane
is started, and no report is stored.

The server is a ``SilentListener`` (it counts every connection it accepts); a real API server is
not needed to prove that nothing connected to it. The run without a listing option is the
control: the same suite does connect.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.certs import self_signed_ca
from tests.support.listener import SilentListener

SUITE = """
import pytest


def test_reads(k8s, k8s_identity):
    k8s.get("/version")


@pytest.mark.impersonate("jane", groups=["developers"])
@pytest.mark.expect_forbidden(verb="list", resource="secrets")
def test_as_jane(k8s):
    k8s.get("/api/v1/namespaces/default/secrets")
"""

ACCESS = """
allowed:
  - get configmaps
forbidden:
  - list secrets -n kube-system
  - create clusterrolebindings.rbac.authorization.k8s.io
"""


@pytest.fixture
def suite(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[pytest.Pytester, list[str]]:
    (pytester.path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(pytester.path / "tmp"))
    token = tmp_path / "token"
    token.write_text("collect-only-token-0123456789")
    ca = tmp_path / "ca.crt"
    ca.write_bytes(self_signed_ca("collect-only-ca")[0])
    pytester.makepyfile(test_suite=SUITE)
    pytester.path.joinpath("runner.access.yaml").write_text(ACCESS)
    args = [
        f"--incluster-token-file={token}",
        f"--incluster-ca-file={ca}",
        "--incluster-namespace=default",
        "--incluster-timeout=1",
        "--incluster-report-configmap=listing-report",
        "-p",
        "no:cacheprovider",
    ]
    return pytester, args


@pytest.mark.parametrize(
    "listing", ["--collect-only", "--fixtures", "--fixtures-per-test", "--setup-plan"]
)
def test_listing_tests_makes_no_connection(
    suite: tuple[pytest.Pytester, list[str]], listing: str
) -> None:
    pytester, args = suite
    with SilentListener() as silent:
        result = pytester.runpytest_subprocess(f"--incluster-server={silent.url}", *args, listing)
        connections = silent.connections
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert connections == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            f"incluster: server {silent.url} | namespace default | source server from "
            "--incluster-server "
            f"(not contacted: {listing} runs no tests)",
            f"incluster WARNING: --incluster-report-configmap listing-report: not stored, "
            f"{listing} runs no tests",
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    # No report of the listing was written to a temporary directory and left there.
    assert list((pytester.path / "tmp").iterdir()) == []


def test_collect_only_lists_every_access_check(suite: tuple[pytest.Pytester, list[str]]) -> None:
    pytester, args = suite
    with SilentListener() as silent:
        result = pytester.runpytest_subprocess(
            f"--incluster-server={silent.url}", *args, "--collect-only", "-q"
        )
        connections = silent.connections
    assert connections == 0
    result.stdout.fnmatch_lines(
        [
            "runner.access.yaml::self::allowed::get configmaps",
            "runner.access.yaml::self::forbidden::list secrets -n kube-system",
            "runner.access.yaml::self::forbidden::create "
            "clusterrolebindings.rbac.authorization.k8s.io",
            "test_suite.py::test_reads",
            "test_suite.py::test_as_jane",
            "5 tests collected*",
        ]
    )


def test_running_the_same_suite_does_connect(suite: tuple[pytest.Pytester, list[str]]) -> None:
    """The control: without a listing option the header and the tests ask the server."""
    pytester, args = suite
    with SilentListener() as silent:
        result = pytester.runpytest_subprocess(
            f"--incluster-server={silent.url}", *args, "--incluster-unreachable-after=1"
        )
        connections = silent.connections
    assert connections >= 1
    result.stdout.fnmatch_lines([f"incluster: server {silent.url} | kubernetes unreachable: *"])


def test_collect_only_starts_no_local_control_plane(
    pytester: pytest.Pytester, tmp_path: Path, k8s_assets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the binaries at hand, a run that did start the control plane would do so quickly.
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(k8s_assets))
    pytester.makepyfile(test_suite=SUITE)
    state_dir = tmp_path / "local"
    result = pytester.runpytest_subprocess(
        "--incluster-local", f"--incluster-local-dir={state_dir}", "--collect-only"
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "incluster: --incluster-local: no control plane started (--collect-only runs no tests)",
            "*2 tests collected*",
        ]
    )
    assert not state_dir.exists() or not any(state_dir.iterdir())
