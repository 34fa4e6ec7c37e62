"""Which run a report belongs to: cluster name, suite version, Job and pod, in the header and
the report; and an environment table without the runner machine's test-only plugins."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from pytest_incluster.report.run_context import suite_version
from tests.support.htmlreport import read_report

SUITE = """
def test_one():
    pass


def test_two():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A suite with no cluster to find, and none of the run-context variables set."""
    for name in (
        "KUBECONFIG",
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
        "INCLUSTER_CLUSTER_NAME",
        "INCLUSTER_JOB_NAME",
        "INCLUSTER_POD_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(pytester.path / "home"))
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_suite_version_is_a_hash_of_sorted_paths_and_contents(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        (root / "sub").mkdir(parents=True)
        (root / "test_a.py").write_text("a")
        (root / "sub" / "test_b.py").write_text("b")
    first = suite_version(one, [one / "test_a.py", one / "sub" / "test_b.py"])
    # Same files elsewhere, listed in another order and twice: the same version.
    again = suite_version(two, [two / "sub" / "test_b.py", two / "test_a.py", two / "test_a.py"])
    assert first == again
    assert first.files == 2
    expected = hashlib.sha256()
    for piece in (b"sub/test_b.py", b"b", b"test_a.py", b"a"):
        expected.update(len(piece).to_bytes(8, "big") + piece)
    assert first.digest == expected.hexdigest()[:12]
    assert first.describe() == f"{first.digest} (sha256 of 2 collected test files)"
    # One changed byte, or a renamed file, is another version.
    (two / "test_a.py").write_text("A")
    assert suite_version(two, [two / "test_a.py", two / "sub" / "test_b.py"]) != first
    (two / "test_a.py").write_text("a")
    (two / "test_a.py").rename(two / "test_c.py")
    assert suite_version(two, [two / "test_c.py", two / "sub" / "test_b.py"]) != first


def expected_version(pytester: pytest.Pytester) -> str:
    return suite_version(pytester.path, [pytester.path / "test_suite.py"]).describe()


def test_header_names_the_cluster_job_and_pod_and_the_suite_version(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCLUSTER_CLUSTER_NAME", "prod-eu")
    monkeypatch.setenv("INCLUSTER_JOB_NAME", "access-gate-7")
    monkeypatch.setenv("INCLUSTER_POD_NAME", "access-gate-7-x2x9k")
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "incluster: no cluster (*",
            "incluster: cluster prod-eu | job access-gate-7 | pod access-gate-7-x2x9k",
            "collected 2 items",
            f"incluster: suite version {expected_version(suite)}",
        ]
    )


def test_nothing_is_added_when_nothing_is_known(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "incluster: cluster" not in result.stdout.str()
    assert "| job" not in result.stdout.str()


@pytest.mark.parametrize(
    ("flag", "ini", "env", "shown"),
    [
        pytest.param("from-flag", "from-ini", "from-env", "from-flag", id="flag-wins"),
        pytest.param(None, "from-ini", "from-env", "from-ini", id="ini-over-env"),
        pytest.param(None, None, "from-env", "from-env", id="env"),
    ],
)
def test_cluster_name_from_flag_then_ini_then_env(
    suite: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    flag: str | None,
    ini: str | None,
    env: str | None,
    shown: str,
) -> None:
    if ini:
        suite.makeini(f"[pytest]\nincluster_cluster_name = {ini}\n")
    if env:
        monkeypatch.setenv("INCLUSTER_CLUSTER_NAME", env)
    args = ["-p", "no:cacheprovider"] + ([f"--incluster-cluster-name={flag}"] if flag else [])
    result = suite.runpytest(*args)
    result.stdout.fnmatch_lines([f"incluster: cluster {shown}"])


def test_report_names_the_run_and_shows_only_the_versions_that_matter(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx
    import pytest_html  # type: ignore[import-untyped]

    monkeypatch.setenv("INCLUSTER_JOB_NAME", "access-gate-7")
    monkeypatch.setenv("INCLUSTER_POD_NAME", "access-gate-7-x2x9k")
    result = suite.runpytest(
        "-p", "no:cacheprovider", "--html=report.html", "--incluster-cluster-name=prod-eu"
    )
    result.assert_outcomes(passed=2)
    page, data = read_report(suite.path / "report.html")
    env = data["environment"]
    version = expected_version(suite)
    assert env["Cluster"] == "prod-eu"
    assert env["Suite version"] == version
    assert env["Job"] == "access-gate-7"
    assert env["Pod"] == "access-gate-7-x2x9k"
    assert env["pytest"] == pytest.__version__
    assert env["pytest-html"] == pytest_html.__version__
    assert env["httpx"] == httpx.__version__
    assert env["pytest-incluster"]
    assert env["Python"]
    # Every installed plugin (hypothesis, anyio, ...) and the kernel: not about this run.
    for row in ("Plugins", "Packages", "Platform"):
        assert row not in env
    assert re.search(
        r'<p class="incluster-run"><b>Cluster</b> prod-eu \u00b7 <b>Suite version</b> '
        + re.escape(version)
        + r" \u00b7 <b>Job</b> access-gate-7 \u00b7 <b>Pod</b> access-gate-7-x2x9k</p>",
        page,
    )


def test_user_metadata_stays_in_the_environment_table(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "-p", "no:cacheprovider", "--html=report.html", "--metadata", "Team", "payments"
    )
    result.assert_outcomes(passed=2)
    _, data = read_report(suite.path / "report.html")
    assert data["environment"]["Team"] == "payments"


def test_suite_version_under_xdist_comes_from_the_workers_collection(
    suite: pytest.Pytester,
) -> None:
    """The xdist controller collects nothing itself; the version is the same as without it."""
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--html=report.html")
    result.assert_outcomes(passed=2)
    _, data = read_report(suite.path / "report.html")
    assert data["environment"]["Suite version"] == expected_version(suite)
