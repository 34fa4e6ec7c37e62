"""Each stage's wording, as kube-apiserver 1.35 to 1.37 write it, classifies to its stage."""

from __future__ import annotations

import pytest

from pytest_incluster.admission.classify import refusal


@pytest.mark.parametrize(
    ("status", "message", "stage", "by", "names"),
    [
        (
            403,
            'pods is forbidden: User "system:serviceaccount:ns:runner" cannot create resource '
            '"pods" in API group "" in the namespace "ns"',
            "authorization",
            "authorization",
            (),
        ),
        (
            403,
            'pods "root" is forbidden: violates PodSecurity "restricted:latest": privileged '
            '(container "app" must not set securityContext.privileged=true)',
            "admission",
            "PodSecurity",
            ("PodSecurity", "PodSecurity:restricted"),
        ),
        (
            422,
            "configmaps \"many\" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' "
            "denied request: replicas must be at most 5",
            "admission",
            "ValidatingAdmissionPolicy p (binding b)",
            ("ValidatingAdmissionPolicy", "p", "b"),
        ),
        (
            403,
            "configmaps \"many\" is forbidden: ValidatingAdmissionPolicy 'p' denied request: x",
            "admission",
            "ValidatingAdmissionPolicy p",
            ("ValidatingAdmissionPolicy", "p"),
        ),
        (
            400,
            'admission webhook "names.example.com" denied the request without explanation',
            "admission",
            "names.example.com",
            ("names.example.com", "ValidatingAdmissionWebhook"),
        ),
        (
            403,
            'configmaps "one" is forbidden: exceeded quota: q, requested: count/configmaps=1, '
            "used: count/configmaps=0, limited: count/configmaps=0",
            "quota",
            "ResourceQuota q",
            ("ResourceQuota", "q"),
        ),
        (
            422,
            'Pod "x" is invalid: spec.containers[0].image: Required value',
            "validation",
            "validation",
            ("validation",),
        ),
        (
            403,
            'pods "x" is forbidden: unable to create new content in namespace ns because it is '
            "being terminated",
            "admission",
            "NamespaceLifecycle",
            ("NamespaceLifecycle",),
        ),
        (403, 'pods "x" is forbidden: some plugin said no', "admission", "", ()),
    ],
)
def test_stage_and_by(
    status: int, message: str, stage: str, by: str, names: tuple[str, ...]
) -> None:
    found = refusal(status, message)
    assert found is not None
    assert (found.stage, found.by, found.names) == (stage, by, names)


@pytest.mark.parametrize("status", [401, 404, 409, 429, 500, 503])
def test_answers_that_decide_nothing_about_the_object(status: int) -> None:
    assert refusal(status, "whatever") is None
