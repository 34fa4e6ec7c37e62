"""Loading access files: what is accepted, and that every problem names its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_incluster.access.grammar import CheckSpec
from pytest_incluster.access.matrix import (
    KEYS,
    MatrixError,
    Subject,
    SubjectDoc,
    load_matrix,
    load_matrix_text,
)

SHOP = Path("shop.access.yaml")


def load(text: str) -> list[SubjectDoc]:
    return load_matrix_text(textwrap.dedent(text), SHOP)


def problems(text: str) -> list[str]:
    with pytest.raises(MatrixError) as info:
        load(text)
    return str(info.value).splitlines()


def test_full_document() -> None:
    (doc,) = load(
        """\
        as: system:serviceaccount:shop:api
        namespace: shop
        mode: both
        markers: [smoke, rbac]
        allowed:
          - get pods
          - create deployments.apps
        forbidden:
          - list secrets -n kube-system
        """
    )
    assert doc.subject == Subject("system:serviceaccount:shop:api")
    assert doc.subject.service_account == ("shop", "api")
    assert doc.subject.label == "system:serviceaccount:shop:api"
    assert (doc.namespace, doc.mode, doc.markers, doc.line) == (
        "shop",
        "both",
        ("smoke", "rbac"),
        1,
    )
    assert [(e.expected, e.text, e.line) for e in doc.entries] == [
        ("allowed", "get pods", 6),
        ("allowed", "create deployments.apps", 7),
        ("forbidden", "list secrets -n kube-system", 9),
    ]
    assert doc.entries[2].spec == CheckSpec(verb="list", type="secrets", namespace="kube-system")
    assert doc.key_lines["markers"] == 4


def test_several_documents_and_defaults() -> None:
    docs = load(
        """\
        allowed: [get pods]
        ---
        as: alice
        groups: [ops, dev, ops]
        forbidden: ["delete  namespaces"]
        ---
        """
    )
    assert [d.index for d in docs] == [0, 1]
    runner, alice = docs
    assert runner.subject == Subject()
    assert runner.subject.label == "self"
    assert (runner.namespace, runner.mode, runner.markers) == (None, "review", ())
    assert alice.subject == Subject("alice", ("ops", "dev"))
    assert alice.subject.label == "alice+ops+dev"
    assert alice.subject.service_account is None
    assert alice.entries[0].text == "delete namespaces"
    assert alice.line == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "allow:\n  - get pods\n",
            "shop.access.yaml:1: unknown key 'allow' (did you mean 'allowed'?); valid keys: "
            "as, groups, namespace, mode, markers, allowed, forbidden, exhaustive, namespaces, "
            "cluster-scope, ignore, who-can, admitted, rejected",
        ),
        (
            "allowed:\n  - get pods\n  - lst pods\n",
            "shop.access.yaml:3: allowed entry 'lst pods': unknown verb 'lst' for a resource "
            "(did you mean 'list'?); valid verbs: approve, attest, bind, create, delete, "
            "deletecollection, escalate, get, impersonate, list, patch, proxy, sign, update, "
            "use, watch or * (example: 'list pods')",
        ),
        (
            "forbidden:\n  - get\n",
            "shop.access.yaml:2: forbidden entry 'get': an entry is VERB and TYPE[/NAME] (or "
            "VERB /URL), got 'get' (example: 'create deployments.apps -n shop')",
        ),
        (
            "allowed: get pods\n",
            "shop.access.yaml:1: 'allowed' must be a list (example: allowed: [get pods, list "
            "secrets -n kube-system])",
        ),
        (
            "allowed:\n  - 42\n",
            "shop.access.yaml:2: each item of 'allowed' must be one line of text, got a number "
            "(example: allowed: [get pods, list secrets -n kube-system])",
        ),
        (
            "allowed:\n  - {get: pods}\n",
            "shop.access.yaml:2: each item of 'allowed' must be one line of text, got a mapping "
            "(example: allowed: [get pods, list secrets -n kube-system])",
        ),
        (
            "namespace: 7\nallowed: [get pods]\n",
            "shop.access.yaml:1: 'namespace' must be text, got a number (example: namespace: shop)",
        ),
        (
            "namespace: Shop\nallowed: [get pods]\n",
            "shop.access.yaml:1: 'Shop' is not a namespace name (lower-case letters, digits and "
            "'-') (example: namespace: shop)",
        ),
        (
            "mode: fast\nallowed: [get pods]\n",
            "shop.access.yaml:1: mode 'fast' is not one of review, request, both (example: mode: "
            "request)",
        ),
        (
            "mode: yes\nallowed: [get pods]\n",
            "shop.access.yaml:1: 'mode' must be text, got true/false (example: mode: both)",
        ),
        (
            "as: ~\nallowed: [get pods]\n",
            "shop.access.yaml:1: 'as' must be text, got empty (example: as: "
            "system:serviceaccount:shop:api)",
        ),
        (
            "as: system:serviceaccount:shop\nallowed: [get pods]\n",
            "shop.access.yaml:1: 'system:serviceaccount:shop' is not a ServiceAccount user name; "
            "the form is system:serviceaccount:NAMESPACE:NAME (example: as: "
            "system:serviceaccount:shop:api)",
        ),
        (
            "groups: [ops]\nallowed: [get pods]\n",
            "shop.access.yaml:1: 'groups' needs 'as': the server only impersonates groups "
            "together with a user (example: as: alice, groups: [ops])",
        ),
        (
            "as: system:serviceaccount:shop:api\ngroups: [ops]\nallowed: [get pods]\n",
            "shop.access.yaml:2: 'groups' cannot be combined with a ServiceAccount: its groups "
            "are fixed (system:serviceaccounts, system:serviceaccounts:NAMESPACE) and a real "
            "token for it never carries others; remove 'groups' or impersonate a user",
        ),
        (
            "markers: [smoke, 'not a marker']\nallowed: [get pods]\n",
            "shop.access.yaml:1: marker 'not a marker' is not a marker name (letters, digits, "
            "'_'; no arguments) (example: markers: [smoke])",
        ),
        (
            "markers: [impersonate]\nallowed: [get pods]\n",
            "shop.access.yaml:1: marker 'impersonate' cannot be used in an access file: set the "
            "subject with 'as:' (and 'groups:') (example: markers: [smoke])",
        ),
        (
            "allowed: [get pods]\nallowed: [list pods]\n",
            "shop.access.yaml:2: key 'allowed' appears twice (first on line 1); merge them",
        ),
        (
            "allowed: [get pods]\nforbidden: [get  pods]\n",
            "shop.access.yaml:2: 'get pods' is listed as both allowed (line 1) and forbidden "
            "(line 2)",
        ),
        (
            "forbidden:\n  - list secrets -n x\n  - list secrets --namespace=x\n",
            "shop.access.yaml:3: 'list secrets --namespace=x' is listed twice under forbidden "
            "(first on line 2); remove one",
        ),
        (
            "as: alice\n",
            "shop.access.yaml:1: this document checks nothing: give it an 'allowed:' or "
            "'forbidden:' list",
        ),
        (
            "- get pods\n",
            "shop.access.yaml:1: a document must be a mapping of keys (as, groups, namespace, "
            "mode, markers, allowed, forbidden, exhaustive, namespaces, cluster-scope, ignore, "
            "who-can, admitted, rejected), got a list",
        ),
        (
            "[allowed]: [get pods]\n",
            "shop.access.yaml:1: keys must be plain words, got a list",
        ),
        ("", "shop.access.yaml: the file holds no documents"),
    ],
)
def test_each_problem_names_the_line_and_the_fix(text: str, expected: str) -> None:
    lines = problems(text)
    assert lines[0] == expected
    assert "An access document looks like:" in lines  # a whole correct document follows


def test_yaml_syntax_error_points_at_the_line() -> None:
    lines = problems("allowed:\n  - get pods\n  - [list\nforbidden: []\n")
    assert len(lines) == 1
    assert lines[0].startswith("shop.access.yaml:4: YAML syntax error: while parsing a flow")


def test_all_problems_of_a_file_are_reported_in_line_order() -> None:
    lines = problems(
        """\
        allowed:
          - lst pods
        ---
        as: system:serviceaccount:x
        forbidden: [get pods]
        extra: 1
        """
    )
    assert [line.split(":")[1] for line in lines[:3]] == ["2", "4", "6"]


def test_other_documents_are_kept_out_when_one_is_bad() -> None:
    # One problem anywhere makes the whole file an error: half a file silently checked would
    # read as a pass for the missing half.
    with pytest.raises(MatrixError) as info:
        load("allowed: [get pods]\n---\nforbidden: [lst pods]\n")
    assert [p.line for p in info.value.problems] == [3]


def test_load_matrix_reads_files_and_reports_unreadable_ones(tmp_path: Path) -> None:
    good = tmp_path / "ok.access.yaml"
    good.write_text("allowed: [get pods]\n")
    assert load_matrix(good)[0].path == good
    binary = tmp_path / "bin.access.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MatrixError, match=r"bin\.access\.yaml: not UTF-8 text"):
        load_matrix(binary)
    with pytest.raises(MatrixError, match=r"shown\.yaml: cannot read"):
        load_matrix(tmp_path / "missing.access.yaml", display="shown.yaml")


def test_yaml_tags_are_never_constructed(tmp_path: Path) -> None:
    path = tmp_path / "evil.access.yaml"
    path.write_text("!!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(MatrixError, match="a document must be a mapping"):
        load_matrix(path)


# ---- generated input: the loader raises MatrixError and nothing else ---------------------


def load_or_error(text: str) -> list[SubjectDoc] | MatrixError:
    """Anything but MatrixError propagates and fails the test."""
    try:
        return load_matrix_text(text, SHOP)
    except MatrixError as exc:
        return exc


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        ["get pods", "lst pods", "get", "list secrets -n kube-system", "get /healthz", "-A",
         "system:serviceaccount:a:b", "system:serviceaccount:", "review", "both", "* *"]
    ),
)  # fmt: skip
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_documents = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), _values, max_size=6
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_documents, min_size=0, max_size=3))
def test_generated_documents_load_or_raise_matrix_error(docs: list[dict[str, object]]) -> None:
    loaded = load_or_error(yaml.safe_dump_all(docs))
    if isinstance(loaded, MatrixError):
        assert loaded.problems
        assert all(p.message for p in loaded.problems)
    else:
        assert loaded
        assert all(doc.entries for doc in loaded)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_arbitrary_text_loads_or_raises_matrix_error(text: str) -> None:
    load_or_error(text)


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(
            ["allowed:", "forbidden:", "  - ", "get pods", "[", "]", "{", "}", ":", "&a ", "*a",
             "!!str ", "---", "\n", "  ", "- ", "'", '"', "#", "as: ", "|", ">", "? ", "\t"]
        ),
        max_size=40,
    ).map("".join)
)  # fmt: skip
def test_yaml_like_garbage_loads_or_raises_matrix_error(text: str) -> None:
    load_or_error(text)


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000, "- " * 3000 + "x"])
def test_deep_nesting_is_a_matrix_error(text: str) -> None:
    # Python's parser hits the recursion limit; libyaml stops at its own depth limit first.
    with pytest.raises(MatrixError, match=r"nesting is too deep|maximum nesting depth"):
        load_matrix_text(text, SHOP)
