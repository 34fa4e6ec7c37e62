"""create/apply/delete, dry-run, and cleanup of exactly what a test created."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from pytest_incluster.access.decision import AccessRequest
from pytest_incluster.calls import CallLog
from pytest_incluster.client import (
    AlreadyExists,
    CleanupError,
    Forbidden,
    Invalid,
    K8sClient,
    NotFound,
)

pytestmark = pytest.mark.controlplane


def configmap(name: str, **extra: Any) -> dict[str, Any]:
    metadata = {"name": name, **extra.pop("metadata", {})}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {"k": "v"},
        **extra,
    }


def exists(client: K8sClient, name: str, namespace: str) -> bool:
    try:
        client.get_object("v1", "ConfigMap", name, namespace=namespace)
    except NotFound:
        return False
    return True


def test_dry_run_create_changes_nothing(admin: K8sClient, unique_namespace: str) -> None:
    created = admin.create(configmap("dry"), namespace=unique_namespace, dry_run=True)
    assert created["metadata"]["namespace"] == unique_namespace
    assert not exists(admin, "dry", unique_namespace)
    assert all(o.name != "dry" for o in admin.tracked_objects())


def test_dry_run_is_authorized_like_the_real_request(
    runner: K8sClient, unique_namespace: str
) -> None:
    with pytest.raises(Forbidden) as info:
        runner.create(configmap("nope"), dry_run=True)
    assert info.value.path == f"/api/v1/namespaces/{unique_namespace}/configmaps?dryRun=All"
    assert 'cannot create resource "configmaps"' in info.value.server_message


def test_create_get_delete(admin: K8sClient, unique_namespace: str) -> None:
    ns = unique_namespace
    with admin.tracking():
        created = admin.create(configmap("c1", metadata={"namespace": "ignored"}), namespace=ns)
        assert created["metadata"]["namespace"] == ns
        assert admin.get_object("v1", "ConfigMap", "c1", namespace=ns)["data"] == {"k": "v"}
        with pytest.raises(AlreadyExists) as info:
            admin.create(configmap("c1"), namespace=ns)
        assert str(info.value) == (
            f"POST /api/v1/namespaces/{ns}/configmaps -> 409 AlreadyExists: "
            'configmaps "c1" already exists'
        )
        admin.delete_object("v1", "ConfigMap", "c1", namespace=ns, dry_run=True)
        assert exists(admin, "c1", ns)
        admin.delete_object("v1", "ConfigMap", "c1", namespace=ns)
        assert not exists(admin, "c1", ns)


def test_delete_with_a_url_is_httpx_delete(admin: K8sClient, unique_namespace: str) -> None:
    """``k8s.delete(url)`` is httpx's method (the README presents ``k8s`` as an httpx client),
    with the client's typed errors; objects are deleted by kind and name with delete_object."""
    ns = unique_namespace
    admin.create(configmap("by-url"), namespace=ns)
    url = f"/api/v1/namespaces/{ns}/configmaps/by-url"
    response = admin.delete(url, params={"dryRun": "All"})
    assert response.status_code == 200
    assert exists(admin, "by-url", ns)
    assert admin.delete(url).status_code == 200
    assert not exists(admin, "by-url", ns)
    with pytest.raises(NotFound) as info:
        admin.delete(url)
    assert str(info.value) == (f'DELETE {url} -> 404 NotFound: configmaps "by-url" not found')


def test_invalid_object_carries_causes(admin: K8sClient, unique_namespace: str) -> None:
    with pytest.raises(Invalid) as info:
        admin.create(configmap("Bad_Name"), namespace=unique_namespace)
    assert info.value.server_message.startswith('ConfigMap "Bad_Name" is invalid: metadata.name')
    assert info.value.details["causes"][0]["field"] == "metadata.name"


def test_apply_creates_then_updates_and_tracks_only_creation(
    admin: K8sClient, unique_namespace: str
) -> None:
    ns = unique_namespace
    admin.create(configmap("pre-existing"), namespace=ns)  # not ours to clean up later
    with admin.tracking() as tracker:
        applied = admin.apply(configmap("applied"), namespace=ns)
        assert applied["metadata"]["managedFields"][0]["manager"] == "pytest-incluster"
        changed = admin.apply({**configmap("applied"), "data": {"k": "w"}}, namespace=ns)
        assert changed["data"] == {"k": "w"}
        admin.apply({**configmap("pre-existing"), "data": {"k": "x"}}, namespace=ns)
        dry = admin.apply(configmap("dry-applied"), namespace=ns, dry_run=True)
        assert dry["metadata"]["name"] == "dry-applied"
        assert [o.name for o in tracker.objects] == ["applied"]
    assert tracker.result is not None
    assert [o.name for o in tracker.result.deleted] == ["applied"]
    assert not exists(admin, "applied", ns)
    assert exists(admin, "pre-existing", ns)
    assert not exists(admin, "dry-applied", ns)


def test_cleanup_runs_when_the_block_fails(admin: K8sClient, unique_namespace: str) -> None:
    def failing_test() -> None:
        with admin.tracking():
            admin.create(configmap("during-failure"), namespace=unique_namespace)
            raise RuntimeError("test failed")

    with pytest.raises(RuntimeError):
        failing_test()
    assert not exists(admin, "during-failure", unique_namespace)


def test_cleanup_order_and_namespaces_without_waiting(admin: K8sClient) -> None:
    ns = f"tracked-{uuid.uuid4().hex[:8]}"
    with admin.tracking() as tracker:
        admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        admin.create(configmap("inside"), namespace=ns)
        started = time.monotonic()
    assert time.monotonic() - started < 5  # namespaces never finish here; not waited for
    result = tracker.result
    assert result is not None
    assert [o.describe() for o in result.deleted] == [f"ConfigMap {ns}/inside", f"Namespace {ns}"]
    namespace = admin.get(f"/api/v1/namespaces/{ns}").json()
    assert namespace["status"]["phase"] == "Terminating"


def test_cleanup_never_deletes_a_replacement(admin: K8sClient, unique_namespace: str) -> None:
    ns = unique_namespace
    tracker = admin.begin_tracking()
    admin.create(configmap("replaced"), namespace=ns)
    admin.delete_object("v1", "ConfigMap", "replaced", namespace=ns)
    with K8sClient(admin.config) as someone_else:  # its own tracking, never cleaned up here
        someone_else.create(configmap("replaced"), namespace=ns)
    result = admin.end_tracking(tracker)
    assert [o.name for o in result.already_gone] == ["replaced"]
    assert exists(admin, "replaced", ns)


def test_objects_with_finalizers_are_pending_not_failed(
    admin: K8sClient, unique_namespace: str
) -> None:
    ns = unique_namespace
    held = configmap("held", metadata={"finalizers": ["example.com/hold"]})
    with admin.tracking(wait=0.5) as tracker:
        admin.create(held, namespace=ns)
    result = tracker.result
    assert result is not None
    assert result.ok
    ((obj, note),) = result.pending
    assert obj.name == "held"
    assert note == "still terminating, finalizers ['example.com/hold']"
    admin.patch(
        f"/api/v1/namespaces/{ns}/configmaps/held",
        content=b'{"metadata":{"finalizers":null}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )


def test_cleanup_falls_back_to_the_runner_when_the_creator_may_not_delete(
    admin: K8sClient, make_service_account: Any, unique_namespace: str, grant: Any
) -> None:
    ns = unique_namespace
    make_service_account(ns, "creator")
    grant([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}], sa="creator")
    creator = admin.impersonate(f"system:serviceaccount:{ns}:creator")
    creator.wait_for_access(AccessRequest(verb="create", resource="configmaps", namespace=ns))
    with admin.tracking() as tracker:
        creator.create(configmap("by-creator"), namespace=ns)
        with pytest.raises(Forbidden):
            creator.delete_object("v1", "ConfigMap", "by-creator", namespace=ns)
    assert tracker.result is not None
    assert [o.name for o in tracker.result.deleted] == ["by-creator"]
    assert not exists(admin, "by-creator", ns)


def test_cleanup_failure_is_reported(runner: K8sClient, grant: Any, unique_namespace: str) -> None:
    ns = unique_namespace
    grant([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}])
    runner.wait_for_access(AccessRequest(verb="create", resource="configmaps", namespace=ns))
    with pytest.raises(CleanupError) as info, runner.tracking():
        runner.create(configmap("stuck"))
    assert str(info.value).startswith(
        f"Objects created by the test could not be deleted: ConfigMap {ns}/stuck (DELETE "
        f"/api/v1/namespaces/{ns}/configmaps/stuck -> 403 Forbidden: "
    )


def test_delete_tracked_by_test_id(admin: K8sClient, unique_namespace: str) -> None:
    ns = unique_namespace
    calls = CallLog()
    with K8sClient(admin.config, call_log=calls) as client:
        calls.current_test = "t::one"
        client.create(configmap("one"), namespace=ns)
        calls.current_test = "t::two"
        client.create(configmap("two"), namespace=ns)
        result = client.delete_tracked(test_id="t::one")
        assert [o.name for o in result.deleted] == ["one"]
        assert exists(client, "two", ns)
        assert [o.name for o in client.tracked_objects()] == ["two"]
        client.delete_tracked(wait=0)
        assert not client.tracked_objects()
