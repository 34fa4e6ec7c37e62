"""The base class of the real node's user-facing errors."""

from __future__ import annotations

from pytest_incluster.local.errors import LocalError


class NodeError(LocalError):
    """A problem with the real node the user can act on; ``str()`` names the file and the fix."""

    anchor = "real-node"
