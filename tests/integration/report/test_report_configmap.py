"""The report stored in ConfigMaps on the real API server, read back with deploy/fetch-report.sh."""

from __future__ import annotations

import base64
import gzip
import os
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from pytest_incluster.report.upload import (
    PART_BYTES,
    ForeignConfigMap,
    UploadError,
    upload_report,
)
from tests.support.htmlreport import incompressible_html

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane

FETCH = Path(__file__).resolve().parents[3] / "deploy" / "fetch-report.sh"


def fetch(
    cp: ControlPlane, kubectl: Path, name: str, namespace: str, out: Path
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECTL": str(kubectl), "KUBECONFIG": str(cp.admin_kubeconfig)}
    return subprocess.run(
        ["bash", str(FETCH), name, "-n", namespace, "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def config_map(cp: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    with cp.admin_client() as client:
        response = client.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_small_report_round_trips_through_one_configmap(
    control_plane: ControlPlane, unique_namespace: str, kubectl: Path, tmp_path: Path
) -> None:
    html = tmp_path / "local-name.html"
    html.write_text("<html>" + "<p>test_one PASSED</p>" * 5000 + "</html>")
    junit = tmp_path / "junit.xml"
    junit.write_text('<?xml version="1.0"?><testsuites><testsuite tests="1"/></testsuites>')
    with control_plane.admin_client() as client:
        names = upload_report(
            client,
            unique_namespace,
            "pytest-report",
            {"report.html": html, "junit.xml": junit},
            summary="pytest-incluster: 1 passed, 0 failed, 0 errors",
        )
    assert names == ["pytest-report"]
    stored = config_map(control_plane, unique_namespace, "pytest-report")
    assert set(stored["binaryData"]) == {"report.html.gz", "junit.xml.gz"}
    assert len(base64.b64decode(stored["binaryData"]["report.html.gz"])) < html.stat().st_size
    annotations = stored["metadata"]["annotations"]
    assert annotations["pytest-incluster.io/parts"] == "1"
    assert annotations["pytest-incluster.io/files"] == "report.html junit.xml"
    assert stored["metadata"]["labels"]["pytest-incluster.io/report"] == "pytest-report"

    result = fetch(control_plane, kubectl, "pytest-report", unique_namespace, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "report.html").read_bytes() == html.read_bytes()
    assert (tmp_path / "out" / "junit.xml").read_bytes() == junit.read_bytes()
    assert result.stdout.splitlines()[-1] == "pytest-incluster: 1 passed, 0 failed, 0 errors"


def test_large_report_is_split_and_reassembled_and_replaced_by_a_smaller_one(
    control_plane: ControlPlane, unique_namespace: str, kubectl: Path, tmp_path: Path
) -> None:
    big = incompressible_html(tmp_path / "big.html", 2 * PART_BYTES)
    with control_plane.admin_client() as client:
        names = upload_report(client, unique_namespace, "r", {"report.html": big})
    compressed = len(gzip.compress(big.read_bytes()))
    assert len(names) == -(-compressed // PART_BYTES) >= 3
    assert names == ["r", "r-1", "r-2", "r-3"][: len(names)]
    for name in names:
        stored = config_map(control_plane, unique_namespace, name)
        size = sum(len(base64.b64decode(v)) for v in stored["binaryData"].values())
        assert size <= PART_BYTES
        assert stored["metadata"]["annotations"]["pytest-incluster.io/part"] == str(
            names.index(name)
        )
    result = fetch(control_plane, kubectl, "r", unique_namespace, tmp_path / "big-out")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "big-out" / "report.html").read_bytes() == big.read_bytes()

    # A second, small run under the same name replaces the index and removes the old parts.
    small = tmp_path / "small.html"
    small.write_text("<html>second run</html>")
    with control_plane.admin_client() as client:
        assert upload_report(client, unique_namespace, "r", {"report.html": small}) == ["r"]
        for stale in names[1:]:
            gone = client.get(f"/api/v1/namespaces/{unique_namespace}/configmaps/{stale}")
            assert gone.status_code == 404
    result = fetch(control_plane, kubectl, "r", unique_namespace, tmp_path / "small-out")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "small-out" / "report.html").read_text() == "<html>second run</html>"


def test_unrelated_configmap_with_a_part_like_name_is_left_alone(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path
) -> None:
    report = tmp_path / "r.html"
    report.write_text("<html/>")
    with control_plane.admin_client() as client:
        created = client.post(
            f"/api/v1/namespaces/{unique_namespace}/configmaps",
            json={"metadata": {"name": "r-1"}, "data": {"mine": "yes"}},
        )
        assert created.status_code == 201, created.text
        upload_report(client, unique_namespace, "r", {"report.html": report})
        kept = client.get(f"/api/v1/namespaces/{unique_namespace}/configmaps/r-1")
    assert kept.status_code == 200
    assert kept.json()["data"] == {"mine": "yes"}


def test_fetch_refuses_parts_of_different_uploads(
    control_plane: ControlPlane, unique_namespace: str, kubectl: Path, tmp_path: Path
) -> None:
    big = incompressible_html(tmp_path / "big.html", PART_BYTES)
    with control_plane.admin_client() as client:
        names = upload_report(client, unique_namespace, "mixed", {"report.html": big})
        assert len(names) == 2
        patched = client.patch(
            f"/api/v1/namespaces/{unique_namespace}/configmaps/mixed-1",
            json={"metadata": {"annotations": {"pytest-incluster.io/run": "another-run"}}},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert patched.status_code == 200, patched.text
    result = fetch(control_plane, kubectl, "mixed", unique_namespace, tmp_path / "out")
    assert result.returncode == 1
    assert "part mixed-1 belongs to another upload" in result.stderr
    assert not (tmp_path / "out" / "report.html").exists()


def test_fetch_of_something_that_is_not_a_report_says_so(
    control_plane: ControlPlane, unique_namespace: str, kubectl: Path, tmp_path: Path
) -> None:
    with control_plane.admin_client() as client:
        client.post(
            f"/api/v1/namespaces/{unique_namespace}/configmaps",
            json={"metadata": {"name": "plain"}, "data": {"a": "b"}},
        ).raise_for_status()
    result = fetch(control_plane, kubectl, "plain", unique_namespace, tmp_path)
    assert result.returncode == 1
    assert "ConfigMap plain is not a pytest-incluster report" in result.stderr


def test_runner_without_rbac_gets_the_servers_answer_and_the_fix(
    control_plane: ControlPlane,
    unique_namespace: str,
    make_service_account: Any,
    tmp_path: Path,
) -> None:
    pod_dir = make_service_account(unique_namespace, "runner")
    report = tmp_path / "r.html"
    report.write_text("<html/>")
    token = (pod_dir / "token").read_text().strip()
    with (
        httpx.Client(
            base_url=control_plane.server,
            verify=ssl.create_default_context(cafile=str(pod_dir / "ca.crt")),
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
        ) as client,
        pytest.raises(UploadError) as caught,
    ):
        upload_report(client, unique_namespace, "r", {"report.html": report})
    message = str(caught.value)
    assert message.startswith(f"cannot store the report in ConfigMap {unique_namespace}/r: 403 ")
    assert 'cannot create resource "configmaps"' in message
    assert "Grant the runner 'get', 'create' and 'update'" in message
    assert token not in message


def create_foreign(client: httpx.Client, namespace: str, name: str) -> dict[str, Any]:
    """A ConfigMap someone else owns: no pytest-incluster label."""
    created = client.post(
        f"/api/v1/namespaces/{namespace}/configmaps",
        json={"metadata": {"name": name, "labels": {"team": "payments"}}, "data": {"k": "v"}},
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def foreign_message(namespace: str, name: str, report: str) -> str:
    return (
        f"cannot store the report: ConfigMap {namespace}/{name} already exists and was not "
        f"created by pytest-incluster (it has no label pytest-incluster.io/report={report}), "
        "so it was left unchanged. Choose another name, or delete that ConfigMap if it is "
        "yours and no longer needed."
    )


def test_existing_configmap_without_the_label_is_refused_and_left_untouched(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path
) -> None:
    report = tmp_path / "r.html"
    report.write_text("<html/>")
    with control_plane.admin_client() as client:
        before = create_foreign(client, unique_namespace, "shared")
        with pytest.raises(ForeignConfigMap) as caught:
            upload_report(client, unique_namespace, "shared", {"report.html": report})
    assert str(caught.value) == foreign_message(unique_namespace, "shared", "shared")
    after = config_map(control_plane, unique_namespace, "shared")
    assert after == before  # same resourceVersion, labels and data: never written


def test_a_foreign_part_refuses_the_upload_before_anything_is_written(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path
) -> None:
    big = incompressible_html(tmp_path / "big.html", PART_BYTES)  # needs r and r-1
    with control_plane.admin_client() as client:
        before = create_foreign(client, unique_namespace, "r-1")
        with pytest.raises(ForeignConfigMap) as caught:
            upload_report(client, unique_namespace, "r", {"report.html": big})
        index = client.get(f"/api/v1/namespaces/{unique_namespace}/configmaps/r")
    assert str(caught.value) == foreign_message(unique_namespace, "r-1", "r")
    assert index.status_code == 404
    assert config_map(control_plane, unique_namespace, "r-1") == before


def test_an_earlier_report_is_replaced(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.html", tmp_path / "second.html"
    first.write_text("<html>first</html>")
    second.write_text("<html>second</html>")
    with control_plane.admin_client() as client:
        upload_report(client, unique_namespace, "r", {"report.html": first})
        upload_report(client, unique_namespace, "r", {"report.html": second})
    stored = config_map(control_plane, unique_namespace, "r")
    data = gzip.decompress(base64.b64decode(stored["binaryData"]["report.html.gz"]))
    assert data == b"<html>second</html>"


def replace_before(
    admin: httpx.Client, namespace: str, method: str
) -> Callable[[httpx.Request], None]:
    """An httpx request hook: just before the upload's first ``method`` request for ConfigMap
    ``r``, someone else deletes ``r`` and creates a ConfigMap of their own under that name.

    This is the race between the upload's check and its write, made to happen every time; the
    API server, not the hook, decides what the write then does.
    """
    done = False

    def hook(request: httpx.Request) -> None:
        nonlocal done
        target = request.url.path.endswith("/configmaps/r") or (
            method == "POST" and request.url.path.endswith("/configmaps")
        )
        if done or request.method != method or not target:
            return
        done = True
        admin.delete(f"/api/v1/namespaces/{namespace}/configmaps/r")
        create_foreign(admin, namespace, "r")

    return hook


@pytest.mark.parametrize(
    ("earlier_report", "method"),
    [(True, "PUT"), (False, "POST")],
    ids=["replaced-between-check-and-update", "created-between-check-and-create"],
)
def test_a_foreign_configmap_that_appears_during_the_upload_is_not_overwritten(
    control_plane: ControlPlane,
    unique_namespace: str,
    tmp_path: Path,
    earlier_report: bool,
    method: str,
) -> None:
    report = tmp_path / "r.html"
    report.write_text("<html/>")
    with control_plane.admin_client() as admin, control_plane.admin_client() as client:
        if earlier_report:
            upload_report(client, unique_namespace, "r", {"report.html": report})
        client.event_hooks["request"] = [replace_before(admin, unique_namespace, method)]
        with pytest.raises(ForeignConfigMap) as caught:
            upload_report(client, unique_namespace, "r", {"report.html": report})
    assert str(caught.value) == foreign_message(unique_namespace, "r", "r")
    after = config_map(control_plane, unique_namespace, "r")
    assert after["metadata"]["labels"] == {"team": "payments"}
    assert after["data"] == {"k": "v"}
    assert "binaryData" not in after
