"""The ``impersonate`` marker at run time: check the runner may, then act as the user.

Checked up front with SelfSubjectAccessReview so a runner without the ``impersonate`` verb gets
one clear error at setup ("may not impersonate ...") instead of every request failing with a 403
about ``users`` that reads like a failure of the test itself.
"""

from __future__ import annotations

import pytest

from pytest_incluster.access.markers import ImpersonateSpec
from pytest_incluster.config.errors import ConfigError
from pytest_incluster.fixtures_support import fail_without_cluster, session_client

_SA_PREFIX = "system:serviceaccount:"


def start_impersonation(config: pytest.Config, spec: ImpersonateSpec) -> None:
    """Make the session client act as ``spec.user`` until :func:`stop_impersonation`."""
    error: ConfigError | None = None
    try:
        client = session_client(config)
    except ConfigError as exc:
        error = exc
    if error is not None:
        fail_without_cluster(config, error)
    checks: list[tuple[str, str, str | None, str]] = []
    if spec.user.startswith(_SA_PREFIX) and spec.user.count(":") == 3:
        sa_namespace, sa_name = spec.user[len(_SA_PREFIX) :].split(":")
        checks.append(("serviceaccounts", "", sa_namespace, sa_name))
    else:
        checks.append(("users", "", None, spec.user))
    groups = list(spec.groups)
    if groups and not {"system:authenticated", "system:unauthenticated"} & set(groups):
        # The client adds system:authenticated to explicit groups (as kubectl does), and the
        # server checks 'impersonate' on every group sent, so the runner needs that one too.
        groups.append("system:authenticated")
    checks.extend(("groups", "", None, group) for group in groups)
    for resource, group, namespace, name in checks:
        decision = client.can_i(
            "impersonate", resource, group=group, namespace=namespace or "", name=name
        )
        if not decision.allowed:
            who = client.whoami().username
            pytest.fail(
                f"@pytest.mark.impersonate({spec.user!r}): the runner {who} may not impersonate "
                f'{resource} "{name}"{f" in namespace {namespace}" if namespace else ""}. '
                "Grant it the 'impersonate' verb on that resource (see deploy/components/"
                "impersonation/), or remove the marker.",
                pytrace=False,
            )
    client.set_impersonation(spec.user, spec.groups)


def stop_impersonation(config: pytest.Config) -> None:
    """Return the session client to the runner's own identity."""
    try:
        client = session_client(config)
    except ConfigError:
        return
    client.set_impersonation(None)
