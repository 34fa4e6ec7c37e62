# A ValidatingAdmissionPolicy checked with server-side dry runs (the runner's `create
# configmaps`, which it has for its report, is all it needs). The policy is
# deploy/components/admission-policy: opted-in ConfigMaps must carry an "owner" label.
import pytest

OPT_IN = {"example.pytest-incluster.io/policy": "owner-required"}


def configmap(labels):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "pytest-incluster-policy-example", "labels": labels},
    }


# By the policy's kind rather than its name: an overlay's namePrefix/nameSuffix renames the
# policy (the message, which the policy writes, stays).
@pytest.mark.expect_rejected(by="ValidatingAdmissionPolicy", match="owner label")
def test_a_configmap_without_owner_is_rejected_by_the_policy(k8s):
    k8s.admission_check(configmap(OPT_IN))


@pytest.mark.expect_admitted
def test_a_configmap_with_owner_is_admitted(k8s):
    k8s.admission_check(configmap({**OPT_IN, "owner": "team-a"}))
