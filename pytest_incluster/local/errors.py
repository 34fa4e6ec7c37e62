"""The base class of every user-facing error from the local control plane.

The CLI catches :class:`LocalError` and prints its message without a traceback; everything else
is a bug and keeps its traceback. Each subclass lives next to the code that raises it.
"""

from __future__ import annotations

from pytest_incluster.errors import InclusterError


class LocalError(InclusterError):
    """A problem the user can act on; ``str()`` is a one-paragraph message naming the fix."""

    anchor = "local-control-plane"
