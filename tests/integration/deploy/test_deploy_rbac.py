"""The runner cannot rewrite its own gate: deploy/'s RBAC and the tests ConfigMap, on the real
kube-apiserver.

The runner's ServiceAccount (a real token from the TokenRequest API) tries what a compromised or
buggy suite might: change or delete the tests ConfigMap, or the CA bundle its pod trusts. RBAC
refuses both, while the real report upload (pytest_incluster.report.upload, as the plugin runs
it at the end of a Job) still creates, replaces and prunes its own ConfigMaps. The tests
ConfigMap is also immutable, so even an admin cannot change the suite of an existing Job.
"""

from __future__ import annotations

import os
import ssl
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from pytest_incluster.report.upload import part_names, upload_report
from tests.support.deploy import (
    Layout,
    apply_namespace,
    kubectl_ok,
    option,
    other_namespace_overlay,
    render,
    restricted_namespace,
)

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane


@dataclass
class Deployed:
    layout: Layout
    namespace: str
    runner: httpx.Client
    admin: httpx.Client
    username: str

    @property
    def tests_configmap(self) -> str:
        return str(self.layout.tests_configmap["metadata"]["name"])

    @property
    def report(self) -> str:
        return option(self.layout.container["args"], "--incluster-report-configmap")

    def path(self, name: str = "") -> str:
        base = f"/api/v1/namespaces/{self.namespace}/configmaps"
        return f"{base}/{name}" if name else base


@pytest.fixture(scope="module")
def deployed(
    control_plane: ControlPlane,
    kubectl: Path,
    make_service_account: Callable[..., Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployed]:
    """README's overlay for an existing namespace, applied; the runner's client holds its
    ServiceAccount's token. kube-root-ca.crt is created by hand: the local control plane has
    no kube-controller-manager to publish it."""
    work = tmp_path_factory.mktemp("rbac")
    token = uuid.uuid4().hex[:6]
    namespace = f"gate-{token}"
    apply_namespace(control_plane, restricted_namespace(namespace), work)
    directory = other_namespace_overlay(work, namespace, f"-{token}")
    kubectl_ok(control_plane, "apply", "-k", str(directory))
    layout = Layout(directory, render(kubectl, directory))
    kubectl_ok(
        control_plane,
        "create",
        "configmap",
        "kube-root-ca.crt",
        "-n",
        namespace,
        f"--from-file=ca.crt={control_plane.ca_file}",
    )
    account = layout.pod_spec["serviceAccountName"]
    sa_dir = make_service_account(namespace, account, out_dir=work / "sa")
    bearer = (sa_dir / "token").read_text().strip()
    with (
        httpx.Client(
            base_url=control_plane.server,
            verify=ssl.create_default_context(cafile=str(sa_dir / "ca.crt")),
            headers={"Authorization": f"Bearer {bearer}"},
            trust_env=False,
        ) as runner,
        control_plane.admin_client() as admin,
    ):
        yield Deployed(
            layout, namespace, runner, admin, f"system:serviceaccount:{namespace}:{account}"
        )


def read(client: httpx.Client, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def forbidden(deployed: Deployed, verb: str, name: str) -> str:
    """The API server's message for the runner's refused ``verb`` on ConfigMap ``name``."""
    return (
        f'configmaps "{name}" is forbidden: User "{deployed.username}" cannot {verb} resource '
        f'"configmaps" in API group "" in the namespace "{deployed.namespace}"'
    )


@pytest.mark.parametrize("target", ["tests", "kube-root-ca.crt"])
def test_runner_cannot_change_or_delete_what_its_gate_depends_on(
    deployed: Deployed, target: str
) -> None:
    name = deployed.tests_configmap if target == "tests" else target
    current = read(deployed.runner, deployed.path(name))  # it may read it (the tests Role)
    changed = {**current, "metadata": {**current["metadata"], "labels": {"tampered": "yes"}}}
    if target != "tests":
        changed["data"] = {"ca.crt": "not the cluster's CA"}

    update = deployed.runner.put(deployed.path(name), json=changed)
    assert update.status_code == 403
    assert update.json()["message"] == forbidden(deployed, "update", name)

    delete = deployed.runner.delete(deployed.path(name))
    assert delete.status_code == 403
    assert delete.json()["message"] == forbidden(deployed, "delete", name)

    assert read(deployed.admin, deployed.path(name)) == current


def test_runner_still_stores_replaces_and_prunes_its_report(
    deployed: Deployed, tmp_path: Path
) -> None:
    """The real upload, as the runner: three parts, then a smaller report that replaces the
    index (update) and deletes the parts it no longer needs (delete)."""
    report = tmp_path / "report.html"
    report.write_bytes(os.urandom(32 * 1024))  # random: gzip cannot shrink it
    big = upload_report(
        deployed.runner,
        deployed.namespace,
        deployed.report,
        {"report.html": report},
        part_bytes=12 * 1024,
    )
    assert big == part_names(deployed.report, 3)

    report.write_text("<html>small</html>")
    small = upload_report(
        deployed.runner, deployed.namespace, deployed.report, {"report.html": report}
    )
    assert small == [deployed.report]
    left = deployed.admin.get(
        deployed.path(), params={"labelSelector": "pytest-incluster.io/report"}
    )
    names = {item["metadata"]["name"] for item in left.json()["items"]}
    assert names == {deployed.report}


def test_report_role_names_every_part_the_bounded_list_allows(deployed: Deployed) -> None:
    """The Role's resourceNames are exactly the report's first ten part names, for the name
    the Job passes to --incluster-report-configmap."""
    role = next(
        d
        for d in deployed.layout.docs
        if d["kind"] == "Role" and d["metadata"]["name"].startswith("pytest-incluster-report")
    )
    named = [rule for rule in role["rules"] if "resourceNames" in rule]
    assert named == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "verbs": ["get", "update", "delete"],
            "resourceNames": part_names(deployed.report, 10),
        }
    ]


def test_create_cannot_be_limited_by_name(deployed: Deployed) -> None:
    """What README.md and rbac-report.yaml admit: the runner may create other ConfigMaps (RBAC
    cannot restrict create by name), but not change them afterwards."""
    name = f"anything-{uuid.uuid4().hex[:6]}"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    created = deployed.runner.post(deployed.path(), json=body)
    assert created.status_code == 201, created.text
    update = deployed.runner.put(deployed.path(name), json=created.json() | {"data": {"a": "b"}})
    assert update.status_code == 403
    assert update.json()["message"] == forbidden(deployed, "update", name)


def test_tests_configmap_cannot_be_changed_even_by_an_admin(deployed: Deployed) -> None:
    name = deployed.tests_configmap
    current = read(deployed.admin, deployed.path(name))
    assert current["immutable"] is True
    changed = {**current, "data": {**current["data"], "test_injected.py": "def test_ok(): pass\n"}}
    update = deployed.admin.put(deployed.path(name), json=changed)
    assert update.status_code == 422
    assert update.json()["message"] == (
        f'ConfigMap "{name}" is invalid: data: Forbidden: field is immutable when `immutable` '
        "is set"
    )
    assert read(deployed.admin, deployed.path(name))["data"] == current["data"]
