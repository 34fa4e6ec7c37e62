# A write checked without writing: dryRun=All goes through authentication, RBAC and admission
# exactly like the real request, and the API server stores nothing.
import pytest

from pytest_incluster import NotFound


def test_may_create_configmaps_dry_run(k8s, k8s_namespace):
    created = k8s.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"generateName": "pytest-incluster-dry-run-"},
            "data": {"hello": "world"},
        },
        dry_run=True,
    )
    # The server answered with the object it would have stored, name generated and all ...
    assert created["metadata"]["namespace"] == k8s_namespace
    name = created["metadata"]["name"]
    assert name.startswith("pytest-incluster-dry-run-")
    # ... and did not store it.
    with pytest.raises(NotFound):
        k8s.get_object("v1", "ConfigMap", name)
