"""``@pytest.mark.impersonate`` and ``k8s.impersonate`` against the real kube-apiserver, run the
way users run them (a pytest subprocess with only ``--incluster-*`` options).

* Impersonation stays inside the marked test: fixtures of every scope, ``k8s_identity`` and
  the other tests act as the runner, in any order, under pytest-xdist too.
* A runner allowed to impersonate exactly ``jane`` and ``developers`` (``resourceNames``) can
  use the marker, ``k8s.impersonate`` and access documents: nothing else is asked of it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.plugin.impersonation_world import (
    World,
    delete_cluster_objects,
    make_world,
)

if TYPE_CHECKING:
    from pytest_incluster.client import K8sClient
    from pytest_incluster.local.controlplane import ControlPlane

pytestmark = pytest.mark.controlplane


@pytest.fixture
def world(
    admin: K8sClient,
    control_plane: ControlPlane,
    make_service_account: Callable[..., Path],
    unique_namespace: str,
) -> Iterator[World]:
    yield make_world(admin, control_plane, make_service_account, unique_namespace)
    delete_cluster_objects(admin, unique_namespace)


# A session fixture (conftest) and a module fixture (in the marked test's module) that whichever
# test comes first sets up; both create a ConfigMap, which only the runner may do. A function
# fixture of the marked test itself. SHUFFLE_SEED reorders all tests, as pytest-randomly would.
CONFTEST = """
import os
import random

import pytest

RUNNER = "{runner}"


def configmap(prefix):
    return {{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"generateName": prefix}}}}


@pytest.fixture(scope="session")
def shared(k8s):
    return {{"who": k8s.whoami().username, "made": k8s.create(configmap("session-"))}}


def pytest_collection_modifyitems(items):
    seed = os.environ.get("SHUFFLE_SEED")
    if seed:
        random.Random(int(seed)).shuffle(items)
"""

MARKED = """
import pytest
from conftest import RUNNER, configmap


@pytest.fixture(scope="module")
def module_map(k8s):
    return k8s.create(configmap("module-"))


@pytest.fixture
def function_who(k8s):
    return k8s.whoami().username


@pytest.mark.impersonate("jane", groups=["developers"])
def test_marked(k8s, shared, module_map, function_who, k8s_identity):
    me = k8s.whoami()
    assert (me.username, me.groups) == ("jane", ("developers", "system:authenticated"))
    assert (shared["who"], function_who, k8s_identity.username) == (RUNNER, RUNNER, RUNNER)
    assert module_map["metadata"]["name"].startswith("module-")
    # Only developers may create Secrets; deleted again (as jane) when the test ends.
    k8s.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"generateName": "jane-"}})


def test_unmarked_in_the_same_module(k8s, shared, module_map, k8s_identity):
    assert (k8s.whoami().username, k8s_identity.username, shared["who"]) == (RUNNER,) * 3
    assert k8s.impersonated_user is None
"""

PLAIN = """
from conftest import RUNNER


def test_plain(k8s, shared, k8s_identity):
    assert (k8s.whoami().username, k8s_identity.username, shared["who"]) == (RUNNER,) * 3
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, world: World) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.format(runner=world.runner))
    pytester.makepyfile(test_marked=MARKED, test_plain=PLAIN)
    return pytester


def leftovers(admin: K8sClient, ns: str) -> list[str]:
    """Names of the ConfigMaps and Secrets the runs left behind (none, after cleanup)."""
    names = []
    for kind in ("configmaps", "secrets"):
        items = admin.get(f"/api/v1/namespaces/{ns}/{kind}").json()["items"]
        names += [f"{kind}/{i['metadata']['name']}" for i in items]
    return [n for n in names if n != "configmaps/kube-root-ca.crt"]


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(("test_marked.py", "test_plain.py"), id="marked-test-first"),
        pytest.param(("test_plain.py", "test_marked.py"), id="marked-test-last"),
    ],
)
def test_impersonation_stays_inside_the_marked_test(
    suite: pytest.Pytester, world: World, admin: K8sClient, order: tuple[str, str]
) -> None:
    result = suite.runpytest_subprocess(*world.options(), *order)
    result.assert_outcomes(passed=3)
    assert leftovers(admin, world.ns) == []


def test_impersonation_stays_inside_the_marked_test_in_shuffled_orders(
    suite: pytest.Pytester, world: World, admin: K8sClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for seed in random.Random(2026).sample(range(10_000), 3):
        monkeypatch.setenv("SHUFFLE_SEED", str(seed))
        result = suite.runpytest_subprocess(*world.options(), "-v")
        result.assert_outcomes(passed=3)
    assert leftovers(admin, world.ns) == []


def test_impersonation_stays_inside_the_marked_test_under_xdist(
    suite: pytest.Pytester, world: World, admin: K8sClient
) -> None:
    result = suite.runpytest_subprocess(*world.options(), "-n", "2")
    result.assert_outcomes(passed=3)
    assert leftovers(admin, world.ns) == []


def test_a_marked_test_without_a_k8s_argument_is_told_so(
    pytester: pytest.Pytester, world: World
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def helper(k8s):
            return k8s

        @pytest.mark.impersonate("jane")
        def test_through_a_fixture(helper):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*world.options())
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.impersonate('jane') on test_a_marked_test_without_a_k8s_argument_is_"
            "told_so.py::test_through_a_fixture: the test has no 'k8s' argument, and only that "
            "argument acts as 'jane' (fixtures always act as the runner). Add 'k8s' to the "
            "test's arguments, or call k8s.impersonate('jane') where the requests are made."
        ]
    )


def test_a_runner_granted_exactly_the_user_and_group_can_impersonate_them(
    pytester: pytest.Pytester, world: World
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.impersonate("jane", groups=["developers"])
        def test_marker(k8s):
            me = k8s.whoami()
            assert (me.username, me.groups) == ("jane", ("developers", "system:authenticated"))
            assert k8s.can_i("create", "secrets")

        def test_client(k8s):
            developer = k8s.impersonate("jane", groups=["developers"])
            assert developer.whoami().groups == ("developers", "system:authenticated")
            assert developer.can_i("create", "secrets")
            assert not developer.can_i("list", "configmaps")
            assert k8s.whoami().username == "{world.runner}"

        @pytest.mark.impersonate("jane", groups=["admins"])
        def test_a_group_not_granted(k8s):
            pass
        """
    )
    (pytester.path / "jane.access.yaml").write_text(
        "as: jane\n"
        "groups: [developers]\n"
        "mode: both\n"
        "allowed: [create secrets, delete secrets]\n"
        "forbidden: [list configmaps, create configmaps]\n"
    )
    result = pytester.runpytest_subprocess(*world.options(), "-rA")
    result.assert_outcomes(passed=6, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*@pytest.mark.impersonate('jane'): the runner {world.runner} may not impersonate "
            'groups "admins". Grant it the *',
        ]
    )


def test_an_access_document_for_a_group_not_granted_is_the_runners_problem(
    pytester: pytest.Pytester, world: World
) -> None:
    (pytester.path / "admins.access.yaml").write_text(
        "as: jane\ngroups: [admins]\nforbidden: [list configmaps]\n"
    )
    result = pytester.runpytest_subprocess(*world.options())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the runner may not impersonate jane: *"])


def test_the_impersonation_check_is_not_listed_among_the_tests_requests(
    pytester: pytest.Pytester, world: World
) -> None:
    """The plugin asks (SelfSubjectAccessReview) whether the runner may impersonate before the
    test runs; that is its own question, so neither the failure message's "Requests made by
    this test" nor the report's API calls of the test list it."""
    from tests.support.htmlreport import read_report, test_log

    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.impersonate("jane", groups=["developers"])
        @pytest.mark.expect_forbidden
        def test_nothing_refused(k8s):
            k8s.get("/version")
        """
    )
    result = pytester.runpytest_subprocess(*world.options(), "--html=report.html")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*expected 403 Forbidden, but the test ended without one.",
            "Requests made by this test:",
            "  GET /version as jane -> 200 OK",
            "- Generated html report*",
        ]
    )
    assert "selfsubjectaccessreviews" not in result.stdout.str()
    _, data = read_report(pytester.path / "report.html")
    log = test_log(
        data,
        "test_the_impersonation_check_is_not_listed_among_the_tests_requests.py"
        "::test_nothing_refused",
    )
    assert "API calls (1)" in log
    assert "selfsubjectaccessreviews" not in log
