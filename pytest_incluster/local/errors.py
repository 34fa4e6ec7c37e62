"""The base class of every user-facing error from the local control plane.

The CLI catches :class:`LocalError` and prints its message without a traceback; everything else
is a bug and keeps its traceback. Each subclass lives next to the code that raises it.
"""

from __future__ import annotations

from pytest_incluster.errors import InclusterError


class LocalError(InclusterError):
    """A problem the user can act on; ``str()`` is a one-paragraph message naming the fix."""

    anchor = "local-control-plane"


class AssetsError(LocalError):
    """The binaries cannot be found or built; ``str()`` is a one-paragraph message with the fix.

    Here rather than in ``assets.py`` so ``build.py`` can raise it without importing ``assets``
    (which imports ``build`` on a cache miss): no import circle.
    """
