"""Errors a user can cause by configuration; each message is one paragraph naming the fix."""

from __future__ import annotations

from pytest_incluster.errors import TROUBLESHOOTING, InclusterError


class ConfigError(InclusterError):
    """A configuration problem the user can fix; ``str()`` is the whole user-facing message.

    ``anchor`` names the README troubleshooting section that explains it.
    """

    def __init__(self, message: str, *, anchor: str = TROUBLESHOOTING) -> None:
        super().__init__(message)
        self.anchor = anchor  # per instance: one class, many README sections


class NoClusterFound(ConfigError):
    """Nothing said where a cluster is: not in a pod, no kubeconfig, no --incluster-server."""
