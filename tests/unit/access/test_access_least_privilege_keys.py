"""``exhaustive``, ``namespaces``, ``cluster-scope``, ``ignore`` and ``who-can`` in access files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_incluster.access.bound_subject import BoundSubject
from pytest_incluster.access.matrix import Exhaustive, MatrixError, SubjectDoc, load_matrix_text

SHOP = Path("shop.access.yaml")


def load(text: str) -> list[SubjectDoc]:
    return load_matrix_text(textwrap.dedent(text), SHOP)


def problems(text: str) -> list[str]:
    with pytest.raises(MatrixError) as info:
        load(text)
    return str(info.value).splitlines()


def test_an_exhaustive_document_may_list_nothing_allowed() -> None:
    """A snapshot of a subject that may do nothing is still a check: nothing else allowed."""
    (doc,) = load(
        """\
        as: alice
        exhaustive: true
        namespaces: [shop, web]
        cluster-scope: true
        ignore: ['get /*']
        allowed: []
        """
    )
    assert doc.exhaustive == Exhaustive(("shop", "web"), True, ("get /*",), line=2)
    assert doc.entries == ()


def test_without_exhaustive_an_empty_document_checks_nothing() -> None:
    assert problems("as: alice\nallowed: []\n")[0] == (
        "shop.access.yaml:1: this document checks nothing: give it an 'allowed:' or 'forbidden:' "
        "list"
    )


def test_exhaustive_settings_without_exhaustive_are_refused() -> None:
    lines = problems("ignore: ['get /*']\ncluster-scope: true\nallowed: [get pods]\n")
    assert lines[:2] == [
        "shop.access.yaml:1: 'ignore' belongs to 'exhaustive: true', which is not set",
        "shop.access.yaml:2: 'cluster-scope' belongs to 'exhaustive: true', which is not set",
    ]


def test_exhaustive_must_be_true_or_false() -> None:
    assert problems("exhaustive: yes please\nallowed: [get pods]\n")[0] == (
        "shop.access.yaml:1: 'exhaustive' must be true or false, got 'yes please'"
    )


def test_who_can_maps_entries_to_bound_subjects() -> None:
    (doc,) = load(
        """\
        who-can:
          get secrets -n prod: [group:ops, serviceaccount:prod:vault, user:alice]
        """
    )
    (entry,) = doc.who_can
    assert entry.text == "get secrets -n prod"
    assert entry.spec.namespace == "prod"
    assert entry.subjects == (
        BoundSubject("group", "ops"),
        BoundSubject("serviceaccount", "prod:vault"),
        BoundSubject("user", "alice"),
    )
    assert entry.line == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "who-can:\n  get secrets: [ops]\n",
            "shop.access.yaml:2: 'ops' is not a subject; write user:NAME, group:NAME or "
            "serviceaccount:NAMESPACE:NAME (example: [group:ops, serviceaccount:prod:vault, "
            "user:alice])",
        ),
        (
            "who-can:\n  get secrets: [serviceaccount:vault]\n",
            "shop.access.yaml:2: 'serviceaccount:vault' is not a ServiceAccount; the form is "
            "serviceaccount:NAMESPACE:NAME (example: [group:ops, serviceaccount:prod:vault, "
            "user:alice])",
        ),
        (
            "who-can:\n  lsit secrets: [group:ops]\n",
            "shop.access.yaml:2: who-can entry 'lsit secrets': unknown verb 'lsit' for a resource "
            "(did you mean 'list'?); valid verbs: *",
        ),
        (
            "who-can: [get secrets]\n",
            "shop.access.yaml:1: 'who-can' must be a mapping, got a list (who-can: {get secrets -n "
            "prod: [group:ops]})",
        ),
    ],
)
def test_who_can_problems_name_the_line_and_the_fix(text: str, expected: str) -> None:
    first = problems(text)[0]
    assert first == expected or (expected.endswith("*") and first.startswith(expected[:-1]))
