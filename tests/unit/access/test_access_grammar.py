"""The ``kubectl auth can-i`` entry grammar, without a server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_incluster.access.grammar import (
    NON_RESOURCE_VERBS,
    RESOURCE_VERBS,
    CheckSpec,
    GrammarError,
    parse_entry,
)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("get pods", CheckSpec(verb="get", type="pods")),
        ("create deployments.apps", CheckSpec(verb="create", type="deployments.apps")),
        ("get pods/web", CheckSpec(verb="get", type="pods", name="web")),
        (
            "get pods --subresource=log",
            CheckSpec(verb="get", type="pods", subresource="log"),
        ),
        ("get pods --subresource log", CheckSpec(verb="get", type="pods", subresource="log")),
        ("get /healthz", CheckSpec(verb="get", path="/healthz")),
        ("get /apis/*", CheckSpec(verb="get", path="/apis/*")),
        (
            "list secrets -n kube-system",
            CheckSpec(verb="list", type="secrets", namespace="kube-system"),
        ),
        (
            "list secrets --namespace=kube-system",
            CheckSpec(verb="list", type="secrets", namespace="kube-system"),
        ),
        (
            "list secrets --namespace kube-system",
            CheckSpec(verb="list", type="secrets", namespace="kube-system"),
        ),
        (
            "list secrets -nkube-system",
            CheckSpec(verb="list", type="secrets", namespace="kube-system"),
        ),
        ("-n shop list secrets", CheckSpec(verb="list", type="secrets", namespace="shop")),
        ("list secrets -A", CheckSpec(verb="list", type="secrets", all_namespaces=True)),
        (
            "list secrets --all-namespaces",
            CheckSpec(verb="list", type="secrets", all_namespaces=True),
        ),
        ("  delete    namespaces  ", CheckSpec(verb="delete", type="namespaces")),
        ("* *", CheckSpec(verb="*", type="*")),
        (
            "approve signers.certificates.k8s.io/kubernetes.io/legacy-unknown",
            CheckSpec(
                verb="approve",
                type="signers.certificates.k8s.io",
                name="kubernetes.io/legacy-unknown",
            ),
        ),
    ],
)
def test_valid_entries(entry: str, expected: CheckSpec) -> None:
    assert parse_entry(entry) == expected


@pytest.mark.parametrize(
    ("entry", "problem", "example"),
    [
        ("lst pods", "unknown verb 'lst' for a resource (did you mean 'list'?)", "list pods"),
        ("GET pods", "unknown verb 'GET' for a resource (did you mean 'get'?)", "get pods"),
        ("list /healthz", "unknown verb 'list' for a non-resource URL", "get /healthz"),
        (
            "get",
            "an entry is VERB and TYPE[/NAME] (or VERB /URL), got 'get'",
            "create deployments.apps -n shop",
        ),
        (
            "",
            "an entry is VERB and TYPE[/NAME] (or VERB /URL), got nothing",
            "create deployments.apps -n shop",
        ),
        (
            "get pods secrets",
            "an entry is VERB and TYPE[/NAME] (or VERB /URL), got 'get' 'pods' 'secrets'",
            "create deployments.apps -n shop",
        ),
        ("get pods -n", "-n needs a value", "list pods -n shop"),
        ("get pods --namespace", "--namespace needs a value", "list pods --namespace=shop"),
        ("get pods -n Shop", "'Shop' is not a namespace name", "list pods -n shop"),
        ("get pods -n a -A", "-n a and -A contradict each other; use one", "list pods -A"),
        (
            "list pods -n a -n b",
            "the namespace is given twice ('a' and 'b'); give one -n/--namespace",
            "list pods -n shop",
        ),
        (
            "list pods --namespace=a -na",
            "the namespace is given twice ('a' and 'a'); give one -n/--namespace",
            "list pods -n shop",
        ),
        (
            "get pods --subresource=log --subresource status",
            "--subresource is given twice ('log' and 'status'); give one",
            "get pods --subresource=log",
        ),
        ("get pods/", "'pods/' ends in '/' but names no object", "get pods/web"),
        ("get /web", None, None),
        (
            "get /healthz --subresource=x",
            "--subresource cannot be used with a non-resource URL",
            "get pods/web --subresource=log",
        ),
        ("get /healthz -n shop", "a non-resource URL has no namespace; drop -n/-A", "get /healthz"),
        ("get pods -q", "unknown flag '-q'", "get pods/web --subresource=log"),
        ("get pods --list", "unknown flag '--list'", "get pods/web --subresource=log"),
        (
            "get pods --as=alice",
            "'--as=alice' is not an entry flag",
            "as: system:serviceaccount:shop:api",
        ),
        (
            "get pods --subresource=Log",
            "'Log' is not a subresource name",
            "get pods --subresource=log",
        ),
        ('get "pods', "cannot split 'get \"pods' into words", "create deployments.apps -n shop"),
    ],
)
def test_invalid_entries_say_what_and_show_the_right_form(
    entry: str, problem: str | None, example: str | None
) -> None:
    if problem is None:  # a valid non-resource path, listed here to pin the boundary
        assert parse_entry(entry) == CheckSpec(verb="get", path="/web")
        return
    with pytest.raises(GrammarError) as info:
        parse_entry(entry)
    assert info.value.problem.startswith(problem)
    assert info.value.example == example
    assert str(info.value).endswith(f"(example: '{example}')")


def test_unknown_verb_lists_the_valid_ones() -> None:
    with pytest.raises(GrammarError) as info:
        parse_entry("frobnicate pods")
    assert "did you mean" not in info.value.problem
    assert info.value.problem.endswith(
        "valid verbs: approve, attest, bind, create, delete, deletecollection, escalate, get, "
        "impersonate, list, patch, proxy, sign, update, use, watch or *"
    )


def test_verbs_are_kubectls_plus_proxy() -> None:
    # kubectl v1.37 cani.go resourceVerbs / nonResourceURLVerbs; proxy is still a server verb.
    kubectl = {
        "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
        "use", "bind", "impersonate", "*", "approve", "sign", "escalate", "attest",
    }  # fmt: skip
    assert set(RESOURCE_VERBS) == kubectl | {"proxy"}
    non_resource = {"get", "put", "post", "head", "options", "delete", "patch", "*"}
    assert set(NON_RESOURCE_VERBS) == non_resource


@pytest.mark.parametrize(
    "spellings",
    [
        ("list secrets -n x", "list secrets --namespace=x", "list  secrets  --namespace x"),
        ("get pods/web --subresource=log", "get --subresource log pods/web"),
        ("list secrets -A", "list secrets --all-namespaces", "-A list secrets"),
        ("get Pods", "get pods"),
    ],
)
def test_canonical_form_identifies_the_same_check(spellings: tuple[str, ...]) -> None:
    assert len({parse_entry(s).canonical() for s in spellings}) == 1


def test_canonical_form_separates_different_checks() -> None:
    texts = ["list secrets", "list secrets -A", "list secrets -n x", "get secrets", "get /secrets"]
    assert len({parse_entry(t).canonical() for t in texts}) == len(texts)


@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_grammar_error(text: str) -> None:
    try:
        spec: CheckSpec | GrammarError = parse_entry(text)
    except GrammarError as exc:
        spec = exc
    if isinstance(spec, GrammarError):
        assert spec.problem
    else:
        assert (spec.path is None) != (spec.type == "")
        assert spec.verb in RESOURCE_VERBS | NON_RESOURCE_VERBS
