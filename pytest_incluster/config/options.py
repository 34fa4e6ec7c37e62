"""The user's explicit settings, each remembering where it came from.

Filled by the pytest layer from command-line options (``--incluster-*``), ini keys
(``incluster_*``) and defaults; consumed by
:func:`~pytest_incluster.config.cluster_discovery.resolve`.
Keeping the origin lets every error and the report say "from --incluster-ca-file" rather than
leaving the user to guess which of three places a bad value came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A value plus a human description of where it came from, e.g. ``--incluster-server``."""

    value: T
    source: str


def _unset() -> Sourced[str | None]:
    return Sourced(None, "unset")


@dataclass(frozen=True)
class Options:
    """Explicit settings; ``value is None`` means the user did not set it."""

    server: Sourced[str | None] = field(default_factory=_unset)
    token_file: Sourced[str | None] = field(default_factory=_unset)
    ca_file: Sourced[str | None] = field(default_factory=_unset)
    namespace: Sourced[str | None] = field(default_factory=_unset)
    sa_dir: Sourced[str] = field(default_factory=lambda: Sourced(DEFAULT_SA_DIR, "default"))
    kubeconfig: Sourced[str | None] = field(default_factory=_unset)
    context: Sourced[str | None] = field(default_factory=_unset)
    insecure_skip_tls_verify: Sourced[bool] = field(
        default_factory=lambda: Sourced(False, "default")
    )
    exec_timeout: Sourced[str | None] = field(default_factory=_unset)
    # Set by --incluster-local: a description such as "local control plane (default/default)"
    # that replaces "service account" in the configuration source. The local control plane
    # passes its server and pod-style sa_dir through ``server`` and ``sa_dir``.
    local: str | None = None
