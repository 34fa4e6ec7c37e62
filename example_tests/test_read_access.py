# Reading what the runner may read: pods and ConfigMaps in its own namespace
# (deploy/base/rbac-tests.yaml). expect_allowed turns a 403 into "access denied: <reason>" and
# lists the check in the report's access summary.
import pytest


@pytest.mark.expect_allowed
def test_list_pods_in_own_namespace(k8s, k8s_namespace):
    pods = k8s.get(f"/api/v1/namespaces/{k8s_namespace}/pods").json()
    assert pods["kind"] == "PodList"


@pytest.mark.expect_allowed
def test_list_configmaps_in_own_namespace(k8s, k8s_namespace):
    configmaps = k8s.get(f"/api/v1/namespaces/{k8s_namespace}/configmaps").json()
    assert configmaps["kind"] == "ConfigMapList"
