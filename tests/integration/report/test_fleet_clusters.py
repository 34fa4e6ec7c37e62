"""The fleet view over three real control planes whose RBAC differs, and the diff between two
of their runs.

Each cluster runs the same access-matrix file as a pod's service account would, writing
``--incluster-results`` and an HTML report; cluster ``c`` lets the runner read Secrets, the
other two do not. The control planes are started one after another (the machine has two cores),
each stopped once its run is over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pytest_incluster.local.provision import write_pod_dir
from tests.integration.report.test_report_browser import console_messages, png_rows, run_chromium
from tests.integration.report.test_report_live import grant
from tests.support.controlplane import running_control_plane

pytestmark = pytest.mark.controlplane

COMMAND = Path(sys.executable).parent / "pytest-incluster"
ACCESS = """\
namespace: shop
allowed:
  - get pods
  - list pods
forbidden:
  - get secrets
  - delete pods
"""
PODS = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
SECRETS = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
RUNNER = "self (system:serviceaccount:shop:runner)"


def _run_suite(cluster: str, server: str, sa_dir: Path, suite: Path, out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "PYTEST_"))}
    env["KUBERNETES_SERVICE_HOST"] = "127.0.0.1"
    env["KUBERNETES_SERVICE_PORT"] = str(urlsplit(server).port)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--incluster-sa-dir={sa_dir}",
            f"--incluster-cluster-name={cluster}",
            f"--incluster-results={out / f'{cluster}.json'}",
            f"--html={out / f'{cluster}.html'}",
            "--self-contained-html",
        ],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-2000:]


@pytest.fixture(scope="module")
def fleet_results(k8s_assets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``a.json``, ``b.json``, ``c.json`` (and their reports) from three control planes."""
    suite = tmp_path_factory.mktemp("fleet-suite")
    (suite / "runner.access.yaml").write_text(ACCESS)
    out = tmp_path_factory.mktemp("fleet-out")
    for cluster, rules in (("a", PODS), ("b", PODS), ("c", PODS + SECRETS)):
        state = tmp_path_factory.mktemp(f"cp-{cluster}")
        with running_control_plane(state, k8s_assets) as cp:
            sa_dir = write_pod_dir(cp, "shop", "runner", state / "sa", create=True)
            grant(cp, "shop", "runner", rules)
            _run_suite(cluster, cp.server, sa_dir, suite, out)
    return out


def command(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), "report", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_each_cluster_wrote_its_decisions(fleet_results: Path) -> None:
    for cluster in "abc":
        data = json.loads((fleet_results / f"{cluster}.json").read_text())
        assert data["cluster"]["name"] == cluster
        assert data["cluster"]["server"].startswith("https://127.0.0.1:")
        assert data["cluster"]["version"].startswith("v1.")
        assert data["identity"]["username"] == "system:serviceaccount:shop:runner"
        assert data["totals"]["decisions"] == 4
        secrets = next(d for d in data["decisions"] if d["resource"] == "secrets")
        assert secrets["subject"] == RUNNER
        assert secrets["expected"] == "forbidden"
        assert secrets["actual"] == ("allowed" if cluster == "c" else "forbidden")
        assert secrets["outcome"] == ("failed" if cluster == "c" else "passed")
        assert secrets["stage"] == "authorization"


def test_the_fleet_page_highlights_the_cluster_that_differs(
    fleet_results: Path, tmp_path: Path
) -> None:
    files = [str(fleet_results / f"{c}.json") for c in "abc"]
    links = [f"--report-url={c}={c}.html" for c in "abc"]
    html = fleet_results / "fleet.html"
    result = command(
        "merge", *files, "--html", str(html), "--json", "merged.json", *links, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == f"3 clusters, 4 checks, 1 where a cluster differs from the majority: {html}\n"
    )
    merged = json.loads((tmp_path / "merged.json").read_text())
    differing = [c for c in merged["checks"] if c["differs"]]
    assert [(c["verb"], c["resource"], c["majority"], c["differs"]) for c in differing] == [
        ("get", "secrets", "forbidden", ["c"])
    ]
    assert differing[0]["answers"] == {"a": "forbidden", "b": "forbidden", "c": "allowed"}
    page = html.read_text()
    assert '<th><a href="c.html">c</a></th>' in page
    row = page.split("<th>get</th><th>secrets</th>")[1].split("</tr>")[0]
    assert [("fleet-differs" in cell) for cell in row.split("<td")[2:]] == [False, False, True]

    # It renders in a browser with no network and no console error.
    shot = tmp_path / "fleet.png"
    shown = run_chromium(
        str(_chromium()), tmp_path, "--window-size=1100,600", f"--screenshot={shot}", html.as_uri()
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert console_messages(shown.stderr) == []
    assert len(set(png_rows(shot)[2])) > 50


def _chromium() -> str:
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "install Debian's chromium: apt-get install -y chromium"
    return found


def test_diff_of_two_clusters_names_the_permission_that_appeared(
    fleet_results: Path, tmp_path: Path
) -> None:
    same = command(
        "diff", str(fleet_results / "a.json"), str(fleet_results / "b.json"), cwd=tmp_path
    )
    assert same.returncode == 0, same.stdout + same.stderr
    changed = command(
        "diff", str(fleet_results / "a.json"), str(fleet_results / "c.json"), cwd=tmp_path
    )
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert changed.stdout.splitlines() == [
        f"changed: {RUNNER}: get secrets in namespace shop: allowed (expected forbidden), "
        "was forbidden (expected forbidden)",
        f"1 decision changed between {fleet_results / 'a.json'} and {fleet_results / 'c.json'}",
    ]
