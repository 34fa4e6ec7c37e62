"""Fixtures of the reliability tests: a control plane of their own to restart, the fault proxy,
a runner ServiceAccount with grants, and the command line of an inner run.

The shared ``control_plane`` (tests/conftest.py) serves every scenario except the API-server
restart, which gets :func:`restartable_control_plane` so stopping kube-apiserver never disturbs
other tests of the session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.reliability.cluster import MakeProxy, Runner
from tests.reliability.faultproxy import FaultProxy
from tests.support.controlplane import running_control_plane

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane


@pytest.fixture(scope="session")
def restartable_control_plane(
    k8s_assets: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A control plane only the restart scenario uses (it stops and starts kube-apiserver)."""
    with running_control_plane(
        tmp_path_factory.mktemp("restartable-controlplane"), k8s_assets
    ) as cp:
        yield cp


@pytest.fixture
def runner(
    control_plane: ControlPlane,
    unique_namespace: str,
    make_service_account: Callable[..., Path],
) -> Runner:
    """ServiceAccount ``runner`` in the test's own namespace; no grants until asked."""
    return Runner(control_plane, unique_namespace, make_service_account(unique_namespace, "runner"))


@pytest.fixture
def make_proxy(control_plane: ControlPlane, tmp_path: Path) -> Iterator[MakeProxy]:
    """``make_proxy(**options)``: a :class:`FaultProxy` in front of the shared API server."""
    proxies: list[FaultProxy] = []

    def make(**options: Any) -> FaultProxy:
        proxy = FaultProxy(
            control_plane.server,
            control_plane.ca_file,
            tmp_path / f"proxy-{len(proxies)}",
            **options,
        )
        proxies.append(proxy)
        return proxy

    try:
        yield make
    finally:
        for proxy in proxies:
            proxy.close()


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    """Where the inner suite's files go (its rootdir and working directory)."""
    path = tmp_path / "suite"
    path.mkdir()
    return path
