"""Without any cluster, tests that need one error with one message; others still run."""

from __future__ import annotations

from pathlib import Path

import pytest

SUITE = """
def test_needs_cluster(k8s):
    pass

def test_needs_namespace(k8s_namespace):
    pass

def test_pure_python():
    assert 1 + 1 == 2
"""


@pytest.fixture
def no_cluster(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(pytester.path / "home"))
    pytester.makepyfile(SUITE)
    return pytester


def test_each_test_needing_a_cluster_errors_with_the_fix(no_cluster: pytest.Pytester) -> None:
    # The default service-account path does not exist on a workstation (or on CI).
    result = no_cluster.runpytest()
    result.assert_outcomes(passed=1, errors=2)
    out = result.stdout.str()
    assert out.count("No Kubernetes cluster found") >= 2
    assert "/var/run/secrets/kubernetes.io/serviceaccount" in out
    assert "During handling" not in out
    assert "KUBERNETES_SERVICE_HOST" in out
    assert "--incluster-local" in out
    assert "Traceback" not in out
    result.stdout.fnmatch_lines(["incluster: no cluster (No Kubernetes cluster found*"])


def test_skip_unavailable_turns_errors_into_skips(no_cluster: pytest.Pytester) -> None:
    result = no_cluster.runpytest("--incluster-skip-unavailable", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED*no Kubernetes cluster: No Kubernetes cluster found*"])


def test_a_wrong_explicit_path_is_never_skipped(
    no_cluster: pytest.Pytester, tmp_path: Path
) -> None:
    # A typo in --incluster-sa-dir is a configuration error, not "no cluster here".
    missing = tmp_path / "absent"
    result = no_cluster.runpytest(
        "--incluster-sa-dir", str(missing), "--incluster-skip-unavailable"
    )
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [f"The service-account directory {missing} (from --incluster-sa-dir) does not exist*"]
    )
