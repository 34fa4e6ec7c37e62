"""How big a report of 5,000 access checks is, and how long headless Chromium takes to render it.

    .venv/bin/python -m bench.report_size [--checks N] [--repeat R]

No cluster is needed: the suite records its access outcomes as data, the way the markers and the
access-matrix files record theirs (the same suite shape as tests/unit/report/test_report_html.py),
one test per check: 10 subjects, 10 namespaces, 25 resources (subresources and non-resource URLs
among them), 8 verbs, one check in 20 a mismatch. It writes the self-contained HTML report and
the ``--incluster-results`` document, then opens the report in Chromium (``--dump-dom``, no
network) R times. "Rendered" is the moment pytest-html has built its results table and the
matrix script has run: the page records ``performance.now()`` then; the wall time of the whole
Chromium process (start-up included) is given beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFTEST = r"""
import pytest
from pytest_incluster.access.decision import AccessOutcome
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.pytest_plugin.state import get_state


@pytest.fixture(autouse=True, scope="session")
def _cluster_facts(pytestconfig):
    state = get_state(pytestconfig)
    state.cluster_config = ClusterConfig(
        server="https://10.0.0.1:443", namespace="tests", source="in-cluster service account")
    state.server_version = "v1.37.2"


@pytest.fixture
def check(pytestconfig, request):
    state = get_state(pytestconfig)

    def record(subject, verb, resource, namespace, expected, actual):
        state.outcomes.append(AccessOutcome(request.node.nodeid, subject, verb, resource,
                                            namespace, expected, actual, "RBAC: bench"))
    return record
"""

TESTS = r"""
import pytest

SUBJECTS = [f"system:serviceaccount:team-{i}:app" for i in range(10)]
NAMESPACES = [f"team-{i}" for i in range(10)]
RESOURCES = ["pods", "pods --subresource=log", "pods --subresource=exec", "services",
             "configmaps", "secrets", "deployments.apps", "statefulsets.apps",
             "daemonsets.apps", "jobs.batch", "cronjobs.batch", "ingresses.networking.k8s.io",
             "networkpolicies.networking.k8s.io", "roles.rbac.authorization.k8s.io",
             "rolebindings.rbac.authorization.k8s.io", "serviceaccounts",
             "serviceaccounts --subresource=token", "persistentvolumeclaims", "events",
             "endpoints", "leases.coordination.k8s.io", "limitranges", "resourcequotas",
             "/healthz", "/metrics"]
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
N = int(__import__("os").environ["BENCH_CHECKS"])


@pytest.mark.parametrize("n", range(N))
def test_check(check, n):
    subject = SUBJECTS[n % 10]
    namespace = NAMESPACES[(n // 10) % 10]
    resource = RESOURCES[(n // 100) % 25]
    verb = VERBS[(n // 2500 + n) % 8]
    expected = "allowed" if n % 3 else "forbidden"
    actual = expected if n % 20 else ("allowed" if expected == "forbidden" else "forbidden")
    check(subject, verb, resource, "" if resource.startswith("/") else namespace, expected,
          actual)
    assert actual == expected
"""

# Runs once pytest-html's table is built (its script runs on load) and ours after it.
PROBE = (
    "<script>window.addEventListener('load',function(){setTimeout(function(){"
    "document.body.setAttribute('data-rendered-ms',String(Math.round(performance.now())));"
    "},0);});</script></body>"
)


def make_report(root: Path, checks: int) -> tuple[Path, Path, float]:
    """(report.html, results.json, seconds pytest took) for a suite of ``checks`` checks."""
    (root / "conftest.py").write_text(CONFTEST)
    (root / "test_bench.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "PYTEST_"))}
    env["BENCH_CHECKS"] = str(checks)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--html=report.html",
            "--self-contained-html",
            "--incluster-results=results.json",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        check=False,
        timeout=1800,
    )
    return root / "report.html", root / "results.json", time.perf_counter() - started


def render(chromium: str, report: Path, work: Path) -> tuple[float, float, str]:
    """(ms until rendered as the page measured it, wall seconds of Chromium, the DOM)."""
    probe = work / "probe.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE))
    profile = Path(tempfile.mkdtemp(prefix="profile-", dir=work))
    started = time.perf_counter()
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=60000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    wall = time.perf_counter() - started
    shutil.rmtree(profile, ignore_errors=True)
    dom = result.stdout
    marker = 'data-rendered-ms="'
    rendered = float(dom.split(marker)[1].split('"')[0]) if marker in dom else float("nan")
    return rendered, wall, dom


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("install Debian's chromium: apt-get install -y chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        work = Path(tmp)
        report, results, pytest_s = make_report(work, args.checks)
        runs = [render(chromium, report, work) for _ in range(args.repeat)]
        dom = runs[-1][2]
        print(f"checks: {args.checks} (pytest run {pytest_s:.1f} s)")
        print(f"report.html: {report.stat().st_size / 1e6:.2f} MB")
        print(f"results.json: {results.stat().st_size / 1e6:.2f} MB")
        print(
            "rendered after (ms, page's own clock): "
            + ", ".join(f"{r:.0f}" for r, _, _ in runs)
            + f"; median {statistics.median(r for r, _, _ in runs):.0f}"
        )
        print(
            "chromium wall time (s, start-up included): "
            + ", ".join(f"{w:.1f}" for _, w, _ in runs)
            + f"; median {statistics.median(w for _, w, _ in runs):.1f}"
        )
        grids = dom.count('<div class="incluster-matrix" ')
        print(f"matrix grids rendered: {grids}")
        print(f"cpu count: {os.cpu_count()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
