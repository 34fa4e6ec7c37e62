"""``start_local_session``: what ``--incluster-local`` gets, and who stops the control plane."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_incluster.local.controlplane import ControlPlane
from pytest_incluster.local.provision import ProvisionError
from pytest_incluster.local.session import start_local_session

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


def test_bad_service_account_fails_before_starting_anything(tmp_path: Path) -> None:
    with pytest.raises(ProvisionError, match="'nope' does not name a service account"):
        start_local_session(tmp_path / "state", as_sa="nope")
    assert not (tmp_path / "state").exists()
    assert os.listdir(tmp_path) == []
