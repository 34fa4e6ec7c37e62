"""Errors a user can cause by configuration; each message is one paragraph naming the fix."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem the user can fix; ``str()`` is the whole user-facing message.

    ``anchor`` names the README troubleshooting section that explains it.
    """

    def __init__(self, message: str, *, anchor: str = "troubleshooting") -> None:
        super().__init__(message)
        self.anchor = anchor

    @property
    def help_url(self) -> str:
        return f"README.md#{self.anchor}"


class NoClusterFound(ConfigError):
    """Nothing said where a cluster is: not in a pod, no kubeconfig, no --incluster-server."""
