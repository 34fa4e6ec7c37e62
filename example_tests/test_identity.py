# Identity: the API server (not the token's claims) says who the runner is. A wrong identity is
# the commonest reason an access suite proves nothing, so check it first.


def test_runner_is_the_expected_service_account(
    k8s_identity, k8s_namespace, expected_service_account
):
    assert k8s_identity.username == (
        f"system:serviceaccount:{k8s_namespace}:{expected_service_account}"
    )
    assert f"system:serviceaccounts:{k8s_namespace}" in k8s_identity.groups


def test_runner_is_not_a_cluster_admin(k8s):
    # can_i asks the API server (SelfSubjectAccessReview) without making the request itself.
    assert not k8s.can_i("*", "*", namespace="")
