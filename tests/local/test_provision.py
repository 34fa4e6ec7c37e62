"""Provisioning against the real API server: manifests, tokens, and the pod credential flow."""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_incluster.local.controlplane import API_AUDIENCES, SERVICE_ACCOUNT_ISSUER, ControlPlane
from pytest_incluster.local.provision import (
    ProvisionError,
    apply_manifests,
    ensure_namespace,
    ensure_service_account,
    parse_duration,
    parse_service_account,
    request_token,
)
from pytest_incluster.secret import Secret

pytestmark = pytest.mark.controlplane

MakeServiceAccount = Callable[..., Path]


def _claims(token: Secret) -> dict[str, Any]:
    payload = token.reveal().split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _pod_client(cp: ControlPlane, sa_dir: Path) -> httpx.Client:
    """Exactly what in-cluster code does: bearer token file + ca.crt, nothing else."""
    token = (sa_dir / "token").read_text()
    context = ssl.create_default_context(cafile=str(sa_dir / "ca.crt"))
    return httpx.Client(
        base_url=cp.server,
        verify=context,
        trust_env=False,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_token_request_returns_a_bound_token(
    control_plane: ControlPlane, unique_namespace: str
) -> None:
    ensure_service_account(control_plane, unique_namespace, "robot")
    before = time.time()
    token = request_token(control_plane, unique_namespace, "robot", expiration_seconds=1800)
    assert "ey" not in repr(token)
    assert str(token) == "***"
    claims = _claims(token)
    assert claims["iss"] == SERVICE_ACCOUNT_ISSUER
    assert claims["aud"] == list(API_AUDIENCES)
    assert claims["sub"] == f"system:serviceaccount:{unique_namespace}:robot"
    assert 1800 - 60 <= claims["exp"] - before <= 1800 + 60


def test_token_request_with_custom_audience(
    control_plane: ControlPlane, unique_namespace: str
) -> None:
    ensure_service_account(control_plane, unique_namespace, "robot")
    token = request_token(control_plane, unique_namespace, "robot", audiences=("vault",))
    assert _claims(token)["aud"] == ["vault"]


def test_token_request_for_a_missing_service_account_names_it(
    control_plane: ControlPlane, unique_namespace: str
) -> None:
    with pytest.raises(ProvisionError) as raised:
        request_token(control_plane, unique_namespace, "ghost")
    message = str(raised.value)
    assert f"service account {unique_namespace}/ghost: it does not exist" in message
    assert 'serviceaccounts "ghost" not found' in message


def test_service_account_in_missing_namespace_is_a_clear_error(
    control_plane: ControlPlane,
) -> None:
    with pytest.raises(ProvisionError, match="namespace no-such-ns does not exist"):
        ensure_service_account(control_plane, "no-such-ns", "robot")


def test_pod_dir_has_the_kubelet_layout(
    control_plane: ControlPlane, make_service_account: MakeServiceAccount
) -> None:
    sa_dir = make_service_account("default", "default")
    assert sorted(p.name for p in sa_dir.iterdir()) == ["ca.crt", "namespace", "token"]
    assert (sa_dir / "token").stat().st_mode & 0o777 == 0o600
    assert (sa_dir / "namespace").read_text() == "default"
    assert (sa_dir / "ca.crt").read_bytes() == control_plane.ca_file.read_bytes()
    assert not (sa_dir / "token").read_text().endswith("\n")


def test_pod_flow_as_default_default_is_authenticated_and_rbac_denied(
    control_plane: ControlPlane, make_service_account: MakeServiceAccount
) -> None:
    sa_dir = make_service_account("default", "default")
    with _pod_client(control_plane, sa_dir) as client:
        api = client.get("/api")
        pods = client.get("/api/v1/namespaces/default/pods")
        namespaces = client.get("/api/v1/namespaces")
    assert api.status_code == 200
    assert api.json()["kind"] == "APIVersions"
    assert "v1" in api.json()["versions"]

    assert pods.status_code == 403
    assert pods.json()["reason"] == "Forbidden"
    assert pods.json()["message"] == (
        'pods is forbidden: User "system:serviceaccount:default:default" cannot list resource '
        '"pods" in API group "" in the namespace "default"'
    )
    assert namespaces.status_code == 403
    assert namespaces.json()["reason"] == "Forbidden"
    assert namespaces.json()["message"] == (
        'namespaces is forbidden: User "system:serviceaccount:default:default" cannot list '
        'resource "namespaces" in API group "" at the cluster scope'
    )


def test_rewriting_a_pod_dir_rotates_the_token(
    control_plane: ControlPlane, make_service_account: MakeServiceAccount, tmp_path: Path
) -> None:
    first = make_service_account("default", "default", out_dir=tmp_path).joinpath("token")
    old = first.read_text()
    make_service_account("default", "default", out_dir=tmp_path)
    assert first.read_text() != old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crt", "namespace", "token"]


def test_apply_manifests_from_files_and_directories(
    control_plane: ControlPlane, unique_namespace: str, tmp_path: Path
) -> None:
    ns = unique_namespace
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "01-config.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: one, namespace: {ns}}}\n"
        "data: {k: v}\n---\n"
        f"apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: reader, namespace: {ns}}}\n"
    )
    (tmp_path / "dir" / "README.md").write_text("not a manifest")
    role = tmp_path / "role.yaml"
    role.write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
        f"metadata: {{name: read-cm, namespace: {ns}}}\n"
        "rules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list]}]\n"
    )
    apply_manifests(control_plane, [tmp_path / "dir", role])
    apply_manifests(control_plane, [role])  # idempotent
    with control_plane.admin_client() as client:
        assert client.get(f"/api/v1/namespaces/{ns}/configmaps/one").json()["data"] == {"k": "v"}
        assert client.get(f"/api/v1/namespaces/{ns}/serviceaccounts/reader").status_code == 200
        rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/read-cm"
        assert client.get(rbac).status_code == 200


def test_apply_errors_name_the_file(control_plane: ControlPlane, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: missing-ns}\n")
    with pytest.raises(ProvisionError) as raised:
        apply_manifests(control_plane, [bad])
    assert str(bad) in str(raised.value)
    assert 'namespaces "missing-ns" not found' in str(raised.value)
    with pytest.raises(ProvisionError, match="does not exist"):
        apply_manifests(control_plane, [tmp_path / "nope.yaml"])


def test_ensure_namespace_merges_labels_into_an_existing_namespace(
    control_plane: ControlPlane, unique_namespace: str
) -> None:
    ensure_namespace(control_plane, unique_namespace, {"team": "a"})
    ensure_namespace(control_plane, unique_namespace, {"tier": "b"})
    ensure_namespace(control_plane, unique_namespace)
    with control_plane.admin_client() as client:
        labels = client.get(f"/api/v1/namespaces/{unique_namespace}").json()["metadata"]["labels"]
    assert labels["team"] == "a"
    assert labels["tier"] == "b"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("default/default", ("default", "default")), ("ns-1/robot.v2", ("ns-1", "robot.v2"))],
)
def test_parse_service_account(spec: str, expected: tuple[str, str]) -> None:
    assert parse_service_account(spec) == expected


@pytest.mark.parametrize("spec", ["default", "/x", "x/", "a/b/c", "Default/x", "a b/c", "ns/_x"])
def test_parse_service_account_rejects_bad_input(spec: str) -> None:
    with pytest.raises(ProvisionError, match="NAMESPACE/NAME, for example default/default"):
        parse_service_account(spec)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600", 3600),
        ("3600s", 3600),
        ("10m", 600),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1h0m15s", 3615),
        (" 45m ", 2700),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "0", "0s", "-5m", "1.5h", "10x", "m", "30m1h", "1d", "\u0661\u0660"]
)
def test_parse_duration_rejects_bad_input(text: str) -> None:
    with pytest.raises(ProvisionError) as raised:
        parse_duration(text)
    assert str(raised.value) == (
        f"--duration {text!r} is not a token lifetime: write seconds (3600 or 3600s), minutes "
        "(10m), hours (2h) or a combination (1h30m); the API server accepts 10 minutes or more."
    )
