"""``pytest-incluster cluster up / serviceaccount / down`` as a user runs them (subprocesses)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane


def run_cli(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_incluster.local.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


@pytest.fixture
def cli_env(k8s_assets: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A user environment whose default cluster dir is under ``tmp_path``; cleaned up after."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "KUBEBUILDER_ASSETS": str(k8s_assets),
    }
    yield env
    run_cli("cluster", "down", env=env)
    run_cli("cluster", "down", "--dir", str(tmp_path / "explicit"), env=env)


def test_up_reuse_serviceaccount_down(cli_env: dict[str, str], tmp_path: Path) -> None:
    default_dir = tmp_path / "state" / "pytest-incluster" / "cluster"

    up = run_cli("cluster", "up", env=cli_env)
    assert up.returncode == 0, up.stderr
    server = up.stdout.strip()
    assert server.startswith("https://127.0.0.1:")
    port = server.rsplit(":", 1)[1]
    assert (default_dir / "env").read_text().splitlines()[1:] == [
        "export KUBERNETES_SERVICE_HOST=127.0.0.1",
        f"export KUBERNETES_SERVICE_PORT={port}",
    ]
    sourced = subprocess.run(
        ["sh", "-c", f". {default_dir / 'env'} && sh -c 'echo $KUBERNETES_SERVICE_PORT'"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sourced.stdout.strip() == port

    # The admin kubeconfig works with the matching kubectl, outside our Python code.
    kubectl = subprocess.run(
        [
            str(Path(cli_env["KUBEBUILDER_ASSETS"]) / "kubectl"),
            f"--kubeconfig={default_dir / 'kubeconfig'}",
            *("get", "namespace", "default", "-o", "name"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert kubectl.stdout.strip() == "namespace/default", kubectl.stderr

    # The processes outlived the `up` command; a second `up` reuses them.
    cp = ControlPlane.attach(default_dir)
    assert cp is not None
    assert cp.detached
    again = run_cli("cluster", "up", env=cli_env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == server
    assert f"reusing the control plane already running in {default_dir}" in again.stderr
    reattached = ControlPlane.attach(default_dir)
    assert reattached is not None
    assert reattached.apiserver_ref == cp.apiserver_ref

    out = tmp_path / "sa"
    sa = run_cli(
        "cluster", "serviceaccount", "team-a/robot", "--out", str(out), "--create", env=cli_env
    )
    assert sa.returncode == 0, sa.stderr
    assert sa.stdout.strip() == str(out)
    assert (out / "namespace").read_text() == "team-a"
    context = ssl.create_default_context(cafile=str(out / "ca.crt"))
    token = (out / "token").read_text()
    with httpx.Client(verify=context, trust_env=False) as client:
        pods = client.get(
            f"{server}/api/v1/namespaces/team-a/pods",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert pods.status_code == 403
    assert 'User "system:serviceaccount:team-a:robot"' in pods.json()["message"]

    down = run_cli("cluster", "down", env=cli_env)
    assert down.returncode == 0, down.stderr
    assert f"stopped the control plane in {default_dir} ({server})" in down.stderr
    assert cp.etcd_ref is not None
    assert cp.apiserver_ref is not None
    assert not cp.etcd_ref.alive()
    assert not cp.apiserver_ref.alive()
    assert ControlPlane.attach(default_dir) is None
    with httpx.Client(verify=context, trust_env=False) as client, pytest.raises(httpx.ConnectError):
        client.get(f"{server}/version")

    idle = run_cli("cluster", "down", env=cli_env)
    assert idle.returncode == 0
    assert "nothing to stop" in idle.stderr


def test_up_applies_manifests_into_an_explicit_dir(cli_env: dict[str, str], tmp_path: Path) -> None:
    manifest = tmp_path / "ns.yaml"
    manifest.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: applied-by-up}\n")
    state = tmp_path / "explicit"
    up = run_cli("cluster", "up", "--dir", str(state), "--apply", str(manifest), env=cli_env)
    assert up.returncode == 0, up.stderr
    cp = ControlPlane.attach(state)
    assert cp is not None
    with cp.admin_client() as client:
        assert client.get("/api/v1/namespaces/applied-by-up").status_code == 200


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("cluster", "serviceaccount", "not-a-spec", "--out", "x"),
            "'not-a-spec' does not name a service account",
        ),
        (("cluster", "serviceaccount", "a/b", "--out", "x"), "No control plane is running in"),
        (("cluster", "up", "--apply", "/no/such/file.yaml"), "--apply /no/such/file.yaml"),
    ],
)
def test_user_errors_are_one_paragraph_with_status_2(
    cli_env: dict[str, str], args: tuple[str, ...], expected: str
) -> None:
    done = run_cli(*args, env=cli_env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("pytest-incluster: error: ")
    assert expected in done.stderr
    assert done.stderr.strip().count("\n") == 0
