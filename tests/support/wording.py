"""Server wording that differs between the supported Kubernetes releases, for exact assertions.

Tests compare the server's messages verbatim (they are what users read); where a release words
something differently, the expected text is chosen here, once, by the release under test.
"""

from __future__ import annotations

from pytest_incluster.kube_versions import minor_of
from pytest_incluster.local.versions import selected_kubernetes_version


def constrained_impersonation() -> bool:
    """v1.36 turned ``ConstrainedImpersonation`` on by default (beta; alpha and off in v1.35)."""
    minor = minor_of(selected_kubernetes_version())
    return minor is not None and minor >= (1, 36)


def impersonation_denied(runner: str, user: str, path: str) -> str:
    """The 403 message when ``runner`` may not impersonate the user ``user`` on ``GET path``."""
    if constrained_impersonation():
        return f'forbidden: User "{runner}" cannot impersonate-on:user-info:get path "{path}"'
    return (
        f'users "{user}" is forbidden: User "{runner}" cannot impersonate resource "users" in '
        'API group "" at the cluster scope'
    )
