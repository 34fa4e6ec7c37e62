# Admission: what the cluster refuses after RBAC allowed the request. deploy/ puts the runner in
# a namespace that enforces Pod Security "restricted" (components/namespace), and grants it
# `create pods` so it can ask with a server-side dry run: nothing is ever stored.
import pytest


def pod(name, container_security):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": "app", "image": "example/app:1", "securityContext": container_security}
            ]
        },
    }


PRIVILEGED = pod("pytest-incluster-privileged", {"privileged": True})
COMPLIANT = pod(
    "pytest-incluster-compliant",
    {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
)


# Passes only if Pod Security refused it: if the runner could not create pods at all, RBAC's
# refusal would fail this test ("rejected by authorization, not admission: ...").
@pytest.mark.expect_rejected(by="PodSecurity", match="privileged")
def test_privileged_pods_are_rejected_by_pod_security(k8s):
    k8s.admission_check(PRIVILEGED)


@pytest.mark.expect_admitted
def test_a_compliant_pod_is_admitted(k8s):
    k8s.admission_check(COMPLIANT)


def test_the_decision_says_who_refused(k8s, k8s_namespace):
    decision = k8s.admission_check(PRIVILEGED)
    assert not decision.admitted
    assert (decision.stage, decision.by) == ("admission", "PodSecurity")
    assert decision.namespace == k8s_namespace
