"""Starting and stopping leave nothing behind, and failed starts explain themselves.

Each test starts its own control plane (about 3 s) because it stops, kills or breaks it.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_incluster.local.controlplane import (
    STATE_FILE,
    ControlPlane,
    ControlPlaneError,
    kill_leftovers,
)
from pytest_incluster.local.processes import ProcessRef, port_in_use
from tests.support.processes import can_bind, processes_mentioning, wait_until

pytestmark = pytest.mark.controlplane


@pytest.fixture
def own_control_plane(k8s_assets: Path, tmp_path: Path) -> Iterator[ControlPlane]:
    cp = ControlPlane.start(tmp_path / "state", assets=k8s_assets)
    try:
        yield cp
    finally:
        cp.stop()


def test_stop_leaves_no_process_and_no_port(own_control_plane: ControlPlane) -> None:
    cp = own_control_plane
    refs = [cp.etcd_ref, cp.apiserver_ref]
    ports = [cp.etcd_port, cp.etcd_peer_port, cp.apiserver_port]
    assert all(ref is not None and ref.alive() for ref in refs)
    assert port_in_use(cp.apiserver_port)
    cp.stop()
    assert not any(ref is not None and ref.alive() for ref in refs)
    assert all(can_bind(port) for port in ports)
    assert processes_mentioning(cp.state_dir) == []
    assert not (cp.state_dir / STATE_FILE).exists()
    assert ControlPlane.attach(cp.state_dir) is None
    cp.stop()  # idempotent


def test_killing_the_owner_kills_the_control_plane(k8s_assets: Path, tmp_path: Path) -> None:
    """``kill -9`` of the owning process runs no Python cleanup; PR_SET_PDEATHSIG must."""
    script = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from pytest_incluster.local.controlplane import ControlPlane\n"
        f"cp = ControlPlane.start(Path({str(tmp_path)!r}), assets=Path({str(k8s_assets)!r}))\n"
        "pids = [cp.etcd_ref.pid, cp.apiserver_ref.pid]\n"
        "print(json.dumps([*pids, cp.apiserver_port]), flush=True)\n"
        "time.sleep(600)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as owner:
        try:
            assert owner.stdout is not None
            etcd_pid, apiserver_pid, port = json.loads(owner.stdout.readline())
            refs = [ProcessRef.of(etcd_pid), ProcessRef.of(apiserver_pid)]
            assert all(ref is not None for ref in refs)
            owner.send_signal(signal.SIGKILL)
            owner.wait()
            assert wait_until(lambda: not any(r is not None and r.alive() for r in refs))
            assert wait_until(lambda: can_bind(port))
            assert processes_mentioning(tmp_path) == []
        finally:
            owner.kill()
            kill_leftovers(tmp_path)  # only does something if an assertion above failed


def test_a_taken_port_fails_fast_with_the_log_tail(k8s_assets: Path, tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(ControlPlaneError) as raised:
            ControlPlane.start(tmp_path, assets=k8s_assets, apiserver_port=port)
    message = str(raised.value)
    assert time.monotonic() - started < 60  # failed fast, not at the 120 s deadline
    assert message.startswith("kube-apiserver exited with status")
    assert f"Its log is {tmp_path / 'kube-apiserver.log'}" in message
    assert "address already in use" in message
    assert processes_mentioning(tmp_path) == []  # etcd was stopped too


@pytest.mark.parametrize("broken", ["kube-apiserver", "etcd"])
def test_a_broken_binary_fails_with_its_log_tail(
    k8s_assets: Path, tmp_path: Path, broken: str
) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in ("etcd", "kube-apiserver", "kubectl"):
        (assets / name).symlink_to(k8s_assets / name)
    (assets / broken).unlink()
    (assets / broken).write_text(f"#!/bin/sh\necho 'simulated {broken} failure' >&2\nexit 1\n")
    (assets / broken).chmod(0o755)
    state = tmp_path / "state"
    with pytest.raises(ControlPlaneError) as raised:
        ControlPlane.start(state, assets=assets)
    message = str(raised.value)
    assert message.startswith(f"{broken} exited with status 1 while starting")
    assert str(state / f"{broken}.log") in message
    assert f"    simulated {broken} failure" in message
    assert processes_mentioning(state) == []


def test_not_ready_in_time_is_an_error_that_cleans_up(k8s_assets: Path, tmp_path: Path) -> None:
    with pytest.raises(ControlPlaneError, match=r"did not become ready within 0\.01 s"):
        ControlPlane.start(tmp_path, assets=k8s_assets, timeout=0.01)
    assert processes_mentioning(tmp_path) == []


def test_start_after_a_crash_replaces_the_leftovers(k8s_assets: Path, tmp_path: Path) -> None:
    first = ControlPlane.start(tmp_path, assets=k8s_assets)
    etcd = first.etcd_ref
    try:
        first.stop_apiserver()  # half-dead: etcd still runs, attach() no longer matches
        assert ControlPlane.attach(tmp_path) is None
        second = ControlPlane.start(tmp_path, assets=k8s_assets)
        try:
            assert etcd is not None
            assert not etcd.alive()
            assert second.running
        finally:
            second.stop()
    finally:
        first.stop()
    assert processes_mentioning(tmp_path) == []
