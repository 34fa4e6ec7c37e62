# Another principal's rights, checked from the runner by impersonation (no token of theirs
# needed). Needs deploy/components/impersonation, which lets the runner act as exactly this user
# and group; this directory's kustomization.yaml ships these tests only together with it.
# Without the grant (a local run that did not apply it) they error with a message that says so.
import pytest

USER = "example-developer"
GROUP = "example-developers"  # may read pods, ConfigMaps and Deployments here, not Secrets


@pytest.mark.impersonate(USER, groups=[GROUP])
def test_api_server_sees_the_impersonated_user(k8s):
    me = k8s.whoami()
    assert me.username == USER
    assert GROUP in me.groups


@pytest.mark.impersonate(USER, groups=[GROUP])
@pytest.mark.expect_allowed
def test_developers_can_view_pods(k8s, k8s_namespace):
    k8s.get(f"/api/v1/namespaces/{k8s_namespace}/pods")


@pytest.mark.impersonate(USER, groups=[GROUP])
@pytest.mark.expect_forbidden(verb="list", resource="secrets")
def test_developers_cannot_read_secrets(k8s, k8s_namespace):
    # deploy/components/impersonation gives the group no access to Secrets.
    k8s.get(f"/api/v1/namespaces/{k8s_namespace}/secrets")


def test_developer_and_runner_differ(k8s):
    # k8s.impersonate() gives a second client, to compare two identities in one test.
    developer = k8s.impersonate(USER, groups=[GROUP])
    assert developer.can_i("list", "deployments.apps")
    assert not k8s.can_i("list", "deployments.apps")
