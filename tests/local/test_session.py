"""``start_local_session``: what ``--incluster-local`` gets, and who stops the control plane."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path

import httpx
import pytest

from pytest_incluster.local.controlplane import ControlPlane, kill_leftovers
from pytest_incluster.local.provision import ProvisionError, write_pod_dir
from pytest_incluster.local.shared_plane import start_local_session
from tests.support.processes import crash, processes_mentioning

pytestmark = pytest.mark.controlplane


@pytest.fixture
def assets_env(k8s_assets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``start_local_session`` resolves binaries itself; point it at the session's."""
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(k8s_assets))


@pytest.mark.usefixtures("assets_env")
def test_owner_stops_and_reuser_does_not(tmp_path: Path) -> None:
    manifest = tmp_path / "team.yaml"
    manifest.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-b}\n")
    state = tmp_path / "state"
    first = start_local_session(state, apply=[manifest], as_sa="team-b/app")
    try:
        assert first.owned
        assert (first.namespace, first.service_account) == ("team-b", "app")
        assert first.sa_dir == state.resolve() / "serviceaccounts" / "team-b" / "app"
        assert (first.sa_dir / "namespace").read_text() == "team-b"
        assert oct((first.sa_dir / "token").stat().st_mode & 0o777) == oct(0o600)

        second = start_local_session(state)  # what an xdist worker does
        assert not second.owned
        assert second.server == first.server
        assert (second.namespace, second.service_account) == ("default", "default")
        second.stop()
        assert first.control_plane.running
    finally:
        first.stop()
    assert not first.control_plane.running
    assert ControlPlane.attach(state) is None
    assert (state / "kube-apiserver.log").exists()  # a directory the caller named is kept


@pytest.mark.usefixtures("assets_env")
def test_a_temporary_state_dir_goes_with_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No directory asked for (``--incluster-local`` without ``--incluster-local-dir``): the
    one made for the session, with its keys, tokens and logs, is removed when it stops."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    session = start_local_session(None)
    try:
        [made] = tmp_path.glob("pytest-incluster-local-*")
        assert session.temporary_dir == made.resolve()
        assert (made / "pki").is_dir()
        assert session.sa_dir.is_relative_to(made.resolve())
    finally:
        session.stop()
    assert not session.control_plane.running
    assert list(tmp_path.iterdir()) == []


def test_bad_service_account_fails_before_starting_anything(tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="'nope' does not name a service account"):
        start_local_session(tmp_path / "state", as_sa="nope")
    assert not (tmp_path / "state").exists()
    assert os.listdir(tmp_path) == []


def _api_status(server: str, sa_dir: Path) -> int:
    context = ssl.create_default_context(cafile=str(sa_dir / "ca.crt"))
    token = (sa_dir / "token").read_text()
    with httpx.Client(verify=context, trust_env=False) as client:
        return client.get(f"{server}/api", headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.mark.usefixtures("assets_env")
@pytest.mark.parametrize("detached", [True, False], ids=["cluster-up", "pytest-session"])
def test_a_dead_control_plane_in_the_dir(k8s_assets: Path, tmp_path: Path, detached: bool) -> None:
    """One that `cluster up` started is restarted with its keys and left running; one that a
    killed pytest session owned was throwaway and is replaced by a fresh, owned one."""
    state, sa_dir = tmp_path / "state", tmp_path / "sa"
    dead = ControlPlane.start(state, assets=k8s_assets, detached=detached)
    session = None
    try:
        write_pod_dir(dead, "default", "robot", sa_dir, create=True)
        ca = dead.ca_file.read_bytes()
        crash(dead.apiserver_ref, dead.etcd_ref)
        session = start_local_session(state, as_sa="default/robot")
        session.stop()
        assert session.owned is not detached
        assert session.control_plane.running is detached
        if detached:
            assert session.server == dead.server
            assert dead.ca_file.read_bytes() == ca
            assert _api_status(session.server, sa_dir) == 200  # issued before the crash
        else:
            assert dead.ca_file.read_bytes() != ca
    finally:
        if session is not None:
            session.control_plane.stop()  # the restarted one was left running on purpose
        kill_leftovers(state)
        dead.stop()  # reaps the crashed children (their pids are gone, nothing is signalled)
    assert processes_mentioning(state) == []
