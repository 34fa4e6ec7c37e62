"""Exec credential plugins against the real kube-apiserver, with a real plugin program.

The plugin (``tests/support/exec_plugin.py``) gets a real ServiceAccount token through the
TokenRequest API (``kubectl create token`` with the admin kubeconfig), or returns the control
plane's admin client certificate, and logs every run. The kubeconfig names it with a relative
path (``./get-token``), as users write ``command: ./bin/aws-iam-authenticator``.
"""

from __future__ import annotations

import ssl
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from pytest_incluster.client import K8sClient, Unauthorized
from pytest_incluster.config.errors import ConfigError
from pytest_incluster.credentials.errors import ExecPluginError
from tests.support.exec_kubeconfig import config_from, runs, token_env, write_kubeconfig

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane


@pytest.fixture
def service_account(admin: K8sClient, unique_namespace: str) -> str:
    admin.post(
        f"/api/v1/namespaces/{unique_namespace}/serviceaccounts",
        json={"metadata": {"name": "runner"}},
    )
    return f"{unique_namespace}/runner"


def test_a_token_from_the_plugin_authenticates(
    control_plane: ControlPlane, kubectl: Path, service_account: str, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    kubeconfig = write_kubeconfig(
        tmp_path, control_plane, token_env(control_plane, kubectl, service_account, log)
    )
    config = config_from(kubeconfig)
    seen: list[str] = []
    with K8sClient(config, on_secret=seen.append) as client:
        namespace, name = service_account.split("/")
        assert client.whoami().username == f"system:serviceaccount:{namespace}:{name}"
        client.get("/version")
    # Without an expirationTimestamp the token is reused: one run for every request.
    assert len(runs(log)) == 1
    assert runs(log)[0]["stdin"] == "/dev/null"  # interactiveMode: Never
    assert len(seen) == 1  # the redactor learnt the token
    assert seen[0].startswith("eyJ")


def test_the_plugin_runs_again_when_its_credential_expires(
    control_plane: ControlPlane, kubectl: Path, service_account: str, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    env = {**token_env(control_plane, kubectl, service_account, log), "PLUGIN_TTL": "2"}
    with K8sClient(config_from(write_kubeconfig(tmp_path, control_plane, env))) as client:
        client.whoami()
        client.whoami()
        assert len(runs(log)) == 1  # still valid: reused
        # The plugin printed this time rounded down to the second: once it is past, the
        # credential has expired.
        expires = datetime.fromisoformat(runs(log)[0]["expires"])
        while datetime.now(UTC) <= expires:
            time.sleep(0.2)
        client.whoami()
    assert len(runs(log)) == 2


def _old_token_rejected(control_plane: ControlPlane, token: str) -> bool:
    trust = ssl.create_default_context(cafile=str(control_plane.ca_file))
    with httpx.Client(verify=trust, trust_env=False) as raw:
        answer = raw.get(
            control_plane.server + "/version", headers={"Authorization": f"Bearer {token}"}
        )
        return answer.status_code == 401


def _recreate(
    admin: K8sClient, service_account: str, control_plane: ControlPlane, token: str
) -> None:
    """Delete and re-create the ServiceAccount, until the server rejects the old token."""
    namespace, name = service_account.split("/")
    admin.request("DELETE", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}")
    admin.post(f"/api/v1/namespaces/{namespace}/serviceaccounts", json={"metadata": {"name": name}})
    deadline = time.monotonic() + 30
    while not _old_token_rejected(control_plane, token):
        assert time.monotonic() < deadline, "the old token was still accepted after 30 s"
        time.sleep(0.2)


def test_a_401_after_the_service_account_was_recreated_runs_the_plugin_again(
    control_plane: ControlPlane,
    kubectl: Path,
    admin: K8sClient,
    service_account: str,
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    kubeconfig = write_kubeconfig(
        tmp_path, control_plane, token_env(control_plane, kubectl, service_account, log)
    )
    seen: list[str] = []
    with K8sClient(config_from(kubeconfig), on_secret=seen.append) as client:
        client.whoami()
        _recreate(admin, service_account, control_plane, seen[0])
        # The old token gets a 401; the plugin runs again and the request is sent once more.
        namespace, name = service_account.split("/")
        assert client.whoami().username == f"system:serviceaccount:{namespace}:{name}"
    assert len(runs(log)) == 2
    assert len(seen) == 2
    assert seen[0] != seen[1]


def test_a_plugin_that_keeps_returning_a_rejected_token_fails_with_401(
    control_plane: ControlPlane,
    kubectl: Path,
    admin: K8sClient,
    service_account: str,
    tmp_path: Path,
) -> None:
    """The other side: when the plugin's new token is the rejected one, the 401 stands, and
    the plugin ran exactly once more (no loop)."""
    token_file = tmp_path / "fixed-token"
    namespace, name = service_account.split("/")
    token = admin.post(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        json={"spec": {"expirationSeconds": 3600}},
    ).json()["status"]["token"]
    token_file.write_text(token)
    log = tmp_path / "runs.log"
    env = {"PLUGIN_MODE": "file", "PLUGIN_TOKEN_FILE": str(token_file), "PLUGIN_LOG": str(log)}
    with K8sClient(config_from(write_kubeconfig(tmp_path, control_plane, env))) as client:
        client.whoami()
        _recreate(admin, service_account, control_plane, token)
        with pytest.raises(Unauthorized):
            client.whoami()
    assert len(runs(log)) == 2


def test_a_client_certificate_from_the_plugin_authenticates(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    env = {
        "PLUGIN_MODE": "cert",
        "PLUGIN_CERT": str(control_plane.admin_cert_file),
        "PLUGIN_KEY": str(control_plane.admin_key_file),
        "PLUGIN_LOG": str(log),
    }
    config = config_from(write_kubeconfig(tmp_path, control_plane, env))
    seen: list[str] = []
    with K8sClient(config, on_secret=seen.append) as client:
        assert client.whoami().username == "pytest-incluster-admin"
        assert "Authorization" not in client.get("/version").request.headers
    assert len(runs(log)) == 1
    # The key went to the redactor; no file with it is left behind.
    assert seen == [control_plane.admin_key_file.read_text()]
    assert list(Path(tempfile.gettempdir()).glob("pytest-incluster-exec-*")) == []


def test_an_expiring_client_certificate_is_fetched_again(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    env = {
        "PLUGIN_MODE": "cert",
        "PLUGIN_CERT": str(control_plane.admin_cert_file),
        "PLUGIN_KEY": str(control_plane.admin_key_file),
        "PLUGIN_LOG": str(log),
        "PLUGIN_TTL": "2",
    }
    with K8sClient(config_from(write_kubeconfig(tmp_path, control_plane, env))) as client:
        client.get("/version")
        assert len(runs(log)) == 1
        expires = datetime.fromisoformat(runs(log)[0]["expires"])
        while datetime.now(UTC) <= expires:
            time.sleep(0.2)
        assert client.whoami().username == "pytest-incluster-admin"
    assert len(runs(log)) == 2


def test_a_certificate_with_the_wrong_key_is_refused(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    from tests.support.certs import self_signed_ca

    other_key = tmp_path / "other.key"
    other_key.write_bytes(self_signed_ca()[1])
    env = {
        "PLUGIN_MODE": "cert",
        "PLUGIN_CERT": str(control_plane.admin_cert_file),
        "PLUGIN_KEY": str(other_key),
    }
    config = config_from(write_kubeconfig(tmp_path, control_plane, env))
    with pytest.raises(ConfigError) as info:
        K8sClient(config)
    assert str(info.value).startswith(
        "kubeconfig ~/kubeconfig user 'eks-user' (context 'eks'): the exec "
        "credential plugin returned a client certificate and key that cannot be used ("
    )
    assert other_key.read_text() not in str(info.value)


def test_a_failing_plugin_stops_the_client_with_its_stderr(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    env = {"PLUGIN_MODE": "fail", "PLUGIN_STDERR": "error: the SSO session has expired"}
    config = config_from(write_kubeconfig(tmp_path, control_plane, env))
    with pytest.raises(ExecPluginError) as info:
        K8sClient(config)
    assert str(info.value) == (
        "kubeconfig ~/kubeconfig user 'eks-user' (context 'eks'): the exec credential "
        f'plugin {tmp_path}/get-token failed with exit code 3; its stderr said: "error: the SSO '
        'session has expired". Run the command by hand with the same arguments to see why '
        "(often a login that expired), or fix the exec stanza."
    )
