"""Collecting access files through pytest itself (no cluster needed for any of this)."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

SHOP = """\
as: system:serviceaccount:shop:api
namespace: shop
markers: [smoke]
allowed:
  - get pods
  - create deployments.apps
forbidden:
  - list secrets -n kube-system
---
allowed:
  - get /healthz
"""


@pytest.fixture(autouse=True)
def no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the environment may point at a cluster (pytester already isolates HOME)."""
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)


def write(pytester: pytest.Pytester, name: str, text: str) -> None:
    (pytester.path / name).write_text(textwrap.dedent(text))


@pytest.fixture
def shop(pytester: pytest.Pytester) -> None:
    write(pytester, "shop.access.yaml", SHOP)
    pytester.makeini("[pytest]\nmarkers =\n    smoke: quick checks\n")


@pytest.mark.usefixtures("shop")
def test_one_item_per_entry_with_readable_ids(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "shop.access.yaml::system:serviceaccount:shop:api::allowed::get pods",
            "shop.access.yaml::system:serviceaccount:shop:api::allowed::create deployments.apps",
            "shop.access.yaml::system:serviceaccount:shop:api::forbidden::list secrets -n "
            "kube-system",
            "shop.access.yaml::self::allowed::get /healthz",
            "4 tests collected*",
        ]
    )
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.usefixtures("shop")
def test_node_ids_select_single_checks(pytester: pytest.Pytester) -> None:
    node = (
        "shop.access.yaml::system:serviceaccount:shop:api::forbidden::list secrets -n kube-system"
    )
    result = pytester.runpytest("--collect-only", "-q", node)
    result.stdout.fnmatch_lines([node, "1 test collected*"])


@pytest.mark.usefixtures("shop")
def test_keyword_and_marker_selection(pytester: pytest.Pytester) -> None:
    by_keyword = pytester.runpytest("--collect-only", "-q", "-k", "secrets or healthz")
    by_keyword.stdout.fnmatch_lines(["*list secrets -n kube-system", "*get /healthz", "2/4 *"])
    by_marker = pytester.runpytest("--collect-only", "-q", "-m", "smoke", "--strict-markers")
    by_marker.stdout.fnmatch_lines(["3/4 tests collected (1 deselected)*"])
    by_subject = pytester.runpytest("--collect-only", "-q", "-k", "self")
    by_subject.stdout.fnmatch_lines(["*::self::allowed::get /healthz", "1/4 *"])


def test_ini_patterns_choose_the_files(pytester: pytest.Pytester) -> None:
    write(pytester, "a.access.yaml", "allowed: [get pods]\n")
    write(pytester, "rbac-expectations.yml", "allowed: [get pods]\n")
    write(pytester, "other.yaml", "allowed: [get pods]\n")
    default = pytester.runpytest("--collect-only", "-q")
    default.stdout.fnmatch_lines(["a.access.yaml::self::allowed::get pods", "1 test collected*"])
    pytester.makeini("[pytest]\nincluster_access_files = rbac-*.yml\n")
    custom = pytester.runpytest("--collect-only", "-q")
    custom.stdout.fnmatch_lines(["rbac-expectations.yml::self::allowed::get pods", "1 test*"])


def test_a_subject_appearing_twice_gets_distinct_ids(pytester: pytest.Pytester) -> None:
    write(
        pytester,
        "twice.access.yaml",
        "as: alice\nallowed: [get pods]\n---\nas: alice\nnamespace: b\nallowed: [get pods]\n",
    )
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "twice.access.yaml::alice::allowed::get pods",
            "twice.access.yaml::alice#2::allowed::get pods",
        ]
    )


def test_ids_never_hold_what_pytest_reads_as_parametrization_or_a_separator(
    pytester: pytest.Pytester,
) -> None:
    write(
        pytester,
        "odd.access.yaml",
        """\
        as: jane
        groups: [developers, "ops:"]
        allowed: [get pods, "get /logs/[x]"]
        ---
        as: "::root[0]"
        allowed: [get pods]
        ---
        as: "(root)0"
        allowed: [get pods]
        """,
    )
    result = pytester.runpytest("--collect-only", "-q")
    ids = [line for line in result.outlines if line.startswith("odd.access.yaml::")]
    assert ids == [
        "odd.access.yaml::jane+developers+ops:_::allowed::get pods",
        "odd.access.yaml::jane+developers+ops:_::allowed::get /logs/(x)",
        "odd.access.yaml::_:_:root(0)::allowed::get pods",
        "odd.access.yaml::(root)0::allowed::get pods",
    ]
    for node in ids:
        one = pytester.runpytest("--collect-only", "-q", node)
        one.stdout.fnmatch_lines([node, "1 test collected*"])


def test_node_name_keeps_ordinary_text_and_numbers_repeats() -> None:
    from pytest_incluster.pytest_plugin.access_files import node_name, unique_names

    for text in ("self", "system:serviceaccount:shop:api", "list secrets -n kube-system"):
        assert node_name(text) == text
    assert node_name("a::b[c]:") == "a:_:b(c):_"
    assert unique_names(["x[1]", "x(1)", "y", "x(1)"]) == ["x(1)", "x(1)#2", "y", "x(1)#3"]


def test_tb_line_gives_one_line_at_the_entry(pytester: pytest.Pytester) -> None:
    write(pytester, "a.access.yaml", "allowed:\n  - get pods\n  - list pods\n")
    result = pytester.runpytest("--tb=line")
    result.assert_outcomes(failed=2)
    start = result.outlines.index(next(line for line in result.outlines if "FAILURES" in line))
    assert result.outlines[start + 1].startswith("a.access.yaml:2: No Kubernetes cluster found. ")
    assert result.outlines[start + 2].startswith("a.access.yaml:3: No Kubernetes cluster found. ")
    assert "short test summary" in result.outlines[start + 3]
    assert "fixtures_support" not in result.stdout.str()


def test_bad_file_errors_with_file_line_while_everything_else_runs(
    pytester: pytest.Pytester,
) -> None:
    write(pytester, "bad.access.yaml", "allowed:\n  - get pods\n  - lst pods\nalow: []\n")
    write(pytester, "broken.access.yaml", "allowed: [get pods\n")
    pytester.makepyfile(test_plain="def test_still_runs():\n    pass\n")
    result = pytester.runpytest("-rE")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of invalid access file bad.access.yaml*",
            "bad.access.yaml:3: allowed entry 'lst pods': unknown verb 'lst' for a resource "
            "(did you mean 'list'?)*(example: 'list pods')",
            "bad.access.yaml:4: unknown key 'alow' (did you mean 'allowed'?)*",
            "An access document looks like:",
        ]
    )
    result.stdout.fnmatch_lines(["broken.access.yaml:2: YAML syntax error: *"])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*Interrupted*")


def test_unregistered_marker_under_strict_markers_is_a_file_error(
    pytester: pytest.Pytester,
) -> None:
    write(pytester, "m.access.yaml", "markers: [smok]\nallowed: [get pods]\n")
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["m.access.yaml:1: marker 'smok' is not registered; add it to the 'markers' ini option*"]
    )


def test_unregistered_marker_warns_at_the_access_file(pytester: pytest.Pytester) -> None:
    write(pytester, "m.access.yaml", "allowed: [get pods]\nmarkers: [smok]\n")
    result = pytester.runpytest(
        "--collect-only", "-q", "-W", "default::pytest.PytestUnknownMarkWarning"
    )
    result.stdout.fnmatch_lines(
        [
            "m.access.yaml::self::allowed::get pods",
            "*/m.access.yaml:2: PytestUnknownMarkWarning: Unknown marker 'smok' in access file "
            "m.access.yaml - is this a typo? Register it in the 'markers' ini option.",
        ]
    )
    assert result.stdout.str().count("PytestUnknownMarkWarning") == 1


def test_without_a_cluster_items_fail_with_the_configuration_message(
    pytester: pytest.Pytester,
) -> None:
    write(pytester, "a.access.yaml", "allowed: [get pods]\nforbidden: [list secrets]\n")
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["No Kubernetes cluster found. *"])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*During handling*")
    skipped = pytester.runpytest("--incluster-skip-unavailable")
    skipped.assert_outcomes(skipped=2)
