# What the runner must NOT do. Each test makes the real request; expect_forbidden passes only on
# a 403 for that verb, resource and namespace, so neither an unexpected success nor some other
# denial can make it pass.
import pytest


@pytest.mark.expect_forbidden(verb="list", resource="pods", namespace="kube-system")
def test_cannot_list_pods_in_another_namespace(k8s):
    k8s.get("/api/v1/namespaces/kube-system/pods")


@pytest.mark.expect_forbidden(verb="list", resource="namespaces")
def test_cannot_list_namespaces(k8s):
    k8s.get("/api/v1/namespaces")


@pytest.mark.expect_forbidden(verb="list", resource="secrets")
def test_cannot_read_secrets_in_own_namespace(k8s, k8s_namespace):
    k8s.get(f"/api/v1/namespaces/{k8s_namespace}/secrets")


@pytest.mark.expect_forbidden(
    verb="create", resource="clusterrolebindings.rbac.authorization.k8s.io"
)
def test_cannot_make_itself_cluster_admin(k8s, k8s_identity, k8s_namespace):
    # dry_run: authorized exactly like the real request, but if RBAC were ever wrong, nothing
    # would be created.
    name = k8s_identity.username.rsplit(":", 1)[-1]
    k8s.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"generateName": "pytest-incluster-escalation-"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": k8s_namespace}],
        },
        dry_run=True,
    )
