"""``pytest-incluster cluster up / serviceaccount / down`` as a user runs them (subprocesses)."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pytest_incluster.local.controlplane import STATE_FILE, ControlPlane
from tests.support.processes import can_bind, crash, processes_mentioning, wait_until

pytestmark = pytest.mark.controlplane


def run_cli(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_incluster.cli", *args],
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
    assert (
        f"pytest-incluster: reusing the control plane already running in {default_dir} ({server})\n"
    ) in again.stderr
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
        (
            ("cluster", "serviceaccount", "a/b", "--out", "x", "--duration", "10x"),
            "--duration '10x' is not a token lifetime: write seconds (3600 or 3600s), minutes "
            "(10m), hours (2h) or a combination (1h30m); the API server accepts 10 minutes or "
            "more.",
        ),
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


RBAC = """\
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read-pods, namespace: team-a}
rules: [{apiGroups: [""], resources: [pods], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: robot-reads-pods, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-pods}
subjects: [{kind: ServiceAccount, name: robot, namespace: team-a}]
"""


def list_pods(server: str, sa_dir: Path, namespace: str) -> int:
    """The status of listing pods as the pod-style directory ``sa_dir`` (its token, its CA)."""
    context = ssl.create_default_context(cafile=str(sa_dir / "ca.crt"))
    token = (sa_dir / "token").read_text()
    with httpx.Client(verify=context, trust_env=False) as client:
        response = client.get(
            f"{server}/api/v1/namespaces/{namespace}/pods",
            headers={"Authorization": f"Bearer {token}"},
        )
    return response.status_code


def up_with_robot(env: dict[str, str], state: Path, sa_dir: Path) -> str:
    """``cluster up`` with RBAC for team-a/robot, and robot's pod directory; the server URL."""
    manifest = state.parent / "rbac.yaml"
    manifest.write_text(RBAC)
    up = run_cli("cluster", "up", "--dir", str(state), "--apply", str(manifest), env=env)
    assert up.returncode == 0, up.stderr
    sa = run_cli(
        *("cluster", "serviceaccount", "team-a/robot", "--create"),
        *("--dir", str(state), "--out", str(sa_dir)),
        env=env,
    )
    assert sa.returncode == 0, sa.stderr
    return up.stdout.strip()


def running(state: Path) -> ControlPlane:
    cp = ControlPlane.attach(state)
    assert cp is not None, f"no control plane is running in {state}"
    return cp


RESTARTING = (
    "pytest-incluster: the control plane in {state} is not running (it was not stopped with "
    "`cluster down`: a crash, a reboot or a kill); restarting it with its certificates, keys "
    "and etcd data\n"
)


def test_up_after_a_crash_restarts_with_the_same_keys_ports_and_data(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    state, sa_dir = tmp_path / "explicit", tmp_path / "sa"
    server = up_with_robot(cli_env, state, sa_dir)
    pki = {p.name: p.read_bytes() for p in (state / "pki").iterdir()}
    assert list_pods(server, sa_dir, "team-a") == 200

    before = running(state)
    crash(before.apiserver_ref, before.etcd_ref)
    again = run_cli("cluster", "up", "--dir", str(state), env=cli_env)
    assert again.returncode == 0, again.stderr
    assert RESTARTING.format(state=state) in again.stderr
    assert "taken by another program" not in again.stderr
    assert again.stdout.strip() == server
    assert {p.name: p.read_bytes() for p in (state / "pki").iterdir()} == pki
    # The token and ca.crt issued before the crash still work, and RBAC applied then still
    # decides: allowed where the RoleBinding grants, forbidden elsewhere.
    assert list_pods(server, sa_dir, "team-a") == 200
    assert list_pods(server, sa_dir, "default") == 403
    after = running(state)
    assert after.detached
    assert after.etcd_ref is not None  # and it syncs its data, to survive a reboot too
    assert b"--unsafe-no-fsync" not in Path(f"/proc/{after.etcd_ref.pid}/cmdline").read_bytes()
    assert after.apiserver_ref != before.apiserver_ref

    # Now only kube-apiserver dies, and another program takes its port before the restart.
    crash(after.apiserver_ref)
    assert after.etcd_ref is not None
    assert after.etcd_ref.alive()
    port = int(server.rsplit(":", 1)[1])
    assert wait_until(lambda: can_bind(port))  # its socket closes a moment after the process
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        moved = run_cli("cluster", "up", "--dir", str(state), env=cli_env)
    assert moved.returncode == 0, moved.stderr
    new_server = moved.stdout.strip()
    new_port = new_server.rsplit(":", 1)[1]
    assert new_server != server
    assert (
        f"pytest-incluster: its old address {server} is taken by another program, so the API "
        f"server now listens on {new_server}; {state / 'kubeconfig'} and {state / 'env'} are "
        "updated: source the env file again and point clients at the new address\n"
    ) in moved.stderr
    assert f"export KUBERNETES_SERVICE_PORT={new_port}" in (state / "env").read_text()
    kubeconfig = yaml.safe_load((state / "kubeconfig").read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"] == new_server
    assert json.loads((state / STATE_FILE).read_text())["server"] == new_server
    assert not after.etcd_ref.alive()  # the orphaned etcd was replaced, not left running
    assert list_pods(new_server, sa_dir, "team-a") == 200

    down = run_cli("cluster", "down", "--dir", str(state), env=cli_env)
    assert down.returncode == 0, down.stderr
    assert processes_mentioning(state) == []


def _remove_sa_key(state: Path) -> None:
    (state / "pki" / "sa.key").unlink()


def _corrupt_ca(state: Path) -> None:
    (state / "pki" / "ca.crt").write_text("not a certificate\n")


def _corrupt_etcd(state: Path) -> None:
    (state / "etcd" / "member" / "snap" / "db").write_bytes(b"not a database" * 100)


GONE = (
    "pytest-incluster: error: The control plane in {state} stopped without `pytest-incluster "
    "cluster down` and cannot be restarted from what it left behind: {reason}. Its old state "
    "is gone: a fresh start needs new certificates and service-account keys, so "
    "ServiceAccount directories issued from it stop working and applied manifests must be "
    "applied again, which is not done without asking. Run `pytest-incluster cluster down "
    "--dir {state}` to discard the old state, then `pytest-incluster cluster up --dir "
    "{state}` (with your --apply options), and issue ServiceAccount directories again."
)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_remove_sa_key, "{state}/pki/sa.key is missing"),
        (_corrupt_ca, "{state}/pki/ca.crt does not hold a PEM certificate"),
        (
            _corrupt_etcd,
            "etcd exited with status {status} while reading the data kept in {state}/etcd (its "
            "log {state}/etcd.log ends with the lines below)",
        ),
    ],
    ids=["pki-missing", "pki-corrupt", "etcd-corrupt"],
)
def test_up_after_a_crash_with_unusable_state_says_the_state_is_gone(
    cli_env: dict[str, str], tmp_path: Path, damage: Callable[[Path], None], reason: str
) -> None:
    state, sa_dir = tmp_path / "explicit", tmp_path / "sa"
    up_with_robot(cli_env, state, sa_dir)
    old_ca = (state / "pki" / "ca.crt").read_bytes()
    cp = running(state)
    crash(cp.apiserver_ref, cp.etcd_ref)
    damage(state)

    for _ in range(2):  # and again: the state is never silently replaced
        failed = run_cli("cluster", "up", "--dir", str(state), env=cli_env)
        assert failed.returncode == 2
        assert "Traceback" not in failed.stderr
        lines = failed.stderr.splitlines()
        assert lines[0] == RESTARTING.format(state=state).rstrip("\n")
        status = re.search(r"etcd exited with status ([0-9]+)", lines[1])
        detail = reason.format(state=state, status=status[1] if status else "?")
        assert lines[1] == GONE.format(state=state, reason=detail)
        assert all(line.startswith("    ") for line in lines[2:])  # the etcd log tail, if any
        assert failed.stdout == ""
        assert processes_mentioning(state) == []
        assert (state / STATE_FILE).exists()
    if damage is _corrupt_etcd:
        assert len(lines) > 2
        assert "snap/db" in failed.stderr  # etcd's own words about the file it could not use

    down = run_cli("cluster", "down", "--dir", str(state), env=cli_env)
    assert down.returncode == 0, down.stderr
    assert down.stderr == (
        f"pytest-incluster: the control plane in {state} was not running; discarded its saved "
        "state, so the next `cluster up` starts afresh (new certificates and keys, empty etcd)\n"
    )
    fresh = run_cli("cluster", "up", "--dir", str(state), env=cli_env)
    assert fresh.returncode == 0, fresh.stderr
    assert f"pytest-incluster: starting etcd and kube-apiserver in {state}\n" in fresh.stderr
    assert (state / "pki" / "ca.crt").read_bytes() != old_ca


def test_up_says_when_the_running_control_plane_belongs_to_a_pytest_session(
    cli_env: dict[str, str], k8s_assets: Path, tmp_path: Path
) -> None:
    state = tmp_path / "explicit"
    owned = ControlPlane.start(state, assets=k8s_assets)  # dies with this process, not detached
    try:
        up = run_cli("cluster", "up", "--dir", str(state), env=cli_env)
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip() == owned.server
        assert owned.etcd_ref is not None  # throwaway: no fsync, for speed
        assert b"--unsafe-no-fsync" in Path(f"/proc/{owned.etcd_ref.pid}/cmdline").read_bytes()
        assert (
            f"pytest-incluster: reusing the control plane already running in {state} "
            f"({owned.server}); it belongs to a running pytest session (--incluster-local-dir) "
            "and stops when that session ends\n"
        ) in up.stderr
    finally:
        owned.stop()


def _claims(token_file: Path) -> dict[str, Any]:
    """The JWT payload of a token file (decoded here, never printed)."""
    payload = token_file.read_text().split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_serviceaccount_duration_sets_the_token_lifetime(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "explicit"
    assert run_cli("cluster", "up", "--dir", str(state), env=cli_env).returncode == 0
    base = ("cluster", "serviceaccount", "team-a/robot", "--create", "--dir", str(state))
    for duration, seconds, spelled in [
        (None, 3600, "1h"),
        ("2h", 7200, "2h"),
        ("90m", 5400, "1h30m"),
        ("1h0m15s", 3615, "1h15s"),
        ("600", 600, "10m"),
    ]:
        out = tmp_path / f"sa-{seconds}"
        args = () if duration is None else ("--duration", duration)
        sa = run_cli(*base, "--out", str(out), *args, env=cli_env)
        assert sa.returncode == 0, sa.stderr
        token = (out / "token").read_text()
        assert token not in sa.stdout + sa.stderr
        claims = _claims(out / "token")
        assert claims["exp"] - claims["iat"] == seconds
        assert sa.stderr == (
            f"pytest-incluster: the token in {out / 'token'} lasts {spelled}; run this command "
            "again for a new one (--duration changes the lifetime)\n"
        )

    short = run_cli(*base, "--out", str(tmp_path / "short"), "--duration", "9m59s", env=cli_env)
    assert short.returncode == 2
    assert short.stderr.startswith(
        "pytest-incluster: error: Requesting a token for team-a/robot with "
        "expirationSeconds=599 failed (HTTP 422: "
    )
    assert "may not specify a duration less than 10 minutes" in short.stderr
    assert short.stderr.strip().count("\n") == 0
    assert not (tmp_path / "short").exists()


def test_serviceaccount_that_does_not_exist_says_what_the_user_can_do(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path, k8s_assets: Path
) -> None:
    # The shared control plane, attached through its state directory (not stopped here).
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(tmp_path / "home"),
        "KUBEBUILDER_ASSETS": str(k8s_assets),
    }
    done = run_cli(
        "cluster",
        "serviceaccount",
        f"{unique_namespace}/ghost",
        "--out",
        str(tmp_path / "sa"),
        "--dir",
        str(control_plane.state_dir),
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"pytest-incluster: error: Cannot request a token for service account "
        f'{unique_namespace}/ghost: it does not exist (HTTP 404: serviceaccounts "ghost" not '
        "found). Create it first: add --create to `pytest-incluster cluster serviceaccount` (it "
        f"creates the namespace too), or run `kubectl --kubeconfig {control_plane.state_dir}/"
        f"kubeconfig create serviceaccount ghost -n {unique_namespace}`.\n"
    )
    # What the message tells the user to run works.
    created = subprocess.run(
        [
            str(k8s_assets / "kubectl"),
            f"--kubeconfig={control_plane.state_dir}/kubeconfig",
            *("create", "serviceaccount", "ghost", "-n", unique_namespace),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    again = run_cli(
        "cluster",
        "serviceaccount",
        f"{unique_namespace}/ghost",
        "--out",
        str(tmp_path / "sa"),
        "--dir",
        str(control_plane.state_dir),
        env=env,
    )
    assert again.returncode == 0, again.stderr
