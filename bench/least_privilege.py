"""Least-privilege timings on a local control plane: snapshot, exhaustive, sweep, who-can.

Usage: ``PYTHONPATH=. .venv/bin/python -m bench.least_privilege [--repeat R] [--concurrency N]``.
Starts its own control plane in a temporary directory (stopped at the end), binds the built-in
``edit`` ClusterRole to a ServiceAccount in one namespace, and times, as the admin impersonating
it, the median of R runs of:

* snapshot of one namespace (SelfSubjectRulesReview + expansion; the rules path),
* exhaustive for that namespace against its own snapshot (the same, plus the comparison),
* the cluster scope (a rules review of a namespace that does not exist, expanded),
* the sweep a node identity takes (the server says its rules are incomplete),
* who-can ``get secrets -n NS`` (list bindings, one SubjectAccessReview per bound subject).

No assertions on time: the numbers are printed for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pytest_incluster.access.grammar import parse_entry
from pytest_incluster.client import K8sClient
from pytest_incluster.config.model import ClusterConfig
from pytest_incluster.local.assets import resolve_assets
from pytest_incluster.local.controlplane import ControlPlane
from pytest_incluster.local.provision import ensure_namespace, ensure_service_account
from pytest_incluster.privilege.exhaustive import extras, grant
from pytest_incluster.privilege.inventory import cluster_inventory, namespace_inventory

NAMESPACE = "shop"
EDITOR = f"system:serviceaccount:{NAMESPACE}:editor"


def _median(repeat: int, work: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _admin(cp: ControlPlane, concurrency: int) -> K8sClient:
    config = ClusterConfig(
        server=cp.server,
        namespace=NAMESPACE,
        source="bench admin",
        ca_file=cp.ca_file,
        client_cert_file=cp.admin_cert_file,
        client_key_file=cp.admin_key_file,
    )
    return K8sClient(config, max_concurrency=concurrency)


def _setup(cp: ControlPlane, admin: K8sClient) -> None:
    ensure_namespace(cp, NAMESPACE)
    ensure_service_account(cp, NAMESPACE, "editor")
    admin.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "editor", "namespace": NAMESPACE},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "edit",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "editor", "namespace": NAMESPACE}],
        }
    )
    time.sleep(1)  # the authorizer's informers


def measure(admin: K8sClient, repeat: int, concurrency: int) -> list[tuple[str, float, str]]:
    editor = admin.impersonate(EDITOR)
    node = admin.impersonate("system:node:bench", ["system:nodes"])
    rows: list[tuple[str, float, str]] = []
    seconds, inventory = _median(
        repeat, lambda: namespace_inventory(editor, NAMESPACE, concurrency)
    )
    permissions = inventory.permissions  # type: ignore[attr-defined]
    rows.append(("snapshot, one namespace (edit)", seconds, f"{len(permissions)} entries"))
    grants = [grant(parse_entry(p.text), editor, NAMESPACE) for p in permissions]

    def exhaustive() -> object:
        found = namespace_inventory(editor, NAMESPACE, concurrency)
        return extras(editor, found, grants, (), concurrency)

    seconds, found = _median(repeat, exhaustive)
    rows.append(("exhaustive, one namespace (edit)", seconds, f"{len(found)} extra"))  # type: ignore[arg-type]
    seconds, scope = _median(repeat, lambda: cluster_inventory(editor, concurrency))
    rows.append(("cluster scope (edit)", seconds, f"{len(scope.permissions)} entries"))  # type: ignore[attr-defined]
    seconds, swept = _median(repeat, lambda: namespace_inventory(node, NAMESPACE, concurrency))
    rows.append(("sweep, one namespace (node)", seconds, f"{swept.reviews} access reviews"))  # type: ignore[attr-defined]
    seconds, who = _median(repeat, lambda: admin.who_can("get", "secrets", NAMESPACE))
    rows.append(("who-can get secrets -n shop", seconds, f"{len(who)} subjects"))  # type: ignore[arg-type]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.least_privilege")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    assets = resolve_assets()
    with tempfile.TemporaryDirectory(prefix="bench-least-privilege-") as work:
        cp = ControlPlane.start(Path(work), assets=assets)
        try:
            with _admin(cp, args.concurrency) as admin:
                _setup(cp, admin)
                rows = measure(admin, args.repeat, args.concurrency)
        finally:
            cp.stop()
    print(f"median of {args.repeat}, --incluster-concurrency {args.concurrency}")
    for name, seconds, what in rows:
        print(f"{name:40s} {seconds * 1000:8.0f} ms  ({what})")


if __name__ == "__main__":
    main()
