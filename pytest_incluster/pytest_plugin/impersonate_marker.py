"""The ``impersonate`` marker at run time: check the runner may, then give the test its client.

The marked test's own ``k8s`` argument becomes a client acting as the user (``k8s.impersonate``:
same connection pool, call log and object tracking as the session client). The session client
is never switched, so a session/module fixture first set up by a marked test, ``k8s_identity``
and every other test keep the runner's identity whatever the order of the tests.

The runner's right is checked up front with SelfSubjectAccessReview so a runner without the
``impersonate`` verb gets one clear error at setup ("may not impersonate ...") instead of every
request failing with a 403 about ``users`` that reads like a failure of the test itself. It asks
exactly what the API server checks for the headers the client sends: ``impersonate`` on the user
(or on the ServiceAccount, for ``system:serviceaccount:NS:NAME``) and on each group given.
``system:authenticated`` is not sent (the server adds it), so it needs no grant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_incluster.access.markers import ImpersonateSpec
from pytest_incluster.config.errors import ConfigError
from pytest_incluster.pytest_plugin.cluster_access import (
    fail_without_cluster,
    runner_name,
    session_client,
)
from pytest_incluster.pytest_plugin.state import get_state

if TYPE_CHECKING:
    from pytest_incluster.client import K8sClient

_SA_PREFIX = "system:serviceaccount:"
FIXTURE = "k8s"


def impersonation_checks(spec: ImpersonateSpec) -> list[tuple[str, str | None, str]]:
    """(resource, namespace, name) of every ``impersonate`` permission the server will check."""
    checks: list[tuple[str, str | None, str]] = []
    if spec.user.startswith(_SA_PREFIX) and spec.user.count(":") == 3:
        sa_namespace, sa_name = spec.user[len(_SA_PREFIX) :].split(":")
        checks.append(("serviceaccounts", sa_namespace, sa_name))
    else:
        checks.append(("users", None, spec.user))
    checks.extend(("groups", None, group) for group in dict.fromkeys(spec.groups))
    return checks


def missing_argument_message(item: pytest.Item, spec: ImpersonateSpec) -> str:
    """The setup error of a marked test that has no ``k8s`` argument to act as the user."""
    return (
        f"@pytest.mark.impersonate({spec.user!r}) on {item.nodeid}: the test has no '{FIXTURE}' "
        f"argument, and only that argument acts as {spec.user!r} (fixtures always act as the "
        f"runner). Add '{FIXTURE}' to the test's arguments, or call "
        f"k8s.impersonate({spec.user!r}) where the requests are made."
    )


def impersonated_client(config: pytest.Config, spec: ImpersonateSpec) -> K8sClient:
    """A client acting as ``spec.user``; fails the test if the runner may not impersonate."""
    error: ConfigError | None = None
    try:
        client = session_client(config)
    except ConfigError as exc:
        error = exc
    if error is not None:
        fail_without_cluster(config, error)
    for resource, namespace, name in impersonation_checks(spec):
        # The plugin's question, not the test's request: kept out of the test's API calls
        # (the report would list it among them, and "Requests made by this test" too).
        with get_state(config).calls.outside_tests():
            decision = client.can_i(
                "impersonate", resource, group="", namespace=namespace or "", name=name
            )
        if not decision.allowed:
            who = runner_name(config) or "(whose name the server did not say)"
            pytest.fail(
                f"@pytest.mark.impersonate({spec.user!r}): the runner {who} may not impersonate "
                f'{resource} "{name}"{f" in namespace {namespace}" if namespace else ""}. '
                "Grant it the 'impersonate' verb on that resource (see deploy/components/"
                "impersonation/), or remove the marker.",
                pytrace=False,
            )
    return client.impersonate(spec.user, spec.groups)
