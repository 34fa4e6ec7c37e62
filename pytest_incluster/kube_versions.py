"""The Kubernetes releases pytest-incluster supports: stated here once, used everywhere.

The supported range is the newest three minor releases. CI runs every test that talks to a
control plane against each release in :data:`SUPPORTED_KUBERNETES_VERSIONS` (one pinned patch
release per minor, the ones ``pytest-incluster assets`` builds), so a verdict parsed from a
server's wording is known right on each of them.

The oldest API behaviour the plugin relies on, and since when the server has it:

- ``SelfSubjectReview`` (``authentication.k8s.io/v1``, GA in 1.28): who the runner is;
- ``SelfSubjectAccessReview``/``SelfSubjectRulesReview`` (``authorization.k8s.io/v1``, 1.6/1.8);
- ``TokenRequest`` (GA in 1.20) for the local ServiceAccount tokens;
- aggregated discovery (``apidiscovery.k8s.io/v2``, 1.30 GA), used when served;
- the authorization filter's ``User "..." cannot VERB resource "..."`` 403 message (unchanged
  since RBAC went GA in 1.8); constrained impersonation's ``impersonate-on:...`` wording only
  where the server has that feature (see ``access/probe.py``).

An older server is not refused (many still work), but the run says once that its verdicts were
not tested there: :func:`support_warning`.
"""

from __future__ import annotations

import re
from typing import Final

#: One pinned patch release per supported minor, oldest first (the CI matrix runs each).
SUPPORTED_KUBERNETES_VERSIONS: Final = ("v1.35.4", "v1.36.3", "v1.37.2")
#: The release a local control plane uses unless ``INCLUSTER_KUBERNETES_VERSION`` says otherwise.
DEFAULT_KUBERNETES_VERSION: Final = SUPPORTED_KUBERNETES_VERSIONS[-1]
#: The supported minors as ``(1, 35)``...; the first is the oldest.
SUPPORTED_MINORS: Final = tuple(
    (int(v[1:].split(".")[0]), int(v.split(".")[1])) for v in SUPPORTED_KUBERNETES_VERSIONS
)

_GIT_VERSION = re.compile(r"^v?(\d+)\.(\d+)")


def supported_range() -> str:
    """``v1.35 to v1.37``, for messages and the README."""
    (major, oldest), (_, newest) = SUPPORTED_MINORS[0], SUPPORTED_MINORS[-1]
    return f"v{major}.{oldest} to v{major}.{newest}"


def minor_of(git_version: str) -> tuple[int, int] | None:
    """``(1, 35)`` from ``v1.35.4``, ``v1.35.4-eks-1234`` or ``v1.35.0+k3s1``; None if unknown."""
    match = _GIT_VERSION.match(git_version.strip())
    return (int(match[1]), int(match[2])) if match else None


def support_warning(git_version: str) -> str | None:
    """One warning line for a server older than the supported range; None otherwise.

    Newer servers get no warning: the API is backwards compatible and a warning for every new
    release would be noise until the next pytest-incluster catches up.
    """
    minor = minor_of(git_version)
    if minor is None or minor >= SUPPORTED_MINORS[0]:
        return None
    return (
        f"the server runs Kubernetes {git_version.strip()}, older than the releases "
        f"pytest-incluster is tested against ({supported_range()}); its verdicts rely on server "
        "wording and APIs checked only there, so review unexpected results by hand or upgrade "
        "the cluster."
    )
