"""Session fixtures around one real, throwaway control plane (etcd + kube-apiserver).

Tests that use them are marked ``controlplane`` (automatically, below; a test that starts a
control plane some other way, for example ``--incluster-local`` in a pytester run, marks its
module ``pytestmark = pytest.mark.controlplane``). ``scripts/test.sh`` runs the marked tests once
per supported Kubernetes release (``INCLUSTER_KUBERNETES_VERSION``). Nothing starts unless a test
asks for a fixture. The binaries are resolved like ``pytest-incluster assets`` does
(``KUBEBUILDER_ASSETS``, else the cache, else a build with local Go, about ten minutes once);
without Go or binaries the fixtures fail with the message that says what to install.

pytest-xdist: every worker starts its own control plane in its own temporary directory (about
3 s each), so workers never share objects or interfere through API-server restarts.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpcore  # noqa: F401  (see below)
import pytest

# Import the client stack before any in-process pytester run. pytester restores sys.modules
# after each inline run, so a module first imported inside one (httpcore is imported lazily by
# httpx) would later be imported again as new class objects, which httpx's cached exception
# map no longer recognises: a refused connection would escape as a raw httpcore error. The
# access-file collector likewise: imported first inside an inline run, the next run's collector
# no longer matched node IDs (tests/unit/access/test_access_collect.py run on its own).
import pytest_incluster.client
import pytest_incluster.pytest_plugin.access_files
from tests.support.controlplane import running_control_plane

if TYPE_CHECKING:
    from pytest_incluster.local.controlplane import ControlPlane

MakeServiceAccount = Callable[..., Path]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches the control-plane binaries ``controlplane``.

    The version matrix selects ``-m controlplane``; deriving the mark from the fixtures a test
    uses means a new test cannot silently miss the older releases.
    """
    for item in items:
        if "k8s_assets" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.controlplane)


def _progress(message: str) -> None:
    # A first build runs for minutes inside a fixture; show progress despite output capture.
    stream = sys.__stderr__
    if stream is not None:
        print(f"\npytest-incluster: {message}", file=stream, flush=True)


@pytest.fixture(scope="session")
def k8s_assets() -> Path:
    """The directory holding etcd, kube-apiserver and kubectl (built on first use)."""
    from pytest_incluster.local.assets import resolve_assets
    from pytest_incluster.local.errors import LocalError

    try:
        return resolve_assets(progress=_progress)
    except LocalError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def kubectl(k8s_assets: Path) -> Path:
    """Path of the kubectl built together with the control plane (version-matched)."""
    return k8s_assets / "kubectl"


@pytest.fixture(scope="session")
def control_plane(
    k8s_assets: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """One running control plane per test session (per worker under xdist), stopped at the end."""
    with running_control_plane(tmp_path_factory.mktemp("controlplane"), k8s_assets) as cp:
        yield cp


@pytest.fixture(scope="session")
def make_service_account(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> MakeServiceAccount:
    """Factory ``(namespace, name, *, out_dir=None) -> Path`` of a pod-style credential dir.

    Creates the namespace and the ServiceAccount when missing and writes ``token`` (a fresh
    TokenRequest token), ``ca.crt`` and ``namespace``, like kubelet mounts them in a pod.
    """
    from pytest_incluster.local.provision import write_pod_dir

    def make(namespace: str, name: str, *, out_dir: Path | None = None) -> Path:
        target = out_dir or tmp_path_factory.mktemp(f"sa-{namespace}-{name}")
        return write_pod_dir(control_plane, namespace, name, target, create=True)

    return make


@pytest.fixture
def unique_namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> str:
    """A namespace created for this test only.

    Namespaces never finish deleting without kube-controller-manager, so each test gets a new
    name instead of cleaning up and reusing one.
    """
    from pytest_incluster.local.provision import ensure_namespace

    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem or 'test'}-{uuid.uuid4().hex[:8]}"
    ensure_namespace(control_plane, name)
    return name


@pytest.fixture(scope="session")
def admin(control_plane: ControlPlane) -> Iterator[pytest_incluster.client.K8sClient]:
    """A K8sClient with the control plane's admin client certificate (system:masters)."""
    from pytest_incluster.client import K8sClient
    from pytest_incluster.config.model import ClusterConfig

    config = ClusterConfig(
        server=control_plane.server,
        namespace="default",
        source="test admin",
        ca_file=control_plane.ca_file,
        client_cert_file=control_plane.admin_cert_file,
        client_key_file=control_plane.admin_key_file,
    )
    with K8sClient(config) as client:
        yield client
