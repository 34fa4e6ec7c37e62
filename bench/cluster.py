"""The benchmark's cluster: a local control plane, the runner ServiceAccount and its RBAC.

Built only with the library's own provisioning helpers, so the bench exercises the same path as
``--incluster-local``: the runner's credentials are a pod-style directory (bound token, CA,
namespace) from :func:`write_pod_dir`, and kubectl gets a kubeconfig that reads the same token
file. The admin (client certificate) is used only for set-up and for scraping ``/metrics``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import httpx
import yaml

from bench.entries import NAMESPACES, RUNNER_NAME, RUNNER_NAMESPACE, check_types
from bench.floor_client import SSAR, plain_client
from bench.rbac import aggregate_view, manifests
from pytest_incluster.local.assets import resolve_assets
from pytest_incluster.local.controlplane import ControlPlane
from pytest_incluster.local.provision import (
    apply_manifests,
    ensure_namespace,
    ensure_service_account,
    write_pod_dir,
)

# (review attributes, expected) pairs that prove the RBAC set is in force before timing starts.
_READY_PROBES = (
    ({"namespace": "shop", "verb": "create", "group": "apps", "resource": "deployments"}, True),
    ({"namespace": "search", "verb": "list", "resource": "pods"}, True),  # via view
    ({"namespace": "kube-system", "verb": "list", "resource": "secrets"}, False),
)


def _progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class BenchCluster:
    """Start with :meth:`up`; use as a context manager so the control plane always stops."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cp: ControlPlane | None = None
        self.sa_dir = workdir / "serviceaccount"
        self.kubeconfig = workdir / "runner.kubeconfig"
        self.kubectl_cache = workdir / "kubectl-cache"
        self.endpoint: str | None = None  # a relay's URL while one is in front (--rtt)

    def __enter__(self) -> BenchCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def control_plane(self) -> ControlPlane:
        if self.cp is None:
            raise RuntimeError("the control plane is not running; call up() first")
        return self.cp

    @property
    def server(self) -> str:
        """The URL every contender uses: the API server's, or a latency relay's in front of it."""
        return self.endpoint or self.control_plane.server

    @property
    def direct_address(self) -> tuple[str, int]:
        """The API server's own host and port (what a relay forwards to)."""
        parts = urlsplit(self.control_plane.server)
        assert parts.hostname is not None
        assert parts.port is not None
        return parts.hostname, parts.port

    def use_endpoint(self, url: str | None) -> None:
        """Send every contender to ``url`` (a relay), or back to the API server (None).

        kubectl's kubeconfig is rewritten to match; its discovery cache is per server URL, so
        B needs a warm-up after every switch.
        """
        self.endpoint = url
        self._write_kubeconfig()

    @property
    def kubectl(self) -> Path:
        return self.control_plane.assets / "kubectl"

    def up(self) -> None:
        """Start the control plane and provision the runner; returns when RBAC is in force."""
        started = time.perf_counter()
        assets = resolve_assets(progress=_progress)
        self.cp = ControlPlane.start(self.workdir / "controlplane", assets=assets)
        cp = self.cp
        _progress(f"control plane up at {cp.server} in {time.perf_counter() - started:.1f}s")
        for namespace in NAMESPACES:
            ensure_namespace(cp, namespace)
        ensure_service_account(cp, RUNNER_NAMESPACE, RUNNER_NAME)
        rbac_file = self.workdir / "rbac.yaml"
        rbac_file.write_text(yaml.safe_dump_all(manifests(), sort_keys=False))
        apply_manifests(cp, [rbac_file])
        with cp.admin_client() as admin:
            view_rules = aggregate_view(admin)
            check_types(admin)
        write_pod_dir(cp, RUNNER_NAMESPACE, RUNNER_NAME, self.sa_dir)
        self._write_kubeconfig()
        self._await_rbac()
        _progress(
            f"provisioned {RUNNER_NAMESPACE}/{RUNNER_NAME} ({len(manifests())} RBAC objects, "
            f"view with {view_rules} rules) in {time.perf_counter() - started:.1f}s"
        )

    def stop(self) -> None:
        if self.cp is not None:
            self.cp.stop()
            self.cp = None

    def runner_client(self, **kw: object) -> httpx.Client:
        """A plain httpx client with the runner's bearer token (the floor, D, uses one)."""
        return plain_client(self.server, self.sa_dir, **kw)

    def request_total(self) -> float:
        """The sum of ``apiserver_request_total`` over all labels (admin scrape of /metrics)."""
        with self.control_plane.admin_client() as admin:
            response = admin.get("/metrics")
        response.raise_for_status()
        total = 0.0
        for line in response.text.splitlines():
            if line.startswith("apiserver_request_total{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def _write_kubeconfig(self) -> None:
        """kubectl's view of the runner: the pod directory's token file and CA."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "bench",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self.sa_dir / "ca.crt"),
                    },
                }
            ],
            "users": [{"name": "runner", "user": {"tokenFile": str(self.sa_dir / "token")}}],
            "contexts": [
                {
                    "name": "bench",
                    "context": {
                        "cluster": "bench",
                        "user": "runner",
                        "namespace": RUNNER_NAMESPACE,
                    },
                }
            ],
            "current-context": "bench",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
        self.kubeconfig.chmod(0o600)

    def _await_rbac(self, timeout: float = 30.0) -> None:
        """RBAC objects reach the authorizer through informers: wait until they are seen."""
        deadline = time.monotonic() + timeout
        with self.runner_client() as client:
            while True:
                answers = [
                    client.post(
                        SSAR,
                        json={
                            "apiVersion": "authorization.k8s.io/v1",
                            "kind": "SelfSubjectAccessReview",
                            "spec": {"resourceAttributes": attributes},
                        },
                    )
                    .json()
                    .get("status", {})
                    .get("allowed", False)
                    for attributes, _ in _READY_PROBES
                ]
                if answers == [expected for _, expected in _READY_PROBES]:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"RBAC not in force after {timeout:g}s: {answers}")
                time.sleep(0.2)
