"""``pytest-incluster fetch-report``: a stored report read back from the real API server.

Reports are stored by ``upload_report`` (the plugin's own upload) or by a real run
(test_report_live.py); the command runs as the user runs it, the installed console script in a
subprocess, finding the cluster from a kubeconfig. Its output is compared with the files that
were stored and with what deploy/fetch-report.sh (kubectl) gets.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import yaml

from pytest_incluster.report.upload import PART_BYTES, upload_report
from tests.support.htmlreport import incompressible_html

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

COMMAND = Path(sys.executable).parent / "pytest-incluster"


def fetch_report(
    *args: str, cwd: Path, kubeconfig: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script with a workstation's environment: no pod variables, HOME in ``cwd``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "POD_"))}
    env["HOME"] = str(cwd)
    env.pop("KUBECONFIG", None)
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(
        [str(COMMAND), "fetch-report", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def token_kubeconfig(cp: ControlPlane, sa_dir: Path, path: Path, namespace: str) -> Path:
    """A kubeconfig for the ServiceAccount of ``sa_dir`` (token and CA), context namespace set."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": cp.server, "certificate-authority": str(sa_dir / "ca.crt")},
            }
        ],
        "users": [{"name": "sa", "user": {"tokenFile": str(sa_dir / "token")}}],
        "contexts": [
            {
                "name": "sa",
                "context": {"cluster": "local", "user": "sa", "namespace": namespace},
            }
        ],
        "current-context": "sa",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_chunked_report_is_reassembled_like_the_kubectl_script(
    control_plane: ControlPlane, unique_namespace: str, kubectl: Path, tmp_path: Path
) -> None:
    html = incompressible_html(tmp_path / "local.html", 2 * PART_BYTES)
    junit = tmp_path / "junit.xml"
    junit.write_text('<?xml version="1.0"?><testsuites><testsuite tests="1"/></testsuites>')
    with control_plane.admin_client() as client:
        names = upload_report(
            client,
            unique_namespace,
            "big",
            {"report.html": html, "junit.xml": junit},
            summary="pytest-incluster: 1 passed, 0 failed, 0 errors",
        )
    assert len(names) >= 3
    out = tmp_path / "out"
    done = fetch_report(
        "big",
        "-n",
        unique_namespace,
        "-o",
        str(out),
        "--kubeconfig",
        str(control_plane.admin_kubeconfig),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"wrote {out / 'report.html'}\nwrote {out / 'junit.xml'}\n"
        "pytest-incluster: 1 passed, 0 failed, 0 errors\n"
    )
    assert done.stderr == ""
    assert (out / "report.html").read_bytes() == html.read_bytes()
    assert (out / "junit.xml").read_bytes() == junit.read_bytes()

    script_out = tmp_path / "script"
    script = subprocess.run(
        ["bash", "deploy/fetch-report.sh", "big", "-n", unique_namespace, "-o", str(script_out)],
        cwd=Path(__file__).resolve().parents[3],
        env={
            **os.environ,
            "KUBECTL": str(kubectl),
            "KUBECONFIG": str(control_plane.admin_kubeconfig),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert script.returncode == 0, script.stderr
    for name in ("report.html", "junit.xml"):
        assert (script_out / name).read_bytes() == (out / name).read_bytes()


def test_the_namespace_and_cluster_come_from_the_kubeconfig(
    control_plane: ControlPlane,
    unique_namespace: str,
    make_service_account: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """KUBECONFIG (no flag) names the cluster and user, its context the namespace; the
    directory defaults to the current one."""
    report = tmp_path / "r.html"
    report.write_text("<html>stored</html>")
    with control_plane.admin_client() as client:
        upload_report(client, unique_namespace, "r", {"report.html": report})
        grant_get_configmaps(client, unique_namespace)
    sa_dir = make_service_account(unique_namespace, "reader")
    kubeconfig = token_kubeconfig(control_plane, sa_dir, tmp_path / "kubeconfig", unique_namespace)
    work = tmp_path / "work"
    work.mkdir()
    done = fetch_report("r", cwd=work, kubeconfig=kubeconfig)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "wrote report.html\n"
    assert (work / "report.html").read_text() == "<html>stored</html>"


def grant_get_configmaps(client: httpx.Client, namespace: str) -> None:
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
    client.post(
        f"{rbac}/roles",
        json={
            "metadata": {"name": "read-reports"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
        },
    ).raise_for_status()
    client.post(
        f"{rbac}/rolebindings",
        json={
            "metadata": {"name": "read-reports"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "read-reports",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
        },
    ).raise_for_status()


def test_without_get_on_configmaps_the_servers_answer_and_the_fix(
    control_plane: ControlPlane,
    unique_namespace: str,
    make_service_account: Callable[..., Path],
    tmp_path: Path,
) -> None:
    report = tmp_path / "r.html"
    report.write_text("<html/>")
    with control_plane.admin_client() as client:
        upload_report(client, unique_namespace, "r", {"report.html": report})
    sa_dir = make_service_account(unique_namespace, "nobody")
    kubeconfig = token_kubeconfig(control_plane, sa_dir, tmp_path / "kubeconfig", unique_namespace)
    done = fetch_report("r", "-o", "out", cwd=tmp_path, kubeconfig=kubeconfig)
    assert done.returncode == 1
    assert done.stderr == (
        f"pytest-incluster: error: cannot read ConfigMap ({unique_namespace}/r): 403 Forbidden: "
        f'configmaps "r" is forbidden: User "system:serviceaccount:{unique_namespace}:nobody" '
        f'cannot get resource "configmaps" in API group "" in the namespace "{unique_namespace}". '
        f"Reading the report needs 'get' on configmaps in namespace {unique_namespace}.\n"
    )
    assert (sa_dir / "token").read_text().strip() not in done.stdout + done.stderr
    assert not (tmp_path / "out").exists()


def admin_fetch(
    cp: ControlPlane, tmp_path: Path, name: str, namespace: str
) -> subprocess.CompletedProcess[str]:
    return fetch_report(
        name,
        "-n",
        namespace,
        "-o",
        str(tmp_path / "out"),
        "--kubeconfig",
        str(cp.admin_kubeconfig),
        cwd=tmp_path,
    )


def test_a_missing_report_names_the_configmap_and_what_to_check(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path
) -> None:
    done = admin_fetch(control_plane, tmp_path, "nothing-here", unique_namespace)
    assert done.returncode == 1
    assert done.stderr == (
        f"pytest-incluster: error: cannot read ConfigMap ({unique_namespace}/nothing-here): 404 "
        'NotFound: configmaps "nothing-here" not found. Check the name (the one given to '
        "--incluster-report-configmap) and the namespace (-n, the runner's namespace).\n"
    )


def test_a_configmap_that_is_not_a_report_is_refused(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path
) -> None:
    with control_plane.admin_client() as client:
        client.post(
            f"/api/v1/namespaces/{unique_namespace}/configmaps",
            json={"metadata": {"name": "plain"}, "data": {"a": "b"}},
        ).raise_for_status()
    done = admin_fetch(control_plane, tmp_path, "plain", unique_namespace)
    assert done.returncode == 1
    assert done.stderr == (
        f"pytest-incluster: error: ConfigMap {unique_namespace}/plain is not a pytest-incluster "
        "report (no pytest-incluster.io/parts annotation). Give the name passed to "
        "--incluster-report-configmap.\n"
    )


def test_parts_of_different_uploads_are_refused_and_nothing_is_written(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path
) -> None:
    big = incompressible_html(tmp_path / "big.html", PART_BYTES)
    with control_plane.admin_client() as client:
        assert len(upload_report(client, unique_namespace, "mixed", {"report.html": big})) == 2
        client.patch(
            f"/api/v1/namespaces/{unique_namespace}/configmaps/mixed-1",
            json={"metadata": {"annotations": {"pytest-incluster.io/run": "another-run"}}},
            headers={"Content-Type": "application/merge-patch+json"},
        ).raise_for_status()
    done = admin_fetch(control_plane, tmp_path, "mixed", unique_namespace)
    assert done.returncode == 1
    assert done.stderr == (
        f"pytest-incluster: error: ConfigMap {unique_namespace}/mixed-1 belongs to another "
        "upload than mixed (the report is being replaced?); run again.\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_missing_part_says_the_report_is_incomplete(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path
) -> None:
    big = incompressible_html(tmp_path / "big.html", PART_BYTES)
    with control_plane.admin_client() as client:
        assert len(upload_report(client, unique_namespace, "cut", {"report.html": big})) == 2
        client.delete(f"/api/v1/namespaces/{unique_namespace}/configmaps/cut-1").raise_for_status()
    done = admin_fetch(control_plane, tmp_path, "cut", unique_namespace)
    assert done.returncode == 1
    assert done.stderr == (
        f"pytest-incluster: error: cannot read part cut-1 of 2 of the report "
        f'({unique_namespace}/cut-1): 404 NotFound: configmaps "cut-1" not found. The report is '
        "incomplete (being replaced, or a part was deleted); run again.\n"
    )


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ("../escape", "names the file '../escape', which is not a plain file name"),
        ("report.html", "report.html in report {ns}/bad is corrupt"),
    ],
    ids=["path-as-file-name", "corrupt-data"],
)
def test_a_tampered_report_writes_nothing(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path, files: str, message: str
) -> None:
    report = tmp_path / "r.html"
    report.write_text("<html/>")
    with control_plane.admin_client() as client:
        upload_report(client, unique_namespace, "bad", {"report.html": report})
        client.patch(
            f"/api/v1/namespaces/{unique_namespace}/configmaps/bad",
            json={
                "metadata": {"annotations": {"pytest-incluster.io/files": files}},
                "binaryData": {"report.html.gz": base64.b64encode(b"not gzip").decode()},
            },
            headers={"Content-Type": "application/merge-patch+json"},
        ).raise_for_status()
    done = admin_fetch(control_plane, tmp_path, "bad", unique_namespace)
    assert done.returncode == 1
    assert message.format(ns=unique_namespace) in done.stderr
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_bad_namespace_is_refused_before_any_request(tmp_path: Path) -> None:
    done = fetch_report("r", "-n", "Not_A_Namespace", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        "pytest-incluster: error: -n 'Not_A_Namespace' is not a namespace: a namespace name is "
        "an RFC 1123 DNS label: at most 63 lower-case letters, digits and '-', starting and "
        "ending with a letter or digit.\n"
    )


def test_no_cluster_names_what_was_looked_at_and_this_commands_flags(tmp_path: Path) -> None:
    done = fetch_report("r", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "pytest-incluster: error: No Kubernetes cluster found. Looked for a pod's "
        "service-account directory at /var/run/secrets/kubernetes.io/serviceaccount (missing), "
        "the KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT variables (not set), and a "
        "kubeconfig at ~/.kube/config (KUBECONFIG unset; no such file). Pass --kubeconfig PATH "
        "(and --context NAME), set KUBECONFIG, or run the command in a pod whose service "
        "account may read the report.\n"
    )
